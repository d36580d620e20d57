#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/README.md) in .build-fuzz, apart from the normal build, and
# runs each on its seed corpus plus a fixed number of mutations.
#
#   bash fuzz/run.sh [--runs N] [--seed S] [--skip-build] [TARGET...]
#
# --runs N: executions per target, the seeds included (default 10000: test.sh's smoke budget);
# --seed S: libFuzzer's random seed (default 1, so a run is repeatable). New inputs go to a
# temporary folder, never into fuzz/corpus; a finding is kept in .build-fuzz/findings/TARGET/.
# Prints "PASS  fuzz TARGET: ..." / "FAIL  fuzz TARGET: ..." per target and "fuzz/run.sh: PASS|FAIL".
set -uo pipefail
cd "$(dirname "$0")/.."
runs=10000; seed=1; build=1; targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --skip-build) build=0; shift ;;
        -*) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(model y4m profile lexicon lm args http)

fuzzer=.build-fuzz/release/dactyl-fuzz
started=$SECONDS
if [ "$build" -eq 1 ]; then
    # Release (-O) with the fuzzer's coverage and ASan on every Swift and C module;
    # -enable-testing lets the targets reach internal entry points (the beam vocabulary's).
    if ! DACTYL_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product dactyl-fuzz \
            -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xcc -fsanitize=address >"${TMPDIR:-/tmp}/dactyl-fuzz-build.log" 2>&1; then
        grep -E "error" "${TMPDIR:-/tmp}/dactyl-fuzz-build.log" | head -n 20
        echo "FAIL  fuzz build: see above"; echo "fuzz/run.sh: FAIL"; exit 1
    fi
    echo "fuzz/run.sh: build took $((SECONDS - started)) s"
fi

# The contract's bounds: a hang is an input taking over 10 s, and no input may make the process
# allocate more than 512 MB at once or hold more than 2 GB (ASan's own overhead included).
limits=(-timeout=10 -malloc_limit_mb=512 -rss_limit_mb=2048 -max_len=65536)
work=$(mktemp -d)
overall=0
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "$work/artifacts"
    log="$work/$target.log"
    "$fuzzer" "$target" "$work/$target" "fuzz/corpus/$target" -runs="$runs" -seed="$seed" "${limits[@]}" \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" >"$log" 2>&1
    rc=$?
    executed=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$")
    coverage=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | grep -oE "cov: [0-9]+ ft: [0-9]+" | tail -n 1)
    if [ "$rc" -eq 0 ] && [ -n "$executed" ]; then
        echo "PASS  fuzz $target: $executed executions, $coverage"
    else
        mkdir -p ".build-fuzz/findings/$target"
        cp "$work/artifacts/$target-"* ".build-fuzz/findings/$target/" 2>/dev/null
        reason=$(grep -m1 -E "^==[0-9]+==ERROR|^SUMMARY|ERROR: libFuzzer|Fatal error" "$log" | cut -c1-200)
        echo "FAIL  fuzz $target: ${reason:-exit $rc} (input kept in .build-fuzz/findings/$target/)"
        grep -E "^ +#[0-9]+ .* in " "$log" | head -n 8
        overall=1
    fi
done
rm -rf "$work"
echo "fuzz/run.sh: took $((SECONDS - started)) s"
[ "$overall" -eq 0 ] && echo "fuzz/run.sh: PASS" || echo "fuzz/run.sh: FAIL"
exit $overall
