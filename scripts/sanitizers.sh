#!/usr/bin/env bash
# The Swift and C tests under sanitizers (issue 12, part 3), each job in its own scratch folder:
#
#   asan   AddressSanitizer + LeakSanitizer: every Swift and C target and the whole test suite,
#          including the dactyl processes the command-line tests start (leaks checked in them too;
#          scripts/lsan.supp lists what is kept until exit on purpose)
#   ubsan  UndefinedBehaviorSanitizer on the C targets (the shim, the int8 kernels, the thread
#          pool; Swift checks its own arithmetic): the whole suite, any finding aborts
#   tsan   ThreadSanitizer: the encoder's thread pool (FastConv2DTests, GoldenVectorTests at 1
#          and 3 threads), the continuous recogniser, `dactyl run` in the command-line tests
#          (SIGTERM, SIGHUP, sinks), and a LiveBox run of 3 loops of the session at 3 threads
#
# usage: scripts/sanitizers.sh [asan] [ubsan] [tsan]     (default: all three)
# Prints "PASS  sanitizer JOB: N tests" or "FAIL  sanitizer JOB: F of N tests failed" per job
# (scripts/test.sh runs the asan job and counts these lines); exit status 0 when all pass.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=("$@")
[ ${#jobs[@]} -gt 0 ] || jobs=(asan ubsan tsan)
logs=$(mktemp -d)
status=0
# A report in any process (the test runner or a dactyl it started) fails the job.
reports="ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1"
clang_runtime=$(dirname "$(readlink -f "$(command -v swiftc)")")/../lib/clang

for job in "${jobs[@]}"; do
    started=$SECONDS
    filter=()
    case $job in
        asan) flags=(-Xswiftc -sanitize=address -Xcc -fsanitize=address -Xcc -fno-omit-frame-pointer) ;;
        ubsan)
            # swiftc has no -sanitize=undefined: the C targets are instrumented, the runtime linked in.
            runtime=$(ls "$clang_runtime"/*/lib/linux/libclang_rt.ubsan_standalone-x86_64.a 2>/dev/null | head -n 1)
            [ -n "$runtime" ] || { echo "FAIL  sanitizer ubsan: 1 of 1 tests failed (no libclang_rt.ubsan_standalone in $clang_runtime)"; status=1; continue; }
            flags=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined -Xlinker "$runtime") ;;
        tsan)
            flags=(-Xswiftc -sanitize=thread -Xcc -fsanitize=thread)
            filter=(--filter "FastConv2DTests|GoldenVectorTests|ContinuousRecogniserTests|PreviewServerTests|CommandLineTests.testRun|CommandLineTests.testTheBundledSession|CommandLineTests.testSIG") ;;
        *) echo "usage: scripts/sanitizers.sh [asan] [ubsan] [tsan]"; exit 2 ;;
    esac
    log="$logs/$job.log"
    if ! swift build --build-tests --scratch-path ".build-$job" "${flags[@]}" >"$log.build" 2>&1; then
        grep -E "error:" "$log.build" | head -n 10
        echo "FAIL  sanitizer $job: 1 of 1 tests failed (the build failed)"
        status=1
        continue
    fi
    swift test --skip-build --scratch-path ".build-$job" "${filter[@]}" >"$log" 2>&1
    test_status=$?
    extra_passed=0; extra_failed=0
    if [ "$job" = tsan ]; then
        # The live loop with the encoder's pool of 3 threads, as `dactyl run` on a board runs it.
        if ".build-$job/debug/dactyl" run samples/session.y4m --fast --loop --max-frames 924 --threads 3 \
                >"$logs/tsan-run.out" 2>>"$log" && [ "$(grep -c . "$logs/tsan-run.out")" -eq 9 ]; then
            extra_passed=1
        else
            echo "  dactyl run under TSan: exit or words wrong: $(tr '\n' ' ' <"$logs/tsan-run.out")"
            extra_failed=1
        fi
    fi
    line=$(grep -E "Executed [0-9]+ tests?, with .*[0-9]+ failures?" "$log" | tail -n 1)
    total=$(echo "$line" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/'); total=${total:-0}
    failures=$(echo "$line" | sed -E 's/.* ([0-9]+) failures?.*/\1/'); failures=${failures:-0}
    skipped=$(echo "$line" | grep -oE "[0-9]+ tests? skipped" | grep -oE "^[0-9]+"); skipped=${skipped:-0}
    found=$(grep -cE "$reports" "$log")
    [ -n "$line" ] || failures=$((failures + 1))
    [ "$test_status" -eq 0 ] || [ "$failures" -gt 0 ] || failures=1
    failures=$((failures + extra_failed + found))
    run=$((total - skipped + extra_passed + extra_failed))
    took=$((SECONDS - started))
    if [ "$failures" -eq 0 ]; then
        echo "PASS  sanitizer $job: $run tests ($skipped skipped; ${took} s)"
    else
        grep -E "$reports|error:" "$log" | head -n 10
        echo "FAIL  sanitizer $job: $failures of $run tests failed ($found sanitizer reports; ${took} s; log kept in $log)"
        status=1
        continue
    fi
    rm -f "$log" "$log.build"
done
[ "$status" -ne 0 ] || rm -rf "$logs"
exit $status
