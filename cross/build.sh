#!/usr/bin/env bash
# Cross-builds the board binary `dactyl` for Linux aarch64 (Raspberry Pi 5 / 4 / Zero 2 W) from an
# x86_64 Debian bookworm host with Embedded Swift (DESIGN.md, "Cross (aarch64)").
#
# Usage: cross/build.sh [--cpu cortex-a72|cortex-a76|...] [--static] [--out DIR] [--no-strip]
#   (default)   cross/out/dactyl-aarch64          dynamic: needs libopenblas0 (+libgfortran5) on the board
#   --static    also cross/out/dactyl-aarch64-static   static-pie: no run-time dependencies at all
#   --cpu CPU   compile the whole binary for CPU (outputs dactyl-aarch64-CPU[-static]); it may not run elsewhere
#   --out DIR   where the binaries go (default cross/out)
#   --no-strip  keep symbols and debug info in the copies in --out (the build folders keep them anyway)
#   --embed-model FILE  build FILE into the binaries as their default model (outputs get -with-model):
#               one file to copy to a board, nothing else to install (with --static)
#
# How it works: Swift code is compiled as Embedded Swift for aarch64-none-none-elf (Package.swift
# switches on EMBEDDED / EMBEDDED_TRIPLE), while the C target and the final link use the Linux
# triple aarch64-unknown-linux-gnu: clang finds Debian's cross gcc (/usr/lib/gcc-cross/aarch64-linux-gnu)
# and thus glibc, the crt files and binutils' ld from /usr/aarch64-linux-gnu. OpenBLAS, libv4l and
# libgpiod (headers and libraries) come from the arm64 sysroot that cross/sysroot.sh unpacks.
#
# One binary with run-time CPU dispatch, not one binary per CPU (the decision):
#   The default build targets the ARMv8.0-A baseline (+NEON), which every supported board runs:
#   Zero 2 W (Cortex-A53), Pi 4 (Cortex-A72), Pi 5 (Cortex-A76). The kernels' fast paths are chosen
#   at start-up from getauxval(AT_HWCAP) (HWCAP_ASIMDDP -> sdot on the A76; otherwise the
#   smull/sadalp NEON path), as DESIGN.md asks ("fast paths chosen at start-up by CPU feature"):
#   only the few functions that need ARMv8.2 dotprod are compiled for it (a C file or a
#   __attribute__((target("arch=armv8.2-a+dotprod"))) function), the rest stays at the baseline.
#   Why: one artefact to ship, install and test; a board swap (Pi 4 -> Pi 5) never meets a SIGILL;
#   the qemu CI runs the same file under both CPUs and thereby exercises both paths; and the
#   hot loops that matter are int8 dot products whose speed comes from the intrinsics, not from
#   compiler tuning of the whole binary (-mcpu for the rest is worth little: the DESIGN measured
#   plain loops at ~40% of the sdot rate even when compiled for the right CPU).
#   Measured (Swift 6.3.1, this tree): `--cpu cortex-a76` emits no sdot at all from today's scalar
#   kernels, but inlines ARMv8.1 LSE atomics (ldadd/cas, in swift_retain & co.), so that binary dies
#   with SIGILL under qemu -cpu cortex-a72; the baseline binary runs on cortex-a53/a72/a76 (LSE only
#   through libgcc's outline-atomics helpers, which check HWCAP_ATOMICS at run time).
#   --cpu stays as a knob for measuring, never for what we ship.
set -euo pipefail

CROSS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CROSS_DIR/.." && pwd)"
SYSROOT="$CROSS_DIR/.sysroot"
OUT="$CROSS_DIR/out"
CPU=""
STATIC=0
STRIP=1
EMBED_MODEL=""

usage() { sed -n '5,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --cpu) CPU="${2:?--cpu needs a CPU name, e.g. cortex-a72 or cortex-a76}"; shift 2 ;;
        --cpu=*) CPU="${1#--cpu=}"; shift ;;
        --static) STATIC=1; shift ;;
        --out) OUT="${2:?--out needs a folder}"; shift 2 ;;
        --out=*) OUT="${1#--out=}"; shift ;;
        --no-strip) STRIP=0; shift ;;
        --embed-model) EMBED_MODEL="${2:?--embed-model needs a model file}"; shift 2 ;;
        --embed-model=*) EMBED_MODEL="${1#--embed-model=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case "$CPU" in
    ""|cortex-a53|cortex-a55|cortex-a72|cortex-a76|generic) ;;
    *) echo "build.sh: unexpected --cpu '$CPU' (cortex-a53, cortex-a72, cortex-a76 are the boards' CPUs)" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
if [[ -n "$EMBED_MODEL" ]]; then
    [[ -f "$EMBED_MODEL" ]] || { echo "build.sh: no model file '$EMBED_MODEL'" >&2; exit 2; }
    # Package.swift builds the file named by DACTYL_EMBED_MODEL into the binary.
    export DACTYL_EMBED_MODEL="$(cd "$(dirname "$EMBED_MODEL")" && pwd)/$(basename "$EMBED_MODEL")"
fi

"$CROSS_DIR/sysroot.sh"

command -v swift >/dev/null || { echo "build.sh: swift is not on PATH" >&2; exit 1; }
SWIFTC="$(readlink -f "$(command -v swiftc)")"
TABLES="$(dirname "$(dirname "$SWIFTC")")/lib/swift/embedded/aarch64-none-none-elf/libswiftUnicodeDataTables.a"
[[ -f "$TABLES" ]] || { echo "build.sh: this toolchain has no Embedded Swift for aarch64-none-none-elf ($TABLES)" >&2; exit 1; }

