// From a camera or clip frame to the encoder's int8 input tensor, bit-exact with the Python
// reference: docs/model-format.md, "From a frame to the input tensor (bit-exact)".

/// How the chroma planes are subsampled relative to the luma plane.
public enum ChromaSubsampling: Equatable, Sendable {
    /// One U and one V sample per 2x2 block of luma samples.
    case yuv420
    /// One U and one V sample per two luma samples of a row (YUYV cameras, Y4M `C422`).
    case yuv422
    /// One U and one V sample per luma sample.
    case yuv444

    var horizontalShift: Int { self == .yuv444 ? 0 : 1 }
    var verticalShift: Int { self == .yuv420 ? 1 : 0 }

    /// Chroma samples per row; an odd luma width still gets a sample for its last column.
    func chromaWidth(forWidth width: Int) -> Int { (width + horizontalShift) >> horizontalShift }
    func chromaHeight(forHeight height: Int) -> Int { (height + verticalShift) >> verticalShift }
}

/// The range of the Y, U and V codes: limited (video, Y in 16...235), the default, or full.
public enum ColorRange: Equatable, Sendable {
    case limited
    case full
}

/// An 8-bit YUV frame in memory someone else owns (a clip's buffer, a camera buffer): planar
/// (I420, Y4M), semi-planar (NV12: U and V interleaved, `uvSampleStep` 2) or packed (YUYV:
/// `ySampleStep` 2, `uvSampleStep` 4, all three pointers into one plane). Cameras' native
/// layouts are read in place, without a conversion pass.
public struct YUVFrame {
    public let width: Int
    public let height: Int
    public let chroma: ChromaSubsampling
    public let colorRange: ColorRange
    public let y: UnsafePointer<UInt8>
    /// Bytes from one luma row to the next.
    public let yStride: Int
    public let u: UnsafePointer<UInt8>
    public let v: UnsafePointer<UInt8>
    /// Bytes from one chroma row to the next, in both chroma planes.
    public let uvStride: Int
    /// Bytes from one Y sample to the next in a row (1 planar, 2 YUYV).
    public let ySampleStep: Int
    /// Bytes from one U (or V) sample to the next in a row (1 planar, 2 NV12, 4 YUYV).
    public let uvSampleStep: Int

    public init(width: Int, height: Int, chroma: ChromaSubsampling, colorRange: ColorRange,
                y: UnsafePointer<UInt8>, yStride: Int,
                u: UnsafePointer<UInt8>, v: UnsafePointer<UInt8>, uvStride: Int,
                ySampleStep: Int = 1, uvSampleStep: Int = 1) {
        self.width = width
        self.height = height
        self.chroma = chroma
        self.colorRange = colorRange
        self.y = y
        self.yStride = yStride
        self.u = u
        self.v = v
        self.uvStride = uvStride
        self.ySampleStep = ySampleStep
        self.uvSampleStep = uvSampleStep
    }
}

/// A rectangle of a frame in pixels.
public struct CropRect: Equatable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// A crop given in thousandths of the frame's width and height, as the model's META
    /// `default_crop` is: pixel x = frameWidth * x / 1000 with integer division, and so on.
    public static func fromThousandths(x: Int, y: Int, width: Int, height: Int,
                                       frameWidth: Int, frameHeight: Int) -> CropRect {
        CropRect(x: frameWidth * x / 1000, y: frameHeight * y / 1000,
                 width: frameWidth * width / 1000, height: frameHeight * height / 1000)
    }

    public var description: String { "\(width)x\(height) at (\(x), \(y))" }
}

/// Why a frame cannot be turned into input tensors with the requested crop and size.
public enum PreprocessError: Error, Equatable, CustomStringConvertible {
    case emptyCrop(CropRect)
    case cropOutsideFrame(CropRect, frameWidth: Int, frameHeight: Int)
    case emptyOutput(height: Int, width: Int)

    public var description: String {
        switch self {
        case .emptyCrop(let crop):
            return "the hand crop \(crop) is empty, expected a width and height of at least 1 pixel"
        case .cropOutsideFrame(let crop, let frameWidth, let frameHeight):
            return "the hand crop \(crop) does not lie inside the \(frameWidth)x\(frameHeight) frame"
        case .emptyOutput(let height, let width):
            return "the encoder input size \(width)x\(height) is empty, expected at least 1x1"
        }
    }
}

/// An 8-bit R, G, B triple, in Int32 because that is what the resize arithmetic works in.
struct RGB: Equatable {
    var r: Int32
    var g: Int32
    var b: Int32
}

/// One of the two YUV to RGB formulas; `FrameToInput` is specialised for each, so the choice
/// costs nothing per pixel.
protocol YUVToRGBConversion {
    static func rgb(y: Int32, u: Int32, v: Int32) -> RGB
}

