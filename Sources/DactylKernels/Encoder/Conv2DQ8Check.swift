/// A self-contained check of a fast conv2d path against the reference on random shapes, for
/// `dactyl selftest` on a board or under qemu (the XCTest suite has its own, FastConv2DTests).
public enum FastConv2DCheck {
    /// SplitMix64, so a failing case repeats exactly.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func int8() -> Int8 { Int8(truncatingIfNeeded: next()) }
    }

    /// One conv's inputs: `.random` int8 values; `.extreme` only -128 / 127 inputs and -127 / 127
    /// weights (the Winograd sums wrap on the way); `.fullRange` weights over all of int8 (a -128
    /// weight turns off the NEON path's smlal pairing).
    enum Values { case random, extreme, fullRange }

    typealias Shape = (kernel: Int, stride: Int, padHeight: Int, padWidth: Int, height: Int, width: Int, inputChannels: Int)

    // Separate functions (not one expression with `smallMap ? :` per value): so written, the
    // Embedded Swift 6.3.1 aarch64 release build reused a register holding a constant of one
    // branch in the other (an overflow trap on height * width under qemu).
    @inline(never) static func anyShape(_ random: inout Random) -> Shape {
        let kernel = [1, 3, 5, 7][random.below(4)]
        let stride = 1 + random.below(2)
        let pad = random.below(kernel / 2 + 1)
        let height = max(kernel - 2 * pad, 1) + random.below(12), width = max(kernel - 2 * pad, 1) + random.below(12)
        return (kernel, stride, pad, pad, height, width, 1 + random.below(40))
    }

    @inline(never) static func smallMapShape(_ random: inout Random) -> Shape {
        let kernel = [3, 3, 7][random.below(3)]
        let stride = 1 + random.below(2)
        // One in four without padding columns (windows differ only in their rows: a tile across two
        // output rows has kernel rows in the padding for part of its pixels, and no column).
        let padWidth = random.below(4) == 0 ? 0 : kernel / 2
        let height = 1 + random.below(7), width = padWidth == 0 ? kernel + random.below(4) : 1 + random.below(7)
        let inputChannels = random.below(3) != 0 ? 16 * (1 + random.below(4)) : 1 + random.below(40)
        return (kernel, stride, kernel / 2, padWidth, height, width, inputChannels)
    }

    /// Runs `cases` random shapes (kernels 1/3/5/7, strides 1 and 2, padding, odd channel
    /// counts, ReLU and residual on and off); returns nil if every output equals the
    /// reference's, else the first difference. Every other case is a padded 3x3 or 7x7 conv on
    /// a small map (1x1 .. 7x7, as ResNet's last stages), two in three with input channels a
    /// multiple of 16: where the sdot path skips taps in the padding per pixel (left and right
    /// columns, rows in the padding for part of a tile, corners). One conv in three has shifts
    /// below 32 in some channels and one in eight a residual shift below 18, so that the NEON
    /// paths run both their output stages (32-bit lanes and the 64-bit fallback): on those paths a
    /// run of 20 or more cases where either never ran is a failure. Also returns how many convs
    /// ran the 32-bit stage.
    public static func run(path: KernelPath, cases: Int, seed: UInt64) -> (problem: String?, requant32: Int) {
        var random = Random(state: seed)
        var requant32 = 0
        for index in 0..<cases {
            let smallMap = index % 2 == 1
            let (kernel, stride, padHeight, padWidth, height, width, inputChannels) = smallMap ? smallMapShape(&random) : anyShape(&random)
            let outputChannels = 1 + random.below(72)
            let relu = random.below(2) == 0, hasResidual = random.below(2) == 0
            // Two cases in three with the exporter's weight range (-127...127), one with all of int8.
            // The small maps keep Winograd off: they check the direct paths' tap skipping (runWinograd
            // checks Winograd).
            let outcome = checkCase(index: index, path: path, kernel: kernel, stride: stride, padHeight: padHeight, padWidth: padWidth, height: height, width: width,
                                    inputChannels: inputChannels, outputChannels: outputChannels, relu: relu, hasResidual: hasResidual,
                                    values: index % 3 == 2 ? .fullRange : .random, winograd: smallMap ? .off : .chosen, pool: nil, random: &random)
            if let problem = outcome.problem { return (problem, requant32) }
            if outcome.requant32 { requant32 += 1 }
        }
        if (path == .neon || path == .sdot) && cases >= 20 && (requant32 == 0 || requant32 == cases) {
            return ("\(requant32) of \(cases) convs ran the 32-bit output stage: both it and the 64-bit one must run", requant32)
        }
        return (nil, requant32)
    }

    /// Winograd F(4x4, 3x3), forced on, on `cases` random 3x3 stride-1 shapes: 1..70 input
    /// channels (odd counts included), maps from 1x1 to 6x6 tiles, non-square, padding 0 and 1,
    /// ReLU and residual on and off, extreme inputs, a pool of 2 threads every other case (the
    /// two phases), and a last conv whose weights fail the exact-recovery bound and must take
    /// the direct path. Returns the first difference from the reference (or a conv that took the
    /// wrong branch) and how many convs ran as Winograd (0 on paths without it). Both output stages
    /// (32-bit and 64-bit lanes, as `run`) must have run among the Winograd convs.
    public static func runWinograd(path: KernelPath, cases: Int, seed: UInt64) -> (problem: String?, winograd: Int) {
        var random = Random(state: seed)
        var winograd = 0, winograd32 = 0
        let pool = EncoderThreadPool(threads: 2)
        for index in 0..<cases {
            let failsBound = index == cases - 1
            let pad = random.below(2)
            let height = max(3 - 2 * pad, 1) + random.below(22), width = max(3 - 2 * pad, 1) + random.below(22)
            // 9 * 240 * 127 weights' magnitude: 128 * that is over 2^25, the recovery's limit.
            let inputChannels = failsBound ? 240 : 1 + random.below(70), outputChannels = 1 + random.below(failsBound ? 8 : 40)
            let relu = random.below(2) == 0, hasResidual = random.below(2) == 0
            let values: Values = failsBound || index % 4 == 1 ? .extreme : index % 4 == 3 ? .fullRange : .random
            let outcome = checkCase(index: index, path: path, kernel: 3, stride: 1, padHeight: pad, padWidth: pad, height: height, width: width,
                                    inputChannels: inputChannels, outputChannels: outputChannels, relu: relu, hasResidual: hasResidual,
                                    values: values, winograd: .forced, pool: index % 2 == 1 ? pool : nil, random: &random)
            if let problem = outcome.problem { return (problem, winograd) }
            let expected = path == .neon && !failsBound
            if outcome.winograd != expected {
                return ("case \(index) (\(height)x\(width)x\(inputChannels) -> \(outputChannels)): "
                        + (expected ? "did not run as Winograd" : "ran as Winograd, which is not exact for it"), winograd)
            }
            if outcome.winograd { winograd += 1 }
            if outcome.winograd && outcome.requant32 { winograd32 += 1 }
        }
        if path == .neon && cases >= 20 && (winograd32 == 0 || winograd32 == winograd) {
            return ("\(winograd32) of \(winograd) Winograd convs ran the 32-bit output stage: both it and the 64-bit one must run", winograd)
        }
        return (nil, winograd)
    }

    static func checkCase(index: Int, path: KernelPath, kernel: Int, stride: Int, padHeight: Int, padWidth: Int, height: Int, width: Int,
                          inputChannels: Int, outputChannels: Int, relu: Bool, hasResidual: Bool, values: Values,
                          winograd: FastConv2DQ8.Winograd, pool: EncoderThreadPool?, random: inout Random)
        -> (problem: String?, winograd: Bool, requant32: Bool) {
        let outH = (height + 2 * padHeight - kernel) / stride + 1, outW = (width + 2 * padWidth - kernel) / stride + 1
        let window = Window2D(inputHeight: height, inputWidth: width, outputHeight: outH, outputWidth: outW,
                              kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride,
                              padHeight: padHeight, padWidth: padWidth)
        let inputCount = height * width * inputChannels, outputCount = outH * outW * outputChannels
        let weightCount = outputChannels * kernel * kernel * inputChannels
        let input = UnsafeMutablePointer<Int8>.allocate(capacity: inputCount)
        let weights = UnsafeMutablePointer<Int8>.allocate(capacity: weightCount)
        let residual = UnsafeMutablePointer<Int8>.allocate(capacity: outputCount)
        let reference = UnsafeMutablePointer<Int8>.allocate(capacity: outputCount)
        let fast = UnsafeMutablePointer<Int8>.allocate(capacity: outputCount)
        let bias = UnsafeMutablePointer<Int32>.allocate(capacity: outputChannels)
        let multipliers = UnsafeMutablePointer<Int32>.allocate(capacity: outputChannels)
        let shifts = UnsafeMutablePointer<Int32>.allocate(capacity: outputChannels)
        let packedBytes = FastConv2DQ8.packedBytes(window: window, inputChannels: inputChannels,
                                                   outputChannels: outputChannels, path: path, winograd: winograd)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: max(packedBytes, 64), alignment: 64)
        defer {
            input.deallocate(); weights.deallocate(); residual.deallocate(); reference.deallocate(); fast.deallocate()
            bias.deallocate(); multipliers.deallocate(); shifts.deallocate(); packed.deallocate()
        }
        guard packedBytes > 0 else { return ("case \(index): no packed layout for kernel \(kernel), \(inputChannels) input channels", false, false) }
        for i in 0..<inputCount { input[i] = values == .extreme ? (random.below(2) == 0 ? -128 : 127) : random.int8() }
        for i in 0..<weightCount {
            switch values {
            case .random: weights[i] = Int8(random.below(255) - 127)
            case .extreme: weights[i] = random.below(2) == 0 ? -127 : 127
            case .fullRange: weights[i] = random.int8()
            }
        }
        for i in 0..<outputCount { residual[i] = random.int8() }
        // Shifts that keep most outputs inside int8 (about 1 / (area * 128): 35 or more). One conv
        // in three has a few far off (20 less: under 32, where the NEON paths keep 64-bit lanes),
        // always one channel among them.
        var areaBits: Int32 = 0
        while (1 << areaBits) < kernel * kernel * inputChannels * 64 { areaBits += 1 }
        let smallShifts = random.below(3) == 0, smallChannel = random.below(outputChannels)
        for c in 0..<outputChannels {
            bias[c] = Int32(random.below(200_001)) - 100_000
            multipliers[c] = Int32(1 << 30) + Int32(random.below(1 << 30))
            let far = smallShifts && (c == smallChannel || random.below(9) == 0)
            shifts[c] = min(62, max(1, 31 + areaBits + Int32(random.below(5)) - 2 - (far ? 20 : 0)))
        }
        // Residual shifts 30, 31, 32 (below, at and above 31: the 32-bit stage's pre-shift is 2, 1,
        // 0), and one conv in eight 10-17 (the residual's 64-bit fallback; outputs mostly clamp).
        let residualShift = random.below(8) == 0 ? Int32(10 + random.below(8)) : Int32(30 + random.below(3))
        let stage = Conv2DQ8OutputStage(
            multipliers: multipliers, shifts: shifts, outputZeroPoint: Int32(random.int8()), relu: relu,
            residual: hasResidual ? UnsafePointer(residual) : nil, residualZeroPoint: Int32(random.int8()),
            residualMultiplier: Int32(1 << 30) + Int32(random.below(1 << 30)), residualShift: residualShift)
        let inputZeroPoint = Int32(random.int8())
        conv2dQ8Reference(window: window, inputChannels: inputChannels, outputChannels: outputChannels, input: input,
                          inputZeroPoint: inputZeroPoint, weights: weights, bias: bias, outputStage: stage, output: reference)
        let conv = FastConv2DQ8(window: window, inputChannels: inputChannels, outputChannels: outputChannels, path: path,
                                input: input, inputZeroPoint: inputZeroPoint, weights: weights, bias: bias,
                                outputStage: stage, output: fast, packedMemory: packed, winograd: winograd)
        conv.run(pool: pool)
        for i in 0..<outputCount where fast[i] != reference[i] {
            return ("case \(index) (\(height)x\(width)x\(inputChannels) -> \(outputChannels), kernel \(kernel), stride \(stride), pad \(padHeight)x\(padWidth)"
                    + (conv.usesWinograd ? ", Winograd" : "") + (conv.usesRequant32 ? ", 32-bit output stage" : "")
                    + "): output \(i) is \(fast[i]), reference \(reference[i])", conv.usesWinograd, conv.usesRequant32)
        }
        return (nil, conv.usesWinograd, conv.usesRequant32)
    }
}
