import CDactylPlatform
import DactylKernels
import DactylModel

/// Runs the fp32 head (1D-CNN, BiGRU, linear, log-softmax) over a window of per-frame
/// features, on buffers planned in the arena.
public struct TemporalHead {
    /// Buffers of one head op: where it reads, writes, and its scratch.
    public struct OpBuffers {
        public let input: UnsafeMutablePointer<Float>
        public let output: UnsafeMutablePointer<Float>
        public let scratch: UnsafeMutablePointer<Float>?
    }

    let ops: [HeadOp]
    let buffers: [OpBuffers]
    let featureSize: Int
    let featureScale: Float
    let featureZeroPoint: Int32
    public let logProbabilities: UnsafePointer<Float>
    public let classes: Int

    public init(model: Model, buffers: [OpBuffers]) {
        precondition(buffers.count == model.headOps.count)
        dactyl_blas_use_one_thread()
        self.ops = model.headOps
        self.buffers = buffers
        self.featureSize = model.featureSize
        let feature = model.tensors[model.featureTensor]
        self.featureScale = feature.scale
        self.featureZeroPoint = feature.zeroPoint
        self.logProbabilities = UnsafePointer(buffers[buffers.count - 1].output)
        self.classes = model.numClasses
    }

    /// Scratch floats head op `op` needs for a window of `frames`.
    public static func scratchFloats(_ op: HeadOp, frames: Int) -> Int {
        switch op {
        case .conv1d(let conv): Conv1DF32.scratchFloats(frames: frames, inChannels: conv.inChannels, kernel: conv.kernel)
        case .biGRU(let gru): BiGRUF32.scratchFloats(frames: frames, hiddenSize: gru.hiddenSize)
        case .linear, .logSoftmax: 0
        }
    }

    /// Log-softmax writes over its input; every other op needs an output buffer of its own.
    public static func isInPlace(_ op: HeadOp) -> Bool {
        if case .logSoftmax = op { return true }
        return false
    }

    /// Dequantises `frames` int8 features (`features`, [frames][featureSize]) and runs the head;
    /// the result is in `logProbabilities`, [frames][classes].
    public func run(features: UnsafePointer<Int8>, frames: Int) {
        run(ring: features, ringFrames: max(frames, 1), start: 0, frames: frames)
    }

    /// The same over `frames` consecutive features of a ring of `ringFrames` features, starting
    /// at slot `start` and wrapping around: the live box's window slides over its feature ring.
    public func run(ring: UnsafePointer<Int8>, ringFrames: Int, start: Int, frames: Int) {
        precondition(frames <= ringFrames && start >= 0 && start < ringFrames, "head window outside the feature ring")
        var destination = buffers[0].input
        var slot = start
        for _ in 0..<frames {
            let feature = ring + slot * featureSize
            for index in 0..<featureSize {
                destination[index] = featureScale * Float(Int32(feature[index]) - featureZeroPoint)
            }
            destination += featureSize
            slot = slot + 1 == ringFrames ? 0 : slot + 1
        }
        for (op, buffer) in zip(ops, buffers) {
            switch op {
            case .conv1d(let conv):
                Conv1DF32.run(frames: frames, inChannels: conv.inChannels, outChannels: conv.outChannels,
                              kernel: conv.kernel, relu: conv.relu, weights: conv.weights, bias: conv.bias,
                              input: buffer.input, output: buffer.output, scratch: buffer.scratch!)
            case .biGRU(let gru):
                func direction(_ weights: GRUWeights) -> GRUDirectionWeights {
                    GRUDirectionWeights(inputWeights: weights.inputWeights, hiddenWeights: weights.hiddenWeights,
                                        inputBias: weights.inputBias, hiddenBias: weights.hiddenBias)
                }
                BiGRUF32.run(frames: frames, inputSize: gru.inputSize, hiddenSize: gru.hiddenSize,
                             forward: direction(gru.forward), backward: direction(gru.backward),
                             input: buffer.input, output: buffer.output, scratch: buffer.scratch!)
            case .linear(let linear):
                LinearF32.run(frames: frames, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures,
                              weights: linear.weights, bias: linear.bias, input: buffer.input, output: buffer.output)
            case .logSoftmax(let channels):
                LogSoftmaxF32.run(frames: frames, classes: channels, values: buffer.output)
            }
        }
    }
}
