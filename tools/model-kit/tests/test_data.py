from conftest import SHARED, shared_path
from peaklabel_kit.classes import VOC, voc_index, imagenet_group_indices, COLORS
from peaklabel_kit.data import load_dev_images, input_size
from peaklabel_kit.ir import read_imagenet_labels
from conftest import WEIGHTS


def test_coco_names_resolve_to_voc():
    assert voc_index("couch") == VOC.index("sofa")
    assert voc_index("TV") == VOC.index("tvmonitor")
    assert voc_index("airplane") == VOC.index("aeroplane")
    assert voc_index("motorcycle") == VOC.index("motorbike")
    assert voc_index("dining table") == VOC.index("diningtable")
    assert voc_index("potted plant") == VOC.index("pottedplant")
    assert voc_index("person") == VOC.index("person")
    assert voc_index("balloon") is None and voc_index("truck") is None
    assert COLORS["aeroplane"] == "#800000" and len(set(COLORS.values())) == 20


def test_dev_labels_and_split():
    shared_path("data", "coco-mini", "instances.json")
    imgs = load_dev_images(SHARED)
    assert len(imgs) == 107 + 162 + 44
    by = {d: [i for i in imgs if i.dataset == d] for d in ("pennfudan", "coco-mini", "balloon")}
    person = VOC.index("person")
    assert all(i.labels[person] == 1 and i.labels.sum() == 1 for i in by["pennfudan"])
    assert all(i.labels.sum() == 0 for i in by["balloon"])  # balloon is no VOC class
    assert sum(i.labels.sum() > 0 for i in by["coco-mini"]) > 100
    held = [i for i in imgs if i.heldout]
    assert 0.18 < len(held) / len(imgs) < 0.32
    assert [i.key for i in held] == [i.key for i in load_dev_images(SHARED) if i.heldout]  # deterministic


def test_input_policy():
    assert input_size(640, 480) == (592, 448)
    assert input_size(448, 448) == (448, 448)
    w, h = input_size(2048, 800)  # capped by maxLongerSide
    assert w == 768 and h % 16 == 0


def test_imagenet_groups_cover_every_class():
    groups = imagenet_group_indices(read_imagenet_labels(WEIGHTS))
    assert set(groups) == set(VOC) and all(len(v) > 0 for v in groups.values())
    assert len(groups["dog"]) == 118
