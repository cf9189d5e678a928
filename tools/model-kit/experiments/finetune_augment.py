"""Exploration for issue 11 (ADR backbone-efficientnet-lite.md decision 20): does fine-tuning EfficientNet-Lite0 on
the tags generalise once each step sees a new view of every image (scale jitter, a random sub-window, colour
jitter, mirroring)? Decision 18 fine-tuned on fixed cached views and overfitted. Random views need the whole
network in every step, so this runs on a GPU when one is lent (on the CPU: ~0.85 s per image and epoch, about
27 minutes for one setting's held-out split at 8 epochs; --epochs and --splits cut a run down).

  # here: a pack of what the run needs (dev images at the bundle's input size as lossless WebP, 89 MB; their tags
  # and boxes; the ImageNet-group head init); the weights come from the committed bundle's backbone.onnx.
  # --lossy packs 16 MB, small enough for a device call, at the cost decision 21 measures
  .venv/bin/python tools/model-kit/experiments/finetune_augment.py pack .gpu/pack
  # on the GPU machine (or --quick here to check the code): one process per setting, results as a table
  python3 tools/model-kit/experiments/finetune_augment.py run .gpu/pack --out $OUT

Every setting is scored as decision 18 scored fine-tuning: held-out quarter (fit on the training split) and 3-fold
CV on the training split; mAP of the peak score, mAP of peak + 0.5 × image head (decision 19), pointwise strict
and ±18 px. The frozen row is the kit's recipe (head only) on the same decoded images. Tags only: the boxes are
read for pointwise scoring, never in training.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from peaklabel_kit.backbones import crm_centre  # noqa: E402
from peaklabel_kit.data import DevImage  # noqa: E402
from peaklabel_kit.effnet import LITE0, EffNetBackbone, EffNetLite, MEAN_RGB, SCALE  # noqa: E402
from peaklabel_kit.image_head import fit_image_head  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, cv_splits, evaluate_heldout  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUNDLE = os.path.join(ROOT, "resources", "models-effnet-lite0")
IMAGE_WEIGHT = 0.5  # decision 19's blend weight

# name -> fine-tuning setting (None: the frozen backbone, the kit's head recipe)
SETTINGS = {
    "frozen": None,
    "F0.001-aug": {"factor": 0.001, "aug": True},
    "F0.003-aug": {"factor": 0.003, "aug": True},
    "F0.01-aug": {"factor": 0.01, "aug": True},
    "F0.003-plain": {"factor": 0.003, "aug": False},
}
EPOCHS, BATCH, LAM_HEAD, LAM_TAIL, HEAD_LR = 15, 8, 0.1, 0.001, 0.01


# --- the pack (made here) -------------------------------------------------------------------

def pack(out: str, lossy: bool = False):
    from PIL import Image
    from peaklabel_kit.backbones import load_backbone
    from peaklabel_kit.data import input_size, load_dev_images, load_rgb
    shared = os.path.join(ROOT, "..", "shared")
    images = load_dev_images(shared)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    meta = []
    for n, im in enumerate(images):
        size = input_size(im.width, im.height)
        name = f"{n:04d}.webp"
        Image.fromarray(load_rgb(im.file, size)).save(os.path.join(out, "images", name), "WEBP", quality=88, method=4,
                                                      lossless=not lossy)
        meta.append({"key": im.key, "image": name, "width": im.width, "height": im.height, "size": list(size),
                     "labels": im.labels.tolist(), "boxes": {str(c): b for c, b in im.boxes.items()}})
    spec = load_backbone("efficientnet-lite0", shared)
    json.dump({"images": meta, "headInit": {"weight": spec.head_w.tolist(), "bias": spec.head_b.tolist()}},
              open(os.path.join(out, "meta.json"), "w"))
    print(f"{len(meta)} images packed into {out}")


# --- the run --------------------------------------------------------------------------------

class PackImage(DevImage):
    """A DevImage whose key is the original's (so the held-out split is the kit's) and whose pixels are the pack's."""

    def __init__(self, m: dict, pack_dir: str):
        ds, base = m["key"].split("/", 1)
        super().__init__(ds, base, m["width"], m["height"], np.asarray(m["labels"], np.float32),
                         {int(c): b for c, b in m["boxes"].items()})
        self.pixels_file = os.path.join(pack_dir, "images", m["image"])
        self.size = tuple(m["size"])


