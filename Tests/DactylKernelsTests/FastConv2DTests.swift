import DactylTestSupport
import XCTest
@testable import DactylKernels

/// Every fast conv2d path this CPU runs against the scalar reference, bit for bit, on shapes
/// chosen to hit each edge of the packing and the driver (channel remainders, 4-byte group
/// remainders, borders, tiles that cross rows, the tensor's last bytes) and on random ones.
final class FastConv2DTests: XCTestCase {
    struct Shape: CustomStringConvertible {
        var height, width, inputChannels, outputChannels, kernelHeight, kernelWidth, stride, pad: Int
        var relu, residual: Bool
        var description: String {
            "\(height)x\(width)x\(inputChannels)->\(outputChannels) k\(kernelHeight)x\(kernelWidth) s\(stride) p\(pad)"
                + (relu ? " relu" : "") + (residual ? " residual" : "")
        }
    }

    static let fixedShapes: [Shape] = [
        Shape(height: 1, width: 1, inputChannels: 5, outputChannels: 3, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: false, residual: false),
        Shape(height: 1, width: 1, inputChannels: 64, outputChannels: 70, kernelHeight: 1, kernelWidth: 1, stride: 1, pad: 0, relu: true, residual: true),
        Shape(height: 23, width: 21, inputChannels: 3, outputChannels: 16, kernelHeight: 7, kernelWidth: 7, stride: 2, pad: 3, relu: true, residual: false),
        Shape(height: 13, width: 11, inputChannels: 16, outputChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: true, residual: true),
        Shape(height: 12, width: 9, inputChannels: 16, outputChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 2, pad: 1, relu: true, residual: false),
        Shape(height: 10, width: 10, inputChannels: 16, outputChannels: 32, kernelHeight: 1, kernelWidth: 1, stride: 2, pad: 0, relu: false, residual: false),
        Shape(height: 7, width: 5, inputChannels: 7, outputChannels: 5, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 0, relu: false, residual: true),
        Shape(height: 6, width: 6, inputChannels: 33, outputChannels: 65, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: true, residual: true),
        Shape(height: 5, width: 8, inputChannels: 13, outputChannels: 17, kernelHeight: 1, kernelWidth: 3, stride: 1, pad: 1, relu: false, residual: false),
        Shape(height: 4, width: 4, inputChannels: 128, outputChannels: 129, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: true, residual: true),
        Shape(height: 40, width: 40, inputChannels: 8, outputChannels: 8, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: true, residual: false),
        Shape(height: 3, width: 3, inputChannels: 1, outputChannels: 1, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 2, relu: false, residual: true),
    ]

    /// Tile sizes fitted to the pixel count (VNNI: 49 pixels in 5-pixel tiles, 50 in 10, 143 in 12).
    static let fittedTileShapes: [Shape] = [
        Shape(height: 7, width: 7, inputChannels: 40, outputChannels: 70, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: true, residual: true),
        Shape(height: 10, width: 5, inputChannels: 20, outputChannels: 30, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: false, residual: true),
        Shape(height: 11, width: 13, inputChannels: 3, outputChannels: 24, kernelHeight: 7, kernelWidth: 7, stride: 1, pad: 3, relu: true, residual: false),
    ]

    static func randomShapes(_ random: inout SplitMix64, count: Int) -> [Shape] {
        (0..<count).map { _ in
            let kernel = [1, 3, 5, 7][Int(random.next() % 4)]
            let stride = 1 + Int(random.next() % 2)
            let pad = Int(random.next() % UInt64(kernel / 2 + 1))
            let height = max(kernel - 2 * pad, 1) + Int(random.next() % 14), width = max(kernel - 2 * pad, 1) + Int(random.next() % 14)
            return Shape(height: height, width: width, inputChannels: 1 + Int(random.next() % 40), outputChannels: 1 + Int(random.next() % 80),
                         kernelHeight: kernel, kernelWidth: kernel, stride: stride, pad: pad,
                         relu: random.next() % 2 == 0, residual: random.next() % 2 == 0)
        }
    }

