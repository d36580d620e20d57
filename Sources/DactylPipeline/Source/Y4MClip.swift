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
    /// The file ended at `offset`, inside frame `frame`, while it was being played: it was
    /// truncated after it was opened.
    case truncatedWhilePlaying(path: String, frame: Int, offset: Int)
    /// Reading at `offset` failed; `reason` is the operating system's text for errno.
    case readFailed(path: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open clip: \(reason)"
        case .notY4M(let path):
            return "\(path): offset 0: expected a YUV4MPEG2 clip (\"YUV4MPEG2 \" at the start)"
        case .unterminatedHeader(let path):
            return "\(path): offset 0: the YUV4MPEG2 stream header has no terminating newline "
                + "within its first \(Y4MClip.maximumHeaderBytes) bytes"
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
        case .truncatedWhilePlaying(let path, let frame, let offset):
            return "\(path): offset \(offset): frame \(frame): the clip ends here; it was truncated while it was being read"
        case .readFailed(let path, let offset, let reason):
            return "\(path): offset \(offset): cannot read the clip: \(reason)"
        }
    }
}

/// A YUV4MPEG2 clip (the format `ffmpeg -f yuv4mpegpipe` writes), read frame by frame.
///
/// Opening checks the whole file once (every frame marker is read and every frame's data is
/// known to be complete), so a clip that opens plays unless the file changes under it. Frames
/// are read with `pread` into one frame buffer that the clip owns, not mapped: memory stays one
/// frame for a clip of any length, and a file truncated while it plays gives an error (the
/// cursor's `error`) naming the file and the frame instead of killing the process with SIGBUS.
public final class Y4MClip {
    public let path: String
    public let width: Int
    public let height: Int
    public let chroma: ChromaSubsampling
    public let colorRange: ColorRange
    /// Frames per second as a fraction, when the header gives it (`F30000:1001`).
    public let frameRate: (numerator: Int, denominator: Int)?
    public let frameCount: Int

    private let source: ClipBytes
    private let firstFrameOffset: Int
    /// Y, U and V planes of one frame together.
    fileprivate let frameDataBytes: Int
    /// The frame the last read put there: every cursor of this clip reads into it.
    private let frameBuffer: UnsafeMutablePointer<UInt8>
    /// Where marker lines are read, a chunk at a time.
    private let markerBuffer: UnsafeMutablePointer<UInt8>

    /// Larger than any camera's frames, small enough that no size or resize position computed
    /// from it can come near overflow.
    public static let maximumDimension = 16384
    /// The stream header must end within this many bytes (real ones are under 100).
    public static let maximumHeaderBytes = 4096
    private static let markerChunkBytes = 128

    /// Opens and checks the clip at `path`. A FIFO, device or directory is refused without
    /// waiting on it.
    public convenience init(path: String) throws(ClipError) {
        try self.init(source: try ClipBytes(path: path), path: path)
    }

    /// Checks a clip that lives in memory the caller keeps alive (e.g. one built into the
    /// binary); `name` names it in errors.
    public convenience init(borrowing bytes: UnsafeRawBufferPointer, name: String) throws(ClipError) {
        try self.init(source: ClipBytes(borrowing: bytes), path: name)
    }

