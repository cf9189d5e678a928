"""Golden files for iam.onnx: small real inputs (a dev image through the bundle's backbone graph, two
person peaks, the bundle's head) and the IAMs and stride-16 PRMs that PyTorch computes from them, so the
Node side can check onnxruntime against PyTorch.

<bundle>/golden/<name>/golden.json (name: the graph's config, iam or sam-regions) lists each tensor: file, dims, dtype. Feature maps are stored as
float16 to stay small; the reference outputs were computed from exactly those (float16-rounded) values.
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch

from .data import SHARED, Bundle, find_peaks
from .export import INPUTS, OUTPUTS, IamGraph

GOLDEN_SIZE = (128, 192)  # H, W: small enough to commit (7×11 CRM cells), large enough for 11 filling steps
FLOAT16 = ("features_s4", "features_s8", "features")
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
    inputs = {"peaks": pk, "head_weight": bundle.head_w, "head_bias": bundle.head_b,
              **{n: feats[n].astype(np.float16) for n in FLOAT16}}
    return inputs, {"image": f"{'/'.join(GOLDEN_IMAGE)}/{name}", "size": [h, w], "peaks": pk.tolist()}


def golden_dir(bundle_dir: str, name: str = "iam") -> str:
    return os.path.join(bundle_dir, "golden", name)


def write_golden(graph: IamGraph, bundle: Bundle, name: str = "iam") -> dict:
    out_dir = golden_dir(bundle.dir, name)
    inputs, source = _golden_inputs(bundle)
    with torch.no_grad():
        outputs = graph.eval()(*(torch.from_numpy(inputs[n].astype(np.float32)) for n in INPUTS))
    os.makedirs(out_dir, exist_ok=True)
    spec = {"tolerance": {"maxAbsErrorRelativeToMax": 1e-4}, "source": source, "tensors": {}}
    for name, arr in [*inputs.items(), *((n, t.numpy().astype(np.float32)) for n, t in zip(OUTPUTS, outputs))]:
        file = f"{name}.bin"
        arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(out_dir, file))
        spec["tensors"][name] = {"file": file, "dims": list(arr.shape), "dtype": "float16" if arr.dtype == np.float16 else "float32"}
    json.dump(spec, open(os.path.join(out_dir, "golden.json"), "w"), indent=2)
    return spec


def read_golden(out_dir: str) -> dict[str, np.ndarray]:
    spec = json.load(open(os.path.join(out_dir, "golden.json")))
    return {n: np.fromfile(os.path.join(out_dir, t["file"]), "<f2" if t["dtype"] == "float16" else "<f4").reshape(t["dims"])
            for n, t in spec["tensors"].items()}
