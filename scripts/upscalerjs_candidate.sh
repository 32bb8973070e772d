#!/usr/bin/env bash
# A candidate trained with UpscalerJS' photo upsamplers (issue "A detector that detects"): the seven RDN
# networks that keep a photo's colours forge fakes from the train split's crops, all fourteen (RDN and the never-trained RRDN) from
# val's and test's; version 12's upsample expert is trained on with the RDN fakes added
# (configs/lite0-upsample-upscalerjs.toml, copied to configs/checkpoints/lite0-upsample-upscalerjs once
# finished: commit it), then version 12's fusion over it (configs/lite0-sef-gamma-upscalerjs.toml),
# calibrated on val as version 12 was and scored on val beside the shipped model
# (scripts/fusion_candidate.sh), on a manifest with the UpscalerJS val fakes added. Calibration never
# sees them: RRDN stays unseen. Resumable: rerun the same command; finished stages are skipped.
#   mkdir -p RUNS && nohup scripts/upscalerjs_candidate.sh [DATA] [RUNS] > RUNS/chain.log 2>&1 &
#   STOP_AFTER=eval scripts/upscalerjs_candidate.sh [DATA] [RUNS]   # only val's and test's fakes, merged
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-$HOME/synthspot-data}
runs=${2:-$data/runs/upscalerjs}
py=.venv/bin/python
mkdir -p "$runs"
source scripts/chain_lib.sh
claim_chain "$runs"
# all: every network; rdn: the RDNs that keep a photo's colours (the tinting ones are never trained on)
networks() { $py -c "from training.data.forge import upscalerjs_sr as u; print(','.join(s.name for s in u.SPECS if '$1' == 'all' or (s.family == '$1' and not s.colour_cast)))"; }

forge() {  # forge OUT SPLITS FAMILY: upsample fakes only, by UpscalerJS networks, from the same crops as the default forge
    [ -f "$1/.complete" ] && return
    stage "forge $2 with the $3 networks -> $1"
    local names  # assigned on its own line: a failure inside $(...) then stops the script (set -e)
    names=$(networks "$3")
    [ -n "$names" ] || { echo "no UpscalerJS network selected for $3" >&2; exit 1; }
    scripts/forge_default.sh "$data/corpus" "$1" --domains upsample --processed 0 --splits "$2" --super-resolvers "$names"
    touch "$1/.complete"
}
merged() {  # merged OUT MANIFEST...: written aside, then renamed
    [ -f "$1" ] && return
    $py -m training.data.merge "$1.tmp" "${@:2}"
    mv "$1.tmp" "$1"
}
forge "$data/forged-upscalerjs" val,test all
merged "$runs/eval.jsonl" "$data/forged/manifest.jsonl" "$data/forged-upscalerjs/manifest.jsonl"
# STOP_AFTER=eval: only the evaluation manifest (e.g. for scripts/wiseft_candidate.sh)
[ "${STOP_AFTER:-}" = eval ] && { rm -f "$runs/chain.pid"; stage "done (eval manifest)"; exit 0; }
forge "$data/forged-upscalerjs-train" train rdn
merged "$runs/train.jsonl" "$data/forged/manifest.jsonl" "$data/forged-upscalerjs-train/manifest.jsonl"

kept=configs/checkpoints/lite0-upsample-upscalerjs
if [ ! -d "$kept" ]; then
    stage "the upsample expert"
    [ -f "$runs/upsample/checkpoint/model.safetensors" ] || $py -m training train \
        --config configs/lite0-upsample-upscalerjs.toml --run "$runs/upsample" --manifest "$runs/train.jsonl" --no-progress
    rm -rf "$kept.tmp" && mkdir -p "$kept.tmp"  # whole or not at all
    cp "$runs/upsample/checkpoint/config.json" "$runs/upsample/checkpoint/model.safetensors" "$runs/upsample/metrics.jsonl" "$kept.tmp/"
    mv "$kept.tmp" "$kept"
fi
stage "the fusion, calibration, export and val scores"
EVAL_MANIFEST=$runs/eval.jsonl scripts/fusion_candidate.sh configs/lite0-sef-gamma-upscalerjs.toml "$runs/fusion" 14 "$runs/train.jsonl"
rm -f "$runs/chain.pid"
stage "done"
