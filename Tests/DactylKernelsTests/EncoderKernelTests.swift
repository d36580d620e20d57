import DactylTestSupport
import XCTest
@testable import DactylKernels

final class EncoderKernelTests: XCTestCase {
    func testRndnuRoundsHalfUp() {
        XCTAssertEqual(rndnu(3, shift: 1), 2)    //  1.5 -> 2
        XCTAssertEqual(rndnu(-3, shift: 1), -1)  // -1.5 -> -1 (ties go up)
        XCTAssertEqual(rndnu(-5, shift: 2), -1)  // -1.25 -> -1
        XCTAssertEqual(rndnu(-6, shift: 2), -1)  // -1.5 -> -1
        XCTAssertEqual(rndnu(-7, shift: 2), -2)  // -1.75 -> -2
        XCTAssertEqual(rndnu(Int64(1) << 61, shift: 62), 1)
        XCTAssertEqual(rndnu(Int64(Int32.max) * Int64(Int32.max), shift: 62), 1)
    }

    /// conv2dQ8Reference against a literal transcription of docs/model-format.md, written
    /// independently with real-valued index arithmetic, on shapes with padding, strides,
    /// remainders, ReLU and the residual add.
    func testConv2DMatchesTheDocumentedFormula() {
        var random = SplitMix64(seed: 11)
        let cases: [(h: Int, w: Int, cin: Int, cout: Int, k: Int, s: Int, p: Int, relu: Bool, residual: Bool)] = [
            (5, 7, 3, 4, 3, 1, 1, false, false),
            (9, 6, 2, 5, 3, 2, 1, true, false),
            (8, 8, 4, 4, 3, 1, 1, true, true),
            (7, 5, 3, 2, 7, 2, 3, true, false),
            (6, 6, 5, 3, 1, 2, 0, false, false),
            (3, 3, 1, 1, 3, 1, 2, false, true),
        ]
        for c in cases {
            let outH = (c.h + 2 * c.p - c.k) / c.s + 1, outW = (c.w + 2 * c.p - c.k) / c.s + 1
            let input = (0..<c.h * c.w * c.cin).map { _ in random.int8() }
            let weights = (0..<c.cout * c.k * c.k * c.cin).map { _ in max(random.int8(), -127) }
            let bias = (0..<c.cout).map { _ in Int32(random.next() % 2001) - 1000 }
            let multipliers = (0..<c.cout).map { _ in Int32(1 << 30) + Int32(random.next() % (1 << 30)) }
            let shifts = (0..<c.cout).map { _ in Int32(36 + random.next() % 4) }
            let residual = (0..<outH * outW * c.cout).map { _ in random.int8() }
            let inputZero: Int32 = -7, outputZero: Int32 = -20, residualZero: Int32 = 3
            let residualMultiplier: Int32 = 1_500_000_000, residualShift: Int32 = 31

            var expected = [Int8](repeating: 0, count: outH * outW * c.cout)
            for oy in 0..<outH {
                for ox in 0..<outW {
                    for oc in 0..<c.cout {
                        var acc = Int64(bias[oc])
                        for ky in 0..<c.k {
                            for kx in 0..<c.k {
                                let iy = oy * c.s - c.p + ky, ix = ox * c.s - c.p + kx
                                if iy < 0 || iy >= c.h || ix < 0 || ix >= c.w { continue }
                                for ic in 0..<c.cin {
                                    acc += (Int64(input[(iy * c.w + ix) * c.cin + ic]) - Int64(inputZero))
                                        * Int64(weights[((oc * c.k + ky) * c.k + kx) * c.cin + ic])
                                }
                            }
                        }
                        let index = (oy * outW + ox) * c.cout + oc
                        var v = documentedRndnu(acc * Int64(multipliers[oc]), Int(shifts[oc]))
                        if c.residual {
                            v += documentedRndnu((Int64(residual[index]) - Int64(residualZero)) * Int64(residualMultiplier), Int(residualShift))
                        }
                        v += Int64(outputZero)
                        let low: Int64 = c.relu ? max(Int64(outputZero), -128) : -128
                        expected[index] = Int8(min(max(v, low), 127))
                    }
                }
            }

            var output = [Int8](repeating: 0, count: expected.count)
            multipliers.withUnsafeBufferPointer { m in
                shifts.withUnsafeBufferPointer { s in
                    residual.withUnsafeBufferPointer { r in
                        let stage = Conv2DQ8OutputStage(
                            multipliers: m.baseAddress!, shifts: s.baseAddress!, outputZeroPoint: outputZero, relu: c.relu,
                            residual: c.residual ? r.baseAddress! : nil, residualZeroPoint: residualZero,
                            residualMultiplier: residualMultiplier, residualShift: residualShift)
                        conv2dQ8Reference(
                            window: Window2D(inputHeight: c.h, inputWidth: c.w, outputHeight: outH, outputWidth: outW,
                                             kernelHeight: c.k, kernelWidth: c.k, strideHeight: c.s, strideWidth: c.s,
                                             padHeight: c.p, padWidth: c.p),
                            inputChannels: c.cin, outputChannels: c.cout, input: input, inputZeroPoint: inputZero,
                            weights: weights, bias: bias, outputStage: stage, output: &output)
                    }
                }
            }
            XCTAssertEqual(output, expected, "case \(c)")
            XCTAssertTrue(Set(output).count > 3, "case \(c): the test must exercise more than clamping")
        }
    }

    func testMaxPoolIgnoresPadding() {
        // 3x3 input, all negative; with padding 1, a padded tap of 0 must never win.
        let input: [Int8] = [-9, -8, -7, -6, -5, -4, -3, -2, -100]
        var output = [Int8](repeating: 0, count: 4)
        maxPool2dQ8Reference(
            window: Window2D(inputHeight: 3, inputWidth: 3, outputHeight: 2, outputWidth: 2, kernelHeight: 3,
                             kernelWidth: 3, strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1),
            channels: 1, input: input, output: &output)
        XCTAssertEqual(output, [-5, -4, -2, -2])
    }

    func testGlobalAveragePoolRoundsTheMeanHalfUpThenRequantises() {
        // Channel 0 holds 1 and 2 (mean 1.5 -> 2), channel 1 holds -1 and -2 (mean -1.5 -> -1).
        let input: [Int8] = [1, -1, 2, -2]
        var output = [Int8](repeating: 0, count: 2)
        // Multiplier 2^30 with shift 30 is exactly 1.0; then the output zero point is added.
        globalAvgPoolQ8Reference(pixels: 2, channels: 2, input: input, inputZeroPoint: 0,
                                 multiplier: 1 << 30, shift: 30, outputZeroPoint: 5, output: &output)
        XCTAssertEqual(output, [7, 4])
        // With an input zero point the values are centred first: 11 and 12 around 10 -> 1.5 -> 2.
        globalAvgPoolQ8Reference(pixels: 2, channels: 1, input: [11, 12], inputZeroPoint: 10,
                                 multiplier: 1 << 30, shift: 29, outputZeroPoint: 0, output: &output)
        XCTAssertEqual(output[0], 4)
    }
}

/// The doc's rndnu, floor((x + 2^(s-1)) / 2^s), spelled with division so it shares no code with the kernel.
func documentedRndnu(_ x: Int64, _ s: Int) -> Int64 {
    let divisor = Int64(1) << Int64(s)
    let numerator = x + divisor / 2
    return numerator >= 0 ? numerator / divisor : -((-numerator + divisor - 1) / divisor)
}
