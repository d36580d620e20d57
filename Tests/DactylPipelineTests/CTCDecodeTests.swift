import Foundation
import DactylTestSupport
import XCTest

@testable import DactylPipeline

/// Log-probabilities `[frames][classes]` from per-frame probabilities.
func logTable(_ probabilities: [[Double]]) -> [Float] {
    probabilities.flatMap { row in row.map { Float(log($0)) } }
}

func greedy(_ table: [Float], classes: Int) -> [Int32] {
    let frames = table.count / classes
    var labels = [Int32](repeating: -1, count: max(frames, 1))
    let count = table.withUnsafeBufferPointer { logProbs in
        labels.withUnsafeMutableBufferPointer { output in
            CTCGreedy.decode(logProbs: logProbs.baseAddress!, frames: frames, classes: classes,
                             into: output.baseAddress!)
        }
    }
    return Array(labels.prefix(count))
}

/// Beam search with a workspace of exactly `workspaceBytes`, followed by a guard zone that the
/// decoder must not touch.
func beam(_ table: [Float], classes: Int, width: Int, file: StaticString = #filePath, line: UInt = #line) -> [Int32] {
    let frames = table.count / classes
    let size = CTCPrefixBeam.workspaceBytes(frames: frames, classes: classes, beamWidth: width)
    let guardBytes = 64
    let workspace = UnsafeMutableRawPointer.allocate(byteCount: size + guardBytes,
                                                     alignment: CTCPrefixBeam.workspaceAlignment)
    defer { workspace.deallocate() }
    (workspace + size).initializeMemory(as: UInt8.self, repeating: 0xA5, count: guardBytes)
    var labels = [Int32](repeating: -1, count: max(frames, 1))
    let count = table.withUnsafeBufferPointer { logProbs in
        labels.withUnsafeMutableBufferPointer { output in
            CTCPrefixBeam.decode(logProbs: logProbs.baseAddress!, frames: frames, classes: classes, beamWidth: width,
                                 workspace: workspace, into: output.baseAddress!)
        }
    }
    let guardZone = UnsafeBufferPointer(start: (workspace + size).assumingMemoryBound(to: UInt8.self), count: guardBytes)
    XCTAssertTrue(guardZone.allSatisfy { $0 == 0xA5 }, "beam search wrote past its workspace", file: file, line: line)
    return Array(labels.prefix(count))
}

func spans(_ table: [Float], classes: Int, labels: [Int32]) -> [CTCLetterSpan]? {
    let frames = table.count / classes
    let size = CTCAlignment.workspaceBytes(frames: frames, labels: labels.count)
    let workspace = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: CTCAlignment.workspaceAlignment)
    defer { workspace.deallocate() }
    var result = [CTCLetterSpan](repeating: CTCLetterSpan(classIndex: 0, startFrame: 0, endFrame: 0, score: 0),
                                 count: labels.count)
    let aligned = table.withUnsafeBufferPointer { logProbs in
        labels.withUnsafeBufferPointer { labelBuffer in
            result.withUnsafeMutableBufferPointer { output in
                CTCAlignment.letterSpans(logProbs: logProbs.baseAddress!, frames: frames, classes: classes,
                                         labels: labelBuffer.baseAddress!, labelCount: labels.count,
                                         workspace: workspace, into: output.baseAddress!)
            }
        }
    }
    return aligned ? result : nil
}

/// Every labelling's total probability, by summing over all classes^frames paths.
func bruteForceLabellings(_ table: [Float], classes: Int) -> [[Int32]: Double] {
    let frames = table.count / classes
    var totals: [[Int32]: Double] = [:]
    var path = [Int](repeating: 0, count: frames)
    while true {
        var probability = 1.0
        var labelling: [Int32] = []
        var previous = -1
        for (frame, c) in path.enumerated() {
            probability *= exp(Double(table[frame * classes + c]))
            if c != 0 && c != previous { labelling.append(Int32(c)) }
            previous = c
        }
        totals[labelling, default: 0] += probability
        // Next path, as a base-`classes` counter.
        var position = 0
        while position < frames && path[position] == classes - 1 {
            path[position] = 0
            position += 1
        }
        if position == frames { return totals }
        path[position] += 1
    }
}

