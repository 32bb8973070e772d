#!/usr/bin/env bash
# A fusion candidate against the shipped model on val, side by side (issue "A detector that detects"):
# train the fusion (resumable), calibrate as the shipped model was (val, FPR 1%, 8 crops, mean,
# texture plan, half-size reals as their own kind), export (fp32, or PRECISION) with the shipped cascade (first 4 crops,
# margin 0.4), then score val clean and re-encoded at JPEG q75 and q50 with the candidate and with
# engine/models' shipped model. Never the test split: that is for the model chosen here.
#   scripts/fusion_candidate.sh CONFIG RUN VERSION [MANIFEST]
# Background: mkdir -p RUN && nohup scripts/fusion_candidate.sh CONFIG RUN VERSION > RUN/chain.log 2>&1 &
# Resumable: each step is skipped once its output is whole (written aside, then renamed).
set -euo pipefail
cd "$(dirname "$0")/.."
config=$1
run=$2
version=$3
manifest=${4:-$HOME/synthspot-data/forged/manifest.jsonl}
# EVAL_MANIFEST: score on another manifest than the one trained and calibrated on (e.g. one with a
# family held out of training added to val)
eval_manifest=${EVAL_MANIFEST:-$manifest}
# BORROW_CALIBRATION=FILE: a first look without calibrating (16 minutes saved): export and score with
# another model's calibration. APs are close to what the candidate's own would give (a monotonic
# rescaling ranks the same; only the cascade's stop rule, set from the calibration, moves); its flag
# rates and "uncertain" shares are not its own. Written aside (models-borrowed,
# eval_val-borrowed), so a later run without it calibrates and scores as usual.
borrowed=${BORROW_CALIBRATION:-}
suffix=${borrowed:+-borrowed}
perturbations=${PERTURBATIONS:-jpeg75,jpeg50}
# PRECISION=int8: export, calibrate and score the candidate at that precision (its scores move: it is calibrated
# on its own); a trained model in RUN/checkpoint is not trained again (e.g. the shipped one's, copied there).
precision=${PRECISION:-fp32}
shipped=engine/models/synthspot-lite0-fp32.onnx
shipped_calibration=${SHIPPED_CALIBRATION:-configs/checkpoints/lite0-sef-gamma-v13-npm/calibration.json}
py=.venv/bin/python
mkdir -p "$run"
echo $$ > "$run/chain.pid"

[ -f "$run/checkpoint/model.safetensors" ] || \
    $py -m training train --config "$config" --run "$run" --manifest "$manifest" --no-progress
calibration=${borrowed:-$run/calibration.json}
if [ -z "$borrowed" ] && [ ! -f "$run/calibration.json" ]; then
    # Scored through the exported graph, the file that ships: ONNX Runtime needs a third of the torch scorer's
    # time here and gives the same thresholds (docs/results.md, thirty-sixth session). The graph's logits are
    # raw (thresholds and scaling are metadata): this first export borrows the shipped model's calibration only
    # to be scored, and the candidate is exported again below with its own.
    scored=$run/models-for-calibration
    [ -f "$scored/synthspot-lite0-$precision.onnx" ] || $py -m export --checkpoint "$run/checkpoint" \
        --calibration "$shipped_calibration" --out "$scored" --name synthspot-lite0 --version "$version-uncalibrated" \
        --precisions "$precision" --parity-data "$manifest"
    $py -m training calibrate --onnx "$scored/synthspot-lite0-$precision.onnx" --data "$manifest" \
        --split val --fpr 0.01 --max-crops 8 --aggregation mean --crop-plan texture \
        --perturbations downscale0.5 --out "$run/calibration.tmp.json"
    mv "$run/calibration.tmp.json" "$run/calibration.json"
fi
models=$run/models$suffix
if [ ! -f "$models/candidate-cascade.onnx" ]; then
    $py -m export --checkpoint "$run/checkpoint" --calibration "$calibration" --out "$models" \
        --name synthspot-lite0 --version "$version" --precisions "$precision" --parity-data "$manifest"
    $py -m export.cascade --model "$models/synthspot-lite0-$precision.onnx" --first-crops 4 --margin 0.4 \
        --out "$models/candidate-cascade.tmp.onnx"
    mv "$models/candidate-cascade.tmp.onnx" "$models/candidate-cascade.onnx"
fi
# STOP_AFTER=export: calibrated and exported only (a candidate already chosen on val, about to be tested).
[ "${STOP_AFTER:-}" = export ] && { rm -f "$run/chain.pid"; echo "done: $models/candidate-cascade.onnx"; exit 0; }
# An evaluation is whole once its report is written (metrics, scores and plots come before it).
[ -f "$run/eval_val$suffix/report.md" ] || $py -m training.evaluate --onnx "$models/candidate-cascade.onnx" \
    --data "$eval_manifest" --split val --perturbations "$perturbations" --calibration "$calibration" \
    --out "$run/eval_val$suffix"
# SHIPPED_EVAL: an earlier chain's eval_val_shipped, reused (only while engine/models and the scoring are unchanged).
if [ -n "${SHIPPED_EVAL:-}" ] && [ ! -e "$run/eval_val_shipped" ]; then cp -r "$SHIPPED_EVAL" "$run/eval_val_shipped"; fi
[ -f "$run/eval_val_shipped/report.md" ] || $py -m training.evaluate --onnx "$shipped" \
    --data "$eval_manifest" --split val --perturbations "$perturbations" --calibration "$shipped_calibration" \
    --out "$run/eval_val_shipped"
rm -f "$run/chain.pid"
echo "done: python -m training.compare $run/eval_val_shipped $run/eval_val$suffix --manifest $eval_manifest --bootstrap 1000"
