import DactylTestSupport
import XCTest

@testable import DactylPipeline

/// A planar frame owned by the test, with padded rows so that strides are exercised.
struct TestFrame {
    var width: Int
    var height: Int
    var chroma: ChromaSubsampling
    var colorRange: ColorRange
    var y: [UInt8]
    var u: [UInt8]
    var v: [UInt8]

    var chromaWidth: Int { chroma.chromaWidth(forWidth: width) }
    var chromaHeight: Int { chroma.chromaHeight(forHeight: height) }

    init(width: Int, height: Int, chroma: ChromaSubsampling, colorRange: ColorRange,
         y: [UInt8], u: [UInt8], v: [UInt8]) {
        self.width = width
        self.height = height
        self.chroma = chroma
        self.colorRange = colorRange
        self.y = y
        self.u = u
        self.v = v
    }

    init<G: RandomNumberGenerator>(randomWidth width: Int, height: Int, chroma: ChromaSubsampling,
                                   colorRange: ColorRange, using generator: inout G) {
        self.init(width: width, height: height, chroma: chroma, colorRange: colorRange, y: [], u: [], v: [])
        y = (0..<width * height).map { _ in UInt8.random(in: 0...255, using: &generator) }
        u = (0..<chromaWidth * chromaHeight).map { _ in UInt8.random(in: 0...255, using: &generator) }
        v = (0..<chromaWidth * chromaHeight).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Calls `body` with a view whose rows are `padding` bytes longer than the picture.
    func withView<R>(padding: Int = 3, _ body: (YUVFrame) throws -> R) rethrows -> R {
        let yStride = width + padding
        let uvStride = chromaWidth + padding
        func padded(_ plane: [UInt8], _ planeWidth: Int, _ planeHeight: Int, _ stride: Int) -> [UInt8] {
            var rows = [UInt8](repeating: 0xEE, count: stride * planeHeight)
            for row in 0..<planeHeight {
                for column in 0..<planeWidth { rows[row * stride + column] = plane[row * planeWidth + column] }
            }
            return rows
        }
        let yRows = padded(y, width, height, yStride)
        let uRows = padded(u, chromaWidth, chromaHeight, uvStride)
        let vRows = padded(v, chromaWidth, chromaHeight, uvStride)
        return try yRows.withUnsafeBufferPointer { yBuffer in
            try uRows.withUnsafeBufferPointer { uBuffer in
                try vRows.withUnsafeBufferPointer { vBuffer in
                    try body(YUVFrame(width: width, height: height, chroma: chroma, colorRange: colorRange,
                                      y: yBuffer.baseAddress!, yStride: yStride,
                                      u: uBuffer.baseAddress!, v: vBuffer.baseAddress!, uvStride: uvStride))
                }
            }
        }
    }
}

/// A LUT that is a different bijection per channel, so that a swapped channel shows.
let channelLUT: [Int8] = (0..<3).flatMap { channel in
    (0..<256).map { value in Int8(truncatingIfNeeded: (value + 85 * channel) & 255) }
}

/// Runs FrameToInput on `frame` and returns the int8 tensor.
func preprocess(_ frame: TestFrame, crop: CropRect, outputHeight: Int, outputWidth: Int,
                lut: [Int8] = channelLUT) throws -> [Int8] {
    try frame.withView { view in try preprocess(view, crop: crop, outputHeight: outputHeight, outputWidth: outputWidth, lut: lut) }
}

/// Runs FrameToInput on a view of a frame in any layout and returns the int8 tensor.
func preprocess(_ view: YUVFrame, crop: CropRect, outputHeight: Int, outputWidth: Int,
                lut: [Int8] = channelLUT) throws -> [Int8] {
    let workspace = UnsafeMutableRawPointer.allocate(
        byteCount: FrameToInput.workspaceBytes(outputHeight: outputHeight, outputWidth: outputWidth),
        alignment: FrameToInput.workspaceAlignment)
    defer { workspace.deallocate() }
    let converter = try FrameToInput(crop: crop, frameWidth: view.width, frameHeight: view.height,
                                     outputHeight: outputHeight, outputWidth: outputWidth, workspace: workspace)
    var output = [Int8](repeating: 0, count: outputHeight * outputWidth * 3)
    lut.withUnsafeBufferPointer { lutBuffer in
        output.withUnsafeMutableBufferPointer { outputBuffer in
            converter.write(view, inputLUT: lutBuffer.baseAddress!, into: outputBuffer.baseAddress!)
        }
    }
    return output
}

/// The doc's steps written out plainly over whole arrays, independently of the runtime's
/// structure: RGB frame, crop, resize per channel, LUT.
func referenceInput(_ frame: TestFrame, crop: CropRect, outputHeight: Int, outputWidth: Int,
                    lut: [Int8] = channelLUT) -> [Int8] {
    let shift = frame.chroma == .yuv420 ? 1 : 0
    var rgb = [[Int]](repeating: [Int](repeating: 0, count: frame.width * frame.height), count: 3)
    for row in 0..<frame.height {
        for column in 0..<frame.width {
            let luma = Int(frame.y[row * frame.width + column])
            let chromaIndex = (row >> shift) * frame.chromaWidth + (column >> shift)
            let d = Int(frame.u[chromaIndex]) - 128
            let e = Int(frame.v[chromaIndex]) - 128
            let values: [Int]
            if frame.colorRange == .full {
                values = [(256 * luma + 359 * e + 128) >> 8,
                          (256 * luma - 88 * d - 183 * e + 128) >> 8,
                          (256 * luma + 454 * d + 128) >> 8]
            } else {
                let c = luma - 16
                values = [(298 * c + 409 * e + 128) >> 8,
                          (298 * c - 100 * d - 208 * e + 128) >> 8,
                          (298 * c + 516 * d + 128) >> 8]
            }
            for channel in 0..<3 { rgb[channel][row * frame.width + column] = min(max(values[channel], 0), 255) }
        }
    }
    func sourcePosition(_ x: Int, inSize: Int, outSize: Int) -> (Int, Int, Int) {
        let sx = max(0, ((2 * x + 1) * inSize * 1024) / outSize - 1024)
        var x0 = sx >> 11
        var fx = sx & 2047
        var x1 = x0 + 1
        if x0 >= inSize - 1 {
            x0 = inSize - 1
            x1 = x0
            fx = 0
        }
        return (x0, x1, fx)
    }
    var output = [Int8]()
    for outRow in 0..<outputHeight {
        let (y0, y1, fy) = sourcePosition(outRow, inSize: crop.height, outSize: outputHeight)
        for outColumn in 0..<outputWidth {
            let (x0, x1, fx) = sourcePosition(outColumn, inSize: crop.width, outSize: outputWidth)
            for channel in 0..<3 {
                func p(_ row: Int, _ column: Int) -> Int {
                    rgb[channel][(crop.y + row) * frame.width + crop.x + column]
                }
                let top = p(y0, x0) * (2048 - fx) + p(y0, x1) * fx
                let bottom = p(y1, x0) * (2048 - fx) + p(y1, x1) * fx
                let value = (top * (2048 - fy) + bottom * fy + (1 << 21)) >> 22
                output.append(lut[channel * 256 + value])
            }
        }
    }
    return output
}

/// A 4:4:4 full-range grey frame: U = V = 128 makes R = G = B = Y exactly, so the resize can be
/// checked on plain numbers.
func greyFrame(width: Int, height: Int, _ values: [UInt8]) -> TestFrame {
    TestFrame(width: width, height: height, chroma: .yuv444, colorRange: .full, y: values,
              u: [UInt8](repeating: 128, count: values.count), v: [UInt8](repeating: 128, count: values.count))
}

/// An identity-like LUT for grey checks: lut[c][v] = v − 128.
let offsetLUT: [Int8] = (0..<3).flatMap { _ in (0..<256).map { Int8($0 - 128) } }

final class FrameToInputTests: XCTestCase {
    func testLimitedRangeConversionMatchesHandComputedValues() {
        // Black and white: C = 0 gives 128 >> 8 = 0; C = 219 gives 65390 >> 8 = 255.
        XCTAssertEqual(LimitedRangeBT601.rgb(y: 16, u: 128, v: 128), RGB(r: 0, g: 0, b: 0))
        XCTAssertEqual(LimitedRangeBT601.rgb(y: 235, u: 128, v: 128), RGB(r: 255, g: 255, b: 255))
        // Y 81, U 90, V 240: C = 65, D = −38, E = 112.
        // R = (19370 + 45808 + 128) >> 8 = 65306 >> 8 = 255; G = (19370 + 3800 − 23296 + 128) >> 8 = 2 >> 8 = 0;
        // B = (19370 − 19608 + 128) >> 8 = −110 >> 8 = −1 → 0.
        XCTAssertEqual(LimitedRangeBT601.rgb(y: 81, u: 90, v: 240), RGB(r: 255, g: 0, b: 0))
        // Y 100, U 150, V 50: C = 84, D = 22, E = −78.
        // R = (25032 − 31902 + 128) >> 8 = −6742 >> 8 → 0; G = (25032 − 2200 + 16224 + 128) >> 8 = 39184 >> 8 = 153;
        // B = (25032 + 11352 + 128) >> 8 = 36512 >> 8 = 142.
        XCTAssertEqual(LimitedRangeBT601.rgb(y: 100, u: 150, v: 50), RGB(r: 0, g: 153, b: 142))
        // Above white saturates: C = 239 gives (71222 + 128) >> 8 = 278 → 255.
        XCTAssertEqual(LimitedRangeBT601.rgb(y: 255, u: 128, v: 128), RGB(r: 255, g: 255, b: 255))
    }