final class CTCDecodeTests: XCTestCase {
    func testGreedyMergesRepeatsDropsBlanksAndBreaksTiesToTheLowestClass() {
        let table = logTable([
            [0.1, 0.8, 0.1], [0.1, 0.7, 0.2],  // a a → a
            [0.6, 0.3, 0.1],                   // blank
            [0.2, 0.6, 0.2],                   // a again after a blank → a second a
            [0.2, 0.4, 0.4],                   // a/b tie → a (lowest), merges with the previous a
            [0.1, 0.1, 0.8],                   // b
            [0.4, 0.2, 0.4],                   // blank/b tie → blank
        ])
        XCTAssertEqual(greedy(table, classes: 3), [1, 1, 2])
        XCTAssertEqual(greedy([], classes: 3), [])
    }

    func testBeamSearchFindsTheMostProbableLabellingOfBruteForceEnumeration() {
        var generator = SplitMix64(seed: 11)
        var checked = 0
        for trial in 0..<200 {
            let classes = Int.random(in: 2...4, using: &generator)
            let frames = Int.random(in: 1...5, using: &generator)
            // Peaked random distributions, so that the answer is not a near tie.
            let table = logTable((0..<frames).map { _ in
                let weights = (0..<classes).map { _ in pow(Double.random(in: 0.01...1, using: &generator), 3) }
                let sum = weights.reduce(0, +)
                return weights.map { $0 / sum }
            })
            let totals = bruteForceLabellings(table, classes: classes).sorted { $0.value > $1.value }
            if totals.count > 1 && totals[0].value - totals[1].value < 1e-4 { continue }
            // 400 beams hold every prefix of 5 frames over 3 letters, so nothing is pruned.
            XCTAssertEqual(beam(table, classes: classes, width: 400), totals[0].key,
                           "trial \(trial): \(frames) frames, \(classes) classes")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 150)
    }

    func testBeamSearchDiffersFromGreedyWhereManyPathsAddUp() {
        // Greedy: blank, blank → "". But P("a") = 0.4·0.4 + 0.4·0.6 + 0.6·0.4 = 0.64 > P("") = 0.36.
        let table = logTable([[0.6, 0.4], [0.6, 0.4]])
        XCTAssertEqual(greedy(table, classes: 2), [])
        XCTAssertEqual(beam(table, classes: 2, width: 4), [1])
    }

    func testBeamWidthOneIsNotGreedy() {
        // Frame 0 keeps only "a" (0.4). Frame 1: "a" = 0.4·(0.3 + 0.3) = 0.24 beats "ab" = 0.4·0.4 = 0.16,
        // while greedy takes a then b.
        let table = logTable([[0.35, 0.4, 0.25], [0.3, 0.3, 0.4]])
        XCTAssertEqual(greedy(table, classes: 3), [1, 2])
        XCTAssertEqual(beam(table, classes: 3, width: 1), [1])
    }

    func testBeamTiesGoToTheEarliestCreatedPrefix() {
        // "a" and "b" both score exactly log 0.4; "a" is created first (lower class).
        XCTAssertEqual(beam(logTable([[0.2, 0.4, 0.4]]), classes: 3, width: 3), [1])
        // All three tie; the blank is visited first, so the empty prefix is created first.
        let third = Float(log(1.0 / 3.0))
        XCTAssertEqual(beam([third, third, third], classes: 3, width: 3), [])
        // With beam width 1 the tie is decided during pruning too: "a" survives, then extends.
        XCTAssertEqual(beam(logTable([[0.2, 0.4, 0.4], [0.1, 0.1, 0.8]]), classes: 3, width: 1), [1, 2])
    }

