import DactylPipeline
import Foundation
import Glibc
import XCTest

/// The stdout sink writing into a pipe; the test parses the JSON lines with Foundation.
final class StdoutSinkTests: XCTestCase {
    var pipeEnds: [Int32] = [-1, -1]

    override func setUp() {
        XCTAssertEqual(pipe(&pipeEnds), 0)
        _ = fcntl(pipeEnds[0], F_SETFL, fcntl(pipeEnds[0], F_GETFL) | O_NONBLOCK)
    }

    override func tearDown() {
        close(pipeEnds[0])
        close(pipeEnds[1])
    }

    func lines() -> [String] {
        String(decoding: readAvailable(pipeEnds[0], timeoutMs: 100), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func objects() throws -> [[String: Any]] {
        try lines().map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try XCTUnwrap(object as? [String: Any], line)
        }
    }

    let alphabet = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t",
                    "u", "v", "w", "x", "y", "z", "\"", "ß"]

    /// CTC class of a letter: 1 + its index in the alphabet (0 is the blank).
    func span(_ letter: String, _ start: Int32, _ end: Int32, _ score: Float) -> CTCLetterSpan {
        CTCLetterSpan(classIndex: Int32(alphabet.firstIndex(of: letter)! + 1), startFrame: start, endFrame: end, score: score)
    }

    func testJSONLinesCarryStatusPartialCommitAndStats() throws {
        let words = WordFixture()
        let start: UInt64 = 1_000_000_000
        var sink = StdoutSink(configuration: StdoutSink.Configuration(format: .jsonLines, fd: pipeEnds[1]),
                              alphabet: alphabet, runStart: start)
        withBytes("camera \"0\"\nback") { sink.status(.idle, message: $0, now: start + 12_000_000) }
        sink.partial(words.word("dra", segment: 3), now: start + 840_400_000)
        let letters = [span("d", 14, 20, 0.9876), span("r", 21, 30, 0.5), span("\"", 31, 35, 0.12345), span("ß", 36, 40, 1)]
        sink.commit(words.word("dr\"ß", segment: 3, piece: 1, letters: letters, startFrame: 12, endFrame: 80,
                               endNanoseconds: start + 2_614_800_000), now: start + 2_710_000_000)
        var counters = RunCounters()
        counters.framesSeen = 300
        counters.framesEncoded = 290
        counters.framesDropped = 10
        counters.wordsCommitted = 1
        sink.stats(counters, wordLatency: LatencySummary(count: 1, medianMilliseconds: 95.2, p90Milliseconds: 95.2),
                   frameLatency: LatencySummary(count: 290, medianMilliseconds: 21.04, p90Milliseconds: 30.5),
                   now: start + 10_000_000_000)
        let parsed = try objects()
        XCTAssertEqual(parsed.count, 4)
        guard parsed.count == 4 else { return }
        XCTAssertEqual(parsed[0] as NSDictionary, ["type": "status", "status": "idle", "message": "camera \"0\"\nback", "t_ms": 12] as NSDictionary)
        XCTAssertEqual(parsed[1] as NSDictionary, ["type": "partial", "segment": 3, "text": "dra", "t_ms": 840] as NSDictionary)
        let commit = parsed[2]
        XCTAssertEqual(commit["type"] as? String, "commit")
        XCTAssertEqual(commit["segment"] as? Int, 3)
        XCTAssertEqual(commit["piece"] as? Int, 1)
        XCTAssertEqual(commit["text"] as? String, "dr\"ß")
        XCTAssertEqual(commit["start_frame"] as? Int, 12)
        XCTAssertEqual(commit["end_frame"] as? Int, 80)
        XCTAssertEqual(commit["t_ms"] as? Int, 2710)
        XCTAssertEqual(try XCTUnwrap(commit["latency_ms"] as? Double), 95.2, accuracy: 1e-9)
        let spans = try XCTUnwrap(commit["letters"] as? [[String: Any]])
        XCTAssertEqual(spans.map { $0["letter"] as? String }, ["d", "r", "\"", "ß"])
        XCTAssertEqual(spans.map { $0["start"] as? Int }, [14, 21, 31, 36])
        XCTAssertEqual(spans.map { $0["end"] as? Int }, [20, 30, 35, 40])
        XCTAssertEqual(spans.map { $0["score"] as? Double }, [0.9876, 0.5, 0.1235, 1])
        let stats = parsed[3]
        XCTAssertEqual(stats["type"] as? String, "stats")
        XCTAssertEqual(stats["frames_seen"] as? Int, 300)
        XCTAssertEqual(stats["frames_encoded"] as? Int, 290)
        XCTAssertEqual(stats["frames_dropped"] as? Int, 10)
        XCTAssertEqual(stats["words_committed"] as? Int, 1)
        XCTAssertEqual(stats["t_ms"] as? Int, 10000)
        XCTAssertEqual((stats["word_latency_ms"] as? NSDictionary), ["count": 1, "median": 95.2, "p90": 95.2] as NSDictionary)
        XCTAssertEqual((stats["frame_latency_ms"] as? NSDictionary), ["count": 290, "median": 21.0, "p90": 30.5] as NSDictionary)
        XCTAssertEqual(sink.linesLost, 0)
    }

