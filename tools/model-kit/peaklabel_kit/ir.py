"""Read SqueezeNet 1.1 from OpenVINO IR (.xml graph + FP16 .bin) into a plain PyTorch module.

The IR is walked as a graph (layers + edges), not by position, so a renamed or reordered file still
loads; anything the kit does not understand is refused with a message naming the file and layer.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class KitError(Exception):
    """A clear, user-facing failure (bad weights, bad data); the CLI prints it without a traceback."""


KNOWN_TYPES = {"Parameter", "Const", "Convert", "Convolution", "Add", "ReLU", "MaxPool", "Concat",
               "ReduceMean", "SoftMax", "Result"}
ELEMENT_TYPES = {"f16": np.float16, "f32": np.float32}


@dataclass
class IrLayer:
    id: str
    name: str
    type: str
    data: dict
    inputs: list = field(default_factory=list)  # producer layer ids, by input port order


def _parse_xml(xml_path: str) -> dict[str, IrLayer]:
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise KitError(f"{xml_path}: not a readable OpenVINO IR graph ({e})") from e
    layers: dict[str, IrLayer] = {}
    for el in root.iter("layer"):
        lid, ltype, name = el.get("id"), el.get("type"), el.get("name")
        if ltype not in KNOWN_TYPES:
            raise KitError(f"{xml_path}: unknown IR layer type '{ltype}' (layer '{name}', id {lid}); "
                           f"the kit understands {', '.join(sorted(KNOWN_TYPES))}")
        data_el = el.find("data")
        layers[lid] = IrLayer(lid, name, ltype, dict(data_el.attrib) if data_el is not None else {})
    if not layers:
        raise KitError(f"{xml_path}: the IR graph has no layers")
    edges = root.find("edges")
    if edges is None:
        raise KitError(f"{xml_path}: the IR graph has no <edges> section")
    incoming: dict[str, list] = {}
    for e in edges.iter("edge"):
        incoming.setdefault(e.get("to-layer"), []).append((int(e.get("to-port")), e.get("from-layer")))
    for lid, ins in incoming.items():
        if lid not in layers or any(src not in layers for _, src in ins):
            raise KitError(f"{xml_path}: an edge refers to a layer id that does not exist (layer {lid})")
        layers[lid].inputs = [src for _, src in sorted(ins)]
    return layers


def _read_const(layer: IrLayer, blob: bytes, bin_path: str) -> np.ndarray:
    d = layer.data
    try:
        et = ELEMENT_TYPES[d["element_type"]]
        offset, size = int(d["offset"]), int(d["size"])
        shape = [int(s) for s in d["shape"].split(",")] if d.get("shape", "").strip() else []
    except KeyError as e:
        raise KitError(f"{bin_path}: constant '{layer.name}' has an unsupported or missing attribute {e}") from e
    if offset + size > len(blob):
        raise KitError(f"{bin_path}: truncated or corrupt weight file: constant '{layer.name}' needs bytes "
                       f"{offset}..{offset + size} but the file has {len(blob)}")
    arr = np.frombuffer(blob, dtype=et, count=size // np.dtype(et).itemsize, offset=offset)
    if arr.size != int(np.prod(shape)):
        raise KitError(f"{bin_path}: constant '{layer.name}' has {arr.size} values, shape {shape} needs {int(np.prod(shape))}")
    arr = arr.astype(np.float32).reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise KitError(f"{bin_path}: corrupt weight file: constant '{layer.name}' holds NaN/Inf values")
    return arr


def load_ir_convolutions(xml_path: str, bin_path: str) -> dict[str, tuple[np.ndarray, np.ndarray, dict]]:
    """Map each Convolution's base name (e.g. 'fire2/expand3x3') to (weight, bias, attributes)."""
    for p in (xml_path, bin_path):
        if not os.path.isfile(p):
            raise KitError(f"{p}: weight file is missing (expected the SqueezeNet 1.1 OpenVINO IR under ../shared/weights)")
    layers = _parse_xml(xml_path)
    with open(bin_path, "rb") as f:
        blob = f.read()

    def value_of(lid: str) -> np.ndarray:
        layer = layers[lid]
        if layer.type == "Const":
            return _read_const(layer, blob, bin_path)
        if layer.type == "Convert":
            return value_of(layer.inputs[0])
        raise KitError(f"{xml_path}: layer '{layer.name}' ({layer.type}) is used as a constant")

    convs = {}
    consumers: dict[str, list[str]] = {}
    for lid, layer in layers.items():
        for src in layer.inputs:
            consumers.setdefault(src, []).append(lid)
    for lid, layer in layers.items():
        if layer.type != "Convolution":
            continue
        if len(layer.inputs) != 2:
            raise KitError(f"{xml_path}: convolution '{layer.name}' has {len(layer.inputs)} inputs, expected 2")
        w = value_of(layer.inputs[1])
        adds = [c for c in consumers.get(lid, []) if layers[c].type == "Add"]
        if len(adds) != 1:
            raise KitError(f"{xml_path}: convolution '{layer.name}' is not followed by exactly one bias Add")
        add = layers[adds[0]]
        b = value_of([s for s in add.inputs if s != lid][0]).reshape(-1)
        name = layer.name.replace("/WithoutBiases", "")
        convs[name] = (w, b, layer.data)
    return convs


