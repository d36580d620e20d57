import Foundation
import XCTest
import DactylModel
@testable import DactylPipeline

/// The Swift resampler against the Python reference's golden vectors (Tests/golden/resample/),
/// bit for bit, and its behaviour at the rates cameras deliver.
final class FrameRateResamplerTests: XCTestCase {
    struct Case {
        let name: String
        let rate: FrameRate
        let times: [Int64]
        let features: [[Int8]]
        let ticks: [[Int]]
        let resampled: [[Int8]]
    }

    static func cases() throws -> [Case] {
        let url = GoldenVectorTests.folder.appendingPathComponent("resample/cases.json")
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        return try cases.map { entry in
            let rate = try XCTUnwrap(entry["model_rate"] as? [Int])
            func int8Rows(_ key: String) throws -> [[Int8]] {
                try XCTUnwrap(entry[key] as? [[Int]]).map { $0.map { Int8($0) } }
            }
            return Case(name: try XCTUnwrap(entry["name"] as? String),
                        rate: try XCTUnwrap(FrameRate(numerator: rate[0], denominator: rate[1])),
                        times: try XCTUnwrap(entry["times_ns"] as? [NSNumber]).map { $0.int64Value },
                        features: try int8Rows("features"), ticks: try XCTUnwrap(entry["ticks"] as? [[Int]]),
                        resampled: try int8Rows("resampled"))
        }
    }

    func testMatchesThePythonReferenceBitForBit() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for golden in cases {
            var resampler = FrameRateResampler(rate: golden.rate)
            var ticks: [[Int]] = []
            var resampled: [[Int8]] = []
            var previousFrame = -1
            for (frame, time) in golden.times.enumerated() {
                let step = resampler.step(time: time)
                for index in 0..<step.ticks {
                    let previous = step.restarted ? frame : previousFrame
                    let weight = step.weight(ofTick: index)
                    ticks.append([frame, previous, weight])
                    var out = [Int8](repeating: 0, count: golden.features[frame].count)
                    golden.features[previous].withUnsafeBufferPointer { p in
                        golden.features[frame].withUnsafeBufferPointer { c in
                            out.withUnsafeMutableBufferPointer { o in
                                interpolateFeatures(p.baseAddress!, c.baseAddress!, weight: weight, count: o.count, into: o.baseAddress!)
                            }
                        }
                    }
                    resampled.append(out)
                }
                if step.ticks > 0 { previousFrame = frame }
            }
            XCTAssertEqual(ticks, golden.ticks, golden.name)
            XCTAssertEqual(resampled, golden.resampled, golden.name)
        }
    }

    /// Encoded frames and model frames per second of source at the rates cameras deliver.
    func testWorkFollowsTheModelRate() throws {
        let model = FrameRate.assumedWithoutRATE
        for (fps, ticks, encoded) in [(15, 59, 30), (20, 59, 40), (25, 60, 50), (30, 60, 60), (50, 60, 60), (60, 60, 60)] {
            let source = try XCTUnwrap(FrameRate(numerator: fps, denominator: 1))
            var resampler = FrameRateResampler(rate: model)
            var filled = 0, encodedFrames = 0
            // Two seconds of source.
            for frame in 0..<(2 * fps) {
                let step = resampler.step(time: FrameRateResampler.sourceTime(frame: frame, rate: source))
                filled += step.ticks
                encodedFrames += step.ticks > 0 ? 1 : 0
            }
            XCTAssertEqual(filled, ticks, "\(fps) frames/s: model frames in two seconds")
            XCTAssertEqual(encodedFrames, min(encoded, 60), "\(fps) frames/s: frames encoded")
            XCTAssertEqual(FrameRateResampler.ticks(frames: 2 * fps, sourceRate: source, modelRate: model), filled)
        }
    }

    func testAGapLongerThanAQuarterSecondRestartsTheGrid() {
        var resampler = FrameRateResampler(rate: FrameRate.assumedWithoutRATE)
        XCTAssertEqual(resampler.step(time: 1_000).ticks, 1)
        XCTAssertEqual(resampler.step(time: 1_000 + 33_333_333).ticks, 1)
        let afterStall = resampler.step(time: 1_000 + 33_333_333 + 250_000_001)
        XCTAssertTrue(afterStall.restarted)
        XCTAssertEqual(afterStall.ticks, 1, "nothing interpolated across a stall")
        let within = resampler.step(time: 1_000 + 33_333_333 + 250_000_001 + 200_000_000)
        XCTAssertFalse(within.restarted)
        XCTAssertEqual(within.ticks, 6, "a 200 ms gap is interpolated: six model frames")
        XCTAssertEqual((0..<6).map { within.weight(ofTick: $0) }, [43, 85, 128, 171, 213, 256])
    }

    func testAFrameALittleEarlyStillFillsItsTick() {
        var resampler = FrameRateResampler(rate: FrameRate.assumedWithoutRATE)
        _ = resampler.step(time: 0)
        let early = resampler.step(time: 33_333_333 - 8_000_000)  // within a quarter period
        XCTAssertEqual(early.ticks, 1)
        XCTAssertEqual(early.weight(ofTick: 0), 256)
        XCTAssertEqual(resampler.step(time: 2 * 33_333_333 - 9_000_000).ticks, 0, "more than a quarter period early: waits")
    }
}
