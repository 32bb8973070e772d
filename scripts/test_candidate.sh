#!/usr/bin/env bash
# The test split, once, for a candidate chosen on val (scripts/fusion_candidate.sh's RUN), side by side with
# the shipped model: both scored clean and under every perturbation, then compared.
#   mkdir -p RUN && nohup scripts/test_candidate.sh RUN [MANIFEST] > RUN/test.log 2>&1 &
# Resumable: an evaluation whose report is written is not run again.
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1
manifest=${2:-$HOME/synthspot-data/forged/manifest.jsonl}
perturbations=${PERTURBATIONS:-all}
shipped=engine/models/synthspot-lite0-fp32.onnx
shipped_calibration=${SHIPPED_CALIBRATION:-configs/checkpoints/lite0-sef-gamma-v13-npm/calibration.json}
py=.venv/bin/python
[ -f "$run/models/candidate-cascade.onnx" ] || { echo "$run has no candidate-cascade.onnx: run scripts/fusion_candidate.sh first" >&2; exit 2; }
[ -f "$run/eval_test/report.md" ] || $py -m training.evaluate --onnx "$run/models/candidate-cascade.onnx" \
    --data "$manifest" --split test --perturbations "$perturbations" --calibration "$run/calibration.json" \
    --out "$run/eval_test"
[ -f "$run/eval_test_shipped/report.md" ] || $py -m training.evaluate --onnx "$shipped" \
    --data "$manifest" --split test --perturbations "$perturbations" --calibration "$shipped_calibration" \
    --out "$run/eval_test_shipped"
# BOOTSTRAP=N: fewer resamples (1,000 take over ten minutes on two cores; 200 about three)
$py -m training.compare "$run/eval_test_shipped" "$run/eval_test" --manifest "$manifest" \
    --bootstrap "${BOOTSTRAP:-1000}" --out "$run/compare_test.md"
