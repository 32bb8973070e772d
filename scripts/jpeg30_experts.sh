#!/usr/bin/env bash
# Version 12's four experts trained on with JPEG down to quality 30 (configs/jpeg30/), each finished one
# copied beside the others (configs/checkpoints/lite0-<expert>-jpeg30, small: commit them), then version
# 12's fusion over them, itself trained with JPEG down to 30 (configs/lite0-sef-gamma-v13-jpeg30.toml with
# the new experts: written to RUNS/lite0-sef-gamma-jpeg30.toml; commit it beside the experts once they
# are), scored beside the shipped model on val (scripts/fusion_candidate.sh). Resumable: rerun the same
# command after an interruption; a finished expert is not trained again.
#   mkdir -p RUNS && nohup scripts/jpeg30_experts.sh RUNS [MANIFEST] > RUNS/chain.log 2>&1 &
# SHIPPED_EVAL=DIR skips scoring the shipped model again (see scripts/fusion_candidate.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-$HOME/synthspot-data/runs/jpeg30}
manifest=${2:-$HOME/synthspot-data/forged/manifest.jsonl}
mkdir -p "$runs"
echo $$ > "$runs/chain.pid"
declare -A shipped=([upsample]=lite0-upsample-lowlevel-730k [reconstruct]=lite0-reconstruct-lowlevel
                    [regenerate]=lite0-regenerate-lowlevel [inpaint]=lite0-inpaint-lowlevel-gamma)
fusion=$runs/lite0-sef-gamma-jpeg30.toml
{ echo "# Written by scripts/jpeg30_experts.sh: the config below with the experts trained on heavy JPEG."
  cat configs/lite0-sef-gamma-v13-jpeg30.toml; } > "$fusion.tmp"
for expert in upsample reconstruct regenerate inpaint; do
    kept=configs/checkpoints/lite0-$expert-jpeg30
    if [ ! -d "$kept" ]; then
        [ -f "$runs/$expert/checkpoint/model.safetensors" ] || .venv/bin/python -m training train \
            --config "configs/jpeg30/lite0-$expert-jpeg30.toml" --run "$runs/$expert" --manifest "$manifest" --no-progress
        rm -rf "$kept.tmp" && mkdir -p "$kept.tmp"  # whole or not at all: a cut copy is made again
        cp "$runs/$expert/checkpoint/config.json" "$runs/$expert/checkpoint/model.safetensors" "$runs/$expert/metrics.jsonl" "$kept.tmp/"
        mv "$kept.tmp" "$kept"
    fi
    sed -i "s|configs/checkpoints/${shipped[$expert]}\"|$kept\"|" "$fusion.tmp"
done
[ "$(grep -c -- '-jpeg30"' "$fusion.tmp")" = 4 ] || { echo "the fusion config did not take the four new experts" >&2; exit 1; }
mv "$fusion.tmp" "$fusion"
scripts/fusion_candidate.sh "$fusion" "$runs/fusion" 13 "$manifest"
rm -f "$runs/chain.pid"
