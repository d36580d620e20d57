import CDactylPlatform

/// Why a clip cannot be written; names the file and, for a failed write, where in it.
public enum Y4MWriteError: Error, CustomStringConvertible {
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, offset: Int, reason: String)
    /// A frame whose size or chroma differs from the clip's header.
    case frameMismatch(path: String, frame: Int, expected: String, found: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path, let reason):
            return "\(path): cannot create clip: \(reason)"
        case .writeFailed(let path, let offset, let reason):
            return "\(path): offset \(offset): write failed: \(reason)"
        case .frameMismatch(let path, let frame, let expected, let found):
            return "\(path): frame \(frame): expected a \(expected) frame, got \(found)"
        }
    }
}

/// Writes frames in any layout `YUVFrame` describes (YUYV, NV12, planar) as a planar YUV4MPEG2
/// clip that `Y4MClip` (and ffmpeg) read: `C422` for 4:2:2, `C420` for 4:2:0, `C444`. Each
/// frame is assembled in a buffer made once, so writing allocates nothing per frame.
public final class Y4MWriter {
    public let path: String
    public let width: Int
    public let height: Int
    public let chroma: ChromaSubsampling
    public private(set) var framesWritten = 0
    public private(set) var bytesWritten = 0

    private var fd: Int32
    private let buffer: UnsafeMutablePointer<UInt8>
    private let bufferBytes: Int
    private static let frameMarker: StaticString = "FRAME\n"

    /// Creates (or truncates) `path` and writes the stream header. `frameRate` is frames per
    /// second as a fraction; (0, 0) writes 30:1, the rate clips default to.
    public init(path: String, width: Int, height: Int, chroma: ChromaSubsampling, colorRange: ColorRange,
                frameRate: (numerator: Int, denominator: Int)) throws(Y4MWriteError) {
        self.path = path
        self.width = width
        self.height = height
        self.chroma = chroma
        var descriptor: Int32 = -1
        let error = dactyl_record_create_file(path, &descriptor)
        guard error == 0 else { throw .cannotCreate(path: path, reason: String(cString: dactyl_error_text(error))) }
        fd = descriptor
        let planeBytes = width * height + 2 * chroma.chromaWidth(forWidth: width) * chroma.chromaHeight(forHeight: height)
        let markerBytes = Y4MWriter.frameMarker.utf8CodeUnitCount
        bufferBytes = markerBytes + planeBytes
        buffer = .allocate(capacity: bufferBytes)
        for index in 0..<markerBytes { buffer[index] = Y4MWriter.frameMarker.utf8Start[index] }

        var rate = frameRate.numerator > 0 && frameRate.denominator > 0 ? frameRate : (30, 1)
        // In lowest terms (vivid says 251750/4200 for 59.94 fps; the header gets 5035:84).
        var a = rate.0, b = rate.1
        while b != 0 { (a, b) = (b, a % b) }
        rate = (rate.0 / a, rate.1 / a)
        var header = "YUV4MPEG2 W\(width) H\(height) F\(rate.0):\(rate.1) Ip A1:1 \(Y4MWriter.tag(chroma))"
        if colorRange == .full { header += " XCOLORRANGE=FULL" }
        header += "\n"
        let file = fd
        let headerError = header.withUTF8 { bytes in dactyl_write_all(file, bytes.baseAddress, bytes.count) }
        guard headerError == 0 else {
            _ = dactyl_record_close_file(fd)
            fd = -1
            throw .writeFailed(path: path, offset: 0, reason: String(cString: dactyl_error_text(headerError)))
        }
        bytesWritten = header.utf8.count
    }

    deinit {
        if fd >= 0 { _ = dactyl_record_close_file(fd) }
        buffer.deallocate()
    }

    /// Appends `frame`, converted to planar Y, U, V rows.
    public func append(_ frame: YUVFrame) throws(Y4MWriteError) {
        guard frame.width == width, frame.height == height, frame.chroma == chroma else {
            throw .frameMismatch(path: path, frame: framesWritten, expected: "\(width)x\(height) \(Y4MWriter.tag(chroma))",
                                 found: "\(frame.width)x\(frame.height) \(Y4MWriter.tag(frame.chroma))")
        }
        var out = buffer + Y4MWriter.frameMarker.utf8CodeUnitCount
        for row in 0..<height {
            let source = frame.y + row * frame.yStride
            let step = frame.ySampleStep
            for column in 0..<width { out[column] = source[column * step] }
            out += width
        }
        let chromaWidth = chroma.chromaWidth(forWidth: width)
        let chromaHeight = chroma.chromaHeight(forHeight: height)
        // Two calls rather than a loop over [u, v]: an array literal would allocate per frame.
        func copyChroma(_ plane: UnsafePointer<UInt8>) {
            for row in 0..<chromaHeight {
                let source = plane + row * frame.uvStride
                let step = frame.uvSampleStep
                for column in 0..<chromaWidth { out[column] = source[column * step] }
                out += chromaWidth
            }
        }
        copyChroma(frame.u)
        copyChroma(frame.v)
        try write(buffer, bufferBytes)
        framesWritten += 1
    }

    /// Closes the file; reports a failed close (some file systems report write errors only then).
    public func close() throws(Y4MWriteError) {
        guard fd >= 0 else { return }
        let error = dactyl_record_close_file(fd)
        fd = -1
        guard error == 0 else {
            throw .writeFailed(path: path, offset: bytesWritten, reason: String(cString: dactyl_error_text(error)))
        }
    }

    /// The stream header's colour-space parameter for `chroma`.
    static func tag(_ chroma: ChromaSubsampling) -> String {
        switch chroma {
        case .yuv420: "C420"
        case .yuv422: "C422"
        case .yuv444: "C444"
        }
    }

    private func write(_ bytes: UnsafeRawPointer, _ count: Int) throws(Y4MWriteError) {
        let error = dactyl_write_all(fd, bytes, count)
        guard error == 0 else {
            throw .writeFailed(path: path, offset: bytesWritten, reason: String(cString: dactyl_error_text(error)))
        }
        bytesWritten += count
    }
}