    func testBeamSearchMergesAnExtensionIntoAnExistingBeam() {
        // After frame 1 both "a" and "ab" are beams; in frame 2 "a" + b must merge with "ab".
        let table = logTable([[0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.45, 0.1, 0.45]])
        let totals = bruteForceLabellings(table, classes: 3).sorted { $0.value > $1.value }
        XCTAssertEqual(beam(table, classes: 3, width: 16), totals[0].key)
    }

    func testBeamSearchOfNoFramesIsEmpty() {
        XCTAssertEqual(beam([], classes: 3, width: 8), [])
    }

    func testLetterSpansOnAHandMadeTable() throws {
        let table = logTable([
            [0.05, 0.9, 0.05],   // a
            [0.1, 0.8, 0.1],     // a
            [0.9, 0.05, 0.05],   // blank
            [0.1, 0.1, 0.8],     // b
            [0.05, 0.05, 0.9],   // b
            [0.9, 0.05, 0.05],   // blank
        ])
        let result = try XCTUnwrap(spans(table, classes: 3, labels: [1, 2]))
        XCTAssertEqual(result.map(\.classIndex), [1, 2])
        XCTAssertEqual(result.map(\.startFrame), [0, 3])
        XCTAssertEqual(result.map(\.endFrame), [1, 4])
        XCTAssertEqual(result[0].score, 0.9, accuracy: 1e-5)
        XCTAssertEqual(result[1].score, 0.9, accuracy: 1e-5)
    }

