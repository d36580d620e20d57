import Foundation
import XCTest

@testable import DactylPipeline

/// The camera's host-side behaviour (errors, back-off, formats) and the clips `dactyl record`
/// writes. Streaming from a real V4L2 driver is tested in the virtual Raspberry Pi
/// (cross/vm-test.sh: vivid's frames come back from `dactyl record` byte for byte).
final class CameraTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("dactyl-camera-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func openError(_ configuration: CameraConfiguration) -> CameraError? {
        let camera = V4L2Camera(configuration: configuration)
        do {
            try camera.open()
            XCTFail("\(configuration.device) opened as a camera")
            return nil
        } catch {
            XCTAssertFalse(camera.isOpen)
            return error
        }
    }

    func testMissingDeviceIsNamedWithTheSystemsReason() throws {
        let device = directory.appendingPathComponent("video9").path
        let error = try XCTUnwrap(openError(CameraConfiguration(device: device)))
        XCTAssertEqual(error.description, "\(device): cannot open camera: No such file or directory")
        XCTAssertTrue(error.isLoss, "an absent device is what an unplugged camera looks like")
    }

    func testNodeThatIsNotV4L2FailsAtQueryCap() throws {
        let error = try XCTUnwrap(openError(CameraConfiguration(device: "/dev/null")))
        XCTAssertEqual(error.description, "/dev/null: VIDIOC_QUERYCAP: Inappropriate ioctl for device")
        XCTAssertFalse(error.isLoss)
    }

    func testReadingAClosedCameraReportsItLost() {
        let camera = V4L2Camera(configuration: CameraConfiguration(device: "/dev/video-none"))
        guard case .lost(let error) = camera.nextFrame(timeoutMilliseconds: 10) else {
            return XCTFail("a closed camera gave a frame or a timeout")
        }
        XCTAssertTrue(error.description.hasPrefix("/dev/video-none: camera lost"), error.description)
    }

    func testBackoffDoublesUpToTheMaximumAndResets() {
        var backoff = CameraBackoff()
        var delays: [Int] = []
        for _ in 0..<6 {
            delays.append(backoff.delayMilliseconds)
            backoff.failed()
        }
        XCTAssertEqual(delays, [500, 1000, 2000, 4000, 5000, 5000])
        backoff.reset()
        XCTAssertEqual(backoff.delayMilliseconds, 500)
    }

    func testReconnectRetriesWithBackoffUntilToldToStop() {
        let device = directory.appendingPathComponent("video7").path
        let camera = V4L2Camera(configuration: CameraConfiguration(device: device))
        var backoff = CameraBackoff(initialMilliseconds: 1, maximumMilliseconds: 4)
        var checks = 0
        let started = Date()
        let reconnected = camera.reconnect(backoff: &backoff) {
            checks += 1
            return checks > 12
        }
        XCTAssertFalse(reconnected)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "the waits are the back-off's milliseconds")
        XCTAssertEqual(backoff.delayMilliseconds, 4, "failed attempts doubled the delay to its maximum")
        XCTAssertEqual(camera.lastReconnectError?.description, "\(device): cannot open camera: No such file or directory")
        XCTAssertEqual(camera.reconnects, 0)
    }

    func testPixelFormatNames() {
        XCTAssertEqual(CameraPixelFormat(name: "YUYV"), .yuyv)
        XCTAssertEqual(CameraPixelFormat(name: "i420"), .yu12)
        XCTAssertEqual(CameraPixelFormat(name: "mjpg"), .mjpeg)
        XCTAssertEqual(CameraPixelFormat(name: "auto"), .auto)
        XCTAssertNil(CameraPixelFormat(name: "rgb24"))
        for format in [CameraPixelFormat.auto, .yuyv, .nv12, .yu12, .mjpeg] {
            XCTAssertEqual(CameraPixelFormat(name: format.name), format)
        }
        XCTAssertEqual(fourccText(0x5659_5559), "YUYV")
    }

    // MARK: - Recording: camera layouts in, planar Y4M out

    /// A width x height frame whose Y, U, V samples are distinct functions of the position.
    private func sample(_ plane: Int, _ column: Int, _ row: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: plane * 85 + column * 7 + row * 13)
    }

    func testYUYVFrameIsWrittenAsC422AndReadBack() throws {
        let width = 6, height = 3, stride = 16  // padded lines, as drivers may give
        var buffer = [UInt8](repeating: 0xEE, count: stride * height)
        for row in 0..<height {
            for pair in 0..<width / 2 {
                let base = row * stride + pair * 4
                buffer[base] = sample(0, 2 * pair, row)
                buffer[base + 1] = sample(1, pair, row)
                buffer[base + 2] = sample(0, 2 * pair + 1, row)
                buffer[base + 3] = sample(2, pair, row)
            }
        }
        let path = directory.appendingPathComponent("yuyv.y4m").path
        try buffer.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress!
            let frame = YUVFrame(width: width, height: height, chroma: .yuv422, colorRange: .limited,
                                 y: base, yStride: stride, u: base + 1, v: base + 3, uvStride: stride,
                                 ySampleStep: 2, uvSampleStep: 4)
            let writer = try Y4MWriter(path: path, width: width, height: height, chroma: .yuv422,
                                       colorRange: .limited, frameRate: (251_750, 4200))
            try writer.append(frame)
            try writer.append(frame)
            try writer.close()
        }
        let text = try String(decoding: Data(contentsOf: URL(fileURLWithPath: path)).prefix(44), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("YUV4MPEG2 W6 H3 F5035:84 Ip A1:1 C422\nFRAME\n"), text)

        let clip = try Y4MClip(path: path)
        XCTAssertEqual(clip.chroma, .yuv422)
        XCTAssertEqual(clip.frameCount, 2)
        XCTAssertEqual(clip.frameRate?.numerator, 5035)
        let frame = try clip.frame(at: 1)
        for row in 0..<height {
            for column in 0..<width {
                XCTAssertEqual(frame.y[row * frame.yStride + column], sample(0, column, row))
            }
            for column in 0..<width / 2 {
                XCTAssertEqual(frame.u[row * frame.uvStride + column], sample(1, column, row))
                XCTAssertEqual(frame.v[row * frame.uvStride + column], sample(2, column, row))
            }
        }
    }

    func testNV12FrameIsWrittenAsPlanarC420() throws {
        let width = 4, height = 4
        var buffer = [UInt8](repeating: 0, count: width * height * 3 / 2)
        for row in 0..<height { for column in 0..<width { buffer[row * width + column] = sample(0, column, row) } }
        for row in 0..<height / 2 {
            for column in 0..<width / 2 {
                buffer[width * height + row * width + 2 * column] = sample(1, column, row)
                buffer[width * height + row * width + 2 * column + 1] = sample(2, column, row)
            }
        }
        let path = directory.appendingPathComponent("nv12.y4m").path
        try buffer.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress!, chroma = base + width * height
            let frame = YUVFrame(width: width, height: height, chroma: .yuv420, colorRange: .full,
                                 y: base, yStride: width, u: chroma, v: chroma + 1, uvStride: width,
                                 ySampleStep: 1, uvSampleStep: 2)
            let writer = try Y4MWriter(path: path, width: width, height: height, chroma: .yuv420,
                                       colorRange: .full, frameRate: (0, 0))
            try writer.append(frame)
            try writer.close()
        }
        let clip = try Y4MClip(path: path)
        XCTAssertEqual(clip.chroma, .yuv420)
        XCTAssertEqual(clip.colorRange, .full)
        XCTAssertEqual(clip.frameRate?.numerator, 30, "an unknown rate is written as 30:1")
        let frame = try clip.frame(at: 0)
        XCTAssertEqual(frame.uvStride, 2)
        for row in 0..<height / 2 {
            for column in 0..<width / 2 {
                XCTAssertEqual(frame.u[row * 2 + column], sample(1, column, row))
                XCTAssertEqual(frame.v[row * 2 + column], sample(2, column, row))
            }
        }
    }

    func testWriterErrorsNameTheFile() throws {
        let missing = directory.appendingPathComponent("no/such/folder/clip.y4m").path
        XCTAssertThrowsError(try Y4MWriter(path: missing, width: 4, height: 4, chroma: .yuv420, colorRange: .limited,
                                           frameRate: (30, 1))) { error in
            XCTAssertEqual("\(error)", "\(missing): cannot create clip: No such file or directory")
        }
        let path = directory.appendingPathComponent("mismatch.y4m").path
        let writer = try Y4MWriter(path: path, width: 4, height: 4, chroma: .yuv420, colorRange: .limited, frameRate: (30, 1))
        let pixels = [UInt8](repeating: 0, count: 64)
        try pixels.withUnsafeBufferPointer { bytes in
            let frame = YUVFrame(width: 4, height: 4, chroma: .yuv422, colorRange: .limited, y: bytes.baseAddress!,
                                 yStride: 8, u: bytes.baseAddress! + 1, v: bytes.baseAddress! + 3, uvStride: 8,
                                 ySampleStep: 2, uvSampleStep: 4)
            XCTAssertThrowsError(try writer.append(frame)) { error in
                XCTAssertEqual("\(error)", "\(path): frame 0: expected a 4x4 C420 frame, got 4x4 C422")
            }
        }
    }

    func testC422ClipIsReadWithItsChromaPlanes() throws {
        // Y4M 4:2:2: chroma planes of (W+1)/2 x H samples.
        let width = 3, height = 2
        var data = [UInt8](repeating: 0, count: width * height + 2 * 2 * height)
        for i in data.indices { data[i] = UInt8(i) }
        let url = directory.appendingPathComponent("c422.y4m")
        var bytes = Data("YUV4MPEG2 W\(width) H\(height) C422\nFRAME\n".utf8)
        bytes.append(contentsOf: data)
        try bytes.write(to: url)
        let clip = try Y4MClip(path: url.path)
        XCTAssertEqual(clip.chroma, .yuv422)
        let frame = try clip.frame(at: 0)
        XCTAssertEqual(frame.uvStride, 2)
        XCTAssertEqual(frame.u[0], 6)
        XCTAssertEqual(frame.v[0], 10)
        XCTAssertEqual(frame.v[3], 13)
        // One byte short of a 4:2:2 frame (which would be a whole 4:2:0 one) is truncated.
        var short = Data("YUV4MPEG2 W\(width) H\(height) C422\nFRAME\n".utf8)
        short.append(contentsOf: data.dropLast())
        try short.write(to: url)
        XCTAssertThrowsError(try Y4MClip(path: url.path)) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }
}

