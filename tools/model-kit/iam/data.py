"""IAM training data with weak supervision only.

For every training image: the engine's segment proposals and the model-input RGB they come from
(exported by export-proposals.ts, so the input policy and resizing are the app's own), the bundle's
backbone features and PRMs (backbone.onnx / prm.onnx through onnxruntime, exactly what the app runs),
peaks of the image's tagged classes, and for each PRM its pseudo-mask candidates: the top k proposals
by α·Σ_S R + Σ_contour(S) R whose overlap (IoU with the PRM support R ≥ τ·max R) passes 0.2.
Image-level tags come from the COCO files' category lists; instance masks are never read here.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KIT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(KIT))
SHARED = os.environ.get("PEAKLABEL_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
MODELS = os.path.join(REPO, "resources", "models")
WORK = os.path.join(KIT, "work", "iam")


class IamDataError(Exception):
    pass


# --- image-level tags and the model kit's split ------------------------------------------------

@dataclass
class Item:
    set: str
    key: str  # file name: the image's id in caches
    file: str
    classes: list[int]  # bundle class indices present in the image (image-level tags)
    heldout: bool


def class_lookup(manifest: dict) -> dict[str, int]:
    """Bundle class index by lower-case name or alias (aliases resolve COCO names such as 'couch')."""
    out: dict[str, int] = {}
    for i, c in enumerate(manifest["classes"]):
        for n in [c["name"], *c.get("aliases", [])]:
            out[n.lower()] = i
    return out


def dev_items(manifest: dict) -> list[Item]:
    """Every dev image with its image-level tags as bundle classes and the model kit's held-out flag
    (peaklabel_kit.data: one image in four by hash of its name), so IAM trains on the PRM head's
    training part and is measured on the same held-out images."""
    from peaklabel_kit.classes import VOC
    from peaklabel_kit.data import load_dev_images

    lookup = class_lookup(manifest)
    items = []
    for d in load_dev_images(SHARED):
        classes = sorted({lookup[VOC[i].lower()] for i in np.nonzero(d.labels)[0] if VOC[i].lower() in lookup})
        items.append(Item(d.dataset, os.path.basename(d.file), d.file, classes, d.heldout))
    return items


# --- the engine's proposals ---------------------------------------------------------------------

@dataclass
class ImageRecord:
    width: int
    height: int
    rgb: np.ndarray  # [H,W,3] uint8 at model input size
    grid: tuple[int, int]  # proposal grid (height, width)
    masks: list[np.ndarray]  # run lists (y, x0, x1) flat int32
    contours: list[np.ndarray]
    packed: tuple | None = None  # all run lists concatenated (built on first use)


def proposals_path(item: Item) -> str:
    return os.path.join(WORK, "proposals", item.set, f"{item.key}.plpr")


def export_proposals(items: list[Item], manifest_path: str) -> None:
    """Runs export-proposals.ts (the engine's generateProposals) for items without a cache file."""
    todo = [it for it in items if not os.path.isfile(proposals_path(it))]
    if not todo:
        return
    os.makedirs(WORK, exist_ok=True)
    lst = os.path.join(WORK, "proposal-list.json")
    json.dump([{"set": it.set, "file": it.file, "id": it.key} for it in todo], open(lst, "w"))
    subprocess.run(["npx", "tsx", os.path.join(HERE, "export-proposals.ts"), "--list", lst,
                    "--out", os.path.join(WORK, "proposals"), "--manifest", os.path.abspath(manifest_path)], cwd=REPO, check=True)


def read_plpr(path: str) -> ImageRecord:
    buf = open(path, "rb").read()
    magic = b"PLIAM1\n"
    if not buf.startswith(magic):
        raise IamDataError(f"{path}: not a proposal export (bad magic)")
    nl = buf.index(b"\n", len(magic))
    h = json.loads(buf[len(magic):nl])
    start = nl + 1
    n_rgb = h["width"] * h["height"] * 3
    rgb = np.frombuffer(buf, np.uint8, n_rgb, start).reshape(h["height"], h["width"], 3)
    off = start + n_rgb
    off += (4 - off % 4) % 4
    runs = np.frombuffer(buf, "<i4", (len(buf) - off) // 4, off)
    lists, o = [], 0
    for n in h["lengths"]:
        lists.append(runs[o:o + n])
        o += n
    if o != len(runs):
        raise IamDataError(f"{path}: run lengths do not add up to the file size")
    return ImageRecord(h["width"], h["height"], rgb, (h["gridHeight"], h["gridWidth"]), lists[0::2], lists[1::2])


def runs_to_mask(runs: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    m = np.zeros(grid, bool)
    r = runs.reshape(-1, 3)
    for y, x0, x1 in r:
        m[y, x0:x1] = True
    return m


# --- the bundle through onnxruntime --------------------------------------------------------------

class Bundle:
    """backbone.onnx + prm.onnx + head.bin as the app runs them (CPU)."""

    def __init__(self, models_dir: str = MODELS, threads: int = 2):
        import onnxruntime as ort

        self.dir = models_dir
        mpath = os.path.join(models_dir, "manifest.json")
        if not os.path.isfile(mpath):
            raise IamDataError(f"{mpath}: model bundle missing (build the PRM bundle first)")
        self.manifest = json.load(open(mpath, encoding="utf-8"))
        c = len(self.manifest["classes"])
        ch = self.manifest["head"]["channels"]
        head = np.fromfile(os.path.join(models_dir, self.manifest["head"]["file"]), "<f4")
        if head.size != c * ch + c:
            raise IamDataError(f"{models_dir}/{self.manifest['head']['file']}: {head.size} floats, expected {c * ch + c}")
        self.head_w = head[: c * ch].reshape(c, ch).copy()
        self.head_b = head[c * ch:].copy()
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        g = self.manifest["graphs"]
        self.backbone = ort.InferenceSession(os.path.join(models_dir, g["backbone"]["file"]), so, providers=["CPUExecutionProvider"])
        self.prm = ort.InferenceSession(os.path.join(models_dir, g["prm"]["file"]), so, providers=["CPUExecutionProvider"])

    def feature_channels(self) -> dict[str, int]:
        """Channels of the backbone graph's feature outputs by name (features_s4, features_s8, features)."""
        outs = self.manifest["graphs"]["backbone"]["outputs"]
        return {o["name"]: int(o["shape"][1]) for o in outs if o["name"].startswith("features")}

    @property
    def backbone_name(self) -> str:
        return (self.manifest.get("backbone") or {}).get("name", "squeezenet1.1")

    def image_tensor(self, rgb: np.ndarray) -> np.ndarray:
        """RGB uint8 [H,W,3] → [1,3,H,W] per the manifest's preprocess (channel order, mean, scale), as
        src/main/engine/preprocess.ts builds it."""
        from peaklabel_kit.data import to_input

        p = self.manifest["preprocess"]
        return to_input(rgb, {"channelOrder": p.get("channelOrder", "BGR"), "mean": p["mean"], "scale": p["scale"]})

    def features(self, image: np.ndarray) -> dict[str, np.ndarray]:
        names = [o.name for o in self.backbone.get_outputs()]
        out = self.backbone.run(None, {"image": image, "head_weight": self.head_w, "head_bias": self.head_b})
        return dict(zip(names, out))

    def prms(self, image: np.ndarray, peaks: np.ndarray) -> np.ndarray:
        return self.prm.run(["prm"], {"image": image, "head_weight": self.head_w, "head_bias": self.head_b,
                                      "peaks": peaks.astype(np.float32)})[0]


def find_peaks(crm: np.ndarray, rel: float = 0.3, max_peaks: int = 24) -> list[tuple[float, float, float]]:
    """3×3 maxima strictly above the map's median, at least rel × the map's strongest peak (as the engine)."""
    h, w = crm.shape
    med = float(np.median(crm))
    p = np.pad(crm, 1, constant_values=-np.inf)
    nb = np.stack([p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3) if (dy, dx) != (1, 1)])
    is_max = (crm >= nb.max(0)) & (crm > med)
    ys, xs = np.nonzero(is_max)
    found = sorted(((float(crm[y, x]), int(y), int(x)) for y, x in zip(ys, xs)), reverse=True)
    if not found:
        return []
    top = found[0][0]
    return [(v, y, x) for v, y, x in found if v >= top * rel][:max_peaks]


# --- pseudo masks --------------------------------------------------------------------------------

def mass_resize(m: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Area-sum resize of a map (the PRM's mass per proposal-grid cell)."""
    H, W = m.shape
    gh, gw = grid
    ys = (np.arange(H) * gh // H)
    xs = (np.arange(W) * gw // W)
    out = np.zeros(grid, np.float64)
    np.add.at(out, (ys[:, None], xs[None, :]), m)
    return out


def _group_sums(runs: np.ndarray, starts: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    """Σ of a map over each of many run lists at once: runs [n,3] (y, x0, x1) concatenated, starts = the
    first run of each list; prefix = the map's row prefix sums (prefix[y, x] = Σ of row y before x)."""
    v = prefix[runs[:, 0], runs[:, 2]] - prefix[runs[:, 0], runs[:, 1]]
    out = np.zeros(len(starts))
    nonempty = np.diff(np.append(starts, len(runs))) > 0
    if len(runs):
        out[nonempty] = np.add.reduceat(v, starts[nonempty])
    return out


def row_prefix(m: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((m.shape[0], 1)), np.cumsum(m, axis=1, dtype=np.float64)], axis=1)


def _concat(lists: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(r) // 3 for r in lists], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lists) else np.zeros(0, np.int64)
    runs = np.concatenate(lists).reshape(-1, 3) if len(lists) else np.zeros((0, 3), np.int32)
    return runs, starts


def gaussian_blur(m: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with edge replication."""
    k = max(1, int(3 * sigma))
    g = np.exp(-np.arange(-k, k + 1) ** 2 / (2 * sigma * sigma))
    g /= g.sum()
    p = np.pad(m, ((0, 0), (k, k)), mode="edge")
    m = sum(g[i] * p[:, i:i + m.shape[1]] for i in range(2 * k + 1))
    p = np.pad(m, ((k, k), (0, 0)), mode="edge")
    return sum(g[i] * p[i:i + m.shape[0]] for i in range(2 * k + 1))


def prm_support(prm: np.ndarray, grid: tuple[int, int], tau: float, sigma: float) -> np.ndarray:
    """Where the PRM is: its mass on the proposal grid, blurred (a PRM is a scatter of fine responses),
    at least tau × its maximum."""
    r = gaussian_blur(mass_resize(prm, grid), sigma)
    return r >= tau * r.max()


def pseudo_candidates(prm: np.ndarray, rec: ImageRecord, alpha: float, tau: float, k: int = 5,
                      min_overlap: float = 0.2, sigma: float | None = None) -> list[tuple[int, float, float]]:
    """The top-k proposals (index, score, overlap) by α·Σ_S R + Σ_contour(S) R (R: the PRM's mass on the
    proposal grid, summing to 1) among those whose IoU with the PRM support is at least min_overlap.
    sigma: support blur in grid cells (default: half a stride-16 cell)."""
    if sigma is None:
        sigma = 8.0 * rec.grid[0] / rec.height
    r = mass_resize(prm, rec.grid)
    r = r / max(r.sum(), 1e-30)
    support = prm_support(prm, rec.grid, tau, sigma).astype(np.float64)
    if rec.packed is None:
        rec.packed = (_concat(rec.masks), _concat(rec.contours))
    (mr, ms), (cr, cs) = rec.packed
    pr, ps = row_prefix(r), row_prefix(support)
    area = _group_sums(mr, ms, row_prefix(np.ones(rec.grid)))
    inter = _group_sums(mr, ms, ps)
    iou = inter / np.maximum(area + support.sum() - inter, 1e-9)
    score = alpha * _group_sums(mr, ms, pr) + _group_sums(cr, cs, pr)
    ok = np.nonzero(iou >= min_overlap)[0]
    best = ok[np.argsort(-score[ok], kind="stable")][:k]
    return [(int(i), float(score[i]), float(iou[i])) for i in best]
