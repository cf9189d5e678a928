"""Peak back-propagation (the PRM pr_conv2d rule) through the EfficientNet-Lite0 backbone.

The rule, extended from SqueezeNet's plain convolutions:
  * every convolution (1×1, the stem, and depthwise ones) passes relevance back through its positive
    weights, each output's share normalised by the conv's positive-weight response to input − min(input)
    (for a depthwise conv this is per channel: each output is normalised over its own k×k window of its
    own input channel); TF "same" padding pads input − min(input) with zeros, as the official code pads;
  * ReLU6 routes as its gradient does (through 0 < x < 6 only), a residual add copies to both branches,
    the linear bottleneck (project conv) has no activation.

`crm_pr` is the autograd reference (each conv patched); `EffNetPeakBackprop` computes the same thing as an
explicit, exportable forward pass for K peaks at once. A peak's receptive field here is 851 px wide (the
dilated last stage), more than the engine's largest input (768 px), so its window is the whole image: the
module back-propagates all K peaks over the full maps (batched), reusing every peak-independent factor
(input − min, 1/normaliser × activation mask) computed once.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .effnet import EffNetBackbone, same_pad
from .prm import EPS, _PreHook, _PostHook
from .backprop import _peak_cells, _normalised_relevance


def pr_conv(x, conv: nn.Conv2d, pad):
    """Forward = the conv on the padded input; backward = the pr rule (see module doc)."""
    offset = x.min().detach()
    xh = _PreHook.apply(x, offset)
    resp = F.conv2d(F.pad(xh, pad), conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups).detach()
    norm = F.conv2d(F.pad(xh - offset, pad), F.relu(conv.weight).detach(), None, conv.stride, 0,
                    conv.dilation, conv.groups)
    return _PostHook.apply(resp, norm)


def crm_pr(bb: EffNetBackbone, image, head_weight, head_bias):
    """CRMs with every conv patched by pr_conv, so autograd follows the PRM rule."""
    x = F.relu6(pr_conv(image, bb.stem, same_pad(3, 2)))
    for b in bb.blocks:
        y = F.relu6(pr_conv(x, b.expand, (0, 0, 0, 0))) if b.expand is not None else x
        y = F.relu6(pr_conv(y, b.dw, b.pad))
        y = pr_conv(y, b.project, (0, 0, 0, 0))
        x = y + x if b.residual else y
    f = F.relu6(pr_conv(x, bb.head, (0, 0, 0, 0)))
    head = nn.Conv2d(f.shape[1], head_weight.shape[0], 1)
    head.weight, head.bias = nn.Parameter(head_weight[:, :, None, None], False), nn.Parameter(head_bias, False)
    return pr_conv(f, head, (0, 0, 0, 0))


def _fwd(conv, x, pad, act: bool):
    """One conv of the full-image forward: its output and the rule's factors (input − min, R = mask/norm)."""
    xo = x - x.min()
    pre = F.conv2d(F.pad(x, pad), conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)
    norm = F.conv2d(F.pad(xo, pad), F.relu(conv.weight), None, conv.stride, 0, conv.dilation, conv.groups)
    keep = norm >= EPS
    if act:
        keep = keep & (pre > 0) & (pre < 6)
    r = torch.where(keep, 1.0 / (norm + EPS), torch.zeros_like(norm))
    return (F.relu6(pre) if act else pre), (conv, pad, xo, r)


def _back(g, fac):
    """Relevance at a conv's output [K,C,h,w] → at its input [K,Cin,H,W]."""
    conv, pad, xo, r = fac
    t = F.conv_transpose2d(g * r, F.relu(conv.weight), None, conv.stride, 0, 0, conv.groups, conv.dilation)
    h, w = xo.shape[2], xo.shape[3]
    t = t[:, :, pad[2]:pad[2] + h, pad[0]:pad[0] + w]
    return t * xo


class EffNetPeakBackprop(nn.Module):
    """prm(image, head_weight, head_bias, peaks[K,3]) -> [K,H,W] peak response maps (same contract as
    backprop.PeakBackprop)."""

    def __init__(self, backbone: EffNetBackbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, image, head_weight, head_bias, peaks):
        bb = self.backbone
        x, f_stem = _fwd(bb.stem, image, same_pad(3, 2), True)
        facs = []
        for b in bb.blocks:
            y, f_e = _fwd(b.expand, x, (0, 0, 0, 0), True) if b.expand is not None else (x, None)
            y, f_d = _fwd(b.dw, y, b.pad, True)
            y, f_p = _fwd(b.project, y, (0, 0, 0, 0), False)
            x = y + x if b.residual else y
            facs.append((f_e, f_d, f_p, b.residual))
        f, f_head = _fwd(bb.head, x, (0, 0, 0, 0), True)
        # the class head: a 1×1 conv, only the peak's class map
        fo = f - f.min()
        norm = F.conv2d(fo, F.relu(head_weight)[:, :, None, None])[0]  # [C,h,w]
        r_head = torch.where(norm >= EPS, 1.0 / (norm + EPS), torch.zeros_like(norm))
        n_cls, h, w = norm.shape[0], norm.shape[1], norm.shape[2]
        cls, y0, x0, onehot = _peak_cells(peaks, n_cls, h, w)
        # bilinear one-hot on a (h+1)×(w+1) grid, cropped (as prm.bilinear_onehot)
        k = peaks.shape[0]
        base = y0 * (w + 1) + x0
        idx = torch.stack([base, base + 1, base + (w + 1), base + (w + 2)], 1)  # onehot's (0,0),(0,1),(1,0),(1,1)
        oh = torch.zeros(k, (h + 1) * (w + 1), dtype=image.dtype).scatter_add(1, idx, onehot.reshape(k, 4))
        oh = oh.reshape(k, h + 1, w + 1)[:, :h, :w]
        t = oh * r_head[cls]  # [K,h,w]
        g = F.relu(head_weight)[cls][:, :, None, None] * t[:, None] * fo  # relevance at the features
        g = _back(g, f_head)
        for f_e, f_d, f_p, residual in reversed(facs):
            skip = g
            g = _back(g, f_p)
            g = _back(g, f_d)
            if f_e is not None:
                g = _back(g, f_e)
            if residual:
                g = g + skip
        g = _back(g, f_stem)
        rel = _normalised_relevance(g.sum(1), head_bias)
        return rel