    func testFullRangeConversionMatchesHandComputedValues() {
        XCTAssertEqual(FullRangeBT601.rgb(y: 0, u: 128, v: 128), RGB(r: 0, g: 0, b: 0))
        XCTAssertEqual(FullRangeBT601.rgb(y: 255, u: 128, v: 128), RGB(r: 255, g: 255, b: 255))
        // Y 100, U 150, V 50: D = 22, E = −78.
        // R = (25600 − 28002 + 128) >> 8 = −2274 >> 8 → 0; G = (25600 − 1936 + 14274 + 128) >> 8 = 38066 >> 8 = 148;
        // B = (25600 + 9988 + 128) >> 8 = 35716 >> 8 = 139.
        XCTAssertEqual(FullRangeBT601.rgb(y: 100, u: 150, v: 50), RGB(r: 0, g: 148, b: 139))
        // Y 200, U 60, V 180: D = −68, E = 52.
        // R = (51200 + 18668 + 128) >> 8 = 69996 >> 8 = 273 → 255; G = (51200 + 5984 − 9516 + 128) >> 8 = 47796 >> 8 = 186;
        // B = (51200 − 30872 + 128) >> 8 = 20456 >> 8 = 79.
        XCTAssertEqual(FullRangeBT601.rgb(y: 200, u: 60, v: 180), RGB(r: 255, g: 186, b: 79))
    }

