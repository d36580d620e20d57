import AllocationCounter
import Foundation
import Glibc
import XCTest
@testable import DactylPipeline

/// The sinks' part of DESIGN.md's rule: after `init`, partial/commit/status/service allocate
/// nothing, including through a stalled serial port, one that is unplugged and reopened, and a
/// keyboard host that stops reading. The class name ends in FrameLoopAllocationTests so that
/// scripts/test.sh runs it on the release build with the frame loop's test.
final class SinkFrameLoopAllocationTests: XCTestCase {
    func testSinkCallsAllocateNothing() throws {
        #if DEBUG
        let optimised = false
        #else
        let optimised = true
        #endif
        try XCTSkipUnless(optimised, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        let folder = temporaryFolder("sink-allocations")
        defer { try? FileManager.default.removeItem(at: folder) }

        // Serial: a pty behind a symlink; the test never reads it, so it stalls, then vanishes.
        var master: Int32 = -1, slave: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        XCTAssertEqual(openpty(&master, &slave, &name, nil, nil), 0)
        let link = folder.appendingPathComponent("tty").path
        XCTAssertEqual(symlink(String(cString: name), link), 0)
        var serial = try SerialSink(configuration: SerialSink.Configuration(path: link, queueWords: 16,
                                                                             retryMinimum: 1_000_000, retryMaximum: 2_000_000),
                                    runStart: 0, now: monotonicNanoseconds())
        // Keyboard: a FIFO whose reader never reads.
        let fifo = folder.appendingPathComponent("hidg0").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        var keyboard = try KeyboardSink(configuration: KeyboardSink.Configuration(path: fifo, queueReports: 256))
        // Stdout: JSON lines and text into /dev/null.
        let null = open("/dev/null", O_WRONLY)
        defer { close(null) }
        let alphabet = (UInt8(ascii: "a")...UInt8(ascii: "z")).map { String(UnicodeScalar($0)) }
        var json = StdoutSink(configuration: StdoutSink.Configuration(format: .jsonLines, fd: null), alphabet: alphabet, runStart: 0)
        var text = StdoutSink(configuration: StdoutSink.Configuration(format: .text, fd: null), alphabet: alphabet, runStart: 0)
        // GPIO: no chip here; its pure parts run in the loop.
        var button = ButtonDebouncer()

        let words = WordFixture()
        var letters: [CTCLetterSpan] = []
        for index in Int32(0)..<6 {
            letters.append(CTCLetterSpan(classIndex: index + 1, startFrame: index * 4, endFrame: index * 4 + 3, score: 0.75))
        }
        let partialWord = words.word("abc", segment: 1, letters: Array(letters.prefix(3)))
        let committed = words.word("abcdef", segment: 1, letters: letters, startFrame: 0, endFrame: 24)
        let message = Array("camera lost: No such device".utf8)
        var checksum = 0

        allocation_counter_start()
        let probe = [Int](repeating: 1, count: Int.random(in: 100...200))
        XCTAssertGreaterThan(allocation_counter_stop(), 0, "the counter counts")
        withExtendedLifetime(probe) {}

        for pass in 0..<3 {
            if pass == 2 {
                // Unplugged: the far side goes away; the sink queues and retries opening.
                close(master)
                close(slave)
            }
            allocation_counter_start()
            message.withUnsafeBufferPointer { message in
                for step in 0..<400 {
                    let now = monotonicNanoseconds()
                    let status: BoxStatus = step % 3 == 0 ? .signing : (step % 3 == 1 ? .idle : .cameraLost)
                    serial.status(status, message: message, now: now)
                    json.status(status, message: message, now: now)
                    text.status(status, message: message, now: now)
                    keyboard.status(status, message: message, now: now)
                    serial.partial(partialWord, now: now)
                    json.partial(partialWord, now: now)
                    serial.commit(committed, now: now)
                    json.commit(committed, now: now)
                    text.commit(committed, now: now)
                    keyboard.commit(committed, now: now)
                    checksum &+= serial.service(now: now) == nil ? 1 : 0
                    checksum &+= keyboard.service(now: now) == nil ? 1 : 0
                    checksum &+= json.service(now: now) == nil ? 1 : 0
                    checksum &+= StatusLEDPattern.isOn(status, elapsed: now) ? 1 : 0
                    checksum &+= StatusLEDPattern.wordFlash(elapsed: now % 500_000_000, pulse: 150_000_000) == true ? 1 : 0
                    if button.edge(active: step % 2 == 0, at: UInt64(step) * 40_000_000) != nil { checksum &+= 1 }
                    if button.settle(now: UInt64(step) * 40_000_000 + 35_000_000) != nil { checksum &+= 1 }
                }
                json.stats(RunCounters(), wordLatency: LatencySummary(count: 1, medianMilliseconds: 1, p90Milliseconds: 2),
                           frameLatency: LatencySummary(count: 1, medianMilliseconds: 1, p90Milliseconds: 2), now: 1)
            }
            let allocations = allocation_counter_stop()
            XCTAssertEqual(allocations, 0, "pass \(pass): \(allocations) heap allocations in sink calls")
        }
        XCTAssertGreaterThan(checksum, 0)
        XCTAssertGreaterThan(serial.wordsDropped, 0, "the serial port should have stalled and dropped at the bound")
        XCTAssertFalse(serial.connected, "the pty was closed")
        XCTAssertGreaterThan(keyboard.wordsDropped, 0, "the keyboard host never read")
        XCTAssertEqual(json.linesLost, 0)
    }
}
