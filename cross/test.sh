#!/usr/bin/env bash
# CI for the aarch64 board binary: cross-build it (dynamic and static-pie), then run it under
# qemu-aarch64 as a Raspberry Pi 4 (cortex-a72) and a Pi 5 (cortex-a76) and check it against
# the golden clips and against the host build.
#
# Usage: cross/test.sh [--skip-build] [--no-host] [--cpus "cortex-a72 cortex-a76"]
#   --skip-build  use the binaries already in cross/out (and the host's .build/release/dactyl)
#   --no-host     do not build/run the host binary: check the golden letters only
#   --cpus LIST   qemu CPU models to run under (default "cortex-a72 cortex-a76"; cortex-a53 = Zero 2 W)
#
# Checks, for each binary (dynamic, static) and each CPU:
#   - `dactyl version` exits 0 (and prints what the host build prints);
#   - every clip of Tests/golden/expected.json: greedy and beam (--beam beam_width) letters equal
#     the expected ones, and the --format jsonl output equals the host build's byte for byte;
#   - if models/default.dmdl and samples/sample.y4m exist: `decode --format jsonl` and `inspect`
#     equal the host build's output byte for byte.
# Prints PASS/FAIL per binary and CPU, and exits non-zero on any failure.
set -uo pipefail

CROSS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$CROSS_DIR/.." && pwd)"
cd "$ROOT"

BUILD=1
HOST=1
CPUS="cortex-a72 cortex-a76"
while (($#)); do
    case "$1" in
        --skip-build) BUILD=0; shift ;;
        --no-host) HOST=0; shift ;;
        --cpus) CPUS="${2:?--cpus needs a list}"; shift 2 ;;
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

die() { echo "test.sh: $*" >&2; echo "FAIL (setup)"; exit 1; }

# --- build --------------------------------------------------------------------------------
if ((BUILD)); then
    start=$SECONDS
    "$CROSS_DIR/build.sh" --static || die "cross build failed"
    echo "test.sh: cross build took $((SECONDS - start)) s" >&2
fi
BINARIES=("$CROSS_DIR/out/dactyl-aarch64" "$CROSS_DIR/out/dactyl-aarch64-static")
for b in "${BINARIES[@]}"; do [[ -x "$b" ]] || die "missing $b (run cross/build.sh --static)"; done

HOST_BIN="$ROOT/.build/release/dactyl"
if ((HOST)); then
    if ((BUILD)); then
        start=$SECONDS
        swift build -c release --product dactyl >&2 || die "host build failed"
        echo "test.sh: host build took $((SECONDS - start)) s" >&2
    fi
    [[ -x "$HOST_BIN" ]] || die "missing host binary $HOST_BIN"
fi

# --- test cases ---------------------------------------------------------------------------
# One line per case: NAME<TAB>EXPECTED<TAB>ARGS (ARGS shell-quoted). EXPECTED is the letters the
# text output's last line must be, or "-" when the check is "same bytes as the host build".
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
CASES="$WORK/cases"
: > "$CASES"
GOLDEN="Tests/golden"
if [[ -f "$GOLDEN/expected.json" ]]; then
    python3 - "$GOLDEN" >> "$CASES" <<'EOF' || die "cannot read $GOLDEN/expected.json"
import json, shlex, sys, os
golden = sys.argv[1]
spec = json.load(open(os.path.join(golden, "expected.json")))
model = os.path.join(golden, spec["model"]["file"])
beam = spec.get("beam_width")
for clip in spec["clips"]:
    args = ["decode", os.path.join(golden, clip["file"]), "--model", model]
    if clip.get("crop_source") == "explicit":
        c = clip["crop"]
        args += ["--crop", "%d,%d,%d,%d" % (c["x"], c["y"], c["width"], c["height"])]
    def line(name, expected, extra):
        print("\t".join([name, expected, shlex.join(args + extra)]))
    if "greedy" in clip:
        line(clip["name"] + " greedy", clip["greedy"], [])
    line(clip["name"] + " greedy jsonl", "-", ["--format", "jsonl"])
    if beam:
        if "beam" in clip:
            line(clip["name"] + " beam%d" % beam, clip["beam"], ["--beam", str(beam)])
        line(clip["name"] + " beam%d jsonl" % beam, "-", ["--beam", str(beam), "--format", "jsonl"])
