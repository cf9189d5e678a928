"""Head training on image-level labels with peak stimulation, and held-out evaluation.

The backbone is frozen, so its fire9 features are computed once per image (and its mirror image)
and cached; an epoch then only runs the 1×1 head, which keeps the whole build within minutes on CPU.
"""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .classes import VOC
from .data import DevImage, input_size, load_rgb, to_input
from .image_head import BLEND_GRID, IMAGE_HEAD_RECIPE, choose_blend, fit_image_head, global_max
from .prm import peak_stimulation

# CRM_OFFSET: the geometric centre of a cell's receptive field in both backbones (cell i at 16 i + 15.5); where a
# backbone's maps actually respond is measured (backbones.crm_centre).
CRM_OFFSET, STRIDE = 15.5, 16
# The head recipe of `kit.py build` (docs/adr/backbone-efficientnet-lite.md decision 9); experiments reuse it.
HEAD_RECIPE = {"lam": 0.1, "epochs": 8, "lr": 0.01, "seed": 0}


class FeatureCache:
    """The head's input features [D,h,w] (float16) per dev image, plain and mirrored, on disk and in memory.
    `backbone(x)[0]` gives them for an input tensor made per `pre` (manifest.preprocess); `name` keeps
    caches of different backbones apart; `centre` is where the backbone's CRM cells sit (cell i at input pixel
    16 i + centre)."""

    def __init__(self, backbone, images: list[DevImage], cache_dir: str, flips: bool = False,
                 pre: dict | None = None, name: str = "", *, centre: float):
        self.centre = centre
        if name:
            cache_dir = os.path.join(cache_dir, name)
        os.makedirs(cache_dir, exist_ok=True)
        self.feats: dict[tuple[str, bool], torch.Tensor] = {}
        self.sizes: dict[str, tuple[int, int]] = {}
        t0, n_new = time.time(), 0
        for im in images:
            size = input_size(im.width, im.height)
            self.sizes[im.key] = size
            for flip in ((False, True) if flips else (False,)):
                tag = hashlib.sha1(f"{im.key}|{size}|{flip}|v1".encode()).hexdigest()[:16]
                path = os.path.join(cache_dir, f"{tag}.npy")
                if os.path.isfile(path):
                    f = np.load(path)
                else:
                    rgb = load_rgb(im.file, size)
                    if flip:
                        rgb = rgb[:, ::-1]
                    with torch.no_grad():
                        f = np.asarray(backbone(torch.from_numpy(to_input(rgb, pre)))[0][0]).astype(np.float16)
                    np.save(path, f)
                    n_new += 1
                self.feats[(im.key, flip)] = torch.from_numpy(np.asarray(f, np.float16))
        if n_new:
            print(f"features: {n_new} computed in {time.time() - t0:.0f} s")

    def get(self, im: DevImage, flip: bool = False) -> torch.Tensor:
        return self.feats[(im.key, flip)].float()


def _crm(f, hw, hb):
    return F.conv2d(f[None], hw[:, :, None, None], hb)


def peak_scores(fc, imgs, hw, hb) -> np.ndarray:
    """[N,K] peak-stimulation class scores of `imgs` (unflipped)."""
    with torch.no_grad():
        return torch.cat([peak_stimulation(_crm(fc.get(i), hw, hb)) for i in imgs]).numpy()


