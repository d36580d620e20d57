#!/usr/bin/env bash
# Runs every test: the Swift package's (host build), the Embedded Swift build of the board code,
# and the Python side's. Expects scripts/setup.sh to have run. Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
status=0

echo "== swift test"
swift build --build-tests 2>&1 | grep -E "error|warning: unre|Compiling|Build" | grep -v "^\[" | tail -n 5
swift test --skip-build 2>&1 | tee "$logs/swift.log" | grep -E "error|failed|Executed .* tests" | tail -n 20
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== Embedded Swift build of the board code"
if EMBEDDED=1 swift build --scratch-path .build-embedded 2>&1 | tee "$logs/embedded.log" | tail -n 1; then
    .build-embedded/debug/dactyl version
else
    grep -E "error" "$logs/embedded.log" | head -n 20
    status=1
fi

echo "== python -m pytest quantization"
(cd quantization && python3 -m pytest -q -p no:cacheprovider 2>&1) | tee "$logs/python.log" | tail -n 15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# One line for all: XCTest's "Executed N tests, with F failures" and pytest's "N passed, F failed".
swift_line=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$logs/swift.log" | tail -n 1)
swift_total=$(echo "$swift_line" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/'); swift_total=${swift_total:-0}
swift_failed=$(echo "$swift_line" | sed -E 's/.*with ([0-9]+) failures?.*/\1/'); swift_failed=${swift_failed:-0}
python_line=$(tail -n 1 "$logs/python.log")
python_passed=$(echo "$python_line" | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+"); python_passed=${python_passed:-0}
python_failed=$(echo "$python_line" | grep -oE "[0-9]+ (failed|errors?)" | awk "{s+=\$1} END {print s+0}"); python_failed=${python_failed:-0}
[ "$swift_total" -gt 0 ] && [ "$python_passed" -gt 0 ] || status=1
failed=$((swift_failed + python_failed + (status != 0 && swift_failed + python_failed == 0 ? 1 : 0)))
echo "tests: $((swift_total - swift_failed + python_passed)) passed, $failed failed"
rm -rf "$logs"
exit $status
