#!/usr/bin/env bash
# Set everything up, then run every test: the library's properties, every notebook as a test, the nbdev
# export/clean sync checks, the book build (-W, execution errors raise) and the browser check in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
start=$(date +%s)
.venv/bin/python -m pytest tests "$@"
echo "tests took $(( $(date +%s) - start )) s"
