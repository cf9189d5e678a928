"""The committed bundle (resources/models) is complete, consistent with its manifest and small."""
import json
import os

import numpy as np
import onnx

from conftest import ROOT
from peaklabel_kit.bundle import sha256
from peaklabel_kit.classes import VOC

BUNDLE = os.path.join(ROOT, "resources", "models")


def _manifest():
    return json.load(open(os.path.join(BUNDLE, "manifest.json")))


def _check_files(bundle, m):
    """The head (one row of weights + bias per VOC class) and every graph match the manifest's hashes and
    input/output names; returns the loaded graphs (without external data)."""
    head = np.fromfile(os.path.join(bundle, m["head"]["file"]), "<f4")
    assert head.size == len(VOC) * (m["head"]["channels"] + 1) and np.all(np.isfinite(head))
    assert sha256(os.path.join(bundle, m["head"]["file"])) == m["head"]["sha256"]
    models = []
    for g in m["graphs"].values():
        path = os.path.join(bundle, g["file"])
        assert sha256(path) == g["sha256"]
        model = onnx.load(path, load_external_data=False)
        assert [i.name for i in model.graph.input] == [i["name"] for i in g["inputs"]]
        assert [o.name for o in model.graph.output] == [o["name"] for o in g["outputs"]]
        models.append(model)
    return models


def test_manifest_matches_files():
    m = _manifest()
    assert m["format"] == "peaklabel-bundle" and m["version"] == 1
    assert [c["name"] for c in m["classes"]] == VOC
    aliases = {c["name"]: c["aliases"] for c in m["classes"]}
    assert "couch" in aliases["sofa"] and "tv" in aliases["tvmonitor"] and "airplane" in aliases["aeroplane"]
    assert m["preprocess"]["channelOrder"] == "BGR" and m["preprocess"]["mean"] == [104, 117, 123]
    assert m["stride"] == 16 and m["head"]["channels"] == 512
    for model in _check_files(BUNDLE, m):
        assert model.opset_import[0].version >= 13
    assert [o["name"] for o in m["graphs"]["backbone"]["outputs"]] == ["crm", "features", "features_s8", "features_s4"]
    assert os.path.isfile(os.path.join(BUNDLE, "MODEL_CARD.md"))
    assert "inputs" in m["provenance"] and all(len(v) == 64 for v in m["provenance"]["inputs"].values())


def test_bundle_sizes():
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(BUNDLE) for f in fs)
    index = json.load(open(os.path.join(BUNDLE, "golden", "index.json")))
    files = [c[k]["file"] for c in index["cases"] for k in ("rgb", "crm", "prm")]
    golden = sum(os.path.getsize(os.path.join(BUNDLE, "golden", f)) for f in files)
    assert total <= 20 * 2**20
    assert golden <= 2 * 2**20


EFFNET = os.path.join(ROOT, "resources", "models-effnet-lite0")


def test_effnet_bundle_matches_files_and_sizes():
    m = json.load(open(os.path.join(EFFNET, "manifest.json")))
    assert m["backbone"]["name"] == "efficientnet-lite0" and m["modelId"].startswith("prm-efficientnet-lite0")
    assert m["preprocess"]["channelOrder"] == "RGB" and m["preprocess"]["mean"] == [127, 127, 127]
    assert m["preprocess"]["scale"] == 1 / 128 and m["stride"] == 16 and m["head"]["channels"] == 1280
    _check_files(EFFNET, m)
    assert m["graphs"]["backbone"]["outputs"][1]["shape"][1] == 1280
    sizes = [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(EFFNET) for f in fs]
    assert sum(sizes) <= 30 * 2**20 and max(sizes) < 20 * 2**20
    assert any(k.endswith("efficientnet-lite0-57934424.pth") for k in m["provenance"]["inputs"])


def test_prm_peaks_per_call_is_written_for_effnet_only():
    """EfficientNet's prm.onnx holds every peak's full-image backward pass at once: its bundles ask the app for
    calls of 8 peaks (graphs.prm.peaksPerCall); SqueezeNet's windowed graph keeps one call per image."""
    from types import SimpleNamespace
    from peaklabel_kit.backbones import BackboneSpec
    from peaklabel_kit.bundle import _graph_io

    fields = dict(channels=1280, s8=(40, "s8"), s4=(24, "s4"), feature_doc="f")
    assert _graph_io(SimpleNamespace(**fields, prm_peaks_per_call=8))["prm"]["peaksPerCall"] == 8
    assert "peaksPerCall" not in _graph_io(SimpleNamespace(**fields, prm_peaks_per_call=None))["prm"]
    assert BackboneSpec.__dataclass_fields__["prm_peaks_per_call"].default is None
    lite0 = json.load(open(os.path.join(ROOT, "resources", "models-effnet-lite0", "manifest.json")))
    assert lite0["graphs"]["prm"]["peaksPerCall"] == 8 and "peaksPerCall" not in _manifest()["graphs"]["prm"]
