import DactylTestSupport
import DactylModel
import Foundation
import XCTest
@testable import DactylPipeline

/// A sink that keeps everything it is told, for assertions.
struct RecordingSink: BoxSink {
    struct Word: Equatable {
        var text: String
        var segment: Int
        var piece: Int
        var isFinal: Bool
        var startFrame: Int
        var endFrame: Int
        var letterFrames: [ClosedRange<Int>]
    }
    var partials: [String] = []
    var commits: [Word] = []
    var statuses: [BoxStatus] = []
    var requests: [SinkRequest] = []

    mutating func partial(_ word: WordView, now: UInt64) { partials.append(String(decoding: word.text, as: UTF8.self)) }
    mutating func commit(_ word: WordView, now: UInt64) {
        commits.append(Word(text: String(decoding: word.text, as: UTF8.self), segment: word.segment, piece: word.piece,
                            isFinal: word.isFinal, startFrame: word.startFrame, endFrame: word.endFrame,
                            letterFrames: word.letters.map { Int($0.startFrame)...Int($0.endFrame) }))
    }
    mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) { statuses.append(status) }
    mutating func service(now: UInt64) -> SinkRequest? { requests.isEmpty ? nil : requests.removeFirst() }
    mutating func flush(deadline: UInt64) {}

    /// The words as a person reads them: pieces joined.
    var words: [String] {
        var result: [String] = [], current = ""
        for word in commits {
            current += word.text
            if word.isFinal { result.append(current); current = "" }
        }
        return result
    }
}

final class ContinuousRecogniserTests: XCTestCase {
    var model: Model!
    var session: SessionClip!

    override func setUpWithError() throws {
        model = try Model.load(path: SessionClip.modelPath)
        session = try SessionClip()
    }

    /// Runs the clip at `path` through a live recogniser, as `dactyl run --fast` does.
    func run(_ path: String, window: Int? = nil, stopAfter: Int? = nil, frameInterval: UInt64 = 33_333_333,
             onFrame: (Int, ContinuousRecogniser, inout RecordingSink) -> Void = { _, _, _ in }) throws -> (RecordingSink, ContinuousRecogniser) {
        let clip = try Y4MClip(path: path)
        let recogniser = try ContinuousRecogniser(
            model: model, window: window ?? model.defaultWindow, method: .greedy,
            crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
            frameWidth: clip.width, frameHeight: clip.height, framesPerSecond: 1e9 / Double(frameInterval))
        var sink = RecordingSink()
        var cursor = clip.makeFrameCursor()
        var number = 0
        var clock: UInt64 = 1_000_000_000
        while let frame = cursor.next(), number < (stopAfter ?? Int.max) {
            clock += frameInterval
            recogniser.process(frame, frameNumber: number, arrival: clock, now: { clock }, sink: &sink)
            onFrame(number, recogniser, &sink)
            number += 1
        }
        recogniser.finish(now: { clock }, sink: &sink)
        return (sink, recogniser)
    }

    func testWordsSeparatedByStillAndEmptyStretchesAreCommittedOneByOne() throws {
        let (path, words) = try session.write([.holdFirst(30), .word, .holdLast(40), .empty(20), .word, .holdFirst(40)])
        let (sink, _) = try run(path)
        XCTAssertEqual(sink.words, ["dragon", "dragon"])
        XCTAssertEqual(sink.commits.map(\.segment), [0, 1])
        XCTAssertEqual(sink.statuses, [.handSeen, .signing, .idle, .handSeen, .signing, .idle])
        for (commit, word) in zip(sink.commits, words) {
            // Each segment covers its word (a few frames of pre-roll and hand movement aside), and
            // every letter lies inside it.
            XCTAssertLessThanOrEqual(commit.startFrame, word.lowerBound + 2)
            XCTAssertGreaterThanOrEqual(commit.startFrame, word.lowerBound - 12)
            XCTAssertLessThanOrEqual(commit.endFrame, word.upperBound + 2)
            for letter in commit.letterFrames { XCTAssertTrue(word.contains(letter.lowerBound) && word.contains(letter.upperBound)) }
        }
        // Partials are published while signing; the last one before each commit is its word or close to it.
        XCTAssertGreaterThanOrEqual(sink.partials.count, 4)
        XCTAssertTrue(sink.partials.contains { "dragon".hasPrefix($0) && $0.count >= 3 })
    }

