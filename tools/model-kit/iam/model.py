"""The instance extent filling network of IAM (Zhu et al., CVPR 2019), sized for a CPU app.

Inputs: K seed maps on the CRM grid [K,1,h16,w16] (for SqueezeNet the Peak Response Map back-propagated to
fire6's input; seeds.py) and the backbone's three feature levels (stride 4, 8, 16;
batch 1, broadcast over K). Output: K Instance Activation Maps [K,1,h8,w8] in 0..1 at stride 8.

    PRM16 ─ [Conv-BN-ReLU] ×2 ─▶ E (stride 16) ─ N filling steps ─ up 2, 3×3 ─(+)─ BN-ReLU-1×1 ─▶ IAM (stride 8)
    features s16 ─1×1─┐                                                         │
    features s8  ─1×1─┴(+up)─(+)─ BN-ReLU-3×3 ─▶ guide (stride 8) ─────── 1×1 ──┘
    features s4  ─avg 2─1×1───┘                  └─ to stride 16, 3×3 ─▶ 9 filling weights per location (softmax)

One filling step replaces every location of E by the weighted sum of its 3×3 neighbourhood with the
predicted weights (they sum to 1; the border is edge-replicated so the sum stays normalised). N equals
the encoded map's longer side, so activation can travel from any location to any other; N follows
the input size in the exported graph (an ONNX Loop).

Everything per peak runs at stride 16 or 8 (the filling at 16: a quarter of the work of stride 8, and
the filling dominates the cost); the masks are cut from the bilinearly upsampled maps in the engine.
Why not the paper's full-resolution PRM: docs/adr/iam-stride16-prm.md.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

FEATURE_CHANNELS = {"features_s4": 128, "features_s8": 256, "features": 512}  # SqueezeNet 1.1's levels


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def fill_eager(x: torch.Tensor, weights: torch.Tensor, steps: int) -> torch.Tensor:
    """`steps` filling steps (−1: the map's longer side): x [K,C,h,w] ← Σ_i weights[:, i] · (x shifted by the i-th 3×3 offset).

    Nine slices of the edge-padded map (13× faster than listing the neighbourhood by convolution), written
    out: a Python loop over them would script to a nested ONNX Loop, whose per-iteration overhead made
    the exported filling ~10× slower in onnxruntime."""
    h, w = x.shape[2], x.shape[3]
    n = steps if steps >= 0 else max(h, w)
    w0, w1, w2 = weights[:, 0:1], weights[:, 1:2], weights[:, 2:3]
    w3, w4, w5 = weights[:, 3:4], weights[:, 4:5], weights[:, 5:6]
    w6, w7, w8 = weights[:, 6:7], weights[:, 7:8], weights[:, 8:9]
    for _ in range(n):
        p = F.pad(x, [1, 1, 1, 1], mode="replicate")
        x = (w0 * p[:, :, 0:h, 0:w] + w1 * p[:, :, 0:h, 1:w + 1] + w2 * p[:, :, 0:h, 2:w + 2]
             + w3 * p[:, :, 1:h + 1, 0:w] + w4 * p[:, :, 1:h + 1, 1:w + 1] + w5 * p[:, :, 1:h + 1, 2:w + 2]
             + w6 * p[:, :, 2:h + 2, 0:w] + w7 * p[:, :, 2:h + 2, 1:w + 1] + w8 * p[:, :, 2:h + 2, 2:w + 2])
    return x


# Scripted for export only (an ONNX Loop whose trip count follows the input size); training runs the
# eager version: autograd through the scripted loop is one to two orders of magnitude slower on CPU.
fill = torch.jit.script(fill_eager)


class FillingWeights(nn.Module):
    """Small feature pyramid over three backbone levels, fused deep → shallow at stride 8 (the stride-4
    level average-pooled there first: it is the costliest to convolve). Returns the 9 filling weights
    per location at the filling resolution (softmax) and the stride-8 guide the decoder reads."""

    def __init__(self, width: int = 32, channels: dict | None = None):
        super().__init__()
        ch = channels or FEATURE_CHANNELS
        self.lat16 = nn.Conv2d(ch["features"], width, 1)
        self.lat8 = nn.Conv2d(ch["features_s8"], width, 1)
        self.lat4 = nn.Conv2d(ch["features_s4"], width, 1)
        # The backbone's ReLU features have a large, level-dependent scale; BN after the fusion evens it.
        self.smooth = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True), conv_bn_relu(width, width))
        self.head = nn.Conv2d(width, 9, 3, padding=1)
        nn.init.zeros_(self.head.weight)  # start as uniform averaging (plain diffusion)
        nn.init.zeros_(self.head.bias)

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, size: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.lat8(f8) + F.interpolate(self.lat16(f16), size=f8.shape[-2:], mode="bilinear", align_corners=False)
        p = p + self.lat4(F.avg_pool2d(f4, 2))  # floor(h4 / 2) = h8 for every input size
        guide = self.smooth(p)
        w = self.head(F.interpolate(guide, size=size, mode="bilinear", align_corners=False))
        return torch.softmax(w, dim=1), guide


class InstanceExtentFilling(nn.Module):
    def __init__(self, enc: int = 16, fill_channels: int = 4, width: int = 32, steps: int | None = None,
                 channels: dict | None = None):
        """channels: the backbone's feature levels by name (default SqueezeNet 1.1's, FEATURE_CHANNELS)."""
        super().__init__()
        self.channels = dict(channels or FEATURE_CHANNELS)
        self.encoder = nn.Sequential(conv_bn_relu(1, enc), conv_bn_relu(enc, fill_channels))
        self.weights = FillingWeights(width, self.channels)
        self.decode_up = nn.Conv2d(fill_channels, enc, 3, padding=1, bias=False)
        self.decode_guide = nn.Conv2d(width, enc, 1, bias=False)
        self.decode_out = nn.Sequential(nn.BatchNorm2d(enc), nn.ReLU(inplace=True), nn.Conv2d(enc, 1, 1))
        self.fixed_steps = steps  # None: N = the encoded map's longer side

    @staticmethod
    def normalise_prm(prm: torch.Tensor) -> torch.Tensor:
        """PRMs sum to 1, so their scale depends on image size: rescale each to max 1, then sqrt to lift the tail."""
        peak = prm.flatten(1).amax(dim=1).clamp_min(1e-20).reshape(-1, 1, 1, 1)
        return (prm.clamp_min(0) / peak).sqrt()

    def logits(self, prm16, f4, f8, f16):
        """prm16 [K,1,h16,w16] (stride 16, any non-negative scale) → IAM logits [K,1,h8,w8] (stride 8)."""
        e = self.encoder(self.normalise_prm(prm16))
        wts, guide = self.weights(f4, f8, f16, e.shape[-2:])
        steps = -1 if self.fixed_steps is None else self.fixed_steps
        e = fill(e, wts, steps) if torch.jit.is_tracing() else fill_eager(e, wts, steps)
        up = F.interpolate(e, size=guide.shape[-2:], mode="bilinear", align_corners=False)
        return self.decode_out(self.decode_up(up) + self.decode_guide(guide))

    def forward(self, prm16, f4, f8, f16):
        return torch.sigmoid(self.logits(prm16, f4, f8, f16))
