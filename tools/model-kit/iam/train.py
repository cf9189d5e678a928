"""Prepare pseudo masks and train the IAM filling module on the dev splits' training part (CPU).

    prepare: training images → engine proposals (export-proposals.ts) → bundle features, peaks of the
             tagged classes, PRMs → per PRM the top-k proposal candidates → work/iam/cache/<set>/<key>.npz
    train:   each step one image and up to max_prms of its peaks; the IAM's input is the peak's stride-16
             seed map (seeds.py, on the cached features, as iam.onnx computes it), its
             target one of the k candidates (chosen with the full-resolution PRM) drawn at random (the
             IAM paper's sampling); binary cross-entropy on the proposal grid.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from .data import WORK, Bundle, Item, export_proposals, find_peaks, proposals_path, pseudo_candidates, read_plpr, runs_to_mask
from .model import InstanceExtentFilling

CACHE = os.path.join(WORK, "cache")
FEATURES = ("features_s4", "features_s8", "features")
SELECTION = ("k", "min_overlap", "alpha", "tau")  # stored with each cache file
# k and the 0.2 overlap are the IAM paper's; τ cuts the blurred PRM support (data.prm_support); α and the
# peak selection are the engine's
# (src/common/retrieval.ts DEFAULT_RETRIEVAL, src/main/engine/manifest.ts), overridden like the engine
# does by the manifest's `retrieval` section and retrieval.json.
DEFAULTS = {"k": 5, "min_overlap": 0.2, "alpha": 0.8, "tau": 0.2, "peak_rel": 0.3, "max_peaks": 24, "train_peaks": 8}


def pseudo_config(bundle: Bundle) -> dict:
    cfg = dict(DEFAULTS)
    tuned = os.path.join(bundle.dir, "retrieval.json")
    for src in (bundle.manifest.get("retrieval") or {}, json.load(open(tuned)) if os.path.isfile(tuned) else {}):
        for ours, theirs in (("alpha", "alpha"), ("peak_rel", "peakRelThreshold"), ("max_peaks", "maxPeaks")):
            if isinstance(src.get(theirs), (int, float)):
                cfg[ours] = src[theirs]
    return cfg


def cache_path(it: Item, bundle_key: str) -> str:
    """Per bundle (PRMs change with the class head) and image."""
    return os.path.join(CACHE, bundle_key, it.set, f"{it.key}.npz")


def bundle_key(bundle: Bundle) -> str:
    """PRMs and features are functions of the class head and the backbone weights (prm.onnx re-exports
    of the same rule may differ in bytes, so it is not part of the key)."""
    h = hashlib.sha256(open(os.path.join(bundle.dir, bundle.manifest["head"]["file"]), "rb").read())
    h.update(open(os.path.join(bundle.dir, bundle.manifest["graphs"]["backbone"]["file"]), "rb").read())
    return h.hexdigest()[:12]


PSEUDO_MASKS = ("prm", "segmenter")  # prepare's PRM-picked proposals, or segmenter_masks.py's masks


def training_key(bundle: Bundle, pseudo_masks: str = "prm") -> str:
    """The cache a training run reads: the recipe's, or its copy with segmenter pseudo masks."""
    return bundle_key(bundle) if pseudo_masks == "prm" else f"{bundle_key(bundle)}-{pseudo_masks}"