    func testLetterSpansOfARepeatedLetterAreSeparatedByABlank() throws {
        let table = logTable([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
        let result = try XCTUnwrap(spans(table, classes: 3, labels: [1, 1]))
        XCTAssertEqual(result.map(\.startFrame), [0, 2])
        XCTAssertEqual(result.map(\.endFrame), [0, 2])
        XCTAssertEqual(result[1].score, 0.7, accuracy: 1e-5)
    }

    func testLetterSpanTiesGoToTheLowerState() throws {
        // Uniform: "a" over 2 frames aligns as (a, blank), (blank, a) or (a, a), all equally likely.
        // At the end, the letter state beats the final blank; at frame 1 the leading blank (the lower
        // predecessor) beats staying in the letter: the path is (blank, a).
        let half = Float(log(0.5))
        let result = try XCTUnwrap(spans([half, half, half, half], classes: 2, labels: [1]))
        XCTAssertEqual(result, [CTCLetterSpan(classIndex: 1, startFrame: 1, endFrame: 1, score: result[0].score)])
        XCTAssertEqual(result[0].score, 0.5, accuracy: 1e-6)
    }

    func testLetterSpansReportLabelsThatCannotBeAligned() {
        // "aa" needs a blank between the letters: three frames at least.
        let table = logTable([[0.5, 0.5], [0.5, 0.5]])
        XCTAssertNil(spans(table, classes: 2, labels: [1, 1]))
        XCTAssertNil(spans([], classes: 2, labels: [1]))
        XCTAssertEqual(spans(table, classes: 2, labels: []), [])
    }

    func testLetterSpansOfTheGreedyDecodeCoverItsFrames() throws {
        var generator = SplitMix64(seed: 5)
        for _ in 0..<50 {
            let classes = 5
            let frames = Int.random(in: 1...40, using: &generator)
            let table = logTable((0..<frames).map { _ in
                let weights = (0..<classes).map { _ in Double.random(in: 0.01...1, using: &generator) }
                let sum = weights.reduce(0, +)
                return weights.map { $0 / sum }
            })
            let labels = greedy(table, classes: classes)
            let result = try XCTUnwrap(spans(table, classes: classes, labels: labels))
            var previousEnd: Int32 = -1
            for span in result {
                XCTAssertGreaterThan(span.startFrame, previousEnd)
                XCTAssertLessThanOrEqual(span.startFrame, span.endFrame)
                XCTAssertLessThan(span.endFrame, Int32(frames))
                let best = (span.startFrame...span.endFrame).map { exp(table[Int($0) * classes + Int(span.classIndex)]) }.max()!
                XCTAssertEqual(span.score, best, accuracy: 1e-6)
                previousEnd = span.endFrame
            }
        }
    }
    /// Issue 12 #6: the alignment recomputes blocks from checkpoints with 2-bit back-pointers
    /// instead of keeping a byte per frame and state. It must give exactly the spans of the full
    /// back-pointer table (the earlier implementation, written out here), ties included:
    /// quantised log-probabilities make ties common.
    func testBlockwiseAlignmentEqualsTheFullTable() throws {
        var generator = SplitMix64(seed: 12)
        for trial in 0..<60 {
            let classes = Int.random(in: 2...6, using: &generator)
            let frames = trial < 10 ? trial + 1 : Int.random(in: 1...700, using: &generator)
            var table: [Float] = []
            for _ in 0..<frames * classes {
                // A few distinct values, so that equal scores (ties) occur.
                table.append(-Float(Int.random(in: 0...6, using: &generator)) * 0.5)
            }
            let labels = trial % 2 == 0 ? greedy(table, classes: classes)
                : beam(table, classes: classes, width: 3)
            let expected = fullTableSpans(table, classes: classes, labels: labels)
            let actual = spans(table, classes: classes, labels: labels)
            XCTAssertEqual(actual, expected, "trial \(trial): \(frames) frames, \(labels.count) labels")
        }
    }

    func testAlignmentWorkspaceGrowsFarSlowerThanFramesSquared() {
        let frames = 20_000
        let bytes = CTCAlignment.workspaceBytes(frames: frames, labels: frames)
        XCTAssertLessThan(bytes, 12_000_000, "20,000 frames needed 800 MB with a byte per frame and state")
        XCTAssertEqual(CTCAlignment.workspaceBytes(frames: 1 << 50, labels: 1 << 50), Int.max)
        // Fewer labels never need more than the plan for labels == frames.
        for labels in [0, 1, 100, 19_999] {
            XCTAssertLessThanOrEqual(CTCAlignment.workspaceBytes(frames: frames, labels: labels), bytes)
        }
    }
}

/// The letter spans as the original implementation computed them: every back-pointer kept.
func fullTableSpans(_ table: [Float], classes: Int, labels: [Int32]) -> [CTCLetterSpan]? {
    let frames = table.count / classes
    guard !labels.isEmpty else { return [] }
    guard frames > 0 else { return nil }
    let states = 2 * labels.count + 1
    func stateClass(_ state: Int) -> Int { state & 1 == 0 ? 0 : Int(labels[state >> 1]) }
    var previous = [Float](repeating: -.infinity, count: states)
    var current = previous
    var back = [UInt8](repeating: 0, count: frames * states)
    previous[0] = table[0]
    previous[1] = table[stateClass(1)]
    for frame in 1..<max(frames, 1) {
        for state in 0..<states {
            var best = previous[state]
            var step: UInt8 = 0
            if state >= 1 && previous[state - 1] >= best { best = previous[state - 1]; step = 1 }
            if state & 1 == 1 && state >= 3 && labels[state >> 1] != labels[(state >> 1) - 1] && previous[state - 2] >= best {
                best = previous[state - 2]; step = 2
            }
            current[state] = best + table[frame * classes + stateClass(state)]
            back[frame * states + state] = step
        }
        swap(&previous, &current)
    }
    var state = previous[states - 2] >= previous[states - 1] ? states - 2 : states - 1
    guard previous[state] > -.infinity else { return nil }
    var spans = labels.map { CTCLetterSpan(classIndex: $0, startFrame: -1, endFrame: -1, score: -.infinity) }
    var frame = frames - 1
    while true {
        if state & 1 == 1 {
            let k = state >> 1
            if spans[k].endFrame < 0 { spans[k].endFrame = Int32(frame) }
            spans[k].startFrame = Int32(frame)
            spans[k].score = max(spans[k].score, table[frame * classes + Int(labels[k])])
        }
        if frame == 0 { break }
        state -= Int(back[frame * states + state])
        frame -= 1
    }
    return spans.map { CTCLetterSpan(classIndex: $0.classIndex, startFrame: $0.startFrame, endFrame: $0.endFrame, score: Float(exp(Double($0.score)))) }
}
