"""Exploration for issue 11: fine-tune EfficientNet-Lite0 from block `--split` on (15: the last block; 1: the whole
backbone but the stem and block 0) + conv_head + head on image-level labels; prints held-out (and optionally
3-fold CV on the training split) metrics per setting.

  .venv/bin/python tools/model-kit/experiments/finetune_sweep.py --split 15 --epochs 8 --lr 0.01 --lam-tail 1 [--cv]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from peaklabel_kit.backbones import load_backbone  # noqa: E402
from peaklabel_kit.bundle import read_head  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from finetune import FrontCache, Tail, TailFeatures, fit_tail  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, cv_splits, evaluate_heldout  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def line(tag, m):
    print(f"{tag}: mAP {100 * m['mAP']:.1f} ({m['apClasses']} cls)  pointwise {100 * m['pointwise']:.1f}  "
          f"tol18 {100 * m['pointwiseTol18']:.1f}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--split", type=int, default=15)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--lam-head", type=float, default=0.1)
    p.add_argument("--lam-tail", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tail-lr", type=float, default=1.0, help="tail lr as a factor of the head lr")
    p.add_argument("--no-heldout", action="store_true")
    p.add_argument("--cv", action="store_true")
    p.add_argument("--baseline", action="store_true")
    p.add_argument("--per-class", action="store_true")
    a = p.parse_args()
    if os.environ.get("KIT_THREADS"):
        torch.set_num_threads(int(os.environ["KIT_THREADS"]))
    shared = os.path.join(ROOT, "..", "shared")
    spec = load_backbone("efficientnet-lite0", shared)
    images = load_dev_images(shared)
    front = FrontCache(spec.backbone, a.split, images, os.path.join(ROOT, "test-output", "model-kit-cache"),
                       spec.preprocess, spec.name)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    tail0 = Tail(spec.backbone, a.split).eval().requires_grad_(False)
    hw0, hb0 = torch.from_numpy(spec.head_w), torch.from_numpy(spec.head_b)
    if a.baseline:
        line("imagenet-group head, frozen", evaluate_heldout(TailFeatures(front, tail0), held, hw0, hb0))
        bw, bb = read_head(os.path.join(ROOT, "resources", "models-effnet-lite0", "head.bin"), channels=1280)
        line("bundle head, frozen", evaluate_heldout(TailFeatures(front, tail0), held, torch.from_numpy(bw), torch.from_numpy(bb)))
    t0 = time.time()
    tail, hw, hb = fit_tail(front, train, tail0, hw0, hb0, a.epochs, a.lr, a.lam_head, a.lam_tail, a.seed, log=True,
                             tail_lr_factor=a.tail_lr) if not a.no_heldout else (None, None, None)
    m = evaluate_heldout(TailFeatures(front, tail), held, hw, hb) if tail is not None else None
    m and line(f"fine-tuned split {a.split} ep {a.epochs} lr {a.lr} lamH {a.lam_head} lamT {a.lam_tail} ({time.time() - t0:.0f} s)", m)
    if a.per_class and m:
        for c, v in sorted(m["perClassAP"].items()):
            h_, p_ = m["perClassPointwise"].get(c, (0, 0))
            print(f"  {c:12s} AP {100 * v:5.1f}  pw {h_}/{p_}")
    if a.cv:
        res = []
        for f, (fit, test) in enumerate(cv_splits(train, 3)):
            t, w, b = fit_tail(front, fit, tail0, hw0, hb0, a.epochs, a.lr, a.lam_head, a.lam_tail, a.seed,
                               tail_lr_factor=a.tail_lr)
            frozen = TailFeatures(front, tail0)  # the control: the kit's head recipe on the frozen backbone
            base = evaluate_heldout(frozen, test, *_fit(frozen, fit, hw0, hb0, **HEAD_RECIPE))
            got = evaluate_heldout(TailFeatures(front, t), test, w, b)
            res.append((base["mAP"], got["mAP"], base["pointwise"], got["pointwise"]))
            print(f"  fold {f}: mAP {100 * base['mAP']:.1f} -> {100 * got['mAP']:.1f}, pointwise "
                  f"{100 * base['pointwise']:.1f} -> {100 * got['pointwise']:.1f}", flush=True)
        r = np.mean(res, 0) * 100
        print(f"CV mean: mAP {r[0]:.1f} -> {r[1]:.1f}, pointwise {r[2]:.1f} -> {r[3]:.1f}")


if __name__ == "__main__":
    main()
