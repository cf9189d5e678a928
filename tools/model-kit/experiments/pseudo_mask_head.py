"""Exploration for issue 11: can the segmenter's masks teach the class head where an object ends? Most
pointwise misses put a class map's argmax beside the object (a chair's map on the floor below it, a dog's above
its head, a bus's on the street; docs/adr/backbone-efficientnet-lite.md decision 28). WISE (Laradji et al. 2019)
trains a model on pseudo masks; here the pseudo masks train the 1×1 class head itself. Image-level tags only:

  1. the kit's head is trained on the fit images (HEAD_RECIPE);
  2. its peaks of each tagged class (the engine's rule: 3×3 maxima ≥ 0.3 × the strongest, the top 8) are
     clicked, and the segmenter's mask for each click (the app's `sam` click) is read as the class's extent;
  3. the head is trained again from the ImageNet-group init with the kit's loss plus β × a cell loss on the
     tagged classes: cells ≥ 50 % inside the class's masks are the object, cells < 10 % inside are its context
     (cells between are not scored; masks over 90 % of the image are dropped, as the IAM kit does).
     `bce`: the mean soft-margin loss of object cells against context cells (each side averaged);
     `argmax`: softplus(max over context − max over object), which aims at the argmax pointwise reads.

Scored as the kit scores a bundle (image head at weight 0.5): 5-fold CV over all dev images (peaks and masks
from each fold's own head, so a test image's tags are never seen) and the held-out quarter. The segmenter's
embeddings are read from tools/sam/work/embeddings (tools/sam/embed-dev.ts writes them).

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/pseudo_mask_head.py --splits 0,1,2 --out a.json
  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/pseudo_mask_head.py --splits 3,4,5 --out b.json
  .venv/bin/python tools/model-kit/experiments/pseudo_mask_head.py --table a.json b.json
(splits 0–4: the CV folds, 5: the held-out quarter; each process runs one core's worth of training.)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from iam.data import find_peaks  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.image_head import fit_image_head  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _crm, _fit, cv_splits, evaluate_heldout, headline  # noqa: E402

SEGMENT = os.path.join(ROOT, "tools", "model-kit", "iam", "segmenter-masks.ts")
PEAKS_PER_CLASS, MAX_COVER, OBJECT, CONTEXT = 8, 0.9, 0.5, 0.1
IMAGE_WEIGHT = 0.5


def clicks(fc, im, hw, hb) -> list[tuple[int, tuple[float, float]]]:
    """(class, (x, y) in original pixels) for the head's peaks of each tagged class, as the app clicks them."""
    W, H = fc.sizes[im.key]
    with torch.no_grad():
        crm = _crm(fc.get(im), hw, hb)[0].numpy()
    out = []
    for c in np.nonzero(im.labels)[0]:
        for _, y, x in find_peaks(crm[c])[:PEAKS_PER_CLASS]:
            out.append((int(c), (round((16 * x + fc.centre + 0.5) * im.width / W - 0.5, 1),
                                 round((16 * y + fc.centre + 0.5) * im.height / H - 0.5, 1))))
    return out


def cell_cover(mask: np.ndarray, size: tuple[int, int], centre: float) -> np.ndarray:
    """The share of each class-map cell's 16 × 16 input window (centred on 16 i + centre) inside `mask`."""
    W, H = size
    m = F.interpolate(torch.from_numpy(mask.astype(np.float32))[None, None], size=(H, W), mode="bilinear",
                      align_corners=False)
    s = int(round(8 - centre))
    m = F.pad(m, (s, 0, s, 0))[..., :H, :W]
    return F.avg_pool2d(m, 16)[0, 0].numpy()


def segment(jobs: dict, fc, images) -> dict:
    """{(key, x, y): cell cover} for every click in jobs {key: set of (x, y)}, through the app's segmenter."""
    by_key = {im.key: im for im in images}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        listing = []
        for n, (key, pts) in enumerate(sorted(jobs.items())):
            im = by_key[key]
            listing.append({"file": im.file, "width": im.width, "height": im.height, "points": sorted(pts),
                            "out": os.path.join(tmp, f"{n}.bin"), "key": key})
        json.dump(listing, open(os.path.join(tmp, "list.json"), "w"))
        subprocess.run(["npx", "tsx", SEGMENT, os.path.join(tmp, "list.json")], cwd=ROOT, check=True)
        for j in listing:
            im = by_key[j["key"]]
            masks = np.fromfile(j["out"], np.uint8).reshape(-1, im.height, im.width) > 0
            for (x, y), m in zip(j["points"], masks):
                cover = m.mean()
                out[(j["key"], x, y)] = cell_cover(m, fc.sizes[j["key"]], fc.centre) if 0 < cover < MAX_COVER else None
    return out