/// BT.601, limited range: C = Y − 16, D = U − 128, E = V − 128.
enum LimitedRangeBT601: YUVToRGBConversion {
    @inline(__always)
    static func rgb(y: Int32, u: Int32, v: Int32) -> RGB {
        let c = 298 * (y - 16)
        let d = u - 128
        let e = v - 128
        return RGB(r: clampToByte((c + 409 * e + 128) >> 8),
                   g: clampToByte((c - 100 * d - 208 * e + 128) >> 8),
                   b: clampToByte((c + 516 * d + 128) >> 8))
    }
}

/// BT.601, full range (`XCOLORRANGE=FULL`): D = U − 128, E = V − 128.
enum FullRangeBT601: YUVToRGBConversion {
    @inline(__always)
    static func rgb(y: Int32, u: Int32, v: Int32) -> RGB {
        let c = 256 * y
        let d = u - 128
        let e = v - 128
        return RGB(r: clampToByte((c + 359 * e + 128) >> 8),
                   g: clampToByte((c - 88 * d - 183 * e + 128) >> 8),
                   b: clampToByte((c + 454 * d + 128) >> 8))
    }
}

@inline(__always)
private func clampToByte(_ value: Int32) -> Int32 { min(max(value, 0), 255) }

/// The two source samples a resized row or column reads, in frame coordinates (crop origin
/// included), and the weight of the second in 1/2048.
struct BilinearTap {
    var first: Int32
    var second: Int32
    var weight: Int32
}

/// Converts frames of one size to input tensors of one size, through one crop: YUV to RGB,
/// crop, fixed-point bilinear resize, the model's input LUT.
///
/// The resize taps of every output row and column are computed once, at init, into memory the
/// caller provides (`workspaceBytes`), so `write` allocates nothing. RGB is computed on the fly
/// at the four source samples of each output sample, which needs no RGB frame buffer.
public struct FrameToInput {
    public let crop: CropRect
    public let frameWidth: Int
    public let frameHeight: Int
    public let outputHeight: Int
    public let outputWidth: Int
    private let columnTaps: UnsafeMutablePointer<BilinearTap>
    private let rowTaps: UnsafeMutablePointer<BilinearTap>

    /// Size of the workspace `init` needs.
    public static func workspaceBytes(outputHeight: Int, outputWidth: Int) -> Int {
        (outputHeight + outputWidth) * MemoryLayout<BilinearTap>.stride
    }

    /// Alignment of the workspace `init` needs.
    public static var workspaceAlignment: Int { MemoryLayout<BilinearTap>.alignment }

    /// Checks the crop against the frame size and fills `workspace` (`workspaceBytes` bytes,
    /// kept alive and untouched by the caller while this value is used) with the resize taps.
    public init(crop: CropRect, frameWidth: Int, frameHeight: Int,
                outputHeight: Int, outputWidth: Int,
                workspace: UnsafeMutableRawPointer) throws(PreprocessError) {
        guard crop.width >= 1 && crop.height >= 1 else { throw .emptyCrop(crop) }
        // Written so that no sum can overflow, whatever numbers a configuration file holds.
        guard crop.x >= 0 && crop.y >= 0 && crop.x <= frameWidth - crop.width
                && crop.y <= frameHeight - crop.height else {
            throw .cropOutsideFrame(crop, frameWidth: frameWidth, frameHeight: frameHeight)
        }
        guard outputHeight >= 1 && outputWidth >= 1 else {
            throw .emptyOutput(height: outputHeight, width: outputWidth)
        }
        precondition(Int(bitPattern: workspace) % FrameToInput.workspaceAlignment == 0,
                     "FrameToInput workspace is misaligned")
        let taps = workspace.bindMemory(to: BilinearTap.self, capacity: outputWidth + outputHeight)
        self.crop = crop
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
        self.columnTaps = taps
        self.rowTaps = taps + outputWidth
        FrameToInput.computeTaps(inputSize: crop.width, origin: crop.x, outputSize: outputWidth, into: columnTaps)
        FrameToInput.computeTaps(inputSize: crop.height, origin: crop.y, outputSize: outputHeight, into: rowTaps)
    }

    /// The resize formula of the doc, for every output column (or row):
    /// the source position of output x's centre in 1/2048 pixel, clamped to the crop.
    private static func computeTaps(inputSize: Int, origin: Int, outputSize: Int,
                                    into taps: UnsafeMutablePointer<BilinearTap>) {
        for x in 0..<outputSize {
            let position = max(0, ((2 * x + 1) * inputSize * 1024) / outputSize - 1024)
            var first = position >> 11
            var weight = position & 2047
            var second = first + 1
            if first >= inputSize - 1 {
                first = inputSize - 1
                second = first
                weight = 0
            }
            taps[x] = BilinearTap(first: Int32(origin + first), second: Int32(origin + second),
                                  weight: Int32(weight))
        }
    }

