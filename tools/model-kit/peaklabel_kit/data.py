"""Dev data: image-level VOC-20 labels from ../shared COCO files, a deterministic split, the
bundle's input policy, and a feature cache so training never re-runs the frozen layers."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .classes import VOC, voc_index
from .ir import KitError

DATASETS = ("pennfudan", "coco-mini", "balloon")
MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
# manifest.preprocess of a bundle: tensor planes in channelOrder, (pixel − mean[plane]) · scale
PREPROCESS_SQUEEZENET = {"channelOrder": "BGR", "mean": MEAN_BGR.tolist(), "scale": 1}
POLICY = {"shorterSide": 448, "maxLongerSide": 768, "multipleOf": 16}
HELDOUT_FRACTION = 4  # one image in four (by hash of its name) is held out


@dataclass
class DevImage:
    dataset: str
    file: str
    width: int
    height: int
    labels: np.ndarray  # [20] 0/1 image-level labels
    boxes: dict  # VOC index -> list of [x,y,w,h] (evaluation only)

    @property
    def key(self) -> str:
        return f"{self.dataset}/{os.path.basename(self.file)}"

    @property
    def heldout(self) -> bool:
        return int(hashlib.sha1(self.key.encode()).hexdigest()[:8], 16) % HELDOUT_FRACTION == 0


def load_dev_images(shared: str) -> list[DevImage]:
    out = []
    for ds in DATASETS:
        path = os.path.join(shared, "data", ds, "instances.json")
        if not os.path.isfile(path):
            raise KitError(f"{path}: dev annotation file is missing")
        try:
            coco = json.load(open(path, encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise KitError(f"{path}: not valid JSON ({e})") from e
        cat_voc = {c["id"]: voc_index(c["name"]) for c in coco["categories"]}
        by_img: dict[int, list] = {}
        for a in coco["annotations"]:
            by_img.setdefault(a["image_id"], []).append(a)
        for im in coco["images"]:
            labels = np.zeros(len(VOC), np.float32)
            boxes: dict[int, list] = {}
            for a in by_img.get(im["id"], []):
                v = cat_voc.get(a["category_id"])
                if v is not None:  # only the category and box: instance masks are never read
                    labels[v] = 1
                    boxes.setdefault(v, []).append(a["bbox"])
            out.append(DevImage(ds, os.path.join(shared, "data", ds, "images", im["file_name"]),
                                im["width"], im["height"], labels, boxes))
    return out


def input_size(w: int, h: int, policy=POLICY) -> tuple[int, int]:
    """(W,H) the bundle's input policy gives an image: shorter side to 448, longer side at most
    maxLongerSide, each rounded to a multiple of 16 (at least 64)."""
    s = policy["shorterSide"] / min(w, h)
    if max(w, h) * s > policy["maxLongerSide"]:
        s = policy["maxLongerSide"] / max(w, h)
    m = policy["multipleOf"]
    return max(64, int(round(w * s / m)) * m), max(64, int(round(h * s / m)) * m)


def load_rgb(path: str, size: tuple[int, int]) -> np.ndarray:
    """RGB uint8 [H,W,3] resized (bilinear) to size=(W,H)."""
    try:
        im = Image.open(path)
        im.draft("RGB", (size[0] * 2, size[1] * 2))  # JPEG: decode at a reduced scale when possible
        im = im.convert("RGB")
    except (OSError, ValueError) as e:
        raise KitError(f"{path}: cannot read image ({e})") from e
    return np.asarray(im.resize(size, Image.BILINEAR), np.uint8)


def to_input(rgb: np.ndarray, pre: dict | None = None) -> np.ndarray:
    """RGB uint8 [H,W,3] -> float32 [1,3,H,W] per a manifest preprocess section (default SqueezeNet's:
    BGR, 0–255 minus the mean)."""
    pre = pre or PREPROCESS_SQUEEZENET
    x = rgb[:, :, ::-1] if pre["channelOrder"] == "BGR" else rgb
    x = (x.astype(np.float32) - np.asarray(pre["mean"], np.float32)) * np.float32(pre["scale"])
    return np.ascontiguousarray(x.transpose(2, 0, 1))[None]
