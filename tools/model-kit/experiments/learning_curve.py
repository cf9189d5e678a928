"""Exploration for issue 11: how does the head's quality grow with the number of tagged training images? With a
frozen backbone and ~250 tagged images per fit, is the gap to 75 mAP a matter of data? The kit's head recipe is
fitted on a growing share of each fold's fit set (nested subsets of one seeded order; epochs scaled so that every
fit takes the recipe's number of SGD steps: with fewer steps the SqueezeNet head is still far from where it
settles, 17 mAP against 64 for one fold at 25 %) and scored on the fold's test images: 5-fold CV over all dev
images, as backbone_variants.py --pooled.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/learning_curve.py [efficientnet-lite0] [--shares 0.25,0.5,0.75,1]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402

from backbone_variants import ROOT, backbone_and_values, features, mean_sd_cells  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, cv_splits, evaluate_heldout, headline  # noqa: E402


def main():
    backbone, shares = backbone_and_values("shares", "0.25,0.5,0.75,1")
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(backbone, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    rows = {s: [] for s in shares}
    sizes = {s: [] for s in shares}
    for fitset, test in cv_splits(images, 5):
        order = np.random.default_rng(HEAD_RECIPE["seed"]).permutation(len(fitset))
        for s in shares:
            subset = fitset if s >= 1 else [fitset[i] for i in sorted(order[:int(round(s * len(fitset)))])]
            recipe = HEAD_RECIPE | {"epochs": int(round(HEAD_RECIPE["epochs"] / s))}  # as many steps as the full fit
            rows[s].append(headline(evaluate_heldout(fc, test, *_fit(fc, subset, w0, b0, **recipe))))
            sizes[s].append(len(subset))
    m0 = np.mean([headline(evaluate_heldout(fc, test, w0, b0)) for _, test in cv_splits(images, 5)], 0) * 100
    print(f"| {backbone}: tagged training images per fit | 5-fold CV: mAP | pointwise | ±18 px |\n|---|---|---|---|")
    print(f"| 0 (ImageNet-group head) | {m0[0]:.1f} | {m0[1]:.1f} | {m0[2]:.1f} |")
    for s in shares:
        print(f"| {np.mean(sizes[s]):.0f} ({100 * s:.0f} %) | {mean_sd_cells(rows[s])} |", flush=True)


if __name__ == "__main__":
    main()
