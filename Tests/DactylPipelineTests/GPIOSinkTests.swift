import DactylPipeline
import XCTest

/// The GPIO sink's logic (LED patterns, button debounce) and its start-up errors. This host has
/// no GPIO chip; the virtual Raspberry Pi test drives a real PL061 through the whole sink.
final class GPIOSinkTests: XCTestCase {
    let ms: UInt64 = 1_000_000

    /// The LED over `seconds`, sampled every 50 ms, as a string of 1s and 0s.
    func trace(_ status: BoxStatus, seconds: Int = 3) -> String {
        (0..<(seconds * 20)).map { StatusLEDPattern.isOn(status, elapsed: UInt64($0) * 50 * ms) ? "1" : "0" }.joined()
    }

    func testEachStatusHasItsOwnPattern() {
        let traces = BoxStatus.allCases.map { trace($0) }
        XCTAssertEqual(Set(traces).count, BoxStatus.allCases.count, "two statuses look the same")
        XCTAssertEqual(trace(.signing), String(repeating: "1", count: 60))
        // Idle: one 150 ms blip per 3 s, at the start of the period.
        XCTAssertEqual(trace(.idle), "111" + String(repeating: "0", count: 57))
        XCTAssertEqual(trace(.error), String(repeating: "111000", count: 10))
        XCTAssertEqual(trace(.handSeen), String(repeating: String(repeating: "1", count: 12) + String(repeating: "0", count: 12), count: 3).prefix(60).description)
        XCTAssertEqual(trace(.cameraLost), String(repeating: "111000111" + String(repeating: "0", count: 21), count: 2))
    }

    func testNoStretchIsShorterThanTheServicePeriod() {
        // Service runs at least every 100 ms: a shorter on or off stretch could be skipped.
        for status in BoxStatus.allCases {
            var level = StatusLEDPattern.isOn(status, elapsed: 0)
            var since: UInt64 = 0
            for step in UInt64(1)...6000 {
                let now = step * ms
                let on = StatusLEDPattern.isOn(status, elapsed: now)
                if on != level {
                    XCTAssertGreaterThanOrEqual(now - since, 150 * ms, "\(status) at \(step) ms")
                    level = on
                    since = now
                }
            }
        }
    }

    func testTheWordFlashIsOffOnOffThenOver() {
        let pulse = 150 * ms
        XCTAssertEqual(StatusLEDPattern.wordFlash(elapsed: 0, pulse: pulse), false)
        XCTAssertEqual(StatusLEDPattern.wordFlash(elapsed: 149 * ms, pulse: pulse), false)
        XCTAssertEqual(StatusLEDPattern.wordFlash(elapsed: 150 * ms, pulse: pulse), true)
        XCTAssertEqual(StatusLEDPattern.wordFlash(elapsed: 299 * ms, pulse: pulse), true)
        XCTAssertEqual(StatusLEDPattern.wordFlash(elapsed: 300 * ms, pulse: pulse), false)
        XCTAssertNil(StatusLEDPattern.wordFlash(elapsed: 450 * ms, pulse: pulse))
    }

    /// Feeds (active, ms) edges, then settles at `settleAt` ms; returns every request.
    func press(_ edges: [(Bool, UInt64)], settleAt: UInt64, debouncer: inout ButtonDebouncer) -> [SinkRequest] {
        var requests: [SinkRequest] = []
        for (active, time) in edges {
            if let request = debouncer.edge(active: active, at: time * ms) { requests.append(request) }
        }
        if let request = debouncer.settle(now: settleAt * ms) { requests.append(request) }
        return requests
    }

    func testACleanShortPressClearsTheWord() {
        var button = ButtonDebouncer()
        XCTAssertEqual(press([(true, 1000), (false, 1200)], settleAt: 1300, debouncer: &button), [.clearWord])
        XCTAssertFalse(button.pressed)
    }

    func testBouncesMakeOnePress() {
        var button = ButtonDebouncer()
        let bouncy: [(Bool, UInt64)] = [(true, 1000), (false, 1002), (true, 1003), (false, 1005), (true, 1006),
                                        (false, 1250), (true, 1252), (false, 1254)]
        XCTAssertEqual(press(bouncy, settleAt: 1400, debouncer: &button), [.clearWord])
    }

    func testTheReleaseCountsOnlyOnceItHeld() {
        var button = ButtonDebouncer()
        XCTAssertEqual(press([(true, 1000), (false, 1200)], settleAt: 1210, debouncer: &button), [])
        XCTAssertTrue(button.pressed, "20 ms after the release it may still be a bounce")
        XCTAssertEqual(button.settle(now: 1230 * ms), .clearWord)
        XCTAssertNil(button.settle(now: 2000 * ms), "one press, one request")
    }

    func testALongPressRepeatsTheLastWord() {
        var button = ButtonDebouncer()
        let long: [(Bool, UInt64)] = [(true, 5000), (false, 5003), (true, 5004), (false, 6100), (true, 6101), (false, 6102)]
        XCTAssertEqual(press(long, settleAt: 6200, debouncer: &button), [.repeatLastWord])
        // Just under a second is still a short press.
        XCTAssertEqual(press([(true, 8000), (false, 8990)], settleAt: 9100, debouncer: &button), [.clearWord])
    }

    func testGlitchesShorterThanTheDebounceAreIgnored() {
        var button = ButtonDebouncer()
        XCTAssertEqual(press([(true, 1000), (false, 1005), (true, 3000), (false, 3010)], settleAt: 4000, debouncer: &button), [])
        XCTAssertFalse(button.pressed)
    }

    func testAButtonHeldAtStartUpIsNotAPressUntilReleasedAndPressedAgain() {
        var button = ButtonDebouncer(pressed: true)
        XCTAssertEqual(press([(false, 500)], settleAt: 600, debouncer: &button), [],
                       "when a button held at start-up was pressed is unknown: its release does nothing")
        XCTAssertFalse(button.pressed)
        XCTAssertEqual(press([(true, 1000), (false, 1100)], settleAt: 1200, debouncer: &button), [.clearWord])
    }

    func testLineSpecificationsParse() {
        XCTAssertEqual(GPIOSink.Line(parsing: "GPIO17"), .name("GPIO17"))
        XCTAssertEqual(GPIOSink.Line(parsing: "17"), .offset(17))
        XCTAssertEqual(GPIOSink.Line(parsing: "0"), .offset(0))
        XCTAssertEqual(GPIOSink.Line(parsing: "-1"), .name("-1"))
        XCTAssertEqual(GPIOSink.Line(parsing: ""), .name(""))
    }

    func testAMissingChipIsAClearError() {
        let configuration = GPIOSink.Configuration(chip: "/dev/gpiochip-that-is-not-there", statusLED: .offset(0))
        XCTAssertThrowsError(try GPIOSink(configuration: configuration, now: 0)) { error in
            XCTAssertEqual("\(error)", "/dev/gpiochip-that-is-not-there: cannot open the gpio sink's device: No such file or directory")
        }
        let byName = GPIOSink.Configuration(chip: "gpiochip97", statusLED: .name("GPIO17"))
        XCTAssertThrowsError(try GPIOSink(configuration: byName, now: 0)) { error in
            XCTAssertTrue("\(error)".hasPrefix("gpiochip97: cannot open the gpio sink's device: "), "\(error)")
        }
    }

    func testAConfigurationWithoutLinesIsAnError() {
        XCTAssertThrowsError(try GPIOSink(configuration: GPIOSink.Configuration(chip: "gpiochip0"), now: 0)) { error in
            XCTAssertTrue("\(error)".contains("lines is \"none\""), "\(error)")
        }
    }
}
