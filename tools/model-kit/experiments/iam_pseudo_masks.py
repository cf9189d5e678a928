"""Exploration for issue 11: where the IAM's pseudo masks come from. The kit's recipe (`python -m iam prepare`)
picks, per peak, the engine's proposals by the full-resolution PRM; `--pseudo-masks segmenter` takes the
segmenter's mask for one click at the peak (iam/segmenter_masks.py). A third source, tried and not kept
(docs/adr/backbone-efficientnet-lite.md, decision 11), written as a second training cache beside the recipe's
(its bundle key + "-crm"; features, peaks and PRMs copied):

  crm  the peak's class-response region (bilinear CRM >= 0.4 x the peak's value, shared pixels to the nearest
       peak of the class, the part connected to the peak) snapped to the proposals: the top 5 by IoU, IoU >= 0.3

Image-level tags only: the peaks are those of the tagged classes; instance masks are never read.

  cd tools/model-kit
  ../../.venv/bin/python -m iam prepare --model DIR                      # the recipe's cache for the bundle
  ../../.venv/bin/python experiments/iam_pseudo_masks.py make crm DIR
  ../../.venv/bin/python experiments/iam_pseudo_masks.py kit crm train|export --model COPY --weights W.pt
(`kit` runs `python -m iam` reading the second cache; COPY: a copy of the bundle folder for the exported iam.onnx.)
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import iam.train as T  # noqa: E402
from iam.data import Bundle, dev_items, proposals_path, read_plpr, runs_to_mask  # noqa: E402

CRM_FRACTION, TOP_K, MIN_IOU = 0.4, 5, 0.3


def _connected(region: np.ndarray, y: int, x: int) -> np.ndarray:
    m = np.zeros_like(region)
    m[y, x] = True
    while True:
        d = m.copy()
        d[1:] |= m[:-1]
        d[:-1] |= m[1:]
        d[:, 1:] |= m[:, :-1]
        d[:, :-1] |= m[:, 1:]
        d &= region
        if (d == m).all():
            return m
        m = d


def crm_candidates(z: dict, rec, head_w: torch.Tensor, head_b: torch.Tensor) -> list[list[np.ndarray]]:
    """Per cached peak: the proposals (grid masks) that best match its class-response region."""
    gh, gw = rec.grid
    H, W = rec.rgb.shape[:2]
    with torch.no_grad():
        crm = F.conv2d(torch.from_numpy(z["features"][None].astype(np.float32)), head_w[:, :, None, None], head_b)[0].numpy()
    h, w = crm.shape[1:]
    rows = ((np.arange(gh) + 0.5) * H / gh - 0.5 - 15.5) / 16  # grid pixel centres on the CRM grid
    cols = ((np.arange(gw) + 0.5) * W / gw - 0.5 - 15.5) / 16
    ry, rx = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    y0, x0 = np.floor(ry).astype(int), np.floor(rx).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ry - y0)[:, None], (rx - x0)[None, :]

    def bilinear(m):
        top = m[y0][:, x0] + (m[y0][:, x1] - m[y0][:, x0]) * fx
        bottom = m[y1][:, x0] + (m[y1][:, x1] - m[y1][:, x0]) * fx
        return top + (bottom - top) * fy

    props = [runs_to_mask(r, rec.grid) for r in rec.masks]
    flat = np.stack(props).reshape(len(props), -1).astype(np.float32)
    area = flat.sum(1)
    peaks = z["peaks"]

    def owners(c: int) -> np.ndarray:
        """Per grid pixel, the nearest of class c's peaks whose floor it passes (−1: none)."""
        v = bilinear(crm[c])
        owner, best = np.full((gh, gw), -1), np.full((gh, gw), np.inf)
        for k in np.nonzero(peaks[:, 0] == c)[0]:
            ok = v >= max(float(crm[c, int(peaks[k, 1]), int(peaks[k, 2])]), 0.0) * CRM_FRACTION
            d = (rows[:, None] - peaks[k, 1]) ** 2 + (cols[None, :] - peaks[k, 2]) ** 2
            nearer = ok & (d < best)
            owner[nearer], best[nearer] = k, d[nearer]
        return owner

    by_class = {int(c): owners(int(c)) for c in np.unique(peaks[:, 0])}  # once per class, not per peak
    out = []
    for j, (c, py, px) in enumerate(peaks):
        owner = by_class[int(c)]
        gy, gx = int(np.abs(rows - py).argmin()), int(np.abs(cols - px).argmin())
        if owner[gy, gx] != j:
            out.append([])
            continue
        region = _connected(owner == j, gy, gx).reshape(-1).astype(np.float32)
        inter = flat @ region
        iou = inter / np.maximum(area + region.sum() - inter, 1)
        out.append([props[i] for i in np.argsort(-iou)[:TOP_K] if iou[i] >= MIN_IOU])
    return out


def make(source: str, bundle_dir: str) -> None:
    bundle = Bundle(bundle_dir)
    key = T.bundle_key(bundle)
    items = [it for it in dev_items(bundle.manifest) if not it.heldout and it.classes and os.path.isfile(T.cache_path(it, key))]
    caches = [dict(np.load(T.cache_path(it, key))) for it in items]
    recs = [read_plpr(proposals_path(it)) for it in items]
    hw, hb = torch.from_numpy(bundle.head_w), torch.from_numpy(bundle.head_b)
    cands = [crm_candidates(z, rec, hw, hb) for z, rec in zip(caches, recs)]
    found = 0
    for it, z, per_peak in zip(items, caches, cands):
        flat = [m for c in per_peak for m in c]
        cand = np.full((len(per_peak), TOP_K), -1, np.int32)
        o = 0
        for r, c in enumerate(per_peak):
            cand[r, :len(c)] = np.arange(o, o + len(c))
            o += len(c)
        found += sum(1 for c in per_peak if c)
        grid = tuple(int(v) for v in z["grid"])
        masks = np.stack(flat) if flat else np.zeros((0, *grid), bool)
        z.update(cand=cand, cand_count=np.array([len(c) for c in per_peak], np.int32), masks=np.packbits(masks, axis=-1))
        out = T.cache_path(it, f"{key}-{source}")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        np.savez(out, **z)
    print(f"{source}: {len(items)} images, {found} of {sum(len(c) for c in cands)} peaks with pseudo masks -> {key}-{source}")


def kit(source: str, argv: list[str]) -> int:
    recipe_key = T.bundle_key
    T.bundle_key = lambda b: f"{recipe_key(b)}-{source}"
    import iam.__main__ as cli
    return cli.main(argv)


if __name__ == "__main__":
    cmd, source = sys.argv[1], sys.argv[2]
    assert source == "crm", f"{source}: the segmenter's pseudo masks are the kit's (python -m iam --pseudo-masks segmenter)"
    sys.exit(make(source, sys.argv[3]) if cmd == "make" else kit(source, sys.argv[3:]))