EOF
else
    echo "test.sh: no $GOLDEN/expected.json; golden clips skipped" >&2
fi
if [[ -f models/default.dmdl && -f samples/sample.y4m ]]; then
    printf '%s\t-\t%s\n' "sample default-model jsonl" "decode samples/sample.y4m --model models/default.dmdl --format jsonl" >> "$CASES"
    # The plan holds each kernel path's packed weights, so host and board compare on one path.
    printf '%s\t-\t%s\n' "inspect default-model" "inspect models/default.dmdl --kernel scalar" >> "$CASES"
fi
if [[ -f "$GOLDEN/localiser/tiny-localiser.dmdl" ]]; then
    # The hand localiser's boxes decide the crop of every frame: the crops and letters must match the host's.
    printf '%s\t-\t%s\n' "localiser crop auto jsonl" \
        "decode $GOLDEN/localiser/frames.y4m --model $GOLDEN/localiser/tiny-localiser.dmdl --crop auto --localiser-interval 1 --format jsonl" >> "$CASES"
    # The session: the localiser acquires the hand and moves the crop.
    [[ -f samples/session.y4m ]] && printf '%s\t-\t%s\n' "localiser session crop auto jsonl" \
        "decode samples/session.y4m --model $GOLDEN/localiser/tiny-localiser.dmdl --crop auto --localiser-interval 1 --format jsonl" >> "$CASES"
fi
printf '%s\t-\t%s\n' "version" "version" >> "$CASES"
# selftest runs the built-in golden vectors on every kernel path the emulated CPU has; its first
# line names the CPU's features, so it is checked by its verdict, not against the host's output.
printf '%s\t%s\t%s\n' "selftest" "selftest: PASS" "selftest --model models/default.dmdl" >> "$CASES"

if ((HOST == 0)); then
    # Without a host reference only the cases with expected letters (and version) can be checked.
    awk -F'\t' '$2 != "-" || $1 == "version"' "$CASES" > "$CASES.tmp" && mv "$CASES.tmp" "$CASES"
fi

# Host reference outputs.
if ((HOST)); then
    i=0
    while IFS=$'\t' read -r name expected args; do
        i=$((i + 1))
        eval "set -- $args"
        "$HOST_BIN" "$@" > "$WORK/host.$i" 2> "$WORK/host.$i.err"
        echo $? > "$WORK/host.$i.rc"
    done < "$CASES"
fi

# --- runs ---------------------------------------------------------------------------------
overall=0
for bin in "${BINARIES[@]}"; do
    for cpu in $CPUS; do
        label="$(basename "$bin") @ $cpu"
        pass=0; fail=0; i=0
        while IFS=$'\t' read -r name expected args; do
            i=$((i + 1))
            eval "set -- $args"
            out="$WORK/out.$i"
            "$CROSS_DIR/qemu-run.sh" "$cpu" "$bin" "$@" > "$out" 2> "$out.err" < /dev/null
            rc=$?
            problem=""
            if ((rc != 0)); then
                problem="exit status $rc: $(tail -n 3 "$out.err" | tr '\n' ' ')"
            elif [[ "$expected" != "-" ]]; then
                got="$(tail -n 1 "$out")"
                [[ "$got" == "$expected" ]] || problem="letters '$got', expected '$expected'"
            fi
            if [[ -z "$problem" ]] && ((HOST)) && [[ "$name" != selftest ]]; then
                if [[ "$(cat "$WORK/host.$i.rc")" != 0 ]]; then
                    problem="host build failed this case too (exit $(cat "$WORK/host.$i.rc"))"
                elif ! cmp -s "$out" "$WORK/host.$i"; then
                    problem="output differs from the host build: $(diff "$WORK/host.$i" "$out" | head -n 4 | tr '\n' ' ')"
                fi
            fi
            if [[ -z "$problem" ]]; then
                pass=$((pass + 1))
            else
                fail=$((fail + 1))
                echo "  FAIL  $label  $name  (dactyl $args): $problem"
            fi
        done < "$CASES"
        if ((fail == 0)); then
            echo "PASS  $label  ($pass checks)"
        else
            echo "FAIL  $label  ($fail of $((pass + fail)) checks failed)"
            overall=1
        fi
    done
done

if ((overall == 0)); then echo "cross/test.sh: PASS"; else echo "cross/test.sh: FAIL"; fi
exit $overall
