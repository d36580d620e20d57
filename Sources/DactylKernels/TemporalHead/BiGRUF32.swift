import CDactylPlatform

/// One direction's weights, PyTorch layout, gate order (r, z, n).
public struct GRUDirectionWeights {
    public var inputWeights: UnsafePointer<Float>
    public var hiddenWeights: UnsafePointer<Float>
    public var inputBias: UnsafePointer<Float>
    public var hiddenBias: UnsafePointer<Float>

    public init(inputWeights: UnsafePointer<Float>, hiddenWeights: UnsafePointer<Float>,
                inputBias: UnsafePointer<Float>, hiddenBias: UnsafePointer<Float>) {
        self.inputWeights = inputWeights
        self.hiddenWeights = hiddenWeights
        self.inputBias = inputBias
        self.hiddenBias = hiddenBias
    }
}

/// Bidirectional GRU with torch.nn.GRU's semantics, [frames][inputSize] -> [frames][2*hidden]
/// (forward half, then backward half). The input projections of all frames are one sgemm;
/// the recurrence is one sgemv per frame.
public enum BiGRUF32 {
    public static func scratchFloats(frames: Int, hiddenSize: Int) -> Int {
        frames * 3 * hiddenSize + 3 * hiddenSize + hiddenSize
    }

    public static func run(
        frames: Int, inputSize: Int, hiddenSize: Int,
        forward: GRUDirectionWeights, backward: GRUDirectionWeights,
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        runDirection(frames: frames, inputSize: inputSize, hiddenSize: hiddenSize, weights: forward,
                     reversed: false, input: input, output: output, scratch: scratch)
        runDirection(frames: frames, inputSize: inputSize, hiddenSize: hiddenSize, weights: backward,
                     reversed: true, input: input, output: output + hiddenSize, scratch: scratch)
    }

    private static func runDirection(
        frames: Int, inputSize: Int, hiddenSize: Int, weights: GRUDirectionWeights, reversed: Bool,
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        let gates = 3 * hiddenSize
        let inputGates = scratch
        let hiddenGates = scratch + frames * gates
        let state = hiddenGates + gates
        for frame in 0..<frames {
            (inputGates + frame * gates).update(from: weights.inputBias, count: gates)
        }
        dactyl_sgemm(0, 1, Int32(frames), Int32(gates), Int32(inputSize), 1,
                     input, Int32(inputSize), weights.inputWeights, Int32(inputSize), 1, inputGates, Int32(gates))
        state.update(repeating: 0, count: hiddenSize)
        for step in 0..<frames {
            let frame = reversed ? frames - 1 - step : step
            hiddenGates.update(from: weights.hiddenBias, count: gates)
            dactyl_sgemv(Int32(gates), Int32(hiddenSize), 1, weights.hiddenWeights, Int32(hiddenSize), state, 1, hiddenGates)
            let projected = inputGates + frame * gates
            let destination = output + frame * 2 * hiddenSize
            for unit in 0..<hiddenSize {
                let reset = sigmoid(projected[unit] + hiddenGates[unit])
                let update = sigmoid(projected[hiddenSize + unit] + hiddenGates[hiddenSize + unit])
                let candidate = dactyl_tanhf(projected[2 * hiddenSize + unit] + reset * hiddenGates[2 * hiddenSize + unit])
                state[unit] = (1 - update) * candidate + update * state[unit]
                destination[unit] = state[unit]
            }
        }
    }

    @inline(__always)
    private static func sigmoid(_ x: Float) -> Float { 1 / (1 + dactyl_expf(-x)) }
}
