import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import WEIGHTS, shared_path
from peaklabel_kit.ir import KitError, load_squeezenet, read_imagenet_labels


def _classify(net, path, size=227):
    rgb = np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR), np.float32)
    x = torch.from_numpy((rgb[:, :, ::-1] - np.array([104, 117, 123], np.float32)).transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        return net(x)[0]


def test_balloon_photo_ranks_balloon_in_top5(squeezenet):
    labels = read_imagenet_labels(WEIGHTS)
    scores = _classify(squeezenet, shared_path("data", "balloon", "images", "10464445726_6f1e3bbe6a_k.jpg"))
    top5 = [labels[i].split(", ")[0] for i in scores.topk(5).indices.tolist()]
    assert "balloon" in top5, top5


def _copy_weights(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    for f in ("squeezenet1.1.xml", "squeezenet1.1.bin", "imagenet_labels.txt"):
        shutil.copy(shared_path("weights", "squeezenet1.1", f), d / f)
    return d


def test_missing_weight_file_is_named(tmp_path):
    d = _copy_weights(tmp_path)
    os.remove(d / "squeezenet1.1.bin")
    with pytest.raises(KitError, match=r"squeezenet1\.1\.bin.*missing"):
        load_squeezenet(str(d))


def test_truncated_weight_file_is_refused(tmp_path):
    d = _copy_weights(tmp_path)
    data = (d / "squeezenet1.1.bin").read_bytes()
    (d / "squeezenet1.1.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(KitError, match=r"squeezenet1\.1\.bin: truncated or corrupt"):
        load_squeezenet(str(d))


def test_nan_weights_are_refused(tmp_path):
    d = _copy_weights(tmp_path)
    data = bytearray((d / "squeezenet1.1.bin").read_bytes())
    data[0:2] = np.array([np.nan], np.float16).tobytes()
    (d / "squeezenet1.1.bin").write_bytes(bytes(data))
    with pytest.raises(KitError, match="NaN"):
        load_squeezenet(str(d))


def test_unknown_layer_type_is_named(tmp_path):
    d = _copy_weights(tmp_path)
    xml = (d / "squeezenet1.1.xml").read_text()
    (d / "squeezenet1.1.xml").write_text(xml.replace('type="SoftMax"', 'type="Frobnicate"'))
    with pytest.raises(KitError, match=r"unknown IR layer type 'Frobnicate'.*'prob'"):
        load_squeezenet(str(d))


def test_garbage_xml_is_refused(tmp_path):
    d = _copy_weights(tmp_path)
    (d / "squeezenet1.1.xml").write_text("<net><layers>")
    with pytest.raises(KitError, match=r"squeezenet1\.1\.xml: not a readable OpenVINO IR"):
        load_squeezenet(str(d))
