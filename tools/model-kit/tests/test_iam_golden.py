"""Each committed IAM graph (weights, <name>.onnx, golden files) agrees: PyTorch and onnxruntime give the golden maps."""
import json
import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from iam.data import MODELS  # noqa: E402
from iam.export import INPUTS, OUTPUTS, IamGraph  # noqa: E402
from iam.golden import golden_dir, read_golden  # noqa: E402
from iam.__main__ import load_trained, seed  # noqa: E402
from iam.data import Bundle  # noqa: E402


EFFNET = os.path.join(os.path.dirname(MODELS), "models-effnet-lite0")
# (bundle, graph name): method iam's graph of each bundle, and the SqueezeNet bundle's graph for sam's regions
GRAPHS = [(MODELS, "iam"), (MODELS, "sam-regions"), (EFFNET, "iam")]
IDS = ["squeezenet-iam", "squeezenet-sam-regions", "effnet-iam"]


def _max_rel_err(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


@pytest.mark.parametrize("models,name", GRAPHS, ids=IDS)
def test_pytorch_weights_and_seed_reproduce_the_golden_maps(models, name):
    g = read_golden(golden_dir(models, name))
    net = load_trained(os.path.join(MODELS, "..", "..", json.load(open(os.path.join(models, f"{name}.json")))["provenance"]["weights"]))
    with torch.no_grad():
        out = IamGraph(net, seed(Bundle(models))).eval()(*(torch.from_numpy(g[n].astype(np.float32)) for n in INPUTS))
    for out_name, t in zip(OUTPUTS, out):
        assert _max_rel_err(t.numpy(), g[out_name]) <= 1e-5, out_name


@pytest.mark.parametrize("models,name", GRAPHS, ids=IDS)
def test_onnxruntime_reproduces_the_golden_maps_and_the_bundle_entry_is_consistent(models, name):
    import onnxruntime as ort

    cfg = json.load(open(os.path.join(models, f"{name}.json")))
    path = os.path.join(models, cfg["graph"]["file"])
    assert os.path.getsize(path) <= 10 * 2**20
    assert 0 < cfg["threshold"] < 1
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == cfg["graph"]["inputs"] == INPUTS
    assert [o.name for o in sess.get_outputs()] == cfg["graph"]["outputs"] == OUTPUTS
    g = read_golden(golden_dir(models, name))
    out = sess.run(OUTPUTS, {n: g[n].astype(np.float32) for n in INPUTS})
    spec = json.load(open(os.path.join(golden_dir(models, name), "golden.json")))
    for out_name, got in zip(OUTPUTS, out):
        assert _max_rel_err(got, g[out_name]) <= spec["tolerance"]["maxAbsErrorRelativeToMax"], out_name
    assert np.allclose(out[1].sum((1, 2)), 1.0, atol=1e-4)  # each stride-16 PRM is a distribution
