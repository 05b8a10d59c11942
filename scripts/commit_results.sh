#!/usr/bin/env bash
# Commit finished run records under a results folder as they come (used while a long study runs in the background):
# every few minutes, `git add` the folder (checkpoints and executed notebooks are ignored) and commit only that path.
set -u
dir=${1:?usage: commit_results.sh RESULTS_DIR [SECONDS]}; every=${2:-300}
cd "$(dirname "$0")/.."
while true; do
  git add -- "$dir" 2>/dev/null
  if ! git diff --cached --quiet -- "$dir" 2>/dev/null; then
    n=$(ls "$dir"/*/metrics.json 2>/dev/null | wc -l)
    git commit -q -m "Study records: $n finished runs in $dir" -- "$dir" || true
  fi
  pgrep -f "cl-book sweep" >/dev/null || { git add -- "$dir"; git commit -q -m "Study records: final" -- "$dir" 2>/dev/null; exit 0; }
  sleep "$every"
done
