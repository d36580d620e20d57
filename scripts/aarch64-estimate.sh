#!/usr/bin/env bash
# Estimates Raspberry Pi 5 (Cortex-A76) and Pi 4 (Cortex-A72) per-frame times for Dactyl and for
# ncnn's benchncnn on the same ResNet34 student, with no board: instructions executed per frame
# under qemu-aarch64 (cross/qemu-plugin/insn_count.c), turned into time by one instructions-per-cycle
# figure per core fitted to ncnn's published ResNet18 int8 times. Method and error:
# docs/aarch64-estimate.md. Not part of scripts/test.sh (it takes tens of minutes; the ncnn
# cross build alone takes an hour or more on two shared cores).
#
# Usage: scripts/aarch64-estimate.sh [--no-ncnn] [--no-dactyl]
# Environment:
#   NCNN_SRC        ncnn source tree (default /work/peers-cache/ncnn-src; read only)
#   NCNN_BUILD      where ncnn is cross-built for aarch64 (default /work/peers-cache/build-aarch64)
#   NCNN_R34_PARAM  ncnn int8 .param of the ResNet34 student (default /work/peers-cache/models/r34_112_int8.param;
#                   skipped with a note when missing: benchncnn needs only the .param, weights are zeros)
# Outputs under cross/.estimate/ (gitignored): the plugin, the model, counts/*.txt (one per run) and
# estimate.md (the table, also printed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/cross/.estimate"
COUNTS="$WORK/counts"
NCNN_SRC="${NCNN_SRC:-/work/peers-cache/ncnn-src}"
NCNN_BUILD="${NCNN_BUILD:-/work/peers-cache/build-aarch64}"
NCNN_R34_PARAM="${NCNN_R34_PARAM:-/work/peers-cache/models/r34_112_int8.param}"
DO_NCNN=1
DO_DACTYL=1
while (($#)); do
    case "$1" in
        --no-ncnn) DO_NCNN=0; shift ;;
        --no-dactyl) DO_DACTYL=0; shift ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "aarch64-estimate.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
mkdir -p "$COUNTS"

# --- the counting plugin ----------------------------------------------------------------------
PLUGIN="$WORK/libinsn_count.so"
if [[ ! -f "$PLUGIN" || cross/qemu-plugin/insn_count.c -nt "$PLUGIN" ]]; then
    gcc -O2 -Wall -Wextra -shared -fPIC -fvisibility=hidden -o "$PLUGIN" cross/qemu-plugin/insn_count.c
fi

# Check the plugin on a known instruction stream (cross/qemu-plugin/check.c): 1000 more iterations
# must add exactly 1000 sdot, 2000 multiply-accumulates, 1000 loads, stores, branches and scalar
# instructions, 20000 int8 and 4000 fp MAC lanes.
CHECK="$WORK/plugin-check"
aarch64-linux-gnu-gcc -O2 -static -march=armv8.2-a+dotprod -o "$CHECK" cross/qemu-plugin/check.c
for n in 1000 2000; do
    qemu-aarch64 -cpu cortex-a76 -plugin "$PLUGIN,out=$WORK/plugin-check-$n.txt" "$CHECK" "$n" > /dev/null
done
expected="total 7000 dot 1000 simd_mul 2000 load 1000 store 1000 simd_other 0 branch 1000 other 1000"
expected+=" int_mac_lanes 20000 fp_mac_lanes 4000"
got="$(paste -d " " "$WORK/plugin-check-1000.txt" "$WORK/plugin-check-2000.txt" |
    awk '$1 == $3 && $1 != "from_encoding" {printf "%s%s %d", (NR > 1 ? " " : ""), $1, $4 - $2}')"
if [[ "$got" != "$expected" ]]; then
    echo "aarch64-estimate.sh: the counting plugin miscounts: got '$got', expected '$expected'" >&2
    exit 1
fi
echo "  plugin check: ok" >&2

# count NAME CPU COMMAND...: runs COMMAND under qemu-aarch64 -cpu CPU with the plugin; counts go to
# $COUNTS/NAME.txt (kept: delete the file to count again).
count() {
    local name="$1" cpu="$2"; shift 2
    local file="$COUNTS/$name.txt"
    if [[ -s "$file" ]]; then echo "  $name: cached" >&2; return; fi
    local start=$SECONDS
    # skip=: dactyl bench's peak loops run for a wall-clock time, so their counts differ between the
    # two runs of a pair and would not cancel; they are left out of every count.
    nice -n 15 qemu-aarch64 -cpu "$cpu" -plugin "$PLUGIN,out=$file.part,sym=40,skip=dactyl_peak_" "$@" > "$COUNTS/$name.log" 2>&1 ||
        { echo "aarch64-estimate.sh: '$*' failed under -cpu $cpu (see $COUNTS/$name.log)" >&2
          rm -f "$file.part"; return 1; }
    mv "$file.part" "$file"
    echo "  $name: $((SECONDS - start)) s" >&2
}

