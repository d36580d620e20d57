import AllocationCounter
import DactylModel
import Foundation
import XCTest
@testable import DactylPipeline

/// DESIGN.md: after start-up the frame loop does no heap allocation at all.
///
/// It is a property of the optimised build the board runs: unoptimised code boxes large enum
/// payloads while iterating generic collections (measured: about 10 allocations per frame), so
/// scripts/test.sh runs this test on a release build (`swift test -c release -Xswiftc -enable-testing`).
final class FrameLoopAllocationTests: XCTestCase {
    func testFrameLoopHeadAndDecodingAllocateNothing() throws {
        #if DEBUG
        let optimised = false
        #else
        let optimised = true
        #endif
        try XCTSkipUnless(optimised, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        let folder = GoldenVectorTests.folder
        let model = try Model.load(path: folder.appendingPathComponent("tiny.dmdl").path)
        let clip = try Y4MClip(path: folder.appendingPathComponent("clip420.y4m").path)
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.window = clip.frameCount
        configuration.beamWidth = 4
        let recogniser = try Recogniser(
            model: model, configuration: configuration, crop: CropRect(x: 8, y: 0, width: 48, height: 48),
            frameWidth: clip.width, frameHeight: clip.height)
        let decoder = recogniser.makeDecoder(configuration.decodingMethod)

        // The counter itself works: an Array allocates.
        allocation_counter_start()
        let probe = [Int](repeating: 1, count: Int.random(in: 100...200))
        XCTAssertGreaterThan(allocation_counter_stop(), 0)
        withExtendedLifetime(probe) {}

        for pass in 0..<2 {
            recogniser.reset()
            var cursor = clip.makeFrameCursor()
            allocation_counter_start()
            while let frame = cursor.next() {
                try recogniser.add(frame: frame)
            }
            let result = decoder.decode(logProbs: recogniser.runHead(), frames: recogniser.frames)
            let allocations = allocation_counter_stop()
            XCTAssertEqual(allocations, 0, "pass \(pass): \(allocations) heap allocations in the frame loop")
            XCTAssertEqual(recogniser.frames, clip.frameCount)
            XCTAssertGreaterThan(result.labels.count, 0)
        }
    }

    func testBeamSearchWithLexiconAndLanguageModelAllocatesNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let folder = GoldenVectorTests.folder
        let model = try Model.load(path: folder.appendingPathComponent("tiny.dmdl").path)
        let clip = try Y4MClip(path: folder.appendingPathComponent("clip420.y4m").path)
        let files = try VocabularyFiles(lexiconPath: folder.appendingPathComponent("vocabulary/lexicon.txt").path,
                                        languageModelPath: folder.appendingPathComponent("vocabulary/lm.dclm").path,
                                        alphabet: model.alphabet)
        let recogniser = try Recogniser(model: model, clip: clip, crop: CropRect(x: 8, y: 0, width: 48, height: 48),
                                        method: .beam(width: 4), vocabularyBytes: files.arenaBytes)
        let vocabulary = files.install(into: recogniser.vocabularyMemory!, lmWeight: 0.5, insertionBonus: 1)
        let decoder = recogniser.makeDecoder(.beam(width: 4), vocabulary: vocabulary)
        try recogniser.add(clip: clip)
        let logProbs = recogniser.runHead()
        for pass in 0..<2 {
            allocation_counter_start()
            let result = decoder.decode(logProbs: logProbs, frames: recogniser.frames)
            let allocations = allocation_counter_stop()
            XCTAssertEqual(allocations, 0, "pass \(pass): \(allocations) heap allocations while decoding")
            XCTAssertGreaterThan(result.labels.count, 0)
        }
    }
}
