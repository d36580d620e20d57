/// An HTTP/1.x request head as the preview server reads it (RFC 9112): the request line and
/// the header fields up to the blank line, from bytes a client sent. The server only serves
/// GET and HEAD without a body, so that is all the parser accepts; anything else is one of
/// `HTTPRequestError`, which names the status code to answer with. It reads the bytes in place
/// (no copies, no allocation), so it can run on every read of a connection's fixed buffer.
public struct HTTPRequest: Equatable {
    public enum Method: Equatable, Sendable {
        case get, head
    }

    public let method: Method
    /// The path of the request target (origin-form, or the path of an absolute-form target),
    /// as byte offsets into the parsed bytes; the query, if any, is not part of it.
    public let path: Range<Int>
    /// The query after `?` (without it), if any.
    public let query: Range<Int>?
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public let minorVersion: Int
    /// Bytes of the request head, its final blank line included.
    public let headBytes: Int
    /// Header fields read.
    public let fieldCount: Int

    /// The longest request head read (request line and fields): a larger one is refused (431).
    public static let defaultHeadLimit = 4096
    /// The longest request target (414 beyond it).
    public static let maximumTargetBytes = 1024
    /// The most header fields (431 beyond it).
    public static let maximumFields = 48

    /// Parses the request head at the start of `bytes`. Returns nil while the head is
    /// incomplete (no blank line yet) and shorter than `headLimit`, so that the caller reads
    /// more; throws as soon as the bytes can no longer become an acceptable request.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, headLimit: Int = defaultHeadLimit) throws(HTTPRequestError) -> HTTPRequest? {
        var reader = LineReader(bytes: bytes, limit: min(bytes.count, headLimit))
        // RFC 9112 2.2: a server should ignore at least one empty line before the request line.
        var requestLine = try reader.nextLine(headLimit: headLimit)
        if let line = requestLine, line.isEmpty { requestLine = try reader.nextLine(headLimit: headLimit) }
        guard let line = requestLine else { return nil }
        guard !line.isEmpty else { throw .malformedRequestLine }

        // method SP request-target SP HTTP-version, single spaces.
        guard let firstSpace = index(of: space, in: bytes, line) else { throw .malformedRequestLine }
        let methodRange = line.lowerBound..<firstSpace
        guard !methodRange.isEmpty, methodRange.allSatisfy({ isTokenByte(bytes[$0]) }) else { throw .malformedRequestLine }
        let afterMethod = firstSpace + 1..<line.upperBound
        guard let secondSpace = index(of: space, in: bytes, afterMethod) else { throw .malformedRequestLine }
        let target = afterMethod.lowerBound..<secondSpace
        let version = secondSpace + 1..<line.upperBound
        guard !target.isEmpty else { throw .malformedRequestLine }
        guard version.count == 8, matches(bytes, version.lowerBound, "HTTP/1."), isDigit(bytes[version.lowerBound + 7]) else {
            if version.count >= 5 && matches(bytes, version.lowerBound, "HTTP/") { throw .unsupportedVersion }
            throw .malformedRequestLine
        }
        let minorVersion = Int(bytes[version.lowerBound + 7] - UInt8(ascii: "0"))

        let method: Method
        if equals(bytes, methodRange, "GET") {
            method = .get
        } else if equals(bytes, methodRange, "HEAD") {
            method = .head
        } else {
            throw .methodNotAllowed
        }
        guard target.count <= maximumTargetBytes else { throw .targetTooLong }
        let (path, query) = try parseTarget(bytes, target)