def load_backbone_from_bundle(device) -> EffNetBackbone:
    """The Lite0 backbone with the committed bundle's folded weights (backbone.onnx initialisers)."""
    import onnx
    from onnx import numpy_helper
    bb = EffNetBackbone(EffNetLite(LITE0))
    model = onnx.load(os.path.join(BUNDLE, "backbone.onnx"))
    sd = {i.name[len("backbone."):]: torch.from_numpy(numpy_helper.to_array(i).copy())
          for i in model.graph.initializer if i.name.startswith("backbone.")}
    bb.load_state_dict(sd, strict=True)
    return bb.to(device).eval().requires_grad_(False)


class Views:
    """Decoded pack images on the device as float [3,H,W] in the backbone's input scale."""

    def __init__(self, images: list[PackImage], device):
        from PIL import Image
        self.x = {}
        for im in images:
            rgb = np.asarray(Image.open(im.pixels_file).convert("RGB"), np.uint8)
            assert rgb.shape[1::-1] == im.size, (im.pixels_file, rgb.shape, im.size)
            self.x[im.key] = ((torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() - MEAN_RGB) * SCALE).to(device)

    def augmented(self, im, rng: np.random.Generator, scale: float, aug: bool) -> torch.Tensor:
        x = self.x[im.key]
        if rng.random() < 0.5:
            x = x.flip(-1)
        if not aug:
            return x
        h, w = x.shape[1:]
        ch, cw = int(h * rng.uniform(0.8, 1.0)), int(w * rng.uniform(0.8, 1.0))
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        x = x[:, y0:y0 + ch, x0:x0 + cw]
        th, tw = max(64, round(ch * scale / 16) * 16), max(64, round(cw * scale / 16) * 16)
        x = F.interpolate(x[None], size=(th, tw), mode="bilinear", align_corners=False)[0]
        contrast, brightness = rng.uniform(0.8, 1.2), rng.uniform(-0.15, 0.15)
        return ((x - x.mean()) * contrast + x.mean() + brightness).clamp(-1, 1)


class Feats:
    """train.FeatureCache's interface (get / sizes / centre) over a backbone on the device; features kept on the CPU."""

    def __init__(self, bb, views: Views, images, flips: bool):
        self.sizes = {im.key: im.size for im in images}
        self.centre = crm_centre(LITE0.name)
        self.f = {}
        with torch.no_grad():
            for im in images:
                for fl in ((False, True) if flips else (False,)):
                    x = views.x[im.key].flip(-1) if fl else views.x[im.key]
                    self.f[(im.key, fl)] = bb(x[None])[0][0].float().cpu().half()

    def get(self, im, flip: bool = False):
        return self.f[(im.key, flip)].float()


def batches(imgs, rng):
    """Batches of up to BATCH images of one orientation (less padding)."""
    out = []
    for group in ([i for i in imgs if i.size[0] >= i.size[1]], [i for i in imgs if i.size[0] < i.size[1]]):
        order = rng.permutation(len(group))
        out += [[group[j] for j in order[s:s + BATCH]] for s in range(0, len(order), BATCH)]
    return [out[j] for j in rng.permutation(len(out))]