def targets(fit, peaks, covers) -> dict:
    """{key: [(class, object cells, context cells)]} from each tagged class's masks (their union)."""
    out = {}
    for im in fit:
        per_class: dict[int, np.ndarray] = {}
        for c, (x, y) in peaks[im.key]:
            cov = covers[(im.key, x, y)]
            if cov is not None:
                per_class[c] = np.maximum(per_class.get(c, 0), cov)
        out[im.key] = [(c, torch.from_numpy(cov >= OBJECT), torch.from_numpy(cov < CONTEXT))
                       for c, cov in per_class.items() if (cov >= OBJECT).any() and (cov < CONTEXT).any()]
    return out


def cell_loss(crm: torch.Tensor, tgt, kind: str) -> torch.Tensor:
    losses = []
    for c, obj, ctx in tgt:
        m = crm[c]
        if kind == "bce":
            losses.append(0.5 * (F.softplus(-m[obj]).mean() + F.softplus(m[ctx]).mean()))
        else:
            losses.append(F.softplus(m[ctx].max() - m[obj].max()))
    return torch.stack(losses).mean()


def cell_term(fc, tg, beta: float, kind: str):
    """The kit's _fit extra_loss: beta × the cell loss on the unflipped features (the masks are on them)."""
    def extra(im, hw, hb):
        return beta * cell_loss(_crm(fc.get(im), hw, hb)[0], tg[im.key], kind) if tg[im.key] else 0
    return extra


def table(files: list[str]):
    rows: dict[str, dict[int, list]] = {}
    for f in files:
        for name, per_split in json.load(open(f)).items():
            rows.setdefault(name, {}).update({int(k): v for k, v in per_split.items()})
    print("| head | 5-fold CV mAP (per fold) | CV pointwise strict (per fold) | CV ±18 px | held out mAP / strict / ±18 |")
    print("|---|---|---|---|---|")
    for name, per_split in rows.items():
        cv, h = 100 * np.array([per_split[k] for k in range(5)]), 100 * np.array(per_split[5])
        per = lambda c: " / ".join(f"{x:.1f}" for x in cv[:, c])  # noqa: E731
        print(f"| {name} | {cv[:, 0].mean():.1f} ({per(0)}) | {cv[:, 1].mean():.1f} ({per(1)}) | "
              f"{cv[:, 2].mean():.1f} | {h[0]:.1f} / {h[1]:.1f} / {h[2]:.1f} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--betas", default="1,4")
    p.add_argument("--kinds", default="bce,argmax")
    p.add_argument("--splits", default="0,1,2,3,4,5")
    p.add_argument("--out", default="pseudo_mask_head.json")
    p.add_argument("--table", nargs="+")
    a = p.parse_args()
    if a.table:
        return table(a.table)
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features("efficientnet-lite0", images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    every = [*cv_splits(images, 5), ([i for i in images if not i.heldout], [i for i in images if i.heldout])]
    chosen = [int(k) for k in a.splits.split(",")]
    heads, peaks, jobs = [], [], {}
    for k in chosen:
        fit = every[k][0]
        hw, hb = _fit(fc, fit, w0, b0, **HEAD_RECIPE)
        pk = {im.key: clicks(fc, im, hw, hb) for im in fit}
        for key, cl in pk.items():
            jobs.setdefault(key, set()).update(xy for _, xy in cl)
        heads.append((hw, hb))
        peaks.append(pk)
    print(f"{sum(len(v) for v in jobs.values())} clicks on {len(jobs)} images", flush=True)
    covers = segment(jobs, fc, images)
    settings = [(0.0, "kit")] + [(b, k) for k in a.kinds.split(",") for b in map(float, a.betas.split(","))]
    rows: dict[str, dict[int, tuple]] = {}
    for k, (hw, hb), pk in zip(chosen, heads, peaks):
        fit, test = every[k]
        tg = targets(fit, pk, covers)
        iw, ib = fit_image_head(fc, fit)
        ih = (IMAGE_WEIGHT * iw, IMAGE_WEIGHT * ib)
        for beta, kind in settings:
            head = (hw, hb) if kind == "kit" else _fit(fc, fit, w0, b0, **HEAD_RECIPE,
                                                       extra_loss=cell_term(fc, tg, beta, kind))
            name = "kit recipe" if kind == "kit" else f"+ {beta:g} × {kind}"
            rows.setdefault(name, {})[k] = headline(evaluate_heldout(fc, test, *head, image_head=ih))
            print(f"split {k} {name}: mAP / strict / ±18 = " + " / ".join(f"{100 * v:.1f}" for v in rows[name][k]),
                  flush=True)
        json.dump(rows, open(a.out, "w"))


if __name__ == "__main__":
    main()
