#!/usr/bin/env bash
# A fusion candidate against the shipped model on val, side by side (issue "A detector that detects"):
# train the fusion (resumable), calibrate as the shipped model was (val, FPR 1%, 8 crops, mean,
# texture plan, half-size reals as their own kind), export fp32 with the shipped cascade (first 4 crops,
# margin 0.4), then score val clean and re-encoded at JPEG q75 and q50 with the candidate and with
# engine/models' shipped model. Never the test split: that is for the model chosen here.
#   scripts/fusion_candidate.sh CONFIG RUN VERSION [MANIFEST]
# Background: nohup scripts/fusion_candidate.sh ... > RUN/chain.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
config=$1
run=$2
version=$3
manifest=${4:-$HOME/synthspot-data/forged/manifest.jsonl}
perturbations=${PERTURBATIONS:-jpeg75,jpeg50}
shipped=engine/models/synthspot-lite0-fp32.onnx
shipped_calibration=${SHIPPED_CALIBRATION:-configs/checkpoints/lite0-sef-gamma-v12/calibration.json}
py=.venv/bin/python
mkdir -p "$run"
echo $$ > "$run/chain.pid"

$py -m training train --config "$config" --run "$run" --manifest "$manifest" --no-progress
[ -f "$run/calibration.json" ] || $py -m training calibrate --checkpoint "$run/checkpoint" --data "$manifest" \
    --split val --fpr 0.01 --max-crops 8 --aggregation mean --crop-plan texture \
    --perturbations downscale0.5 --out "$run/calibration.json"
if [ ! -f "$run/models/candidate-cascade.onnx" ]; then
    $py -m export --checkpoint "$run/checkpoint" --calibration "$run/calibration.json" --out "$run/models" \
        --name synthspot-lite0 --version "$version" --precisions fp32 --parity-data "$manifest"
    $py -m export.cascade --model "$run/models/synthspot-lite0-fp32.onnx" --first-crops 4 --margin 0.4 \
        --out "$run/models/candidate-cascade.onnx"
fi
[ -f "$run/eval_val/metrics.json" ] || $py -m training.evaluate --onnx "$run/models/candidate-cascade.onnx" \
    --data "$manifest" --split val --perturbations "$perturbations" --calibration "$run/calibration.json" \
    --out "$run/eval_val"
# SHIPPED_EVAL: an earlier chain's eval_val_shipped, reused (only while engine/models and the scoring are unchanged).
if [ -n "${SHIPPED_EVAL:-}" ] && [ ! -e "$run/eval_val_shipped" ]; then cp -r "$SHIPPED_EVAL" "$run/eval_val_shipped"; fi
[ -f "$run/eval_val_shipped/metrics.json" ] || $py -m training.evaluate --onnx "$shipped" \
    --data "$manifest" --split val --perturbations "$perturbations" --calibration "$shipped_calibration" \
    --out "$run/eval_val_shipped"
rm -f "$run/chain.pid"
echo "done: $run/eval_val against $run/eval_val_shipped"
