"""IAM: the filling step's algebra, any-size inputs, the exported graph (peaks → stride-16 PRMs → IAMs) = PyTorch, pseudo masks."""
import os
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from iam.data import ImageRecord, pseudo_candidates  # noqa: E402
from iam.export import INPUTS, OUTPUTS, IamGraph, export_onnx  # noqa: E402
from iam.model import InstanceExtentFilling, fill  # noqa: E402
from iam.seeds import CrmSeed, SqueezeNetPrm16  # noqa: E402
from iam.segmenter_masks import pseudo_targets  # noqa: E402
from peaklabel_kit.ir import SqueezeNetBackbone  # noqa: E402


def _random_net(seed=0, channels=None):
    torch.manual_seed(seed)
    net = InstanceExtentFilling(channels=channels)
    for m in net.modules():  # non-trivial BN statistics and filling weights
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    torch.nn.init.normal_(net.weights.head.weight, std=0.2)
    return net.eval()


def _levels(h):
    """SqueezeNet's feature sizes for an input side h (conv1 3×3/2, three 3×3/2 ceil-mode pools)."""
    c1 = (h - 3) // 2 + 1
    s4 = -(-(c1 - 3) // 2) + 1
    s8 = -(-(s4 - 3) // 2) + 1
    return s4, s8, -(-(s8 - 3) // 2) + 1


def _inputs(k, h, w, seed=1):
    """A stride-16 PRM batch and the three feature levels for an h×w input."""
    g = torch.Generator().manual_seed(seed)
    (h4, h8, h16), (w4, w8, w16) = _levels(h), _levels(w)
    return (torch.rand(k, 1, h16, w16, generator=g), torch.rand(1, 128, h4, w4, generator=g) * 50,
            torch.rand(1, 256, h8, w8, generator=g) * 50, torch.rand(1, 512, h16, w16, generator=g) * 50)


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
def test_any_size_gives_maps_at_stride_8(k, h, w):
    x = _inputs(k, h, w)
    with torch.no_grad():
        y = _random_net()(*x)
    assert y.shape == (k, 1, *x[2].shape[-2:])
    assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_prm_scale_does_not_matter():
    net = _random_net()
    prm, *f = _inputs(2, 64, 96)
    with torch.no_grad():
        assert torch.allclose(net(prm, *f), net(prm * 1e-6, *f), atol=1e-5)


def _graph_inputs(k, h, w, seed):
    """IamGraph's inputs for an h×w image: peaks on the CRM grid (fractional too), a head, the features."""
    g = torch.Generator().manual_seed(seed)
    _, f4, f8, f16 = _inputs(1, h, w, seed)
    ch, cw = f16.shape[-2:]
    peaks = torch.rand(k, 3, generator=g) * torch.tensor([19.0, ch - 1, cw - 1])
    peaks[:, 0] = peaks[:, 0].round()
    return peaks, torch.randn(20, 512, generator=g) * 0.05, torch.zeros(20), f4, f8, f16


def test_onnx_export_matches_pytorch_with_dynamic_k_and_size(tmp_path):
    import onnx
    import onnxruntime as ort

    net = _random_net()
    torch.manual_seed(3)
    backbone = SqueezeNetBackbone().eval()  # random weights: the graph's algebra, not the bundle's numbers
    path = str(tmp_path / "iam.onnx")
    export_onnx(net, SqueezeNetPrm16(backbone), path)
    graph = onnx.load(path)
    assert [i.name for i in graph.graph.input] == INPUTS == ["peaks", "head_weight", "head_bias", "features_s4", "features_s8", "features"]
    assert [o.name for o in graph.graph.output] == OUTPUTS == ["iam", "prm"]
    assert any(n.op_type == "Loop" for n in graph.graph.node)  # N follows the input size
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref_graph = IamGraph(net, SqueezeNetPrm16(backbone)).eval()
    for k, h, w in [(1, 96, 128), (4, 160, 224), (2, 208, 144)]:  # K = 0 never reaches the graph (runIam)
        x = _graph_inputs(k, h, w, seed=k)
        with torch.no_grad():
            iam, prm = (t.numpy() for t in ref_graph(*x))
        out_iam, out_prm = sess.run(None, dict(zip(INPUTS, [t.numpy() for t in x])))
        assert out_iam.shape == (k, *x[4].shape[-2:]) and out_prm.shape == (k, *x[5].shape[-2:])
        assert np.abs(out_iam - iam).max() <= 1e-4 * np.abs(iam).max()
        assert np.abs(out_prm - prm).max() <= 1e-4 * np.abs(prm).max()


EFFNET_CHANNELS = {"features_s4": 24, "features_s8": 40, "features": 1280}


def _effnet_inputs(k, h, w, seed):
    """EfficientNet-Lite0's levels: exact strides 4 / 8 / 16 of an input that is a multiple of 16."""
    g = torch.Generator().manual_seed(seed)
    f = [torch.rand(1, EFFNET_CHANNELS[n], h // st, w // st, generator=g) * 6
         for n, st in (("features_s4", 4), ("features_s8", 8), ("features", 16))]
    peaks = torch.rand(k, 3, generator=g) * torch.tensor([19.0, h // 16 - 1, w // 16 - 1])
    peaks[:, 0] = peaks[:, 0].round()
    return peaks, torch.randn(20, 1280, generator=g) * 0.05, torch.randn(20, generator=g), *f


def test_crm_seed_is_the_class_map_windowed_around_the_peak():
    hw = torch.zeros(3, 1280)
    hw[1, 0] = 1.0  # class 1's map = feature channel 0
    f16 = torch.zeros(1, 1280, 12, 16)
    f16[0, 0] = torch.arange(16.0)[None, :].expand(12, 16)  # a ramp rising to the right
    peaks = torch.tensor([[1.0, 5.0, 7.0], [1.0, 5.0, 7.5]])
    seed = CrmSeed(sigma=2.0)(None, f16, hw, torch.zeros(3), peaks)
    assert seed.shape == (2, 12, 16)
    assert torch.allclose(seed.sum((1, 2)), torch.ones(2))
    assert float(seed[0, :, 0].sum()) == 0.0  # the map's minimum column gets nothing
    row = seed[0, 5]
    assert int(row.argmax()) > 7  # the ramp pulls the mass right of the peak …
    assert float(seed[0, 5, 7]) > float(seed[0, 0, 7])  # … and the window keeps it near the peak's row
    assert float((seed[1] * torch.arange(16.0)).sum()) > float((seed[0] * torch.arange(16.0)).sum())  # fractional peaks move it


def test_onnx_export_with_the_crm_seed_matches_pytorch(tmp_path):
    import onnxruntime as ort

    net = _random_net(channels=EFFNET_CHANNELS)
    path = str(tmp_path / "iam.onnx")
    export_onnx(net, CrmSeed(), path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref_graph = IamGraph(net, CrmSeed()).eval()
    for k, h, w in [(1, 96, 128), (3, 160, 224)]:
        x = _effnet_inputs(k, h, w, seed=k)
        with torch.no_grad():
            iam, prm = (t.numpy() for t in ref_graph(*x))
        out_iam, out_prm = sess.run(None, dict(zip(INPUTS, [t.numpy() for t in x])))
        assert out_iam.shape == (k, h // 8, w // 8) and out_prm.shape == (k, h // 16, w // 16)
        assert np.abs(out_iam - iam).max() <= 1e-4 * np.abs(iam).max()
        assert np.abs(out_prm - prm).max() <= 1e-4 * np.abs(prm).max()
        assert np.allclose(out_prm.sum((1, 2)), 1.0, atol=1e-4)


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


def test_segmenter_targets_skip_empty_and_background_masks():
    """One candidate per peak from the segmenter; an empty mask or one over 90 % of the image is no target,
    and train.py reads the rest as it reads proposal candidates (cand indexes the packed masks)."""
    grid = (8, 12)
    obj, empty, everything = np.zeros(grid, bool), np.zeros(grid, bool), np.ones(grid, bool)
    obj[2:5, 3:9] = True
    other = np.roll(obj, 3, axis=0)
    t = pseudo_targets([obj, empty, everything, other], grid)
    assert t["cand_count"].tolist() == [1, 0, 0, 1]
    assert t["cand"][:, 0].tolist() == [0, -1, -1, 1]
    masks = np.unpackbits(t["masks"], axis=-1, count=grid[1]).astype(bool)
    assert (masks[0] == obj).all() and (masks[1] == other).all()
    assert pseudo_targets([empty], grid)["masks"].shape[0] == 0


@pytest.mark.parametrize("bundle_dir,order", [("models", "BGR"), ("models-effnet-lite0", "RGB")])
def test_bundle_input_follows_the_manifest_preprocess(bundle_dir, order):
    """The IAM kit feeds each bundle's backbone as the engine does (the EfficientNet bundle wants RGB, scaled)."""
    from iam.data import REPO, Bundle

    b = Bundle(os.path.join(REPO, "resources", bundle_dir))
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0] = 200  # red
    x = b.image_tensor(rgb)
    p = b.manifest["preprocess"]
    assert p["channelOrder"] == order and x.shape == (1, 3, 32, 48)
    red_plane = 0 if order == "RGB" else 2
    assert np.allclose(x[0, red_plane], (200 - p["mean"][red_plane]) * p["scale"])
    assert np.allclose(x[0, 2 - red_plane], (0 - p["mean"][2 - red_plane]) * p["scale"])