def _fit(fc, imgs, hw0, hb0, lam, epochs, lr, seed, flips=True, log=False, pool=peak_stimulation,
         bias_lam=None, extra_loss=None):
    """Head = ImageNet-group init + delta; loss = multilabel soft-margin on the class scores `pool(crm)`
    (peak stimulation in the kit) + lam · ||weights − init||² + bias_lam · ||bias − init||² (bias_lam = lam in
    the kit; small data: stay near the init unless the labels say otherwise). Experiments may add
    `extra_loss(image, hw, hb)` to each image's loss."""
    bias_lam = lam if bias_lam is None else bias_lam
    w0, b0 = torch.as_tensor(hw0), torch.as_tensor(hb0)
    hw, hb = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    opt = torch.optim.SGD([hw, hb], lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    batch, t0 = 8, time.time()
    for ep in range(epochs):
        order = torch.randperm(len(imgs), generator=g).tolist()
        flip = torch.randint(0, 2, (len(imgs),), generator=g).tolist()
        total = 0.0
        for s in range(0, len(order), batch):
            opt.zero_grad()
            part = order[s:s + batch]
            loss = sum(F.multilabel_soft_margin_loss(
                pool(_crm(fc.get(imgs[j], flips and bool(flip[j])), hw, hb)),
                torch.from_numpy(imgs[j].labels)[None]) for j in part)
            if extra_loss is not None:
                loss = loss + sum(extra_loss(imgs[j], hw, hb) for j in part)
            loss = loss / len(part)
            total += float(loss) * len(part)
            (loss + lam * ((hw - w0) ** 2).sum() + bias_lam * ((hb - b0) ** 2).sum()).backward()
            opt.step()
        sched.step()
        if log and (ep % 5 == 4 or ep == epochs - 1):
            print(f"epoch {ep + 1}/{epochs} loss {total / len(imgs):.4f} ({time.time() - t0:.0f} s)")
    return hw.detach(), hb.detach()


def train_head(images: list[DevImage], hw0, hb0, fc: FeatureCache):
    """Trains every row of the head on the training split and reports the held-out split. (Keeping, class by
    class, whichever of trained and ImageNet-group row won a 3-fold CV did worse in nested CV on the
    EfficientNet features: docs/adr/backbone-efficientnet-lite.md.)"""
    from .build import print_metrics
    lam, epochs, lr, seed = (HEAD_RECIPE[k] for k in ("lam", "epochs", "lr", "seed"))
    train = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    hw0, hb0 = torch.as_tensor(hw0), torch.as_tensor(hb0)
    before = evaluate_heldout(fc, held, hw0, hb0)
    print("held-out, ImageNet-group head (no training):")
    print_metrics(before)
    hw, hb = _fit(fc, train, hw0, hb0, lam, epochs, lr, seed, log=True)
    after = evaluate_heldout(fc, held, hw, hb)
    print("held-out, trained head:")
    print_metrics(after)
    hb, cal = _calibrate_biases(fc, train, hw, hb)
    thr = 0.0  # the class-score threshold calibration aims at (the manifest's)
    image_head, blend = train_image_head(fc, train, hw0, hb0, hw, hb, calibrate_to=thr)
    with_image = evaluate_heldout(fc, held, hw, hb, image_head=image_head) if image_head else after
    if image_head:
        print(f"held-out, class head + image head (weight {blend['weight']}):")
        print_metrics(with_image)
    metrics = {
        "split": "dev images (pennfudan, coco-mini, balloon); held out: sha1(dataset/file)[:8] % 4 == 0",
        "trainImages": len(train), "heldoutImages": len(held),
        "heldout": _public(with_image), "heldoutClassHeadOnly": _public(after), "heldoutImageNetInit": _public(before),
        "biasCalibration": cal, "imageHead": blend,
        **pointwise_definitions(fc.centre),
    }
    peaks_cfg = {"window": 3, "threshold": "median", "subPixelFactor": 1, "classScoreThreshold": thr}
    extra = {"training": {
        "what": "every class head row trained on image-level labels (backbone frozen), from the ImageNet-group "
                "initialisation",
        "data": "image-level labels (category present / absent) from the dev COCO files of the training split; "
                "instance masks never read, boxes only for evaluation",
        "loss": f"multilabel soft-margin on peak-stimulation class scores + {lam}*||head - init||^2",
        "optimizer": f"SGD momentum 0.9, lr {lr} cosine, {epochs} epochs, batch 8, random horizontal flips, "
                     f"seed {seed}",
        "calibration": "per-class bias shift so that the class-score threshold 0 is each class's F1-optimal "
                       "threshold on the training split (AP and localisation unchanged)",
        "imageHead": IMAGE_HEAD_RECIPE}}
    return hw.numpy(), hb.numpy(), metrics, peaks_cfg, extra, image_head


def train_image_head(fc, train, hw0, hb0, hw, hb, calibrate_to: float):
    """The image head beside the class head (hw, hb) (weight and bias already times their blend weight), or None
    when 3-fold CV on the training split keeps the class score alone; and what the manifest says of the choice.
    Its bias puts each class's F1-optimal threshold of the summed score (class head's + out-of-fold image
    logits) at `calibrate_to`, the threshold the engine applies to every class."""
    a, oof, cv = choose_blend(fc, train, lambda fit: _fit(fc, fit, hw0, hb0, **HEAD_RECIPE), mean_average_precision)
    blend = {"weight": a, "cvMeanAPByWeight": {str(w): round(m, 4) for w, m in zip(BLEND_GRID, cv)},
             "calibratedTo": calibrate_to}
    print(f"image head: 3-fold CV mAP by weight {blend['cvMeanAPByWeight']} -> {a}")
    if a == 0:
        return None, blend
    iw, ib = fit_image_head(fc, train)
    s = peak_scores(fc, train, hw, hb) + a * oof
    t = f1_thresholds(s, np.stack([i.labels for i in train])) - calibrate_to
    return (a * iw, a * ib - torch.from_numpy(t)), blend


def pointwise_definitions(centre: float) -> dict:
    """What the manifest's metrics say the pointwise numbers are."""
    return {
        "pointwiseDefinition": "for each held-out (image, present VOC class): the CRM argmax cell centre "
                               f"(16*i+{centre:g} px, the bundle's crmGeometry, scaled to the original image) lies "
                               "inside a GT box of that class",
        "pointwiseAPDefinition": "pointwiseAP18: the PRM paper's pointwise localisation (Oquab et al. 2015), per class "
                                 "images ranked by class score, a true positive is an image with the class whose argmax "
                                 "lies within 18 px of one of its boxes, mean over the classes present"}


def _public(m):
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()
            if k not in ("perClassAP", "perClassPointwise")} | {
        "perClassAP": {k: round(v, 4) for k, v in m["perClassAP"].items()},
        "perClassPointwise": {k: f"{h}/{p}" for k, (h, p) in m["perClassPointwise"].items()}}


