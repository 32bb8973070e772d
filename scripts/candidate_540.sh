#!/usr/bin/env bash
# A fusion chosen on the 444-photo val (e.g. scripts/wiseft_candidate.sh's soup) calibrated and tested
# on the 540-photo splits, as the shipped version 12 was (issue "A detector that detects"): the added
# photos' val and test crops are forged (scripts/rebuild_data.sh, FORGE_SPLITS=val,test), the checkpoint
# calibrated on val and exported with the cascade (scripts/fusion_candidate.sh, STOP_AFTER=export), then
# scored on test once beside the shipped model (scripts/test_candidate.sh). PERTURBATIONS: the test's
# conditions, by default those the issue's targets name (JPEG q75, blur sigma 1, bicubic x2) and half size.
#   mkdir -p RUN && nohup scripts/candidate_540.sh CHECKPOINT RUN VERSION [DATA] > RUN/chain540.log 2>&1 &
# Resumable: rerun the same command; finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=$1
run=$2
version=$3
data=${4:-$HOME/synthspot-data}
manifest=$data/forged/manifest.jsonl
source scripts/chain_lib.sh
mkdir -p "$run"

stage "the 540-photo corpus, its val and test crops"
FORGE_SPLITS=val,test scripts/rebuild_data.sh "$data"
if [ ! -f "$run/checkpoint/model.safetensors" ]; then  # the weights only: the calibration is made here
    rm -rf "$run/checkpoint.tmp"
    cp -r "$checkpoint" "$run/checkpoint.tmp"
    rm -f "$run/checkpoint.tmp/calibration.json"
    mv "$run/checkpoint.tmp" "$run/checkpoint"
fi
stage "calibrated on val, exported with the cascade"
# (the config argument trains a missing checkpoint only: the checkpoint is there)
STOP_AFTER=export scripts/fusion_candidate.sh - "$run" "$version" "$manifest"
stage "the test split, once, beside the shipped model"
PERTURBATIONS=${PERTURBATIONS:-none,jpeg75,blur1,upscale2,downscale0.5} BOOTSTRAP=${BOOTSTRAP:-200} \
    scripts/test_candidate.sh "$run" "$manifest"
stage "done"
