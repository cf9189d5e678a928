"""Exploration for issue 11 (docs/adr/backbone-efficientnet-lite.md decision 26): the image head's L2 strength
(C, fixed at 1 in decision 19) and its pooled input (global max; max and mean side by side), read per fold.
Score = peak + a · image logit for a in A_GRID, 5-fold CV over all dev images (not nested: a first look at
whether any setting is ahead in every fold).

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/image_head_regularisation.py [efficientnet-lite0]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit import image_head  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, cv_splits, mean_average_precision, peak_scores  # noqa: E402

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
A_GRID = (0.25, 0.5, 1.0)


def max_and_mean(f: torch.Tensor) -> torch.Tensor:
    return torch.cat([f.flatten(1).amax(1), f.flatten(1).mean(1)])


def logits(fc, fit, test, C, pool):
    original = image_head.global_max
    image_head.global_max = pool  # fit_image_head and image_logits read the pooling through the module
    try:
        w, b = image_head.fit_image_head(fc, fit, C)
        return image_head.image_logits(fc, test, w, b)
    finally:
        image_head.global_max = original


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "efficientnet-lite0"
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(name, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    settings = [(c, "max", image_head.global_max) for c in C_GRID] + [(1.0, "max+mean", max_and_mean)]
    rows: dict = {}
    for n, (fit, test) in enumerate(cv_splits(images, 5)):
        labels = np.stack([i.labels for i in test])
        s = peak_scores(fc, test, *_fit(fc, fit, w0, b0, **HEAD_RECIPE))
        for c, pname, pool in settings:
            lg = logits(fc, fit, test, c, pool)
            for a in A_GRID:
                rows.setdefault((pname, c, a), []).append(100 * mean_average_precision(s + a * lg, labels))
        print(f"fold {n + 1} done", flush=True)
    print(f"\n{name}: mAP, 5-fold CV (per fold), score = peak + a · image head")
    print("| pooling, C, a | mean | per fold |\n|---|---|---|")
    for key, r in rows.items():
        print(f"| {key[0]}, {key[1]:g}, {key[2]:g} | {np.mean(r):.1f} | {' / '.join(f'{x:.1f}' for x in r)} |")


if __name__ == "__main__":
    main()