    private init(source: consuming ClipBytes, path: String) throws(ClipError) {
        let headerBytes = min(source.size, Y4MClip.maximumHeaderBytes)
        let headerBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, headerBytes), alignment: 1)
        defer { headerBuffer.deallocate() }
        let headerRead = try source.read(into: headerBuffer.baseAddress!, count: headerBytes, at: 0, path: path)
        let header = try StreamHeader(parsing: UnsafeRawBufferPointer(rebasing: headerBuffer[0..<headerRead]), path: path)
        let chromaWidth = header.chroma.chromaWidth(forWidth: header.width)
        let chromaHeight = header.chroma.chromaHeight(forHeight: header.height)
        let frameDataBytes = header.width * header.height + 2 * chromaWidth * chromaHeight

        let markerBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Y4MClip.markerChunkBytes)
        var offset = header.endOffset
        var frameCount = 0
        do throws(ClipError) {
            while offset < source.size {
                let dataOffset = try Y4MClip.dataOffset(
                    ofMarkerAt: offset, frame: frameCount, source: source, buffer: markerBuffer, path: path)
                let available = source.size - dataOffset
                guard available >= frameDataBytes else {
                    throw .shortFrame(path: path, frame: frameCount, offset: dataOffset,
                                      expectedBytes: frameDataBytes, availableBytes: available)
                }
                offset = dataOffset + frameDataBytes
                frameCount += 1
            }
            guard frameCount > 0 else { throw .noFrames(path: path, offset: header.endOffset) }
        } catch {
            markerBuffer.deallocate()
            throw error
        }

        self.path = path
        self.width = header.width
        self.height = header.height
        self.chroma = header.chroma
        self.colorRange = header.colorRange
        self.frameRate = header.frameRate
        self.frameCount = frameCount
        self.source = source
        self.firstFrameOffset = header.endOffset
        self.frameDataBytes = frameDataBytes
        // Allocated only now that the file is known to hold a whole frame of this size.
        self.frameBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: frameDataBytes)
        self.markerBuffer = markerBuffer
    }

    deinit {
        frameBuffer.deallocate()
        markerBuffer.deallocate()
    }

    /// A cursor at frame `index` (0 by default); it reads the markers before that frame once.
    /// An index outside the clip gives a cursor at the end.
    public func makeFrameCursor(at index: Int = 0) -> Y4MFrameCursor {
        var cursor = Y4MFrameCursor(clip: self, markerOffset: firstFrameOffset)
        cursor.skip(max(0, min(index, frameCount)))
        return cursor
    }

    /// Frame `index`, in the clip's frame buffer (valid until the next frame is read from this
    /// clip); O(index) marker reads: use a cursor to play the clip.
    public func frame(at index: Int) throws(ClipError) -> YUVFrame {
        var cursor = makeFrameCursor(at: index)
        if let error = cursor.error { throw error }
        guard index >= 0, index < frameCount, let frame = cursor.next() else {
            if let error = cursor.error { throw error }
            throw .noFrames(path: path, offset: firstFrameOffset)
        }
        return frame
    }

    /// Reads the marker of frame `frame` at `markerOffset`; returns where its data starts.
    fileprivate func dataOffset(ofMarkerAt markerOffset: Int, frame: Int) throws(ClipError) -> Int {
        do {
            return try Y4MClip.dataOffset(ofMarkerAt: markerOffset, frame: frame, source: source,
                                          buffer: markerBuffer, path: path)
        } catch {
            // The marker was there when the clip was opened: an end of file now is a truncation.
            if case .badFrameMarker(_, _, let offset, let found) = error, found.isEmpty {
                throw .truncatedWhilePlaying(path: path, frame: frame, offset: offset)
            }
            throw error
        }
    }

    /// Reads frame `frame`'s data at `dataOffset` into the frame buffer.
    fileprivate func readFrame(dataOffset: Int, frame: Int) throws(ClipError) -> YUVFrame {
        let read = try source.read(into: frameBuffer, count: frameDataBytes, at: dataOffset, path: path)
        guard read == frameDataBytes else {
            throw .truncatedWhilePlaying(path: path, frame: frame, offset: dataOffset + read)
        }
        let chromaWidth = chroma.chromaWidth(forWidth: width)
        let chromaPlaneBytes = chromaWidth * chroma.chromaHeight(forHeight: height)
        let y = UnsafePointer(frameBuffer)
        let u = y + width * height
        return YUVFrame(width: width, height: height, chroma: chroma, colorRange: colorRange,
                        y: y, yStride: width, u: u, v: u + chromaPlaneBytes, uvStride: chromaWidth)
    }

    private static let frameMarker: StaticString = "FRAME"

    /// Checks the `FRAME[ params]\n` marker of frame `frame` at `offset` and returns where
    /// its picture data starts. Frame parameters are allowed and ignored; the line is read a
    /// chunk at a time into `buffer`.
    private static func dataOffset(ofMarkerAt offset: Int, frame: Int, source: borrowing ClipBytes,
                                   buffer: UnsafeMutablePointer<UInt8>, path: String) throws(ClipError) -> Int {
        var read = try source.read(into: buffer, count: markerChunkBytes, at: offset, path: path)
        let first = UnsafeRawBufferPointer(start: buffer, count: read)
        let markerEnd = frameMarker.utf8CodeUnitCount
        guard markerEnd < first.count, first.matches(frameMarker, at: 0),
              first[markerEnd] == newline || first[markerEnd] == space else {
            throw .badFrameMarker(path: path, frame: frame, offset: offset, found: excerpt(of: first, at: 0))
        }
        var chunkStart = offset
        var searchFrom = markerEnd
        while true {
            let chunk = UnsafeRawBufferPointer(start: buffer, count: read)
            if let lineEnd = firstNewline(in: chunk, from: searchFrom) { return chunkStart + lineEnd + 1 }
            guard read == markerChunkBytes else {
                // The excerpt is of the marker's start, read again: only on this error path.
                let again = try source.read(into: buffer, count: markerChunkBytes, at: offset, path: path)
                throw .badFrameMarker(path: path, frame: frame, offset: offset,
                                      found: excerpt(of: UnsafeRawBufferPointer(start: buffer, count: again), at: 0))
            }
            chunkStart += read
            searchFrom = 0
            read = try source.read(into: buffer, count: markerChunkBytes, at: chunkStart, path: path)
        }
    }
}