def prepare(bundle: Bundle, items: list[Item], cfg: dict, log=print) -> dict:
    """Pseudo-mask candidates for every PRM of every training image; returns counts for the model card."""
    export_proposals(items, os.path.join(bundle.dir, "manifest.json"))
    key = bundle_key(bundle)
    stats = {"images": 0, "prms": 0, "prmsWithCandidates": 0, "candidates": 0}
    t0 = time.time()
    for n, it in enumerate(items):
        out = cache_path(it, key)
        rec = read_plpr(proposals_path(it))
        if os.path.isfile(out):
            z = dict(np.load(out))
            if all(float(z.get(f"cfg_{n}", -1)) == float(cfg[n]) for n in SELECTION):
                stats["images"] += 1
                stats["prms"] += int(z["prm"].shape[0])
                stats["prmsWithCandidates"] += int((z["cand_count"] > 0).sum())
                stats["candidates"] += int(z["cand_count"].sum())
                continue
            # Same PRMs and features, other selection parameters: only the candidates are chosen again.
            prms, pk = z["prm"].astype(np.float32), z["peaks"]
            feats = {n: z[n][None] for n in FEATURES}
        else:
            image = bundle.image_tensor(rec.rgb)
            feats = bundle.features(image)
            crm = feats["crm"][0]
            peaks = []
            for c in it.classes:
                peaks += [(v, c, y, x) for v, y, x in find_peaks(crm[c], cfg["peak_rel"])]
            # The strongest peaks only: PRMs cost time here and the weak ones repeat the same instances.
            peaks = sorted(peaks, reverse=True)[: min(cfg["max_peaks"], cfg["train_peaks"])]
            if not peaks:
                continue
            pk = np.array([[c, y, x] for _, c, y, x in peaks], np.float32)
            prms = bundle.prms(image, pk)
        chosen, counts = [], []
        for prm in prms:
            cands = pseudo_candidates(prm, rec, cfg["alpha"], cfg["tau"], cfg["k"], cfg["min_overlap"])
            chosen.append([i for i, _, _ in cands])
            counts.append(len(cands))
        uniq = sorted({i for c in chosen for i in c})
        masks = np.stack([runs_to_mask(rec.masks[i], rec.grid) for i in uniq]) if uniq else np.zeros((0, *rec.grid), bool)
        index = {p: j for j, p in enumerate(uniq)}
        cand = np.full((len(prms), cfg["k"]), -1, np.int32)
        for r, c in enumerate(chosen):
            cand[r, : len(c)] = [index[i] for i in c]
        os.makedirs(os.path.dirname(out), exist_ok=True)
        np.savez(out, prm=prms.astype(np.float16), peaks=pk, cand=cand, cand_count=np.array(counts, np.int32),
                 masks=np.packbits(masks, axis=-1), grid=np.array(rec.grid, np.int32),
                 **{n: feats[n][0].astype(np.float16) for n in FEATURES},
                 **{f"cfg_{n}": np.float64(cfg[n]) for n in SELECTION})
        stats["images"] += 1
        stats["prms"] += len(prms)
        stats["prmsWithCandidates"] += sum(1 for c in counts if c)
        stats["candidates"] += sum(counts)
        log(f"prepare {n + 1}/{len(items)} {it.set}/{it.key}: {len(prms)} PRMs, "
            f"{sum(1 for c in counts if c)} with candidates ({time.time() - t0:.0f} s)")
    return stats


class _Sample:
    """One cached training image, loaded per step (PRMs and features are several MB each); its stride-16
    seeds (seeds.py) are computed once (small)."""

    def __init__(self, path: str, seed_net, head_w: torch.Tensor, head_b: torch.Tensor):
        self.path = path
        with np.load(path) as z:
            self.count = z["cand_count"]
            with torch.no_grad():
                s8 = torch.from_numpy(z["features_s8"][None].astype(np.float32))
                f16 = torch.from_numpy(z["features"][None].astype(np.float32))
                self.prm16 = seed_net(s8, f16, head_w, head_b, torch.from_numpy(z["peaks"])).numpy()
        self.n = int((self.count > 0).sum())

    def load(self):
        z = np.load(self.path)
        keep = np.nonzero(z["cand_count"] > 0)[0]
        grid = tuple(int(v) for v in z["grid"])
        masks = np.unpackbits(z["masks"], axis=-1, count=grid[1]).astype(bool)
        return z, keep, grid, masks


def _crop_box(peaks: np.ndarray, h: int, w: int, size: int, rng: random.Random, offset: float, stride: int = 16):
    """A size×size window (input px, aligned to the stride) around a random peak; the whole image when smaller.
    CRM cell i is centred on input pixel stride·i + offset (the manifest's crmGeometry)."""
    ch, cw = min(size, h), min(size, w)
    _, y, x = peaks[rng.randrange(len(peaks))]
    cy, cx = y * stride + offset, x * stride + offset
    y0 = int(np.clip(cy - ch / 2 + rng.uniform(-ch / 4, ch / 4), 0, h - ch)) // stride * stride
    x0 = int(np.clip(cx - cw / 2 + rng.uniform(-cw / 4, cw / 4), 0, w - cw)) // stride * stride
    return y0, x0, ch, cw


def samples_of(bundle: Bundle, items: list[Item], seed_net, pseudo_masks: str) -> list[_Sample]:
    key = training_key(bundle, pseudo_masks)
    w, b = torch.from_numpy(bundle.head_w), torch.from_numpy(bundle.head_b)
    paths = [cache_path(it, key) for it in items if os.path.isfile(cache_path(it, key))]
    return [s for s in (_Sample(p, seed_net, w, b) for p in paths) if s.n]


