"""Exploration for issue 11: does the pooling the head is *trained* with change what it learns? Decision 12 of
docs/adr/backbone-efficientnet-lite.md varied only the test-time score of a head trained with peak
stimulation. Here each pooling both trains the head (the kit's recipe otherwise) and scores it: global max,
top-k mean, log-sum-exp, global average (CAM), and WILDCAT's top-k + α · bottom-k (negative evidence: the
map must also be low somewhere, which may keep it off context). Pointwise localisation reads the argmax as
the kit does. 5-fold CV over all dev images, as backbone_variants.py --pooled.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/pooling_sweep.py [efficientnet-lite0] [--poolings peak,max,...]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402
import torch  # noqa: E402

from backbone_variants import ROOT, backbone_and_values, cv_rows, features, mean_sd_cells  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _fit, evaluate_heldout, headline  # noqa: E402


def _sorted_cells(crm):
    return crm.flatten(2).sort(dim=2, descending=True).values


def _topk(crm, frac):
    s = _sorted_cells(crm)
    return s[..., :max(1, int(round(frac * s.shape[-1])))].mean(-1)


def _wildcat(crm, frac=0.1, alpha=0.7):
    s = _sorted_cells(crm)
    k = max(1, int(round(frac * s.shape[-1])))
    return s[..., :k].mean(-1) + alpha * s[..., -k:].mean(-1)


POOLINGS = {
    "peak": peak_stimulation,                                   # the kit's
    "max": lambda crm: crm.amax((2, 3)),
    "top5": lambda crm: _topk(crm, 0.05),
    "top10": lambda crm: _topk(crm, 0.1),
    "top20": lambda crm: _topk(crm, 0.2),
    "lse5": lambda crm: torch.logsumexp(5 * crm.flatten(2), -1) / 5 - np.log(crm[0, 0].numel()) / 5,
    "mean": lambda crm: crm.mean((2, 3)),
    "wildcat": _wildcat,
}


def main():
    backbone, names = backbone_and_values("poolings", ",".join(POOLINGS), str)
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(backbone, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    fit_split = [i for i in images if not i.heldout]
    held = [i for i in images if i.heldout]
    print(f"| {backbone}: pooling (train and score) | 5-fold CV: mAP | pointwise | ±18 px | mAP per fold | "
          f"held-out quarter |\n|---|---|---|---|---|---|")
    for name in names:
        pool = POOLINGS[name]
        rows = cv_rows(fc, images, 5, w0, b0, pool)
        h = np.array(headline(evaluate_heldout(fc, held, *_fit(fc, fit_split, w0, b0, **HEAD_RECIPE, pool=pool),
                                               pool=pool))) * 100
        folds = " / ".join(f"{v:.1f}" for v in rows[:, 0] * 100)
        print(f"| {name} | {mean_sd_cells(rows)} | {folds} | {h[0]:.1f} / {h[1]:.1f} / {h[2]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
