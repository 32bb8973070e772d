#!/usr/bin/env bash
# Builds the packaged SynthSpot (PyInstaller, one folder) and checks it:
#   1. a clean virtual environment with only the app's dependencies (packaging/requirements-app.txt)
#      and PyInstaller; never torch or the training/export extras;
#   2. PyInstaller on build.spec -> dist/SynthSpot/;
#   3. the frozen `synthspot --selftest` under Xvfb (or QT_QPA_PLATFORM=offscreen without it);
#   4. the frozen `synthspot scan` (the same executable is the command line) on a bundled sample;
#   5. dist/SynthSpot-<version>-<os>-<arch>.tar.gz, with its size and sha256 (also in a .sha256 file).
#
#   scripts/build_installer.sh [--reuse-venv] [--selftest-model PATH]
#
# --reuse-venv keeps build/installer/venv from an earlier run (faster; not a clean build).
# Without an embedded model (engine/models/default.json) the frozen self-test can only pass what it
# can check (exit 3, said so); the model and scan checks then run with --selftest-model PATH, or with
# a contract test model built by the project's dev environment ($SYNTHSPOT_DEV_PYTHON, default
# .venv/bin/python) when it has `export` (a test model detects nothing: it proves the plumbing).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BUILD=$REPO/build/installer
VENV=$BUILD/venv
DIST=$REPO/dist
APP=$DIST/SynthSpot
PYTHON=${PYTHON:-python3}
DEV_PYTHON=${SYNTHSPOT_DEV_PYTHON:-$REPO/.venv/bin/python}
NICE="nice -n 10"

reuse_venv=0
selftest_model=""
while [ $# -gt 0 ]; do
  case $1 in
    --reuse-venv) reuse_venv=1 ;;
    --selftest-model) selftest_model=$(realpath "$2"); shift ;;
    *) echo "usage: $0 [--reuse-venv] [--selftest-model PATH]" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n== %s (%ds)\n' "$1" "$SECONDS"; }

step "clean virtual environment: the app's dependencies only"
mkdir -p "$BUILD"
if [ $reuse_venv = 0 ] || [ ! -x "$VENV/bin/python" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  $NICE "$VENV/bin/pip" install -q --upgrade pip
fi
# The versions last built and self-tested (packaging/constraints-app.txt), unless SYNTHSPOT_UNPINNED=1.
constraints=(-c packaging/constraints-app.txt); [ "${SYNTHSPOT_UNPINNED:-0}" = 1 ] && constraints=()
$NICE "$VENV/bin/pip" install -q -r packaging/requirements-app.txt "pyinstaller>=6.6" "${constraints[@]}"
"$VENV/bin/pip" freeze > "$BUILD/requirements-frozen.txt"
for forbidden in torch onnx scikit-image; do
  if "$VENV/bin/pip" show -q "$forbidden" >/dev/null 2>&1; then
    echo "build_installer: $forbidden is installed in the build environment; it must not be" >&2; exit 1
  fi
done
echo "$(wc -l < "$BUILD/requirements-frozen.txt") packages (see $BUILD/requirements-frozen.txt)"

step "PyInstaller"
$NICE "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$BUILD/work" build.spec
VERSION=$("$VENV/bin/python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')

step "frozen self-test"
run_frozen() {  # run the frozen app with a display: Xvfb when installed, else Qt's offscreen platform
  if command -v xvfb-run >/dev/null 2>&1; then
    (cd "$BUILD" && xvfb-run -a "$APP/synthspot" "$@")
  else
    (cd "$BUILD" && QT_QPA_PLATFORM=offscreen "$APP/synthspot" "$@")
  fi
}
status=0
if [ -f "$APP/_internal/engine/models/default.json" ]; then
  run_frozen --selftest || status=$?
  [ $status = 0 ] || { echo "build_installer: the frozen self-test FAILED (exit $status)" >&2; exit 1; }
else
  echo "No embedded model in this build: the self-test must report what it could not check."
  run_frozen --selftest || status=$?
  [ $status = 3 ] || { echo "build_installer: expected exit 3 (incomplete) without a model, got $status" >&2; exit 1; }
  if [ -z "$selftest_model" ] && "$DEV_PYTHON" -c "import tests.fixtures.synthetic" >/dev/null 2>&1; then
    selftest_model=$BUILD/contract-test-model.onnx
    "$DEV_PYTHON" -c "import sys; from tests.fixtures.synthetic import brightness_model; \
brightness_model(sys.argv[1], experts=('reconstruction', 'upsampling'), artifact_map_cells=4)" "$selftest_model"
    echo "Model checks with a contract test model (detects nothing; proves loading and scanning): $selftest_model"
  fi
  if [ -n "$selftest_model" ]; then
    status=0
    run_frozen --selftest --model "$selftest_model" || status=$?
    [ $status = 0 ] || { echo "build_installer: the frozen self-test with $selftest_model FAILED (exit $status)" >&2; exit 1; }
  else
    echo "build_installer: NOT CHECKED: model loading and scanning (no model, no --selftest-model, no dev env)"
  fi
fi

step "frozen command line"
# The bundle's executable is also `synthspot scan|serve|models` (packaging/launch.py): one scan, as a script would.
cli_model=()
[ -f "$APP/_internal/engine/models/default.json" ] || [ -z "$selftest_model" ] || cli_model=(--model "$selftest_model")
if [ -f "$APP/_internal/engine/models/default.json" ] || [ ${#cli_model[@]} -gt 0 ]; then
  scanned=$(cd "$BUILD" && "$APP/synthspot" scan --no-cache --json "${cli_model[@]}" "$APP/_internal/engine/samples/coffee.png")
  echo "${scanned:0:240}…"
  grep -q '"verdict": *"likely_\|"verdict": *"uncertain' <<< "$scanned" || \
    { echo "build_installer: the frozen command line scanned nothing" >&2; exit 1; }
else
  echo "build_installer: NOT CHECKED: the frozen command line's scan (no model)"
fi

step "archive"
OS=$(uname -s | tr '[:upper:]' '[:lower:]')
ARCHIVE=$DIST/SynthSpot-$VERSION-$OS-$(uname -m).tar.gz
tar -C "$DIST" -czf "$ARCHIVE" SynthSpot
(cd "$DIST" && sha256sum "$(basename "$ARCHIVE")" > "$(basename "$ARCHIVE").sha256")
echo "folder:  $APP  $(du -sm "$APP" | cut -f1) MiB unpacked ($(du -sb "$APP" | cut -f1) bytes)"
echo "archive: $ARCHIVE  $(du -m "$ARCHIVE" | cut -f1) MiB ($(stat -c %s "$ARCHIVE") bytes)"
echo "sha256:  $(cut -d' ' -f1 "$ARCHIVE.sha256")"
echo "largest files in the bundle:"
# awk, not head: head would close the pipe early and pipefail would fail the build (SIGPIPE)
find "$APP" -type f -printf '%s %P\n' | sort -rn | awk 'NR <= 10 {printf "  %6.1f MiB  %s\n", $1 / 1048576, $2}'
step "done"
