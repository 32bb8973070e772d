#!/usr/bin/env bash
# The default detector's training run, in the background and resumable (issue "A detector that
# detects"): rerun the same command after an interruption and it continues from the last epoch.
#   scripts/train_default.sh [MANIFEST] [RUN] [CONFIG]
# Logs: RUN/nohup.log (progress) and RUN/train.log (one line per epoch); RUN/train.pid while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=${1:-$HOME/synthspot-data/forged/manifest.jsonl}
run=${2:-$HOME/synthspot-data/runs/default-lite0}
config=${3:-configs/default-lite0.toml}
mkdir -p "$run"
nohup .venv/bin/python -m training train --config "$config" --run "$run" \
    --manifest "$manifest" >> "$run/nohup.log" 2>&1 &
echo $! > "$run/train.pid"
echo "training in the background: pid $(cat "$run/train.pid"), log $run/nohup.log"