    func testTextModePrintsCommittedWordsOnlyAndStatsOnTheOtherDescriptor() throws {
        var statsEnds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&statsEnds), 0)
        defer { close(statsEnds[0]); close(statsEnds[1]) }
        let words = WordFixture()
        var sink = StdoutSink(configuration: StdoutSink.Configuration(format: .text, fd: pipeEnds[1], textStatsFD: statsEnds[1]),
                              alphabet: alphabet, runStart: 0)
        withBytes("") { sink.status(.signing, message: $0, now: 1) }
        sink.partial(words.word("dr"), now: 2)
        sink.commit(words.word("dragon"), now: 3)
        sink.commit(words.word(""), now: 3)
        sink.commit(words.word("fly"), now: 4)
        sink.stats(RunCounters(), wordLatency: LatencySummary(count: 0, medianMilliseconds: .nan, p90Milliseconds: .nan),
                   frameLatency: LatencySummary(count: 0, medianMilliseconds: 0, p90Milliseconds: 0), now: 5)
        XCTAssertEqual(lines(), ["dragon", "fly"])
        let statsLine = String(decoding: readAvailable(statsEnds[0], timeoutMs: 100), as: UTF8.self)
        XCTAssertTrue(statsLine.hasPrefix("stats: frames_seen=0 "), statsLine)
        XCTAssertTrue(statsLine.contains("word_latency_ms.count=0 median=null"), statsLine)
    }

    func testLettersBeyondTheLimitAreCountedNotCut() throws {
        let words = WordFixture()
        var sink = StdoutSink(configuration: StdoutSink.Configuration(format: .jsonLines, fd: pipeEnds[1], maxLetters: 2),
                              alphabet: alphabet, runStart: 0)
        sink.commit(words.word("abc", letters: [span("a", 0, 1, 1), span("b", 2, 3, 1), span("c", 4, 5, 1)]), now: 0)
        let parsed = try objects()
        XCTAssertEqual((parsed.first?["letters"] as? [Any])?.count, 2)
        XCTAssertEqual(parsed.first?["letters_omitted"] as? Int, 1)
    }

    func testPiecesOfALongWordAreJoinedOnOneLine() throws {
        let words = WordFixture()
        var sink = StdoutSink(configuration: StdoutSink.Configuration(format: .text, fd: pipeEnds[1]), alphabet: alphabet, runStart: 0)
        sink.commit(words.word("drag", segment: 3, piece: 0, isFinal: false), now: 1)
        sink.commit(words.word("on", segment: 3, piece: 1, isFinal: true), now: 2)
        sink.commit(words.word("fl", segment: 4, piece: 0, isFinal: false), now: 3)
        sink.commit(words.word("y", segment: 4, piece: 1, isFinal: false), now: 4)
        sink.commit(words.word("", segment: 4, piece: 2, isFinal: true), now: 5)
        XCTAssertEqual(lines(), ["dragon", "fly"])

        var json = StdoutSink(configuration: StdoutSink.Configuration(format: .jsonLines, fd: pipeEnds[1]), alphabet: alphabet, runStart: 0)
        json.commit(words.word("drag", segment: 3, piece: 0, isFinal: false), now: 1)
        json.commit(words.word("on", segment: 3, piece: 1, isFinal: true), now: 2)
        let objects = try objects()
        XCTAssertEqual(objects.map { $0["final"] as? Bool }, [false, true])
        XCTAssertEqual(objects.map { $0["piece"] as? Int }, [0, 1])
    }
}