def finetune(bb0, views: Views, fit, hw0, hb0, factor: float, aug: bool, epochs: int, seed: int, device, log=None):
    """Whole backbone but the stem and block 0 + head; multilabel soft-margin on peak-stimulation scores of each
    image's own (unpadded) cells; L2-SP toward ImageNet (backbone) and the group init (head)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    bb = copy.deepcopy(bb0).train()
    # the stem and block 0 stay as ImageNet made them (decision 18)
    trainable = [p for n, p in bb.named_parameters() if not (n.startswith("stem.") or n.startswith("blocks.0."))]
    for p in trainable:
        p.requires_grad_(True)
    init = [p.detach().clone() for p in trainable]
    w0, b0 = hw0.to(device), hb0.to(device)
    hw, hb = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    opt = torch.optim.SGD([{"params": [hw, hb], "lr": HEAD_LR},
                           {"params": trainable, "lr": HEAD_LR * factor}], momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    t0 = time.time()
    for ep in range(epochs):
        total = 0.0
        for part in batches(fit, rng):
            scale = math.exp(rng.uniform(math.log(0.7), math.log(1.3))) if aug else 1.0
            xs = [views.augmented(im, rng, scale, aug) for im in part]
            H, W = max(x.shape[1] for x in xs), max(x.shape[2] for x in xs)
            batch = torch.stack([F.pad(x, (0, W - x.shape[2], 0, H - x.shape[1])) for x in xs])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                feats = bb(batch)[0]
            crm = F.conv2d(feats.float(), hw[:, :, None, None], hb)
            loss = sum(F.multilabel_soft_margin_loss(
                peak_stimulation(crm[k:k + 1, :, :x.shape[1] // 16, :x.shape[2] // 16]),
                torch.from_numpy(im.labels)[None].to(device)) for k, (x, im) in enumerate(zip(xs, part))) / len(part)
            reg = LAM_HEAD * (((hw - w0) ** 2).sum() + ((hb - b0) ** 2).sum())
            reg = reg + LAM_TAIL * sum(((p - q) ** 2).sum() for p, q in zip(trainable, init))
            opt.zero_grad()
            (loss + reg).backward()
            opt.step()
            total += float(loss) * len(part)
        sched.step()
        if log:
            log(f"epoch {ep + 1}/{epochs} loss {total / len(fit):.4f} ({time.time() - t0:.0f} s)")
    return bb.eval().requires_grad_(False), hw.detach().cpu(), hb.detach().cpu(), total / len(fit)


def score(ff: Feats, tf: Feats, fit, test, hw, hb) -> dict:
    """Held-out metrics of a head on `test`'s features tf, with and without an image head fitted on `fit`'s
    features ff (both flips)."""
    m = evaluate_heldout(tf, test, hw, hb)
    iw, ib = fit_image_head(ff, fit)
    with_image = evaluate_heldout(tf, test, hw, hb, image_head=(IMAGE_WEIGHT * iw, IMAGE_WEIGHT * ib))["mAP"]
    return {"mAP": m["mAP"], "mAPImage": with_image, "pointwise": m["pointwise"], "tol18": m["pointwiseTol18"]}


def run_setting(name: str, pack_dir: str, out: str, quick: bool, epochs: int = EPOCHS, only: tuple = ()):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(2)
    meta = json.load(open(os.path.join(pack_dir, "meta.json")))
    images = [PackImage(m, pack_dir) for m in meta["images"]]
    epochs = 1 if quick else epochs
    if quick:
        images = images[::12]
    hw0 = torch.tensor(meta["headInit"]["weight"], dtype=torch.float32)
    hb0 = torch.tensor(meta["headInit"]["bias"], dtype=torch.float32)
    views = Views(images, device)
    bb0 = load_backbone_from_bundle(device)
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    splits = [("heldout", train, held)] + [(f"cv{k}", f, t) for k, (f, t) in enumerate(cv_splits(train, 3))]
    splits = [s for s in splits if not only or s[0] in only]
    logf = open(os.path.join(out, f"{name}.log"), "a")

    def log(s):
        print(f"[{name}] {s}", file=logf, flush=True)
    path = os.path.join(out, f"{name}.json")
    res = json.load(open(path)) if os.path.isfile(path) else {}  # a run of other splits adds to it
    setting = SETTINGS[name]
    frozen = Feats(bb0, views, images, flips=True) if setting is None else None  # one backbone for every split
    for split, fit, test in splits:
        t0 = time.time()
        if setting is None:
            hw, hb = _fit(frozen, fit, hw0, hb0, **HEAD_RECIPE)
            ff, tf, loss = frozen, frozen, None
        else:
            bb, hw, hb, loss = finetune(bb0, views, fit, hw0, hb0, setting["factor"], setting["aug"], epochs,
                                        HEAD_RECIPE["seed"], device, log if split == "heldout" else None)
            ff, tf = Feats(bb, views, fit, flips=True), Feats(bb, views, test, flips=False)
        res[split] = score(ff, tf, fit, test, hw, hb) | {"loss": loss, "seconds": round(time.time() - t0, 1)}
        log(f"{split}: {json.dumps(res[split])}")
        json.dump(res, open(path, "w"), indent=1)


def table(out: str):
    rows = ["| setting | held out: mAP / + image head / pointwise / ±18 | CV mean: mAP / + image / pointwise | "
            "CV mAP per fold | CV pointwise per fold | final loss |", "|---|---|---|---|---|---|"]
    for name in SETTINGS:
        path = os.path.join(out, f"{name}.json")
        if not os.path.isfile(path):
            rows.append(f"| {name} | (not finished) | | | | |")
            continue
        r = json.load(open(path))
        h = r.get("heldout")
        cv = [r[k] for k in ("cv0", "cv1", "cv2") if k in r]
        hs = f"{100 * h['mAP']:.1f} / {100 * h['mAPImage']:.1f} / {100 * h['pointwise']:.1f} / {100 * h['tol18']:.1f}" if h else "–"
        mean = (lambda k: 100 * np.mean([c[k] for c in cv])) if cv else None
        cs = f"{mean('mAP'):.1f} / {mean('mAPImage'):.1f} / {mean('pointwise'):.1f}" if cv else "–"
        folds = " / ".join(f"{100 * c['mAP']:.1f}" for c in cv)
        pw = " / ".join(f"{100 * c['pointwise']:.1f}" for c in cv)
        loss = f"{h['loss']:.3f}" if h and h["loss"] is not None else "–"
        rows.append(f"| {name} | {hs} | {cs}{'' if len(cv) == 3 else f' ({len(cv)} folds)'} | {folds} | {pw} | {loss} |")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=("pack", "run", "one"))
    p.add_argument("pack")
    p.add_argument("--out", default="")
    p.add_argument("--setting", default="")
    p.add_argument("--lossy", action="store_true",
                   help="pack WebP q88 (16 MB instead of 89, fits a device call) but the features move ~30 %% and the "
                        "frozen row loses ~10 mAP points (ADR decision 21): compare rows of one pack only")
    p.add_argument("--quick", action="store_true", help="a few images, one epoch: checks the code")
    p.add_argument("--epochs", type=int, default=EPOCHS, help="fewer on the CPU (about 0.85 s per image and epoch)")
    p.add_argument("--splits", default="", help="comma-separated subset of heldout,cv0,cv1,cv2 (default all)")
    p.add_argument("--deadline", type=float, default=540, help="seconds before the table is printed regardless")
    a = p.parse_args()
    if a.what == "pack":
        return pack(a.pack, a.lossy)
    os.makedirs(a.out, exist_ok=True)
    if a.what == "one":
        return run_setting(a.setting, a.pack, a.out, a.quick, a.epochs, tuple(filter(None, a.splits.split(","))))
    # one process per setting, all at once (each is launch-bound at batch 8; the GPU interleaves them)
    t0 = time.time()
    procs = [subprocess.Popen([sys.executable, __file__, "one", a.pack, "--out", a.out, "--setting", s]
                              + (["--quick"] if a.quick else [])) for s in SETTINGS]
    while any(q.poll() is None for q in procs) and time.time() - t0 < a.deadline:
        time.sleep(5)
    for q in procs:
        if q.poll() is None:
            q.kill()
    print(f"{time.time() - t0:.0f} s; exit codes {[q.returncode for q in procs]}")
    t = table(a.out)
    print(t)
    open(os.path.join(a.out, "table.md"), "w").write(t + "\n")


if __name__ == "__main__":
    main()
