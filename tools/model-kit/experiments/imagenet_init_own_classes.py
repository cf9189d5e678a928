"""Exploration for project heads (docs/adr/training-project-heads.md, "ImageNet rows as starting rows"): a class a
project learns from scratch starts from the centroid direction of its tagged images' features (the app's
`centroidInit`), unless one of the bundle's 20 rows is the same concept. The backbone's own 1000-way ImageNet
classifier, applied per cell, is a class map for many everyday objects the 20 VOC rows do not name (balloon,
umbrella, orange, toilet seat, …). Does the best of those rows, chosen from the tags alone, start (and end) such a
class better than the centroid?

Classes: balloon and every coco-mini category that is not a VOC class with ≥ 5 images; an image's tags are its
categories (complete), so every other dev image is a negative. Rows: the held-out quarter (the kit's split; the
choice of ImageNet row and the training read only the other images' tags), classification AP and pointwise
localisation (the map's argmax inside a box of the class), untrained and after the kit's head recipe.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/imagenet_init_own_classes.py [squeezenet1.1 | efficientnet-lite0]
  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/imagenet_init_own_classes.py --cv [backbone]
    (the ADR's table, on SqueezeNet: 4-fold CV over all dev images, rows named like the class)
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit.classes import voc_index  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.effnet import VARIANTS, EffNetModel, load_effnet, weights_path  # noqa: E402
from peaklabel_kit.ir import load_squeezenet, read_imagenet_labels  # noqa: E402
import peaklabel_kit.train as kit_train  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, average_precision, cv_splits, evaluate_heldout  # noqa: E402

MIN_IMAGES = 5
INIT_NORM = 0.05  # the app's centroid row norm (src/main/training/trainer.ts)


def imagenet_classifier(backbone: str, shared: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The backbone's 1000-way classifier as a 1×1 head on its class-head features: (weight [1000, D], bias)."""
    if backbone == "squeezenet1.1":
        net = load_squeezenet(os.path.join(shared, "weights", "squeezenet1.1"))
        return net.conv10.weight.detach()[:, :, 0, 0].float(), net.conv10.bias.detach().float()
    model = EffNetModel(load_effnet(weights_path(VARIANTS[backbone]), VARIANTS[backbone]))
    return model.fc_weight.float(), model.fc_bias.float()


def own_class_images(shared: str):
    """The dev images relabelled with the non-VOC classes: (images, class names)."""
    images = load_dev_images(shared)
    cats: dict[str, dict] = {}  # image key -> {class: [boxes]}
    for ds in ("pennfudan", "coco-mini", "balloon"):
        coco = json.load(open(os.path.join(shared, "data", ds, "instances.json")))
        names = {c["id"]: c["name"] for c in coco["categories"]}
        files = {i["id"]: i["file_name"] for i in coco["images"]}
        for a in coco["annotations"]:
            n = names[a["category_id"]]
            if voc_index(n) is None:
                cats.setdefault(f"{ds}/{files[a['image_id']]}", {}).setdefault(n, []).append(a["bbox"])
    count: dict[str, int] = {}
    for d in cats.values():
        for n in d:
            count[n] = count.get(n, 0) + 1
    classes = sorted(n for n, c in count.items() if c >= MIN_IMAGES)
    out = []
    for im in images:
        d = cats.get(im.key, {})
        labels = np.array([1.0 if c in d else 0.0 for c in classes], np.float32)
        boxes = {k: d[c] for k, c in enumerate(classes) if c in d}
        out.append(dataclasses.replace(im, labels=labels, boxes=boxes))
    return out, classes


def centroid_rows(fc, imgs) -> torch.Tensor:
    """Per class, the app's centroidInit: mean features of its images minus those of the others, at INIT_NORM."""
    means = torch.stack([fc.get(i).mean((1, 2)) for i in imgs])  # [N, D]
    y = torch.from_numpy(np.stack([i.labels for i in imgs])) > 0  # [N, K]
    d = torch.stack([means[y[:, k]].mean(0) - means[~y[:, k]].mean(0) for k in range(y.shape[1])])
    return d * INIT_NORM / d.norm(dim=1, keepdim=True)


def best_imagenet_rows(fc, imgs, W, B, K: int):
    """Per class, the ImageNet row whose map's maximum best ranks the class's images (AP): (rows, APs)."""
    with torch.no_grad():
        top = torch.stack([torch.einsum("cd,dn->cn", W, fc.get(i).flatten(1)).max(1).values + B for i in imgs])  # [N,1000]
    y = np.stack([i.labels for i in imgs])
    best, aps = [], []
    for k in range(K):
        ap = np.array([average_precision(top[:, r].numpy(), y[:, k]) for r in range(W.shape[0])])
        best.append(int(np.argmax(ap)))
        aps.append(float(ap.max()))
    return best, aps


