#!/usr/bin/env bash
# Trains the student with KD and, for the ablation, the same student without KD on the same
# budget; exports the KD student to int8; measures letter accuracy on the held-out synthetic
# test split (fp32 PyTorch for both, int8 through the Swift `dactyl decode` for the KD model and
# for the shipped models/default.dmdl); writes the table of docs/default-model.md.
#
# Usage (from the repository root, after scripts/setup.sh):
#   bash quantization/scripts/train_default_model.sh [WORK_DIR] [MINUTES]
#     WORK_DIR  corpus, cache, runs, results (default /tmp/dactyl-default-model)
#     MINUTES   training time of each student (default 27); they train side by side
#   Environment: CONFIG (pi64; pi on a GPU), DEVICE (cpu|cuda), CACHE (WORK_DIR/cache),
#   SKIP_TRAINING=1 to evaluate the runs already in WORK_DIR,
#   SHIPPED_CHECKPOINT=best.pt of models/default.dmdl, for its fp32 row (its config: SHIPPED_CONFIG, pi).
#   The KD model is written to WORK_DIR/kd.dmdl; copy it to models/default.dmdl to ship it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${1:-/tmp/dactyl-default-model}"
MINUTES="${2:-27}"
CONFIG="${CONFIG:-pi64}"
DEVICE="${DEVICE:-cpu}"
DATA="$WORK/synth"
CACHE="${CACHE:-$WORK/cache}"
DACTYL="$ROOT/.build/release/dactyl"
cd "$ROOT/quantization"

if [ "${SKIP_TRAINING:-0}" != 1 ]; then
    python3 -m dactyl_quant.synth generate --out "$DATA" --seed 11 --split train --clips 1200 --workers 2
    python3 -m dactyl_quant.synth generate --out "$DATA" --seed 12 --split dev --clips 80 --y4m --workers 2
    python3 -m dactyl_quant.synth generate --out "$DATA" --seed 13 --split test --workers 2
    python3 -m dactyl_quant.train cache --data "$DATA" --config "$CONFIG" --splits train dev --cache "$CACHE"
    # Identical but for the KD teacher; one thread each, side by side.
    fit() {  # fit RUN TEACHER
        OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 -m dactyl_quant.train fit --data "$DATA" --cache "$CACHE" \
            --config "$CONFIG" --teacher "$2" --epochs 200 --lr 3e-3 --batch 16 --time-budget "$MINUTES" \
            --workers 0 --device "$DEVICE" --seed 0 --quiet --out "$WORK/run-$1" > "$WORK/run-$1.log" 2>&1
    }
    fit kd synthpose &
    fit nokd none &
    wait
fi

for run in kd nokd; do
    python3 -m dactyl_quant.train evaluate --checkpoint "$WORK/run-$run/best.pt" --split test --device "$DEVICE" \
        --label "$CONFIG, $([ $run = kd ] && echo KD || echo 'no KD'), $MINUTES min CPU: fp32 PyTorch" --json "$WORK/fp32-$run.json"
done

swift build -c release --product dactyl --package-path "$ROOT" >/dev/null
calibration=$(ls "$DATA"/y4m/synth_dev/*.y4m | head -n 16)
python3 -m dactyl_quant export --config "$CONFIG" --checkpoint "$WORK/run-kd/best.pt" --calib $calibration \
    --out "$WORK/kd.dmdl" --info "$CONFIG student, KD (synthpose teacher, MSE) + CTC, $MINUTES min on one CPU core, synthetic corpus"
python3 -m dactyl_quant.train evaluate-dactyl --data "$DATA" --model "$WORK/kd.dmdl" --dactyl "$DACTYL" --split test \
    --label "$CONFIG, KD, $MINUTES min CPU: int8 dactyl decode" --json "$WORK/int8-kd.json"

rows=()
if [ -n "${SHIPPED_CHECKPOINT:-}" ]; then
    python3 -m dactyl_quant.train evaluate --checkpoint "$SHIPPED_CHECKPOINT" --split test --device "$DEVICE" \
        --data "$DATA" --cache "$WORK/cache-shipped" \
        --label "shipped default (${SHIPPED_CONFIG:-pi}, KD): fp32 PyTorch" --json "$WORK/fp32-shipped.json"
    rows+=("$WORK/fp32-shipped.json")
fi
python3 -m dactyl_quant.train evaluate-dactyl --data "$DATA" --model "$ROOT/models/default.dmdl" --dactyl "$DACTYL" \
    --split test --label "shipped default: int8 dactyl decode" --predictions "$WORK/shipped-predictions.csv" \
    --json "$WORK/int8-shipped.json"
rows+=("$WORK/int8-shipped.json" "$WORK/fp32-kd.json" "$WORK/int8-kd.json" "$WORK/fp32-nokd.json")

python3 -m dactyl_quant.train report --title "Letter accuracy on the held-out synthetic test split" "${rows[@]}" \
    --out "$WORK/results.md"
cat "$WORK/results.md"
