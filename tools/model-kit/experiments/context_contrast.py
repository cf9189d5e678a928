"""Exploration for issue 11: most pointwise misses put a class map's argmax on context (a chair's map on the
floor, a bus's on the street; decision 15 of docs/adr/backbone-efficientnet-lite.md). Can a linear head
learn to prefer an object over its surroundings if it also sees each cell's features minus their local
mean (a centre-surround term)? The head reads [f, f − boxmean_k(f)] (2 × 1280 channels), the second half
initialised at zero and held near it by the recipe's λ; the kit's recipe otherwise. 5-fold CV over all dev
images, as backbone_variants.py --pooled; k = 0 is the kit's head.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/context_contrast.py [efficientnet-lite0] [--windows 0,5,9]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from backbone_variants import ROOT, backbone_and_values, cv_rows, features, mean_sd_cells  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402


class CentreSurround:
    """A feature cache's features with their centre-surround difference over k × k cells appended."""

    def __init__(self, fc, k: int):
        self.fc, self.k, self.sizes = fc, k, fc.sizes

    def get(self, im, flip=False):
        f = self.fc.get(im, flip)
        mean = F.avg_pool2d(f[None], self.k, 1, self.k // 2, count_include_pad=False)[0]
        return torch.cat([f, f - mean])


def main():
    backbone, windows = backbone_and_values("windows", "0,5,9", int)
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(backbone, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    print(f"| {backbone}: centre-surround window (cells) | 5-fold CV: mAP | pointwise | ±18 px |\n|---|---|---|---|")
    for k in windows:
        src, init = (fc, w0) if k == 0 else (CentreSurround(fc, k), torch.cat([w0, torch.zeros_like(w0)], 1))
        print(f"| {k or 'none (kit)'} | {mean_sd_cells(cv_rows(src, images, 5, init, b0))} |", flush=True)


if __name__ == "__main__":
    main()
