"""The backbones a bundle can be built on (`kit.py build --backbone NAME`): weights, preprocessing,
ImageNet-group head init, the bundle's graph shapes and what the model card says about them."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from .classes import VOC, imagenet_group_indices
from .data import PREPROCESS_SQUEEZENET
from .effnet import VARIANTS
from .ir import KitError, load_squeezenet, read_imagenet_labels
from .train import CRM_OFFSET

NAMES = ("squeezenet1.1", *VARIANTS)


@dataclass
class BackboneSpec:
    name: str
    backbone: torch.nn.Module  # image -> (features, features_s8, features_s4)
    head_w: np.ndarray  # ImageNet-group init [20, D]
    head_b: np.ndarray
    preprocess: dict  # manifest.preprocess without the input policy
    channels: int  # D
    s8: tuple  # (channels, doc)
    s4: tuple
    feature_doc: str
    description: str  # for provenance / the model card
    inputs: dict = field(default_factory=dict)  # provenance: input file -> sha256
    crm_doc: str = ""
    crm_centre: float = CRM_OFFSET  # CRM cell i is centred on input pixel 16 i + crm_centre (manifest crmGeometry)
    # Peaks per prm.onnx call in the app (manifest graphs.prm.peaksPerCall; None: all at once). prm.onnx holds every
    # peak's full-image backward pass at once: Lite0 took ~5 GB for a COCO photo's 24 peaks, 2.3 GB in calls of 8,
    # no slower. SqueezeNet's windowed backward is small and its forward relatively costly, so it keeps one call.
    prm_peaks_per_call: int | None = None


# Where a backbone's CRM responses are centred, which need not be the geometric receptive-field centre (15.5 for
# both networks): measured by the mirror test of geometry.py over the dev images' class maps with the
# ImageNet-group head (experiments/crm_centre.py; docs/adr/backbone-efficientnet-lite.md decision 23). Lite0 agrees
# best at 2 px (0.921 against 0.79-0.81 at the geometric centre), SqueezeNet at 13 px (0.804 against 0.79).
# Lite1 / Lite2 are not measured and keep the geometric centre.
MEASURED_CRM_CENTRE = {"squeezenet1.1": 13.0, "efficientnet-lite0": 2.0}


def crm_centre(name: str) -> float:
    """Where backbone `name`'s CRM cells sit: cell i at input pixel 16 i + crm_centre(name)."""
    return MEASURED_CRM_CENTRE.get(name, CRM_OFFSET)


def _group_head(w: torch.Tensor, b: torch.Tensor, labels: list[str]):
    groups = imagenet_group_indices(labels)
    hw = torch.stack([w[groups[c]].mean(0) for c in VOC]).numpy()
    hb = torch.stack([b[groups[c]].mean(0) for c in VOC]).numpy()
    return hw.astype(np.float32), hb.astype(np.float32)


def load_backbone(name: str, shared: str) -> BackboneSpec:
    from .bundle import sha256
    wdir = os.path.join(shared, "weights", "squeezenet1.1")
    labels = read_imagenet_labels(wdir)  # ImageNet-1k class names (shared by both backbones)
    label_file = {"weights/squeezenet1.1/imagenet_labels.txt": sha256(os.path.join(wdir, "imagenet_labels.txt"))}
    if name == "squeezenet1.1":
        net = load_squeezenet(wdir)
        hw, hb = _group_head(net.conv10.weight.detach()[:, :, 0, 0], net.conv10.bias.detach(), labels)
        return BackboneSpec(
            name, net.backbone, hw, hb, dict(PREPROCESS_SQUEEZENET), 512, (256, "fire5 output"), (128, "fire3 output"),
            "fire9 output (the class head's input)",
            "SqueezeNet 1.1 (ImageNet-1k), conv1..fire9, from OpenVINO IR FP16",
            {f"weights/squeezenet1.1/{f}": sha256(os.path.join(wdir, f)) for f in ("squeezenet1.1.xml", "squeezenet1.1.bin")} | label_file,
            _crm_doc(name, "h = ceil((ceil((floor((H-3)/2)+1-3)/2)+1-3)/2)+1 ... i.e. conv1 3x3/2 no pad, three 3x3/2 "
                           f"ceil-mode max-pools, whose receptive fields are centred at 16*i+{CRM_OFFSET:g}"),
            crm_centre(name))
    if name in VARIANTS:
        from .effnet import EffNetModel, load_effnet, weights_path, MEAN_RGB, SCALE
        v = VARIANTS[name]
        path = weights_path(v)
        model = EffNetModel(load_effnet(path, v))
        hw, hb = _group_head(model.fc_weight, model.fc_bias, labels)
        return BackboneSpec(
            name, model.backbone, hw, hb, {"channelOrder": "RGB", "mean": [MEAN_RGB] * 3, "scale": SCALE},
            1280, (v.widths[2], f"block {v.s8_block} output (stage 3)"), (v.widths[1], f"block {v.s4_block} output (stage 2)"),
            "conv_head output (1280 ch, ReLU6; the class head's input)",
            f"{v.name} (ImageNet-1k, {v.top1}% top-1; PyPI {v.pypi} 0.1.0, Apache-2.0), BatchNorm folded, stage 6 "
            f"(blocks {v.dilated_from}-{v.last_block}) at stride 1 with dilation 2 -> stride 16, up to conv_head",
            {f"pypi:{v.pypi}==0.1.0/models/{v.file}": sha256(path)} | label_file,
            _crm_doc(name, "h = H/16 (H a multiple of 16): TF 'same' padding, four stride-2 convs (3x3 pad 0/1, 3x3, "
                           f"5x5 pad 1/2, 3x3), whose receptive fields are centred at 16*i+{CRM_OFFSET:g}"),
            crm_centre(name), prm_peaks_per_call=8)
    raise KitError(f"unknown backbone '{name}': the kit builds {', '.join(NAMES)}")


def _crm_doc(name: str, geometric: str) -> str:
    c = crm_centre(name)
    if name not in MEASURED_CRM_CENTRE:
        return f"CRM cell (i,j) is centred at input pixel coords (16*i+{c:g}, 16*j+{c:g}); {geometric}"
    return (f"CRM cell (i,j) is centred at input pixel coords (16*i+{c:g}, 16*j+{c:g}): where the class maps of an "
            f"image and of its mirror image agree best (the kit's mirror test), not the geometric centre; {geometric}")


class OrtFeatures:
    """backbone.onnx run by onnxruntime as the feature extractor of the training cache (several times
    faster than torch on this CPU for depthwise convolutions). Called like the torch backbone."""

    def __init__(self, onnx_path: str, channels: int, n_cls: int = len(VOC)):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if os.environ.get("KIT_THREADS"):
            so.intra_op_num_threads = int(os.environ["KIT_THREADS"])
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.hw = np.zeros((n_cls, channels), np.float32)
        self.hb = np.zeros(n_cls, np.float32)

    def __call__(self, x: torch.Tensor):
        (f,) = self.sess.run(["features"], {"image": x.numpy(), "head_weight": self.hw, "head_bias": self.hb})
        return (f,)
