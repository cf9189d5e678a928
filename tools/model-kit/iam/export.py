"""Export the IAM filling module to ONNX: dynamic PRM batch K and image size, filling as an ONNX Loop."""
from __future__ import annotations

import torch

from .model import InstanceExtentFilling

INPUTS = ["prm", "features_s4", "features_s8", "features"]
OUTPUTS = ["iam"]
OPSET = 13


class _Graph(torch.nn.Module):
    """Graph interface: the backbone's feature names, and the IAM as [K,H,W] like prm.onnx's output."""

    def __init__(self, net: InstanceExtentFilling):
        super().__init__()
        self.net = net

    def forward(self, prm, features_s4, features_s8, features):
        return self.net(prm, features_s4, features_s8, features)[:, 0]


def example_inputs(k: int = 2, h: int = 96, w: int = 128):
    g = torch.Generator().manual_seed(0)
    return (
        torch.rand(k, 1, h, w, generator=g),
        torch.rand(1, 128, h // 4, w // 4, generator=g),
        torch.rand(1, 256, h // 8, w // 8, generator=g),
        torch.rand(1, 512, h // 16, w // 16, generator=g),
    )


def export_onnx(net: InstanceExtentFilling, path: str) -> None:
    graph = _Graph(net).eval()  # export restores the wrapper's mode afterwards, so it must be eval too
    dyn = {
        "prm": {0: "K", 2: "H", 3: "W"},
        "features_s4": {2: "h4", 3: "w4"},
        "features_s8": {2: "h8", 3: "w8"},
        "features": {2: "h16", 3: "w16"},
        "iam": {0: "K", 1: "H", 2: "W"},
    }
    with torch.no_grad():
        torch.onnx.export(graph, example_inputs(), path, input_names=INPUTS, output_names=OUTPUTS,
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True)
