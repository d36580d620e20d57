#!/usr/bin/env bash
# Does distilling MediaPipe on real hand crops (no letters) help the recogniser read real hands?
# Fine-tunes the shipped model twice from the same start, side by side on one core each, at equal
# time budgets: KD (MediaPipe embedding) + CTC on synthetic clips, and the same plus the real KD-only
# crops of docs/real-hands-sources.md (`fit --kd-only-data`); then exports both to int8 and reads
# the real-photo check (docs/real-photo-check.md) and a held-out synthetic word split through
# `dactyl decode`, with the shipped model as the reference row.
#
# Usage (from quantization/, after `python -m dactyl_quant.realhands fetch label crops` and
# `python -m dactyl_quant.realcheck --out .real-photo-check`):
#   bash scripts/realhands_kd_compare.sh SYNTH TEST WORK [MINUTES]
#     SYNTH  a synthetic corpus with a train split (KD+CTC data) whose clips have MediaPipe
#            embedding teacher files (`python -m dactyl_quant.teachers mediapipe --data SYNTH
#            --partition train`) and a dev split with y4m clips (calibration, best.pt)
#     TEST   a held-out synthetic split with y4m clips (`synth generate --split test --y4m`)
#     WORK   runs, models and results;  MINUTES: each fine-tune's budget (default 6)
#   Environment: DACTYL (the dactyl binary; default ../.build/release/dactyl), MODEL (the model to
#   fine-tune; default ../models/default.dmdl), CONFIG (its config; pi64), KD (the KD-only corpus;
#   default .realhands/kd), LR (3e-4).
set -euo pipefail
SYNTH="$1"; TEST="$2"; WORK="$3"; MINUTES="${4:-6}"
DACTYL="${DACTYL:-../.build/release/dactyl}"
MODEL="${MODEL:-../models/default.dmdl}"
CONFIG="${CONFIG:-pi64}"
KD="${KD:-.realhands/kd}"
LR="${LR:-3e-4}"
mkdir -p "$WORK"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

python3 -m dactyl_quant.train cache --data "$SYNTH" --config "$CONFIG" --splits train dev --cache "$WORK/cache"
python3 scripts/dmdl_to_init.py --model "$MODEL" --config "$CONFIG" --data "$SYNTH" --cache "$WORK/cache" \
    --teacher mediapipe --out "$WORK/init.pt"

fit() {  # fit NAME [options]
    local name="$1"
    shift
    nice -n 10 python3 -m dactyl_quant.train fit --data "$SYNTH" --cache "$WORK/cache" --config "$CONFIG" \
        --teacher mediapipe --init "$WORK/init.pt" --lr "$LR" --batch 16 --epochs 200 --workers 0 --device cpu \
        --seed 0 --quiet --time-budget "$MINUTES" --out "$WORK/run-$name" "$@" > "$WORK/run-$name.log" 2>&1
}
fit synth &
fit real --kd-only-data "$KD" --kd-only-batch 16 &
wait

calibration=$(ls "$SYNTH"/y4m/synth_dev/*.y4m | head -n 16)
for name in synth real; do
    python3 -m dactyl_quant export --config "$CONFIG" --checkpoint "$WORK/run-$name/best.pt" --calib $calibration \
        --out "$WORK/$name.dmdl" --info "$CONFIG, the shipped model fine-tuned $MINUTES min (KD mediapipe + CTC, run $name)"
done
cp "$MODEL" "$WORK/shipped.dmdl"
for name in shipped synth real; do
    python3 -m dactyl_quant.train evaluate-letters --data .real-photo-check --dataset csv --model "$WORK/$name.dmdl" \
        --dactyl "$DACTYL" --split test --quiet --out "$WORK/real-$name" > /dev/null
    python3 -m dactyl_quant.train evaluate-dactyl --data "$TEST" --model "$WORK/$name.dmdl" --dactyl "$DACTYL" \
        --split test --label "$name" --json "$WORK/words-$name.json" > /dev/null
done
python3 - "$WORK" <<'EOF'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
print("| model | real photos (static letters): exact | contains | doubled | synthetic held-out words: letter accuracy |")
print("|---|---:|---:|---:|---:|")
for name in ("shipped", "synth", "real"):
    real = json.loads((work / f"real-{name}" / "summary.json").read_text())["static"]
    words = json.loads((work / f"words-{name}.json").read_text())
    print(f"| {name} | {real['exact_rate']:.1%} | {real['contains_rate']:.1%} | {real['doubling_rate']:.1%} | "
          f"{words['letter_accuracy']:.1%} |")
EOF
