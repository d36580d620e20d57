import CDactylPlatform

/// Why a YUV4MPEG2 clip cannot be played. Each case names the file and, where a position in
/// it means something, the byte offset and what was expected there; the CLI prints
/// `description` on one line.
///
/// Not Equatable: comparing the String payloads is Unicode-aware and would pull the Unicode
/// data tables into the board binary.
public enum ClipError: Error, CustomStringConvertible {
    /// The file could not be mapped; `reason` is the operating system's text for errno.
    case cannotOpen(path: String, reason: String)
    /// The file does not start with `YUV4MPEG2` followed by a space or a newline.
    case notY4M(path: String)
    /// The stream header has no terminating newline.
    case unterminatedHeader(path: String)
    /// A header parameter whose value cannot be read as what its tag requires.
    case badParameter(path: String, offset: Int, found: String, expected: String)
    /// `W` or `H` is absent from the stream header.
    case missingParameter(path: String, tag: String)
    case unsupportedChroma(path: String, offset: Int, found: String)
    case unsupportedInterlacing(path: String, offset: Int, found: String)
    case unsupportedColorRange(path: String, offset: Int, found: String)
    /// The stream header is not followed by a single frame.
    case noFrames(path: String, offset: Int)
    /// Where frame `frame` should start there is no `FRAME[ params]\n` marker.
    case badFrameMarker(path: String, frame: Int, offset: Int, found: String)
    /// Frame `frame`'s data, starting at `offset`, ends before the frame is complete.
    case shortFrame(path: String, frame: Int, offset: Int, expectedBytes: Int, availableBytes: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open clip: \(reason)"
        case .notY4M(let path):
            return "\(path): offset 0: expected a YUV4MPEG2 clip (\"YUV4MPEG2 \" at the start)"
        case .unterminatedHeader(let path):
            return "\(path): offset 0: the YUV4MPEG2 stream header has no terminating newline"
        case .badParameter(let path, let offset, let found, let expected):
            return "\(path): offset \(offset): expected \(expected), found \"\(found)\""
        case .missingParameter(let path, let tag):
            return "\(path): offset 0: expected a \(tag) parameter in the stream header "
                + "(the frame width W and height H are required)"
        case .unsupportedChroma(let path, let offset, let found):
            return "\(path): offset \(offset): unsupported colour space \"\(found)\", "
                + "expected C420jpeg, C420paldv, C420mpeg2, C420, C422 or C444"
        case .unsupportedInterlacing(let path, let offset, let found):
            return "\(path): offset \(offset): unsupported interlacing \"\(found)\", "
                + "expected progressive frames (Ip or I?)"
        case .unsupportedColorRange(let path, let offset, let found):
            return "\(path): offset \(offset): unsupported colour range \"\(found)\", "
                + "expected XCOLORRANGE=FULL or XCOLORRANGE=LIMITED"
        case .noFrames(let path, let offset):
            return "\(path): offset \(offset): expected a FRAME marker, the clip has no frames"
        case .badFrameMarker(let path, let frame, let offset, let found):
            return "\(path): offset \(offset): frame \(frame): expected \"FRAME\" and a newline, "
                + "found \"\(found)\""
        case .shortFrame(let path, let frame, let offset, let expectedBytes, let availableBytes):
            return "\(path): offset \(offset): frame \(frame) is truncated: expected \(expectedBytes) "
                + "bytes of picture data, found \(availableBytes)"
        }
    }
}

/// A YUV4MPEG2 clip (the format `ffmpeg -f yuv4mpegpipe` writes), mapped read-only.
///
/// Opening checks the whole file once, so that playing it cannot fail half-way: every frame
/// marker is read and every frame's data is known to be complete. Nothing is kept per frame,
/// so a clip of any length costs the same memory; frames are found by walking the markers,
/// which `Y4MFrameCursor` does in O(1) per frame.
public final class Y4MClip {
    public let path: String
    public let width: Int
    public let height: Int
    public let chroma: ChromaSubsampling
    public let colorRange: ColorRange
    /// Frames per second as a fraction, when the header gives it (`F30000:1001`).
    public let frameRate: (numerator: Int, denominator: Int)?
    public let frameCount: Int

    private let mapping: ReadOnlyMapping
    private let firstFrameOffset: Int
    /// Y, U and V planes of one frame together.
    fileprivate let frameDataBytes: Int

