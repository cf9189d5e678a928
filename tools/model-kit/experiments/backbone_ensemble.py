"""Exploration for issue 11 (docs/adr/backbone-efficientnet-lite.md decision 24): do SqueezeNet 1.1 and
EfficientNet-Lite0 err on different images, so that the two bundles together classify and localise better than
either? Each backbone gets the kit's full head (peak-stimulation head + image head at weight 0.5, the weight
`kit.py build`'s inner CV chose for both bundles); the class score is (1 − w) · Lite0's + w · SqueezeNet's, and the map whose argmax
pointwise localisation reads is (1 − v) · Lite0's CRM + v · SqueezeNet's (both on the stride-16 grid, cell
centres where each bundle's crmGeometry puts them). w and v are scored on a grid: 5-fold CV over all dev
images, and the held-out quarter with heads trained on the training split.

Every map is read on Lite0's grid (cell i at 16 i + 2 px, the bundle's crmGeometry; SqueezeNet's cells sit at
16 i + 13 px, so its map is resampled bilinearly). Each cell is scored twice: on the image alone, and with the
mirror image at test time (its features are cached anyway): each backbone's score is then the mean of the two
views' scores, and its map the mean of the CRM and the mirrored view's CRM read at the same input positions.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/backbone_ensemble.py
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
from peaklabel_kit.image_head import fit_image_head, global_max, image_logits  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import (HEAD_RECIPE, _crm, _fit, cv_splits, evaluate_maps, headline,  # noqa: E402
                                 peak_scores)

BACKBONES = ("efficientnet-lite0", "squeezenet1.1")
GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


IMAGE_WEIGHT = 0.5


def heads(fc, fit, w0, b0):
    """The kit's heads trained on `fit`: (class head (w, b), image head (w, b) already times its weight)."""
    hw, hb = _fit(fc, fit, w0, b0, **HEAD_RECIPE)
    a = IMAGE_WEIGHT
    iw, ib = fit_image_head(fc, fit)
    return (hw, hb), (a * iw, a * ib)


def sample_cells(m: torch.Tensor, gy: np.ndarray, gx: np.ndarray) -> torch.Tensor:
    """m [K,h,w] read bilinearly at fractional cells (gy [H'], gx [W']) (clamped to the border) -> [K,H',W']."""
    h, w = m.shape[-2:]
    ny = torch.from_numpy(2 * np.clip(gy, 0, h - 1) / max(1, h - 1) - 1).float()
    nx = torch.from_numpy(2 * np.clip(gx, 0, w - 1) / max(1, w - 1) - 1).float()
    grid = torch.stack(torch.meshgrid(ny, nx, indexing="ij")[::-1], -1)[None]
    return F.grid_sample(m[None].float(), grid, mode="bilinear", align_corners=True)[0]


def outputs(fc, test, head, image_head, flip: bool, ref):
    """(scores [N,K], {key: CRM [K,h,w] on the reference grid}) of `test` as the bundle computes them (with
    `flip`: averaged with the mirror image's). `ref` = (centre, {key: (h, w)}): the grid all maps are read on,
    cell i at input pixel 16 i + centre."""
    c_ref, shapes = ref
    s = peak_scores(fc, test, *head) + image_logits(fc, test, *image_head)
    maps = {}
    for im in test:
        h, w = shapes[im.key]
        width = fc.sizes[im.key][0]
        x = 16 * np.arange(w) + c_ref
        y = 16 * np.arange(h) + c_ref
        with torch.no_grad():
            m = sample_cells(_crm(fc.get(im), *head)[0], (y - fc.centre) / 16, (x - fc.centre) / 16)
            if flip:  # the mirror view's cell j sits at W - 16 j - centre
                mf = sample_cells(_crm(fc.get(im, True), *head)[0], (y - fc.centre) / 16,
                                  (width - x - fc.centre) / 16)
                m = (m + mf) / 2
        maps[im.key] = m
    if not flip:
        return s, maps
    s_f = np.stack([peak_stimulation(_crm(fc.get(im, True), *head)).numpy()[0]
                    + (image_head[0] @ global_max(fc.get(im, True)) + image_head[1]).numpy() for im in test])
    return (s + s_f) / 2, maps


def grid_cells(fcs, w0s, fit, test, sizes) -> dict:
    """{(flip, w, v): (mAP, pointwise, ±18 px, pointwise mAP (Oquab / PRM paper))} on `test` with both backbones'
    heads trained on `fit`; every map read on Lite0's grid."""
    ref = (fcs[0].centre, {im.key: tuple(fcs[0].get(im).shape[-2:]) for im in test})
    trained = [heads(fc, fit, *w0) for fc, w0 in zip(fcs, w0s)]
    index = {im.key: n for n, im in enumerate(test)}
    cells = {}
    for flip in (False, True):
        (s_l, m_l), (s_s, m_s) = [outputs(fc, test, *h, flip, ref) for fc, h in zip(fcs, trained)]
        for w in GRID:
            for v in GRID:
                def maps(im):
                    return ((1 - w) * s_l[index[im.key]] + w * s_s[index[im.key]],
                            (1 - v) * m_l[im.key] + v * m_s[im.key])
                m = evaluate_maps(test, sizes, maps, ref[0])
                cells[(flip, w, v)] = (*headline(m), m["pointwiseAP18"])
    return cells


def main():
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    cache = os.path.join(ROOT, "test-output", "model-kit-cache")
    loaded = [features(name, images, cache) for name in BACKBONES]
    fcs, w0s = [x[0] for x in loaded], [(x[1], x[2]) for x in loaded]
    sizes = fcs[0].sizes
    folds = []
    for n, (fit, test) in enumerate(cv_splits(images, 5)):
        folds.append(grid_cells(fcs, w0s, fit, test, sizes))
        print(f"fold {n + 1} done", flush=True)
    held = grid_cells(fcs, w0s, [i for i in images if not i.heldout], [i for i in images if i.heldout], sizes)
    print("w = SqueezeNet's share of the class score, v = its share of the localisation map "
          "(0 = Lite0 alone, 1 = SqueezeNet alone)")
    print("\n| mirror, w / v | 5-fold CV mAP (per fold) | pointwise strict (per fold) | ±18 px | pointwise mAP (paper) | "
          "held-out mAP / strict / ±18 / pointwise mAP |")
    print("|---|---|---|---|---|---|")
    for key in held:
        r = 100 * np.array([f[key] for f in folds])
        h = 100 * np.array(held[key])
        per = lambda c: " / ".join(f"{x:.1f}" for x in r[:, c])  # noqa: E731
        print(f"| {'yes' if key[0] else 'no'}, {key[1]} / {key[2]} | {r[:, 0].mean():.1f} ± {r[:, 0].std():.1f} "
              f"({per(0)}) | {r[:, 1].mean():.1f} ± {r[:, 1].std():.1f} ({per(1)}) | {r[:, 2].mean():.1f} | "
              f"{r[:, 3].mean():.1f} | {h[0]:.1f} / {h[1]:.1f} / {h[2]:.1f} / {h[3]:.1f} |")


if __name__ == "__main__":
    main()