    /// Writes the int8 NHWC tensor `[outputHeight][outputWidth][3]` (R, G, B) of `frame` to
    /// `output`. `inputLUT` is the model's int8 `[3][256]` input quantisation table.
    public func write(_ frame: YUVFrame, inputLUT: UnsafePointer<Int8>, into output: UnsafeMutablePointer<Int8>) {
        precondition(frame.width == frameWidth && frame.height == frameHeight,
                     "frame size differs from the one FrameToInput was made for")
        switch frame.colorRange {
        case .limited: write(frame, LimitedRangeBT601.self, inputLUT, output)
        case .full: write(frame, FullRangeBT601.self, inputLUT, output)
        }
    }

    private func write<Conversion: YUVToRGBConversion>(
        _ frame: YUVFrame, _: Conversion.Type, _ lut: UnsafePointer<Int8>, _ output: UnsafeMutablePointer<Int8>
    ) {
        let chromaColumnShift = Int32(frame.chroma.horizontalShift)
        let chromaRowShift = Int32(frame.chroma.verticalShift)
        var out = output
        for outputRow in 0..<outputHeight {
            let rowTap = rowTaps[outputRow]
            let top = SourceRow(frame, row: rowTap.first, chromaRowShift: chromaRowShift)
            let bottom = SourceRow(frame, row: rowTap.second, chromaRowShift: chromaRowShift)
            for outputColumn in 0..<outputWidth {
                let columnTap = columnTaps[outputColumn]
                let left = columnTap.first
                let right = columnTap.second
                let topLeft = top.rgb(at: left, chromaColumnShift: chromaColumnShift, Conversion.self)
                let topRight = top.rgb(at: right, chromaColumnShift: chromaColumnShift, Conversion.self)
                let bottomLeft = bottom.rgb(at: left, chromaColumnShift: chromaColumnShift, Conversion.self)
                let bottomRight = bottom.rgb(at: right, chromaColumnShift: chromaColumnShift, Conversion.self)
                let fx = columnTap.weight
                let fy = rowTap.weight
                let r = bilinear(topLeft.r, topRight.r, bottomLeft.r, bottomRight.r, fx, fy)
                let g = bilinear(topLeft.g, topRight.g, bottomLeft.g, bottomRight.g, fx, fy)
                let b = bilinear(topLeft.b, topRight.b, bottomLeft.b, bottomRight.b, fx, fy)
                out[0] = lut[Int(r)]
                out[1] = lut[256 + Int(g)]
                out[2] = lut[512 + Int(b)]
                out += 3
            }
        }
    }
}

/// One frame row's Y, U and V samples.
private struct SourceRow {
    let y: UnsafePointer<UInt8>
    let u: UnsafePointer<UInt8>
    let v: UnsafePointer<UInt8>
    let ySampleStep: Int
    let uvSampleStep: Int

    @inline(__always)
    init(_ frame: YUVFrame, row: Int32, chromaRowShift: Int32) {
        let chromaRow = Int(row >> chromaRowShift)
        y = frame.y + Int(row) * frame.yStride
        u = frame.u + chromaRow * frame.uvStride
        v = frame.v + chromaRow * frame.uvStride
        ySampleStep = frame.ySampleStep
        uvSampleStep = frame.uvSampleStep
    }

    /// RGB at `column`, with the chroma of the nearest chroma sample (column >> shift).
    @inline(__always)
    func rgb<Conversion: YUVToRGBConversion>(at column: Int32, chromaColumnShift: Int32,
                                             _: Conversion.Type) -> RGB {
        let chromaOffset = Int(column >> chromaColumnShift) * uvSampleStep
        return Conversion.rgb(y: Int32(y[Int(column) * ySampleStep]), u: Int32(u[chromaOffset]), v: Int32(v[chromaOffset]))
    }
}

/// Bilinear interpolation in 1/2048 steps, rounding half up. Int32 suffices: the largest
/// intermediate is 255·2048·2048 + 2^21 < 2^31, and the result stays in 0...255.
@inline(__always)
private func bilinear(_ topLeft: Int32, _ topRight: Int32, _ bottomLeft: Int32, _ bottomRight: Int32,
                      _ fx: Int32, _ fy: Int32) -> Int32 {
    let top = topLeft * (2048 - fx) + topRight * fx
    let bottom = bottomLeft * (2048 - fx) + bottomRight * fx
    return (top * (2048 - fy) + bottom * fy + (1 << 21)) >> 22
}