def setup(backbone: str):
    """(images relabelled, their classes, feature cache, ImageNet classifier W and B, ImageNet labels)."""
    shared = os.path.join(ROOT, "..", "shared")
    images, classes = own_class_images(shared)
    kit_train.VOC = classes  # evaluate_maps names its per-class rows by this list
    fc, _, _ = features(backbone, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    W, B = imagenet_classifier(backbone, shared)
    return images, classes, fc, W, B, read_imagenet_labels(os.path.join(shared, "weights", "squeezenet1.1"))


def main():
    backbone = sys.argv[1] if len(sys.argv) > 1 else "squeezenet1.1"
    images, classes, fc, W, B, labels = setup(backbone)
    K = len(classes)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    rows, aps = best_imagenet_rows(fc, train, W, B, K)
    inits = {"centroid": (centroid_rows(fc, train), torch.zeros(K)),
             "imagenet": (W[rows].clone(), B[rows].clone())}
    table = {}
    for name, (w0, b0) in inits.items():
        table[(name, "untrained")] = evaluate_heldout(fc, held, w0, b0)
        w, b = _fit(fc, train, w0, b0, **HEAD_RECIPE)
        table[(name, "kit recipe")] = evaluate_heldout(fc, held, w, b)
        w, b = _fit(fc, train, w0, b0, lam=0.0, epochs=15, lr=0.01, seed=0)
        table[(name, "no pull, 15 ep")] = evaluate_heldout(fc, held, w, b)
    print(f"{backbone}: {K} classes, {len(train)} training / {len(held)} held-out images")
    print("| class | images (held out) | ImageNet row (training AP) | " + " | ".join(f"{a} {b}" for a, b in table) + " |")
    for k, c in enumerate(classes):
        n = sum(i.labels[k] > 0 for i in images)
        nh = sum(i.labels[k] > 0 for i in held)
        cells = []
        for m in table.values():
            ap = m["perClassAP"].get(c)
            h, p = m["perClassPointwise"].get(c, (0, 0))
            cells.append(f"{'–' if ap is None else f'{100 * ap:.0f}'} / {h}/{p}")
        print(f"| {c} | {n} ({nh}) | {labels[rows[k]].split(', ')[0]} ({100 * aps[k]:.0f}) | " + " | ".join(cells) + " |")
    print("| mean | | | " + " | ".join(f"{100 * m['mAP']:.1f} / {100 * m['pointwise']:.1f}" for m in table.values()) + " |")


def name_matched(classes, labels):
    """Per class, the ImageNet rows whose label has the class name as one of its comma-separated names or as the
    last word of one (orange → orange, umbrella → umbrella, toilet → toilet seat is not matched)."""
    out = {}
    for k, c in enumerate(classes):
        rows = [r for r, l in enumerate(labels) if any(n.lower() == c or n.lower().endswith(" " + c)
                                                       for n in l.split(", "))]
        if rows:
            out[k] = rows
    return out


def cross_validated(backbone: str, folds: int = 4):
    """Every image scored by a row that did not see its tags: the centroid row of the other folds (untrained and
    after the kit's recipe) against the name-matched ImageNet rows' mean (no tags at all)."""
    images, classes, fc, W, B, labels = setup(backbone)
    matched = name_matched(classes, labels)
    K = len(classes)
    results = {"centroid": [], "centroid trained": [], "imagenet by name": [], "imagenet by name trained": []}
    for fit, test in cv_splits(images, folds):
        wc = centroid_rows(fc, fit)
        results["centroid"].append(evaluate_heldout(fc, test, wc, torch.zeros(K)))
        results["centroid trained"].append(evaluate_heldout(fc, test, *_fit(fc, fit, wc, torch.zeros(K), **HEAD_RECIPE)))
        # classes with named ImageNet rows start from their mean; the others keep the centroid row
        w0, b0 = wc.clone(), torch.zeros(K)
        for k, rows in matched.items():
            w0[k], b0[k] = W[rows].mean(0), B[rows].mean()
        results["imagenet by name"].append(evaluate_heldout(fc, test, w0, b0))
        results["imagenet by name trained"].append(evaluate_heldout(fc, test, *_fit(fc, fit, w0, b0, **HEAD_RECIPE)))
    print(f"{backbone}, {folds}-fold CV over all dev images; per class: AP (mean over folds with the class) / pointwise hits/pairs")
    print("| class | images | ImageNet rows by name | " + " | ".join(results) + " |")
    for k, c in enumerate(classes):
        cells = []
        for runs in results.values():
            aps = [m["perClassAP"][c] for m in runs if c in m["perClassAP"]]
            h = sum(m["perClassPointwise"].get(c, (0, 0))[0] for m in runs)
            p = sum(m["perClassPointwise"].get(c, (0, 0))[1] for m in runs)
            cells.append(f"{100 * np.mean(aps):.0f} / {h}/{p}")
        names = ", ".join(labels[r].split(", ")[0] for r in matched.get(k, [])) or "–"
        print(f"| {c} | {sum(i.labels[k] > 0 for i in images)} | {names} | " + " | ".join(cells) + " |")
    for name, runs in results.items():
        h = sum(sum(v[0] for v in m["perClassPointwise"].values()) for m in runs)
        p = sum(sum(v[1] for v in m["perClassPointwise"].values()) for m in runs)
        print(f"{name}: mean fold mAP {100 * np.mean([m['mAP'] for m in runs]):.1f}, pointwise {h}/{p} = {100 * h / p:.1f} %")


if __name__ == "__main__":
    if "--cv" in sys.argv:
        cross_validated(next((a for a in sys.argv[1:] if not a.startswith("--")), "squeezenet1.1"))
    else:
        main()
