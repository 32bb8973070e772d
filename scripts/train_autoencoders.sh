#!/usr/bin/env bash
# The reconstruct domain's three further autoencoders (issue "Real photos and aligned fakes"): KL-f8
# with SD's nearest-upsample decoder, KL-f8 with a pixel-shuffle decoder, and a VQ-f8, one after the
# other in the background, each for MINUTES of CPU time (both threads count). Resumable: rerun the
# same command and a design with a partial checkpoint continues from it for what is left of its
# MINUTES (the discriminator restarts unless the run had ended; the learning-rate schedule restarts); a
# design whose folder holds final val figures is skipped. A finished design moves under
# training/data/weights/ by hand, once its reconstructions are looked at (sharp, no colour cast).
#   scripts/train_autoencoders.sh [CORPUS] [OUT] [MINUTES] [DESIGNS...]
# AE_INIT_FROM=FOLDER starts each new design from a trained autoencoder's full-resolution layers
# (e.g. training/data/weights/kl-f4-nearest; `--init-from`). The bundled f8s came from
#   scripts/train_autoencoders.sh CORPUS OUT 50 kl-f8-nearest                      (from scratch)
#   AE_INIT_FROM=training/data/weights/kl-f4-nearest \
#       scripts/train_autoencoders.sh CORPUS OUT2 25 kl-f8-pixelshuffle vq-f8
# (their figures: training/data/forge/train_autoencoder.py). Started from the f4 as well, the
# KL-f8 nearest reached about what it did from scratch (22.4 vs 22.6 dB raw after 30 / 50 minutes).
# Logs: OUT/DESIGN.log; OUT/train.pid while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-$HOME/synthspot-data/corpus}
out=${2:-$HOME/synthspot-data/autoencoders}
minutes=${3:-80}
shift $(( $# > 3 ? 3 : $# ))
designs=("$@")
[ ${#designs[@]} -gt 0 ] || designs=(kl-f8-nearest kl-f8-pixelshuffle vq-f8)
mkdir -p "$out"
run_all() {
    for design in "${designs[@]}"; do
        folder="$out/$design"
        if [ -f "$folder/autoencoder.json" ] && grep -q val_centre512 "$folder/autoencoder.json"; then
            echo "$design: finished before, skipped"; continue
        fi
        resume=() budget=$minutes
        [ -z "${AE_INIT_FROM:-}" ] || resume=(--init-from "$AE_INIT_FROM")
        if [ -f "$folder/autoencoder.json" ]; then
            resume=(--resume "$folder")
            budget=$(.venv/bin/python -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; \
print(max(1.0, float(sys.argv[2]) - m.get('train_cpu_seconds', 0) / 60))" "$folder/autoencoder.json" "$minutes")
        fi
        OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m training.data.forge.train_autoencoder --corpus "$corpus" \
            --design "$design" --out "$folder" --state "$out/state/$design" --minutes "$budget" \
            --max-wall-minutes "$budget" --threads 2 --val-limit 20 "${resume[@]}" >> "$out/$design.log" 2>&1
    done
}
run_all &
echo $! > "$out/train.pid"
echo "training autoencoders in the background: pid $(cat "$out/train.pid"), logs $out/*.log"