def _calibrate_biases(fc, imgs, hw, hb):
    """Shifts each class's bias so that one class-score threshold (0) fits every class: the class score is
    the mean CRM value at its peaks, so a bias shift moves it 1:1 and leaves AP and the CRM argmax as they
    were."""
    t = f1_thresholds(peak_scores(fc, imgs, hw, hb), np.stack([i.labels for i in imgs]))
    return hb - torch.from_numpy(t), {VOC[c]: round(-float(t[c]), 4) for c in range(len(VOC))}


def f1_thresholds(s: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per class, the score threshold with the best F1 of 'class present' over the rows of s [N,K] (thresholds
    just under a positive's score; a class without positives: just above its highest score)."""
    y = labels > 0
    out = np.zeros(s.shape[1], np.float32)
    for c in range(s.shape[1]):
        sc, yc = s[:, c], y[:, c]
        if not yc.any():
            out[c] = float(sc.max()) + 0.1
            continue
        best = -1.0
        for cand in np.unique(sc[yc]):
            p = sc >= cand
            f1 = 2 * float((p & yc).sum()) / max(1.0, p.sum() + yc.sum())
            if f1 > best:
                best, out[c] = f1, float(cand) - 1e-3
    return out


def cell_centre(im: DevImage, size: tuple[int, int], y: float, x: float, centre: float) -> tuple[float, float]:
    """(y, x) in the original image of the centre of class-map cell (y, x) (fractional cells allowed) of an
    input of size (W, H), cell i sitting at input pixel 16 i + centre."""
    return (STRIDE * y + centre) * im.height / size[1], (STRIDE * x + centre) * im.width / size[0]


def cv_splits(images: list, k: int) -> list[tuple[list, list]]:
    """k (fit, test) pairs for cross-validation: the n-th image is tested in fold n % k."""
    folds = [images[f::k] for f in range(k)]
    return [([i for g, fold in enumerate(folds) if g != f for i in fold], folds[f]) for f in range(k)]


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    y = labels[order] > 0
    tp = np.cumsum(y)
    prec = tp / np.arange(1, len(y) + 1)
    return float((prec * y).sum() / max(1, y.sum()))


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes with a positive of the AP of scores [N,K] against labels [N,K]."""
    return float(np.mean([average_precision(scores[:, c], labels[:, c]) for c in range(labels.shape[1])
                          if labels[:, c].sum() > 0]))


def _in_box(y, x, boxes, tol):
    for bx, by, bw, bh in boxes:
        if bx - tol <= x <= bx + bw + tol and by - tol <= y <= by + bh + tol:
            return True
    return False


def evaluate_heldout(fc: FeatureCache, held: list[DevImage], hw, hb, pool=peak_stimulation,
                     image_head=None) -> dict:
    """The kit's held-out metrics for a head on cached features: class scores `pool(crm)` (peak stimulation in
    the kit) plus, with an image head (w, b), its logits; the raw map."""
    def maps(im):
        f = fc.get(im)
        crm = _crm(f, hw, hb)
        score = pool(crm)[0]
        if image_head is not None:
            score = score + image_head[0] @ global_max(f) + image_head[1]
        return score, crm[0]
    return evaluate_maps(held, fc.sizes, maps, fc.centre)


def headline(m: dict) -> tuple[float, float, float]:
    """(mAP, pointwise, pointwise ±18 px) of an evaluate_maps result, as fractions."""
    return m["mAP"], m["pointwise"], m["pointwiseTol18"]


def evaluate_maps(imgs: list[DevImage], sizes: dict, maps, centre: float) -> dict:
    """Classification AP per class over `imgs` and pointwise localisation: `maps(im)` gives the class scores
    [C] and class maps [C,h,w] on the stride-16 grid of the input size `sizes[im.key]` (cell i at input pixel
    16 i + centre); for each present class, a hit is the map's argmax cell centre inside a GT box of the class
    (strict, and within 18 px)."""
    scores, labels, located = [], [], []
    hits = hits18 = pairs = 0
    per_cls: dict[str, tuple[int, int]] = {}
    with torch.no_grad():
        for im in imgs:
            score, crm = maps(im)
            scores.append(np.asarray(score))
            labels.append(im.labels)
            located.append(np.zeros(len(im.labels), bool))
            for c in np.nonzero(im.labels)[0]:
                yy, xx = cell_centre(im, sizes[im.key], *divmod(int(crm[c].argmax()), crm.shape[-1]), centre)
                pairs += 1
                hit = _in_box(yy, xx, im.boxes[c], 0)
                hits += hit
                h_, p_ = per_cls.get(VOC[c], (0, 0))
                per_cls[VOC[c]] = (h_ + int(hit), p_ + 1)
                located[-1][c] = _in_box(yy, xx, im.boxes[c], 18)
                hits18 += located[-1][c]
    scores, labels, located = np.stack(scores), np.stack(labels), np.stack(located)
    ap = {VOC[c]: average_precision(scores[:, c], labels[:, c]) for c in range(len(VOC)) if labels[:, c].sum() > 0}
    return {"images": len(imgs), "mAP": float(np.mean(list(ap.values()))), "apClasses": len(ap),
            "perClassAP": ap, "pointwise": hits / max(1, pairs), "pointwiseTol18": hits18 / max(1, pairs),
            "pointwisePairs": pairs, "perClassPointwise": per_cls,
            "pointwiseAP18": pointwise_map(scores, labels, located)}


def pointwise_map(scores: np.ndarray, labels: np.ndarray, located: np.ndarray) -> float:
    """The pointwise localisation metric of Oquab et al. 2015 as the PRM paper reports it (mAP over classes):
    per class, images ranked by class score; a true positive is an image with the class whose map argmax lies
    within 18 px of one of its boxes (`located`); every other image in the ranking is a false positive, and
    recall is over all images with the class, so a mislocalised positive is never recovered."""
    present = labels > 0
    hits = located & present
    # the AP of the hits as positives, rescaled so that recall counts every image with the class
    return float(np.mean([average_precision(scores[:, c], hits[:, c]) * hits[:, c].sum() / present[:, c].sum()
                          for c in range(labels.shape[1]) if present[:, c].any()]))
