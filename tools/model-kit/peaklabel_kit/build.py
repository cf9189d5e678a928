"""The one-command bundle build: weights -> features -> head training -> metrics -> export."""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from .bundle import write_bundle, write_model_card, sha256, read_head
from .classes import VOC, imagenet_group_indices
from .data import load_dev_images
from .ir import load_squeezenet, read_imagenet_labels

GOLDEN = [("pennfudan", "FudanPed00004.png"), ("coco-mini", "000000000139.jpg")]


def imagenet_head(net, labels):
    groups = imagenet_group_indices(labels)
    w = net.conv10.weight.detach()[:, :, 0, 0]
    b = net.conv10.bias.detach()
    hw = torch.stack([w[groups[c]].mean(0) for c in VOC]).numpy()
    hb = torch.stack([b[groups[c]].mean(0) for c in VOC]).numpy()
    return hw.astype(np.float32), hb.astype(np.float32)


def _provenance(shared, stage, extra=None):
    wdir = os.path.join(shared, "weights", "squeezenet1.1")
    prov = {
        "stage": stage,
        "backbone": "SqueezeNet 1.1 (ImageNet-1k), conv1..fire9, from OpenVINO IR FP16",
        "inputs": {f"weights/squeezenet1.1/{f}": sha256(os.path.join(wdir, f))
                   for f in ("squeezenet1.1.xml", "squeezenet1.1.bin", "imagenet_labels.txt")},
        "headInit": "mean of conv10 weights/biases over ImageNet class groups (classes.py IMAGENET_GROUPS)",
        "tool": "tools/model-kit/kit.py build",
    }
    for ds in ("pennfudan", "coco-mini", "balloon"):
        prov["inputs"][f"data/{ds}/instances.json"] = sha256(os.path.join(shared, "data", ds, "instances.json"))
    prov.update(extra or {})
    return prov


def build(shared: str, out: str, train: bool, cache: str):
    t0 = time.time()
    wdir = os.path.join(shared, "weights", "squeezenet1.1")
    net = load_squeezenet(wdir)
    labels = read_imagenet_labels(wdir)
    hw, hb = imagenet_head(net, labels)
    images = load_dev_images(shared)
    metrics = {}
    peaks_cfg = {"window": 3, "threshold": "median", "subPixelFactor": 1, "classScoreThreshold": 0.0}
    if train:
        from .train import train_head
        hw, hb, metrics, peaks_cfg, extra = train_head(net, images, hw, hb, cache)
        stage = "trained"
    else:
        stage = "imagenet-init"
        extra = {"note": "EARLY bundle: class head initialised from ImageNet class groups, NOT trained "
                         "on the dev images yet; metrics are not measured."}
    gold = [(ds, os.path.join(shared, "data", ds, "images", f)) for ds, f in GOLDEN]
    for bb_param in net.parameters():
        bb_param.requires_grad_(False)
    manifest = write_bundle(out, net.backbone, hw, hb, provenance=_provenance(shared, stage, extra),
                            metrics=metrics, peaks_cfg=peaks_cfg, golden_images=gold)
    write_model_card(out, manifest)
    print(f"build: {time.time() - t0:.0f} s")


def evaluate_bundle(shared: str, bundle: str, cache: str):
    from .train import evaluate_heldout, FeatureCache
    wdir = os.path.join(shared, "weights", "squeezenet1.1")
    net = load_squeezenet(wdir)
    images = load_dev_images(shared)
    hw, hb = read_head(os.path.join(bundle, "head.bin"))
    fc = FeatureCache(net.backbone, images, cache)
    m = evaluate_heldout(fc, [i for i in images if i.heldout], torch.from_numpy(hw), torch.from_numpy(hb))
    print_metrics(m)
    return m


def print_metrics(m):
    print(f"held-out images: {m['images']}  classification mAP (VOC-20, classes with positives: {m['apClasses']}): "
          f"{100 * m['mAP']:.1f}%")
    print(f"pointwise localisation (top peak of each present class inside a GT box of it): "
          f"{100 * m['pointwise']:.1f}% of {m['pointwisePairs']} (image, class) pairs; "
          f"with 18 px tolerance: {100 * m['pointwiseTol18']:.1f}%")
    for k, v in sorted(m["perClassAP"].items()):
        print(f"  AP {k:12s} {100 * v:5.1f}%")