    func testSameSizeIsIdentityWithLUTInRGBOrder() throws {
        var generator = SplitMix64(seed: 7)
        let frame = TestFrame(randomWidth: 6, height: 4, chroma: .yuv444, colorRange: .limited, using: &generator)
        let output = try preprocess(frame, crop: CropRect(x: 0, y: 0, width: 6, height: 4),
                                    outputHeight: 4, outputWidth: 6)
        for index in 0..<24 {
            let rgb = LimitedRangeBT601.rgb(y: Int32(frame.y[index]), u: Int32(frame.u[index]), v: Int32(frame.v[index]))
            XCTAssertEqual(Array(output[index * 3..<index * 3 + 3]),
                           [channelLUT[Int(rgb.r)], channelLUT[256 + Int(rgb.g)], channelLUT[512 + Int(rgb.b)]])
        }
    }

    func test420ChromaIsUpsampledByNearestNeighbour() throws {
        // 3x3 luma, 2x2 chroma: pixel (x, y) takes chroma sample (x/2, y/2).
        let frame = TestFrame(width: 3, height: 3, chroma: .yuv420, colorRange: .full,
                              y: [UInt8](repeating: 128, count: 9), u: [60, 90, 150, 200], v: [128, 128, 128, 128])
        let output = try preprocess(frame, crop: CropRect(x: 0, y: 0, width: 3, height: 3),
                                    outputHeight: 3, outputWidth: 3, lut: offsetLUT)
        let blue = stride(from: 2, to: 27, by: 3).map { Int(output[$0]) + 128 }
        func b(_ u: Int32) -> Int { Int(FullRangeBT601.rgb(y: 128, u: u, v: 128).b) }
        XCTAssertEqual(blue, [b(60), b(60), b(90), b(60), b(60), b(90), b(150), b(150), b(200)])
    }

