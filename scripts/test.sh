#!/usr/bin/env bash
# Runs every test: the Swift package's (host build), the no-allocation test on the release
# build, the Swift and C tests under AddressSanitizer, the Embedded Swift build of the board
# code, the aarch64 cross build under qemu (cortex-a72 and cortex-a76), the board's devices in
# a virtual Raspberry Pi, the Debian packages, the fuzz targets on their corpora, the preview page
# in headless Chromium, and the Python side's. Expects
# scripts/setup.sh to have run.
# Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
status=0

step() { echo; echo "== $*"; }

step "swift test (debug)"
swift build --build-tests 2>&1 | grep -E "error:|Build complete" | tail -n 5
swift test --skip-build 2>&1 | tee "$logs/swift-debug.log" | grep -E "error:|failed|Executed [0-9]+ tests?," | tail -n 1
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# The frame loop's no-allocation property belongs to the optimised build the board runs.
step "swift test (release): no heap allocation in the frame loop"
release=(-c release -Xswiftc -enable-testing)
swift build "${release[@]}" --build-tests 2>&1 | grep -E "error:|Build complete" | tail -n 5
swift test "${release[@]}" --skip-build --filter FrameLoopAllocationTests 2>&1 | tee "$logs/swift-release.log" \
    | grep -E "error:|failed|skipped|Executed [0-9]+ tests?," | tail -n 1
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
grep -q "skipped" "$logs/swift-release.log" && { echo "the allocation test was skipped on the release build"; status=1; }

# AddressSanitizer + LeakSanitizer over the whole suite (the C shim, the kernels, the parsers, the
# live loop, and the dactyl processes the command-line tests start); ~1.5 min on 2 cores. The
# UBSan and TSan jobs: bash scripts/sanitizers.sh ubsan tsan.
step "AddressSanitizer: the Swift and C tests (scripts/sanitizers.sh asan)"
bash scripts/sanitizers.sh asan 2>&1 | tee "$logs/sanitizers.log" | grep -vE "^$"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "Embedded Swift build of the board code (host), dactyl selftest"
if EMBEDDED=1 swift build --scratch-path .build-embedded 2>&1 | tee "$logs/embedded.log" | tail -n 1; then
    .build-embedded/debug/dactyl selftest | tail -n 1
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
    grep -E "error" "$logs/embedded.log" | head -n 20
    status=1
fi

step "aarch64 cross build, run under qemu (cross/test.sh)"
bash cross/test.sh 2>&1 | tee "$logs/cross.log" | grep -E "^(PASS|FAIL|  FAIL)|cross/test.sh|took"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# The board's devices against real kernel drivers in a virtual Raspberry Pi (qemu-system-aarch64):
# vivid as the camera, the PL061 GPIO chip, a USB serial adapter. Uses the static binary that
# cross/test.sh just built; downloads the arm64 kernel once (cached under cross/.cache).
step "virtual Raspberry Pi: camera, GPIO, serial (cross/vm-test.sh)"
vm_started=$SECONDS
bash cross/vm-test.sh --skip-build 2>&1 | tee "$logs/vm.log" | grep -E "^(PASS|FAIL|WARN) |cross/vm-test.sh:|left out"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "cross/vm-test.sh took $((SECONDS - vm_started)) s"

# The .deb packages (packaging/test.sh): both built (arm64 from the binary cross/test.sh built),
# lintian, their contents, the arm64 selftest under qemu, and the amd64 one installed, checked and
# purged in a Debian bookworm root (made once with mmdebstrap, cached in packaging/.cache).
step "Debian packages: lintian, contents, install and purge in a Debian root (packaging/test.sh)"
package_started=$SECONDS
bash packaging/test.sh --skip-arm64-build 2>&1 | tee "$logs/package.log" | grep -E "^(PASS|FAIL) |packaging/test.sh:"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "packaging/test.sh took $((SECONDS - package_started)) s"

# Every reader of outside input under libFuzzer with ASan (fuzz/README.md): the seed corpus
# and a fixed 10000 executions per target (seed 1), in its own build (.build-fuzz).
step "fuzz targets: seed corpus + mutations under ASan (fuzz/run.sh)"
bash fuzz/run.sh 2>&1 | tee "$logs/fuzz.log" | grep -E "^(PASS|FAIL)|^ +#|fuzz/run.sh:"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# The setup preview page in headless Chromium while `dactyl run` plays the session clip (~15 s);
# skipped, with a line saying so, where chromium is not installed.
step "preview page in a real browser (scripts/browser-test.py)"
[ -x .build/release/dactyl ] || swift build -c release --product dactyl 2>&1 | grep -E "error:" | head -n 5
python3 scripts/browser-test.py 2>&1 | tee "$logs/browser.log" | grep -E "^(PASS|FAIL|SKIP) |^browser:"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