    /// Larger than any camera's frames, small enough that no size or resize position computed
    /// from it can come near overflow.
    public static let maximumDimension = 16384

    /// Maps and checks the clip at `path`.
    public convenience init(path: String) throws(ClipError) {
        try self.init(mapping: try ReadOnlyMapping(path: path), path: path)
    }

    /// Checks a clip that lives in memory the caller keeps alive (e.g. one built into the
    /// binary); `name` names it in errors.
    public convenience init(borrowing bytes: UnsafeRawBufferPointer, name: String) throws(ClipError) {
        try self.init(mapping: ReadOnlyMapping(borrowing: bytes), path: name)
    }

    private init(mapping: consuming ReadOnlyMapping, path: String) throws(ClipError) {
        let bytes = mapping.bytes
        let header = try StreamHeader(parsing: bytes, path: path)
        let chromaWidth = header.chroma.chromaWidth(forWidth: header.width)
        let chromaHeight = header.chroma.chromaHeight(forHeight: header.height)
        let frameDataBytes = header.width * header.height + 2 * chromaWidth * chromaHeight

        var offset = header.endOffset
        var frameCount = 0
        while offset < bytes.count {
            let dataOffset = try Y4MClip.dataOffset(ofMarkerAt: offset, frame: frameCount, in: bytes, path: path)
            let available = bytes.count - dataOffset
            guard available >= frameDataBytes else {
                throw .shortFrame(path: path, frame: frameCount, offset: dataOffset,
                                  expectedBytes: frameDataBytes, availableBytes: available)
            }
            offset = dataOffset + frameDataBytes
            frameCount += 1
        }
        guard frameCount > 0 else { throw .noFrames(path: path, offset: header.endOffset) }

        self.path = path
        self.width = header.width
        self.height = header.height
        self.chroma = header.chroma
        self.colorRange = header.colorRange
        self.frameRate = header.frameRate
        self.frameCount = frameCount
        self.mapping = mapping
        self.firstFrameOffset = header.endOffset
        self.frameDataBytes = frameDataBytes
    }

    /// A cursor at frame `index` (0 by default); it walks the markers before that frame once.
    public func makeFrameCursor(at index: Int = 0) -> Y4MFrameCursor {
        precondition(index >= 0 && index <= frameCount, "frame index out of range")
        var cursor = Y4MFrameCursor(clip: self, markerOffset: firstFrameOffset)
        for _ in 0..<index { _ = cursor.next() }
        return cursor
    }

    /// Frame `index`; O(index), use a cursor to play the clip.
    public func frame(at index: Int) -> YUVFrame {
        precondition(index >= 0 && index < frameCount, "frame index out of range")
        var cursor = makeFrameCursor(at: index)
        // The precondition above guarantees a frame is there.
        return cursor.next()!
    }

    /// The frame whose data starts at `dataOffset`; the planes follow each other, Y then U then V.
    fileprivate func frame(dataOffset: Int) -> YUVFrame {
        let y = mapping.bytes.baseAddress!.advanced(by: dataOffset).assumingMemoryBound(to: UInt8.self)
        let chromaWidth = chroma.chromaWidth(forWidth: width)
        let chromaPlaneBytes = chromaWidth * chroma.chromaHeight(forHeight: height)
        let u = y + width * height
        return YUVFrame(width: width, height: height, chroma: chroma, colorRange: colorRange,
                        y: y, yStride: width, u: u, v: u + chromaPlaneBytes, uvStride: chromaWidth)
    }

    /// Offset of the byte after the marker line; the marker itself was validated at open.
    fileprivate func dataOffset(ofValidatedMarkerAt offset: Int) -> Int {
        let bytes = mapping.bytes
        var end = offset + Y4MClip.frameMarker.utf8CodeUnitCount
        while bytes[end] != newline { end += 1 }
        return end + 1
    }

    fileprivate var fileBytes: Int { mapping.bytes.count }

    private static let frameMarker: StaticString = "FRAME"

    /// Checks the `FRAME[ params]\n` marker of frame `frame` at `offset` and returns where
    /// its picture data starts. Frame parameters are allowed and ignored.
    private static func dataOffset(ofMarkerAt offset: Int, frame: Int, in bytes: UnsafeRawBufferPointer,
                                   path: String) throws(ClipError) -> Int {
        let markerEnd = offset + frameMarker.utf8CodeUnitCount
        guard markerEnd < bytes.count, bytes.matches(frameMarker, at: offset),
              bytes[markerEnd] == newline || bytes[markerEnd] == space else {
            throw .badFrameMarker(path: path, frame: frame, offset: offset,
                                  found: excerpt(of: bytes, at: offset))
        }
        guard let lineEnd = firstNewline(in: bytes, from: markerEnd) else {
            throw .badFrameMarker(path: path, frame: frame, offset: offset,
                                  found: excerpt(of: bytes, at: offset))
        }
        return lineEnd + 1
    }
}

