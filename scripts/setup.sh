#!/usr/bin/env bash
# Set up everything cl_book needs, idempotently: a virtual environment in .venv with the locked packages and the
# library installed in editable mode, and (where we are root on Debian/Ubuntu) Debian's chromium for the browser
# check and dataset-fashion-mnist for the built-in data. A second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3.12 python3.10 python3; do command -v "$c" >/dev/null && PY=$c && break; done
fi
[ -n "$PY" ] || { echo "setup: no python3 found; install Python 3.10-3.12" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

stamp=.venv/.cl_book-setup
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the locked packages into .venv (first time: about 4 minutes, ~6 GB with torch's CUDA libraries)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c requirements.lock -e '.[pinned,book,dev]'
  echo "$want" > "$stamp"
fi

# System packages: Debian's chromium (browser check of the book) and the real Fashion-MNIST (built-in data).
need=()
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need+=(chromium)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: apt-get install ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: please install the Debian packages: sudo apt-get install ${need[*]}" >&2
  fi
fi
echo "setup: ready (.venv: $(.venv/bin/python -c 'import torch, cl_book; print("torch", torch.__version__, "cl_book", cl_book.__version__)'))"
