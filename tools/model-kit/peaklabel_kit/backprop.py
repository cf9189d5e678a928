"""Peak back-propagation as an explicit, forward-computable module (exports to ONNX).

It computes exactly what `prm.prm_autograd` computes (the pr_conv2d rule), but:
  * the forward pass and every peak-independent factor of the backward rule (input − min(input),
    1/normaliser, ReLU masks, max-pool routing) are computed once on the whole image;
  * the backward pass is linear in the one-hot, and a peak's relevance never leaves its receptive
    field, so each peak is back-propagated only through a fixed-size window around it (gathered from
    the zero-padded full-image factors), with all K peaks batched.
Window sizes are static (2×2 CRM cells at the top → 223×223 pixels at the input); only their
positions depend on the peaks, so K and the image size are dynamic in the exported graph.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .ir import SqueezeNetBackbone, FIRE_SPEC
from .prm import EPS

TOP = 2  # CRM cells spanned by a (bilinear) peak


def _norm(xp, w, stride=1, pad=0):
    """pr_conv2d's normaliser: the conv's positive-weight response to input − min(input)."""
    return F.conv2d(xp, F.relu(w), None, stride, pad)


def _r(norm, pre):
    """1/normaliser (0 where it vanishes, as the official code), times the ReLU mask of the conv output."""
    keep = norm >= EPS if pre is None else (norm >= EPS) & (pre > 0)
    return torch.where(keep, 1.0 / (norm + EPS), torch.zeros_like(norm))


def _rnorm(xp, w, stride, pad, pre):
    return _r(_norm(xp, w, stride, pad), pre)


def _first_argmax(x):
    """Ceil-mode 3×3/2 max-pool and, per window, the plane index of its first maximum — the element the
    max-pool gradient is routed to (torch keeps the first maximum in row-major window order). Found by
    comparing the 9 strided shifts with the pooled maxima: in onnxruntime this is several times
    cheaper than MaxPool's Indices output."""
    out = F.max_pool2d(x, 3, 2, ceil_mode=True)
    h, w, wi = out.shape[2], out.shape[3], x.shape[3]
    xpad = F.pad(x, (0, 2, 0, 2), value=float("-inf"))  # ceil mode: the last windows overhang
    base = (torch.arange(h) * 2 * wi)[:, None] + (torch.arange(w) * 2)[None, :]
    idx = (base + 2 * wi + 2).expand(out.shape)
    for k in range(7, -1, -1):
        dy, dx = divmod(k, 3)
        shifted = xpad[:, :, dy:dy + 2 * h - 1:2, dx:dx + 2 * w - 1:2]
        idx = torch.where(shifted == out, base + (dy * wi + dx), idx)
    return out, idx


def _route_offsets(idx, wi, m):
    """Where, inside an m×m input window whose origin is twice the output window's, each pool window
    routes its gradient, minus 2·(its own window offset): (dy·m + dx) for the argmax at (2oy+dy, 2ox+dx).
    Stored as float so that it is gathered like the other factors."""
    h, w = idx.shape[2], idx.shape[3]
    iy = torch.div(idx, wi, rounding_mode="floor")
    ix = idx - iy * wi
    dy = iy - (torch.arange(h) * 2)[:, None]
    dx = ix - (torch.arange(w) * 2)[None, :]
    return (dy * m + dx).to(torch.float32)


def _at_argmax(r, idx):
    """r (at the pool's input) read at each pool window's routed element: the pool backward followed by
    ·r equals ·r_at_argmax followed by the pool backward, and the product lives at the smaller level."""
    b, c = idx.shape[0], idx.shape[1]
    return torch.gather(r.reshape(b, c, -1), 2, idx.reshape(b, c, -1)).reshape(idx.shape)


