"""The committed IAM (weights, iam.onnx, golden files) agree: PyTorch and onnxruntime give the golden maps."""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from iam.data import MODELS  # noqa: E402
from iam.golden import GOLDEN_DIR, read_golden  # noqa: E402
from iam.__main__ import load_trained  # noqa: E402
NAMES = ["prm", "features_s4", "features_s8", "features"]


def _max_rel_err(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


def test_pytorch_weights_reproduce_the_golden_maps():
    g = read_golden()
    net = load_trained(os.path.join(MODELS, "..", "..", json.load(open(os.path.join(MODELS, "iam.json")))["provenance"]["weights"]))
    with torch.no_grad():
        out = net(*(torch.from_numpy(g[n].astype(np.float32)) for n in NAMES))[:, 0].numpy()
    assert _max_rel_err(out, g["iam"]) <= 1e-5


def test_onnxruntime_reproduces_the_golden_maps_and_the_bundle_entry_is_consistent():
    import onnxruntime as ort

    cfg = json.load(open(os.path.join(MODELS, "iam.json")))
    path = os.path.join(MODELS, cfg["graph"]["file"])
    assert os.path.getsize(path) <= 10 * 2**20
    assert 0 < cfg["threshold"] < 1
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == cfg["graph"]["inputs"] == NAMES
    g = read_golden()
    out = sess.run(["iam"], {n: g[n].astype(np.float32) for n in NAMES})[0]
    spec = json.load(open(os.path.join(GOLDEN_DIR, "golden.json")))
    assert _max_rel_err(out, g["iam"]) <= spec["tolerance"]["maxAbsErrorRelativeToMax"]
