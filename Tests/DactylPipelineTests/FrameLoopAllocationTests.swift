import AllocationCounter
import DactylKernels
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
        // The counter itself works: an Array allocates, on this thread and on another.
        allocation_counter_start()
        let probe = [Int](repeating: 1, count: Int.random(in: 100...200))
        XCTAssertGreaterThan(allocation_counter_stop(), 0)
        withExtendedLifetime(probe) {}
        let go = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let other = Thread {
            go.wait()
            withExtendedLifetime([Int](repeating: 2, count: Int.random(in: 100...200))) {}
            done.signal()
        }
        other.start()
        allocation_counter_start_all_threads()
        go.signal()
        done.wait()
        XCTAssertGreaterThan(allocation_counter_stop_all_threads(), 0, "an allocation on another thread is counted")

        // Every kernel path this CPU runs, on one thread and on a pool of three.
        for path in KernelPath.available(on: .detect()) {
            for threads in [1, 3] {
                let recogniser = try Recogniser(
                    model: model, configuration: configuration, crop: CropRect(x: 8, y: 0, width: 48, height: 48),
                    frameWidth: clip.width, frameHeight: clip.height, kernelPath: path, threads: threads)
                try checkNoAllocation(recogniser, clip: clip, method: configuration.decodingMethod, "\(path.name), \(threads) threads")
            }
        }
    }

    func checkNoAllocation(_ recogniser: Recogniser, clip: Y4MClip, method: CTCDecoder.Method, _ label: String) throws {
        let decoder = recogniser.makeDecoder(method)
        for pass in 0..<2 {
            recogniser.reset()
            var cursor = clip.makeFrameCursor()
            allocation_counter_start_all_threads()
            while let frame = cursor.next() {
                try recogniser.add(frame: frame)
            }
            let result = decoder.decode(logProbs: recogniser.runHead(), frames: recogniser.frames)
            let allocations = allocation_counter_stop_all_threads()
            XCTAssertEqual(allocations, 0, "\(label), pass \(pass): \(allocations) heap allocations in the frame loop")
            XCTAssertEqual(recogniser.frames, clip.frameCount)
            XCTAssertGreaterThan(result.labels.count, 0)
        }
    }
}
