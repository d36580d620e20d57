#!/usr/bin/env bash
# The live box's segmenter on generated continuous sessions (docs/live-box.md, "Segmenter"):
# word-boundary accuracy and session letter accuracy of `dactyl run --fast` for several
# still-time (segment.quiet) and travel-trimming (segment.travel) settings, and with the lexicon.
#
# Usage (from the repository root, after scripts/setup.sh):
#   bash quantization/scripts/segmenter_table.sh [WORK] [SEEDS...]
# WORK (default /tmp/dactyl-sessions) holds the sessions: 12 held-out test sessions per seed
# (default seeds 11 12 13), rendered once (about a minute per seed) and reused.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-/tmp/dactyl-sessions}"
shift || true
seeds=("${@:-11 12 13}")
read -r -a seeds <<< "${seeds[*]}"
dactyl="$PWD/.build/release/dactyl"
[ -x "$dactyl" ] || { echo "segmenter_table.sh: build dactyl first (bash scripts/setup.sh)" >&2; exit 1; }

cd quantization
for seed in "${seeds[@]}"; do
    [ -d "$work/sessions-$seed" ] || python3 -m dactyl_quant.synth session --out "$work/sessions-$seed" --seed "$seed" --sessions 12 --y4m
done
cat dactyl_quant/synth/words/test.txt dactyl_quant/synth/words/train.txt > "$work/lexicon.txt"

row() {
    local label="$1"; shift
    local args=()
    for argument in "$@"; do args+=("--run-arg=$argument"); done
    echo "== $label"
    for seed in "${seeds[@]}"; do
        python3 -m dactyl_quant.train evaluate-sessions --data "$work/sessions-$seed" --dactyl "$dactyl" --quiet "${args[@]}" \
            | tail -n 1
    done
}
row "defaults (segment.quiet 0.4, segment.travel 5)"
for quiet in 0.3 0.5 0.6; do row "segment.quiet $quiet" --segment-quiet "$quiet"; done
row "segment.travel 0 (no travel trimming)" --segment-travel 0
row "beam 8 + lexicon (test + training words)" --beam 8 --lexicon "$work/lexicon.txt"
