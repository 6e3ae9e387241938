#!/usr/bin/env bash
# Create RecBole's own virtual environment for the peers benchmark: .venv-peers in the checkout (or $1).
#   bash bench/peers/setup.sh [VENV_DIR]
# CPU-only torch 2.13.0, pinned by bench/peers/constraints.txt; no CUDA wheel may come in (checked at the end).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-$root/.venv-peers}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
"$python" -m venv "$venv"
"$venv/bin/pip" install --upgrade pip >/dev/null
# The CPU build first, so that no nvidia-* wheels are resolved (as for Cartograph's own venv): ../shared/wheels
# goes first in PIP_FIND_LINKS (a space-separated list to pip), whatever the machine already set there.
if [ -d "$root/../shared/wheels" ]; then
  shared_wheels="$(cd "$root/../shared/wheels" && pwd)"
  export PIP_FIND_LINKS="$shared_wheels${PIP_FIND_LINKS:+ $PIP_FIND_LINKS}"
fi
"$venv/bin/pip" install torch==2.13.0 -c "$here/constraints.txt" \
  || "$venv/bin/pip" install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
"$venv/bin/pip" install -c "$here/constraints.txt" -r <(grep -v '^#' "$here/constraints.txt" | grep -v '^torch' | sed '/^$/d')
if "$venv/bin/pip" list 2>/dev/null | grep -qi nvidia; then
  echo "error: CUDA wheels were installed into $venv; remove it and install torch from the CPU index" >&2
  exit 1
fi
"$venv/bin/python" -c "import recbole, torch, scipy; print('recbole', recbole.__version__, 'torch', torch.__version__, 'scipy', scipy.__version__)"
