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
    /// `camera`, when given, says for each frame of the clip whether the camera delivers it, with
    /// which frame number and when (nil: not delivered); else frame n arrives at n · `frameInterval`.
    func run(_ path: String, window: Int? = nil, stopAfter: Int? = nil, frameInterval: UInt64 = 33_333_333,
             camera: ((Int) -> (number: Int, arrival: UInt64)?)? = nil,
             onFrame: (Int, ContinuousRecogniser, inout RecordingSink) -> Void = { _, _, _ in }) throws -> (RecordingSink, ContinuousRecogniser) {
        let clip = try Y4MClip(path: path)
        let recogniser = try ContinuousRecogniser(
            model: model, window: window ?? model.defaultWindow, method: .greedy,
            crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
            frameWidth: clip.width, frameHeight: clip.height)
        var sink = RecordingSink()
        var cursor = clip.makeFrameCursor()
        var number = 0
        var clock: UInt64 = 1_000_000_000
        while let frame = cursor.next(), number < (stopAfter ?? Int.max) {
            defer { number += 1 }
            if let camera {
                guard let delivered = camera(number) else { continue }
                clock = 1_000_000_000 + delivered.arrival
                recogniser.process(frame, frameNumber: delivered.number, arrival: clock, now: { clock }, sink: &sink)
            } else {
                clock += frameInterval
                recogniser.process(frame, frameNumber: number, arrival: clock, now: { clock }, sink: &sink)
            }
            onFrame(number, recogniser, &sink)
        }
        recogniser.finish(now: { clock }, sink: &sink)
        return (sink, recogniser)
    }

    func testMovingTheSigningZoneBetweenWordsIsNotMotion() throws {
        // SIGHUP moves the crop in the rest between two words: the new framing must not read as a
        // moving hand (it would bridge the rest and join the words), nor raise the noise floor.
        let (path, words) = try session.write([.holdFirst(30), .word, .holdLast(40), .word, .holdFirst(40)])
        let restMiddle = (words[0].upperBound + words[1].lowerBound) / 2
        var motionAfterMove: [Float] = []
        let (sink, _) = try run(path, onFrame: { number, recogniser, _ in
            if number == restMiddle - 4 || number == restMiddle + 4 {
                try! recogniser.setCrop(number < restMiddle ? CropRect(x: 6, y: 6, width: 116, height: 116)
                                                            : CropRect(x: 0, y: 0, width: 128, height: 128))
            } else if number == restMiddle - 3 || number == restMiddle + 5 {
                motionAfterMove.append(recogniser.lastMotion)
            }
        })
        XCTAssertEqual(motionAfterMove, [0, 0])
        XCTAssertEqual(sink.words, ["dragon", "dragon"])
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
        let (sink, _) = try run(path, onFrame: { number, recogniser, sink in
            if number == clearAt { recogniser.clearWord(now: 0, sink: &sink) }
        })
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
        // Every other source frame fills no model frame (resampled away, not even preprocessed);
        // a repeat that does is skipped as the same picture, its model frame filled by the next.
        XCTAssertEqual(recogniser.resampledAway + recogniser.repeatedFrames + recogniser.framesEncoded, 2 * recogniser.framesEncoded)
        XCTAssertEqual(recogniser.framesEncoded, recogniser.encoded)
    }

    func testACameraAtFifteenFramesPerSecondReadsTheSameWords() throws {
        let parts: [SessionClip.Part] = [.holdFirst(20), .word, .holdLast(30), .empty(15), .word, .holdLast(30)]
        let (path, words) = try session.write(parts)
        // Every other frame of the 30 frames/s session, numbered as a 15 frames/s camera numbers them.
        let (sink, recogniser) = try run(path) { index in
            index % 2 == 0 ? (index / 2, UInt64(index / 2) * 66_666_667) : nil
        }
        XCTAssertEqual(sink.words, ["dragon", "dragon"])
        XCTAssertEqual(recogniser.encoded, 2 * recogniser.framesEncoded - 1, "each frame fills two model frames")
        // Frame numbers are the camera's: each word's letters lie inside the word's frames at 15 frames/s.
        for (commit, word) in zip(sink.commits, words) {
            let camera = (word.lowerBound / 2)...(word.upperBound / 2 + 1)
            for letter in commit.letterFrames {
                XCTAssertTrue(camera.contains(letter.lowerBound) && camera.contains(letter.upperBound), "\(letter) outside \(camera)")
            }
        }
    }

    func testACameraWithJitterAndDroppedFramesReadsTheSameWords() throws {
        let parts: [SessionClip.Part] = [.holdFirst(20), .word, .holdLast(30), .empty(15), .word, .holdLast(30)]
        let (path, _) = try session.write(parts)
        var random = SplitMix64(seed: 12)
        let (sink, recogniser) = try run(path) { index in
            // One frame in eight dropped; the rest within ±6 ms of when they were due.
            guard random.next() % 8 != 0 || index == 0 else { return nil }
            let jitter = Int64(random.next() % 12_000_001) - 6_000_000
            return (index, UInt64(Int64(index) * 33_333_333 + jitter + 10_000_000))
        }
        XCTAssertEqual(sink.words, ["dragon", "dragon"])
        XCTAssertGreaterThan(recogniser.encoded, recogniser.framesEncoded, "dropped frames are interpolated")
    }
}
