import DactylPipeline
import Foundation
import Glibc
import XCTest

/// Issue 12 part 5: the far side of the serial port stops reading until the buffers fill, and
/// is unplugged while it is stalled. What the receiver gets, and what is counted.
extension SerialSinkTests {
    /// Commits words until the port takes no more (the pty's buffers are full and words start
    /// to wait in the queue); returns how many were committed.
    func fillUntilStalled(_ sink: inout SerialSink, words: WordFixture) -> Int {
        var committed = 0
        while sink.queuedWords == 0 && committed < 10_000 {
            sink.commit(words.word("stalled\(committed)", segment: committed), now: monotonicNanoseconds())
            _ = sink.service(now: monotonicNanoseconds())
            committed += 1
        }
        return committed
    }

    func testAStalledPortBelowTheBoundLosesNoWordAndKeepsTheOrder() throws {
        let pty = try Pty()
        defer { pty.close() }
        try pointLink(to: pty.slavePath)
        let words = WordFixture()
        var sink = try SerialSink(configuration: configuration(queueWords: 64), runStart: 0, now: monotonicNanoseconds())
        // The receiver reads nothing: first the kernel's buffers fill, then the queue takes words.
        var committed = fillUntilStalled(&sink, words: words)
        XCTAssertEqual(sink.queuedWords, 1)
        for _ in 0..<40 {
            sink.commit(words.word("stalled\(committed)", segment: committed), now: monotonicNanoseconds())
            _ = sink.service(now: monotonicNanoseconds())
            committed += 1
        }
        XCTAssertEqual(sink.queuedWords, 41)
        XCTAssertEqual(sink.wordsDropped, 0)
        XCTAssertTrue(sink.connected, "a stalled port is not an unplugged one")
        // The receiver reads again: every word arrives once, whole, in order.
        let lines = readLines(pty, &sink, count: committed + 1, timeout: 10)
        let wordLines = lines.filter { $0.hasPrefix("W ") }.map { $0.split(separator: " ") }
        XCTAssertEqual(wordLines.map { Int($0[2])! }, Array(0..<committed))
        XCTAssertEqual(wordLines.map { String($0[6]) }, (0..<committed).map { "stalled\($0)" })
        XCTAssertEqual(sink.queuedWords, 0)
        XCTAssertEqual(sink.wordsDelivered, committed)
    }

    func testAPortUnpluggedWhileStalledDeliversTheQueueToTheNextPortInOrder() throws {
        let first = try Pty()
        try pointLink(to: first.slavePath)
        let words = WordFixture()
        var sink = try SerialSink(configuration: configuration(queueWords: 64), runStart: 0, now: monotonicNanoseconds())
        var committed = fillUntilStalled(&sink, words: words)
        for _ in 0..<10 {
            sink.commit(words.word("stalled\(committed)", segment: committed), now: monotonicNanoseconds())
            committed += 1
        }
        // Words the kernel took are in the unplugged adapter's buffer: the sink counted them as
        // written and cannot get them back; the receiver sees the gap in `seq`.
        let writtenToTheOldPort = sink.wordsDelivered
        XCTAssertEqual(sink.queuedWords, 11)
        first.close()
        for _ in 0..<5 {
            sink.commit(words.word("away\(committed)", segment: committed), now: monotonicNanoseconds())
            _ = sink.service(now: monotonicNanoseconds())
            committed += 1
        }
        XCTAssertFalse(sink.connected)
        let second = try Pty()
        defer { second.close() }
        try pointLink(to: second.slavePath)
        let lines = readLines(second, &sink, count: 17)
        XCTAssertEqual(lines.first?.hasPrefix("S "), true, "\(lines.prefix(2))")
        XCTAssertEqual(lines.first?.split(separator: " ")[3], "0", "no word dropped at the bound")
        let sequence = lines.filter { $0.hasPrefix("W ") }.map { Int($0.split(separator: " ")[2])! }
        // The words that waited in the queue (the one cut mid-line included, sent again whole),
        // then those committed while the port was away: in order, none twice.
        XCTAssertEqual(sequence, Array(writtenToTheOldPort..<committed))
        XCTAssertEqual(sink.wordsDropped, 0)
        XCTAssertEqual(sink.queuedWords, 0)
    }
}
