"""IAM filling module: the filling step's algebra, any-size inputs, ONNX export = PyTorch, pseudo masks."""
import os
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from iam.data import ImageRecord, pseudo_candidates  # noqa: E402
from iam.export import export_onnx  # noqa: E402
from iam.model import InstanceExtentFilling, fill  # noqa: E402


def _random_net(seed=0):
    torch.manual_seed(seed)
    net = InstanceExtentFilling()
    for m in net.modules():  # non-trivial BN statistics and filling weights
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    torch.nn.init.normal_(net.weights.head.weight, std=0.2)
    return net.eval()


def _inputs(k, h, w, seed=1):
    g = torch.Generator().manual_seed(seed)
    # Feature sizes as SqueezeNet's ceil-mode pools give them (not exactly H/4, H/8, H/16).
    s4 = ((h - 3) // 2 + 1 + 1) // 2
    return (torch.rand(k, 1, h, w, generator=g), torch.rand(1, 128, s4, (w + 3) // 4, generator=g) * 50,
            torch.rand(1, 256, (h + 7) // 8, (w + 7) // 8, generator=g) * 50,
            torch.rand(1, 512, (h + 15) // 16, (w + 15) // 16, generator=g) * 50)


def test_uniform_weights_are_repeated_box_filtering():
    x = torch.rand(2, 3, 9, 11)
    w = torch.full((1, 9, 9, 11), 1 / 9)
    y = x
    for _ in range(4):
        y = F.avg_pool2d(F.pad(y, [1, 1, 1, 1], mode="replicate"), 3, 1)
    assert torch.allclose(fill(x, w, 4), y, atol=1e-6)


def test_filling_keeps_constants_and_identity_weights():
    w = torch.softmax(torch.randn(1, 9, 7, 8), 1)
    assert torch.allclose(fill(torch.full((1, 2, 7, 8), 3.0), w, 5), torch.full((1, 2, 7, 8), 3.0), atol=1e-5)
    centre = torch.zeros(1, 9, 7, 8)
    centre[:, 4] = 1
    x = torch.rand(2, 2, 7, 8)
    assert torch.equal(fill(x, centre, 6), x)


def test_default_steps_let_a_corner_reach_the_opposite_corner():
    x = torch.zeros(1, 1, 6, 10)
    x[0, 0, 0, 0] = 1
    w = torch.full((1, 9, 6, 10), 1 / 9)
    assert fill(x, w, -1)[0, 0, -1, -1] > 0
    assert fill(x, w, 8)[0, 0, -1, -1] == 0


@pytest.mark.parametrize("k,h,w", [(1, 64, 64), (3, 80, 112), (2, 100, 76)])
def test_any_size_gives_maps_at_input_resolution(k, h, w):
    with torch.no_grad():
        y = _random_net()(*_inputs(k, h, w))
    assert y.shape == (k, 1, h, w)
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_prm_scale_does_not_matter():
    net = _random_net()
    prm, *f = _inputs(2, 64, 96)
    with torch.no_grad():
        assert torch.allclose(net(prm, *f), net(prm * 1e-6, *f), atol=1e-5)


def test_onnx_export_matches_pytorch_with_dynamic_k_and_size(tmp_path):
    import onnx
    import onnxruntime as ort

    net = _random_net()
    path = str(tmp_path / "iam.onnx")
    export_onnx(net, path)
    graph = onnx.load(path)
    assert [i.name for i in graph.graph.input] == ["prm", "features_s4", "features_s8", "features"]
    assert [o.name for o in graph.graph.output] == ["iam"]
    assert any(n.op_type == "Loop" for n in graph.graph.node)  # N follows the input size
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for k, h, w in [(1, 48, 64), (4, 96, 160), (2, 112, 80)]:
        x = _inputs(k, h, w, seed=k)
        with torch.no_grad():
            ref = net(*x)[:, 0].numpy()
        out = sess.run(None, dict(zip(["prm", "features_s4", "features_s8", "features"], [t.numpy() for t in x])))[0]
        assert out.shape == (k, h, w)
        assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()


def _runs(mask):
    out = []
    for y in range(mask.shape[0]):
        x = 0
        while x < mask.shape[1]:
            if mask[y, x]:
                e = x
                while e < mask.shape[1] and mask[y, e]:
                    e += 1
                out += [y, x, e]
                x = e
            else:
                x += 1
    return np.array(out, np.int32)


def test_pseudo_candidates_rank_by_prm_mass_and_drop_low_overlap():
    grid = (20, 30)
    prm = np.zeros((40, 60))
    prm[10:30, 10:30] = 1.0  # the PRM covers a 10×10 block of the grid at (5..15, 5..15)
    boxes = {"exact": (5, 15, 5, 15), "inside": (7, 13, 7, 13), "big": (3, 17, 3, 17), "huge": (0, 20, 0, 30),
             "away": (0, 4, 20, 30)}
    masks, contours = [], []
    for y0, y1, x0, x1 in boxes.values():
        m = np.zeros(grid, bool)
        m[y0:y1, x0:x1] = True
        masks.append(_runs(m))
        contours.append(_runs(m & ~np.pad(m, 1)[2:, 1:-1] | m & ~np.pad(m, 1)[:-2, 1:-1]))
    rec = ImageRecord(60, 40, np.zeros((40, 60, 3), np.uint8), grid, masks, contours)
    got = pseudo_candidates(prm, rec, alpha=4.0, tau=0.5, k=5, sigma=0.3)
    names = list(boxes)
    chosen = [names[i] for i, _, _ in got]
    assert chosen[0] == "exact"  # all the mass, and mass on its contour ("big" has none there)
    assert set(chosen) == {"exact", "inside", "big"}  # "huge": IoU 0.17 < 0.2; "away": no overlap
    assert len(pseudo_candidates(prm, rec, alpha=4.0, tau=0.5, k=1, sigma=0.3)) == 1