LIB="$SYSROOT/usr/lib/aarch64-linux-gnu"
GCCLIB="$SYSROOT/usr/lib/gcc/aarch64-linux-gnu/12"   # libgfortran.a (static link of OpenBLAS)
export EMBEDDED=1 EMBEDDED_TRIPLE=aarch64-none-none-elf
# For any pkg-config-based system library target: read the sysroot's .pc files, not the host's.
export PKG_CONFIG_SYSROOT_DIR="$SYSROOT"
export PKG_CONFIG_LIBDIR="$LIB/pkgconfig:$LIB/openblas-pthread/pkgconfig:$SYSROOT/usr/share/pkgconfig"
export PKG_CONFIG_PATH="$PKG_CONFIG_LIBDIR"

COMMON=(
    --triple aarch64-none-none-elf -c release --product dactyl
    # C (and the Swift clang importer): the Linux triple, the sysroot's headers (cblas.h, libv4l2.h, gpiod.h).
    -Xcc --target=aarch64-unknown-linux-gnu
    -Xcc "-I$SYSROOT/usr/include/aarch64-linux-gnu" -Xcc "-I$SYSROOT/usr/include"
    # The link: clang as the Linux aarch64 gcc-style driver (crt files, glibc, libgcc from the cross
    # toolchain), with binutils' bfd ld (gold, swiftc's default, cannot do -static-pie).
    -Xswiftc -use-ld=bfd
    -Xswiftc -Xclang-linker -Xswiftc --target=aarch64-unknown-linux-gnu
    -Xlinker "-L$LIB" -Xlinker -rpath-link -Xlinker "$LIB"
    # Full RELRO: the GOT becomes read-only once the loader is done (the .deb's hardening).
    -Xlinker -z -Xlinker now
)
if [[ -n "$CPU" ]]; then
    COMMON+=(-Xcc "-mcpu=$CPU" -Xswiftc -target-cpu -Xswiftc "$CPU")
fi

# Workaround for the Embedded runtime's swift_bridgeObjectRetain on AArch64 (see the comment in
# embedded-runtime-fix.c; fixed upstream after Swift 6.3.1): strong definitions that replace the
# runtime's weak ones at link time. Compiled here with the toolchain's clang.
FIX_SRC="$CROSS_DIR/embedded-runtime-fix.c"
FIX_OBJ="$ROOT/.build-aarch64-runtime-fix/embedded-runtime-fix${CPU:+-$CPU}.o"
CLANG="$(dirname "$SWIFTC")/clang"
if [[ ! -f "$FIX_OBJ" || "$FIX_SRC" -nt "$FIX_OBJ" ]]; then
    mkdir -p "$(dirname "$FIX_OBJ")"
    "$CLANG" --target=aarch64-unknown-linux-gnu ${CPU:+-mcpu=$CPU} -O2 -fPIC -c "$FIX_SRC" -o "$FIX_OBJ.tmp"
    mv -f "$FIX_OBJ.tmp" "$FIX_OBJ"
    FIX_CHANGED=1   # SwiftPM does not track this input: force the links below to run again
else
    FIX_CHANGED=0
fi
COMMON+=(-Xlinker "$FIX_OBJ")

SUFFIX="${CPU:+-$CPU}${EMBED_MODEL:+-with-model}"
build() {  # build KIND(dynamic|static)
    local kind="$1" scratch name extra=()
    scratch="$ROOT/.build-aarch64$SUFFIX"
    name="dactyl-aarch64$SUFFIX"
    if [[ "$kind" == static ]]; then
        # Own scratch folder: the link flags reach swiftc through -Xswiftc, so sharing one folder
        # would recompile everything each time the two kinds alternate.
        scratch="$scratch-static"
        name="$name-static"
        # -static-pie: glibc, libm, libpthread, OpenBLAS (libopenblas.a) and its Fortran runtime
        # (libgfortran.a) all inside; the kernel loads it at a random address like any PIE.
        extra=(-Xswiftc -Xclang-linker -Xswiftc -static-pie
               -Xlinker "-L$GCCLIB" -Xlinker -lgfortran -Xlinker -lpthread -Xlinker -lm
               # libv4l2.a's own dependencies (a shared libv4l2 names them itself): its format
               # conversion (libv4lconvert.a, which decodes MJPEG with libjpeg.a) and dlopen for plugins.
               -Xlinker -lv4lconvert -Xlinker -ljpeg -Xlinker -ldl -Xlinker -lrt -Xlinker -lm)
    fi
    local start=$SECONDS
    ((FIX_CHANGED)) && rm -f "$scratch/aarch64-none-none-elf/release/dactyl"
    echo "build.sh: building $name (scratch ${scratch#$ROOT/})" >&2
    (cd "$ROOT" && swift build --scratch-path "$scratch" "${COMMON[@]}" "${extra[@]}")
    local bin="$scratch/aarch64-none-none-elf/release/dactyl"
    [[ -x "$bin" ]] || { echo "build.sh: no binary at $bin" >&2; exit 1; }
    if ((STRIP)); then
        aarch64-linux-gnu-strip -o "$OUT/$name.tmp" "$bin"
    else
        cp "$bin" "$OUT/$name.tmp"
    fi
    mv -f "$OUT/$name.tmp" "$OUT/$name"
    echo "build.sh: $OUT/$name ($(stat -c %s "$OUT/$name") bytes, $((SECONDS - start)) s)" >&2
}

build dynamic
if ((STATIC)); then build static; fi
