"""Export the IAM graph to ONNX: peaks → stride-16 seeds (seeds.py: for SqueezeNet the pr rule through
fire9…fire6) → instance extent filling → IAMs at stride 8. Dynamic peak count K and image size; the filling
is an ONNX Loop."""
from __future__ import annotations

import torch

from .model import InstanceExtentFilling

INPUTS = ["peaks", "head_weight", "head_bias", "features_s4", "features_s8", "features"]
OUTPUTS = ["iam", "prm"]
OPSET = 17


class IamGraph(torch.nn.Module):
    """peaks [K,3] (class, CRM row, CRM column) + the head + backbone.onnx's features → iam [K,h8,w8] in
    0..1 and the stride-16 seeds they came from, prm [K,h16,w16] (each sums to 1)."""

    def __init__(self, net: InstanceExtentFilling, seed: torch.nn.Module):
        super().__init__()
        self.net = net
        self.seed = seed

    def forward(self, peaks, head_weight, head_bias, features_s4, features_s8, features):
        prm = self.seed(features_s8, features, head_weight, head_bias, peaks)
        return self.net(prm[:, None], features_s4, features_s8, features)[:, 0], prm


def example_inputs(channels: dict, n_cls: int = 20, h: int = 160, w: int = 224):
    g = torch.Generator().manual_seed(0)
    return (
        torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.5, 1.25]]),
        torch.randn(n_cls, channels["features"], generator=g) * 0.05,
        torch.zeros(n_cls),
        torch.rand(1, channels["features_s4"], h // 4, w // 4, generator=g),
        torch.rand(1, channels["features_s8"], h // 8, w // 8, generator=g),
        torch.rand(1, channels["features"], h // 16, w // 16, generator=g),
    )


def export_onnx(net: InstanceExtentFilling, seed: torch.nn.Module, path: str) -> None:
    graph = IamGraph(net, seed).eval()  # export restores the wrapper's mode afterwards, so it must be eval too
    dyn = {
        "peaks": {0: "K"},
        "head_weight": {0: "C"},
        "head_bias": {0: "C"},
        "features_s4": {2: "h4", 3: "w4"},
        "features_s8": {2: "h8", 3: "w8"},
        "features": {2: "h16", 3: "w16"},
        "iam": {0: "K", 1: "h8", 2: "w8"},
        "prm": {0: "K", 1: "h16", 2: "w16"},
    }
    with torch.no_grad():
        torch.onnx.export(graph, example_inputs(net.channels), path, input_names=INPUTS, output_names=OUTPUTS,
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True)
