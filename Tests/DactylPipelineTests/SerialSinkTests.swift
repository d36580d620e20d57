import CDactylPlatform
import DactylPipeline
import Foundation
import Glibc
import XCTest

/// The serial sink against real pseudo-terminals: the sink opens the slave side through a
/// symlink (as /dev/serial/by-id names a USB adapter), the test reads the master side.
final class SerialSinkTests: XCTestCase {
    /// One pseudo-terminal pair; `slavePath` is what the symlink points to.
    struct Pty {
        var master: Int32
        var slave: Int32
        var slavePath: String

        init() throws {
            var master: Int32 = -1, slave: Int32 = -1
            var name = [CChar](repeating: 0, count: 128)
            guard openpty(&master, &slave, &name, nil, nil) == 0 else {
                throw XCTSkip("openpty failed: \(String(cString: strerror(errno)))")
            }
            _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
            self.master = master
            self.slave = slave
            slavePath = String(cString: name)
        }

        /// The far side goes away (the adapter is unplugged).
        func close() {
            Glibc.close(slave)
            Glibc.close(master)
        }
    }

    var folder: URL!
    var link: String { folder.appendingPathComponent("serial-by-id").path }

    override func setUp() { folder = temporaryFolder("serial") }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Points the symlink at `target` atomically (a new link renamed over the old one).
    func pointLink(to target: String) throws {
        let temporary = link + ".new"
        unlink(temporary)
        XCTAssertEqual(symlink(target, temporary), 0)
        XCTAssertEqual(rename(temporary, link), 0)
    }