def _window_layout():
    """Per level: (window start as (a, b) meaning a*y0 + b, window size). Levels are named by tensor."""
    lay = {"fire9_out": (1, 0, TOP)}
    a, b, n = 1, 0, TOP
    names = [f[0] for f in FIRE_SPEC]
    for i in range(len(names) - 1, -1, -1):
        name = names[i]
        b, n = b - 1, n + 2  # fire: 3×3 expand (pad 1) then 1×1 squeeze
        lay[f"{name}_in"] = (a, b, n)
        if name in ("fire6", "fire4", "fire2"):  # input is a max-pool output: go to the pool's input
            a, b, n = 2 * a, 2 * b, 2 * n + 1
            lay[f"{name}_poolin"] = (a, b, n)
    a, b, n = 2 * a, 2 * b, 2 * n + 1  # conv1: 3×3 stride 2, no padding
    lay["image"] = (a, b, n)
    return lay


LAYOUT = _window_layout()
PAD = {k: -b for k, (a, b, n) in LAYOUT.items()}  # zeros before the tensor so that y0 = 0 fits


def _level_sizes(size: int) -> dict:
    c1 = (size - 3) // 2 + 1
    p1 = -(-(c1 - 3) // 2) + 1
    p3 = -(-(p1 - 3) // 2) + 1
    p5 = -(-(p3 - 3) // 2) + 1
    out = {"image": size, "fire2_poolin": c1, "fire6_poolin": p3}
    out.update({k: p1 for k in ("fire2_in", "fire3_in", "fire4_poolin")})
    out.update({k: p3 for k in ("fire4_in", "fire5_in")})
    out.update({k: p5 for k in ("fire6_in", "fire7_in", "fire8_in", "fire9_in", "fire9_out")})
    return out


def _pad_after() -> dict:
    """Zeros after each tensor so that the window of the last CRM row/column fits (any input size)."""
    hi = {k: 0 for k in LAYOUT}
    for size in range(48, 4096):
        s = _level_sizes(size)
        last = s["fire9_out"] - 1
        for k, (a, b, n) in LAYOUT.items():
            hi[k] = max(hi[k], a * last + b + n - s[k])
    return hi


PAD_HI = _pad_after()


def _peak_cells(peaks, n_cls: int, h: int, w: int):
    """peaks [K,3] (class, CRM row, column) → class index, the 2×2 window's top-left cell (y0, x0) and the
    bilinear weights on its cells [K,2,2]. Out-of-range values are clamped: the caller validates, the
    graph must not crash."""
    cls = torch.minimum(torch.clamp(peaks[:, 0].round(), min=0.0), (n_cls - 1) * torch.ones_like(peaks[:, 0])).long()
    py = torch.minimum(torch.clamp(peaks[:, 1], min=0.0), (h - 1) * torch.ones_like(peaks[:, 1]))
    px = torch.minimum(torch.clamp(peaks[:, 2], min=0.0), (w - 1) * torch.ones_like(peaks[:, 2]))
    y0, x0 = py.floor(), px.floor()
    fy, fx = (py - y0)[:, None, None], (px - x0)[:, None, None]
    onehot = torch.stack([1 - fy, fy], 1)[:, :, :, 0] * torch.stack([1 - fx, fx], 2)[:, :, :, 0]
    return cls, y0.long(), x0.long(), onehot


def _normalised_relevance(rel, head_bias):
    """Negative relevance dropped, each map scaled to sum 1. The bias does not enter the rule, but it is a
    graph input (same interface as the backbone): an empty-slice sum (always 0) keeps the exporter from
    pruning it."""
    rel = torch.clamp(rel, min=0.0)
    return rel / torch.clamp(rel.sum((1, 2), keepdim=True), min=1e-30) + head_bias[:0].sum()


def _scatter_windows(rel, level: str, y0, x0, h: int, w: int):
    """Each peak's n×n window of `level` [K,n,n] into a zero [K,h,w] map."""
    a, b, n = LAYOUT[level]
    lo, hi = PAD[level], PAD_HI[level]
    hp, wp = h + lo + hi, w + lo + hi
    ar = torch.arange(n)
    iy = (a * y0 + b + lo)[:, None] + ar[None, :]
    ix = (a * x0 + b + lo)[:, None] + ar[None, :]
    idx = (iy[:, :, None] * wp + ix[:, None, :]).reshape(-1, n * n)  # explicit sizes: K may be 0
    out = torch.zeros(rel.shape[0], hp * wp, dtype=rel.dtype)
    out = out.scatter(1, idx, rel.reshape(-1, n * n))
    return out.reshape(-1, hp, wp)[:, lo:lo + h, lo:lo + w]


class PeakBackprop(nn.Module):
    """prm(image, head_weight, head_bias, peaks[K,3]) -> [K,H,W] peak response maps."""

    def __init__(self, backbone: SqueezeNetBackbone):
        super().__init__()
        self.backbone = backbone

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _gather(full, level, ys, xs):
        """full [C,H,W] (unpadded) -> [K,C,n,n] windows at (a*ys+b, a*xs+b), zeros outside.
        Pixel-major gather: each index copies one pixel's C contiguous values (memory-friendly)."""
        a, b, n = LAYOUT[level]
        lo, hi = PAD[level], PAD_HI[level]
        p = F.pad(full, (lo, hi, lo, hi))
        c, wp = p.shape[0], p.shape[2]
        ar = torch.arange(n)
        iy = (a * ys + b + lo)[:, None] + ar[None, :]  # [K,n]
        ix = (a * xs + b + lo)[:, None] + ar[None, :]
        idx = iy[:, :, None] * wp + ix[:, None, :]  # [K,n,n]
        pix = p.permute(1, 2, 0).reshape(-1, c)  # [Hp*Wp, C]
        return pix[idx].permute(0, 3, 1, 2)

    @staticmethod
    def _pool_back(g, off):
        """Ordinary max-pool gradient routing, window-local: [K,C,n,n] -> [K,C,2n+1,2n+1], as one
        scatter-add (windows overlap, so several may route to the same element)."""
        k, c, n, _ = g.shape
        m = 2 * n + 1
        base = ((torch.arange(n) * 2 * m)[:, None] + (torch.arange(n) * 2)[None, :]).to(g.dtype)
        target = (off + base).long().reshape(k, c, n * n)
        out = torch.zeros(k, c, m * m, dtype=g.dtype)
        return out.scatter_add(2, target, g.reshape(k, c, n * n)).reshape(k, c, m, m)

    # -- forward ----------------------------------------------------------------------------------
    def forward(self, image, head_weight, head_bias, peaks):
        bb = self.backbone
        # Full-image forward, keeping each conv's peak-independent backward factors.
        xp_img = image - image.min()
        pre1 = bb.conv1(image)
        x1 = F.relu(pre1)
        x, idx = _first_argmax(x1)
        fac = {"d_fire2": _route_offsets(idx, x1.shape[3], 2 * LAYOUT["fire2_in"][2] + 1)}
        # r of the layer below a pool is only needed at each window's argmax: compute it there.
        r_pool = _r(_at_argmax(_norm(xp_img, bb.conv1.weight, 2), idx), _at_argmax(pre1, idx))
        r_prev = None  # rnorm of the previous fire's expand convs (1×1 ‖ 3×3)
        below = None  # (normaliser, pre-activation) of fire3/fire5's expand convs, for the next pool
        for name, *_ in FIRE_SPEC:
            fire = bb.fires[name]
            if name in ("fire4", "fire6"):
                wi = x.shape[3]
                x, idx = _first_argmax(x)
                fac[f"d_{name}"] = _route_offsets(idx, wi, 2 * LAYOUT[f"{name}_in"][2] + 1)
                r_pool = _r(_at_argmax(below[0], idx), _at_argmax(below[1], idx))
                r_prev = None
            xp_in = x - x.min()
            fac[f"xin_{name}"] = xp_in * (r_prev if r_prev is not None else r_pool)
            pre_s = fire.squeeze(x)
            r_s = _rnorm(xp_in, fire.squeeze.weight, 1, 0, pre_s)
            s = F.relu(pre_s)
            xp_s = s - s.min()
            fac[f"xr_{name}"] = xp_s * r_s
            pre1x1, pre3x3 = fire.expand1x1(s), fire.expand3x3(s)
            norm_e = torch.cat([_norm(xp_s, fire.expand1x1.weight), _norm(xp_s, fire.expand3x3.weight, 1, 1)], 1)
            pre_e = torch.cat([pre1x1, pre3x3], 1)
            if name in ("fire3", "fire5"):
                below = (norm_e, pre_e)
            else:
                r_prev = _r(norm_e, pre_e)
            x = F.relu(pre_e)
        feats = x
        xp_f = feats - feats.min()
        w_head = head_weight[:, :, None, None]
        r_head = _rnorm(xp_f, w_head, 1, 0, None).squeeze(0)  # [C,h,w]
        fac["xf"] = xp_f * r_prev  # r_prev = fire9's r_e

        h, w = r_head.shape[1], r_head.shape[2]
        cls, y0, x0, onehot = _peak_cells(peaks, head_weight.shape[0], h, w)

        # Head (a 1×1 conv: pr rule with the chosen class's positive weights).
        sq = lambda t: t.squeeze(0)
        r_h = self._gather(r_head.reshape(-1, h, w), "fire9_out", y0, x0)  # [K,C,2,2]
        r_h = torch.gather(r_h, 1, cls[:, None, None, None].expand(-1, 1, TOP, TOP))[:, 0]
        a = onehot * r_h  # [K,2,2]
        wpos = F.relu(head_weight)[cls]  # [K,512]
        g = wpos[:, :, None, None] * a[:, None]
        g = g * self._gather(sq(fac["xf"]), "fire9_out", y0, x0)  # pre-normalised grad at fire9 expand
        for name, cin, s, e in reversed(FIRE_SPEC):
            fire = self.backbone.fires[name]
            level = f"{name}_in"
            t = F.pad(F.conv_transpose2d(g[:, :e], F.relu(fire.expand1x1.weight)), (1, 1, 1, 1)) \
                + F.conv_transpose2d(g[:, e:], F.relu(fire.expand3x3.weight))
            t = t * self._gather(sq(fac[f"xr_{name}"]), level, y0, x0)
            v = F.conv_transpose2d(t, F.relu(fire.squeeze.weight))
            g = v * self._gather(sq(fac[f"xin_{name}"]), level, y0, x0)
            if name in ("fire6", "fire4", "fire2"):  # (·r of the layer below is already in xin)
                g = self._pool_back(g, self._gather(sq(fac[f"d_{name}"]), level, y0, x0))
        v = F.conv_transpose2d(g, F.relu(bb.conv1.weight), stride=2)
        rel = _normalised_relevance((v * self._gather(sq(xp_img), "image", y0, x0)).sum(1), head_bias)  # [K,n,n]
        return _scatter_windows(rel, "image", y0, x0, image.shape[2], image.shape[3])


class CoarsePeakBackprop(nn.Module):
    """prm16(features_s8, head_weight, head_bias, peaks[K,3]) -> [K,h,w] peak response maps at stride 16.

    The same pr_conv2d rule as PeakBackprop, stopped at fire6's input (the first tensor after the last
    max-pool): its relevance, summed over channels, is the PRM on the CRM grid. The IAM graph uses it to
    turn peaks into instances without the full-resolution back-propagation (docs/adr/iam-stride16-prm.md).

    Everything runs inside each peak's window: fire6…fire9 forward from the pooled stride-8 features
    (10×10 cells at fire6's input narrowing to the 2×2 CRM cells), the rule's normalisers, and the
    backward pass. Positions outside the image are zeroed after every layer, as the full network's zero
    padding does. The rule subtracts each input's minimum; here every input is a ReLU output whose
    minimum is 0 (unless no unit of the whole map is off), so the offsets are 0."""

    LEVELS = ("fire6_in", "fire7_in", "fire8_in", "fire9_in", "fire9_out")

    def __init__(self, backbone: SqueezeNetBackbone):
        super().__init__()
        self.backbone = backbone

    @staticmethod
    def _inside(level, ys, xs, h, w):
        """[K,1,n,n]: 1 where a window position of `level` lies in the h×w map."""
        a, b, n = LAYOUT[level]
        ar = torch.arange(n)
        iy = (a * ys + b)[:, None] + ar[None, :]
        ix = (a * xs + b)[:, None] + ar[None, :]
        vy = ((iy >= 0) & (iy < h)).to(torch.float32)
        vx = ((ix >= 0) & (ix < w)).to(torch.float32)
        return (vy[:, :, None] * vx[:, None, :])[:, None]

    def forward(self, features_s8, head_weight, head_bias, peaks):
        bb = self.backbone
        x6 = F.max_pool2d(features_s8, 3, 2, ceil_mode=True)
        h, w = x6.shape[2], x6.shape[3]
        cls, y0, x0, onehot = _peak_cells(peaks, head_weight.shape[0], h, w)
        inside = {lv: self._inside(lv, y0, x0, h, w) for lv in self.LEVELS}

        # Windowed forward with the rule's factors: r = 1/normaliser (0 where it vanishes or the unit is off).
        x = PeakBackprop._gather(x6.squeeze(0), "fire6_in", y0, x0)  # [K,256,10,10], zeros outside
        fac = []  # per fire: (input window, squeeze output window · r_s, r of the expand at the next level)
        for i, (name, *_) in enumerate(FIRE_SPEC[4:]):
            fire = bb.fires[name]
            pre_s = fire.squeeze(x)
            r_s = _r(_norm(x, fire.squeeze.weight), pre_s)
            sq = F.relu(pre_s) * inside[self.LEVELS[i]]
            pre_e = torch.cat([fire.expand1x1(sq)[:, :, 1:-1, 1:-1], F.conv2d(sq, fire.expand3x3.weight, fire.expand3x3.bias)], 1)
            norm_e = torch.cat([_norm(sq, fire.expand1x1.weight)[:, :, 1:-1, 1:-1], _norm(sq, fire.expand3x3.weight)], 1)
            fac.append((x, sq * r_s, _r(norm_e, pre_e)))
            x = F.relu(pre_e) * inside[self.LEVELS[i + 1]]
        wpos = F.relu(head_weight)[cls]  # [K,512]
        norm_h = (wpos[:, :, None, None] * x).sum(1)  # the chosen class's positive-weight response, [K,2,2]
        r_h = torch.where(norm_h >= EPS, 1.0 / (norm_h + EPS), torch.zeros_like(norm_h))

        g = wpos[:, :, None, None] * (onehot * r_h)[:, None] * x * fac[-1][2]
        for i, (name, cin, s, e) in reversed(list(enumerate(FIRE_SPEC[4:]))):
            fire = bb.fires[name]
            t = F.pad(F.conv_transpose2d(g[:, :e], F.relu(fire.expand1x1.weight)), (1, 1, 1, 1)) \
                + F.conv_transpose2d(g[:, e:], F.relu(fire.expand3x3.weight))
            t = t * fac[i][1]
            v = F.conv_transpose2d(t, F.relu(fire.squeeze.weight))
            g = v * fac[i][0] * (fac[i - 1][2] if i > 0 else 1.0)  # fire6: relevance stops at its input
        return _scatter_windows(_normalised_relevance(g.sum(1), head_bias), "fire6_in", y0, x0, h, w)
