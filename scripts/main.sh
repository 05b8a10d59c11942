#!/usr/bin/env bash
# The main job: set everything up, then build the book offline (executing every chapter).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python scripts/book.py