/// Walks a clip's frames in order; each step reads one marker line and one frame.
public struct Y4MFrameCursor: IteratorProtocol {
    public let clip: Y4MClip
    /// Index of the frame `next()` returns.
    public private(set) var frameIndex = 0
    /// Why `next()` returned nil before the clip's last frame (the file was truncated or could
    /// not be read while playing); nil while all is well. Check it after the loop.
    public private(set) var error: ClipError? = nil
    private var markerOffset: Int

    fileprivate init(clip: Y4MClip, markerOffset: Int) {
        self.clip = clip
        self.markerOffset = markerOffset
    }

    /// The next frame, or nil after the last one or on an error (see `error`). Its planes are
    /// the clip's frame buffer: valid until the next frame is read from this clip.
    public mutating func next() -> YUVFrame? {
        guard error == nil, frameIndex < clip.frameCount else { return nil }
        do throws(ClipError) {
            let dataOffset = try clip.dataOffset(ofMarkerAt: markerOffset, frame: frameIndex)
            let frame = try clip.readFrame(dataOffset: dataOffset, frame: frameIndex)
            markerOffset = dataOffset + clip.frameDataBytes
            frameIndex += 1
            return frame
        } catch {
            self.error = error
            return nil
        }
    }

    /// Moves past `count` frames, reading only their markers.
    fileprivate mutating func skip(_ count: Int) {
        for _ in 0..<count where error == nil {
            do throws(ClipError) {
                markerOffset = try clip.dataOffset(ofMarkerAt: markerOffset, frame: frameIndex) + clip.frameDataBytes
                frameIndex += 1
            } catch {
                self.error = error
            }
        }
    }
}

/// Where a clip's bytes come from: a regular file read with pread, or memory the caller owns.
/// The file is closed when this value ends.
private struct ClipBytes: ~Copyable {
    private let descriptor: Int32
    private let borrowed: UnsafeRawBufferPointer?
    /// Bytes in the file when it was opened.
    let size: Int

    init(path: String) throws(ClipError) {
        var fileSize: Int64 = 0
        var errorNumber: Int32 = 0
        let fd = dactyl_open_regular_file(path, &fileSize, &errorNumber)
        guard fd >= 0 else {
            throw .cannotOpen(path: path, reason: String(cString: dactyl_error_text(errorNumber)))
        }
        descriptor = fd
        borrowed = nil
        size = Int(fileSize)
    }

    init(borrowing bytes: UnsafeRawBufferPointer) {
        descriptor = -1
        borrowed = bytes
        size = bytes.count
    }

    /// Reads up to `count` bytes at `offset` into `buffer`; fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int, path: String) throws(ClipError) -> Int {
        if let borrowed {
            let available = max(0, min(count, borrowed.count - offset))
            if available > 0 { buffer.copyMemory(from: borrowed.baseAddress! + offset, byteCount: available) }
            return available
        }
        var errorNumber: Int32 = 0
        let read = dactyl_read_at(descriptor, buffer, count, Int64(offset), &errorNumber)
        guard read >= 0 else {
            throw .readFailed(path: path, offset: offset, reason: String(cString: dactyl_error_text(errorNumber)))
        }
        return read
    }

    deinit {
        if descriptor >= 0 { dactyl_close(descriptor) }
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
