"""Exploration for issue 11 (docs/adr/backbone-efficientnet-lite.md decision 19): can the image head's weights also
localise? Its per-cell map (image-head weights applied to each cell's features, a CAM) is added to the class
head's CRM with weight a before the argmax is read; a = None scores the image-head map alone. Pointwise
localisation (strict and ±18 px), 5-fold CV over all dev images; class scores are irrelevant here.

  KIT_THREADS=2 .venv/bin/python tools/model-kit/experiments/image_head_localisation.py [efficientnet-lite0]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np  # noqa: E402

from backbone_variants import ROOT, features  # noqa: E402
from peaklabel_kit.data import load_dev_images  # noqa: E402
from peaklabel_kit.image_head import fit_image_head  # noqa: E402
from peaklabel_kit.prm import peak_stimulation  # noqa: E402
from peaklabel_kit.train import HEAD_RECIPE, _crm, _fit, cv_splits, evaluate_maps  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.5, 1.0, None)


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "efficientnet-lite0"
    images = load_dev_images(os.path.join(ROOT, "..", "shared"))
    fc, w0, b0 = features(name, images, os.path.join(ROOT, "test-output", "model-kit-cache"))
    rows = {a: [] for a in WEIGHTS}
    for fit, test in cv_splits(images, 5):
        hw, hb = _fit(fc, fit, w0, b0, **HEAD_RECIPE)
        iw, ib = fit_image_head(fc, fit)
        for a in WEIGHTS:
            def maps(im, a=a):
                f = fc.get(im)
                crm, cam = _crm(f, hw, hb)[0], _crm(f, iw, ib)[0]
                return peak_stimulation(crm[None])[0], cam if a is None else crm + a * cam
            r = evaluate_maps(test, fc.sizes, maps, fc.centre)
            rows[a].append((100 * r["pointwise"], 100 * r["pointwiseTol18"]))
    print(f"| {name}: map whose argmax is read | pointwise, 5-fold CV | per fold | ±18 px |\n|---|---|---|---|")
    for a, r in rows.items():
        r = np.array(r)
        label = "image-head map alone" if a is None else f"CRM + {a} × image-head map"
        print(f"| {label} | {r[:, 0].mean():.1f} ± {r[:, 0].std():.1f} | {' / '.join(f'{x:.1f}' for x in r[:, 0])} | "
              f"{r[:, 1].mean():.1f} |")


if __name__ == "__main__":
    main()
