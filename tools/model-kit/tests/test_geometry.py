"""Each committed bundle's crmGeometry says where its class maps are centred: the mirror test (geometry.py) on dev
images, run through the bundle's own backbone graph and head, finds the manifest's centre offset to within 3 px."""
import json
import os

import numpy as np
import pytest
import torch

from conftest import ROOT, SHARED, shared_path
from peaklabel_kit.bundle import read_head
from peaklabel_kit.data import input_size, load_dev_images, load_rgb, to_input
from peaklabel_kit.geometry import mirror_agreement, mirror_centre

BUNDLES = ["models", "models-effnet-lite0"]


def _class_maps(bundle: str, n_images: int):
    import onnxruntime as ort
    d = os.path.join(ROOT, "resources", bundle)
    man = json.load(open(os.path.join(d, "manifest.json")))
    hw, hb = read_head(os.path.join(d, man["head"]["file"]), len(man["classes"]), man["head"]["channels"])
    sess = ort.InferenceSession(os.path.join(d, man["graphs"]["backbone"]["file"]), providers=["CPUExecutionProvider"])
    shared_path("data")
    images = load_dev_images(SHARED)
    pairs = []
    for im in images[::len(images) // n_images][:n_images]:
        size = input_size(im.width, im.height)
        rgb = load_rgb(im.file, size)
        views = [sess.run(["crm"], {"image": to_input(v, man["preprocess"]), "head_weight": hw, "head_bias": hb})[0][0]
                 for v in (rgb, np.ascontiguousarray(rgb[:, ::-1]))]
        pairs.append((torch.from_numpy(views[0]), torch.from_numpy(views[1]), size[0]))
    return man["crmGeometry"]["centerOffset"], pairs


@pytest.mark.parametrize("bundle", BUNDLES)
def test_the_mirror_test_finds_the_manifest_centre_offset(bundle):
    offset, pairs = _class_maps(bundle, 12)
    found, scores = mirror_centre(pairs)
    assert abs(found - offset) <= 3, (found, offset)
    assert scores.max() > 0.5


def test_mirror_agreement_peaks_at_the_offset_a_synthetic_map_was_made_with():
    # a blob centred at input x = 150 on a grid whose cell i sits at 16 i + 6: its mirror image has the blob at
    # W - 150, so read on the same grid it matches only under offset 6
    width, c = 480, 6.0
    xs = 16 * np.arange(width // 16) + c
    ys = 16 * np.arange(8) + c

    def blob(x0):
        return torch.from_numpy(np.exp(-((xs[None] - x0) ** 2 + (ys[:, None] - 60.0) ** 2) / (2 * 30.0 ** 2)))[None]
    pairs = [(blob(150.0), blob(width - 150.0), width), (blob(300.0), blob(width - 300.0), width)]
    scores = mirror_agreement(pairs, [0.0, 6.0, 12.0])
    assert int(np.argmax(scores)) == 1
