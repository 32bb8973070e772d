#!/usr/bin/env bash
# The default detector's training run, in the background and resumable (issue "A detector that
# detects"): rerun the same command after an interruption and it continues from the last epoch.
#   scripts/train_default.sh [MANIFEST] [RUN] [CONFIG]
# Logs: RUN/nohup.log (progress) and RUN/train.log (one line per epoch); RUN/train.pid while it runs.
set -euo pipefail
# Paths as typed are relative to where the command was typed, not to the checkout the script runs in.
manifest=$(realpath -m -- "${1:-$HOME/synthspot-data/forged/manifest.jsonl}")
run=$(realpath -m -- "${2:-$HOME/synthspot-data/runs/default-lite0}")
config=${3:+$(realpath -m -- "$3")}
cd "$(dirname "$0")/.."
config=${config:-configs/default-lite0.toml}
mkdir -p "$run"
logged=$(stat -c %s "$run/nohup.log" 2>/dev/null || echo 0)  # a resumed run's log already has lines
nohup .venv/bin/python -m training train --config "$config" --run "$run" \
    --manifest "$manifest" >> "$run/nohup.log" 2>&1 &
pid=$!
echo $pid > "$run/train.pid"
# A run refused at once (a manifest not found, a changed config) is said here, not only in the log: wait
# for its first words (torch's import takes seconds), then look whether it is still going.
for _ in $(seq 40); do
    { [ "$(stat -c %s "$run/nohup.log")" -gt "$logged" ] || ! jobs -rp | grep -qx "$pid"; } && break
    sleep 0.5
done
sleep 1
if ! jobs -rp | grep -qx "$pid" && ! wait "$pid"; then
    rm -f "$run/train.pid"
    echo "training stopped at once:" >&2
    tail -n 5 "$run/nohup.log" >&2
    exit 1
fi
echo "training in the background: pid $pid, log $run/nohup.log"