def train(bundle: Bundle, items: list[Item], seed_net, *, epochs: int, max_prms: int = 6, crop: int = 320, lr: float = 2e-3,
          seed: int = 0, time_limit_s: float | None = None, pseudo_masks: str = "prm", log=print) -> tuple[InstanceExtentFilling, dict]:
    """Steps of one image: a crop×crop window (aligned to stride 16, so the features crop exactly) around a
    random peak, up to max_prms PRMs whose peaks lie in it, each with one of its candidates drawn at random."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    offset = float((bundle.manifest.get("crmGeometry") or {}).get("centerOffset", 7.5))
    samples = samples_of(bundle, items, seed_net, pseudo_masks)
    net = InstanceExtentFilling(channels=bundle.feature_channels())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs * len(samples)))
    t0 = time.time()
    step, done_epochs, history = 0, 0, []
    for ep in range(epochs):
        rng.shuffle(samples)
        net.train()
        total = 0.0
        for s in samples:
            z, keep, grid, masks = s.load()
            H, W = z["prm"].shape[1:]
            peaks = z["peaks"][keep]
            y0, x0, ch, cw = _crop_box(peaks, H, W, crop, rng, offset) if crop else (0, 0, H, W)
            inside = [j for j, (_, y, x) in enumerate(peaks)
                      if y0 <= y * 16 + offset < y0 + ch and x0 <= x * 16 + offset < x0 + cw]
            rng.shuffle(inside)
            idx = [int(keep[j]) for j in inside[:max_prms]]
            prm = torch.from_numpy(s.prm16[idx, y0 // 16:(y0 + ch + 15) // 16, x0 // 16:(x0 + cw + 15) // 16])[:, None]
            f = []
            for n, st in zip(FEATURES, (4, 8, 16)):
                a = z[n]
                f.append(torch.from_numpy(a[None, :, y0 // st:(y0 + ch + st - 1) // st, x0 // st:(x0 + cw + st - 1) // st].astype(np.float32)))
            gy0, gy1 = round(y0 * grid[0] / H), round((y0 + ch) * grid[0] / H)
            gx0, gx1 = round(x0 * grid[1] / W), round((x0 + cw) * grid[1] / W)
            cand, count = z["cand"], z["cand_count"]
            target = np.stack([masks[cand[i, rng.randrange(int(count[i]))], gy0:gy1, gx0:gx1] for i in idx]).astype(np.float32)
            target = torch.from_numpy(target)[:, None]
            logits = net.logits(prm, *f)
            logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
            loss = F.binary_cross_entropy_with_logits(logits, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss)
            step += 1
            if step % 20 == 0:
                log(f"  step {step}: loss {float(loss):.4f} ({time.time() - t0:.0f} s)")
        done_epochs += 1
        history.append(round(total / max(1, len(samples)), 4))
        log(f"epoch {ep + 1}/{epochs}: loss {history[-1]:.4f} ({time.time() - t0:.0f} s)")
        if time_limit_s and time.time() - t0 > time_limit_s:
            log(f"time limit reached after {done_epochs} epochs")
            break
    net.eval()
    record = {"epochs": done_epochs, "steps": step, "images": len(samples), "prms": int(sum(s.n for s in samples)),
              "maxPrmsPerStep": max_prms, "cropPx": crop, "optimizer": f"Adam lr {lr}, cosine to 0 over the planned epochs",
              "lossPerEpoch": history, "seconds": round(time.time() - t0, 1), "device": "cpu",
              "threads": torch.get_num_threads()}
    return net, record


def choose_threshold(net: InstanceExtentFilling, bundle: Bundle, items: list[Item], seed_net, pseudo_masks: str = "prm",
                     max_images: int = 60, grid=tuple(round(t, 2) for t in np.arange(0.05, 0.651, 0.05)), log=print) -> tuple[float, dict]:
    """The IAM threshold that best reproduces the pseudo masks (each PRM's top-ranked candidate) on whole
    training images: mean IoU on the proposal grid. BCE against k varying candidates leaves the IAM
    under-confident, so 0.5 is not the natural cut. No instance masks are involved."""
    samples = samples_of(bundle, items[: max_images * 2], seed_net, pseudo_masks)[:max_images]
    ious = {t: [] for t in grid}
    net.eval()
    for s in samples:
        z = np.load(s.path)
        keep = np.nonzero(z["cand_count"] > 0)[0][:4]
        g = tuple(int(v) for v in z["grid"])
        masks = np.unpackbits(z["masks"], axis=-1, count=g[1]).astype(bool)
        prm = torch.from_numpy(s.prm16[keep])[:, None]
        f = [torch.from_numpy(z[n][None].astype(np.float32)) for n in FEATURES]
        with torch.no_grad():
            iam = F.interpolate(net(prm, *f), size=g, mode="bilinear", align_corners=False)[:, 0].numpy()
        for j, i in enumerate(keep):
            target = masks[z["cand"][i, 0]]
            for t in grid:
                m = iam[j] >= t
                union = np.count_nonzero(m | target)
                ious[t].append(np.count_nonzero(m & target) / union if union else 0.0)
    mean = {t: float(np.mean(v)) if v else 0.0 for t, v in ious.items()}
    best = max(mean, key=mean.get)
    log("threshold vs mean IoU with pseudo masks: " + ", ".join(f"{t}: {v:.3f}" for t, v in mean.items()))
    return best, {"chosenOn": f"{len(samples)} training images, top pseudo mask per PRM (no instance masks)",
                  "meanIoUWithPseudoMasks": {str(t): round(v, 4) for t, v in mean.items()}}
