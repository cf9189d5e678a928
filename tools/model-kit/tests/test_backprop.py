"""The exportable, windowed peak back-propagation equals the autograd reference of the pr_conv2d rule."""
import numpy as np
import pytest
import torch

from peaklabel_kit.backprop import CoarsePeakBackprop, PeakBackprop
from peaklabel_kit.ir import pool
from peaklabel_kit.prm import _fire_pr, bilinear_onehot, pr_conv2d, prm_autograd, crm_pr, PrmNet, find_peak_mask, peak_stimulation


def _rel_err(a, b):
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max()) for k in range(a.shape[0]))


def _random_case(seed, h, w):
    """A random image (BGR − mean range), head weights and biases, and the generator for more."""
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, h, w, generator=g) * 255 - 120
    return img, torch.randn(20, 512, generator=g) * 0.05, torch.randn(20, generator=g), g


@pytest.mark.parametrize("seed,h,w", [(0, 96, 128), (1, 144, 112)])
def test_windowed_backprop_matches_autograd(squeezenet, seed, h, w):
    bb = squeezenet.backbone
    img, hw, hb, g = _random_case(seed, h, w)
    with torch.no_grad():
        _, _, ch, cw = crm_pr(bb, img, hw, hb).shape
    peaks = torch.tensor([[0, 0, 0], [19, ch - 1, cw - 1], [5, 0, cw - 1]], dtype=torch.float32)
    rnd = torch.rand(5, 3, generator=g) * torch.tensor([19.0, ch - 1, cw - 1])
    rnd[:, 0] = rnd[:, 0].round()
    peaks = torch.cat([peaks, rnd])  # fractional positions: bilinear one-hot
    ref = prm_autograd(bb, img, hw, hb, peaks)
    with torch.no_grad():
        out = PeakBackprop(bb)(img, hw, hb, peaks)
    assert out.shape == (peaks.shape[0], h, w)
    assert _rel_err(out, ref) <= 1e-4
    assert float(out.min()) >= 0
    assert torch.allclose(out.sum((1, 2)), torch.ones(peaks.shape[0]), atol=1e-4)


def _autograd_at_fire6_input(bb, s8, hw, hb, peaks):
    """The pr rule by autograd, read at fire6's input (what CoarsePeakBackprop stops at)."""
    x = pool(s8).detach().clone().requires_grad_(True)
    y = x
    for n in ("fire6", "fire7", "fire8", "fire9"):
        y = _fire_pr(bb.fires[n], y)
    crm = pr_conv2d(y, hw[:, :, None, None], hb)
    _, n_cls, h, w = crm.shape
    out = []
    for c, py, px in peaks.tolist():
        x.grad = None
        crm.backward(bilinear_onehot(int(round(c)), py, px, n_cls, h, w), retain_graph=True)
        r = x.grad[0].sum(0).clamp(min=0)
        out.append(r / r.sum().clamp(min=1e-30))
    return torch.stack(out)


@pytest.mark.parametrize("seed,h,w", [(0, 160, 224), (1, 272, 200)])
def test_stride16_backprop_matches_autograd_at_fire6_input(squeezenet, seed, h, w):
    bb = squeezenet.backbone
    img, hw, hb, _ = _random_case(seed, h, w)
    with torch.no_grad():
        f, s8, _ = bb(img)
    ch, cw = f.shape[2], f.shape[3]
    peaks = torch.tensor([[0, 0, 0], [19, ch - 1, cw - 1], [5, 0, cw - 1], [7, 2.5, 3.25]], dtype=torch.float32)
    ref = _autograd_at_fire6_input(bb, s8, hw, hb, peaks)
    with torch.no_grad():
        out = CoarsePeakBackprop(bb)(s8, hw, hb, peaks)
    assert out.shape == (peaks.shape[0], ch, cw)
    assert _rel_err(out, ref) <= 1e-4
    assert torch.allclose(out.sum((1, 2)), torch.ones(peaks.shape[0]), atol=1e-4)
    # A peak's relevance stays within its 10×10-cell window (fire9…fire6: four 3×3 expands around 2×2 cells).
    assert float(out[0, 10:, :].sum() + out[0, :, 10:].sum()) == 0.0


def test_crm_of_patched_network_equals_plain_forward(squeezenet):
    img = torch.rand(1, 3, 80, 96) * 255 - 120
    hw, hb = torch.randn(20, 512) * 0.05, torch.randn(20)
    with torch.no_grad():
        a = crm_pr(squeezenet.backbone, img, hw, hb)
        b = PrmNet(squeezenet.backbone)(img, hw, hb)[0]
    assert torch.allclose(a, b, atol=1e-4)


def test_peak_stimulation_is_mean_of_3x3_maxima_above_median():
    g = torch.Generator().manual_seed(5)
    m = torch.randn(1, 3, 7, 9, generator=g)
    mask = find_peak_mask(m)
    scores = peak_stimulation(m)
    for c in range(3):
        a = m[0, c]
        med = a.flatten().median()
        want = []
        for y in range(7):
            for x in range(9):
                win = a[max(0, y - 1):y + 2, max(0, x - 1):x + 2]
                if a[y, x] == win.max() and a[y, x] >= med:
                    want.append((y, x))
        assert set(map(tuple, torch.nonzero(mask[0, c]).tolist())) == set(want)
        assert float(scores[0, c]) == pytest.approx(float(np.mean([float(a[p]) for p in want])), rel=1e-6)
    # a constant map: every cell is a 3×3 maximum equal to the median
    assert float(peak_stimulation(torch.full((1, 1, 3, 3), 2.0))) == pytest.approx(2.0)
