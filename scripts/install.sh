#!/usr/bin/env bash
# Installs SynthSpot from scratch on Debian/Ubuntu: system libraries, then .venv with the
# app, training and test extras. torch is installed first and pinned: a bare requirement
# would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3  # Qt
  python3-venv  # `python3 -m venv` on Debian's own Python (ensurepip is packaged apart)
  xvfb          # virtual screen for GUI tests and screenshots
  dbus-daemon   # a private session bus for the desktop-notification tests
  chromium      # real-browser tests of the extension
  libvulkan1 libomp5  # ncnn super-resolution networks in the data forge
  libedje-bin   # edje_decc: `corpus build` takes the photos out of enlightenment-data's .edj themes
)
if command -v apt-get >/dev/null 2>&1 && [ "${SYNTHSPOT_SKIP_APT:-0}" != 1 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${SYSTEM_PACKAGES[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[train,dev,vae]"
