"""The one-command bundle build: weights -> features -> head training -> metrics -> export."""
from __future__ import annotations

import os
import time

import torch

from .bundle import write_bundle, write_model_card, sha256, read_head
from .backbones import BackboneSpec, OrtFeatures, load_backbone
from .data import load_dev_images
from .ir import KitError

GOLDEN = [("pennfudan", "FudanPed00004.png"), ("coco-mini", "000000000139.jpg")]


def _provenance(shared, spec: BackboneSpec, stage, extra=None):
    prov = {
        "stage": stage,
        "backbone": spec.description,
        "inputs": dict(spec.inputs),
        "headInit": "mean of the ImageNet classifier's weights/biases over ImageNet class groups (classes.py IMAGENET_GROUPS)",
        "tool": f"tools/model-kit/kit.py build --backbone {spec.name}",
    }
    for ds in ("pennfudan", "coco-mini", "balloon"):
        prov["inputs"][f"data/{ds}/instances.json"] = sha256(os.path.join(shared, "data", ds, "instances.json"))
    prov.update(extra or {})
    return prov


def _feature_cache(spec: BackboneSpec, images, cache: str, out: str, flips: bool):
    from .train import FeatureCache
    extractor = spec.backbone
    if spec.name != "squeezenet1.1":
        from .onnx_export import export_backbone
        os.makedirs(cache, exist_ok=True)
        path = os.path.join(cache, f"{spec.name}-features.onnx")
        # written beside and renamed: processes sharing the cache (parallel experiments) never read half a graph
        tmp = f"{path}.{os.getpid()}"
        export_backbone(spec.backbone, tmp, 20)
        os.replace(tmp, path)
        extractor = OrtFeatures(path, spec.channels)
    name = "" if spec.name == "squeezenet1.1" else spec.name  # the SqueezeNet cache keeps its old place
    return FeatureCache(extractor, images, cache, flips=flips, pre=spec.preprocess, name=name, centre=spec.crm_centre)


def build(shared: str, out: str, train: bool, cache: str, backbone: str = "squeezenet1.1"):
    t0 = time.time()
    spec = load_backbone(backbone, shared)
    hw, hb = spec.head_w, spec.head_b
    images = load_dev_images(shared)
    metrics, image_head = {}, None
    peaks_cfg = {"window": 3, "threshold": "median", "subPixelFactor": 1, "classScoreThreshold": 0.0}
    if train:
        from .train import train_head
        fc = _feature_cache(spec, images, cache, out, flips=True)
        hw, hb, metrics, peaks_cfg, extra, image_head = train_head(images, hw, hb, fc)
        stage = "trained"
    else:
        stage = "imagenet-init"
        extra = {"note": "EARLY bundle: class head initialised from ImageNet class groups, NOT trained "
                         "on the dev images yet; metrics are not measured."}
    gold = [(ds, os.path.join(shared, "data", ds, "images", f)) for ds, f in GOLDEN]
    for bb_param in spec.backbone.parameters():
        bb_param.requires_grad_(False)
    manifest = write_bundle(out, spec.backbone, hw, hb, provenance=_provenance(shared, spec, stage, extra),
                            metrics=metrics, peaks_cfg=peaks_cfg, golden_images=gold, spec=spec,
                            image_head=image_head)
    write_model_card(out, manifest)
    print(f"build: {time.time() - t0:.0f} s")


def evaluate_bundle(shared: str, bundle: str, cache: str):
    from .train import evaluate_heldout
    manifest = _read_manifest(bundle)
    name = manifest.get("backbone", {}).get("name", "squeezenet1.1")
    spec = load_backbone(name, shared)
    images = load_dev_images(shared)
    hw, hb = _read_head(bundle, manifest["head"]["file"], spec.channels)
    image_head = _read_image_head(bundle, manifest, spec.channels)
    fc = _feature_cache(spec, images, cache, bundle, flips=False)
    fc.centre = manifest.get("crmGeometry", {}).get("centerOffset", fc.centre)  # as the engine reads this bundle
    m = evaluate_heldout(fc, [i for i in images if i.heldout], torch.from_numpy(hw), torch.from_numpy(hb),
                         image_head=image_head)
    print(f"bundle {bundle} (backbone {name}{', with an image head' if image_head else ''})")
    print_metrics(m)
    return m


