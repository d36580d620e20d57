import DactylModel
import Foundation
import XCTest

@testable import DactylPipeline

/// The preprocessing and the CTC decoders on their own against the Python reference's golden
/// vectors (Tests/golden, written by make_golden.py): frame 0's int8 input tensor byte for
/// byte, and the letters and letter spans decoded from the reference's own log-probabilities
/// (so that a difference in the fp32 head cannot hide or cause a decoder difference).
final class PreprocessDecodeGoldenTests: XCTestCase {
    private struct Expected: Decodable {
        struct ModelEntry: Decodable {
            let file: String
            let defaultCropThousandths: [Int]
        }

        struct Clip: Decodable {
            struct Crop: Decodable {
                let x: Int
                let y: Int
                let width: Int
                let height: Int
            }

            struct Tensor: Decodable {
                let file: String
                let shape: [Int]
            }

            struct Span: Decodable {
                let letter: String
                let start: Int
                let end: Int
                let score: Float
            }

            let name: String
            let file: String
            let frames: Int
            let width: Int
            let height: Int
            let colourSpace: String
            let fullRange: Bool
            let cropSource: String
            let crop: Crop
            let input0: Tensor
            let logprobs: Tensor
            let greedy: String
            let beam: String
            let greedySpans: [Span]
        }

        let model: ModelEntry
        let beamWidth: Int
        let clips: [Clip]
    }

    private static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("golden")

    private func path(_ file: String) -> String { Self.directory.appendingPathComponent(file).path }

    private func load() throws -> (Expected, Model) {
        let url = Self.directory.appendingPathComponent("expected.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("no golden vectors at \(url.path); run Tests/golden/make_golden.py")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let expected = try decoder.decode(Expected.self, from: Data(contentsOf: url))
        return (expected, try Model.load(path: path(expected.model.file)))
    }

    func testFrameZeroInputTensorIsBitExact() throws {
        let (expected, model) = try load()
        for entry in expected.clips {
            let clip = try Y4MClip(path: path(entry.file))
            XCTAssertEqual(clip.width, entry.width, entry.name)
            XCTAssertEqual(clip.height, entry.height, entry.name)
            XCTAssertEqual(clip.frameCount, entry.frames, entry.name)
            XCTAssertEqual(clip.chroma, entry.colourSpace == "C444" ? .yuv444 : .yuv420, entry.name)
            XCTAssertEqual(clip.colorRange, entry.fullRange ? .full : .limited, entry.name)

            let crop = CropRect(x: entry.crop.x, y: entry.crop.y, width: entry.crop.width, height: entry.crop.height)
            if entry.cropSource == "model default" {
                let thousandths = expected.model.defaultCropThousandths
                let resolved = CropRect.fromThousandths(x: thousandths[0], y: thousandths[1], width: thousandths[2],
                                                        height: thousandths[3], frameWidth: clip.width,
                                                        frameHeight: clip.height)
                XCTAssertEqual(resolved, crop, entry.name)
            }

            let shape = entry.input0.shape
            XCTAssertEqual(shape.count, 3, entry.name)
            XCTAssertEqual(shape[2], 3, entry.name)
            let workspace = UnsafeMutableRawPointer.allocate(
                byteCount: FrameToInput.workspaceBytes(outputHeight: shape[0], outputWidth: shape[1]),
                alignment: FrameToInput.workspaceAlignment)
            defer { workspace.deallocate() }
            let converter = try FrameToInput(crop: crop, frameWidth: clip.width, frameHeight: clip.height,
                                             outputHeight: shape[0], outputWidth: shape[1], workspace: workspace)
            var input = [Int8](repeating: 0, count: shape[0] * shape[1] * shape[2])
            let frame0 = try clip.frame(at: 0)
            input.withUnsafeMutableBufferPointer { output in
                converter.write(frame0, inputLUT: model.inputLUT, into: output.baseAddress!)
            }
            let reference = try Data(contentsOf: URL(fileURLWithPath: path(entry.input0.file)))
                .map { Int8(bitPattern: $0) }
            guard input.count == reference.count else {
                XCTFail("\(entry.name): \(reference.count) reference bytes, expected \(input.count)")
                continue
            }
            let firstMismatch = input.indices.first { input[$0] != reference[$0] }
            XCTAssertNil(firstMismatch, "\(entry.name): the input tensor differs from the reference at "
                         + "byte \(firstMismatch ?? -1)")
        }
    }

    func testDecodingReferenceLogProbabilitiesGivesReferenceLetters() throws {
        let (expected, model) = try load()
        XCTAssertEqual(model.alphabet.joined(), "abcdefghijklmnopqrstuvwxyz '&.@")
        func letters(_ labels: [Int32]) -> String { labels.map { model.alphabet[Int($0) - 1] }.joined() }

        for entry in expected.clips {
            let classes = entry.logprobs.shape[1]
            XCTAssertEqual(classes, model.numClasses, entry.name)
            let data = try Data(contentsOf: URL(fileURLWithPath: path(entry.logprobs.file)))
            XCTAssertEqual(data.count, entry.logprobs.shape[0] * classes * 4, entry.name)
            let table: [Float] = data.withUnsafeBytes { bytes in
                stride(from: 0, to: bytes.count, by: 4).map { offset in
                    Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                }
            }

            let greedyLabels = greedy(table, classes: classes)
            XCTAssertEqual(letters(greedyLabels), entry.greedy, "\(entry.name) greedy")
            XCTAssertEqual(letters(beam(table, classes: classes, width: expected.beamWidth)), entry.beam,
                           "\(entry.name) beam")

            let result = try XCTUnwrap(spans(table, classes: classes, labels: greedyLabels), entry.name)
            XCTAssertEqual(result.count, entry.greedySpans.count, entry.name)
            for (span, reference) in zip(result, entry.greedySpans) {
                let what = "\(entry.name) \(reference.letter)"
                XCTAssertEqual(letters([span.classIndex]), reference.letter, what)
                XCTAssertEqual(Int(span.startFrame), reference.start, what)
                XCTAssertEqual(Int(span.endFrame), reference.end, what)
                // The reference rounds scores to 6 decimals.
                XCTAssertEqual(span.score, reference.score, accuracy: 1e-5, what)
            }
        }
    }
}
