#!/usr/bin/env bash
# Set-up shared by ./run and ./test: make .venv hold the CPU build of torch and this project (with the
# given extra, e.g. "dev"), once. Idempotent: a stamp of pyproject.toml + constraints.txt + the extra says
# the venv is complete, so a second call returns at once.
#
# Usage: scripts/setup.sh [EXTRA]   (run from anywhere; works on the repository it lives in)
set -euo pipefail
cd "$(dirname "$0")/.."

extra="${1:-}"
venv=.venv
stamp_of() { cat pyproject.toml constraints.txt | sha256sum | cut -c1-16; }
stamp="$(stamp_of)"
stamp_file="$venv/.cartograph-setup${extra:+-$extra}"

# Already set up for this extra (or, for the plain set-up, for dev, which includes it)?
for done_file in "$stamp_file" "$venv/.cartograph-setup-dev"; do
  if [ -x "$venv/bin/cartograph" ] && [ -f "$done_file" ] && [ "$(cat "$done_file")" = "$stamp" ]; then
    if [ -z "$extra" ] || [ "$done_file" = "$stamp_file" ]; then
      exit 0
    fi
  fi
done

# The interpreter: $PYTHON, else python3.11, else python3 (the project needs 3.11).
python="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Cartograph needs Python 3.11 (set PYTHON=/path/to/python3.11); found: ${python:-none}" >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv with $("$python" --version)" >&2
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

# The CPU build of torch first, so that no dependency pulls the CUDA build (GBs of nvidia-* wheels): from
# ../shared/wheels where it exists (the project's machines), else from PyTorch's CPU index.
# A PIP_FIND_LINKS already set (a machine's own wheel folder) is kept, after ours: pip reads the variable as a
# space-separated list, and without ../shared/wheels in it torch==2.13.0 resolves to the registry's CUDA build.
if [ -d ../shared/wheels ]; then
  shared_wheels="$(cd ../shared/wheels && pwd)"
  case " ${PIP_FIND_LINKS:-} " in
    *" $shared_wheels "*) ;;
    *) PIP_FIND_LINKS="$shared_wheels${PIP_FIND_LINKS:+ $PIP_FIND_LINKS}" ;;
  esac
  export PIP_FIND_LINKS
fi
torch_version="$(sed -n 's/^torch==//p' constraints.txt)"
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" \
    2>/dev/null; then
  echo "installing torch $torch_version (CPU build)" >&2
  if [ -n "${PIP_FIND_LINKS:-}" ]; then
    "${pip[@]}" install "torch==$torch_version"
  else
    "${pip[@]}" install "torch==$torch_version" --index-url https://download.pytorch.org/whl/cpu
  fi
fi

echo "installing cartograph${extra:+[$extra]} into $venv" >&2
"${pip[@]}" install -c constraints.txt -e ".${extra:+[$extra]}"

if "${pip[@]}" list 2>/dev/null | grep -qi '^nvidia-'; then
  echo "CUDA wheels found in $venv: the install must stay CPU-only (see README)" >&2
  exit 1
fi
echo "$stamp" > "$stamp_file"