        // Header fields: name ":" OWS value OWS; no obsolete line folding.
        var fields = 0, hosts = 0
        while true {
            guard let field = try reader.nextLine(headLimit: headLimit) else { return nil }
            if field.isEmpty { break }
            fields += 1
            guard fields <= maximumFields else { throw .headTooLarge }
            let first = bytes[field.lowerBound]
            guard first != space && first != tab else { throw .malformedField }
            guard let colon = index(of: UInt8(ascii: ":"), in: bytes, field) else { throw .malformedField }
            let name = field.lowerBound..<colon
            guard !name.isEmpty, name.allSatisfy({ isTokenByte(bytes[$0]) }) else { throw .malformedField }
            for position in colon + 1..<field.upperBound {
                let byte = bytes[position]
                // Field values are visible bytes, spaces and tabs (obs-text included); no NUL or
                // other control bytes.
                guard byte >= 0x20 || byte == tab, byte != 0x7F else { throw .malformedField }
            }
            let value = trimmed(bytes, colon + 1..<field.upperBound)
            if equalsIgnoringCase(bytes, name, "host") { hosts += 1 }
            if equalsIgnoringCase(bytes, name, "transfer-encoding") { throw .bodyNotAccepted }
            if equalsIgnoringCase(bytes, name, "content-length") {
                // A body of 0 bytes is no body; anything else is refused (the server reads none).
                guard !value.isEmpty, value.allSatisfy({ isDigit(bytes[$0]) }) else { throw .malformedField }
                guard value.allSatisfy({ bytes[$0] == UInt8(ascii: "0") }) else { throw .bodyNotAccepted }
            }
        }
        // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host field.
        if (minorVersion >= 1 && hosts != 1) || hosts > 1 { throw .badHost }
        return HTTPRequest(method: method, path: path, query: query, minorVersion: minorVersion, headBytes: reader.position,
                           fieldCount: fields)
    }

    /// Whether the path is exactly `literal` (e.g. "/events").
    public func pathIs(_ literal: StaticString, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        HTTPRequest.equals(bytes, path, literal)
    }

    // MARK: - Pieces

    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")

    /// origin-form (`/path?query`) or absolute-form (`http://host/path?query`); not the
    /// authority or asterisk forms, which only CONNECT and OPTIONS use.
    static func parseTarget(_ bytes: UnsafeBufferPointer<UInt8>, _ target: Range<Int>) throws(HTTPRequestError) -> (Range<Int>, Range<Int>?) {
        for position in target {
            let byte = bytes[position]
            // Visible ASCII only: no controls, spaces, DEL or raw non-ASCII bytes.
            guard byte > 0x20 && byte < 0x7F else { throw .badTarget }
        }
        var start = target.lowerBound
        if bytes[start] != UInt8(ascii: "/") {
            guard matchesIgnoringCase(bytes, start, target.upperBound, "http://") else { throw .badTarget }
            let authority = start + 7
            guard let slash = index(of: UInt8(ascii: "/"), in: bytes, authority..<target.upperBound), slash > authority else {
                throw .badTarget
            }
            start = slash
        }
        if let mark = index(of: UInt8(ascii: "?"), in: bytes, start..<target.upperBound) {
            return (start..<mark, mark + 1..<target.upperBound)
        }
        return (start..<target.upperBound, nil)
    }

    static func index(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        for position in range where bytes[position] == byte { return position }
        return nil
    }

    /// RFC 9110 5.6.2 tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound, upper = range.upperBound
        while lower < upper && (bytes[lower] == space || bytes[lower] == tab) { lower += 1 }
        while upper > lower && (bytes[upper - 1] == space || bytes[upper - 1] == tab) { upper -= 1 }
        return lower..<upper
    }

    static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { text in
            guard start + text.count <= bytes.count else { return false }
            for index in 0..<text.count where bytes[start + index] != text[index] { return false }
            return true
        }
    }

    static func matchesIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { text in
            guard start + text.count <= end else { return false }
            for index in 0..<text.count where lowercased(bytes[start + index]) != text[index] { return false }
            return true
        }
    }

    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.utf8CodeUnitCount == range.count && matches(bytes, range.lowerBound, literal)
    }

    static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        literal.utf8CodeUnitCount == range.count && matchesIgnoringCase(bytes, range.lowerBound, range.upperBound, literal)
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}

