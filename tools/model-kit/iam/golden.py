"""Golden files for iam.onnx: small real inputs (a dev image through the bundle's backbone and PRM graphs)
and the IAM that PyTorch computes from them, so the Node side can check onnxruntime against PyTorch.

resources/models/golden/iam/golden.json lists each tensor: file, dims, dtype. Inputs are stored as
float16 to stay small; the reference output was computed from exactly those (float16-rounded) values.
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch

from .data import MODELS, SHARED, Bundle, find_peaks
from .model import InstanceExtentFilling

GOLDEN_DIR = os.path.join(MODELS, "golden", "iam")
GOLDEN_SIZE = (64, 96)  # H, W: small enough to commit, large enough for 12 filling steps
GOLDEN_IMAGE = ("pennfudan", "images")


def _golden_inputs(bundle: Bundle) -> tuple[dict[str, np.ndarray], dict]:
    from PIL import Image

    folder = os.path.join(SHARED, "data", *GOLDEN_IMAGE)
    name = sorted(os.listdir(folder))[0]
    h, w = GOLDEN_SIZE
    rgb = np.asarray(Image.open(os.path.join(folder, name)).convert("RGB").resize((w, h), Image.BILINEAR))
    image = bundle.image_tensor(rgb)
    feats = bundle.features(image)
    person = next(i for i, c in enumerate(bundle.manifest["classes"]) if c["name"] == "person")
    peaks = find_peaks(feats["crm"][0, person])[:2]
    while len(peaks) < 2:  # a second map from the strongest cell of another class keeps K = 2
        peaks.append((0.0, int(feats["crm"].shape[2] // 2), int(feats["crm"].shape[3] // 2)))
    pk = np.array([[person, y, x] for _, y, x in peaks], np.float32)
    prm = bundle.prms(image, pk)[:, None]
    inputs = {"prm": prm / prm.reshape(len(pk), -1).max(1)[:, None, None, None],  # fp16-safe scale
              "features_s4": feats["features_s4"], "features_s8": feats["features_s8"], "features": feats["features"]}
    return inputs, {"image": f"{'/'.join(GOLDEN_IMAGE)}/{name}", "size": [h, w], "peaks": pk.tolist()}


def write_golden(net: InstanceExtentFilling, bundle: Bundle, out_dir: str = GOLDEN_DIR) -> dict:
    inputs, source = _golden_inputs(bundle)
    inputs = {k: v.astype(np.float16) for k, v in inputs.items()}
    net = net.eval()
    with torch.no_grad():
        t = [torch.from_numpy(inputs[n].astype(np.float32)) for n in ("prm", "features_s4", "features_s8", "features")]
        iam = net(*t)[:, 0].numpy().astype(np.float32)
    os.makedirs(out_dir, exist_ok=True)
    spec = {"tolerance": {"maxAbsErrorRelativeToMax": 1e-4}, "source": source, "tensors": {}}
    for name, arr in [*inputs.items(), ("iam", iam)]:
        file = f"{name}.bin"
        arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(out_dir, file))
        spec["tensors"][name] = {"file": file, "dims": list(arr.shape), "dtype": "float16" if arr.dtype == np.float16 else "float32"}
    json.dump(spec, open(os.path.join(out_dir, "golden.json"), "w"), indent=2)
    return spec


def read_golden(out_dir: str = GOLDEN_DIR) -> dict[str, np.ndarray]:
    spec = json.load(open(os.path.join(out_dir, "golden.json")))
    return {n: np.fromfile(os.path.join(out_dir, t["file"]), "<f2" if t["dtype"] == "float16" else "<f4").reshape(t["dims"])
            for n, t in spec["tensors"].items()}
