"""Exploration for issue 11: inference-side choices for the held-out metrics of a bundle head, with no
retraining: the class score (peak stimulation's mean over peaks, the max, the global mean, the top-5 mean, a
log-sum-exp), mirror averaging of the class maps, and a 3x3 box filter before the argmax that pointwise
localisation reads. Scored by 3-fold CV on the training split (a head trained per fold with the kit's recipe)
and on the held-out quarter (the bundle's head.bin).

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/scoring_sweep.py [efficientnet-lite0|squeezenet1.1]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from peaklabel_kit.backbones import load_backbone  # noqa: E402
from peaklabel_kit.build import _feature_cache  # noqa: E402
from peaklabel_kit.bundle import read_head  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _crm, _fit, cv_splits, evaluate_maps  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCORES = {
    "peak": lambda c: peak_stimulation(c)[0],
    "max": lambda c: c.amax((2, 3))[0],
    "gap": lambda c: c.mean((2, 3))[0],
    "top5": lambda c: c.flatten(2).topk(5, -1).values.mean(-1)[0],
    "lse": lambda c: (torch.logsumexp(c.flatten(2) * 2, -1) / 2)[0],
}


def class_maps(fc, im, hw, hb, mirror: bool):
    c = _crm(fc.get(im), hw, hb)
    if mirror:
        c = (c + _crm(fc.get(im, True), hw, hb).flip(-1)) / 2
    return c


def smoothed(m, smooth: int):
    """The maps box-filtered (smooth × smooth) before their argmax; 0 = as they are."""
    if not smooth:
        return m
    return F.avg_pool2d(m[None], smooth, 1, smooth // 2, count_include_pad=False)[0]


def evaluate(fc, imgs, hw, hb, mirror, score, smooth):
    """(mAP, pointwise, pointwise ±18 px) in %, as train.evaluate_heldout defines them."""
    def maps(im):
        c = class_maps(fc, im, hw, hb, mirror)
        return SCORES[score](c), smoothed(c[0], smooth)
    m = evaluate_maps(imgs, fc.sizes, maps, fc.centre)
    return 100 * m["mAP"], 100 * m["pointwise"], 100 * m["pointwiseTol18"]


def main(name: str = "efficientnet-lite0"):
    spec = load_backbone(name, os.path.join(ROOT, "..", "shared"))
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc = _feature_cache(spec, images, os.path.join(ROOT, "test-output", "model-kit-cache"), "", flips=True)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    splits = cv_splits(train, 3)
    w0, b0 = torch.from_numpy(spec.head_w), torch.from_numpy(spec.head_b)
    heads = [_fit(fc, fitset, w0, b0, **HEAD_RECIPE) for fitset, _ in splits]
    bundle = "models" if name == "squeezenet1.1" else "models-effnet-lite0"
    hw, hb = (torch.from_numpy(a) for a in read_head(os.path.join(ROOT, "resources", bundle, "head.bin"), channels=spec.channels))
    for mirror in (False, True):
        for score in SCORES:
            for smooth in (0, 3):
                cv = np.mean([evaluate(fc, test, *head, mirror, score, smooth)
                              for (_, test), head in zip(splits, heads)], 0)
                ho = evaluate(fc, held, hw, hb, mirror, score, smooth)
                print(f"mirror {mirror:d} score {score:5s} smooth {smooth}: CV mAP {cv[0]:.1f} pw {cv[1]:.1f}/{cv[2]:.1f} | "
                      f"held-out mAP {ho[0]:.1f} pw {ho[1]:.1f}/{ho[2]:.1f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:2])
