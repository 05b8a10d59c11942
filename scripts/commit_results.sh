#!/usr/bin/env bash
# Commit the finished run records under a results folder as they come (for a long study running in the background):
# every few minutes, the folders that hold a metrics.json (finished) or an error.json (failed) are added — their
# config.json, history.json and metrics.json or error.json; checkpoints and executed notebooks are ignored by git —
# and only that path is committed. It stops by itself once no `cl-book sweep` runs any more.
set -u
dir=${1:?usage: commit_results.sh RESULTS_DIR [SECONDS]}; every=${2:-300}
cd "$(dirname "$0")/.."
commit() {
  for f in "$dir"/*/metrics.json "$dir"/*/error.json; do
    [ -e "$f" ] && git add -- "$(dirname "$f")" 2>/dev/null
  done
  if ! git diff --cached --quiet -- "$dir" 2>/dev/null; then
    n=$(ls "$dir"/*/metrics.json 2>/dev/null | wc -l)
    git commit -q -m "Study records: $n finished runs in $dir" -- "$dir" || true
  fi
}
while pgrep -f "cl-book sweep" >/dev/null; do
  commit
  sleep "$every"
done
commit
