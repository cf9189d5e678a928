"""Exploration for issue 11 (docs/adr/backbone-efficientnet-lite.md decision 23): where are a backbone's class-map
cells centred? (1) The mirror test (peaklabel_kit/geometry.py, no annotation read): agreement of the ImageNet-group
head's class maps of every dev image with its mirror image's, per candidate centre offset c (cell i at input pixel
16 i + c). (2) As a check against boxes: pointwise localisation of the kit's head read with each offset, on the
held-out quarter and in 5-fold CV over all dev images.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/crm_centre.py [efficientnet-lite0 | squeezenet1.1]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.geometry import mirror_centre, mirror_pairs  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, cv_splits, evaluate_heldout, headline  # noqa: E402

MIRROR_CANDIDATES = tuple(range(-8, 25))
POINTWISE_OFFSETS = (-4.5, -0.5, 2.0, 3.5, 7.5, 11.5, 15.5, 19.5)


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "efficientnet-lite0"
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(name, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    pairs = mirror_pairs(fc, images, w0, b0)
    best, scores = mirror_centre(pairs, MIRROR_CANDIDATES)
    print(f"{name}: mirror test over {len(pairs)} dev images: best offset {best:g} px "
          f"(the bundle uses {fc.centre:g})")
    print("  " + " ".join(f"{c}:{s:.3f}" for c, s in zip(MIRROR_CANDIDATES, scores)))
    sets = [([i for i in images if not i.heldout], [i for i in images if i.heldout])] + cv_splits(images, 5)
    heads = [_fit(fc, fit, w0, b0, **HEAD_RECIPE) for fit, _ in sets]
    print(f"\n| {name}: offset (px) | held-out strict / ±18 px | 5-fold CV strict (per fold) | 5-fold ±18 px |")
    print("|---|---|---|---|")
    for c in POINTWISE_OFFSETS:
        fc.centre = c
        r = 100 * np.array([headline(evaluate_heldout(fc, test, *h)) for (_, test), h in zip(sets, heads)])
        print(f"| {c:g} | {r[0, 1]:.1f} / {r[0, 2]:.1f} | {r[1:, 1].mean():.1f} "
              f"({' / '.join(f'{x:.1f}' for x in r[1:, 1])}) | {r[1:, 2].mean():.1f} |", flush=True)


if __name__ == "__main__":
    main()
