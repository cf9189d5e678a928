"""Where a backbone's class-map cells sit in the input, measured without any annotation.

The engine places CRM cell i at input pixel 16 i + c (manifest `crmGeometry.centerOffset`). The geometric c
(the centre of the cell's receptive field) need not be where the trained network's response is centred. An image
and its mirror image show the same objects, so the class maps of the two views agree best when their cells are
matched under the true c: cell i of the image (at x = 16 i + c, mirrored to W − x) meets the mirrored view's cell
(W − 2 c) / 16 − i. `mirror_agreement` scores each candidate c by that agreement
(docs/adr/backbone-efficientnet-lite.md decision 23).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

STRIDE = 16
FINE = 16  # the maps are compared on a grid of STRIDE / FINE = 1 px, both views resampled alike


def mirror_agreement(pairs, candidates) -> np.ndarray:
    """Mean over `pairs` of (map [K,h,w], mirrored view's map [K,h,w], input width W) of the correlation between
    the map and the mirrored view's map read at the matching cells, for each candidate centre offset (px)."""
    scores = np.zeros(len(candidates))
    for m, mf, width in pairs:
        w = m.shape[-1]
        n_fine = FINE * (w - 1) + 1
        up = F.interpolate(m[None].float(), size=(m.shape[-2], n_fine), mode="bilinear", align_corners=True)[0]
        up_f = F.interpolate(mf[None].float(), size=(m.shape[-2], n_fine), mode="bilinear", align_corners=True)[0]
        cell = np.arange(n_fine) / FINE
        for k, c in enumerate(candidates):
            q = np.round(((width - 2 * c) / STRIDE - cell) * FINE).astype(int)  # the mirrored fine index
            ok = (q >= 0) & (q < n_fine)
            a, b = up[..., ok].flatten(), up_f[..., q[ok]].flatten()
            scores[k] += float(torch.corrcoef(torch.stack([a, b]))[0, 1])
    return scores / max(1, len(pairs))


def mirror_pairs(fc, images, hw, hb) -> list:
    """(class map, mirror view's class map, input width) of each image from a feature cache with flips and a
    class head (w, b): what `mirror_agreement` reads."""
    from .train import _crm
    with torch.no_grad():
        return [(_crm(fc.get(im), hw, hb)[0], _crm(fc.get(im, True), hw, hb)[0], fc.sizes[im.key][0]) for im in images]


def mirror_centre(pairs, candidates=tuple(range(-8, 25))) -> tuple[float, np.ndarray]:
    """(the candidate offset with the best mirror agreement, the agreement of every candidate)."""
    scores = mirror_agreement(pairs, candidates)
    return float(candidates[int(np.argmax(scores))]), scores
