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
#   WARMUP (minutes of the KD student's budget spent on its single-frame KD warm-up; MINUTES/3),
#   STILL_FRACTION (share of the 6000 training clips that are single letters held still 0.3-2 s,
#   synth/still.py, so that a held letter reads once; default 0.1), SPEED (each training signer's
#   pace, times the generator's: LOW,HIGH; default 0.5,2) and HOLD (seconds each letter is held:
#   LOW,HIGH; default 0.1,2) (docs/frame-rate.md),
#   SKIP_CORPUS=1 to train on the corpus and cache already in WORK_DIR,
#   SKIP_TRAINING=1 to evaluate the runs already in WORK_DIR,
#   SHIPPED_CHECKPOINT=best.pt of models/default.dmdl, for its fp32 row (its config: SHIPPED_CONFIG, pi).
#   The KD model is written to WORK_DIR/kd.dmdl (its test predictions to kd-predictions.csv); copy it
#   to models/default.dmdl to ship it, with a test clip it reads correctly as samples/sample.y4m.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${1:-/tmp/dactyl-default-model}"
MINUTES="${2:-27}"
WARMUP="${WARMUP:-$(python3 -c "print(round($MINUTES / 3, 1))")}"
CONFIG="${CONFIG:-pi64}"
DEVICE="${DEVICE:-cpu}"
DATA="$WORK/synth"
CACHE="${CACHE:-$WORK/cache}"
DACTYL="$ROOT/.build/release/dactyl"
cd "$ROOT/quantization"

if [ "${SKIP_TRAINING:-0}" != 1 ] && [ "${SKIP_CORPUS:-0}" != 1 ]; then
    # Real photographs as backgrounds (docs/backgrounds.md): lomiri-wallpapers-16.04 (16 MB) and
    # mate-backgrounds (47 MB) from Debian, only for training (the tests do not need them); the
    # generator falls back to its procedural rooms where they are missing, so a failure only warns.
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lomiri-wallpapers-16.04 mate-backgrounds >/dev/null \
        || echo "could not install the background photo packages" >&2
    python3 -m dactyl_quant.synth backgrounds || echo "no background photos: procedural rooms only" >&2
    # Any signing pace (each signer 0.5-2x), letters held 0.1-2 s, and a share of still single
    # letters, so that the model reads any speed and a held letter once (docs/frame-rate.md,
    # docs/evaluation.md).
    python3 -m dactyl_quant.synth generate --out "$DATA" --seed 11 --split train --clips 6000 --signers 48 --workers 2 \
        --speed "${SPEED:-0.5,2}" --hold "${HOLD:-0.1,2}" --still-fraction "${STILL_FRACTION:-0.1}"
    python3 -m dactyl_quant.synth generate --out "$DATA" --seed 12 --split dev --clips 120 --y4m --workers 2
    python3 -m dactyl_quant.synth generate --out "$DATA" --seed 13 --split test --workers 2
    python3 -m dactyl_quant.train cache --data "$DATA" --config "$CONFIG" --splits train dev test --cache "$CACHE"
fi
if [ "${SKIP_TRAINING:-0}" != 1 ]; then
    # The same budget each, one thread each, side by side. KD: the warm-up (pretrain: KD on single
    # frames for WARMUP minutes, then the head on the frozen encoder), then the joint KD + CTC fit
    # from its weights at a lower peak learning rate; no KD: the joint fit with CTC alone throughout.
    fit() {  # fit RUN TEACHER MINUTES [fit options]
        local run="$1" teacher="$2" minutes="$3"
        shift 3
        OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 -m dactyl_quant.train fit --data "$DATA" --cache "$CACHE" \
            --config "$CONFIG" --teacher "$teacher" --epochs 200 --lr 3e-3 --batch 16 --time-budget "$minutes" \
            --workers 0 --device "$DEVICE" --seed 0 --quiet --out "$WORK/run-$run" "$@" >> "$WORK/run-$run.log" 2>&1
    }
    kd() {
        local started=$SECONDS
        OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python3 -m dactyl_quant.train pretrain --data "$DATA" --cache "$CACHE" \
            --config "$CONFIG" --teacher synthpose --time-budget "$WARMUP" --device "$DEVICE" --seed 0 --quiet \
            --out "$WORK/warmup-kd" > "$WORK/run-kd.log" 2>&1
        # The rest of the same budget (the warm-up's head stage ran past WARMUP).
        fit kd synthpose "$(python3 -c "print(round($MINUTES - ($SECONDS - $started) / 60, 2))")" --lr 1e-3 \
            --init "$WORK/warmup-kd/pretrained.pt"
    }
    kd &
    fit nokd none "$MINUTES" &
    wait
