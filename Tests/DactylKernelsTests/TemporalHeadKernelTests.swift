import DactylTestSupport
import XCTest
import Foundation
@testable import DactylKernels

/// The fp32 head kernels against straightforward double-precision implementations of
/// PyTorch's definitions (conv1d with zero padding, torch.nn.GRU, linear, log_softmax).
final class TemporalHeadKernelTests: XCTestCase {
    var random = SplitMix64(seed: 3)

    func randomFloats(_ count: Int) -> [Float] { (0..<count).map { _ in random.float() } }

    func testConv1DMatchesDirectConvolution() {
        for (frames, cin, cout, kernel, relu) in [(7, 3, 4, 3, false), (5, 6, 2, 5, true), (1, 2, 3, 3, true), (9, 4, 4, 1, false)] {
            let weights = randomFloats(cout * kernel * cin), bias = randomFloats(cout), input = randomFloats(frames * cin)
            var output = [Float](repeating: .nan, count: frames * cout)
            var scratch = [Float](repeating: .nan, count: Conv1DF32.scratchFloats(frames: frames, inChannels: cin, kernel: kernel))
            Conv1DF32.run(frames: frames, inChannels: cin, outChannels: cout, kernel: kernel, relu: relu,
                          weights: weights, bias: bias, input: input, output: &output, scratch: &scratch)
            for t in 0..<frames {
                for o in 0..<cout {
                    var sum = Double(bias[o])
                    for j in 0..<kernel {
                        let source = t + j - kernel / 2
                        guard source >= 0 && source < frames else { continue }
                        for i in 0..<cin { sum += Double(weights[(o * kernel + j) * cin + i]) * Double(input[source * cin + i]) }
                    }
                    if relu { sum = max(sum, 0) }
                    XCTAssertEqual(Double(output[t * cout + o]), sum, accuracy: 1e-5)
                }
            }
        }
    }

    func testBiGRUMatchesTorchDefinition() {
        let frames = 6, inputSize = 5, hidden = 4
        let input = randomFloats(frames * inputSize)
        let directions = (0..<2).map { _ in
            (wih: randomFloats(3 * hidden * inputSize), whh: randomFloats(3 * hidden * hidden),
             bih: randomFloats(3 * hidden), bhh: randomFloats(3 * hidden))
        }
        var output = [Float](repeating: .nan, count: frames * 2 * hidden)
        var scratch = [Float](repeating: .nan, count: BiGRUF32.scratchFloats(frames: frames, hiddenSize: hidden))
        let weights = directions.map { d in
            GRUDirectionWeights(inputWeights: d.wih.withUnsafeBufferPointer { $0.baseAddress! },
                                hiddenWeights: d.whh.withUnsafeBufferPointer { $0.baseAddress! },
                                inputBias: d.bih.withUnsafeBufferPointer { $0.baseAddress! },
                                hiddenBias: d.bhh.withUnsafeBufferPointer { $0.baseAddress! })
        }
        withExtendedLifetime(directions) {
            BiGRUF32.run(frames: frames, inputSize: inputSize, hiddenSize: hidden, forward: weights[0],
                         backward: weights[1], input: input, output: &output, scratch: &scratch)
        }
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        for (directionIndex, d) in directions.enumerated() {
            var h = [Double](repeating: 0, count: hidden)
            let order = directionIndex == 0 ? Array(0..<frames) : Array((0..<frames).reversed())
            for t in order {
                func project(_ w: [Float], _ b: [Float], _ x: [Double], _ row: Int) -> Double {
                    var sum = Double(b[row])
                    for i in x.indices { sum += Double(w[row * x.count + i]) * x[i] }
                    return sum
                }
                let x = (0..<inputSize).map { Double(input[t * inputSize + $0]) }
                var next = h
                for u in 0..<hidden {
                    let r = sigmoid(project(d.wih, d.bih, x, u) + project(d.whh, d.bhh, h, u))
                    let z = sigmoid(project(d.wih, d.bih, x, hidden + u) + project(d.whh, d.bhh, h, hidden + u))
                    let n = tanh(project(d.wih, d.bih, x, 2 * hidden + u) + r * project(d.whh, d.bhh, h, 2 * hidden + u))
                    next[u] = (1 - z) * n + z * h[u]
                }
                h = next
                for u in 0..<hidden {
                    XCTAssertEqual(Double(output[t * 2 * hidden + directionIndex * hidden + u]), h[u], accuracy: 1e-5)
                }
            }
        }
    }

    func testLinearAndLogSoftmax() {
        let frames = 3, inFeatures = 4, outFeatures = 5
        let weights = randomFloats(outFeatures * inFeatures), bias = randomFloats(outFeatures), input = randomFloats(frames * inFeatures)
        var output = [Float](repeating: .nan, count: frames * outFeatures)
        LinearF32.run(frames: frames, inFeatures: inFeatures, outFeatures: outFeatures, weights: weights, bias: bias,
                      input: input, output: &output)
        var expected = [Double](repeating: 0, count: frames * outFeatures)
        for t in 0..<frames {
            for o in 0..<outFeatures {
                var sum = Double(bias[o])
                for i in 0..<inFeatures { sum += Double(weights[o * inFeatures + i]) * Double(input[t * inFeatures + i]) }
                expected[t * outFeatures + o] = sum
                XCTAssertEqual(Double(output[t * outFeatures + o]), sum, accuracy: 1e-5)
            }
        }
        // Large offsets must not overflow exp: log-softmax is shift-invariant.
        for index in 0..<outFeatures { output[index] += 1000 }
        LogSoftmaxF32.run(frames: frames, classes: outFeatures, values: &output)
        for t in 0..<frames {
            let row = expected[(t * outFeatures)..<((t + 1) * outFeatures)]
            let largest = row.max()!
            let normaliser = largest + log(row.map { exp($0 - largest) }.reduce(0, +))
            for o in 0..<outFeatures {
                XCTAssertEqual(Double(output[t * outFeatures + o]), expected[t * outFeatures + o] - normaliser, accuracy: 1e-4)
            }
        }
    }
}
