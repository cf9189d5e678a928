"""Exploration for issue 11 (docs/adr/backbone-efficientnet-lite.md decision 22): the ImageNet classifier itself as a
prior on the class score. The head and the image head learn 20 classes from ~235 tagged images and saturate at ~60
(decision 16); the backbone's own 1000-way classifier (fc on the average-pooled conv_head features, softmax) was
trained on 1.2 M images. Its zero-shot VOC score is the log of the summed probability of the class's ImageNet group
(classes.py IMAGENET_GROUPS; person is only clothing there). SqueezeNet's classifier is conv10 + ReLU per cell, then
the average. Does adding b × that score to the class score (peak + a × image head, decision 19) help?

Pools tried for the zero-shot score: the average over cells (as ImageNet trained it) and the max over cells of the
per-cell group log-probability (the strongest local evidence). Rows: 5-fold CV over all dev images (a and b chosen
by 3-fold CV inside each fit set, so nested) and the held-out quarter (trained on the training split).

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/imagenet_prior.py [efficientnet-lite0 | squeezenet1.1]
"""
from __future__ import annotations

import itertools
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from image_head import scores  # noqa: E402  (peak scores and image-head logits, both heads trained on a fit set)
from peaklabel_kit.classes import VOC, imagenet_group_indices  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.effnet import VARIANTS, EffNetModel, load_effnet, weights_path  # noqa: E402
from peaklabel_kit.ir import load_squeezenet, read_imagenet_labels  # noqa: E402
from peaklabel_kit.image_head import BLEND_GRID  # noqa: E402
from peaklabel_kit.train import cv_splits, mean_average_precision  # noqa: E402

PRIOR_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def zero_shot(fc, imgs, W, B, groups, pool: str, cell_relu: bool) -> np.ndarray:
    """[N,20] log of each VOC class's summed ImageNet-group probability. cell_relu: the classifier is ReLU(conv)
    per cell, then averaged (SqueezeNet's conv10); otherwise linear on the averaged features (EfficientNet's fc)."""
    out = []
    with torch.no_grad():
        for im in imgs:
            f = fc.get(im).flatten(1)  # [D, cells]
            if pool == "avg":
                logits = torch.relu(W @ f + B[:, None]).mean(1) if cell_relu else W @ f.mean(1) + B
                logp = torch.log_softmax(logits, 0)
                out.append(torch.stack([torch.logsumexp(logp[g], 0) for g in groups]))
            else:
                cell = (W @ f).T + B
                logp = torch.log_softmax(torch.relu(cell) if cell_relu else cell, 1)  # [cells, 1000]
                out.append(torch.stack([torch.logsumexp(logp[:, g], 1).max() for g in groups]))
    return torch.stack(out).numpy()


def choose(fc, fit, w0, b0, z_of: dict) -> dict:
    """Per pool: (a, b) with the best mean 3-fold CV mAP of peak + a·image + b·prior on fit."""
    folds = []
    for f, t in cv_splits(fit, 3):
        folds.append((*scores(fc, f, t, w0, b0), {pool: z(t) for pool, z in z_of.items()}, np.stack([i.labels for i in t])))
    grid = list(itertools.product(BLEND_GRID, PRIOR_GRID))
    out = {}
    for pool in z_of:
        cv = [np.mean([mean_average_precision(p + a * q + b * z[pool], y) for p, q, z, y in folds]) for a, b in grid]
        out[pool] = grid[int(np.argmax(cv))]
    return out


def main():
    backbone = sys.argv[1] if len(sys.argv) > 1 else "efficientnet-lite0"
    shared = os.path.join(ROOT, "..", "shared")
    images = load_dev_images(shared)
    fc, w0, b0 = features(backbone, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    if backbone == "squeezenet1.1":
        net = load_squeezenet(os.path.join(shared, "weights", "squeezenet1.1"))
        W, B = net.conv10.weight.detach()[:, :, 0, 0].float(), net.conv10.bias.detach().float()
    else:
        model = EffNetModel(load_effnet(weights_path(VARIANTS[backbone]), VARIANTS[backbone]))
        W, B = model.fc_weight.float(), model.fc_bias.float()
    idx = imagenet_group_indices(read_imagenet_labels(os.path.join(shared, "weights", "squeezenet1.1")))
    groups = [torch.tensor(idx[c]) for c in VOC]
    relu = backbone == "squeezenet1.1"
    Z = {pool: dict(zip((i.key for i in images), zero_shot(fc, images, W, B, groups, pool, relu))) for pool in ("avg", "max")}
    z_of = {pool: (lambda imgs, pool=pool: np.stack([Z[pool][i.key] for i in imgs])) for pool in Z}
    y_of = lambda imgs: np.stack([i.labels for i in imgs])  # noqa: E731

    names = ["peak + 0.5 × image (bundle)", "zero-shot avg alone", "zero-shot max alone"] + \
        [f"peak + 0.5 × image + {b} × zero-shot {pool}" for pool in Z for b in PRIOR_GRID[1:]] + \
        [f"peak + a × image + b × zero-shot {pool}, (a, b) by inner CV" for pool in Z]

    def row_scores(test, p, q, chosen):
        s = [p + 0.5 * q, z_of["avg"](test), z_of["max"](test)]
        s += [p + 0.5 * q + b * z_of[pool](test) for pool in Z for b in PRIOR_GRID[1:]]
        s += [p + a * q + b * z_of[pool](test) for pool, (a, b) in chosen.items()]
        return [100 * mean_average_precision(x, y_of(test)) for x in s]

    cv_rows, picks = [], []
    for n, (fit, test) in enumerate(cv_splits(images, 5)):
        p, q = scores(fc, fit, test, w0, b0)
        chosen = choose(fc, fit, w0, b0, z_of)
        picks.append(chosen)
        cv_rows.append(row_scores(test, p, q, chosen))
        print(f"fold {n + 1}: chosen {chosen}; " + ", ".join(f"{x:.1f}" for x in cv_rows[-1]), flush=True)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    p, q = scores(fc, train, held, w0, b0)
    chosen_h = choose(fc, train, w0, b0, z_of)
    held_row = row_scores(held, p, q, chosen_h)
    cv = np.array(cv_rows)
    print(f"\n| {backbone}: class score | 5-fold CV mAP | per fold | held-out quarter mAP |\n|---|---|---|---|")
    for k, name in enumerate(names):
        print(f"| {name} | {cv[:, k].mean():.1f} ± {cv[:, k].std():.1f} | "
              f"{' / '.join(f'{x:.1f}' for x in cv[:, k])} | {held_row[k]:.1f} |")
    print(f"\n(a, b) per outer fold: {picks}; on the training split: {chosen_h}")


if __name__ == "__main__":
    main()
