"""Exploration for issue 11: do the bigger EfficientNet-Lite checkpoints (Lite1 76.7 %, Lite2 77.6 % ImageNet
top-1) classify and localise the VOC classes better than Lite0 with the kit's head recipe? Each backbone's
features are cached (with flips) as `kit.py build` caches them; the head is trained with the kit's recipe;
scored by 3-fold CV on the training split and on the held-out quarter; the backbone timed in onnxruntime.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/backbone_variants.py [--side 320] efficientnet-lite0 ...

  ... backbone_variants.py --pooled efficientnet-lite0@448 efficientnet-lite2@320 ...   (5-fold CV over all dev images)

`--side N` scales the input policy (shorter side N instead of 448, longer side in proportion).
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from peaklabel_kit.backbones import load_backbone  # noqa: E402
from peaklabel_kit.build import _feature_cache  # noqa: E402
from peaklabel_kit.data import POLICY, load_dev_images  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, cv_splits, evaluate_heldout, headline  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def ort_ms(onnx_path: str, side: int = 448, runs: int = 10) -> float:
    """Median ms of one backbone pass (features only) at side × side in Python onnxruntime."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.intra_op_num_threads = int(os.environ.get("KIT_THREADS", "2"))
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feeds = {"image": np.zeros((1, 3, side, side), np.float32), "head_weight": np.zeros((20, 1280), np.float32),
             "head_bias": np.zeros(20, np.float32)}
    sess.run(["features"], feeds)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(["features"], feeds)
        t.append(1000 * (time.perf_counter() - t0))
    return float(np.median(t))


def use_side(side: int):
    """Scales the input policy: the feature cache and input_size read this dict, and a cache file's key holds
    the input size, so caches per side stay apart."""
    POLICY.update(shorterSide=side, maxLongerSide=int(round(side * 768 / 448 / 16)) * 16)


def backbone_and_values(option: str, default: str, kind=float):
    """The command line [BACKBONE] [--OPTION v1,v2,...] of the single-backbone experiments: (name, values)."""
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("backbone", nargs="?", default="efficientnet-lite0")
    p.add_argument(f"--{option}", default=default)
    a = p.parse_args()
    return a.backbone, [kind(v) for v in getattr(a, option).split(",")]


def features(name: str, images, cache: str):
    """The feature cache (with flips) and the ImageNet-group head init of one backbone."""
    spec = load_backbone(name, os.path.join(ROOT, "..", "shared"))
    fc = _feature_cache(spec, images, cache, "", flips=True)
    return fc, torch.from_numpy(spec.head_w), torch.from_numpy(spec.head_b)


def cv_rows(fc, images, k: int, w0, b0, pool=peak_stimulation) -> np.ndarray:
    """k-fold CV of the kit's head recipe (trained and scored with `pool`): one (mAP, pointwise, ±18 px) row per
    fold, as fractions."""
    return np.array([headline(evaluate_heldout(fc, test, *_fit(fc, fitset, w0, b0, **HEAD_RECIPE, pool=pool),
                                               pool=pool))
                     for fitset, test in cv_splits(images, k)])


def mean_sd_cells(rows) -> str:
    """'mAP ± s.d. | pointwise ± s.d. | ±18 px ± s.d.' over the folds' rows, in %."""
    r, sd = np.mean(rows, 0) * 100, np.std(rows, 0) * 100
    return " | ".join(f"{a:.1f} ± {b:.1f}" for a, b in zip(r, sd))


def score(name: str, images, cache: str):
    fc, w0, b0 = features(name, images, cache)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    cv = cv_rows(fc, train, 3, w0, b0)
    w, b = _fit(fc, train, w0, b0, **HEAD_RECIPE)
    held_m = evaluate_heldout(fc, held, w, b)
    init_m = evaluate_heldout(fc, held, w0, b0)
    ms = ort_ms(os.path.join(cache, f"{name}-features.onnx"), POLICY["shorterSide"])
    c = np.mean(cv, 0) * 100
    print(f"| {name} @{POLICY['shorterSide']} | {c[0]:.1f} / {c[1]:.1f} / {c[2]:.1f} | {100 * held_m['mAP']:.1f} / "
          f"{100 * held_m['pointwise']:.1f} / {100 * held_m['pointwiseTol18']:.1f} | {100 * init_m['mAP']:.1f} | "
          f"{ms:.0f} ms |", flush=True)


def pooled(name: str, images, cache: str, k: int = 5):
    """k-fold CV over every dev image (training split and held-out quarter together): one estimate from all
    313 images, since the two above disagree by more than the differences between backbones."""
    fc, w0, b0 = features(name, images, cache)
    print(f"| {name} @{POLICY['shorterSide']} | {mean_sd_cells(cv_rows(fc, images, k, w0, b0))} |", flush=True)


def main(names):
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    cache = os.path.join(ROOT, "test-output", "model-kit-cache")
    if names[:1] == ["--pooled"]:
        print("| backbone | 5-fold CV over all dev images: mAP | pointwise | ±18 px |\n|---|---|---|---|")
        for arg in names[1:]:  # NAME@SIDE
            name, side = arg.split("@")
            use_side(int(side))
            pooled(name, images, cache)
        return
    if names[:1] == ["--side"]:
        use_side(int(names[1]))
        names = names[2:]
    names = names or ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
    print("| backbone | CV on the training split: mAP / pointwise / ±18 px | held out: mAP / pointwise / ±18 px "
          "| held out, ImageNet-group head: mAP | backbone side² (Python ORT) |")
    print("|---|---|---|---|---|")
    for name in names:
        score(name, images, cache)


if __name__ == "__main__":
    main(sys.argv[1:])
