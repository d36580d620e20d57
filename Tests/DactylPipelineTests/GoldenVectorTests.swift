import DactylArena
import DactylKernels
import DactylModel
import Foundation
import XCTest
@testable import DactylPipeline

/// The Swift runtime against the numpy int8 reference (Tests/golden, made by make_golden.py):
/// every frame's int8 encoder output bit for bit, the fp32 head within a tolerance, the letters
/// exactly.
final class GoldenVectorTests: XCTestCase {
    struct Expected: Decodable {
        struct Clip: Decodable {
            struct Crop: Decodable { let x, y, width, height: Int }
            struct Span: Decodable { let letter: String; let start, end: Int; let score: Float }
            let name, file: String
            let frames: Int
            let crop: Crop
            let greedy, beam: String
            let greedy_spans: [Span]
        }
        let beam_width: Int
        let clips: [Clip]
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("golden")

    func load() throws -> (Model, Expected) {
        let model = try Model.load(path: Self.folder.appendingPathComponent("tiny.dmdl").path)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.folder.appendingPathComponent("expected.json")))
        return (model, expected)
    }

    func bytes<T>(_ name: String, as type: T.Type) throws -> [T] {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    /// Runs a clip through a recogniser planned with `strategy`; returns (features, log-probs).
    func run(_ clip: Expected.Clip, model: Model, strategy: PlanningStrategy, beamWidth: Int = 0,
             kernelPath: KernelPath? = nil, threads: Int? = nil) throws
        -> (features: [Int8], logProbs: [Float], recogniser: Recogniser) {
        let source = try Y4MClip(path: Self.folder.appendingPathComponent(clip.file).path)
        XCTAssertEqual(source.frameCount, clip.frames)
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.window = source.frameCount
        configuration.strategy = strategy
        configuration.beamWidth = beamWidth
        let recogniser = try Recogniser(
            model: model, configuration: configuration,
            crop: CropRect(x: clip.crop.x, y: clip.crop.y, width: clip.crop.width, height: clip.crop.height),
            frameWidth: source.width, frameHeight: source.height, kernelPath: kernelPath, threads: threads)
        var cursor = source.makeFrameCursor()
        while let frame = cursor.next() { try recogniser.add(frame: frame) }
        var features: [Int8] = []
        for index in 0..<recogniser.frames {
            features += UnsafeBufferPointer(start: recogniser.feature(index), count: model.featureSize)
        }
        let logProbs = Array(UnsafeBufferPointer(start: recogniser.runHead(), count: recogniser.frames * model.numClasses))
        return (features, logProbs, recogniser)
    }

    func letters(_ model: Model, _ labels: UnsafeBufferPointer<Int32>) -> String {
        labels.map { model.alphabet[Int($0) - 1] }.joined()
    }

    func testEncoderOutputsAreBitExactAndLettersMatch() throws {
        let (model, expected) = try load()
        XCTAssertEqual(expected.clips.count, 2)
        var comparedValues = 0
        for clip in expected.clips {
            let expectedFeatures = try bytes("\(clip.name).features.bin", as: Int8.self)
            let expectedLogProbs = try bytes("\(clip.name).logprobs.bin", as: Float.self)
            let (features, logProbs, recogniser) = try run(clip, model: model, strategy: .greedyBySize, beamWidth: expected.beam_width)
            XCTAssertEqual(features.count, clip.frames * model.featureSize)
            XCTAssertEqual(features, expectedFeatures, "\(clip.name): int8 encoder outputs differ from the numpy reference")
            comparedValues += features.count
            // The fp32 head: OpenBLAS and numpy sum in different orders.
            XCTAssertEqual(logProbs.count, expectedLogProbs.count)
            let worst = zip(logProbs, expectedLogProbs).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-4, "\(clip.name): log-probabilities differ by \(worst)")

            let greedy = CTCDecoder(workspace: recogniser.decoderWorkspace, frames: clip.frames, classes: model.numClasses, method: .greedy)
            let result = greedy.decode(logProbs: logProbs, frames: clip.frames)
            XCTAssertEqual(letters(model, result.labels), clip.greedy, clip.name)
            XCTAssertEqual(result.spans.count, clip.greedy_spans.count)
            for (span, expectedSpan) in zip(result.spans, clip.greedy_spans) {
                XCTAssertEqual(model.alphabet[Int(span.classIndex) - 1], expectedSpan.letter)
                XCTAssertEqual(Int(span.startFrame), expectedSpan.start)
                XCTAssertEqual(Int(span.endFrame), expectedSpan.end)
                XCTAssertEqual(span.score, expectedSpan.score, accuracy: 1e-5)
            }
            let beam = CTCDecoder(workspace: recogniser.decoderWorkspace, frames: clip.frames, classes: model.numClasses,
                                  method: .beam(width: expected.beam_width))
            XCTAssertEqual(letters(model, beam.decode(logProbs: logProbs, frames: clip.frames).labels), clip.beam, clip.name)
        }
        print("golden: \(comparedValues) int8 encoder values over \(expected.clips.map(\.frames).reduce(0, +)) frames, all equal")
    }

    /// Every kernel path this CPU runs, on one thread and on three, gives the numpy reference's
    /// encoder outputs bit for bit; the paths it cannot run are named.
    func testEveryKernelPathIsBitExactOnTheGoldenClips() throws {
        let (model, expected) = try load()
        let cpu = CPUFeatures.detect()
        let unchecked = KernelPath.allCases.filter { !$0.isAvailable(on: cpu) }
        if !unchecked.isEmpty { print("golden: not checked on this CPU: " + unchecked.map(\.name).joined(separator: ", ")) }
        for path in KernelPath.available(on: cpu) {
            for threads in [1, 3] {
                for clip in expected.clips {
                    let expectedFeatures = try bytes("\(clip.name).features.bin", as: Int8.self)
                    let (features, _, recogniser) = try run(clip, model: model, strategy: .greedyBySize, kernelPath: path, threads: threads)
                    XCTAssertEqual(recogniser.kernelPath, path)
                    XCTAssertEqual(features, expectedFeatures, "\(clip.name) on \(path.name), \(threads) threads")
                }
            }
        }
    }

    /// A plan that shares memory must give exactly what a plan without sharing gives: any
    /// buffer read after its planned lifetime would show here.
    func testSharedAndUnsharedPlansAgree() throws {
        let (model, expected) = try load()
        for clip in expected.clips {
            let shared = try run(clip, model: model, strategy: .greedyBySize)
            let unshared = try run(clip, model: model, strategy: .linear)
            XCTAssertLessThan(shared.recogniser.layout.plan.arenaBytes, unshared.recogniser.layout.plan.arenaBytes)
            XCTAssertEqual(shared.features, unshared.features)
            XCTAssertEqual(shared.logProbs, unshared.logProbs)
        }
    }

    func testWindowOverflowIsAnErrorNotACrash() throws {
        let (model, expected) = try load()
        let clip = expected.clips[0]
        let source = try Y4MClip(path: Self.folder.appendingPathComponent(clip.file).path)
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.window = 2
        let recogniser = try Recogniser(model: model, configuration: configuration,
                                        crop: CropRect(x: 0, y: 0, width: source.width, height: source.height),
                                        frameWidth: source.width, frameHeight: source.height)
        var cursor = source.makeFrameCursor()
        try recogniser.add(frame: cursor.next()!)
        try recogniser.add(frame: cursor.next()!)
        XCTAssertThrowsError(try recogniser.add(frame: cursor.next()!))
    }

    func testCropOutsideTheFrameIsRejected() throws {
        let (model, expected) = try load()
        let source = try Y4MClip(path: Self.folder.appendingPathComponent(expected.clips[0].file).path)
        XCTAssertThrowsError(try Recogniser(
            model: model, configuration: .modelDefaults(model),
            crop: CropRect(x: source.width - 4, y: 0, width: 8, height: 8),
            frameWidth: source.width, frameHeight: source.height)) { error in
            XCTAssertTrue("\(error)".contains("crop"), "\(error)")
        }
    }
}
