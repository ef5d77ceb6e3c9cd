#!/usr/bin/env bash
# Set up a fresh machine for vitac: Debian libraries, then .venv with the project installed.
# Called by `make demo` and `make test`; safe to run again (it only does what is missing).
# `make robosuite-venv` runs it with VENV=.venv-robosuite EXTRAS=dev,robosuite.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-dev,realsense}
PYTHON=${PYTHON:-python3}
# EGL + Mesa for offscreen MuJoCo, libGL/glib for OpenCV, libusb for pyrealsense2.
DEB_PACKAGES=(libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 libgl1 libglib2.0-0 libusb-1.0-0)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${DEB_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done
else
  # Not Debian: check for the shared libraries themselves.
  for lib in libEGL.so.1 libGL.so.1 libgbm.so.1 libglib-2.0.so.0 libusb-1.0.so.0; do
    ldconfig -p 2>/dev/null | grep -q "$lib" || missing+=("$lib")
  done
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "bootstrap: missing system libraries: ${missing[*]}" >&2
    echo "bootstrap: install them as root, e.g.: sudo apt-get install -y ${DEB_PACKAGES[*]}" >&2
    exit 1
  fi
fi

stamp="$VENV/.vitac-installed"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "bootstrap: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
installed=$(cat "$stamp" 2>/dev/null || true)  # the extras installed, so a change installs again
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" || "$installed" != "$EXTRAS" ]]; then
  echo "bootstrap: installing vitac[$EXTRAS] into $VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
  echo "$EXTRAS" >"$stamp"
fi
