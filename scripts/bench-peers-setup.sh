#!/usr/bin/env bash
# Sets up the peers of scripts/bench-peers.py, apart from the system Python the tests use:
#   .bench-venv/               a virtual environment (system site packages: torch, onnxruntime)
#                              with ncnn, pnnx, ai-edge-litert and litert-torch from PyPI
#   .bench-venv/ncnn-tools/    ncnn2table and ncnn2int8, which no wheel ships: built from ncnn's
#                              source (the library and tools/quantize/) with cmake
# Usage: bash scripts/bench-peers-setup.sh [NCNN_SOURCE]
#   NCNN_SOURCE: a checkout of https://github.com/Tencent/ncnn (default: cloned into
#   .bench-venv/ncnn-src). Needs cmake and a C++ compiler; the build takes ~10 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.bench-venv"
SOURCE="${1:-$VENV/ncnn-src}"
[ -x "$VENV/bin/python" ] || python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check ncnn pnnx ai-edge-litert litert-torch
if [ ! -f "$SOURCE/tools/quantize/ncnn2int8.cpp" ]; then
    git clone --depth 1 https://github.com/Tencent/ncnn "$SOURCE"
fi
# The tools only convert files: a portable build (no per-CPU kernels) is enough and builds ~4x faster.
BUILD="$VENV/ncnn-build"
mkdir -p "$BUILD" "$VENV/ncnn-tools"
cmake -S "$SOURCE" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNCNN_VULKAN=OFF -DNCNN_BUILD_TOOLS=ON \
    -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_BENCHMARK=OFF -DNCNN_PYTHON=OFF -DNCNN_SIMPLEOCV=ON \
    -DNCNN_RUNTIME_CPU=OFF -DNCNN_AVX=OFF -DNCNN_FMA=OFF -DNCNN_F16C=OFF -DNCNN_XOP=OFF -DNCNN_AVX2=OFF \
    -DNCNN_AVXVNNI=OFF -DNCNN_AVX512=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target ncnn2table ncnn2int8
cp "$BUILD/tools/quantize/ncnn2table" "$BUILD/tools/quantize/ncnn2int8" "$VENV/ncnn-tools/"
echo "bench-peers-setup: ready; run $VENV/bin/python scripts/bench-peers.py"
