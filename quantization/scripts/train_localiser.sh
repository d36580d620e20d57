#!/usr/bin/env bash
# The shipped localiser's recipe (docs/localiser-training.md), on CPU, from quantization/'s parent:
#   bash quantization/scripts/train_localiser.sh [REAL_LABELS] [OUT_MODEL]
#     REAL_LABELS  realhands' labels.jsonl (default quantization/.realhands/labels.jsonl; skipped if absent)
#     OUT_MODEL    default models/default.dmdl (replaced atomically: written beside it, then renamed)
# Composes the caches (train 6,000 frames seed 1, dev 300 seed 2, test 600 seed 3; ~15 CPU minutes),
# trains for MINUTES CPU minutes (default 9, one thread), exports into the recogniser's file and
# evaluates the int8 localiser on the held-out test frames (and the held-out labelled photos).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
REAL="$(realpath -m "${1:-$ROOT/quantization/.realhands/labels.jsonl}")"
OUT="$(realpath -m "${2:-$ROOT/models/default.dmdl}")"
MINUTES="${MINUTES:-9}"
RUN="${RUN:-$ROOT/quantization/.localiser/runs/real}"
cd "$ROOT/quantization"
real_args=()
[ -f "$REAL" ] && real_args=(--real "$REAL" --real-share 0.2)
nice -n 10 python3 -m dactyl_quant localiser train --out "$RUN" --minutes "$MINUTES" "${real_args[@]}"
nice -n 10 python3 -m dactyl_quant localiser export --recogniser "$OUT" --localiser "$RUN/best.pt" --out "$OUT.new"
mv "$OUT.new" "$OUT"
eval_args=()
[ -f "$REAL" ] && eval_args=(--real-labels "$REAL")
nice -n 10 python3 -m dactyl_quant.localiser evaluate --model "$OUT" --split test --seed 3 --count 600 \
    "${eval_args[@]}" --json "$RUN/evaluation.json"
