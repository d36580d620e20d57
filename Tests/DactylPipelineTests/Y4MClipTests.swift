import Foundation
import XCTest

@testable import DactylPipeline

final class Y4MClipTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("dactyl-y4m-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// Writes `header` (without its newline), then each frame's marker line and data.
    private func writeClip(header: String, frames: [(marker: String, data: [UInt8])],
                           name: String = "clip.y4m") throws -> String {
        var bytes = Data((header + "\n").utf8)
        for frame in frames {
            bytes.append(contentsOf: Array((frame.marker + "\n").utf8))
            bytes.append(contentsOf: frame.data)
        }
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        return url.path
    }

    private func openExpectingError(_ path: String, file: StaticString = #filePath,
                                    line: UInt = #line) -> ClipError? {
        do {
            _ = try Y4MClip(path: path)
            XCTFail("expected \(path) to be rejected", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func planes(_ frame: YUVFrame) -> (y: [UInt8], u: [UInt8], v: [UInt8]) {
        let chromaWidth = frame.chroma == .yuv420 ? (frame.width + 1) / 2 : frame.width
        let chromaHeight = frame.chroma == .yuv420 ? (frame.height + 1) / 2 : frame.height
        func rows(_ base: UnsafePointer<UInt8>, _ width: Int, _ height: Int, _ stride: Int) -> [UInt8] {
            (0..<height).flatMap { row in (0..<width).map { base[row * stride + $0] } }
        }
        return (rows(frame.y, frame.width, frame.height, frame.yStride),
                rows(frame.u, chromaWidth, chromaHeight, frame.uvStride),
                rows(frame.v, chromaWidth, chromaHeight, frame.uvStride))
    }

    func testReads420ClipWithParametersInAnyOrderAndFrameParameters() throws {
        // Odd width: the chroma planes are ceil(3/2) x ceil(2/2) = 2 x 1.
        let first: [UInt8] = [1, 2, 3, 4, 5, 6, 100, 101, 200, 201]
        let second: [UInt8] = [11, 12, 13, 14, 15, 16, 110, 111, 210, 211]
        let path = try writeClip(header: "YUV4MPEG2 C420jpeg H2 F30000:1001 W3 Ip A1:1 XYSCSS=420JPEG",
                                 frames: [("FRAME", first), ("FRAME Ixyz XFOO=1", second)])
        let clip = try Y4MClip(path: path)
        XCTAssertEqual(clip.width, 3)
        XCTAssertEqual(clip.height, 2)
        XCTAssertEqual(clip.chroma, .yuv420)
        XCTAssertEqual(clip.colorRange, .limited)
        XCTAssertEqual(clip.frameRate?.numerator, 30000)
        XCTAssertEqual(clip.frameRate?.denominator, 1001)
        XCTAssertEqual(clip.frameCount, 2)

        let frame = try clip.frame(at: 1)
        XCTAssertEqual(frame.yStride, 3)
        XCTAssertEqual(frame.uvStride, 2)
        let (y, u, v) = planes(frame)
        XCTAssertEqual(y, [11, 12, 13, 14, 15, 16])
        XCTAssertEqual(u, [110, 111])
        XCTAssertEqual(v, [210, 211])

        var cursor = clip.makeFrameCursor()
        XCTAssertEqual(cursor.next().map { planes($0).y }, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(cursor.frameIndex, 1)
        XCTAssertEqual(cursor.next().map { planes($0).v }, [210, 211])
        XCTAssertNil(cursor.next())
        XCTAssertEqual(cursor.frameIndex, 2)

        var resumed = clip.makeFrameCursor(at: 1)
        XCTAssertEqual(resumed.next().map { planes($0).u }, [110, 111])
    }

    func testReads444FullRangeClip() throws {
        let data: [UInt8] = Array(0..<12)
        let path = try writeClip(header: "YUV4MPEG2 W2 H2 C444 XCOLORRANGE=FULL", frames: [("FRAME", data)])
        let clip = try Y4MClip(path: path)
        XCTAssertEqual(clip.chroma, .yuv444)
        XCTAssertEqual(clip.colorRange, .full)
        XCTAssertNil(clip.frameRate)
        let (y, u, v) = planes(try clip.frame(at: 0))
        XCTAssertEqual(y, [0, 1, 2, 3])
        XCTAssertEqual(u, [4, 5, 6, 7])
        XCTAssertEqual(v, [8, 9, 10, 11])
    }

    func testEvery420VariantAndTheDefaultAre420() throws {
        for chroma in ["C420jpeg", "C420paldv", "C420mpeg2", "C420", ""] {
            let path = try writeClip(header: "YUV4MPEG2 W2 H2 \(chroma) XCOLORRANGE=LIMITED I?",
                                     frames: [("FRAME", Array(repeating: 7, count: 6))],
                                     name: "clip\(chroma).y4m")
            let clip = try Y4MClip(path: path)
            XCTAssertEqual(clip.chroma, .yuv420, chroma)
            XCTAssertEqual(clip.colorRange, .limited, chroma)
        }
    }

    func testMissingFileNamesPathAndSystemReason() {
        let path = directory.appendingPathComponent("absent.y4m").path
        guard case .cannotOpen(let errorPath, let reason) = openExpectingError(path) else {
            return XCTFail("expected cannotOpen")
        }
        XCTAssertEqual(errorPath, path)
        XCTAssertEqual(reason, "No such file or directory")
        XCTAssertTrue(openExpectingError(path)!.description.hasPrefix(path + ": "))
    }

    func testRejectsAFileThatIsNotY4M() throws {
        for (name, content) in [("riff", "RIFF\0\0\0\0WAVEfmt "), ("empty", ""), ("short", "YUV4MPEG"),
                                ("nospace", "YUV4MPEG2W2 H2\n")] {
            let url = directory.appendingPathComponent(name)
            try Data(content.utf8).write(to: url)
            guard case .notY4M(let path) = openExpectingError(url.path) else {
                XCTFail("expected notY4M for \(name)")
                continue
            }
            XCTAssertEqual(path, url.path)
        }
    }

    func testRejectsUnterminatedHeader() throws {
        let url = directory.appendingPathComponent("unterminated.y4m")
        try Data("YUV4MPEG2 W2 H2".utf8).write(to: url)
        guard case .unterminatedHeader = openExpectingError(url.path) else { return XCTFail("expected unterminatedHeader") }
    }

    func testRejectsMissingWidthOrHeight() throws {
        let noWidth = try writeClip(header: "YUV4MPEG2 H2 C444", frames: [], name: "nowidth.y4m")
        guard case .missingParameter(_, let tag) = openExpectingError(noWidth) else {
            return XCTFail("expected missingParameter")
        }
        XCTAssertEqual(tag, "W")
        let noHeight = try writeClip(header: "YUV4MPEG2 W2 C444", frames: [], name: "noheight.y4m")
        guard case .missingParameter(_, "H") = openExpectingError(noHeight) else {
            return XCTFail("expected missingParameter H")
        }
    }

    func testRejectsBadParameterValuesAtTheirOffset() throws {
        for (header, offset) in [("YUV4MPEG2 W0 H2", 10), ("YUV4MPEG2 W2 Habc", 13), ("YUV4MPEG2 W99999 H2", 10),
                                 ("YUV4MPEG2 W2 H2 F30", 16), ("YUV4MPEG2 W2 H2 F0:1", 16),
                                 ("YUV4MPEG2 W2 H2 Ax", 16)] {
            let path = try writeClip(header: header, frames: [("FRAME", [UInt8](repeating: 0, count: 6))])
            guard case .badParameter(_, let errorOffset, _, _) = openExpectingError(path) else {
                XCTFail("expected badParameter for \(header)")
                continue
            }
            XCTAssertEqual(errorOffset, offset, header)
        }
    }

    func testRejectsUnsupportedChromaInterlacingAndRange() throws {
        let frames = [("FRAME", [UInt8](repeating: 0, count: 12))]
        let chroma = try writeClip(header: "YUV4MPEG2 W2 H2 C411", frames: frames)
        guard case .unsupportedChroma(_, 16, "C411") = openExpectingError(chroma) else {
            return XCTFail("expected unsupportedChroma")
        }
        XCTAssertTrue(openExpectingError(chroma)!.description.contains("C422 or C444"))
        for mono in ["Cmono", "C420p10", "C444alpha"] {
            let path = try writeClip(header: "YUV4MPEG2 W2 H2 \(mono)", frames: frames)
            guard case .unsupportedChroma = openExpectingError(path) else { return XCTFail("expected \(mono) rejected") }
        }
        for interlacing in ["It", "Ib", "Im"] {
            let path = try writeClip(header: "YUV4MPEG2 W2 H2 \(interlacing) C444", frames: frames)
            guard case .unsupportedInterlacing(_, 16, interlacing) = openExpectingError(path) else {
                return XCTFail("expected \(interlacing) rejected")
            }
        }
        let range = try writeClip(header: "YUV4MPEG2 W2 H2 C444 XCOLORRANGE=STUDIO", frames: frames)
        guard case .unsupportedColorRange(_, 21, "XCOLORRANGE=STUDIO") = openExpectingError(range) else {
            return XCTFail("expected unsupportedColorRange")
        }
    }

    func testRejectsAClipWithoutFrames() throws {
        let path = try writeClip(header: "YUV4MPEG2 W2 H2", frames: [])
        guard case .noFrames(_, 16) = openExpectingError(path) else { return XCTFail("expected noFrames") }
    }

    func testRejectsATruncatedLastFrameNamingItsIndexAndOffset() throws {
        // 4:2:0 2x2: 6 bytes per frame; header is 16 bytes, each marker 6.
        let full = [UInt8](repeating: 9, count: 6)
        let path = try writeClip(header: "YUV4MPEG2 W2 H2",
                                 frames: [("FRAME", full), ("FRAME", full), ("FRAME", Array(full.prefix(5)))])
        let error = openExpectingError(path)
        guard case .shortFrame(_, let frame, let offset, let expected, let available) = error else {
            return XCTFail("expected shortFrame")
        }
        XCTAssertEqual(frame, 2)
        XCTAssertEqual(offset, 16 + 12 + 12 + 6)
        XCTAssertEqual(expected, 6)
        XCTAssertEqual(available, 5)
        XCTAssertEqual(error!.description, "\(path): offset 46: frame 2 is truncated: expected 6 bytes of picture data, found 5")
    }

    func testRejectsBadFrameMarkers() throws {
        let full = [UInt8](repeating: 9, count: 6)
        for (marker, index) in [("FRAMX", 1), ("FRAMEX", 1), ("FRAM", 1)] {
            let path = try writeClip(header: "YUV4MPEG2 W2 H2", frames: [("FRAME", full), (marker, full)])
            guard case .badFrameMarker(_, let frame, let offset, _) = openExpectingError(path) else {
                XCTFail("expected badFrameMarker for \(marker)")
                continue
            }
            XCTAssertEqual(frame, index, marker)
            XCTAssertEqual(offset, 16 + 12, marker)
        }
        // Trailing bytes after the last frame are an incomplete marker, not silently ignored.
        let url = directory.appendingPathComponent("trailing.y4m")
        try Data("YUV4MPEG2 W2 H2\nFRAME\n123456FR".utf8).write(to: url)
        guard case .badFrameMarker(_, 1, 28, "FR") = openExpectingError(url.path) else {
            return XCTFail("expected badFrameMarker for trailing bytes")
        }
        // A marker line that never ends.
        try Data("YUV4MPEG2 W2 H2\nFRAME Ixyz".utf8).write(to: url)
        guard case .badFrameMarker(_, 0, 16, "FRAME Ixyz") = openExpectingError(url.path) else {
            return XCTFail("expected badFrameMarker for an unterminated marker")
        }
    }
    /// Issue 12 #3: a FIFO with no writer, a device or a directory is refused at once with a
    /// message saying it is not a regular file; before, open() on a FIFO blocked forever.
    func testNonRegularFilesAreRefusedWithoutBlocking() throws {
        let fifo = directory.appendingPathComponent("clip.fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for path in [fifo, "/dev/zero", directory.path] {
            final class Outcome: @unchecked Sendable { var error: ClipError? = nil }
            let outcome = Outcome()
            let finished = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                do { _ = try Y4MClip(path: path) } catch { outcome.error = error as? ClipError }
                finished.signal()
            }
            guard finished.wait(timeout: .now() + 10) == .success else {
                if path == fifo, let writer = FileHandle(forWritingAtPath: fifo) { try? writer.close() }
                return XCTFail("opening \(path) blocked")
            }
            guard case .cannotOpen(let errorPath, let reason) = outcome.error else { return XCTFail("\(path) opened") }
            XCTAssertEqual(errorPath, path)
            XCTAssertTrue(reason.hasPrefix("not a regular file"), reason)
        }
    }

    /// Issue 12 #4: frames are read into one buffer, not mapped, so a clip truncated while it
    /// plays gives an error naming the file and the frame (a mapped clip died of SIGBUS).
    func testTruncationWhilePlayingIsAnErrorNamingTheFrame() throws {
        let frames = (0..<4).map { index in ("FRAME", [UInt8](repeating: UInt8(index), count: 6)) }
        let path = try writeClip(header: "YUV4MPEG2 W2 H2", frames: frames)
        let clip = try Y4MClip(path: path)
        XCTAssertEqual(clip.frameCount, 4)
        var cursor = clip.makeFrameCursor()
        let first = try XCTUnwrap(cursor.next())
        XCTAssertEqual(first.y[0], 0)
        let second = try XCTUnwrap(cursor.next())
        XCTAssertEqual(second.y[0], 1)
        XCTAssertEqual(first.y, second.y, "one frame buffer, whatever the clip's length")

        // Cut frame 2 in the middle of its picture data: header 16 + 2 x 12 + marker 6 + 3.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 16 + 24 + 6 + 3)
        try handle.close()
        XCTAssertNil(cursor.next())
        guard case .truncatedWhilePlaying(path, 2, 16 + 24 + 6 + 3) = cursor.error else {
            return XCTFail("expected truncatedWhilePlaying, got \(String(describing: cursor.error))")
        }
        XCTAssertTrue(cursor.error!.description.hasPrefix(path + ": offset 49: frame 2:"), cursor.error!.description)
        XCTAssertNil(cursor.next(), "a cursor stays stopped after an error")

        // Cut before frame 1's marker: a new cursor stops at frame 1.
        let shorter = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try shorter.truncate(atOffset: 16 + 12)
        try shorter.close()
        var again = clip.makeFrameCursor()
        XCTAssertNotNil(again.next())
        XCTAssertNil(again.next())
        guard case .truncatedWhilePlaying(_, 1, 28) = again.error else {
            return XCTFail("expected truncatedWhilePlaying at frame 1, got \(String(describing: again.error))")
        }
        XCTAssertThrowsError(try clip.frame(at: 3))
    }

    /// Marker lines longer than one read chunk (frame parameters) are still found.
    func testLongFrameMarkerLines() throws {
        let long = "FRAME X" + String(repeating: "a", count: 300)
        let path = try writeClip(header: "YUV4MPEG2 W2 H2", frames: [(long, [1, 2, 3, 4, 5, 6]), ("FRAME", [7, 8, 9, 10, 11, 12])])
        let clip = try Y4MClip(path: path)
        XCTAssertEqual(clip.frameCount, 2)
        XCTAssertEqual(planes(try clip.frame(at: 1)).y, [7, 8, 9, 10])
        XCTAssertEqual(planes(try clip.frame(at: 0)).v, [6])
    }
}
