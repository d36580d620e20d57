import AllocationCounter
import DactylTestSupport
import CDactylPlatform
import Foundation
import Glibc
import XCTest
@testable import DactylPipeline

/// The preview page's server over real sockets: the page, the refusals, the limits, the event
/// stream with its replay for a late page, pictures as JPEG, and the JPEG encoder's memory.
final class PreviewServerTests: XCTestCase {
    static let page = Array("<!doctype html><title>test page</title>\n".utf8)
    let pageMemory: UnsafeMutableRawBufferPointer = {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: PreviewServerTests.page.count, alignment: 1)
        memory.copyBytes(from: PreviewServerTests.page)
        return memory
    }()

    deinit { pageMemory.deallocate() }

    func makePreview(_ change: (inout PreviewConfiguration) -> Void = { _ in }, width: Int = 64, height: Int = 48) throws -> Preview {
        var configuration = PreviewConfiguration()
        change(&configuration)
        let preview = try Preview(configuration: configuration, page: UnsafeRawBufferPointer(pageMemory), frameWidth: width,
                                  frameHeight: height, framesPerSecond: 30, runStart: 0)
        try preview.start()
        return preview
    }

    func testAddressesParse() throws {
        XCTAssertEqual(try PreviewConfiguration(parsing: "8080").address, "127.0.0.1")
        XCTAssertEqual(try PreviewConfiguration(parsing: "8080").port, 8080)
        XCTAssertEqual(try PreviewConfiguration(parsing: "0.0.0.0:80").address, "0.0.0.0")
        XCTAssertEqual(try PreviewConfiguration(parsing: "[::1]:9000").address, "::1")
        XCTAssertEqual(try PreviewConfiguration(parsing: "[::1]:9000").port, 9000)
        XCTAssertEqual(try PreviewConfiguration(parsing: "localhost:1").address, "127.0.0.1")
        for bad in ["", "http", "65536", "-1", "1.2.3.4:", ":80", "::1:80", "[::1]80", "80 ", "+80"] {
            XCTAssertThrowsError(try PreviewConfiguration(parsing: bad), bad)
        }
        // An address that is not an IP literal is refused when listening, naming it.
        var configuration = try PreviewConfiguration(parsing: "box.local:0")
        configuration.port = 0
        XCTAssertThrowsError(try Preview(configuration: configuration, page: UnsafeRawBufferPointer(pageMemory), frameWidth: 8,
                                         frameHeight: 8, framesPerSecond: 30, runStart: 0)) { error in
            XCTAssertEqual((error as? PreviewError)?.description, "preview: cannot listen on box.local port 0: not an IP address")
        }
    }

    func testPageAndRefusals() throws {
        let preview = try makePreview()
        defer { preview.stop() }
        let page = try TestClient(port: preview.port).exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(page.hasPrefix("HTTP/1.1 200 OK\r\n"), page)
        XCTAssertTrue(page.contains("Content-Type: text/html; charset=utf-8\r\n"))
        XCTAssertTrue(page.contains("Content-Length: \(Self.page.count)\r\n"))
        XCTAssertTrue(page.contains("Content-Security-Policy: default-src 'none'"))
        XCTAssertTrue(page.hasSuffix("\r\n\r\n" + String(decoding: Self.page, as: UTF8.self)), page)
        let head = try TestClient(port: preview.port).exchange("HEAD /index.html HTTP/1.0\r\n\r\n")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n"), head)
        let cases: [(String, String)] = [
            ("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"),
            ("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"),
            ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
            ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"),
            ("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + String(repeating: "c", count: 5000), "HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        ]
        for (request, expected) in cases {
            let answer = try TestClient(port: preview.port).exchange(request)
            XCTAssertTrue(answer.hasPrefix(expected), "\(request.prefix(40).debugDescription): \(answer)")
        }
        preview.stop()  // the server thread's counters are read after it ended
        XCTAssertEqual(preview.server.requestsRefused, 4)
    }

    func testSlowRequestsAndSilentClientsAreDropped() throws {
        let preview = try makePreview { $0.requestTimeoutNanoseconds = 200_000_000 }
        defer { preview.stop() }
        let slow = try TestClient(port: preview.port)
        try slow.send("GET / HTTP/1.1\r\nHo")
        let started = monotonicNanoseconds()
        XCTAssertEqual(try slow.readAll(timeout: 5), "", "closed without an answer")
        let waited = Double(monotonicNanoseconds() - started) / 1e9
        XCTAssertGreaterThan(waited, 0.1)
        XCTAssertLessThan(waited, 2)
        // The server goes on serving.
        XCTAssertTrue(try TestClient(port: preview.port).exchange("GET / HTTP/1.0\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        preview.stop()
        XCTAssertEqual(preview.server.connectionsTimedOut, 1)
    }

    func testEventsStreamAndReplayToALatePage() throws {
        let preview = try makePreview()
        defer { preview.stop() }
        var sink = preview.sink
        let words = WordFixture()
        let early = try TestClient(port: preview.port)
        try early.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        let hello = try early.read(until: "\"type\":\"hello\"")
        XCTAssertTrue(hello.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"), hello)
        withBytes("") { sink.status(.signing, message: $0, now: 1_000_000) }
        sink.partial(words.word("ja", segment: 0), now: 2_000_000)
        sink.commit(words.word("jade", segment: 0, startFrame: 3, endFrame: 40), now: 3_000_000)
        withBytes("camera \"gone\"") { sink.status(.cameraLost, message: $0, now: 4_000_000) }
        let stream = hello + (try early.read(until: "camera-lost"))
        XCTAssertTrue(stream.contains("\ndata: {\"type\":\"hello\",\"width\":64,\"height\":48,\"fps\":30.00,\"picture_width\":64,"), stream)
        XCTAssertTrue(stream.contains("event: partial\ndata: {\"type\":\"partial\",\"segment\":0,\"text\":\"ja\",\"t_ms\":2}\n\n"), stream)
        XCTAssertTrue(stream.contains("event: commit\ndata: {\"type\":\"commit\",\"segment\":0,\"piece\":0,\"final\":true,\"text\":\"jade\","
                                      + "\"start_frame\":3,\"end_frame\":40,\"t_ms\":3}\n\n"), stream)
        XCTAssertTrue(stream.contains("\"status\":\"camera-lost\",\"message\":\"camera \\\"gone\\\"\""), stream)
        // A page opened now is told the words so far and the last status, not the old partial.
        let late = try TestClient(port: preview.port)
        try late.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        let replay = try late.read(until: "camera-lost")
        XCTAssertTrue(replay.contains("\"text\":\"jade\""), replay)
        XCTAssertFalse(replay.contains("\"type\":\"partial\""), replay)
        // Two event streams at most.
        let third = try TestClient(port: preview.port).exchange("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(third.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), third)
        XCTAssertEqual(sink.eventsDropped, 0)
    }

    func testPicturesAreJPEGsOfTheFrameAndOnlyCopiedWhenAsked() throws {
        let preview = try makePreview { $0.maximumFramesPerSecond = 200 }
        defer { preview.stop() }
        var sink = preview.sink
        let frame = PreviewTestFrame(width: 64, height: 48)
        // Nobody watching: frames are not copied.
        for number in 0..<20 { sink.frame(frame.live(number: number), now: UInt64(number)) }
        XCTAssertEqual(sink.framesHanded, 0)

        let snapshot = try TestClient(port: preview.port)
        try snapshot.send("GET /snapshot.jpg HTTP/1.1\r\nHost: x\r\n\r\n")
        var answer: [UInt8] = []
        var number = 20
        while !(answer.count > 4 && answer.suffix(2) == [0xFF, 0xD9]) && number < 2000 {
            sink.frame(frame.live(number: number), now: UInt64(number))
            number += 1
            answer += try snapshot.readAvailable(timeout: 0.005)
        }
        let text = String(decoding: answer.prefix(300), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: "), text)
        let headEnd = try XCTUnwrap(answer.indices.first { answer[$0...].starts(with: Array("\r\n\r\n".utf8)) }) + 4
        let jpeg = Array(answer[headEnd...])
        XCTAssertEqual(jpeg.prefix(3), [0xFF, 0xD8, 0xFF], "a JPEG's start")
        XCTAssertTrue(text.contains("Content-Length: \(jpeg.count)\r\n"))
        XCTAssertGreaterThan(sink.framesHanded, 0)
        // Baseline (SOF0) 48 high, 64 wide, three components.
        let sof = try XCTUnwrap(jpeg.indices.first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        XCTAssertEqual(Array(jpeg[(sof + 5)...(sof + 9)]), [0, 48, 0, 64, 3])

        // The stream: parts with the boundary, one picture after another.
        let stream = try TestClient(port: preview.port)
        try stream.send("GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        var received: [UInt8] = []
        let handedBefore = sink.framesHanded
        while received.count < 3 * jpeg.count && number < 20_000 {
            sink.frame(frame.live(number: number), now: UInt64(number))
            number += 1
            received += try stream.readAvailable(timeout: 0.002)
        }
        let streamText = String(decoding: received, as: UTF8.self)
        XCTAssertTrue(streamText.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=dactylframe\r\n"))
        XCTAssertGreaterThanOrEqual(streamText.components(separatedBy: "\r\n--dactylframe\r\nContent-Type: image/jpeg\r\n").count - 1, 2)
        // Frames are copied only when the server asked: far fewer than the frames offered.
        XCTAssertLessThan(sink.framesHanded - handedBefore, (number - 20) / 2)
        preview.stop()
        XCTAssertGreaterThan(preview.server.picturesEncoded, 2)
    }

    func testFrameCopyStretchesLimitedRangeAndPads() {
        // A 3x3 4:2:0 limited-range frame: Y 16 (black) and 235 (white), chroma 128 (grey).
        let luma: [UInt8] = [16, 235, 16, 235, 16, 235, 16, 235, 16]
        let cb: [UInt8] = [128, 240, 16, 128], cr: [UInt8] = [16, 16, 16, 16]
        let layout = dactyl_jpeg_layout_for(3, 3)
        XCTAssertEqual([layout.luma_stride, layout.luma_rows, layout.chroma_stride, layout.chroma_rows], [16, 16, 8, 8])
        var out = [UInt8](repeating: 7, count: layout.bytes)
        luma.withUnsafeBufferPointer { y in
            cb.withUnsafeBufferPointer { u in
                cr.withUnsafeBufferPointer { v in
                    dactyl_jpeg_copy_frame(&out, layout, 1, y.baseAddress, 3, 1, u.baseAddress, v.baseAddress, 2, 1, 1, 1, 0)
                }
            }
        }
        XCTAssertEqual(Array(out[0..<4]), [0, 255, 0, 0], "stretched, and the last column repeated")
        XCTAssertEqual(out[15 * 16 + 2], 0, "the last row repeated into the padding rows")
        let cbPlane = 16 * 16, crPlane = cbPlane + 8 * 8
        XCTAssertEqual(Array(out[cbPlane..<cbPlane + 3]), [128, 255, 255], "Cb 128 stays, 240 becomes 255, then padding")
        XCTAssertEqual(Array(out[cbPlane + 8..<cbPlane + 10]), [0, 128], "16 becomes 0")
        XCTAssertEqual(out[crPlane + 7 * 8 + 7], 0, "Cr padded to the plane's end")
    }

    func testEncodingAllocatesNothing() throws {
        let layout = dactyl_jpeg_layout_for(640, 480)
        let encoder = try XCTUnwrap(dactyl_jpeg_create(layout, 75))
        defer { dactyl_jpeg_destroy(encoder) }
        var frame = [UInt8](repeating: 0, count: layout.bytes)
        var random = SplitMix64(seed: 5)
        for index in frame.indices { frame[index] = UInt8(truncatingIfNeeded: index / 7 + Int(random.next() % 16)) }
        var jpeg: UnsafePointer<UInt8>? = nil
        XCTAssertGreaterThan(dactyl_jpeg_encode(encoder, frame, &jpeg), 0, "warm-up")
        allocation_counter_start()
        var total = 0
        for _ in 0..<5 { total += dactyl_jpeg_encode(encoder, frame, &jpeg) }
        let allocations = allocation_counter_stop()
        XCTAssertEqual(allocations, 0, "libjpeg's per-image memory comes from the encoder's arena")
        XCTAssertGreaterThan(total, 5 * 1000)
        XCTAssertEqual(jpeg?[0], 0xFF)
        XCTAssertLessThan(dactyl_jpeg_arena_used(encoder), 512 * 1024)
    }
}

// MARK: - Helpers

/// A blocking TCP client for the tests, with timeouts.
final class TestClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }  // the server may close early (a refused head)
            sent += n
        }
    }

    /// What arrives within `timeout` seconds (returns early once nothing more is waiting).
    func readAvailable(timeout: Double) throws -> [UInt8] {
        var result: [UInt8] = []
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var wait = Int32(timeout * 1000)
        while poll(&entry, 1, wait) > 0 {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            result += buffer[0..<n]
            wait = 0
        }
        return result
    }

    /// Everything until the server closes (or `timeout`).
    func readAll(timeout: Double) throws -> String {
        var result: [UInt8] = []
        let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while monotonicNanoseconds() < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            result += buffer[0..<n]
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Reads until `marker` has arrived (5 s at most).
    func read(until marker: String) throws -> String {
        var text = ""
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while !text.contains(marker) && monotonicNanoseconds() < deadline {
            text += String(decoding: try readAvailable(timeout: 0.05), as: UTF8.self)
        }
        return text
    }

    func exchange(_ request: String) throws -> String {
        try send(request)
        return try readAll(timeout: 5)
    }
}

/// A planar 4:2:0 frame whose picture changes with the frame number.
final class PreviewTestFrame {
    let width: Int, height: Int
    let memory: UnsafeMutablePointer<UInt8>

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        let count = width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2)
        memory = .allocate(capacity: count)
        for index in 0..<count { memory[index] = UInt8(truncatingIfNeeded: index * 13) }
    }

    deinit { memory.deallocate() }

    func live(number: Int) -> LiveFrame {
        memory[number % (width * height)] &+= 97
        let chroma = (width + 1) / 2 * ((height + 1) / 2)
        let picture = YUVFrame(width: width, height: height, chroma: .yuv420, colorRange: .limited, y: memory, yStride: width,
                               u: memory + width * height, v: memory + width * height + chroma, uvStride: (width + 1) / 2)
        return LiveFrame(picture: picture, number: number, zone: CropRect(x: 4, y: 2, width: 40, height: 40), motion: 1.5,
                         motionFloor: 0.5, startMotion: 1.5, stopMotion: 0.5, segmentOpen: number % 2 == 0)
    }
}