    func testUpscale2x2To3x3MatchesHandComputedValues() throws {
        // in 2, out 3: x = 0 → sx = max(0, 682 − 1024) = 0; x = 1 → 2048 − 1024 = 1024 (x0 0, fx 1024);
        // x = 2 → 3413 − 1024 = 2389, x0 = 1 = in − 1 → clamped to the last pixel.
        let frame = greyFrame(width: 2, height: 2, [0, 100, 200, 50])
        let output = try preprocess(frame, crop: CropRect(x: 0, y: 0, width: 2, height: 2),
                                    outputHeight: 3, outputWidth: 3, lut: offsetLUT)
        let red = stride(from: 0, to: 27, by: 3).map { Int(output[$0]) + 128 }
        // Centre: (102400·1024 + 256000·1024 + 2^21) >> 22 = 369098752 >> 22 = 88 (87.5 rounds up).
        XCTAssertEqual(red, [0, 50, 100,
                             100, 88, 75,
                             200, 125, 50])
    }

    func testDownscale4To2AveragesPairsRoundingHalfUp() throws {
        // in 4, out 2: x = 0 → 2048 − 1024 = 1024 (x0 0, fx 1024); x = 1 → 6144 − 1024 = 5120 (x0 2, fx 1024).
        let frame = greyFrame(width: 4, height: 1, [10, 20, 31, 40])
        let output = try preprocess(frame, crop: CropRect(x: 0, y: 0, width: 4, height: 1),
                                    outputHeight: 1, outputWidth: 2, lut: offsetLUT)
        // (31·1024 + 40·1024)·2048 + 2^21 = 150994944 = 36·2^22: 35.5 rounds up to 36.
        XCTAssertEqual(output.enumerated().filter { $0.offset % 3 == 0 }.map { Int($0.element) + 128 }, [15, 36])
    }

    func testCropIsTakenFromTheFrameBeforeResizing() throws {
        let values: [UInt8] = (0..<20).map { UInt8($0 * 10) }
        let frame = greyFrame(width: 5, height: 4, values)
        let output = try preprocess(frame, crop: CropRect(x: 2, y: 1, width: 2, height: 2),
                                    outputHeight: 2, outputWidth: 2, lut: offsetLUT)
        XCTAssertEqual(stride(from: 0, to: 12, by: 3).map { Int(output[$0]) + 128 }, [70, 80, 120, 130])
    }