# --- Dactyl -----------------------------------------------------------------------------------
# `dactyl bench --frames N` runs max(3, N/5) warm-up frames, N frames, N encoder-only runs, then a
# fixed amount of preprocessing and head work for N <= 15: N = 3 and N = 13 differ by exactly 10
# frames (preprocess + encoder) and 10 encoder runs, and the model load, CRC check and the peak
# measurement cancel out.
if ((DO_DACTYL)); then
    DACTYL="$ROOT/cross/out/dactyl-aarch64-static"
    # Always built from the sources as they are (incremental), and the cached Dactyl counts dropped
    # when the binary changed: a kernel change must show in the estimate.
    nice -n 15 cross/build.sh --static --no-strip >&2
    binary="$(sha256sum "$DACTYL" | cut -c1-16)"
    if [[ "$(cat "$COUNTS/dactyl-binary" 2>/dev/null)" != "$binary" ]]; then
        rm -f "$COUNTS"/dactyl-*.txt
        echo "$binary" > "$COUNTS/dactyl-binary"
    fi
    R34="$WORK/resnet34.dmdl"
    [[ -f "$R34" ]] || nice -n 15 python3 quantization/scripts/export_resnet34.py "$R34"
    for pair in "cortex-a76 sdot" "cortex-a72 neon"; do
        read -r cpu kernel <<< "$pair"
        for frames in 3 13; do
            count "dactyl-r34-112-$kernel-$cpu-f$frames" "$cpu" "$DACTYL" bench --model "$R34" --input 112x112 \
                --frames "$frames" --threads 1 --kernel "$kernel" --window 2
            count "dactyl-default-$kernel-$cpu-f$frames" "$cpu" "$DACTYL" bench --model models/default.dmdl \
                --frames "$frames" --threads 1 --kernel "$kernel" --window 2
        done
    done
fi

# --- ncnn -------------------------------------------------------------------------------------
# benchncnn runs 8 warm-up inferences and LOOPS timed ones: LOOPS = 1 and 5 differ by 4 inferences.
if ((DO_NCNN)); then
    BENCHNCNN="$NCNN_BUILD/build/benchmark/benchncnn"
    if [[ ! -x "$BENCHNCNN" ]]; then
        mkdir -p "$NCNN_BUILD"
        [[ -d "$NCNN_BUILD/src-copy" ]] || cp -a "$NCNN_SRC" "$NCNN_BUILD/src-copy"
        # (FindOpenMP picks libgomp.so, which a static link cannot use: point it at libgomp.a.)
        # Only the layers CNN classifiers use (the build is long); static, OpenMP on (libgomp), no Vulkan;
        # ARMv8.2 fp16 + dotprod variants on (run-time dispatch, as the published figures), none newer.
        keep=" batchnorm bias binaryop cast clip concat convolution convolutiondepthwise crop deepcopy dequantize
               dropout eltwise expanddims flatten gemm hardsigmoid hardswish innerproduct input interp matmul
               memorydata noop packing padding permute pooling power quantize reduction relu requantize reshape
               scale sigmoid slice softmax split squeeze swish unaryop tanh gelu mish "
        off=()
        for layer in $(grep -o 'ncnn_add_layer([A-Za-z0-9_]*' "$NCNN_BUILD/src-copy/src/CMakeLists.txt" |
                       sed 's/ncnn_add_layer(//' | tr 'A-Z' 'a-z'); do
            [[ "$keep" == *" $layer "* ]] || off+=("-DWITH_LAYER_$layer=OFF")
        done
        mkdir -p "$NCNN_BUILD/build"
        (cd "$NCNN_BUILD/build" && nice -n 15 cmake ../src-copy \
            -DCMAKE_TOOLCHAIN_FILE=../src-copy/toolchains/aarch64-linux-gnu.toolchain.cmake -DCMAKE_BUILD_TYPE=Release \
            -DNCNN_VULKAN=OFF -DNCNN_BUILD_TOOLS=OFF -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_TESTS=OFF \
            -DNCNN_BUILD_BENCHMARK=ON -DNCNN_OPENMP=ON -DNCNN_SHARED_LIB=OFF -DCMAKE_EXE_LINKER_FLAGS=-static \
            -DOpenMP_gomp_LIBRARY="$(aarch64-linux-gnu-gcc -print-file-name=libgomp.a)" \
            -DNCNN_BF16=OFF -DNCNN_ARM82FP16FML=OFF -DNCNN_ARM84BF16=OFF -DNCNN_ARM84I8MM=OFF -DNCNN_ARM86SVE=OFF \
            -DNCNN_ARM86SVE2=OFF -DNCNN_C_API=OFF -DNCNN_PIXEL_ROTATE=OFF -DNCNN_PIXEL_AFFINE=OFF \
            -DNCNN_PIXEL_DRAWING=OFF "${off[@]}" > ../cmake.log &&
            nice -n 15 make -j2 benchncnn > ../make.log 2>&1)
    fi
    MODELS="$NCNN_BUILD/src-copy/benchmark/models"
    R18_PARAM="$MODELS/resnet18_int8.param"
    for cpu in cortex-a76 cortex-a72; do
        # Validation: other models with published Pi 5 / Pi 4 1-thread times, predicted from the
        # ResNet18 fit (benchncnn LOOPS = 1 and 3: 2 inferences apart).
        for spec in "squeezenet_int8 227" "mobilenet_int8 224" "resnet50_int8 224"; do
            read -r model size <<< "$spec"
            for loops in 1 3; do
                count "ncnn-$model-$cpu-l$loops" "$cpu" "$BENCHNCNN" "$loops" 1 0 -1 0 "param=$MODELS/$model.param" \
                    "shape=[$size,$size,3]"
            done
        done
        for loops in 1 5; do
            count "ncnn-r18-224-$cpu-l$loops" "$cpu" "$BENCHNCNN" "$loops" 1 0 -1 0 "param=$R18_PARAM" \
                "shape=[224,224,3]"
            if [[ -f "$NCNN_R34_PARAM" ]]; then
                count "ncnn-r34-112-$cpu-l$loops" "$cpu" "$BENCHNCNN" "$loops" 1 0 -1 0 "param=$NCNN_R34_PARAM" \
                    "shape=[112,112,3]"
            else
                echo "aarch64-estimate.sh: no $NCNN_R34_PARAM: ncnn's ResNet34 row is left out" >&2
            fi
        done
    done
fi

python3 "$ROOT/scripts/aarch64_estimate.py" "$COUNTS" | tee "$WORK/estimate.md"
