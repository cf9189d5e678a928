"""Exploration for issue 11: does training the head on several input scales (a frozen backbone sees each image
at shorter side 320 … 512, mirrored or not) classify and localise better at the bundle's 448 px? And what would
averaging several scales at test time add (it multiplies the backbone's cost)?

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/scale_augmentation.py [efficientnet-lite0] [--sides 320,384,448,512]

Scored like backbone_variants.py --pooled (5-fold CV over all dev images, mean ± s.d. over folds) and on the
held-out quarter (head fitted on the training split). Features are cached per side as `kit.py build` caches them.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from backbone_variants import ROOT, backbone_and_values, features, use_side  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _crm, _fit, cv_splits, evaluate_heldout, evaluate_maps, headline  # noqa: E402

BUNDLE_SIDE = 448


class RandomScale:
    """A feature cache that answers each request from one of several sides' caches, drawn per request from a
    seeded generator (the training loop asks once per image per epoch)."""

    def __init__(self, caches: dict, seed: int = 0):
        self.caches = list(caches.values())
        self.rng = np.random.default_rng(seed)

    def get(self, im, flip: bool = False):
        return self.caches[self.rng.integers(len(self.caches))].get(im, flip)


def evaluate_multiscale(caches: dict, imgs, w, b) -> tuple[float, float, float]:
    """mAP from class scores averaged over the sides; pointwise from the maps averaged on the 448 grid."""
    ref = caches[BUNDLE_SIDE]

    def maps(im):
        crms = {side: _crm(fc.get(im), w, b) for side, fc in caches.items()}
        grid = crms[BUNDLE_SIDE].shape[-2:]
        score = torch.stack([peak_stimulation(c)[0] for c in crms.values()]).mean(0)
        resized = [F.interpolate(c, size=grid, mode="bilinear", align_corners=False) for c in crms.values()]
        return score, torch.stack(resized).mean(0)[0]
    return headline(evaluate_maps(imgs, ref.sizes, maps, ref.centre))


def main():
    backbone, sides = backbone_and_values("sides", "320,384,448,512", int)
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    cache = os.path.join(ROOT, "test-output", "model-kit-cache")
    caches = {}
    for side in sorted(set(sides) | {BUNDLE_SIDE}):
        use_side(side)
        caches[side], w0, b0 = features(backbone, images, cache)
    use_side(BUNDLE_SIDE)
    ref = caches[BUNDLE_SIDE]
    train_caches = {s: caches[s] for s in sides}
    test_caches = {s: c for s, c in caches.items() if s >= 384}

    def rows(fitset, test):
        plain = _fit(ref, fitset, w0, b0, **HEAD_RECIPE)
        scaled = _fit(RandomScale(train_caches, HEAD_RECIPE["seed"]), fitset, w0, b0, **HEAD_RECIPE)
        return [headline(evaluate_heldout(ref, test, *plain)), headline(evaluate_heldout(ref, test, *scaled)),
                evaluate_multiscale(test_caches, test, *plain), evaluate_multiscale(test_caches, test, *scaled)]

    names = [f"trained at {BUNDLE_SIDE}, tested at {BUNDLE_SIDE} (kit recipe)",
             f"trained at {'/'.join(map(str, sides))}, tested at {BUNDLE_SIDE}",
             f"trained at {BUNDLE_SIDE}, scores and maps averaged over {'/'.join(map(str, test_caches))}",
             f"trained at {'/'.join(map(str, sides))}, averaged over {'/'.join(map(str, test_caches))}"]
    folds = np.array([rows(fitset, test) for fitset, test in cv_splits(images, 5)]) * 100
    held = np.array(rows([i for i in images if not i.heldout], [i for i in images if i.heldout])) * 100
    print(f"| {backbone} | 5-fold CV, all dev images: mAP / pointwise / ±18 px | held-out quarter |\n|---|---|---|")
    for k, name in enumerate(names):
        m, sd = folds[:, k].mean(0), folds[:, k].std(0)
        print(f"| {name} | {m[0]:.1f} ± {sd[0]:.1f} / {m[1]:.1f} ± {sd[1]:.1f} / {m[2]:.1f} | "
              f"{held[k][0]:.1f} / {held[k][1]:.1f} / {held[k][2]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
