#!/usr/bin/env bash
# After scripts/train_default.sh: choose the scoring recipe on validation data, calibrate on the
# validation split (a Platt scaling of the logits on its reals and fakes, then thresholds from its reals,
# processed ones included), export fp32 with a parity check, evaluate
# it on the test split (clean and under every perturbation), then export fp32 and fp16 with the figures.
#   scripts/finish_default.sh [MANIFEST] [RUN] [OUT_MODELS] [VERSION]
# Everything lands in RUN (recipe.json, calibration.json, eval_test/) and OUT_MODELS.
set -euo pipefail
# Paths as typed are relative to where the command was typed, not to the checkout the script runs in.
manifest=$(realpath -m -- "${1:-$HOME/synthspot-data/forged/manifest.jsonl}")
run=$(realpath -m -- "${2:-$HOME/synthspot-data/runs/default-lite0}")
models=$(realpath -m -- "${3:-$run/models}")
# No version given: export stamps the weights' digest, so a retrained model never answers from another's
# stored verdicts (the results cache is keyed by name and version; every export here was "2").
version=${4:-}
cd "$(dirname "$0")/.."
recipe_crops=${RECIPE_CROPS:-8,28}  # crop counts the recipe compares on val
# val reals perturbed as evaluation perturbs them, each held to the FPR as its own kind (version 11: half size)
calibration_perturbations=${CALIBRATION_PERTURBATIONS:-downscale0.5}
py=.venv/bin/python

[ -f "$run/recipe.json" ] || $py -m training.recipe --checkpoint "$run/checkpoint" --data "$manifest" \
    --split val --max-crops "$recipe_crops" --crop-plan texture --out "$run/recipe.json"
read -r max_crops aggregation < <($py -c "import json,sys; c=json.load(open(sys.argv[1]))['chosen']; print(c['max_crops'], c['aggregation'])" "$run/recipe.json")
echo "recipe: $max_crops crops, $aggregation"

$py -m training calibrate --checkpoint "$run/checkpoint" --data "$manifest" --split val --fpr 0.01 \
    --max-crops "$max_crops" --aggregation "$aggregation" --crop-plan texture \
    --perturbations "$calibration_perturbations" --out "$run/calibration.json"
$py -m export --checkpoint "$run/checkpoint" --calibration "$run/calibration.json" --out "$models" \
    --name synthspot-lite0 ${version:+--version "$version"} --precisions fp32 --parity-data "$manifest"
$py -m training.evaluate --onnx "$models/synthspot-lite0-fp32.onnx" --data "$manifest" --split test \
    --perturbations all --calibration "$run/calibration.json" --out "$run/eval_test"
# Export again with the held-out summary stamped into the model's metadata, fp16 too. Export exits
# non-zero when a precision fails its parity check (it says which and keeps the others).
$py -m export --checkpoint "$run/checkpoint" --calibration "$run/calibration.json" --out "$models" \
    --name synthspot-lite0 ${version:+--version "$version"} --precisions fp32,fp16 --parity-data "$manifest" \
    --metrics "$run/eval_test/metrics.json" || echo "a precision was refused: see above"
