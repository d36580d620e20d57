import DactylArena
import DactylKernels
import DactylModel
import Foundation
import XCTest
@testable import DactylPipeline

/// The Swift runtime against the numpy reference on the localiser (Tests/golden/localiser, made by
/// make_localiser_golden.py): the whole frame's input tensor, the heat and box maps bit for bit
/// on every kernel path, and the box read by the spec's rule.
final class LocaliserGoldenTests: XCTestCase {
    struct Expected: Decodable {
        struct Clip: Decodable { let file: String; let width, height, frames: Int }
        struct Frame: Decodable {
            let frame: Int
            let input, heat, box: String
            let peak_cell: [Int]
            let peak_q: Int
            let present: Bool
            let centre_x, centre_y, width, height: Double
        }
        let model: String
        let clip: Clip
        let frames: [Frame]
    }

    static let folder = GoldenVectorTests.folder.appendingPathComponent("localiser")

    func bytes(_ name: String) throws -> [Int8] {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent(name))
        return data.map { Int8(bitPattern: $0) }
    }

    func testEveryKernelPathReproducesTheReference() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.folder.appendingPathComponent("expected.json")))
        let model = try Model.load(path: Self.folder.appendingPathComponent(expected.model).path)
        let localiser = try XCTUnwrap(model.localiser)
        let clip = try Y4MClip(path: Self.folder.appendingPathComponent(expected.clip.file).path)
        XCTAssertEqual(clip.frameCount, expected.clip.frames)
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.localiser = true
        var checked = 0
        for path in KernelPath.available(on: .detect()) {
            for threads in path == .scalar ? [1] : [1, 3] {
                let recogniser = try Recogniser(model: model, configuration: configuration,
                                                crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
                                                frameWidth: clip.width, frameHeight: clip.height, kernelPath: path, threads: threads)
                let runner = try XCTUnwrap(recogniser.cropFollower?.localiser)
                let label = "\(path.name), \(threads) threads"
                var cursor = clip.makeFrameCursor()
                for frame in expected.frames {
                    let yuv = try XCTUnwrap(cursor.next())
                    runner.preprocess(yuv)
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: runner.input, count: runner.inputCount)), try bytes(frame.input),
                                   "\(label) frame \(frame.frame): input tensor")
                    runner.run()
                    let cells = localiser.heatShape.elementCount
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: runner.heatMap, count: cells)), try bytes(frame.heat),
                                   "\(label) frame \(frame.frame): heat")
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: runner.boxMap, count: 4 * cells)), try bytes(frame.box),
                                   "\(label) frame \(frame.frame): box")
                    let box = runner.readBox(frameWidth: clip.width, frameHeight: clip.height)
                    XCTAssertEqual([box.row, box.column], frame.peak_cell, label)
                    XCTAssertEqual(Int(runner.heatMap[box.row * localiser.heatShape.width + box.column]), frame.peak_q, label)
                    XCTAssertEqual(box.present, frame.present, label)
                    // expected.json rounds to 4 decimals.
                    XCTAssertEqual(box.centreX, frame.centre_x, accuracy: 1e-3, label)
                    XCTAssertEqual(box.centreY, frame.centre_y, accuracy: 1e-3, label)
                    XCTAssertEqual(box.width, frame.width, accuracy: 1e-3, label)
                    XCTAssertEqual(box.height, frame.height, accuracy: 1e-3, label)
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(checked, expected.frames.count)
    }
}
