#!/usr/bin/env bash
# Creates .venv (on Debian's python3 so apt's python3-torch is visible) with the model kit's PyPI needs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
# requirements.txt is the one list: pip runs again whenever it changes (a stamp in the venv holds its hash).
stamp=.venv/.requirements.sha1
want=$(sha1sum tools/model-kit/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/model-kit/requirements.txt
  echo "$want" > "$stamp"
fi
.venv/bin/python -c 'import torch' 2>/dev/null || { echo "python3-torch missing: apt-get install -y python3-torch" >&2; exit 1; }
