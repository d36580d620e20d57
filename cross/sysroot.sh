#!/usr/bin/env bash
# Builds the arm64 sysroot that cross/build.sh links against: Debian bookworm's arm64 .debs of
# libopenblas-dev, libv4l-dev, libgpiod-dev and their library dependencies, unpacked with
# `dpkg -x` into cross/.sysroot. Glibc and the C runtime come from the host's aarch64 cross
# toolchain (/usr/aarch64-linux-gnu, package libc6-dev-arm64-cross), not from the sysroot.
#
# The .debs are fetched with a PRIVATE apt configuration (APT::Architecture "arm64", own
# sources list copied from the host's Debian mirror, own state/lists/cache under cross/.cache),
# so the host's dpkg architecture and apt state are never touched (no `dpkg --add-architecture`).
#
# Idempotent: if cross/.sysroot/.stamp matches the package list and the host mirror, it exits at once.
# Usage: cross/sysroot.sh [--force]
set -euo pipefail

CROSS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SYSROOT="$CROSS_DIR/.sysroot"
CACHE="$CROSS_DIR/.cache/apt-arm64"
STAMP="$SYSROOT/.stamp"

# What the board binary links (and its headers). apt resolves the closure of their dependencies.
PACKAGES=(libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libgfortran-12-dev
          libv4l-dev libv4l-0 libv4lconvert0 libjpeg62-turbo libjpeg62-turbo-dev libgpiod-dev libgpiod2)
# Packages the host cross toolchain already provides (glibc, libgcc, linux headers): not
# unpacked into the sysroot, so the toolchain's copies are the only ones the linker sees.
SKIP_REGEX='^(libc6|libc6-dev|libc-dev-bin|libcrypt1|libcrypt-dev|libnsl2|libnsl-dev|libtirpc.*|libgssapi.*|libkrb5.*|libk5crypto3|libkeyutils1|libcom-err2|libssl3|linux-libc-dev|rpcsvc-proto|gcc-12-base|libgcc-s1|libgcc-12-dev|libstdc\+\+6|libasan8|libatomic1|libgomp1|libhwasan0|libitm1|liblsan0|libtsan2|libubsan1|debconf|perl-base|dpkg|tar|install-info)$'
HOST_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

force=0
[[ "${1:-}" == "--force" ]] && force=1

log() { printf 'sysroot: %s\n' "$*" >&2; }

# --- host tools -------------------------------------------------------------------------
missing=()
for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing host packages: ${missing[*]}"
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" \
        || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

