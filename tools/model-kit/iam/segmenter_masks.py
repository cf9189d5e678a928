"""Segmenter pseudo masks (`python -m iam … --pseudo-masks segmenter`): each training peak's target is the
segmenter's mask for one click at the peak, instead of the proposals its full-resolution PRM picks. This is
WISE's "pseudo masks train a model" with the segmenter as the mask source. The peaks are those of the tagged
classes (image-level tags only); instance masks are never read.

It reads the recipe's cache (features, peaks and PRMs of `prepare`) and writes a second one under the bundle
key + "-segmenter" with the same fields, one candidate per peak. The masks come from segmenter-masks.ts
(Node: the engine's segmenter, so the masks are those the app would draw for that click).
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image

from .data import REPO, Bundle, Item, proposals_path, read_plpr

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "segmenter-masks.ts")
MAX_COVER = 0.9  # a mask over 90 % of the image is the background, not an instance: no target for that peak


def _segment(jobs: list[dict]) -> list[np.ndarray]:
    """Per job, [K, height, width] bool: the segmenter's mask for each listed click."""
    with tempfile.TemporaryDirectory() as tmp:
        for n, job in enumerate(jobs):
            job["out"] = os.path.join(tmp, f"{n}.bin")
        listing = os.path.join(tmp, "list.json")
        json.dump(jobs, open(listing, "w"))
        subprocess.run(["npx", "tsx", SCRIPT, listing], cwd=REPO, check=True)
        return [np.fromfile(j["out"], np.uint8).reshape(-1, j["height"], j["width"]) > 0 for j in jobs]


def pseudo_targets(on_grid: list[np.ndarray], grid: tuple[int, int]) -> dict:
    """The cache fields for one image from its per-peak masks on the proposal grid: one candidate per peak,
    none for an empty mask or one over MAX_COVER of the image."""
    usable = [0 < m.mean() < MAX_COVER for m in on_grid]
    kept = [m for m, ok in zip(on_grid, usable) if ok]
    cand = np.full((len(on_grid), 1), -1, np.int32)
    cand[np.nonzero(usable)[0], 0] = np.arange(len(kept))
    masks = np.stack(kept) if kept else np.zeros((0, *grid), bool)
    return {"cand": cand, "cand_count": np.array(usable, np.int32), "masks": np.packbits(masks, axis=-1)}


def make(bundle: Bundle, items: list[Item], recipe_key: str, cache_path, log=print) -> dict:
    """Writes cache_path(item, recipe_key + "-segmenter") for every item the recipe cached; returns counts."""
    items = [it for it in items if os.path.isfile(cache_path(it, recipe_key))]
    offset = float((bundle.manifest.get("crmGeometry") or {}).get("centerOffset", 7.5))
    caches = [dict(np.load(cache_path(it, recipe_key))) for it in items]
    grids, jobs = [], []
    for it, z in zip(items, caches):
        rec = read_plpr(proposals_path(it))
        w0, h0 = Image.open(it.file).size
        H, W = rec.rgb.shape[:2]
        grids.append(rec.grid)
        # CRM cell (y, x) is centred on input pixel 16·(y, x) + offset; input → original pixels.
        jobs.append({"file": it.file, "width": w0, "height": h0,
                     "points": [[(16 * x + offset + 0.5) * w0 / W - 0.5, (16 * y + offset + 0.5) * h0 / H - 0.5]
                                for _, y, x in z["peaks"]]})
    log(f"segmenter pseudo masks: {sum(len(j['points']) for j in jobs)} clicks on {len(jobs)} images")
    found = total = 0
    for it, z, (gh, gw), masks in zip(items, caches, grids, _segment(jobs)):
        on_grid = [np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((gw, gh), Image.BILINEAR)) >= 128
                   for m in masks]
        targets = pseudo_targets(on_grid, (gh, gw))
        z.update(targets)
        out = cache_path(it, f"{recipe_key}-segmenter")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        np.savez(out, **z)
        found += int(targets["cand_count"].sum())
        total += len(on_grid)
    return {"images": len(items), "prms": total, "prmsWithCandidates": found, "candidates": found}