fi

for run in kd nokd; do
    python3 -m dactyl_quant.train evaluate --checkpoint "$WORK/run-$run/best.pt" --split test --device "$DEVICE" \
        --label "$CONFIG, $([ $run = kd ] && echo 'KD (warm-up, then CTC + KD)' || echo 'no KD (CTC)'), $MINUTES min: fp32 PyTorch" \
        --json "$WORK/fp32-$run.json"
done
# What the warm-up alone reached (the KD run's starting point for its joint fit).
python3 -m dactyl_quant.train evaluate --checkpoint "$WORK/warmup-kd/pretrained.pt" --data "$DATA" --cache "$CACHE" \
    --split test --device "$DEVICE" --label "$CONFIG, KD warm-up only ($WARMUP min + head): fp32 PyTorch" \
    --json "$WORK/fp32-warmup.json"

swift build -c release --product dactyl --package-path "$ROOT" >/dev/null
calibration=$(ls "$DATA"/y4m/synth_dev/*.y4m | head -n 16)
python3 -m dactyl_quant export --config "$CONFIG" --checkpoint "$WORK/run-kd/best.pt" --calib $calibration \
    --out "$WORK/kd.dmdl" --info "$CONFIG student, KD (synthpose teacher, MSE; warm-up, then joint) + CTC, \
a $MINUTES-minute budget on one $([ "$DEVICE" = cpu ] && echo 'CPU core' || echo GPU), synthetic corpus"
python3 -m dactyl_quant.train evaluate-dactyl --data "$DATA" --model "$WORK/kd.dmdl" --dactyl "$DACTYL" --split test \
    --label "$CONFIG, KD, $MINUTES min: int8 dactyl decode" --predictions "$WORK/kd-predictions.csv" \
    --json "$WORK/int8-kd.json"

rows=()
if [ -n "${SHIPPED_CHECKPOINT:-}" ]; then
    python3 -m dactyl_quant.train evaluate --checkpoint "$SHIPPED_CHECKPOINT" --split test --device "$DEVICE" \
        --data "$DATA" --cache "$WORK/cache-shipped" \
        --label "shipped default (${SHIPPED_CONFIG:-pi}, KD): fp32 PyTorch" --json "$WORK/fp32-shipped.json"
    rows+=("$WORK/fp32-shipped.json")
fi
if ! cmp -s "$ROOT/models/default.dmdl" "$WORK/kd.dmdl"; then  # the model shipped before this run
    python3 -m dactyl_quant.train evaluate-dactyl --data "$DATA" --model "$ROOT/models/default.dmdl" --dactyl "$DACTYL" \
        --split test --label "shipped default: int8 dactyl decode" --predictions "$WORK/shipped-predictions.csv" \
        --json "$WORK/int8-shipped.json"
    rows+=("$WORK/int8-shipped.json")
fi
rows+=("$WORK/fp32-kd.json" "$WORK/int8-kd.json" "$WORK/fp32-warmup.json" "$WORK/fp32-nokd.json")

python3 -m dactyl_quant.train report --title "Letter accuracy on the held-out synthetic test split" "${rows[@]}" \
    --out "$WORK/results.md"
cat "$WORK/results.md"
