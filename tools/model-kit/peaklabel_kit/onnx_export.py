"""ONNX export of the two bundle graphs (dynamic image size; dynamic peak count for prm.onnx)."""
from __future__ import annotations

import torch
from torch import nn

from .backprop import PeakBackprop
from .effnet import is_lite
from .prm import PrmNet

OPSET = 17
BACKBONE_OUTPUTS = ["crm", "features", "features_s8", "features_s4"]


def _channels(backbone) -> int:
    return getattr(backbone, "channels", 512)


def peak_backprop_module(backbone) -> nn.Module:
    """The exportable peak back-propagation for this backbone."""
    if is_lite(getattr(backbone, "name", "")):
        from .effnet_prm import EffNetPeakBackprop
        return EffNetPeakBackprop(backbone)
    return PeakBackprop(backbone)


def export_backbone(backbone, path: str, n_cls: int):
    net = PrmNet(backbone).eval()
    img = torch.zeros(1, 3, 160, 224)
    hw, hb = torch.zeros(n_cls, _channels(backbone)), torch.zeros(n_cls)
    torch.onnx.export(
        net, (img, hw, hb), path, opset_version=OPSET,
        input_names=["image", "head_weight", "head_bias"], output_names=BACKBONE_OUTPUTS,
        dynamic_axes={"image": {2: "H", 3: "W"}, "head_weight": {0: "C"}, "head_bias": {0: "C"},
                      "crm": {1: "C", 2: "h", 3: "w"}, "features": {2: "h", 3: "w"},
                      "features_s8": {2: "h8", 3: "w8"}, "features_s4": {2: "h4", 3: "w4"}})


def export_prm(backbone, path: str, n_cls: int):
    net = peak_backprop_module(backbone).eval()
    img = torch.rand(1, 3, 160, 224) * 255 - 120
    hw, hb = torch.randn(n_cls, _channels(backbone)) * 0.05, torch.zeros(n_cls)
    peaks = torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.5, 1.25]])
    torch.onnx.export(
        net, (img, hw, hb, peaks), path, opset_version=OPSET,
        input_names=["image", "head_weight", "head_bias", "peaks"], output_names=["prm"],
        dynamic_axes={"image": {2: "H", 3: "W"}, "head_weight": {0: "C"}, "head_bias": {0: "C"},
                      "peaks": {0: "K"}, "prm": {0: "K", 1: "H", 2: "W"}})
