#!/usr/bin/env bash
# Version 12's four experts trained on with JPEG down to quality 30 (configs/jpeg30/), their checkpoints
# copied beside the others (configs/checkpoints/lite0-<expert>-jpeg30, small: commit them), then the
# fusion over them scored beside the shipped model on val (scripts/fusion_candidate.sh). Resumable:
# rerun the same command after an interruption; a finished expert is not trained again.
#   nohup scripts/jpeg30_experts.sh [RUNS] [MANIFEST] > RUNS/chain.log 2>&1 &
# SHIPPED_EVAL=DIR skips scoring the shipped model again (see scripts/fusion_candidate.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-$HOME/synthspot-data/runs/jpeg30}
manifest=${2:-$HOME/synthspot-data/forged/manifest.jsonl}
mkdir -p "$runs"
echo $$ > "$runs/chain.pid"
for expert in upsample reconstruct regenerate inpaint; do
    kept=configs/checkpoints/lite0-$expert-jpeg30
    [ -f "$kept/model.safetensors" ] && continue
    .venv/bin/python -m training train --config "configs/jpeg30/lite0-$expert-jpeg30.toml" \
        --run "$runs/$expert" --manifest "$manifest" --no-progress
    mkdir -p "$kept"
    cp "$runs/$expert/checkpoint/config.json" "$runs/$expert/checkpoint/model.safetensors" "$runs/$expert/metrics.jsonl" "$kept/"
done
scripts/fusion_candidate.sh configs/jpeg30/lite0-sef-gamma-jpeg30.toml "$runs/fusion" 13 "$manifest"
rm -f "$runs/chain.pid"