def _read_manifest(bundle: str) -> dict:
    import json
    path = os.path.join(bundle, "manifest.json")
    if not os.path.isfile(path):
        raise KitError(f"{path}: no bundle manifest (is {bundle} a model bundle folder?)")
    try:
        return json.load(open(path, encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise KitError(f"{path}: not valid JSON ({e})") from e


def _read_head(bundle: str, file: str, channels: int):
    path = os.path.join(bundle, file)
    if not os.path.isfile(path):
        raise KitError(f"{path}: the bundle's head file is missing")
    try:
        return read_head(path, channels=channels)
    except ValueError as e:
        raise KitError(str(e)) from e


def _read_image_head(bundle: str, manifest: dict, channels: int):
    """The bundle's image head (w, b) as tensors, or None when it has none."""
    if "imageHead" not in manifest:
        return None
    return tuple(torch.from_numpy(a) for a in _read_head(bundle, manifest["imageHead"]["file"], channels))


def print_metrics(m):
    print(f"held-out images: {m['images']}  classification mAP (VOC-20, classes with positives: {m['apClasses']}): "
          f"{100 * m['mAP']:.1f}%")
    print(f"pointwise localisation (top peak of each present class inside a GT box of it): "
          f"{100 * m['pointwise']:.1f}% of {m['pointwisePairs']} (image, class) pairs; "
          f"with 18 px tolerance: {100 * m['pointwiseTol18']:.1f}%; pointwise mAP (PRM paper): "
          f"{100 * m['pointwiseAP18']:.1f}%")
    for k, v in sorted(m["perClassAP"].items()):
        print(f"  AP {k:12s} {100 * v:5.1f}%")


def add_image_head(shared: str, bundle: str, cache: str):
    """Fits the image head beside a built bundle's class head (`kit.py image-head`): head.bin, the graphs and the
    IAM stay as they are; image-head.bin, the manifest's entry and metrics, the golden files and the model card
    are (re)written. The bias is calibrated to the class-score threshold the engine applies to this bundle
    (retrieval.json's, else the manifest's)."""
    import json
    from .bundle import IMAGE_HEAD_FILE, write_golden, write_image_head
    from .image_head import IMAGE_HEAD_RECIPE
    from .train import _public, evaluate_heldout, train_image_head
    path = os.path.join(bundle, "manifest.json")
    manifest = _read_manifest(bundle)
    spec = load_backbone(manifest.get("backbone", {}).get("name", "squeezenet1.1"), shared)
    images = load_dev_images(shared)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    hw, hb = (torch.from_numpy(a) for a in _read_head(bundle, manifest["head"]["file"], spec.channels))
    tuned = os.path.join(bundle, "retrieval.json")
    thr = json.load(open(tuned, encoding="utf-8")).get("classScoreThreshold") if os.path.isfile(tuned) else None
    thr = float(thr if thr is not None else manifest.get("peaks", {}).get("classScoreThreshold", 0.0))
    fc = _feature_cache(spec, images, cache, bundle, flips=True)
    image_head, blend = train_image_head(fc, train, torch.from_numpy(spec.head_w), torch.from_numpy(spec.head_b),
                                         hw, hb, calibrate_to=thr)
    only = evaluate_heldout(fc, held, hw, hb)
    met = manifest.setdefault("metrics", {})
    met.update(heldoutClassHeadOnly=_public(only), imageHead=blend)
    manifest.setdefault("provenance", {}).setdefault("training", {})["imageHead"] = IMAGE_HEAD_RECIPE
    if image_head is None:
        manifest.pop("imageHead", None)
        if os.path.isfile(os.path.join(bundle, IMAGE_HEAD_FILE)):
            os.remove(os.path.join(bundle, IMAGE_HEAD_FILE))
        final = only
    else:
        manifest["imageHead"] = write_image_head(bundle, image_head, spec.channels)
        final = evaluate_heldout(fc, held, hw, hb, image_head=image_head)
    met["heldout"] = _public(final)
    gold = [(ds, os.path.join(shared, "data", ds, "images", f)) for ds, f in GOLDEN]
    write_golden(os.path.join(bundle, "golden"), spec.backbone, hw.numpy(), hb.numpy(), gold, spec.preprocess,
                 image_head)
    json.dump(manifest, open(path, "w"), indent=2)
    write_model_card(bundle, manifest)
    print(f"bundle {bundle}: image head {'weight ' + str(blend['weight']) if image_head else 'not kept'}")
    print_metrics(final)


def set_geometry(shared: str, bundle: str, cache: str):
    """Writes the backbone's CRM centre (backbones.MEASURED_CRM_CENTRE, docs/adr/backbone-efficientnet-lite.md
    decision 23) into a built bundle's manifest (`kit.py geometry`), with the mirror test through the bundle's own
    head beside it; the held-out metrics are re-read with that centre and the model card rewritten. Graphs and
    heads stay as they are."""
    import json
    from .geometry import mirror_centre, mirror_pairs
    from .train import _public, evaluate_heldout, pointwise_definitions
    manifest = _read_manifest(bundle)
    spec = load_backbone(manifest.get("backbone", {}).get("name", "squeezenet1.1"), shared)
    images = load_dev_images(shared)
    held = [i for i in images if i.heldout]
    hw, hb = (torch.from_numpy(a) for a in _read_head(bundle, manifest["head"]["file"], spec.channels))
    fc = _feature_cache(spec, images, cache, bundle, flips=True)
    pairs = mirror_pairs(fc, images, hw, hb)
    found, _ = mirror_centre(pairs)
    print(f"bundle {bundle}: CRM centre {spec.crm_centre:g} px (was "
          f"{manifest.get('crmGeometry', {}).get('centerOffset')}); the mirror test with this bundle's head over "
          f"{len(pairs)} dev images finds {found:g}")
    if abs(found - spec.crm_centre) > 3:
        raise KitError(f"{bundle}: the mirror test finds the class maps centred at {found:g} px, not at the "
                       f"backbone's {spec.crm_centre:g}: measure again (experiments/crm_centre.py) before writing it")
    manifest["crmGeometry"] = {"centerOffset": spec.crm_centre, "doc": spec.crm_doc}
    met = manifest.setdefault("metrics", {})
    image_head = _read_image_head(bundle, manifest, spec.channels)
    final = evaluate_heldout(fc, held, hw, hb, image_head=image_head)
    if "heldout" in met:
        met["heldout"] = _public(final)
    if "heldoutClassHeadOnly" in met:
        met["heldoutClassHeadOnly"] = _public(evaluate_heldout(fc, held, hw, hb))
    if "heldoutImageNetInit" in met:
        met["heldoutImageNetInit"] = _public(evaluate_heldout(fc, held, torch.from_numpy(spec.head_w),
                                                              torch.from_numpy(spec.head_b)))
    met.update(pointwise_definitions(spec.crm_centre))
    json.dump(manifest, open(os.path.join(bundle, "manifest.json"), "w"), indent=2)
    write_model_card(bundle, manifest)
    print_metrics(final)