/// Walks a clip's frames in order; each step reads one marker line.
public struct Y4MFrameCursor: IteratorProtocol {
    public let clip: Y4MClip
    /// Index of the frame `next()` returns.
    public private(set) var frameIndex = 0
    private var markerOffset: Int

    fileprivate init(clip: Y4MClip, markerOffset: Int) {
        self.clip = clip
        self.markerOffset = markerOffset
    }

    /// The next frame, or nil after the last one. Its planes point into the clip's mapping and
    /// stay valid while the clip lives.
    public mutating func next() -> YUVFrame? {
        guard markerOffset < clip.fileBytes else { return nil }
        let dataOffset = clip.dataOffset(ofValidatedMarkerAt: markerOffset)
        markerOffset = dataOffset + clip.frameDataBytes
        frameIndex += 1
        return clip.frame(dataOffset: dataOffset)
    }
}

/// A whole file mapped read-only, unmapped when this value ends.
private struct ReadOnlyMapping: ~Copyable {
    let bytes: UnsafeRawBufferPointer
    /// False for memory the caller owns.
    let mapped: Bool

    init(path: String) throws(ClipError) {
        var size = 0
        var errorNumber: Int32 = 0
        guard let address = dactyl_map_file(path, &size, &errorNumber) else {
            throw .cannotOpen(path: path, reason: String(cString: dactyl_error_text(errorNumber)))
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        mapped = true
    }

    init(borrowing bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        mapped = false
    }

    deinit {
        if mapped, let address = bytes.baseAddress { dactyl_unmap_file(address, bytes.count) }
    }
}

/// The stream header line: `YUV4MPEG2` and space-separated parameters in any order, each a
/// one-letter tag and its value.
private struct StreamHeader {
    var width = 0
    var height = 0
    var chroma = ChromaSubsampling.yuv420
    var colorRange = ColorRange.limited
    var frameRate: (numerator: Int, denominator: Int)?
    /// Offset of the first byte after the header's newline.
    var endOffset = 0

    private static let magic: StaticString = "YUV4MPEG2"

    init(parsing bytes: UnsafeRawBufferPointer, path: String) throws(ClipError) {
        let magicEnd = StreamHeader.magic.utf8CodeUnitCount
        guard bytes.count > magicEnd, bytes.matches(StreamHeader.magic, at: 0),
              bytes[magicEnd] == space || bytes[magicEnd] == newline else {
            throw .notY4M(path: path)
        }
        guard let headerEnd = firstNewline(in: bytes, from: magicEnd) else {
            throw .unterminatedHeader(path: path)
        }

        var hasWidth = false
        var hasHeight = false
        var tokenStart = magicEnd
        while tokenStart < headerEnd {
            if bytes[tokenStart] == space {
                tokenStart += 1
                continue
            }
            var tokenEnd = tokenStart
            while tokenEnd < headerEnd && bytes[tokenEnd] != space { tokenEnd += 1 }
            let token = Token(bytes: bytes, start: tokenStart, end: tokenEnd, path: path)
            switch bytes[tokenStart] {
            case ascii("W"):
                width = try token.dimension(named: "width")
                hasWidth = true
            case ascii("H"):
                height = try token.dimension(named: "height")
                hasHeight = true
            case ascii("F"):
                let rate = try token.ratio(expected: "a frame rate F<numerator>:<denominator>")
                guard rate.numerator > 0 && rate.denominator > 0 else {
                    throw token.bad(expected: "a positive frame rate F<numerator>:<denominator>")
                }
                frameRate = rate
            case ascii("A"):
                // Pixel aspect ratio (0:0 = unknown): checked for form only, the crop is in pixels.
                _ = try token.ratio(expected: "a pixel aspect ratio A<numerator>:<denominator>")
            case ascii("I"):
                guard token.valueIs("p") || token.valueIs("?") else {
                    throw .unsupportedInterlacing(path: path, offset: tokenStart, found: token.text)
                }
            case ascii("C"):
                if token.valueIs("420jpeg") || token.valueIs("420paldv") || token.valueIs("420mpeg2")
                    || token.valueIs("420") {
                    chroma = .yuv420
                } else if token.valueIs("422") {
                    chroma = .yuv422
                } else if token.valueIs("444") {
                    chroma = .yuv444
                } else {
                    throw .unsupportedChroma(path: path, offset: tokenStart, found: token.text)
                }
            case ascii("X"):
                if token.valueStarts(with: "COLORRANGE=") {
                    if token.valueIs("COLORRANGE=FULL") {
                        colorRange = .full
                    } else if token.valueIs("COLORRANGE=LIMITED") {
                        colorRange = .limited
                    } else {
                        throw .unsupportedColorRange(path: path, offset: tokenStart, found: token.text)
                    }
                }
                // Other X parameters are application extensions that do not change the pixels.
            default:
                // The format reserves unknown tags for future use; readers skip them.
                break
            }
            tokenStart = tokenEnd
        }
        guard hasWidth else { throw .missingParameter(path: path, tag: "W") }
        guard hasHeight else { throw .missingParameter(path: path, tag: "H") }
        endOffset = headerEnd + 1
    }
}

/// One header parameter, `bytes[start..<end]`, its tag byte first.
private struct Token {
    let bytes: UnsafeRawBufferPointer
    let start: Int
    let end: Int
    let path: String

