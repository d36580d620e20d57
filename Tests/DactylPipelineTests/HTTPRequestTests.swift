import DactylTestSupport
import XCTest
@testable import DactylPipeline

/// The preview server's request parser (HTTPRequest.swift): what it accepts, what it refuses
/// with which status, and that a head arriving in pieces gives the same answer as a whole one.
final class HTTPRequestTests: XCTestCase {
    func parse(_ text: String, headLimit: Int = HTTPRequest.defaultHeadLimit) throws -> (HTTPRequest?, [UInt8]) {
        let bytes = Array(text.utf8)
        let request = try bytes.withUnsafeBufferPointer { try HTTPRequest.parse($0, headLimit: headLimit) }
        return (request, bytes)
    }

    func path(_ request: HTTPRequest, _ bytes: [UInt8]) -> String { String(decoding: bytes[request.path], as: UTF8.self) }

    func refusal(_ text: String, headLimit: Int = HTTPRequest.defaultHeadLimit) -> HTTPRequestError? {
        do {
            let (request, _) = try parse(text, headLimit: headLimit)
            XCTFail("accepted (\(String(describing: request))): \(text.debugDescription)")
            return nil
        } catch let error as HTTPRequestError {
            return error
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    func testAcceptsWhatBrowsersSend() throws {
        let text = "GET /stream.mjpg?t=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
            + "Accept: image/avif,image/webp,*/*\r\nAccept-Language: en-GB,en;q=0.5\r\nConnection: keep-alive\r\n\r\nleftover"
        let (parsed, bytes) = try parse(text)
        let request = try XCTUnwrap(parsed)
        XCTAssertEqual(request.method, .get)
        XCTAssertEqual(path(request, bytes), "/stream.mjpg")
        XCTAssertEqual(request.query.map { String(decoding: bytes[$0], as: UTF8.self) }, "t=1")
        XCTAssertEqual(request.minorVersion, 1)
        XCTAssertEqual(request.fieldCount, 5)
        XCTAssertEqual(request.headBytes, text.utf8.count - "leftover".utf8.count)
        bytes.withUnsafeBufferPointer { XCTAssertTrue(request.pathIs("/stream.mjpg", in: $0)) }
    }

    func testHeadHTTP10BareLineFeedsAndAbsoluteForm() throws {
        let (head, headBytes) = try parse("HEAD / HTTP/1.0\n\n")
        XCTAssertEqual(head?.method, .head)
        XCTAssertEqual(head?.minorVersion, 0)
        XCTAssertEqual(head.map { path($0, headBytes) }, "/")
        // HTTP/1.0 needs no Host; an empty line before the request line is ignored (RFC 9112 2.2).
        let (absolute, absoluteBytes) = try parse("\r\nGET http://box.local:8080/events HTTP/1.1\r\nHost: box.local:8080\r\n\r\n")
        XCTAssertEqual(absolute.map { path($0, absoluteBytes) }, "/events")
        // Optional whitespace around a value, an empty value, a zero Content-Length.
        XCTAssertNotNil(try parse("GET / HTTP/1.1\r\nHost:x\r\nX-Empty:\r\nContent-Length:  0 \r\n\r\n").0)
    }

    func testIncompleteHeadsAskForMore() throws {
        let whole = "GET /events HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n"
        let bytes = Array(whole.utf8)
        // Every proper prefix is incomplete; the whole gives the same request as one read would.
        for length in 0..<bytes.count {
            let result = try bytes.withUnsafeBufferPointer { try HTTPRequest.parse(UnsafeBufferPointer(rebasing: $0[0..<length])) }
            XCTAssertNil(result, "prefix of \(length) bytes")
        }
        XCTAssertEqual(try parse(whole).0?.headBytes, bytes.count)
    }

    func testRefusalsNameTheirStatus() {
        let cases: [(String, HTTPRequestError, Int)] = [
            ("POST / HTTP/1.1\r\nHost: a\r\n\r\n", .methodNotAllowed, 405),
            ("get / HTTP/1.1\r\nHost: a\r\n\r\n", .methodNotAllowed, 405),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", .unsupportedVersion, 505),
            ("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", .unsupportedVersion, 505),
            ("GET / FTP/1.1\r\n\r\n", .malformedRequestLine, 400),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .malformedRequestLine, 400),
            ("GET /\r\n\r\n", .malformedRequestLine, 400),
            ("\r\n\r\n", .malformedRequestLine, 400),
            ("GET / HTTP/1.1\rHost: a\r\n\r\n", .malformedRequestLine, 400),
            ("GET /\0 HTTP/1.1\r\n\r\n", .malformedRequestLine, 400),
            ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
            ("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
            ("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
            ("GET /" + String(repeating: "a", count: 1024) + " HTTP/1.1\r\nHost: a\r\n\r\n", .targetTooLong, 414),
            ("GET / HTTP/1.1\r\n\r\n", .badHost, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", .badHost, 400),
            ("GET / HTTP/1.1\r\nHost a\r\n\r\n", .malformedField, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", .malformedField, 400),
            ("GET / HTTP/1.1\r\nBad Name: a\r\nHost: a\r\n\r\n", .malformedField, 400),
            ("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n", .malformedField, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", .bodyNotAccepted, 413),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .malformedField, 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", .bodyNotAccepted, 413),
        ]
        for (text, expected, status) in cases {
            let error = refusal(text)
            XCTAssertEqual(error, expected, text.debugDescription)
            XCTAssertEqual(error?.status, status, text.debugDescription)
            XCTAssertFalse(error?.description.isEmpty ?? true)
        }
    }

    func testHeadsBeyondTheLimitsAreRefused() {
        // A head that fills the limit without ending is refused as soon as it does, not read on.
        let long = "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + String(repeating: "x", count: 200)
        XCTAssertEqual(refusal(long, headLimit: 128), .headTooLarge)
        XCTAssertEqual(refusal(long + "\r\n\r\n", headLimit: 128), .headTooLarge)
        var many = "GET / HTTP/1.1\r\nHost: a\r\n"
        for index in 0..<HTTPRequest.maximumFields { many += "X-\(index): y\r\n" }
        XCTAssertEqual(refusal(many + "\r\n"), .headTooLarge)
        // Within the limit, the same head is fine.
        XCTAssertNotNil(try parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", headLimit: 28).0)
    }

    func testRandomBytesNeverTrapAndResultsStayInsideTheInput() {
        var random = SplitMix64(seed: 13)
        let alphabet = Array("GET /HTP1.\r\n: Hostabc\t?0".utf8) + [0, 0x7F, 0xC3, 0xA9]
        for _ in 0..<20_000 {
            let count = Int(random.next() % 96)
            var bytes = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8.prefix(Int(random.next() % 26)))
            for _ in 0..<count { bytes.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            bytes.withUnsafeBufferPointer { buffer in
                guard let request = try? HTTPRequest.parse(buffer) else { return }
                XCTAssertLessThanOrEqual(request.headBytes, buffer.count)
                XCTAssertLessThanOrEqual(request.path.upperBound, request.headBytes)
                XCTAssertEqual(buffer[request.path.lowerBound], UInt8(ascii: "/"))
            }
        }
    }
}
