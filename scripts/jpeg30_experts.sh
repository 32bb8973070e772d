#!/usr/bin/env bash
# Version 12's four experts trained on with JPEG down to quality 30 (configs/jpeg30/), then version 12's
# fusion over them, itself trained with JPEG down to 30 (configs/lite0-sef-gamma-v13-jpeg30.toml with the
# new experts), scored beside the shipped model on val: scripts/experts_candidate.sh, as the twentieth
# session ran it (docs/results.md, "The experts trained on heavy JPEG").
#   mkdir -p RUNS && nohup scripts/jpeg30_experts.sh RUNS [MANIFEST] > RUNS/chain.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/experts_candidate.sh jpeg30 configs/lite0-sef-gamma-v13-jpeg30.toml \
    "${1:-$HOME/synthspot-data/runs/jpeg30}" "${2:-$HOME/synthspot-data/forged/manifest.jsonl}"