    /// Runs `shape` with random data on the reference and on `path`; the outputs must be equal.
    /// Weights span -127...127 as the exporter writes them, or with `fullWeightRange` all of int8
    /// (a -128 weight turns off the NEON path's smlal pairing, so both loops are checked).
    /// With `runs` > 1 the conv runs that many times back to back; `fast` is the first run that
    /// differs from the reference, or the last.
    static func compare(_ shape: Shape, path: KernelPath, threads: EncoderThreadPool?, fullWeightRange: Bool = true,
                        runs: Int = 1, random: inout SplitMix64) -> (fast: [Int8], reference: [Int8]) {
        let outH = (shape.height + 2 * shape.pad - shape.kernelHeight) / shape.stride + 1
        let outW = (shape.width + 2 * shape.pad - shape.kernelWidth) / shape.stride + 1
        let window = Window2D(inputHeight: shape.height, inputWidth: shape.width, outputHeight: outH, outputWidth: outW,
                              kernelHeight: shape.kernelHeight, kernelWidth: shape.kernelWidth, strideHeight: shape.stride,
                              strideWidth: shape.stride, padHeight: shape.pad, padWidth: shape.pad)
        let input = (0..<shape.height * shape.width * shape.inputChannels).map { _ in random.int8() }
        let weights = (0..<shape.outputChannels * shape.kernelHeight * shape.kernelWidth * shape.inputChannels).map { _ in
            fullWeightRange ? random.int8() : Int8(Int(random.next() % 255) - 127)
        }
        let bias = (0..<shape.outputChannels).map { _ in Int32(truncatingIfNeeded: random.next() % 200_001) - 100_000 }
        // Scales around 1/area/128 keep most outputs off the clamps; a few channels get tiny or huge ones.
        let area = shape.kernelHeight * shape.kernelWidth * shape.inputChannels
        let baseShift = Int32(31 + (64 - (area * 64).leadingZeroBitCount))
        let multipliers = (0..<shape.outputChannels).map { _ in Int32(1 << 30) + Int32(random.next() % (1 << 30)) }
        let shifts = (0..<shape.outputChannels).map { _ in min(62, max(1, baseShift + Int32(random.next() % 5) - 2 + (random.next() % 9 == 0 ? -20 : 0))) }
        let residual = (0..<outH * outW * shape.outputChannels).map { _ in random.int8() }
        let inputZero = Int32(random.int8()), outputZero = Int32(random.int8()), residualZero = Int32(random.int8())
        let residualMultiplier = Int32(1 << 30) + Int32(random.next() % (1 << 30)), residualShift = Int32(30 + random.next() % 3)

        var reference = [Int8](repeating: 0, count: outH * outW * shape.outputChannels)
        var fast = [Int8](repeating: 0, count: reference.count)
        let packedBytes = FastConv2DQ8.packedBytes(window: window, inputChannels: shape.inputChannels,
                                                   outputChannels: shape.outputChannels, path: path)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: max(packedBytes, 64), alignment: 64)
        defer { packed.deallocate() }
        // The input alone in an exact-size allocation, so an over-read past its end would show (ASan, or garbage).
        let exactInput = UnsafeMutablePointer<Int8>.allocate(capacity: input.count)
        defer { exactInput.deallocate() }
        exactInput.update(from: input, count: input.count)
        multipliers.withUnsafeBufferPointer { m in
            shifts.withUnsafeBufferPointer { s in
                residual.withUnsafeBufferPointer { r in
                    let stage = Conv2DQ8OutputStage(
                        multipliers: m.baseAddress!, shifts: s.baseAddress!, outputZeroPoint: outputZero, relu: shape.relu,
                        residual: shape.residual ? r.baseAddress! : nil, residualZeroPoint: residualZero,
                        residualMultiplier: residualMultiplier, residualShift: residualShift)
                    conv2dQ8Reference(window: window, inputChannels: shape.inputChannels, outputChannels: shape.outputChannels,
                                      input: input, inputZeroPoint: inputZero, weights: weights, bias: bias,
                                      outputStage: stage, output: &reference)
                    fast.withUnsafeMutableBufferPointer { out in
                        let conv = FastConv2DQ8(window: window, inputChannels: shape.inputChannels, outputChannels: shape.outputChannels,
                                                path: path, input: exactInput, inputZeroPoint: inputZero, weights: weights, bias: bias,
                                                outputStage: stage, output: out.baseAddress!, packedMemory: packed)
                        for _ in 0..<runs {
                            out.update(repeating: 0)
                            conv.run(pool: threads)
                            if !out.elementsEqual(reference) { break }
                        }
                    }
                }
            }
        }
        return (fast, reference)
    }

    func testEveryAvailablePathMatchesTheReference() throws {
        let cpu = CPUFeatures.detect()
        let fastPaths = KernelPath.allCases.filter { $0 != .scalar }
        let unchecked = fastPaths.filter { !$0.isAvailable(on: cpu) }
        if !unchecked.isEmpty {
            print("FastConv2DTests: not checked on this CPU: " + unchecked.map { $0.name }.joined(separator: ", "))
        }
        let pool = try XCTUnwrap(EncoderThreadPool(threads: 3))
        for path in fastPaths where path.isAvailable(on: cpu) {
            var random = SplitMix64(seed: 42)
            let shapes = Self.fixedShapes + Self.randomShapes(&random, count: 24) + Self.fittedTileShapes
            for (index, shape) in shapes.enumerated() {
                XCTAssertGreaterThan(FastConv2DQ8.packedBytes(window: Window2D(inputHeight: 1, inputWidth: 1, outputHeight: 1, outputWidth: 1,
                    kernelHeight: shape.kernelHeight, kernelWidth: shape.kernelWidth, strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0),
                    inputChannels: shape.inputChannels, outputChannels: shape.outputChannels, path: path), 0)
                // Alternate one thread and the pool, so both the split and the whole run are checked.
                let (fast, reference) = Self.compare(shape, path: path, threads: index % 2 == 0 ? nil : pool,
                                                     fullWeightRange: index % 3 == 2, random: &random)
                if fast != reference {
                    let first = zip(fast, reference).enumerated().first { $0.element.0 != $0.element.1 }!
                    XCTFail("\(path.name) \(shape): output \(first.offset) is \(first.element.0), reference \(first.element.1)")
                }
                XCTAssertGreaterThan(Set(reference).count, min(3, reference.count - 1), "\(shape): the case must exercise more than clamping")
            }
        }
    }

    /// The pool's threads claim chunks of each conv's tasks: back-to-back runs of one conv and
    /// alternating convs must each compute every task exactly once.
    func testThreadPoolRunsEveryTaskOnceAcrossManyJobs() throws {
        let cpu = CPUFeatures.detect()
        let pool = try XCTUnwrap(EncoderThreadPool(threads: 3))
        let shapes = [Shape(height: 16, width: 18, inputChannels: 32, outputChannels: 70, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: true, residual: true),
                      Shape(height: 6, width: 5, inputChannels: 24, outputChannels: 130, kernelHeight: 1, kernelWidth: 1, stride: 1, pad: 0, relu: false, residual: false)]
        for path in KernelPath.allCases where path != .scalar && path.isAvailable(on: cpu) {
            var random = SplitMix64(seed: 11)
            for round in 0..<4 {
                let shape = shapes[round % 2]
                let (fast, reference) = Self.compare(shape, path: path, threads: pool, runs: 100, random: &random)
                XCTAssertEqual(fast, reference, "\(path.name) \(shape), round \(round)")
            }
        }
    }

    func testFastMaxPoolMatchesTheReference() {
        let cpu = CPUFeatures.detect()
        for path in KernelPath.allCases where path != .scalar && path.isAvailable(on: cpu) {
            checkMaxPool(path: path)
        }
    }

    func checkMaxPool(path: KernelPath) {
        var random = SplitMix64(seed: 7)
        // Channel counts around the vector widths (16, 32, 64 bytes) and their remainders.
        let wide = [Shape(height: 9, width: 7, inputChannels: 64, outputChannels: 64, kernelHeight: 3, kernelWidth: 3, stride: 2, pad: 1, relu: false, residual: false),
                    Shape(height: 6, width: 8, inputChannels: 100, outputChannels: 100, kernelHeight: 3, kernelWidth: 3, stride: 1, pad: 1, relu: false, residual: false),
                    Shape(height: 5, width: 5, inputChannels: 49, outputChannels: 49, kernelHeight: 3, kernelWidth: 3, stride: 2, pad: 0, relu: false, residual: false)]
        for shape in Self.fixedShapes + wide + Self.randomShapes(&random, count: 20) {
            let kernel = min(shape.kernelHeight, 3), pad = min(shape.pad, kernel / 2)
            let outH = (shape.height + 2 * pad - kernel) / shape.stride + 1, outW = (shape.width + 2 * pad - kernel) / shape.stride + 1
            guard outH > 0, outW > 0 else { continue }
            let window = Window2D(inputHeight: shape.height, inputWidth: shape.width, outputHeight: outH, outputWidth: outW,
                                  kernelHeight: kernel, kernelWidth: kernel, strideHeight: shape.stride, strideWidth: shape.stride,
                                  padHeight: pad, padWidth: pad)
            // Mostly negative inputs, so a padding tap of 0 would win if it were counted.
            let input = (0..<shape.height * shape.width * shape.inputChannels).map { _ in Int8(truncatingIfNeeded: Int(random.next() % 100) - 120) }
            var reference = [Int8](repeating: 0, count: outH * outW * shape.inputChannels)
            var fast = [Int8](repeating: 1, count: reference.count)
            maxPool2dQ8Reference(window: window, channels: shape.inputChannels, input: input, output: &reference)
            maxPool2dQ8Fast(window: window, channels: shape.inputChannels, path: path, input: input, output: &fast)
            XCTAssertEqual(fast, reference, "\(path.name) max pool \(shape) kernel \(kernel) pad \(pad)")
        }
    }

    func testFastGlobalAveragePoolMatchesTheReference() {
        var random = SplitMix64(seed: 5)
        // Channel counts below, at and past the 64-channel chunk; shifts that round and that
        // make huge or tiny outputs; the rounding of negative means (floor of the half-up mean).
        for (pixels, channels) in [(1, 1), (16, 512), (49, 70), (4, 64), (3, 130), (225, 16)] {
            let input = (0..<pixels * channels).map { _ in random.int8() }
            let inputZero = Int32(random.int8()), outputZero = Int32(random.int8())
            let multiplier = Int32(1 << 30) + Int32(random.next() % (1 << 30))
            for shift in [Int32(1), 20, 30, 31, 33, 45] {
                var reference = [Int8](repeating: 0, count: channels), fast = [Int8](repeating: 1, count: channels)
                globalAvgPoolQ8Reference(pixels: pixels, channels: channels, input: input, inputZeroPoint: inputZero,
                                         multiplier: multiplier, shift: shift, outputZeroPoint: outputZero, output: &reference)
                globalAvgPoolQ8Fast(pixels: pixels, channels: channels, input: input, inputZeroPoint: inputZero,
                                    multiplier: multiplier, shift: shift, outputZeroPoint: outputZero, output: &fast)
                XCTAssertEqual(fast, reference, "global average pool \(pixels) pixels x \(channels) channels, shift \(shift)")
                if shift == 31 { XCTAssertGreaterThan(Set(reference).count, min(3, channels - 1), "\(pixels)x\(channels): more than clamping") }
            }
        }
    }

    func testNamedPathsAndErrors() {
        let none = CPUFeatures(bits: 0)
        XCTAssertEqual(KernelPath(name: "vnni"), .vnni)
        XCTAssertNil(KernelPath(name: "avx3"))
        guard case .failure(let error) = KernelPath.named("sdot", on: none) else { return XCTFail("sdot without dotprod") }
        XCTAssertTrue(error.description.contains("'sdot' is not available"), error.description)
        guard case .failure(let unknown) = KernelPath.named("fast", on: none) else { return XCTFail("an unknown name") }
        XCTAssertTrue(unknown.description.contains("scalar, avx2, vnni, neon, sdot"), unknown.description)
        XCTAssertEqual(KernelPath.available(on: none), [.scalar])
    }
}
