"""What the filling module starts from: one map per peak on the CRM grid (stride 16, each summing to 1),
computed inside iam.onnx from the backbone graph's outputs. One kind per backbone:

- SqueezeNet 1.1: the peak's PRM back-propagated to fire6's input (docs/adr/iam-stride16-prm.md).
- EfficientNet-Lite0: the peak's class response map under a Gaussian window around the peak. Its PRM at
  stride 16 would need blocks 11–15 and conv_head run again per peak (1,152-channel layers: about K
  backbone passes), which is what makes prm.onnx slow for it; the class map is free, and the filling
  learns the extent from the features (docs/adr/backbone-efficientnet-lite.md).

Both take (features_s8, features, head_weight, head_bias, peaks[K,3]) and return [K,h16,w16].
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from peaklabel_kit.backprop import CoarsePeakBackprop
from peaklabel_kit.effnet import is_lite
from peaklabel_kit.ir import KitError, load_squeezenet

CRM_SEED_SIGMA = 2.0  # cells (32 input px): about the 10×10-cell reach of SqueezeNet's stride-16 PRM


class SqueezeNetPrm16(nn.Module):
    DOC = ("the pr_conv2d rule from the peak through the head and fire9..fire6 to fire6's input "
           "(stride 16; fire6..fire9 re-run from features_s8), summed over channels")

    def __init__(self, backbone):
        super().__init__()
        self.prm16 = CoarsePeakBackprop(backbone)

    def forward(self, features_s8, features, head_weight, head_bias, peaks):
        return self.prm16(features_s8, head_weight, head_bias, peaks)


class CrmSeed(nn.Module):
    """(CRM of the peak's class − its minimum) × exp(−d² / 2σ²), d the distance to the peak in cells."""

    DOC = ("the peak's class response map minus its minimum, times exp(-d^2 / 2 sigma^2) around the peak "
           f"(sigma {CRM_SEED_SIGMA:g} cells), normalised to sum 1 (iam/seeds.py CrmSeed)")

    def __init__(self, sigma: float = CRM_SEED_SIGMA):
        super().__init__()
        self.sigma = sigma

    def forward(self, features_s8, features, head_weight, head_bias, peaks):
        crm = F.conv2d(features, head_weight[:, :, None, None], head_bias)[0]  # [C,h,w]
        maps = crm[peaks[:, 0].long()]  # [K,h,w]
        h, w = maps.shape[1], maps.shape[2]
        dy = torch.arange(h, dtype=maps.dtype)[None, :, None] - peaks[:, 1, None, None]
        dx = torch.arange(w, dtype=maps.dtype)[None, None, :] - peaks[:, 2, None, None]
        window = torch.exp(-(dy * dy + dx * dx) / (2 * self.sigma * self.sigma))
        low = maps.flatten(1).amin(dim=1)[:, None, None]
        seed = (maps - low) * window
        return seed / seed.flatten(1).sum(dim=1).clamp_min(1e-20)[:, None, None]


def seed_for(backbone_name: str, shared: str) -> nn.Module:
    """The seed module of a bundle's backbone (manifest backbone.name; absent = squeezenet1.1)."""
    if backbone_name == "squeezenet1.1":
        return SqueezeNetPrm16(load_squeezenet(os.path.join(shared, "weights", "squeezenet1.1")).backbone.eval()).eval()
    if is_lite(backbone_name):
        return CrmSeed().eval()
    raise KitError(f"no IAM seed for backbone '{backbone_name}'")
