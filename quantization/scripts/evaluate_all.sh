#!/usr/bin/env bash
# Every evaluation of docs/evaluation.md for one model file, through `dactyl decode` (int8):
#   1. the still-letter split: each letter a-z held still 0.3-2 s by held-out signers (208 clips);
#      per-letter exact read, doubling (also by hold length), confusion matrix; greedy and beam 8;
#   2. the real-photo check (docs/real-photo-check.md): 576 photos of the 24 static letters by 12
#      people, each a 20-frame still clip; the same figures; greedy and beam 8 (skipped, with a
#      note, where the two source repositories have not been fetched into MIRROR); studio and
#      webcam photos also apart;
#   3. the held-out word split over three generator seeds (13 14 15): letter accuracy and whole
#      words, greedy, beam 8, beam 8 + lexicon; mean and spread; failed clips count as errors; and
#      how each letter of the words is read (aligned with the output: right, another letter, dropped).
# Generated data is reused when WORK already has it, so a retrained model reruns in minutes.
#
# Usage (from the repository root, after scripts/setup.sh):
#   bash quantization/scripts/evaluate_all.sh [MODEL] [WORK]
#     MODEL  the .dmdl to evaluate (default models/default.dmdl)
#     WORK   generated splits, clips and results (default /tmp/dactyl-evaluation)
#   Environment: DACTYL (the binary; default .build/release/dactyl), MIRROR (fetched repositories,
#   default /work/.mirror), REAL (the real-photo check's folder; default quantization/.real-photo-check,
#   git-ignored), JOBS (clips decoded at once; default: cores), WORKERS (processes rendering; 2),
#   SEEDS ("13 14 15"), DOCS (a folder, absolute or from the repository root, to copy the per-letter
#   tables and confusion matrices into, e.g. docs/evaluation).
# Writes WORK/summary.md (every table, with the command behind it) and WORK/*/ per evaluation.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
MODEL="$(realpath "${1:-$ROOT/models/default.dmdl}")"
WORK="$(realpath -m "${2:-/tmp/dactyl-evaluation}")"
export DACTYL="${DACTYL:-$ROOT/.build/release/dactyl}"
MIRROR="${MIRROR:-/work/.mirror}"
REAL="$(realpath -m "${REAL:-$ROOT/quantization/.real-photo-check}")"
WORKERS="${WORKERS:-2}"
SEEDS="${SEEDS:-13 14 15}"
JOB_ARGS=(${JOBS:+--jobs "$JOBS"})
cd "$ROOT/quantization"
mkdir -p "$WORK"
[ -x "$DACTYL" ] || { echo "error: no dactyl binary at $DACTYL (swift build -c release --product dactyl)" >&2; exit 1; }
SUMMARY="$WORK/summary.md"
{
    echo "# Evaluation of $(basename "$MODEL")"
    echo
    echo "Model: \`$MODEL\` ($(python3 -c "from dactyl_quant.export import read_model; print(read_model('$MODEL').info)"))."
    echo "Every figure through \`dactyl decode\` (int8). Made by \`quantization/scripts/evaluate_all.sh\`."
    echo
} > "$SUMMARY"

shell_words() {  # the arguments as one would type them: quoted where the shell would change them
    local word
    for word in "$@"; do
        if [[ "$word" =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then printf '%s ' "$word"; else printf "'%s' " "$word"; fi
    done
}

letters() {  # letters NAME DATA DATASET TITLE [decode options]: evaluate-letters into WORK/NAME
    local name="$1" data="$2" dataset="$3" title="$4"
    shift 4
    local command="python -m dactyl_quant.train evaluate-letters --data $data --dataset $dataset --model $MODEL --split test $(shell_words "$@")--out $WORK/$name"
    python3 -m dactyl_quant.train evaluate-letters --data "$data" --dataset "$dataset" --model "$MODEL" \
        --split test "$@" "${JOB_ARGS[@]}" --quiet --out "$WORK/$name" --title "$title" --command-line "$command"
    cat "$WORK/$name/letters.md" >> "$SUMMARY"
    if [ -n "${DOCS:-}" ]; then
        local docs="$DOCS"
        [[ "$docs" = /* ]] || docs="$ROOT/$docs"
        mkdir -p "$docs"
        if [ -f "$WORK/$name/confusion.png" ]; then cp "$WORK/$name/confusion.png" "$docs/$name-confusion.png"; fi
        cp "$WORK/$name/confusion.csv" "$docs/$name-confusion.csv"
        cp "$WORK/$name/letters.csv" "$docs/$name-letters.csv"
    fi
}

# 1. The still-letter split (held-out signers, skin tones, viewpoints, backgrounds; its own folder,
#    so that its clips never mix into the word split's figures).
STILL="$WORK/still"
if [ ! -f "$STILL/ChicagoFSWild.csv" ]; then
    python3 -m dactyl_quant.synth generate --kind still --split test --seed 21 --out "$STILL" --workers "$WORKERS"
fi
letters still-greedy "$STILL" chicagofswild "Still letters (held 0.3-2 s), greedy"
letters still-beam8 "$STILL" chicagofswild "Still letters (held 0.3-2 s), beam 8" --beam 8

# 2. The real-photo check: evaluation only.
if [ ! -f "$REAL/clips.csv" ]; then
    python3 -m dactyl_quant.realcheck --out "$REAL" --mirror "$MIRROR" \
        || echo "note: no real-photo check (fetch github:quangminh141005/ASL_Detection and github:SahilKuchlous/SignFlow into $MIRROR)" >&2
fi
if [ -f "$REAL/clips.csv" ]; then
    letters real-greedy "$REAL" csv "Real photos of the 24 static letters, greedy" --group-by '^y4m/([^/]+)/'
    letters real-beam8 "$REAL" csv "Real photos of the 24 static letters, beam 8" --beam 8 --group-by '^y4m/([^/]+)/'
fi

# 3. The held-out word split over several seeds.
python3 -m dactyl_quant.train evaluate-seeds --model "$MODEL" --work "$WORK/seeds" --seeds $SEEDS \
    --workers "$WORKERS" "${JOB_ARGS[@]}" --quiet
{
    echo "## Held-out words over seeds $SEEDS"
    echo
    echo "    python -m dactyl_quant.train evaluate-seeds --model $MODEL --work $WORK/seeds --seeds $SEEDS"
    echo
    cat "$WORK/seeds/results.md"
    echo
    cat "$WORK/seeds/letters-greedy/word-letters.md"
} >> "$SUMMARY"
if [ -n "${DOCS:-}" ]; then
    docs="$DOCS"
    [[ "$docs" = /* ]] || docs="$ROOT/$docs"
    for file in word-confusion.png word-confusion.csv word-letters.csv; do
        if [ -f "$WORK/seeds/letters-greedy/$file" ]; then cp "$WORK/seeds/letters-greedy/$file" "$docs/words-greedy-$file"; fi
    done
fi
echo "$SUMMARY"