step "python -m pytest quantization"
(cd quantization && python3 -m pytest -q -p no:cacheprovider 2>&1) | tee "$logs/python.log" | tail -n 15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# One line for all: XCTest's "Executed N tests, with F failures" (the last such line of each
# run is its total) and pytest's "N passed, F failed".
swift_passed=0; swift_failed=0
for log in "$logs/swift-debug.log" "$logs/swift-release.log"; do
    line=$(grep -E "Executed [0-9]+ tests?, with .*[0-9]+ failures?" "$log" | tail -n 1)
    [ -n "$line" ] || { status=1; continue; }
    total=$(echo "$line" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
    failures=$(echo "$line" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
    skipped=$(echo "$line" | grep -oE "[0-9]+ tests? skipped" | grep -oE "^[0-9]+"); skipped=${skipped:-0}
    swift_passed=$((swift_passed + total - failures - skipped))
    swift_failed=$((swift_failed + failures))
done
python_line=$(tail -n 1 "$logs/python.log")
python_passed=$(echo "$python_line" | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+"); python_passed=${python_passed:-0}
python_failed=$(echo "$python_line" | grep -oE "[0-9]+ (failed|errors?)" | awk '{s+=$1} END {print s+0}')
# cross/test.sh: "PASS  BINARY @ CPU  (N checks)" or "FAIL  BINARY @ CPU  (F of N checks failed)"
cross_passed=$(grep -E "^PASS " "$logs/cross.log" | grep -oE "\([0-9]+ checks\)" | grep -oE "[0-9]+" | awk '{s+=$1} END {print s+0}')
cross_failed=$(grep -E "^FAIL " "$logs/cross.log" | grep -oE "\([0-9]+ of" | grep -oE "[0-9]+" | awk '{s+=$1} END {print s+0}')
# scripts/sanitizers.sh: "PASS  sanitizer JOB: N tests" or "FAIL  sanitizer JOB: F of N tests failed".
sanitizer_passed=$(grep -E "^PASS  sanitizer " "$logs/sanitizers.log" | grep -oE ": [0-9]+ tests" | grep -oE "[0-9]+" | awk '{s+=$1} END {print s+0}')
sanitizer_failed=$(grep -E "^FAIL  sanitizer " "$logs/sanitizers.log" | grep -oE ": [0-9]+ of" | grep -oE "[0-9]+" | awk '{s+=$1} END {print s+0}')
# cross/vm-test.sh: "PASS  vm NAME: ..." or "FAIL  vm NAME: ..." per check.
vm_passed=$(grep -cE "^PASS  vm " "$logs/vm.log")
vm_failed=$(grep -cE "^FAIL  vm " "$logs/vm.log")
# packaging/test.sh: "PASS  package NAME: ..." or "FAIL  package NAME: ..." per check.
package_passed=$(grep -cE "^PASS  package " "$logs/package.log")
package_failed=$(grep -cE "^FAIL  package " "$logs/package.log")
# scripts/browser-test.py: "PASS  browser CHECK: ..." or "FAIL  browser CHECK: ..." per check (or one SKIP line).
browser_passed=$(grep -cE "^PASS  browser " "$logs/browser.log")
browser_failed=$(grep -cE "^FAIL  browser " "$logs/browser.log")
# fuzz/run.sh: "PASS  fuzz TARGET: ..." or "FAIL  fuzz TARGET: ..." per target.
fuzz_passed=$(grep -cE "^PASS  fuzz " "$logs/fuzz.log")
fuzz_failed=$(grep -cE "^FAIL  fuzz " "$logs/fuzz.log")
[ "$swift_passed" -gt 0 ] && [ "$sanitizer_passed" -gt 0 ] && [ "$python_passed" -gt 0 ] && [ "$cross_passed" -gt 0 ] \
    && [ "$vm_passed" -gt 0 ] && [ "$package_passed" -gt 0 ] && [ "$fuzz_passed" -gt 0 ] || status=1
failed=$((swift_failed + sanitizer_failed + python_failed + cross_failed + vm_failed + package_failed + fuzz_failed + browser_failed))
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo
echo "tests: $((swift_passed + sanitizer_passed + cross_passed + vm_passed + package_passed + fuzz_passed + browser_passed + python_passed)) passed, $failed failed"
rm -rf "$logs"
exit $status
