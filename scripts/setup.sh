#!/usr/bin/env bash
# Installs what Dactyl needs on Debian bookworm (run as root, or it uses sudo) and builds the
# `dactyl` binary (release) at .build/release/dactyl.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# libjpeg62-turbo-dev: the preview page's JPEG encoder.
packages=(libopenblas-dev libgpiod-dev libv4l-dev libjpeg62-turbo-dev pkg-config)
packages+=(lintian mmdebstrap)   # packaging/test.sh: the .deb packages' checks and their Debian root
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Headless Chromium for scripts/browser-test.py (the preview page in a real browser), without its
# recommends (a desktop's worth): about 124 MB of downloads, 23 packages, on bookworm.
if ! dpkg -s chromium >/dev/null 2>&1; then
    [ ${#missing[@]} -gt 0 ] || as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# The Python side (training, export, the numpy reference); torch is the CPU build.
python3 -m pip install -q --disable-pip-version-check -r quantization/requirements.txt 2>&1 \
    | grep -v "Running pip as the 'root' user" || true

swift build -c release --product dactyl 2>&1 | tail -n 1
