#!/usr/bin/env bash
# Runs an aarch64 `dactyl` (or any aarch64 Linux binary) under qemu user-mode emulation.
# binfmt_misc is not mounted on the build machine, so binaries always go through qemu-aarch64.
#
# Usage: cross/qemu-run.sh CPU BINARY [ARGS...]
#   CPU     a qemu CPU model: cortex-a72 (Pi 4), cortex-a76 (Pi 5), cortex-a53 (Zero 2 W), max, ...
#   BINARY  cross/out/dactyl-aarch64 (dynamic) or cross/out/dactyl-aarch64-static
# glibc and the loader come from the cross toolchain (-L /usr/aarch64-linux-gnu); the dynamic
# build's OpenBLAS / libgfortran / libv4l / libgpiod from cross/.sysroot (LD_LIBRARY_PATH is set in
# the guest environment with -E, so the host's own processes never see it).
# Exit status is the binary's.
set -euo pipefail

CROSS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SYSROOT="$CROSS_DIR/.sysroot"

if (($# < 2)); then
    sed -n '4,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
CPU="$1"; BINARY="$2"; shift 2
[[ -f "$BINARY" ]] || { echo "qemu-run.sh: no such binary: $BINARY" >&2; exit 2; }
QEMU="$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)"
[[ -n "$QEMU" ]] || { echo "qemu-run.sh: qemu-aarch64 not found (apt-get install qemu-user)" >&2; exit 2; }

LIB="$SYSROOT/usr/lib/aarch64-linux-gnu"
GUEST_LD_PATH="$LIB/openblas-pthread:$LIB:$SYSROOT/lib/aarch64-linux-gnu"
exec "$QEMU" -cpu "$CPU" -L /usr/aarch64-linux-gnu -E "LD_LIBRARY_PATH=$GUEST_LD_PATH" "$BINARY" "$@"
