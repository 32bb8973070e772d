#!/usr/bin/env bash
# The method ablation at scale, in the background and resumable (issue "A detector that detects"):
# mixed, SEF, SEF with a low-level upsample expert (right after its baseline), MoLE, then GAMMA on
# mixed and on SEF, and (since the thirtieth session) mixed on the NPR input and SEF with its upsample
# expert on it, at 102,400 crops each, on two leave-one-family-out folds (an ESRGAN upsampler and the
# VQ autoencoder never trained on), three seeds; for seeds 1 and 2 GAMMA goes only on the better of mixed and SEF by seed 0's held-out AP
# (--gamma-on-better). About 40 CPU-minutes per run on 2 cores (about 27 training, 13 scoring), 32 runs
# (44 with the NPR input's two), seed-major: it spans sessions. Rerun the same command after a stop and it
# continues (finished runs are skipped, a stopped one resumes from its epoch).
#   scripts/ablation_100k.sh [FORGED] [RUNS]        then: TABLE_ONLY=1 scripts/ablation_100k.sh [FORGED] [RUNS]
# Each finished run's figures are copied to results/ablation-100k/ (commit them: a fresh machine loses
# RUNS, and a run recorded on the same fold manifest is not trained again).
# Logs: RUNS/ablation.log; RUNS/ablation.pid while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
forged=${1:-$HOME/synthspot-data/forged}
runs=${2:-$HOME/synthspot-data/runs/ablation-100k}
families=${FAMILIES:-esrgan-rrdb vq}
py=.venv/bin/python
folds=()
for family in $families; do
    fold=$forged/folds/family-$family.jsonl
    [ -f "$fold" ] || $py -m training.data.leaveout --manifest "$forged/manifest.jsonl" --by family --held-out "$family"
    folds+=("$fold")
done
mkdir -p "$runs"
args=(--folds "$(IFS=,; echo "${folds[*]}")" --seeds 0,1,2 --gamma-on-better --runs "$runs" --record "${RECORD:-results/ablation-100k}"
      --perturbations jpeg75,blur1,downscale0.5
      configs/ablation-100k/lite0-mixed.toml configs/ablation-100k/lite0-sef.toml
      configs/ablation-100k/lite0-sef-lowlevel.toml configs/ablation-100k/lite0-mole.toml
      configs/ablation-100k/lite0-mixed-gamma.toml configs/ablation-100k/lite0-sef-gamma.toml
      configs/ablation-100k/lite0-mixed-npr-lowlevel.toml configs/ablation-100k/lite0-sef-npr-upsample.toml)
if [ -n "${TABLE_ONLY:-}" ]; then  # the table of the runs finished so far, in the foreground
    exec $py -m training.ablation "${args[@]}" --table-only
fi
nohup $py -m training.ablation "${args[@]}" \
    >> "$runs/ablation.log" 2>&1 &
echo $! > "$runs/ablation.pid"
echo "ablation in the background: pid $(cat "$runs/ablation.pid"), log $runs/ablation.log"
