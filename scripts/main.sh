#!/usr/bin/env bash
# The main job: set everything up, run the default τ study on the built-in Fashion-MNIST (four temperatures, two runs
# side by side; finished runs are skipped, so a second invocation only rebuilds what changed), then build the book
# offline (chapters whose notebooks did not change come from the execution cache).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
start=$(date +%s)
.venv/bin/cl-book sweep --study default --jobs 2
.venv/bin/python scripts/book.py
echo "main job took $(( $(date +%s) - start )) s; open _build/html/index.html"