# --- private apt sources: the host's Debian mirror(s), arm64 -----------------------------
# Collect "URI suite components" triples from the host's deb822 (.sources) and one-line
# (.list) files, keeping only Debian archive entries (the ones carrying bookworm suites).
host_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] || continue
        sed -e 's/#.*//' "$f" | awk '$1=="deb" { i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            uri=$i; suite=$(i+1); comps=""; for (j=i+2;j<=NF;j++) comps=comps" "$j; print uri, suite comps }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        # One stanza per blank-line-separated paragraph; only Types: deb, only enabled ones.
        awk 'function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no") { n=split(uris,U," "); m=split(suites,S," ");
                 for (a=1;a<=n;a++) for (b=1;b<=m;b++) print U[a], S[b], comps }; types=uris=suites=comps=""; enabled="" }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             { key=tolower($1); sub(/:$/,"",key); $1=""; sub(/^ /,"");
               if (key=="types") types=$0; else if (key=="uris") uris=$0; else if (key=="suites") suites=$0;
               else if (key=="components") comps=$0; else if (key=="enabled") enabled=tolower($0) }
             END { flush() }' "$f"
    done
}
mapfile -t SOURCES < <(host_sources | awk '$2 ~ /^bookworm/' | sort -u)
if ((${#SOURCES[@]} == 0)); then
    log "no bookworm sources found on the host; using deb.debian.org"
    SOURCES=("http://deb.debian.org/debian bookworm main" "http://deb.debian.org/debian bookworm-updates main"
             "http://deb.debian.org/debian-security bookworm-security main")
fi

key="$(printf '%s\n' "${PACKAGES[@]}" "--" "${SOURCES[@]}" "--" "$SKIP_REGEX" | sha256sum | cut -d' ' -f1)"
if ((force == 0)) && [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$key" ]]; then
    log "up to date ($SYSROOT)"
    exit 0
fi

mkdir -p "$CACHE"/{etc/apt.conf.d,etc/preferences.d,etc/trusted.gpg.d,state/lists/partial,cache/archives/partial}
: > "$CACHE/etc/sources.list"
for s in "${SOURCES[@]}"; do
    read -r uri suite comps <<<"$s"
    echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite $comps" >> "$CACHE/etc/sources.list"
done
# shellcheck source=cross/private-apt.sh
source "$CROSS_DIR/private-apt.sh"
private_apt_config "$CACHE"
APT=(apt-get -q)

log "apt-get update (arm64, private state under ${CACHE#$CROSS_DIR/})"
"${APT[@]}" update >&2

# Closure of the dependencies, from apt itself: a simulated install into the empty arm64
# status lists every package it would unpack ("Inst name (version ...)").
log "resolving dependencies of: ${PACKAGES[*]}"
mapfile -t CLOSURE < <("${APT[@]}" install -s "${PACKAGES[@]}" | awk '$1=="Inst" { print $2 }' | sed 's/:arm64$//' | sort -u)
WANTED=()
for p in "${CLOSURE[@]}"; do
    [[ "$p" =~ $SKIP_REGEX ]] || WANTED+=("$p")
done
log "unpacking ${#WANTED[@]} packages: ${WANTED[*]}"

( cd "$CACHE/cache/archives" && "${APT[@]}" download "${WANTED[@]}" >&2 )

rm -rf "$SYSROOT.tmp"
mkdir -p "$SYSROOT.tmp"
for p in "${WANTED[@]}"; do
    debs=( "$CACHE/cache/archives/${p}"_*_arm64.deb "$CACHE/cache/archives/${p}"_*_all.deb )
    deb=$(printf '%s\n' "${debs[@]}" | grep -v '\*' | sort -V | tail -n1 || true)
    [[ -n "$deb" ]] || { log "missing .deb for $p"; exit 1; }
    dpkg -x "$deb" "$SYSROOT.tmp"
done

# Debian's library symlinks point through /etc/alternatives (libopenblas.so, libblas.so.3 ...)
# with absolute targets, which dangle in a sysroot. Resolve them to the pthread OpenBLAS
# directly, with relative links.
LIBDIR="$SYSROOT.tmp/usr/lib/aarch64-linux-gnu"
OB="$LIBDIR/openblas-pthread"
if [[ -d "$OB" ]]; then
    for f in "$OB"/lib*.so* "$OB"/lib*.a; do
        [[ -e "$f" ]] || continue
        name=$(basename "$f")
        [[ -e "$LIBDIR/$name" || -L "$LIBDIR/$name" ]] && rm -f "$LIBDIR/$name"
        ln -s "openblas-pthread/$name" "$LIBDIR/$name"
    done
    # libblas/liblapack names go to OpenBLAS too (the alternatives system's default).
    for alias in libblas liblapack; do
        for f in "$OB/$alias".so*; do
            [[ -e "$f" ]] || continue
            name=$(basename "$f"); rm -f "$LIBDIR/$name"; ln -s "openblas-pthread/$name" "$LIBDIR/$name"
        done
    done
fi
# openblas.pc too, for pkg-config users.
if [[ -f "$OB/pkgconfig/openblas.pc" ]]; then
    mkdir -p "$LIBDIR/pkgconfig"; ln -sf ../openblas-pthread/pkgconfig/openblas.pc "$LIBDIR/pkgconfig/openblas.pc"
fi
# cblas.h lives in /usr/include/aarch64-linux-gnu/openblas-pthread/ and reaches /usr/include
# through alternatives; give it a fixed place.
INC="$SYSROOT.tmp/usr/include/aarch64-linux-gnu"
if [[ -f "$INC/openblas-pthread/cblas.h" ]]; then
    for h in "$INC"/openblas-pthread/*.h; do ln -sf "openblas-pthread/$(basename "$h")" "$INC/$(basename "$h")"; done
fi
# Any other absolute symlink into the sysroot: make it relative to the sysroot.
while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    [[ "$target" == /* ]] || continue
    if [[ -e "$SYSROOT.tmp$target" ]]; then
        ln -sfn "$(realpath --relative-to="$(dirname "$link")" "$SYSROOT.tmp$target")" "$link"
    fi
done < <(find "$SYSROOT.tmp" -type l -print0)
# pkg-config files carry absolute paths under /usr; PKG_CONFIG_SYSROOT_DIR maps them.

printf '%s\n' "${WANTED[@]}" > "$SYSROOT.tmp/.packages"
rm -rf "$SYSROOT"
mv "$SYSROOT.tmp" "$SYSROOT"
echo "$key" > "$STAMP"
log "done: $SYSROOT ($(du -sh "$SYSROOT" | cut -f1))"
