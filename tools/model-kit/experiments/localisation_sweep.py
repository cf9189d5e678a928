"""Exploration for issue 11: is the pointwise-localisation gap (68.7 % against the target 85 %) a matter of where
the argmax is read? Many held-out misses sat in the map's outermost cells (zero "same" padding), and a stride-16
cell centre can miss a thin box. Compares, with the kit's head recipe and 5-fold CV over all dev images:
the argmax cell (the kit), the argmax over interior cells only, a quadratic sub-cell fit around the argmax, and
the argmax of the map upsampled ×4 bicubically (as the app's peaks with subPixelFactor 4).

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/localisation_sweep.py [efficientnet-lite0]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _crm, _fit, _in_box, cell_centre, cv_splits  # noqa: E402


def cell(m):
    return divmod(int(m.argmax()), m.shape[1])


def interior(m):
    inner = torch.full_like(m, -float("inf"))
    inner[1:-1, 1:-1] = m[1:-1, 1:-1]
    return cell(inner)


def _vertex(a: float, b: float, c: float) -> float:
    """Offset (−0.5 … 0.5) of the parabola's vertex through (−1, a), (0, b), (1, c)."""
    d = a - 2 * b + c
    return 0.0 if d >= 0 else max(-0.5, min(0.5, 0.5 * (a - c) / d))


def quadratic(m):
    y, x = cell(m)
    h, w = m.shape
    dy = _vertex(float(m[y - 1, x]), float(m[y, x]), float(m[y + 1, x])) if 0 < y < h - 1 else 0.0
    dx = _vertex(float(m[y, x - 1]), float(m[y, x]), float(m[y, x + 1])) if 0 < x < w - 1 else 0.0
    return y + dy, x + dx


def bicubic4(m):
    h, w = m.shape
    u = F.interpolate(m[None, None], size=((h - 1) * 4 + 1, (w - 1) * 4 + 1), mode="bicubic", align_corners=True)[0, 0]
    y, x = cell(u)
    return y / 4, x / 4


READERS = {"argmax cell (kit)": cell, "argmax over interior cells": interior,
           "quadratic sub-cell fit": quadratic, "bicubic ×4 (torch, a = −0.75; the app uses Catmull-Rom)": bicubic4}


def main(name: str = "efficientnet-lite0"):
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(name, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    hits = {k: np.zeros(2) for k in READERS}
    pairs = on_border = 0
    for fitset, test in cv_splits(images, 5):
        w, b = _fit(fc, fitset, w0, b0, **HEAD_RECIPE)
        with torch.no_grad():
            for im in test:
                crm = _crm(fc.get(im), w, b)[0]
                for c in np.nonzero(im.labels)[0]:
                    pairs += 1
                    y, x = cell(crm[c])
                    on_border += y in (0, crm.shape[1] - 1) or x in (0, crm.shape[2] - 1)
                    for k, read in READERS.items():
                        yy, xx = cell_centre(im, fc.sizes[im.key], *read(crm[c]), fc.centre)
                        hits[k] += (_in_box(yy, xx, im.boxes[c], 0), _in_box(yy, xx, im.boxes[c], 18))
    print(f"{name}: {pairs} (image, class) pairs; the argmax cell is on the map's border in "
          f"{100 * on_border / pairs:.1f} %")
    print("| argmax read as | pointwise strict | ±18 px |\n|---|---|---|")
    for k, (strict, tol) in hits.items():
        print(f"| {k} | {100 * strict / pairs:.1f} | {100 * tol / pairs:.1f} |")


if __name__ == "__main__":
    main(*sys.argv[1:2])
