import Foundation
import XCTest

@testable import DactylPipeline

/// The board's Y4M reader gives, on every file in Tests/y4m-cases/cases, the verdict the Python
/// reader gives (Tests/y4m-cases/verdicts.txt, written by make_cases.py with the Python reader;
/// quantization/tests/test_y4m_agreement.py keeps that file current). Header edge cases: unknown
/// and X tags, interlacing, A and F values, C variants, sizes, FRAME parameters, truncation.
final class Y4MAgreementTests: XCTestCase {
    private let casesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("y4m-cases")

    func testTheBoardReadsEveryCaseAsThePythonReaderDoes() throws {
        let verdicts = try String(contentsOf: casesFolder.appendingPathComponent("verdicts.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        XCTAssertGreaterThan(verdicts.count, 40)
        for expected in verdicts {
            let name = String(expected.split(separator: " ")[0])
            let path = casesFolder.appendingPathComponent("cases/\(name).y4m").path
            XCTAssertEqual(verdict(name: name, path: path), expected, "\(path)")
        }
    }

    /// The verdicts.txt line for the file at `path` (see make_cases.py for the format).
    private func verdict(name: String, path: String) -> String {
        let clip: Y4MClip
        do {
            clip = try Y4MClip(path: path)
        } catch {
            return "\(name) error \(offset(of: error))"
        }
        var digest: UInt32 = 0x811C_9DC5
        var cursor = clip.makeFrameCursor()
        var frames = 0
        while let frame = cursor.next() {
            let chromaWidth = frame.chroma.chromaWidth(forWidth: frame.width)
            let chromaHeight = frame.chroma.chromaHeight(forHeight: frame.height)
            digest = fnv1a(frame.y, count: frame.yStride * frame.height, digest)
            digest = fnv1a(frame.u, count: frame.uvStride * chromaHeight, digest)
            digest = fnv1a(frame.v, count: frame.uvStride * chromaHeight, digest)
            XCTAssertEqual(frame.uvStride, chromaWidth, "\(path): planes are packed")
            frames += 1
        }
        if let error = cursor.error { return "\(name) error \(offset(of: error))" }
        let chroma = clip.chroma == .yuv420 ? "420" : clip.chroma == .yuv422 ? "422" : "444"
        let range = clip.colorRange == .full ? "full" : "limited"
        let rate = clip.frameRate.map { "\($0.numerator):\($0.denominator)" } ?? "-"
        let hash = String(digest, radix: 16)
        return "\(name) ok \(clip.width) \(clip.height) \(chroma) \(range) \(rate) \(frames) "
            + String(repeating: "0", count: 8 - hash.count) + hash
    }

    private func offset(of error: ClipError) -> Int {
        switch error {
        case .notY4M, .unterminatedHeader, .missingParameter:
            return 0
        case .badParameter(_, let offset, _, _), .unsupportedChroma(_, let offset, _),
             .unsupportedInterlacing(_, let offset, _), .unsupportedColorRange(_, let offset, _),
             .noFrames(_, let offset), .badFrameMarker(_, _, let offset, _), .shortFrame(_, _, let offset, _, _),
             .truncatedWhilePlaying(_, _, let offset), .readFailed(_, let offset, _):
            return offset
        case .cannotOpen(let path, let reason):
            XCTFail("\(path): \(reason)")
            return -1
        }
    }

    private func fnv1a(_ bytes: UnsafePointer<UInt8>, count: Int, _ start: UInt32) -> UInt32 {
        var value = start
        for index in 0..<count { value = (value ^ UInt32(bytes[index])) &* 0x0100_0193 }
        return value
    }
}
