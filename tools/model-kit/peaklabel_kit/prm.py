"""The PRM network: SqueezeNet backbone + 1×1 class head, peak stimulation, and the autograd
reference of peak back-propagation (the official pr_conv2d rule, applied by patching convolutions)."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .effnet import is_lite
from .ir import SqueezeNetBackbone, Fire, pool

EPS = 1e-10  # as the official pr_conv2d: shares of outputs whose normaliser is below it are dropped


class PrmNet(nn.Module):
    """Backbone to fire9 + class head. The head is passed in (graph input), not owned."""

    def __init__(self, backbone: SqueezeNetBackbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, image, head_weight, head_bias):
        f, s8, s4 = self.backbone(image)
        crm = F.conv2d(f, head_weight[:, :, None, None], head_bias)
        return crm, f, s8, s4


# --- peak stimulation (training) -------------------------------------------------------------

def find_peak_mask(crm: torch.Tensor, win: int = 3) -> torch.Tensor:
    """Local maxima of a win×win window that are ≥ the median of their map (as PRM's peak_stimulation)."""
    b, c, h, w = crm.shape
    pad = (win - 1) // 2
    padded = F.pad(crm, (pad, pad, pad, pad), value=float("-inf"))
    local_max = F.max_pool2d(padded, win, 1)
    med = crm.reshape(b, c, h * w).median(dim=2).values.reshape(b, c, 1, 1)
    return (crm == local_max) & (crm >= med)


def peak_stimulation(crm: torch.Tensor, win: int = 3) -> torch.Tensor:
    """Class scores = mean of the responses at each map's peaks (gradient flows through the peaks only)."""
    mask = find_peak_mask(crm.detach(), win).float()
    return (crm * mask).sum((2, 3)) / mask.sum((2, 3)).clamp(min=1)


# --- peak back-propagation: autograd reference of the pr_conv2d rule ----------------------

class _PreHook(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, offset):
        ctx.save_for_backward(x, offset)
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        x, offset = ctx.saved_tensors
        return (x - offset) * g, None


class _PostHook(torch.autograd.Function):
    @staticmethod
    def forward(ctx, resp, norm):
        ctx.save_for_backward(norm)
        return resp.clone()

    @staticmethod
    def backward(ctx, g):
        (norm,) = ctx.saved_tensors
        gi = g / (norm.abs() + EPS)
        gi[norm < EPS] = 0
        return None, gi


def pr_conv2d(x, weight, bias, stride=1, padding=0):
    """Forward = ordinary conv; backward = PRM's rule (positive weights, normalised by their response)."""
    offset = x.min().detach()
    x = _PreHook.apply(x, offset)
    resp = F.conv2d(x, weight, bias, stride, padding).detach()
    norm = F.conv2d(x - offset, F.relu(weight).detach(), None, stride, padding)
    return _PostHook.apply(resp, norm)


def _fire_pr(fire: Fire, x):
    s = F.relu(pr_conv2d(x, fire.squeeze.weight, fire.squeeze.bias))
    e1 = F.relu(pr_conv2d(s, fire.expand1x1.weight, fire.expand1x1.bias))
    e3 = F.relu(pr_conv2d(s, fire.expand3x3.weight, fire.expand3x3.bias, 1, 1))
    return torch.cat([e1, e3], 1)


def crm_pr(backbone: SqueezeNetBackbone, image, head_weight, head_bias):
    """CRMs computed with every convolution patched by pr_conv2d (so autograd follows the PRM rule)."""
    x = pool(F.relu(pr_conv2d(image, backbone.conv1.weight, backbone.conv1.bias, 2)))
    for n in ("fire2", "fire3"):
        x = _fire_pr(backbone.fires[n], x)
    x = pool(x)
    for n in ("fire4", "fire5"):
        x = _fire_pr(backbone.fires[n], x)
    x = pool(x)
    for n in ("fire6", "fire7", "fire8", "fire9"):
        x = _fire_pr(backbone.fires[n], x)
    return pr_conv2d(x, head_weight[:, :, None, None], head_bias)


def bilinear_onehot(c: int, y: float, x: float, n_cls: int, h: int, w: int) -> torch.Tensor:
    """A one-hot at a fractional CRM position, spread over its four neighbours (as the backward of
    bilinear upsampling does for a sub-pixel peak)."""
    g = torch.zeros(1, n_cls, h + 1, w + 1)
    y = min(max(y, 0.0), h - 1.0)
    x = min(max(x, 0.0), w - 1.0)
    y0, x0 = int(y), int(x)
    fy, fx = y - y0, x - x0
    g[0, c, y0, x0] += (1 - fy) * (1 - fx)
    g[0, c, y0 + 1, x0] += fy * (1 - fx)
    g[0, c, y0, x0 + 1] += (1 - fy) * fx
    g[0, c, y0 + 1, x0 + 1] += fy * fx
    return g[:, :, :h, :w]


def prm_autograd(backbone, image, head_weight, head_bias, peaks) -> torch.Tensor:
    """Reference PRMs: one autograd backward per peak (the official algorithm). Returns [K,H,W]."""
    image = image.detach().clone().requires_grad_(True)
    crm_fn = crm_pr
    if is_lite(getattr(backbone, "name", "")):
        from .effnet_prm import crm_pr as crm_fn
    crm = crm_fn(backbone, image, head_weight.detach(), head_bias.detach())
    _, n_cls, h, w = crm.shape
    out = []
    for c, y, x in peaks.tolist():
        if image.grad is not None:
            image.grad = None
        crm.backward(bilinear_onehot(int(round(c)), y, x, n_cls, h, w), retain_graph=True)
        m = image.grad[0].sum(0).clamp(min=0)
        out.append(m / m.sum().clamp(min=1e-30))
    return torch.stack(out)
