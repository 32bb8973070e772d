#!/usr/bin/env bash
# WiSE-FT for the upsample expert (issue "A detector that detects"): the expert trained on with
# UpscalerJS' RDN fakes (configs/checkpoints/lite0-upsample-upscalerjs) learnt them but lost some of
# the forge's own upsamplers, and retraining the fusion over it lost more. Weight interpolation
# between it and the expert it started from (version 12's, lite0-upsample-lowlevel-730k) keeps both
# at no inference cost (python -m training.interpolate). Here: the experts alone along the path, on
# val's upsample fakes (the forge's and UpscalerJS') against val's original reals; then version 12's
# own fusion with its upsample LoRA swapped for the interpolated one at ALPHA (chosen before any
# score: WiSE-FT's usual 0.5), gate and heads untouched (python -m training.swap_expert),
# calibrated, exported and scored on val beside the shipped model (scripts/fusion_candidate.sh; clean
# only unless PERTURBATIONS=jpeg75,jpeg50 is set: the JPEG conditions cost an hour more).
# Then a soup of the two fusions (version 12 and the one retrained over the UpscalerJS expert). Both are
# first scored on version 12's calibration (their APs, in minutes), then calibrated and scored in full.
# Never the test split. Resumable: rerun the same command; finished stages are skipped.
#   mkdir -p RUNS && nohup scripts/wiseft_candidate.sh [DATA] [RUNS] > RUNS/chain.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-$HOME/synthspot-data}
runs=${2:-$data/runs/wiseft}
ujs_runs=${UJS_RUNS:-$data/runs/upscalerjs}
alpha=${ALPHA:-0.5}
expert_alphas=${EXPERT_ALPHAS:-0.25 0.5 0.75}
start=configs/checkpoints/lite0-upsample-lowlevel-730k
end=configs/checkpoints/lite0-upsample-upscalerjs
py=.venv/bin/python
mkdir -p "$runs"
source scripts/chain_lib.sh
claim_chain "$runs"
tag() { $py -c "print(f'wise{round(float($1) * 100):02d}')"; }  # 0.5 -> wise50

stage "UpscalerJS' val and test fakes, merged with the forge"
STOP_AFTER=eval scripts/upscalerjs_candidate.sh "$data" "$ujs_runs"
eval_manifest=$ujs_runs/eval.jsonl
val_upsample=$runs/val_upsample.jsonl
if [ ! "$val_upsample" -nt "$eval_manifest" ]; then  # val's upsample fakes and original reals (absolute paths)
    $py - "$eval_manifest" "$val_upsample.tmp" <<'EOF'
import sys
from training.data import manifest
kept = [r for r in manifest.read(sys.argv[1]) if r.split == "val"
        and ((r.label == 0 and not r.processing) or r.domain == "upsample")]
manifest.write(kept, sys.argv[2])
EOF
    mv "$val_upsample.tmp" "$val_upsample"
fi

interpolated() {  # interpolated ALPHA OUT: the expert ALPHA of the way from start to end
    [ -f "$2/model.safetensors" ] && return
    rm -rf "$2.tmp"
    $py -m training.interpolate "$2.tmp" --start "$start" --end "$end" --alpha "$1" > /dev/null
    rm -rf "$2"  # a partial one
    mv "$2.tmp" "$2"
}
expert_eval() {  # expert_eval CHECKPOINT OUT: the expert alone, 8 texture crops, mean
    [ -f "$2/report.md" ] && return
    stage "expert alone: $1"
    $py -m training.evaluate --checkpoint "$1" --data "$val_upsample" --split val --perturbations none \
        --max-crops 8 --crop-plan texture --out "$2"
}
t=$(tag "$alpha")
kept=configs/checkpoints/lite0-upsample-upscalerjs-$t
interpolated "$alpha" "$kept"

fusion=$runs/v12-$t
if [ ! -f "$fusion/checkpoint/model.safetensors" ]; then
    rm -rf "$fusion/checkpoint.tmp"
    $py -m training.swap_expert "$fusion/checkpoint.tmp" --fusion configs/checkpoints/lite0-sef-gamma-v12 \
        --expert upsample --from "$kept"
    rm -rf "$fusion/checkpoint"
    mv "$fusion/checkpoint.tmp" "$fusion/checkpoint"
fi
# A soup of the two fusions themselves: version 12 and the fusion retrained over the UpscalerJS expert
# (configs/checkpoints/lite0-sef-gamma-upscalerjs), same config and seed, ALPHA of the way: the upsample
# expert as above, the gate and heads half way too. Scored against the same shipped evaluation.
soup=$runs/soup-$t
if [ ! -f "$soup/checkpoint/model.safetensors" ]; then
    rm -rf "$soup/checkpoint.tmp"
    $py -m training.interpolate "$soup/checkpoint.tmp" --start configs/checkpoints/lite0-sef-gamma-v12 \
        --end configs/checkpoints/lite0-sef-gamma-upscalerjs --alpha "$alpha" > /dev/null
    rm -rf "$soup/checkpoint"
    mv "$soup/checkpoint.tmp" "$soup/checkpoint"
fi
candidates() {  # each candidate through fusion_candidate.sh (the config is not trained: the checkpoint is there)
    PERTURBATIONS=${PERTURBATIONS:-none} EVAL_MANIFEST=$eval_manifest \
        scripts/fusion_candidate.sh configs/lite0-sef-gamma-v12.toml "$fusion" 15 "$data/forged/manifest.jsonl"
    PERTURBATIONS=${PERTURBATIONS:-none} EVAL_MANIFEST=$eval_manifest SHIPPED_EVAL=$fusion/eval_val_shipped \
        scripts/fusion_candidate.sh configs/lite0-sef-gamma-upscalerjs.toml "$soup" 16 "$data/forged/manifest.jsonl"
}
stage "first look, both candidates on version 12's calibration (their APs; not their flag rates)"
BORROW_CALIBRATION=configs/checkpoints/lite0-sef-gamma-v12/calibration.json candidates
stage "both candidates calibrated as version 12 was, exported and scored"
candidates

# The experts alone along the path (last: the fusions above answer the question)
expert_eval "$start" "$runs/expert-start"
expert_eval "$end" "$runs/expert-end"
expert_eval "$kept" "$runs/expert-$t"
for a in $expert_alphas; do
    at=$(tag "$a")
    [ "$at" = "$t" ] && continue
    interpolated "$a" "$runs/experts/$at"
    expert_eval "$runs/experts/$at" "$runs/expert-$at"
done
rm -f "$runs/chain.pid"
stage "done"
