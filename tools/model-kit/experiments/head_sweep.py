"""Exploration for issue 11: head-only training settings on the frozen EfficientNet-Lite0 features, scored by
3-fold CV on the training split and on the held-out quarter. Regularising the bias toward its init (as the
kit's first recipe did) keeps every class score positive; this sweep measures settings without it.

  .venv/bin/python tools/model-kit/experiments/head_sweep.py [lam,lr,epochs,biasReg ...]
  .venv/bin/python tools/model-kit/experiments/head_sweep.py --nested [squeezenet1.1]   (per-class choice vs every row trained)
"""
from __future__ import annotations

import itertools
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from peaklabel_kit.backbones import load_backbone  # noqa: E402
from peaklabel_kit.classes import VOC  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from finetune import FrontCache, Tail, TailFeatures  # noqa: E402
from peaklabel_kit.train import _fit, cv_splits, evaluate_heldout  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class Mem:
    def __init__(self, src, images):
        self.sizes = src.sizes
        self.f = {(i.key, fl): src.get(i, fl).half() for i in images for fl in (False, True)}

    def get(self, im, flip=False):
        return self.f[(im.key, flip)].float()


def fit(fc, imgs, w0, b0, lam, lr, epochs, bias_reg):
    """The kit's _fit, with the bias held to its init (bias_reg) or free."""
    return _fit(fc, imgs, w0, b0, lam, epochs, lr, seed=0, bias_lam=None if bias_reg else 0.0)


def main():
    shared = os.path.join(ROOT, "..", "shared")
    spec = load_backbone("efficientnet-lite0", shared)
    images = load_dev_images(shared)
    front = FrontCache(spec.backbone, 16, images, os.path.join(ROOT, "test-output", "model-kit-cache"),
                       spec.preprocess, spec.name)
    t0 = time.time()
    fc = Mem(TailFeatures(front, Tail(spec.backbone, 16).eval().requires_grad_(False)), images)
    print(f"features in memory ({time.time() - t0:.0f} s)", flush=True)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    w0, b0 = torch.from_numpy(spec.head_w), torch.from_numpy(spec.head_b)
    grid = [(0.1, 0.01, 8, True)] + list(itertools.product([0.1, 0.01, 0.001], [0.01, 0.1], [8, 20], [False]))
    if len(sys.argv) > 1:
        grid = [tuple(float(x) if "." in x else (x == "True" if x in ("True", "False") else int(x))
                      for x in arg.split(",")) for arg in sys.argv[1:]]
    for lam, lr, ep, br in grid:
        t0 = time.time()
        cv = []
        for fitset, test in cv_splits(train, 3):
            w, b = fit(fc, fitset, w0, b0, lam, lr, ep, br)
            m = evaluate_heldout(fc, test, w, b)
            cv.append((m["mAP"], m["pointwise"]))
        w, b = fit(fc, train, w0, b0, lam, lr, ep, br)
        m = evaluate_heldout(fc, held, w, b)
        c = np.mean(cv, 0) * 100
        print(f"lam {lam} lr {lr} ep {ep} biasReg {br}: CV mAP {c[0]:.1f} pw {c[1]:.1f} | held-out mAP "
              f"{100 * m['mAP']:.1f} pw {100 * m['pointwise']:.1f} tol18 {100 * m['pointwiseTol18']:.1f} "
              f"({time.time() - t0:.0f} s)", flush=True)




def _class_scores(m):
    """Per class: mean of its AP and its pointwise hit rate (the kit's former per-class choice criterion)."""
    out = {}
    for c in VOC:
        if c in m["perClassAP"]:
            hits, pairs = m["perClassPointwise"].get(c, (0, 0))
            out[c] = (m["perClassAP"][c] + (hits / pairs if pairs else 0.0)) / 2
    return out


def nested_choice(backbone: str = "efficientnet-lite0"):
    """Is the kit's per-class choice (trained row vs ImageNet-group row, by CV) better than training every row?
    Outer 3-fold CV on the training split; the choice is made by 2-fold CV inside each outer training part."""
    shared = os.path.join(ROOT, "..", "shared")
    spec = load_backbone(backbone, shared)
    images = load_dev_images(shared)
    cache = os.path.join(ROOT, "test-output", "model-kit-cache")
    if backbone == "efficientnet-lite0":
        front = FrontCache(spec.backbone, 16, images, cache, spec.preprocess, spec.name)
        fc = Mem(TailFeatures(front, Tail(spec.backbone, 16).eval().requires_grad_(False)), images)
    else:
        from peaklabel_kit.build import _feature_cache
        fc = _feature_cache(spec, images, cache, "", flips=True)
    train = [i for i in images if not i.heldout]
    w0, b0 = torch.from_numpy(spec.head_w), torch.from_numpy(spec.head_b)
    rows = []
    for f, (part, test) in enumerate(cv_splits(train, 3)):
        inner = [part[0::2], part[1::2]]
        gain = {c: [] for c in VOC}
        for k in range(2):
            w, b = fit(fc, inner[1 - k], w0, b0, 0.1, 0.01, 8, True)
            a = _class_scores(evaluate_heldout(fc, inner[k], w0, b0))
            t = _class_scores(evaluate_heldout(fc, inner[k], w, b))
            for c in a:
                gain[c].append(t[c] - a[c])
        w, b = fit(fc, part, w0, b0, 0.1, 0.01, 8, True)
        wc, bc = w0.clone(), b0.clone()
        for c in VOC:
            if gain[c] and float(np.mean(gain[c])) > 0:
                wc[VOC.index(c)], bc[VOC.index(c)] = w[VOC.index(c)], b[VOC.index(c)]
        ma, mc = evaluate_heldout(fc, test, w, b), evaluate_heldout(fc, test, wc, bc)
        rows.append((ma["mAP"], mc["mAP"], ma["pointwise"], mc["pointwise"]))
        print(f"outer fold {f}: all rows mAP {100 * ma['mAP']:.1f} pw {100 * ma['pointwise']:.1f} | per-class "
              f"choice mAP {100 * mc['mAP']:.1f} pw {100 * mc['pointwise']:.1f}", flush=True)
    r = np.mean(rows, 0) * 100
    print(f"mean: all rows mAP {r[0]:.1f} pw {r[2]:.1f} | per-class choice mAP {r[1]:.1f} pw {r[3]:.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--nested"]:
        nested_choice(*sys.argv[2:3])
    else:
        main()
