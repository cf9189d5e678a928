"""The instance extent filling network of IAM (Zhu et al., CVPR 2019), sized for a CPU app.

Inputs: K Peak Response Maps at input resolution [K,1,H,W] and the backbone's three feature levels
(stride 4, 8, 16; batch 1, broadcast over K). Output: K Instance Activation Maps [K,1,H,W] in 0..1.

    PRM ─ avg-pool 2 ─ [Conv-BN-ReLU-MaxPool] ×2 ─▶ E (stride 8) ─ N filling steps ─▶ decoder ×2 ─▶ IAM
    features s16 ─1×1─┐
    features s8  ─1×1─┴(+up)─┐
    features s4  ─1×1─────────┴(+up)─ 3×3 ─ stride-2 3×3 ─▶ 9 filling weights per location (softmax)

One filling step replaces every location of E by the weighted sum of its 3×3 neighbourhood with the
predicted weights (they sum to 1; the border is edge-replicated so the sum stays normalised). N equals
the encoded map's longer side, so activation can travel from any location to any other; N follows
the input size in the exported graph (an ONNX Loop).

The PRM is first average-pooled by 2 so the filling runs at stride 8: a quarter of the work of stride
4 (the filling dominates the cost) while the stride-4 features still shape the weights.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

FEATURE_CHANNELS = {"features_s4": 128, "features_s8": 256, "features": 512}


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def fill_eager(x: torch.Tensor, weights: torch.Tensor, steps: int) -> torch.Tensor:
    """`steps` filling steps (−1: the map's longer side): x [K,C,h,w] ← Σ_i weights[:, i] · (x shifted by the i-th 3×3 offset).

    Nine slices of the edge-padded map (13× faster than listing the neighbourhood by convolution).
    Scripted so that the exported graph holds an ONNX Loop whose trip count follows the input size."""
    h, w = x.shape[2], x.shape[3]
    n = steps if steps >= 0 else max(h, w)
    for _ in range(n):
        p = F.pad(x, [1, 1, 1, 1], mode="replicate")
        acc = weights[:, 0:1] * p[:, :, 0:h, 0:w]
        for i in range(1, 9):
            dy, dx = i // 3, i % 3
            acc = acc + weights[:, i : i + 1] * p[:, :, dy : dy + h, dx : dx + w]
        x = acc
    return x


# Scripted for export only (an ONNX Loop whose trip count follows the input size); training runs the
# eager version: autograd through the scripted loop is one to two orders of magnitude slower on CPU.
fill = torch.jit.script(fill_eager)


class FillingWeights(nn.Module):
    """Small feature pyramid over three backbone levels (fused deep → shallow) → 9 weights at stride 8."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.lat16 = nn.Conv2d(FEATURE_CHANNELS["features"], width, 1)
        self.lat8 = nn.Conv2d(FEATURE_CHANNELS["features_s8"], width, 1)
        self.lat4 = nn.Conv2d(FEATURE_CHANNELS["features_s4"], width, 1)
        # The backbone's ReLU features have a large, level-dependent scale; BN after the fusion evens it.
        self.smooth = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True), conv_bn_relu(width, width))
        self.head = nn.Conv2d(width, 9, 3, padding=1)
        nn.init.zeros_(self.head.weight)  # start as uniform averaging (plain diffusion)
        nn.init.zeros_(self.head.bias)

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, size: tuple) -> torch.Tensor:
        p = self.lat16(f16)
        p = self.lat8(f8) + F.interpolate(p, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        p = self.lat4(f4) + F.interpolate(p, size=f4.shape[-2:], mode="bilinear", align_corners=False)
        p = self.smooth(p)
        p = F.interpolate(p, size=size, mode="bilinear", align_corners=False)
        return torch.softmax(self.head(p), dim=1)


class InstanceExtentFilling(nn.Module):
    def __init__(self, enc: int = 16, fill_channels: int = 4, width: int = 32, steps: int | None = None, pre_pool: int = 2):
        super().__init__()
        self.pre_pool = pre_pool  # the filling runs at stride 4·pre_pool
        self.encoder = nn.Sequential(
            conv_bn_relu(1, enc), nn.MaxPool2d(2),
            conv_bn_relu(enc, fill_channels), nn.MaxPool2d(2),
        )
        self.weights = FillingWeights(width)
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), conv_bn_relu(fill_channels, enc),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), conv_bn_relu(enc, enc),
            nn.Conv2d(enc, 1, 1),
        )
        self.fixed_steps = steps  # None: N = the encoded map's longer side

    @staticmethod
    def normalise_prm(prm: torch.Tensor) -> torch.Tensor:
        """PRMs sum to 1, so their scale depends on image size: rescale each to max 1, then sqrt to lift the tail."""
        peak = prm.flatten(1).amax(dim=1).clamp_min(1e-20).reshape(-1, 1, 1, 1)
        return (prm.clamp_min(0) / peak).sqrt()

    def logits(self, prm, f4, f8, f16):
        h, w = prm.shape[-2], prm.shape[-1]
        x = F.avg_pool2d(self.normalise_prm(prm), self.pre_pool)
        e = self.encoder(x)
        wts = self.weights(f4, f8, f16, e.shape[-2:])
        steps = -1 if self.fixed_steps is None else self.fixed_steps
        e = fill(e, wts, steps) if torch.jit.is_tracing() else fill_eager(e, wts, steps)
        d = self.decoder(e)
        return F.interpolate(d, size=(h, w), mode="bilinear", align_corners=False)

    def forward(self, prm, f4, f8, f16):
        return torch.sigmoid(self.logits(prm, f4, f8, f16))