    func testNothingHappensWhileTheZoneIsStillOrEmpty() throws {
        let (path, _) = try session.write([.holdFirst(50), .empty(50), .holdLast(50)])
        let (sink, recogniser) = try run(path)
        // The cut from a hand to an empty zone is one moving frame, fewer than a start needs.
        XCTAssertEqual(sink.commits, [])
        XCTAssertEqual(sink.partials, [])
        XCTAssertEqual(sink.statuses, [])
        XCTAssertEqual(recogniser.encoded, 150)
    }

    func testASegmentLongerThanTheWindowIsCommittedInPiecesWithoutLosingLetters() throws {
        let (path, _) = try session.write([.holdFirst(20), .word, .holdLast(30)])
        for window in [32, 48] {
            let (sink, _) = try run(path, window: window)
            XCTAssertEqual(sink.words, ["dragon"], "window \(window)")
            XCTAssertGreaterThan(sink.commits.count, 1, "window \(window): expected pieces")
            XCTAssertEqual(sink.commits.map(\.piece), Array(0..<sink.commits.count), "window \(window)")
            XCTAssertEqual(sink.commits.map(\.isFinal), Array(repeating: false, count: sink.commits.count - 1) + [true])
        }
    }

    func testFinishCommitsTheWordBeingSigned() throws {
        let (path, words) = try session.write([.holdFirst(20), .word, .holdLast(30)])
        // Stopped (SIGTERM) two thirds into the word: what was signed so far is committed.
        let (sink, _) = try run(path, stopAfter: words[0].lowerBound + 50)
        XCTAssertEqual(sink.commits.count, 1)
        XCTAssertTrue(sink.commits[0].text.hasPrefix("dra"), sink.commits[0].text)
        XCTAssertEqual(sink.statuses.last, .idle)
    }

    func testClearingForgetsTheWordAndRepeatSendsTheLastOneAgain() throws {
        let (path, words) = try session.write([.holdFirst(20), .word, .holdLast(30), .empty(10), .word, .holdLast(30)])
        let clearAt = words[1].lowerBound + 30
        let (sink, _) = try run(path) { number, recogniser, sink in
            if number == clearAt { recogniser.clearWord(now: 0, sink: &sink) }
        }
        // The second word was cleared while being signed; what follows the clear (its tail) may
        // open a new segment, but "dragon" is committed once only.
        XCTAssertEqual(sink.words.first, "dragon")
        XCTAssertEqual(sink.words.filter { $0 == "dragon" }.count, 1, "\(sink.words)")
        XCTAssertTrue(sink.partials.contains(""), "the clear publishes an empty partial")

        let (_, recogniser) = try run(path)
        var repeated = RecordingSink()
        XCTAssertTrue(recogniser.repeatLastWord(now: 0, sink: &repeated))
        XCTAssertEqual(repeated.words, ["dragon"])
    }

    func testACameraThatRepeatsEachPictureReadsTheSameWords() throws {
        // vivid at 60 Hz over 30 fps content, or a camera that repeats frames: the repeats are
        // skipped, so the model sees the signing at its own pace.
        let parts: [SessionClip.Part] = [.holdFirst(20), .word, .holdLast(30), .empty(15), .word, .holdLast(30)]
        let (path, _) = try session.write(parts)
        let (twice, _) = try session.write(parts, repeats: 2)
        let (once, _) = try run(path)
        let (repeated, recogniser) = try run(twice, frameInterval: 16_666_667)
        XCTAssertEqual(once.words, ["dragon", "dragon"])
        XCTAssertEqual(repeated.words, once.words)
        XCTAssertEqual(recogniser.repeatedFrames, recogniser.encoded)
    }
}