# --- SqueezeNet 1.1, written out (no torchvision) -------------------------------------------

FIRE_SPEC = [  # name, in, squeeze, expand (each branch)
    ("fire2", 64, 16, 64), ("fire3", 128, 16, 64),
    ("fire4", 128, 32, 128), ("fire5", 256, 32, 128),
    ("fire6", 256, 48, 192), ("fire7", 384, 48, 192),
    ("fire8", 384, 64, 256), ("fire9", 512, 64, 256),
]
POOL_AFTER = {"conv1": "pool1", "fire3": "pool3", "fire5": "pool5"}


class Fire(nn.Module):
    def __init__(self, cin: int, s: int, e: int):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, s, 1)
        self.expand1x1 = nn.Conv2d(s, e, 1)
        self.expand3x3 = nn.Conv2d(s, e, 3, padding=1)

    def forward(self, x):
        s = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(s)), F.relu(self.expand3x3(s))], 1)


def pool(x):
    return F.max_pool2d(x, 3, 2, ceil_mode=True)


class SqueezeNetBackbone(nn.Module):
    """conv1 … fire9 of SqueezeNet 1.1 (stride 16, 512 channels); returns the three feature levels."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2)
        self.fires = nn.ModuleDict({n: Fire(i, s, e) for n, i, s, e in FIRE_SPEC})

    def forward(self, x):
        x = pool(F.relu(self.conv1(x)))
        x = self.fires["fire2"](x)
        s4 = self.fires["fire3"](x)
        x = self.fires["fire4"](pool(s4))
        s8 = self.fires["fire5"](x)
        x = pool(s8)
        for n in ("fire6", "fire7", "fire8", "fire9"):
            x = self.fires[n](x)
        return x, s8, s4


class SqueezeNetClassifier(nn.Module):
    """The full ImageNet classifier: backbone + conv10 (1000 class maps) + global average pooling."""

    def __init__(self):
        super().__init__()
        self.backbone = SqueezeNetBackbone()
        self.conv10 = nn.Conv2d(512, 1000, 1)

    def forward(self, x):
        f, _, _ = self.backbone(x)
        return F.relu(self.conv10(f)).mean((2, 3))


def _check_attrs(name: str, data: dict, conv: nn.Conv2d, xml_path: str):
    strides = tuple(int(s) for s in data.get("strides", "1,1").split(","))
    pads = tuple(int(s) for s in data.get("pads_begin", "0,0").split(","))
    if strides != conv.stride or pads != conv.padding:
        raise KitError(f"{xml_path}: convolution '{name}' has strides {strides} / pads {pads}, "
                       f"SqueezeNet 1.1 expects {conv.stride} / {conv.padding}")


def load_squeezenet(weights_dir: str) -> SqueezeNetClassifier:
    xml_path = os.path.join(weights_dir, "squeezenet1.1.xml")
    bin_path = os.path.join(weights_dir, "squeezenet1.1.bin")
    convs = load_ir_convolutions(xml_path, bin_path)
    net = SqueezeNetClassifier()
    targets = {"conv1": net.backbone.conv1, "conv10": net.conv10}
    for n, *_ in FIRE_SPEC:
        fire = net.backbone.fires[n]
        targets.update({f"{n}/squeeze1x1": fire.squeeze, f"{n}/expand1x1": fire.expand1x1,
                        f"{n}/expand3x3": fire.expand3x3})
    missing = sorted(set(targets) - set(convs))
    if missing:
        raise KitError(f"{xml_path}: the IR lacks the SqueezeNet 1.1 convolution(s) {', '.join(missing)}")
    with torch.no_grad():
        for name, conv in targets.items():
            w, b, data = convs[name]
            if tuple(w.shape) != tuple(conv.weight.shape) or b.shape[0] != conv.out_channels:
                raise KitError(f"{bin_path}: convolution '{name}' has weight shape {tuple(w.shape)}, "
                               f"expected {tuple(conv.weight.shape)}")
            _check_attrs(name, data, conv, xml_path)
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(b))
    return net.eval()


def read_imagenet_labels(weights_dir: str) -> list[str]:
    """Class i of the model is line i+1 (line 0 is 'background')."""
    path = os.path.join(weights_dir, "imagenet_labels.txt")
    if not os.path.isfile(path):
        raise KitError(f"{path}: ImageNet label file is missing")
    lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
    if len(lines) < 1001:
        raise KitError(f"{path}: expected 1001 lines (background + 1000 classes), found {len(lines)}")
    return lines[1:1001]