    /// Reads lines from the master while calling the sink's `service`, until `count` lines
    /// came or `timeout` seconds passed. What it reads has left the simulated output queue
    /// (dactyl_serial_sim_received; nothing when the simulation is off).
    func readLines(_ pty: Pty, _ sink: inout SerialSink, count: Int, timeout: Double = 5) -> [String] {
        var bytes: [UInt8] = []
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            _ = sink.service(now: monotonicNanoseconds())
            let received = readAvailable(pty.master, timeoutMs: 5)
            dactyl_serial_sim_received(UInt64(received.count))
            bytes += received
            if bytes.filter({ $0 == UInt8(ascii: "\n") }).count >= count { break }
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    func configuration(queueWords: Int = 64) -> SerialSink.Configuration {
        SerialSink.Configuration(path: link, baud: 115_200, queueWords: queueWords,
                                 retryMinimum: 5_000_000, retryMaximum: 20_000_000)
    }

    func testTaggedLinesStatusPartialAndWordsInOrder() throws {
        let pty = try Pty()
        defer { pty.close() }
        try pointLink(to: pty.slavePath)
        let words = WordFixture()
        let start = monotonicNanoseconds()
        var sink = try SerialSink(configuration: configuration(), runStart: start, now: start)
        XCTAssertTrue(sink.connected, "\(String(describing: sink.portError))")
        withBytes("camera ready") { sink.status(.idle, message: $0, now: start + 12_000_000) }
        sink.partial(words.word("dra", segment: 0), now: start + 840_000_000)
        sink.commit(words.word("dragon", segment: 0), now: start + 2_710_000_000)
        sink.commit(words.word("fly", segment: 1, piece: 0), now: start + 4_000_000_000)
        let lines = readLines(pty, &sink, count: 5)
        // At open the sink announces its state (starting), then the status, partial, words.
        XCTAssertEqual(lines, ["S 0 starting 0 ", "S 12 idle 0 camera ready", "P 840 0 dra",
                               "W 2710 0 0 0 1 dragon", "W 4000 1 1 0 1 fly"])
        XCTAssertEqual(sink.wordsDelivered, 2)
    }

    func testAPartialNotYetSentIsSupersededByTheCommit() throws {
        let pty = try Pty()
        defer { pty.close() }
        try pointLink(to: pty.slavePath)
        let words = WordFixture()
        var sink = try SerialSink(configuration: configuration(), runStart: 0, now: 0)
        // Fill nothing yet: the port is fast, so stall it by closing the far side first.
        pty.close()
        sink.partial(words.word("dra"), now: 1_000_000)
        sink.partial(words.word("drag"), now: 2_000_000)
        sink.commit(words.word("dragon"), now: 3_000_000)
        sink.partial(words.word("fl", segment: 1), now: 4_000_000)
        sink.partial(words.word("fly", segment: 1), now: 5_000_000)
        let pty2 = try Pty()
        defer { pty2.close() }
        try pointLink(to: pty2.slavePath)
        let lines = readLines(pty2, &sink, count: 3)
        XCTAssertEqual(lines.map { $0.split(separator: " ").first.map(String.init) ?? "" }, ["S", "W", "P"])
        XCTAssertEqual(lines.dropFirst().map { $0.split(separator: " ").last.map(String.init) ?? "" }, ["dragon", "fly"])
    }

    func testUnpluggedPortQueuesWordsAndDeliversThemInOrderWhenItReturns() throws {
        let first = try Pty()
        try pointLink(to: first.slavePath)
        let words = WordFixture()
        var sink = try SerialSink(configuration: configuration(), runStart: 0, now: monotonicNanoseconds())
        sink.commit(words.word("one"), now: monotonicNanoseconds())
        let before = readLines(first, &sink, count: 2)
        XCTAssertEqual(before.count, 2)
        XCTAssertEqual(before.last?.hasPrefix("W "), true)
        XCTAssertEqual(before.last?.hasSuffix(" 0 0 0 1 one"), true, "\(before)")
        // Unplugged: the far side closes and its device node goes away.
        first.close()
        let later = ["two", "three", "four", "five"]
        for (index, text) in later.enumerated() {
            sink.commit(words.word(text, segment: index + 1), now: monotonicNanoseconds())
            _ = sink.service(now: monotonicNanoseconds())
        }
        XCTAssertFalse(sink.connected)
        XCTAssertNotNil(sink.portError)
        XCTAssertEqual(sink.queuedWords + (sink.wordsDelivered - 1), later.count)
        // Back: a new device behind the same by-id name.
        let second = try Pty()
        defer { second.close() }
        try pointLink(to: second.slavePath)
        let lines = readLines(second, &sink, count: 5)
        XCTAssertTrue(sink.connected)
        XCTAssertEqual(sink.reopens, 1)
        XCTAssertEqual(lines.first?.hasPrefix("S "), true)
        let delivered = lines.filter { $0.hasPrefix("W ") }.map { $0.split(separator: " ") }
        XCTAssertEqual(delivered.map { String($0[6]) }, later)
        XCTAssertEqual(delivered.map { Int($0[2])! }, [1, 2, 3, 4])
        XCTAssertEqual(sink.wordsDelivered, 5)
        XCTAssertEqual(sink.wordsDropped, 0)
    }

    func testAtTheBoundTheOldestWordsAreDroppedAndCounted() throws {
        let first = try Pty()
        try pointLink(to: first.slavePath)
        let words = WordFixture()
        var sink = try SerialSink(configuration: configuration(queueWords: 4), runStart: 0, now: monotonicNanoseconds())
        XCTAssertEqual(readLines(first, &sink, count: 1).count, 1)
        first.close()
        let texts = (0..<10).map { "word\($0)" }
        for text in texts {
            sink.commit(words.word(text), now: monotonicNanoseconds())
            _ = sink.service(now: monotonicNanoseconds())
        }
        XCTAssertEqual(sink.queuedWords, 4)
        XCTAssertEqual(sink.wordsDropped, 6)
        let second = try Pty()
        defer { second.close() }
        try pointLink(to: second.slavePath)
        let lines = readLines(second, &sink, count: 5)
        XCTAssertEqual(lines.count, 5, "\(lines)")
        // The status line carries the drop count; the words keep their sequence numbers, so the
        // receiver sees the gap (0...5 dropped).
        XCTAssertEqual(lines.first?.split(separator: " ").dropFirst(2).first.map(String.init), "starting", "\(lines)")
        XCTAssertEqual(lines.first?.split(separator: " ").dropFirst(3).first.map(String.init), "6", "\(lines)")
        let delivered = lines.dropFirst().map { $0.split(separator: " ") }
        XCTAssertEqual(delivered.map { $0.count }, [7, 7, 7, 7])
        guard delivered.allSatisfy({ $0.count == 7 }) else { return }
        XCTAssertEqual(delivered.map { Int($0[2])! }, [6, 7, 8, 9])
        XCTAssertEqual(delivered.map { String($0[6]) }, Array(texts.suffix(4)))
    }

    func testAStalledPortNeverBlocksAndLinesStayWhole() throws {
        let pty = try Pty()
        defer { pty.close() }
        try pointLink(to: pty.slavePath)
        let words = WordFixture()
        var sink = try SerialSink(configuration: configuration(queueWords: 64), runStart: 0, now: monotonicNanoseconds())
        // Nobody reads the master: the pty's buffer fills and writes return EAGAIN.
        let long = String(repeating: "x", count: 60)
        var slowest: UInt64 = 0
        let committed = 3000
        for index in 0..<committed {
            let before = monotonicNanoseconds()
            sink.commit(words.word("\(index)\(long)".prefix(64).description), now: before)
            _ = sink.service(now: before)
            slowest = max(slowest, monotonicNanoseconds() - before)
        }
        XCTAssertLessThan(slowest, 500_000_000, "a blocking write would hang here; a commit or service call took \(slowest / 1_000_000) ms")
        XCTAssertGreaterThan(sink.wordsDropped, 0, "the pty buffer should have filled")
        XCTAssertTrue(sink.connected)
        // Now the far side reads: everything still queued arrives, whole and in order.
        let lines = readLines(pty, &sink, count: committed - sink.wordsDropped + 1, timeout: 20)
        let wordLines = lines.filter { $0.hasPrefix("W ") }
        XCTAssertEqual(wordLines.count, committed - sink.wordsDropped)
        let sequence = wordLines.map { Int($0.split(separator: " ")[2])! }
        XCTAssertEqual(sequence, sequence.sorted())
        XCTAssertEqual(sequence.last, committed - 1)
        for line in wordLines {
            let fields = line.split(separator: " ")
            XCTAssertEqual(fields.count, 7, line)
            XCTAssertEqual(fields[6], Substring("\(fields[2])\(long)".prefix(64)), line)
        }
        XCTAssertEqual(sink.queuedWords, 0)
        XCTAssertEqual(sink.wordsDelivered + sink.wordsDropped, committed)
    }

    func testPlainTextModeSendsWordsAndTheSeparatorOnly() throws {
        let pty = try Pty()
        defer { pty.close() }
        try pointLink(to: pty.slavePath)
        let words = WordFixture()
        var plain = configuration()
        plain.mode = .plainText
        plain.separator = .space
        var sink = try SerialSink(configuration: plain, runStart: 0, now: 0)
        withBytes("") { sink.status(.signing, message: $0, now: 1) }
        sink.partial(words.word("he"), now: 2)
        sink.commit(words.word("hello"), now: 3)
        sink.commit(words.word(""), now: 3)
        sink.commit(words.word("world"), now: 4)
        // A word committed in pieces is sent joined, with one separator after its last piece.
        sink.commit(words.word("fing", segment: 5, piece: 0, isFinal: false), now: 5)
        sink.commit(words.word("ers", segment: 5, piece: 1, isFinal: false), now: 6)
        sink.commit(words.word("", segment: 5, piece: 2, isFinal: true), now: 7)
        sink.flush(deadline: monotonicNanoseconds() + 1_000_000_000)
        let bytes = readAvailable(pty.master, timeoutMs: 1000)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "hello world fingers ")
    }

    func testAnUnsupportedBaudIsAClearError() {
        var bad = configuration()
        bad.baud = 12345
        XCTAssertThrowsError(try SerialSink(configuration: bad, runStart: 0, now: 0)) { error in
            XCTAssertTrue("\(error)".contains("baud is \"12345\""), "\(error)")
        }
    }

    func testAMissingPortAtStartUpIsReportedAndRetried() throws {
        let words = WordFixture()
        var sink = try SerialSink(configuration: configuration(), runStart: 0, now: monotonicNanoseconds())
        XCTAssertFalse(sink.connected)
        XCTAssertTrue("\(sink.portError!)".hasPrefix(link + ": cannot open"), "\(sink.portError!)")
        sink.commit(words.word("early"), now: monotonicNanoseconds())
        let pty = try Pty()
        defer { pty.close() }
        try pointLink(to: pty.slavePath)
        let lines = readLines(pty, &sink, count: 2)
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines.last?.hasSuffix(" 0 0 0 1 early"), true, "\(lines)")
    }
}