/// The camera as the live box's source: start-up without a camera, loss and back-off steps.
final class CameraFrameSourceTests: XCTestCase {
    func testCameraAbsentAtStartUpIsReportedLostThenRetriedWithoutBlocking() throws {
        let device = FileManager.default.temporaryDirectory.appendingPathComponent("dactyl-no-video-\(UUID().uuidString)").path
        let source = CameraFrameSource(camera: V4L2Camera(configuration: CameraConfiguration(device: device)),
                                       waitMilliseconds: 5, backoff: CameraBackoff(initialMilliseconds: 20, maximumMilliseconds: 40))
        try source.start()
        guard case .lost(let error) = source.next() else { return XCTFail("the absent camera was not reported lost") }
        XCTAssertEqual(error.description, "\(device): cannot open camera: No such file or directory")
        XCTAssertTrue(source.isLost)
        XCTAssertNil(source.lastAttemptError, "no attempt before the first back-off delay")
        let started = Date()
        var steps = 0
        while source.lastAttemptError == nil && steps < 1000 {
            guard case .waiting = source.next() else { return XCTFail("a frame from an absent camera") }
            steps += 1
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(steps, 2, "each step waits at most waitMilliseconds, not the whole back-off")
        XCTAssertGreaterThanOrEqual(elapsed, 0.015)
        XCTAssertLessThan(elapsed, 1)
        XCTAssertEqual(source.lastAttemptError?.description, error.description)
        XCTAssertTrue(source.isLost)
    }

    func testDeviceThatIsNotACameraFailsAtStartUp() {
        let source = CameraFrameSource(camera: V4L2Camera(configuration: CameraConfiguration(device: "/dev/null")))
        XCTAssertThrowsError(try source.start()) { error in
            XCTAssertEqual("\(error)", "/dev/null: VIDIOC_QUERYCAP: Inappropriate ioctl for device")
        }
    }
}