    func testMatchesAPlainReferenceOnRandomFramesCropsAndSizes() throws {
        var generator = SplitMix64(seed: 2024)
        for trial in 0..<60 {
            let chroma: ChromaSubsampling = trial % 2 == 0 ? .yuv420 : .yuv444
            let range: ColorRange = trial % 3 == 0 ? .full : .limited
            let width = Int.random(in: 1...23, using: &generator)
            let height = Int.random(in: 1...19, using: &generator)
            let frame = TestFrame(randomWidth: width, height: height, chroma: chroma, colorRange: range,
                                  using: &generator)
            let cropWidth = Int.random(in: 1...width, using: &generator)
            let cropHeight = Int.random(in: 1...height, using: &generator)
            let crop = CropRect(x: Int.random(in: 0...width - cropWidth, using: &generator),
                                y: Int.random(in: 0...height - cropHeight, using: &generator),
                                width: cropWidth, height: cropHeight)
            let outputHeight = Int.random(in: 1...29, using: &generator)
            let outputWidth = Int.random(in: 1...29, using: &generator)
            let actual = try preprocess(frame, crop: crop, outputHeight: outputHeight, outputWidth: outputWidth)
            let expected = referenceInput(frame, crop: crop, outputHeight: outputHeight, outputWidth: outputWidth)
            XCTAssertEqual(actual, expected, "trial \(trial): \(width)x\(height) \(chroma) \(range) crop \(crop) "
                           + "to \(outputWidth)x\(outputHeight)")
        }
    }

    func testRejectsCropsOutsideTheFrameAndEmptySizes() {
        let workspace = UnsafeMutableRawPointer.allocate(byteCount: 1024, alignment: 16)
        defer { workspace.deallocate() }
        func error(_ crop: CropRect, outputHeight: Int = 4, outputWidth: Int = 4) -> PreprocessError? {
            do {
                _ = try FrameToInput(crop: crop, frameWidth: 10, frameHeight: 8,
                                     outputHeight: outputHeight, outputWidth: outputWidth, workspace: workspace)
                return nil
            } catch {
                return error
            }
        }
        for crop in [CropRect(x: 0, y: 0, width: 0, height: 4), CropRect(x: 0, y: 0, width: 4, height: -1)] {
            XCTAssertEqual(error(crop), .emptyCrop(crop))
        }
        for crop in [CropRect(x: -1, y: 0, width: 4, height: 4), CropRect(x: 7, y: 0, width: 4, height: 4),
                     CropRect(x: 0, y: 5, width: 4, height: 4), CropRect(x: 0, y: -2, width: 4, height: 4),
                     CropRect(x: Int.max, y: 0, width: 4, height: 4), CropRect(x: 1, y: 0, width: Int.max, height: 4)] {
            XCTAssertEqual(error(crop), .cropOutsideFrame(crop, frameWidth: 10, frameHeight: 8))
        }
        XCTAssertEqual(error(CropRect(x: 0, y: 0, width: 10, height: 8), outputHeight: 0),
                       .emptyOutput(height: 0, width: 4))
        XCTAssertNil(error(CropRect(x: 6, y: 4, width: 4, height: 4)))
        XCTAssertEqual(PreprocessError.cropOutsideFrame(CropRect(x: 7, y: 0, width: 4, height: 4),
                                                        frameWidth: 10, frameHeight: 8).description,
                       "the hand crop 4x4 at (7, 0) does not lie inside the 10x8 frame")
    }

    func testResolvesThousandthsWithIntegerDivision() {
        XCTAssertEqual(CropRect.fromThousandths(x: 250, y: 100, width: 500, height: 800, frameWidth: 640, frameHeight: 480),
                       CropRect(x: 160, y: 48, width: 320, height: 384))
        XCTAssertEqual(CropRect.fromThousandths(x: 0, y: 0, width: 1000, height: 1000, frameWidth: 641, frameHeight: 359),
                       CropRect(x: 0, y: 0, width: 641, height: 359))
        // 101 · 333 / 1000 = 33.633 → 33.
        XCTAssertEqual(CropRect.fromThousandths(x: 333, y: 333, width: 333, height: 333, frameWidth: 101, frameHeight: 7),
                       CropRect(x: 33, y: 2, width: 33, height: 2))
    }