    /// The whole parameter as text, for error messages.
    var text: String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// Byte comparisons rather than String ones: String equality is Unicode-aware and would pull
    /// the Unicode data tables into the board binary.
    func valueIs(_ literal: StaticString) -> Bool {
        end - start - 1 == literal.utf8CodeUnitCount && valueStarts(with: literal)
    }

    func valueStarts(with literal: StaticString) -> Bool {
        end - start - 1 >= literal.utf8CodeUnitCount && bytes.matches(literal, at: start + 1)
    }

    func bad(expected: String) -> ClipError {
        .badParameter(path: path, offset: start, found: text, expected: expected)
    }

    func dimension(named name: String) throws(ClipError) -> Int {
        let expected = "a \(name) of 1...\(Y4MClip.maximumDimension) pixels"
        guard let value = decimal(start + 1, end), value >= 1, value <= Y4MClip.maximumDimension else {
            throw bad(expected: expected)
        }
        return value
    }

    func ratio(expected: String) throws(ClipError) -> (numerator: Int, denominator: Int) {
        var colon = start + 1
        while colon < end && bytes[colon] != ascii(":") { colon += 1 }
        guard colon < end, let numerator = decimal(start + 1, colon), let denominator = decimal(colon + 1, end) else {
            throw bad(expected: expected)
        }
        return (numerator, denominator)
    }

    /// A non-negative decimal of at most nine digits (so it cannot overflow), or nil.
    private func decimal(_ from: Int, _ to: Int) -> Int? {
        guard to > from && to - from <= 9 else { return nil }
        var value = 0
        for i in from..<to {
            let digit = Int(bytes[i]) - Int(ascii("0"))
            guard digit >= 0 && digit <= 9 else { return nil }
            value = value * 10 + digit
        }
        return value
    }
}

private let newline = ascii("\n")
private let space = ascii(" ")

private func ascii(_ character: Unicode.Scalar) -> UInt8 { UInt8(character.value) }

extension UnsafeRawBufferPointer {
    /// Whether the bytes at `offset` are `literal`'s (false where they would run past the end).
    fileprivate func matches(_ literal: StaticString, at offset: Int) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard offset + count <= self.count else { return false }
        for i in 0..<count where self[offset + i] != literal.utf8Start[i] { return false }
        return true
    }
}

private func firstNewline(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
    var index = start
    while index < bytes.count {
        if bytes[index] == newline { return index }
        index += 1
    }
    return nil
}

/// Up to 16 bytes at `offset`, up to the end of the line, printable ASCII kept and the rest
/// shown as `?`, for messages about bytes that were supposed to be text.
private func excerpt(of bytes: UnsafeRawBufferPointer, at offset: Int) -> String {
    let end = min(bytes.count, offset + 16)
    return String(unsafeUninitializedCapacity: end - offset) { text in
        var count = 0
        while offset + count < end && bytes[offset + count] != newline {
            let byte = bytes[offset + count]
            text[count] = byte >= 0x20 && byte < 0x7F ? byte : ascii("?")
            count += 1
        }
        return count
    }
}
