"""Exported graphs run in onnxruntime with dynamic sizes/peak counts and match PyTorch."""
import numpy as np
import onnxruntime as ort
import torch

from peaklabel_kit.onnx_export import export_backbone, export_prm, BACKBONE_OUTPUTS
from peaklabel_kit.prm import PrmNet, prm_autograd


def _session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def test_exported_graphs_match_torch(squeezenet, tmp_path):
    bb = squeezenet.backbone
    export_backbone(bb, str(tmp_path / "b.onnx"), 20)
    export_prm(bb, str(tmp_path / "p.onnx"), 20)
    sb, sp = _session(tmp_path / "b.onnx"), _session(tmp_path / "p.onnx")
    assert [o.name for o in sb.get_outputs()] == BACKBONE_OUTPUTS
    assert [i.name for i in sp.get_inputs()] == ["image", "head_weight", "head_bias", "peaks"]
    g = torch.Generator().manual_seed(3)
    hw, hb = torch.randn(20, 512, generator=g) * 0.05, torch.randn(20, generator=g)
    for h, w, k in [(112, 176, 1), (208, 144, 4)]:  # sizes and K differ from the export example
        img = torch.rand(1, 3, h, w, generator=g) * 255 - 120
        feed = {"image": img.numpy(), "head_weight": hw.numpy(), "head_bias": hb.numpy()}
        crm, f, s8, s4 = sb.run(None, feed)
        with torch.no_grad():
            ref = PrmNet(bb)(img, hw, hb)
        for a, b in zip((crm, f, s8, s4), ref):
            assert a.shape == tuple(b.shape)
            assert np.abs(a - b.numpy()).max() <= 1e-4 * np.abs(b.numpy()).max()
        assert f.shape[1] == 512 and s8.shape[1] == 256 and s4.shape[1] == 128
        peaks = torch.rand(k, 3, generator=g) * torch.tensor([19.0, crm.shape[2] - 1, crm.shape[3] - 1])
        peaks[:, 0] = peaks[:, 0].round()
        prm = sp.run(None, {**feed, "peaks": peaks.numpy()})[0]
        ref = prm_autograd(bb, img, hw, hb, peaks).numpy()
        assert prm.shape == (k, h, w)
        for j in range(k):
            assert np.abs(prm[j] - ref[j]).max() <= 1e-4 * ref[j].max()

    # Edge cases the app may send: no peaks, a class outside the head (clamped), a flat image.
    img = np.zeros((1, 3, 96, 128), np.float32)
    feed = {"image": img, "head_weight": hw.numpy(), "head_bias": hb.numpy()}
    assert sp.run(None, {**feed, "peaks": np.zeros((0, 3), np.float32)})[0].shape == (0, 96, 128)
    out = sp.run(None, {**feed, "peaks": np.array([[25, 1, 1], [-3, 0, 0]], np.float32)})[0]
    assert out.shape == (2, 96, 128) and np.all(np.isfinite(out)) and out.min() >= 0
