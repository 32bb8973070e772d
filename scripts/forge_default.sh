#!/usr/bin/env bash
# The forge behind the default detector's data (issue "Real photos and aligned fakes at the scale a
# detector needs"): every corpus photo as up to 48 aligned crops of 256-384 px, one fake per domain and
# four processed reals per crop (7,972 crop units from the 540-photo corpus). Resumable: rerun the same
# command after an interruption; a larger count keeps the crops already made and adds the rest.
#   scripts/forge_default.sh [CORPUS] [OUT] [extra forge flags, e.g. --domains upsample,regenerate]
set -euo pipefail
# Paths as typed are relative to where the command was typed, not to the checkout the script runs in.
corpus=$(realpath -m -- "${1:-$HOME/synthspot-data/corpus}")
out=$(realpath -m -- "${2:-$HOME/synthspot-data/forged}")
cd "$(dirname "$0")/.."
shift $(( $# > 2 ? 2 : $# ))
exec .venv/bin/python -m training.data.forge --corpus "$corpus" --out "$out" \
    --crops-per-photo 48 --crop-sizes 256,384 --processed 4 --workers 2 "$@"