/// Lines of a request head: each ends with CRLF, or a bare LF (RFC 9112 2.2 lets a recipient
/// accept one); a bare CR elsewhere is an error.
struct LineReader {
    let bytes: UnsafeBufferPointer<UInt8>
    /// How far the head may be read (the bytes received, at most the head limit).
    let limit: Int
    private(set) var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, limit: Int) {
        self.bytes = bytes
        self.limit = limit
    }

    /// The next line without its ending; nil when no line end has arrived yet (and the limit
    /// is not reached: a head that fills the limit without its end throws).
    mutating func nextLine(headLimit: Int) throws(HTTPRequestError) -> Range<Int>? {
        var index = position
        while index < limit {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                let end = index > position && bytes[index - 1] == UInt8(ascii: "\r") ? index - 1 : index
                let line = position..<end
                position = index + 1
                return line
            }
            if byte == UInt8(ascii: "\r") && index + 1 < limit && bytes[index + 1] != UInt8(ascii: "\n") {
                throw .malformedRequestLine
            }
            if byte == 0 { throw .malformedRequestLine }
            index += 1
        }
        if limit >= headLimit { throw .headTooLarge }
        return nil
    }
}

/// Why a request is refused; `status` is the response's status code.
public enum HTTPRequestError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Not `METHOD SP target SP HTTP/1.x`, or a NUL or stray CR in the head.
    case malformedRequestLine
    /// A version other than HTTP/1.0 and HTTP/1.1.
    case unsupportedVersion
    /// A method other than GET and HEAD.
    case methodNotAllowed
    /// A target that is neither `/path` nor `http://host/path`, or has bytes other than visible ASCII.
    case badTarget
    /// A target longer than `HTTPRequest.maximumTargetBytes`.
    case targetTooLong
    /// A header field that is not `name: value` (or folded, or with control bytes).
    case malformedField
    /// A head longer than the limit, or with more than `HTTPRequest.maximumFields` fields.
    case headTooLarge
    /// HTTP/1.1 without exactly one Host field (or any request with several).
    case badHost
    /// A request with a body (Transfer-Encoding, or Content-Length other than 0).
    case bodyNotAccepted

    public var status: Int {
        switch self {
        case .malformedRequestLine, .badTarget, .malformedField, .badHost: 400
        case .unsupportedVersion: 505
        case .methodNotAllowed: 405
        case .targetTooLong: 414
        case .headTooLarge: 431
        case .bodyNotAccepted: 413
        }
    }

    /// The reason phrase and a short explanation, for the response body.
    public var description: String {
        switch self {
        case .malformedRequestLine: "bad request: expected METHOD /path HTTP/1.1"
        case .unsupportedVersion: "HTTP version not supported: HTTP/1.0 and HTTP/1.1 only"
        case .methodNotAllowed: "method not allowed: GET and HEAD only"
        case .badTarget: "bad request: the target must be /path (visible ASCII)"
        case .targetTooLong: "URI too long: at most \(HTTPRequest.maximumTargetBytes) bytes"
        case .malformedField: "bad request: malformed header field"
        case .headTooLarge: "request header fields too large"
        case .badHost: "bad request: HTTP/1.1 needs exactly one Host field"
        case .bodyNotAccepted: "content too large: no request body is accepted"
        }
    }

    /// The status line's reason phrase.
    public var reason: StaticString {
        switch self {
        case .malformedRequestLine, .badTarget, .malformedField, .badHost: "Bad Request"
        case .unsupportedVersion: "HTTP Version Not Supported"
        case .methodNotAllowed: "Method Not Allowed"
        case .targetTooLong: "URI Too Long"
        case .headTooLarge: "Request Header Fields Too Large"
        case .bodyNotAccepted: "Content Too Large"
        }
    }
}