    /// The frame in a camera's interleaved layout: YUYV (4:2:2, packed) or NV12 (4:2:0, UV
    /// interleaved), with padded rows.
    private func interleavedOutput(_ frame: TestFrame, crop: CropRect, outputHeight: Int, outputWidth: Int) throws -> [Int8] {
        let packed = frame.chroma == .yuv422
        let yStride = packed ? frame.width * 2 + 6 : frame.width + 5
        let uvStride = packed ? yStride : frame.chromaWidth * 2 + 7
        var luma = [UInt8](repeating: 0xEE, count: yStride * frame.height)
        var chroma = [UInt8](repeating: 0xEE, count: packed ? 0 : uvStride * frame.chromaHeight)
        for row in 0..<frame.height {
            for column in 0..<frame.width {
                luma[row * yStride + column * (packed ? 2 : 1)] = frame.y[row * frame.width + column]
            }
        }
        for row in 0..<frame.chromaHeight {
            for column in 0..<frame.chromaWidth {
                let u = frame.u[row * frame.chromaWidth + column], v = frame.v[row * frame.chromaWidth + column]
                if packed {
                    luma[row * yStride + column * 4 + 1] = u
                    luma[row * yStride + column * 4 + 3] = v
                } else {
                    chroma[row * uvStride + column * 2] = u
                    chroma[row * uvStride + column * 2 + 1] = v
                }
            }
        }
        return try luma.withUnsafeBufferPointer { yBuffer in
            try chroma.withUnsafeBufferPointer { uvBuffer in
                let base = yBuffer.baseAddress!
                let view = packed
                    ? YUVFrame(width: frame.width, height: frame.height, chroma: .yuv422, colorRange: frame.colorRange,
                               y: base, yStride: yStride, u: base + 1, v: base + 3, uvStride: uvStride,
                               ySampleStep: 2, uvSampleStep: 4)
                    : YUVFrame(width: frame.width, height: frame.height, chroma: .yuv420, colorRange: frame.colorRange,
                               y: base, yStride: yStride, u: uvBuffer.baseAddress!, v: uvBuffer.baseAddress! + 1,
                               uvStride: uvStride, ySampleStep: 1, uvSampleStep: 2)
                return try preprocess(view, crop: crop, outputHeight: outputHeight, outputWidth: outputWidth)
            }
        }
    }

    func testYUYVAndNV12CameraLayoutsGiveThePlanarResult() throws {
        var generator = SplitMix64(seed: 11)
        for (chroma, width, height) in [(ChromaSubsampling.yuv422, 37, 21), (.yuv422, 64, 48), (.yuv420, 37, 21), (.yuv420, 40, 30)] {
            let frame = TestFrame(randomWidth: width, height: height, chroma: chroma, colorRange: .limited, using: &generator)
            let crop = CropRect(x: 3, y: 2, width: width - 7, height: height - 5)
            XCTAssertEqual(try interleavedOutput(frame, crop: crop, outputHeight: 16, outputWidth: 12),
                           try preprocess(frame, crop: crop, outputHeight: 16, outputWidth: 12), "\(chroma) \(width)x\(height)")
        }
    }

    func test422ChromaIsSharedByPairsOfColumnsOfOneRow() throws {
        // 4:2:2 is 4:4:4 whose chroma repeats for each pair of columns (nearest neighbour), row by row.
        var generator = SplitMix64(seed: 12)
        let frame422 = TestFrame(randomWidth: 9, height: 5, chroma: .yuv422, colorRange: .full, using: &generator)
        var frame444 = TestFrame(width: 9, height: 5, chroma: .yuv444, colorRange: .full, y: frame422.y, u: [], v: [])
        for row in 0..<5 {
            for column in 0..<9 {
                frame444.u.append(frame422.u[row * frame422.chromaWidth + column / 2])
                frame444.v.append(frame422.v[row * frame422.chromaWidth + column / 2])
            }
        }
        let crop = CropRect(x: 0, y: 0, width: 9, height: 5)
        XCTAssertEqual(try preprocess(frame422, crop: crop, outputHeight: 7, outputWidth: 6),
                       try preprocess(frame444, crop: crop, outputHeight: 7, outputWidth: 6))
    }
}
