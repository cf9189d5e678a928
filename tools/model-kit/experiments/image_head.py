"""Exploration for issue 11 (docs/adr/backbone-efficientnet-lite.md decision 19): the kit's image head beside the
peak-stimulation head. The class score the kit measures (and the engine reads) is the mean CRM value at a map's
peaks; the image head (peaklabel_kit/image_head.py) reads the global max of the head's input features (L2
logistic regression on standardised features, C = 1) and its logit is added with weight a. The CRM, its peaks
and the pointwise localisation stay the class head's, so only classification mAP can move.

Each row below is scored by 5-fold CV over all dev images; the last one chooses a inside each fit set by 3-fold
CV over BLEND_GRID (as `kit.py build` does on the training split), so its estimate is nested. The held-out
column trains on the training split.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/image_head.py [efficientnet-lite0 | squeezenet1.1]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.image_head import BLEND_GRID, choose_blend, fit_image_head, image_logits  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, cv_splits, mean_average_precision, peak_scores  # noqa: E402


def scores(fc, fit, test, w0, b0):
    """(peak-stimulation scores, image-head logits) on `test`, both heads trained on `fit`: [N,K] each."""
    return (peak_scores(fc, test, *_fit(fc, fit, w0, b0, **HEAD_RECIPE)),
            image_logits(fc, test, *fit_image_head(fc, fit)))


def map_of(s, imgs):
    return 100 * mean_average_precision(s, np.stack([i.labels for i in imgs]))


def choose_a(fc, fit, w0, b0):
    return choose_blend(fc, fit, lambda f: _fit(fc, f, w0, b0, **HEAD_RECIPE), mean_average_precision)[0]


def main():
    backbone = sys.argv[1] if len(sys.argv) > 1 else "efficientnet-lite0"
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(backbone, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    rows = {n: [] for n in ["peak stimulation (kit)", "image head alone"] + [f"peak + {a} × image" for a in BLEND_GRID[1:]]
            + ["peak + a × image, a by inner CV"]}
    chosen = []
    for fit, test in cv_splits(images, 5):
        p, q = scores(fc, fit, test, w0, b0)
        a = choose_a(fc, fit, w0, b0)
        chosen.append(a)
        for name, s in zip(rows, [p, q] + [p + x * q for x in BLEND_GRID[1:]] + [p + a * q]):
            rows[name].append(map_of(s, test))
        print(f"fold {len(chosen)}: a = {a}", flush=True)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    p, q = scores(fc, train, held, w0, b0)
    a_held = choose_a(fc, train, w0, b0)
    held_cells = [p, q] + [p + x * q for x in BLEND_GRID[1:]] + [p + a_held * q]
    print(f"\n| {backbone}: class score | 5-fold CV mAP | per fold | held-out quarter mAP |\n|---|---|---|---|")
    for (name, r), s in zip(rows.items(), held_cells):
        print(f"| {name} | {np.mean(r):.1f} ± {np.std(r):.1f} | {' / '.join(f'{x:.1f}' for x in r)} | "
              f"{map_of(s, held):.1f} |")
    print(f"\na chosen per outer fold: {chosen}; on the training split (held-out row): {a_held}")


if __name__ == "__main__":
    main()
