#!/usr/bin/env bash
# Fetches what the virtual Raspberry Pi boots: Debian bookworm's arm64 kernel (linux-image-6.1.0-*-arm64,
# with its modules) and busybox-static (arm64), with a private APT configuration (APT::Architecture
# "arm64", own state and cache under cross/.cache/apt-vm), as cross/sysroot.sh fetches the sysroot:
# the host's dpkg architecture and apt state are never touched. Unpacks them with `dpkg -x` into
# cross/.cache/vm/root and runs `depmod -b` there (the packages ship no modules.dep).
#
# Idempotent: exits at once when cross/.cache/vm/.stamp names the versions already unpacked.
# Prints the unpacked root's path on standard output.
set -euo pipefail

CROSS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$CROSS_DIR/.cache/apt-vm"
ROOT="$CROSS_DIR/.cache/vm/root"
STAMP="$CROSS_DIR/.cache/vm/.stamp"
log() { printf 'vm/fetch: %s\n' "$*" >&2; }

# The same mirrors as the sysroot: cross/sysroot.sh finds them on the host (made first if need be).
SYSROOT_SOURCES="$CROSS_DIR/.cache/apt-arm64/etc/sources.list"
[[ -f "$SYSROOT_SOURCES" ]] || "$CROSS_DIR/sysroot.sh" >&2
mkdir -p "$CACHE/etc"
cp "$SYSROOT_SOURCES" "$CACHE/etc/sources.list"
# shellcheck source=cross/private-apt.sh
source "$CROSS_DIR/private-apt.sh"
private_apt_config "$CACHE"

# The kernel the linux-image-arm64 metapackage points at today, and busybox-static.
resolve() {
    kernel=$(apt-cache depends linux-image-arm64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.1\.0-.*-arm64$/ { print $2; exit }')
    versions="$kernel=$(apt-cache policy "$kernel" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }') busybox-static=$(apt-cache policy busybox-static 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')"
}
kernel=""
# The lists are refreshed only when there are none or when a download fails (a superseded kernel).
[[ -n "$(ls "$CACHE/state/lists" | grep -v partial | grep -v lock)" ]] && resolve
if [[ -z "$kernel" ]]; then
    log "apt-get update (arm64, private state under ${CACHE#$CROSS_DIR/})"
    apt-get -q update >&2
    resolve
fi
[[ -n "$kernel" ]] || { log "cannot find linux-image-6.1.0-*-arm64 in the arm64 lists"; exit 1; }
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$versions" && -d "$ROOT/lib/modules" ]]; then
    echo "$ROOT"; exit 0
fi

download() { (cd "$CACHE/cache/archives" && apt-get -q download "$kernel" busybox-static >&2); }
if ! download; then
    log "download failed; refreshing the lists once"
    apt-get -q update >&2
    resolve
    download
fi
rm -rf "$ROOT.tmp"; mkdir -p "$ROOT.tmp"
for p in "$kernel" busybox-static; do
    deb=$(ls "$CACHE/cache/archives/${p}"_*_arm64.deb | sort -V | tail -n 1)
    log "unpacking $(basename "$deb")"
    dpkg -x "$deb" "$ROOT.tmp"
done
release=$(ls "$ROOT.tmp/lib/modules")
depmod -b "$ROOT.tmp" "$release"
rm -rf "$ROOT"; mv "$ROOT.tmp" "$ROOT"
# Only the newest kernel .deb is worth keeping.
ls "$CACHE/cache/archives"/linux-image-*_arm64.deb | sort -V | head -n -1 | xargs -r rm -f
echo "$versions" > "$STAMP"
log "kernel $release, $(du -sh "$ROOT" | cut -f1) unpacked"
echo "$ROOT"
