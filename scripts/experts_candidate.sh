#!/usr/bin/env bash
# Version 12's four experts trained on as configs/VARIANT/lite0-<expert>-VARIANT.toml says (each starts
# from its shipped checkpoint), each finished one copied beside the others (configs/checkpoints/
# lite0-<expert>-VARIANT, small: commit them), then a fusion over them: FUSION_CONFIG (one naming the
# shipped experts) with the new ones put in, written to RUNS/lite0-sef-gamma-VARIANT.toml (commit it
# beside the experts once they are), trained and scored beside the shipped model on val
# (scripts/fusion_candidate.sh, in RUNS/fusion). Resumable: rerun the same command after an
# interruption; a finished expert is not trained again.
#   mkdir -p RUNS && nohup scripts/experts_candidate.sh VARIANT FUSION_CONFIG RUNS [MANIFEST] > RUNS/chain.log 2>&1 &
# SHIPPED_EVAL=DIR skips scoring the shipped model again, PERTURBATIONS as there (scripts/fusion_candidate.sh);
# VERSION (default 13) is the export's version.
set -euo pipefail
cd "$(dirname "$0")/.."
variant=$1
fusion_config=$2
runs=$3
manifest=${4:-$HOME/synthspot-data/forged/manifest.jsonl}
mkdir -p "$runs"
echo $$ > "$runs/chain.pid"
declare -A shipped=([upsample]=lite0-upsample-lowlevel-730k [reconstruct]=lite0-reconstruct-lowlevel
                    [regenerate]=lite0-regenerate-lowlevel [inpaint]=lite0-inpaint-lowlevel-gamma)
fusion=$runs/lite0-sef-gamma-$variant.toml
{ echo "# Written by scripts/experts_candidate.sh $variant: the config below with the experts of configs/$variant/."
  cat "$fusion_config"; } > "$fusion.tmp"
for expert in upsample reconstruct regenerate inpaint; do
    kept=configs/checkpoints/lite0-$expert-$variant
    if [ ! -d "$kept" ]; then
        [ -f "$runs/$expert/checkpoint/model.safetensors" ] || .venv/bin/python -m training train \
            --config "configs/$variant/lite0-$expert-$variant.toml" --run "$runs/$expert" --manifest "$manifest" --no-progress
        rm -rf "$kept.tmp" && mkdir -p "$kept.tmp"  # whole or not at all: a cut copy is made again
        cp "$runs/$expert/checkpoint/config.json" "$runs/$expert/checkpoint/model.safetensors" "$runs/$expert/metrics.jsonl" "$kept.tmp/"
        mv "$kept.tmp" "$kept"
    fi
    sed -i "s|configs/checkpoints/${shipped[$expert]}\"|$kept\"|" "$fusion.tmp"
done
[ "$(grep -c -- "-$variant\"" "$fusion.tmp")" = 4 ] || { echo "the fusion config did not take the four new experts" >&2; exit 1; }
mv "$fusion.tmp" "$fusion"
scripts/fusion_candidate.sh "$fusion" "$runs/fusion" "${VERSION:-13}" "$manifest"
rm -f "$runs/chain.pid"
