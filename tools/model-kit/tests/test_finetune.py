"""The fine-tuning experiment (experiments/finetune.py): the cached front plus the trainable tail is the
backbone, and training moves the tail (a frozen copy once made this experiment silently head-only)."""
import os
import sys

import numpy as np
import torch

from peaklabel_kit.effnet import EffNetBackbone, load_effnet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments"))
from finetune import Front, Tail, fit_tail  # noqa: E402


class _Img:
    def __init__(self, key, label):
        self.key = key
        self.labels = np.eye(20, dtype=np.float32)[label]


class _Front:
    def __init__(self, feats):
        self.feats = feats

    def get(self, im, flip=False):
        f = self.feats[im.key]
        return f.flip(-1) if flip else f


def test_front_and_tail_make_the_backbone_and_training_moves_the_tail():
    torch.manual_seed(0)
    bb = EffNetBackbone(load_effnet()).eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        want = bb(x)[0]
        for split in (15, 16):
            got = Tail(bb, split).eval()(Front(bb, split)(x))
            assert torch.allclose(got, want, atol=1e-4), split
        front = Front(bb, 16)(torch.randn(2, 3, 96, 128))
    imgs = [_Img("a", 14), _Img("b", 3)]
    tail0 = Tail(bb, 16).eval().requires_grad_(False)
    hw, hb = torch.randn(20, 1280) * 0.01, torch.zeros(20)
    tail, _, _ = fit_tail(_Front({"a": front[0], "b": front[1]}), imgs, tail0, hw, hb, epochs=1, lr=0.01,
                          lam_head=0.1, lam_tail=0.001, seed=0, batch=2)
    moved = max(float((p - q).abs().max()) for p, q in zip(tail.parameters(), tail0.parameters()))
    assert moved > 0
