"""The image head: a second linear classifier beside the peak-stimulation head, on the global max of the head's
input features. Its logit is added to the class score (the mean CRM value at the peaks); the CRM, its peaks and
everything localised from them stay the class head's. docs/adr/backbone-efficientnet-lite.md decision 19:
in nested 5-fold CV over the dev images the sum beats either score alone in every fold.

Trained on image-level tags only: L2 logistic regression on standardised features (both flips of each image),
the standardisation then folded into the weights, so the engine computes w · max(features) + b.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


# The image logit's weight in the class score is chosen from this grid by 3-fold CV on the training split
# (0 = no image head).
BLEND_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
C_REG = 1.0  # inverse L2 strength per sample, as scikit-learn's C
IMAGE_HEAD_RECIPE = ("L2 logistic regression (C 1, LBFGS) on the standardised global max of the head's input features, "
                     "both flips of each training image; its logit times the weight chosen by 3-fold CV on the training "
                     "split is added to the class score; its bias puts each class's F1-optimal threshold of the summed "
                     "score (class head's + out-of-fold image logits) at the bundle's class-score threshold")


def global_max(f: torch.Tensor) -> torch.Tensor:
    """[D,h,w] features -> [D]."""
    return f.flatten(1).amax(1)


def fit_image_head(fc, imgs, C: float = C_REG) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight [K,D], bias [K]) on raw max-pooled features of `imgs` (plain and mirrored)."""
    X = torch.stack([global_max(fc.get(i, fl)) for i in imgs for fl in (False, True)])
    Y = torch.stack([torch.from_numpy(i.labels) for i in imgs for _ in (False, True)])
    mu, sd = X.mean(0), X.std(0) + 1e-3
    Z, n = (X - mu) / sd, len(X)
    w = torch.zeros(Y.shape[1], X.shape[1], requires_grad=True)
    b = torch.zeros(Y.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=500, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (F.binary_cross_entropy_with_logits(Z @ w.T + b, Y, reduction="sum") + (w ** 2).sum() / (2 * C)) / n
        loss.backward()
        return loss
    opt.step(closure)
    w = w.detach() / sd
    return w, b.detach() - w @ mu


def image_logits(fc, imgs, w, b) -> np.ndarray:
    """[N,K] image-head logits of `imgs` (unflipped, as the engine sees them)."""
    with torch.no_grad():
        return torch.stack([w @ global_max(fc.get(i)) + b for i in imgs]).numpy()


def choose_blend(fc, imgs, fit_peak_head, mean_ap) -> tuple[float, np.ndarray, list[float]]:
    """The weight of BLEND_GRID with the best mean 3-fold CV mAP of peak + a · image on `imgs`, the out-of-fold
    image logits [N,K] (for calibrating the image bias: in-sample logits of a near-separable fit are
    overconfident) and the CV mAP per grid weight. `fit_peak_head(fit) -> (hw, hb)` trains the class head."""
    from .train import cv_splits, peak_scores
    index = {id(im): n for n, im in enumerate(imgs)}
    oof = np.zeros((len(imgs), len(imgs[0].labels)), np.float32)
    folds = []
    for fit, test in cv_splits(imgs, 3):
        p = peak_scores(fc, test, *fit_peak_head(fit))
        q = image_logits(fc, test, *fit_image_head(fc, fit))
        oof[[index[id(i)] for i in test]] = q
        folds.append((p, q, np.stack([i.labels for i in test])))
    cv = [float(np.mean([mean_ap(p + a * q, y) for p, q, y in folds])) for a in BLEND_GRID]
    return BLEND_GRID[int(np.argmax(cv))], oof, cv
