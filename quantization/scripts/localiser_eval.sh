#!/usr/bin/env bash
# The localiser's word evaluation (issue 14): held-out words composed into whole 640x480 frames at a
# random place and scale (fixed per clip), with the signer's face, body and other hand in view, for
# three generator seeds; each clip decoded by `dactyl decode` with the true crop (the pasted clip
# square, from the sidecar clips.json) and with `--crop auto` (the model file's localiser). Prints
# letter accuracy (1 − edit distance / letters, pooled over a seed's clips; a clip that fails to
# decode counts as all its letters wrong) per seed and the mean ± sd.
#
# Usage (from anywhere): bash quantization/scripts/localiser_eval.sh DACTYL MODEL [WORK]
#   DACTYL  the dactyl binary;  MODEL  a .dmdl with a localiser;  WORK  default /tmp/dactyl-localiser-eval
#   Environment: SEEDS ("21 22 23"), COUNT (clips per seed, 20), RULES ("true auto"; "true" alone
#   until the dactyl at hand has --crop auto; add "model" for the whole frame, the model's default crop).
# Clips already in WORK are reused; results are rewritten.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 DACTYL MODEL [WORK]" >&2; exit 2; }
DACTYL="$(realpath "$1")"
MODEL="$(realpath "$2")"
WORK="$(realpath -m "${3:-/tmp/dactyl-localiser-eval}")"
SEEDS="${SEEDS:-21 22 23}"
COUNT="${COUNT:-20}"
RULES="${RULES:-true auto}"
[ -x "$DACTYL" ] || { echo "error: $DACTYL is not an executable dactyl binary" >&2; exit 1; }
cd "$ROOT/quantization"
mkdir -p "$WORK"
scores=()
for seed in $SEEDS; do
    clips="$WORK/seed-$seed"
    if [ ! -f "$clips/clips.json" ]; then
        python3 -m dactyl_quant.localiser clips --out "$clips" --seed "$seed" --count "$COUNT" >/dev/null
    fi
    decoded=()
    for rule in $RULES; do
        python3 -m dactyl_quant.localiser decode-clips --dactyl "$DACTYL" --model "$MODEL" --clips "$clips" \
            --crop "$rule" --out "$clips/decoded-$rule.tsv"
        decoded+=(--decoded "$rule crop" "$clips/decoded-$rule.tsv")
    done
    python3 -m dactyl_quant.localiser score --clips "$clips" "${decoded[@]}" > "$WORK/seed-$seed.json"
    scores+=("$WORK/seed-$seed.json")
done
echo "Letter accuracy on composed 640x480 clips ($COUNT held-out words per seed), $(basename "$MODEL"):"
python3 -m dactyl_quant.localiser table "${scores[@]}"
