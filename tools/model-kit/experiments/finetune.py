"""Fine-tuning the last layers of a stride-16 backbone with the class head (issue 11), on image-level labels.

The frozen front (stem .. block `split - 1`) runs once per dev image (and its mirror image) through
onnxruntime and is cached; training then runs only the tail (blocks `split` .. end + conv_head) and the head,
with peak stimulation as in `train.py` and an L2-SP penalty that keeps the tail near its ImageNet weights
(few labelled images: move only where the labels say so).
"""
from __future__ import annotations

import copy
import os
import time

import torch
from torch import nn
import torch.nn.functional as F

from peaklabel_kit.backbones import crm_centre
from peaklabel_kit.data import DevImage
from peaklabel_kit.effnet import same_pad
from peaklabel_kit.prm import peak_stimulation
from peaklabel_kit.train import FeatureCache, _crm


class Front(nn.Module):
    """stem .. block split-1 of EffNetBackbone."""

    def __init__(self, bb, split: int):
        super().__init__()
        self.stem, self.blocks = bb.stem, nn.ModuleList(bb.blocks[:split])

    def forward(self, x):
        x = F.relu6(self.stem(F.pad(x, same_pad(3, 2))))
        for b in self.blocks:
            x = b(x)
        return x


class Tail(nn.Module):
    """blocks split .. end + conv_head (the trainable part); returns the head's input features."""

    def __init__(self, bb, split: int):
        super().__init__()
        self.blocks = copy.deepcopy(nn.ModuleList(bb.blocks[split:]))
        self.head = copy.deepcopy(bb.head)
        self.requires_grad_(True)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return F.relu6(self.head(x))


class _OrtFront:
    """The front as an onnxruntime graph (exported once into the cache folder, opened on first use), called
    like the PyTorch backbone FeatureCache expects: `front(x)[0]` is [1, C, h, w]."""

    def __init__(self, bb, split: int, onnx_path: str):
        if not os.path.isfile(onnx_path):
            torch.onnx.export(Front(bb, split).eval(), torch.zeros(1, 3, 160, 224), onnx_path, opset_version=17,
                              input_names=["image"], output_names=["front"],
                              dynamic_axes={"image": {2: "H", 3: "W"}, "front": {2: "h", 3: "w"}})
        self.onnx_path, self.sess = onnx_path, None

    def __call__(self, x: torch.Tensor):
        if self.sess is None:
            import onnxruntime as ort
            so = ort.SessionOptions()
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.sess = ort.InferenceSession(self.onnx_path, so, providers=["CPUExecutionProvider"])
        return (torch.from_numpy(self.sess.run(["front"], {"image": x.numpy()})[0]),)


def FrontCache(bb, split: int, images: list[DevImage], cache_dir: str, pre: dict, name: str) -> FeatureCache:
    """Front outputs (float16) per dev image, plain and mirrored, on disk and in memory: train.FeatureCache
    over the front graph."""
    folder = f"{name}-front{split}"
    os.makedirs(os.path.join(cache_dir, folder), exist_ok=True)
    front = _OrtFront(bb, split, os.path.join(cache_dir, folder, "front.onnx"))
    return FeatureCache(front, images, cache_dir, flips=True, pre=pre, name=folder, centre=crm_centre(name))


class TailFeatures:
    """Looks like train.FeatureCache (get / sizes / centre) but runs a tail over the cached front outputs."""

    def __init__(self, front: FeatureCache, tail: Tail):
        self.front, self.tail, self.sizes, self.centre = front, tail, front.sizes, front.centre

    def get(self, im: DevImage, flip: bool = False) -> torch.Tensor:
        with torch.no_grad():
            return self.tail(self.front.get(im, flip)[None])[0]


def fit_tail(front: FeatureCache, imgs: list[DevImage], tail0: Tail, hw0, hb0, epochs: int, lr: float,
             lam_head: float, lam_tail: float, seed: int, batch: int = 8, log: bool = False,
             tail_lr_factor: float = 1.0):
    """Tail + head from their initial weights; loss = multilabel soft-margin on peak-stimulation scores
    + lam_head·||head − init||² + lam_tail·||tail − init||² (L2-SP)."""
    torch.manual_seed(seed)
    tail = copy.deepcopy(tail0).train().requires_grad_(True)
    init = [p.detach().clone() for p in tail.parameters()]
    w0, b0 = torch.as_tensor(hw0), torch.as_tensor(hb0)
    hw, hb = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
    opt = torch.optim.SGD([{"params": [hw, hb], "lr": lr},
                           {"params": list(tail.parameters()), "lr": lr * tail_lr_factor}], momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for ep in range(epochs):
        order = torch.randperm(len(imgs), generator=g).tolist()
        flip = torch.randint(0, 2, (len(imgs),), generator=g).tolist()
        total = 0.0
        for s in range(0, len(order), batch):
            opt.zero_grad()
            part = order[s:s + batch]
            loss = sum(F.multilabel_soft_margin_loss(
                peak_stimulation(_crm(tail(front.get(imgs[j], bool(flip[j]))[None])[0], hw, hb)),
                torch.from_numpy(imgs[j].labels)[None]) for j in part) / len(part)
            total += float(loss) * len(part)
            reg = lam_head * (((hw - w0) ** 2).sum() + ((hb - b0) ** 2).sum())
            reg = reg + lam_tail * sum(((p - q) ** 2).sum() for p, q in zip(tail.parameters(), init))
            (loss + reg).backward()
            opt.step()
        sched.step()
        if log:
            print(f"epoch {ep + 1}/{epochs} loss {total / len(imgs):.4f} ({time.time() - t0:.0f} s)", flush=True)
    return tail.eval().requires_grad_(False), hw.detach(), hb.detach()
