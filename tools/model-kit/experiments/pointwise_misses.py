"""Exploration for issue 11: which held-out (image, class) pairs does pointwise localisation miss, and why?
Trains the kit's head (HEAD_RECIPE) on the training split, reads each held-out pair's class-map argmax as
`kit.py eval` does, and lists the misses with the class's largest box (share of the image), whether the argmax is
within 18 px, and which other classes' boxes it sits in. Writes a montage of the misses (class map in red, the
class's boxes in green, the argmax in yellow) and checks that every pair has a cell centre inside one of its boxes
(so the stride-16 grid itself does not cap the metric).

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/pointwise_misses.py [efficientnet-lite0] [--montage OUT.jpg]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit.classes import VOC  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _crm, _fit, _in_box, cell_centre  # noqa: E402

TILE = 256


def tile(im, c, crm: np.ndarray, y: float, x: float) -> Image.Image:
    img = Image.open(im.file).convert("RGB")
    m = (crm - crm.min()) / (crm.max() - crm.min() + 1e-6)
    heat = Image.fromarray((m * 255).astype(np.uint8)).resize(img.size, Image.BILINEAR)
    zero = Image.new("L", img.size, 0)
    img = Image.blend(img, Image.merge("RGB", (heat, zero, zero)), 0.4)
    d = ImageDraw.Draw(img)
    for bx, by, bw, bh in im.boxes[c]:
        d.rectangle([bx, by, bx + bw, by + bh], outline=(0, 255, 0), width=3)
    d.ellipse([x - 7, y - 7, x + 7, y + 7], fill=(255, 255, 0), outline=(0, 0, 0))
    img.thumbnail((TILE, TILE))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, TILE, 14], fill=(0, 0, 0))
    d.text((3, 1), f"{VOC[c]}  {os.path.basename(im.file)}", fill=(255, 255, 255))
    return img


def main():
    p = argparse.ArgumentParser()
    p.add_argument("backbone", nargs="?", default="efficientnet-lite0")
    p.add_argument("--montage")
    a = p.parse_args()
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(a.backbone, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    hw, hb = _fit(fc, [i for i in images if not i.heldout], w0, b0, **HEAD_RECIPE)
    held = [i for i in images if i.heldout]
    pairs, reachable, tiles = [], 0, []
    print("| image | class | boxes | largest box (share of image) | within 18 px | argmax inside boxes of |")
    print("|---|---|---|---|---|---|")
    for im in held:
        size = fc.sizes[im.key]
        with torch.no_grad():
            crm = _crm(fc.get(im), hw, hb)[0].numpy()
        h, w = crm.shape[-2:]
        for c in np.nonzero(im.labels)[0]:
            y, x = cell_centre(im, size, *divmod(int(crm[c].argmax()), w), fc.centre)
            hit = _in_box(y, x, im.boxes[c], 0)
            reachable += any(_in_box(*cell_centre(im, size, i, j, fc.centre), im.boxes[c], 0)
                             for i in range(h) for j in range(w))
            largest = max(bw * bh for _, _, bw, bh in im.boxes[c]) / (im.width * im.height)
            pairs.append((hit, _in_box(y, x, im.boxes[c], 18), largest))
            if hit:
                continue
            inside = ", ".join(VOC[o] for o in im.boxes if o != c and _in_box(y, x, im.boxes[o], 0)) or "–"
            print(f"| {im.key} | {VOC[c]} | {len(im.boxes[c])} | {100 * largest:.1f} % | "
                  f"{'yes' if pairs[-1][1] else 'no'} | {inside} |")
            if a.montage:
                tiles.append(tile(im, c, crm[c], y, x))
    hits = np.array(pairs)
    misses = hits[hits[:, 0] == 0]
    print(f"\n{len(pairs)} pairs, {int(hits[:, 0].sum())} hits (strict {100 * hits[:, 0].mean():.1f} %, "
          f"±18 px {100 * hits[:, 1].mean():.1f} %); a cell centre inside a box of the class in {reachable}")
    for lo, hi in ((0, 0.005), (0.005, 0.025), (0.025, 1.01)):
        sel = (hits[:, 2] >= lo) & (hits[:, 2] < hi)
        span = f"{100 * lo:.1f}–{100 * hi:.1f} %" if hi <= 1 else f"≥ {100 * lo:.1f} %"
        missed = (misses[:, 2] >= lo) & (misses[:, 2] < hi)
        print(f"largest box {span} of the image: {int(sel.sum())} pairs, {int(missed.sum())} missed, "
              f"{int((missed & (misses[:, 1] > 0)).sum())} of them within 18 px")
    if tiles:
        cols = 6
        out = Image.new("RGB", (cols * TILE, -(-len(tiles) // cols) * TILE))
        for n, t in enumerate(tiles):
            out.paste(t, ((n % cols) * TILE, (n // cols) * TILE))
        out.save(a.montage, quality=70)
        print(f"montage: {a.montage}")


if __name__ == "__main__":
    main()
