import DactylKernels
import DactylModel

/// Runs an int8 graph (encoder ops: conv2d, maxpool, global average pool) on one frame's input
/// tensor, every op on arena memory resolved once at start-up; `encode()` does no allocation and
/// no lookups. The one runner of both int8 networks: the recogniser's encoder and the hand
/// localiser (same kernels, the same packed-weight fast paths, the same thread pool).
public struct FrameEncoder {
    /// An encoder op with its tensors and geometry resolved.
    enum Step {
        case conv2d(window: Window2D, inputChannels: Int, outputChannels: Int, input: UnsafePointer<Int8>,
                    inputZeroPoint: Int32, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>,
                    outputStage: Conv2DQ8OutputStage, output: UnsafeMutablePointer<Int8>)
        /// A conv2d on a fast path, its weights packed at start-up.
        case fastConv2d(FastConv2DQ8)
        case maxPool2d(window: Window2D, channels: Int, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>)
        case globalAvgPool(pixels: Int, channels: Int, input: UnsafePointer<Int8>, inputZeroPoint: Int32,
                           multiplier: Int32, shift: Int32, outputZeroPoint: Int32, output: UnsafeMutablePointer<Int8>)
    }

    let steps: [Step]
    public let kernelPath: KernelPath
    /// Worker threads for the fast convolutions (nil: the calling thread only).
    let pool: EncoderThreadPool?
    /// Where preprocessing writes the quantised frame (tensor 0).
    public let input: UnsafeMutablePointer<Int8>
    /// The per-frame feature (the feature tensor), valid after `encode()`; for another graph, its
    /// `output` tensor.
    public let feature: UnsafePointer<Int8>

    /// The recogniser's encoder. `tensorMemory(id)` gives each tensor's buffer, sized for
    /// `shapes[id]`; `packedMemory(op)` the memory for encoder op `op`'s packed weights
    /// (`PipelineLayout.packedWeights`), nil where the op keeps the reference kernel.
    public init(model: Model, shapes: [TensorShape], kernelPath: KernelPath, pool: EncoderThreadPool? = nil,
                packedMemory: (Int) -> UnsafeMutableRawPointer? = { _ in nil },
                tensorMemory: (Int) -> UnsafeMutablePointer<Int8>) {
        self.init(ops: model.encoderOps, tensors: model.tensors, shapes: shapes, output: model.featureTensor,
                  kernelPath: kernelPath, pool: pool, packedMemory: packedMemory, tensorMemory: tensorMemory)
    }

    /// Any int8 graph of encoder ops over `tensors` (the localiser's `LOPS` over `LTEN`);
    /// `output` is the tensor `feature` points to.
    public init(ops: [EncoderOp], tensors: [TensorInfo], shapes: [TensorShape], output outputTensor: Int,
                kernelPath: KernelPath, pool: EncoderThreadPool? = nil,
                packedMemory: (Int) -> UnsafeMutableRawPointer? = { _ in nil },
                tensorMemory: (Int) -> UnsafeMutablePointer<Int8>) {
        func window(_ input: TensorShape, _ output: TensorShape, kernel: (Int, Int), stride: (Int, Int), pad: (Int, Int)) -> Window2D {
            Window2D(inputHeight: input.height, inputWidth: input.width, outputHeight: output.height,
                     outputWidth: output.width, kernelHeight: kernel.0, kernelWidth: kernel.1,
                     strideHeight: stride.0, strideWidth: stride.1, padHeight: pad.0, padWidth: pad.1)
        }
        var steps: [Step] = []
        for (index, op) in ops.enumerated() {
            let input = UnsafePointer(tensorMemory(op.input))
            let output = tensorMemory(op.output)
            let inputShape = shapes[op.input], outputShape = shapes[op.output]
            let inputInfo = tensors[op.input], outputInfo = tensors[op.output]
            switch op {
            case .conv2d(let conv):
                let stage = Conv2DQ8OutputStage(
                    multipliers: conv.multipliers, shifts: conv.shifts, outputZeroPoint: outputInfo.zeroPoint,
                    relu: conv.relu, residual: conv.residual.map { UnsafePointer(tensorMemory($0)) },
                    residualZeroPoint: conv.residual.map { tensors[$0].zeroPoint } ?? 0,
                    residualMultiplier: conv.residualMultiplier, residualShift: conv.residualShift)
                let geometry = window(inputShape, outputShape, kernel: (conv.kernelHeight, conv.kernelWidth),
                                      stride: (conv.strideHeight, conv.strideWidth), pad: (conv.padHeight, conv.padWidth))
                if kernelPath != .scalar, let packed = packedMemory(index) {
                    steps.append(.fastConv2d(FastConv2DQ8(
                        window: geometry, inputChannels: conv.inChannels, outputChannels: conv.outChannels, path: kernelPath,
                        input: input, inputZeroPoint: inputInfo.zeroPoint, weights: conv.weights, bias: conv.bias,
                        outputStage: stage, output: output, packedMemory: packed)))
                } else {
                    steps.append(.conv2d(
                        window: geometry, inputChannels: conv.inChannels, outputChannels: conv.outChannels, input: input,
                        inputZeroPoint: inputInfo.zeroPoint, weights: conv.weights, bias: conv.bias,
                        outputStage: stage, output: output))
                }
            case .maxPool2d(let pool):
                steps.append(.maxPool2d(
                    window: window(inputShape, outputShape, kernel: (pool.kernelHeight, pool.kernelWidth),
                                   stride: (pool.strideHeight, pool.strideWidth), pad: (pool.padHeight, pool.padWidth)),
                    channels: inputShape.channels, input: input, output: output))
            case .globalAvgPool(let pool):
                steps.append(.globalAvgPool(
                    pixels: inputShape.height * inputShape.width, channels: inputShape.channels, input: input,
                    inputZeroPoint: inputInfo.zeroPoint, multiplier: pool.multiplier, shift: pool.shift,
                    outputZeroPoint: outputInfo.zeroPoint, output: output))
            }
        }
        // Each fast conv prefetches the next one's first weights (the encoder owns both).
        var previous: FastConv2DQ8?
        for step in steps {
            guard case .fastConv2d(let conv) = step else { continue }
            previous?.prefetches(conv)
            previous = conv
        }
        self.steps = steps
        self.kernelPath = kernelPath
        self.pool = pool
        self.input = tensorMemory(0)
        self.feature = UnsafePointer(tensorMemory(outputTensor))
    }

    /// Runs every op on the frame in `input`; the result is in `feature`.
    public func encode() {
        for index in steps.indices { run(step: index) }
    }

    /// Encoder ops, for timing them one by one (`dactyl bench --layers`).
    public var stepCount: Int { steps.count }

    /// Whether op `index` runs on the fast path (else on the reference kernel).
    public func isFast(step index: Int) -> Bool {
        switch steps[index] {
        case .fastConv2d: true
        case .maxPool2d, .globalAvgPool: kernelPath != .scalar
        case .conv2d: false
        }
    }

    /// Whether op `index` is a conv that runs as int8 Winograd F(4x4, 3x3).
    public func isWinograd(step index: Int) -> Bool {
        if case .fastConv2d(let conv) = steps[index] { return conv.usesWinograd }
        return false
    }

    /// Runs encoder op `index` alone (the ops before it must have run).
    public func run(step index: Int) {
        switch steps[index] {
        case let .conv2d(window, inputChannels, outputChannels, input, inputZeroPoint, weights, bias, outputStage, output):
            conv2dQ8Reference(window: window, inputChannels: inputChannels, outputChannels: outputChannels,
                              input: input, inputZeroPoint: inputZeroPoint, weights: weights, bias: bias,
                              outputStage: outputStage, output: output)
        case .fastConv2d(let conv):
            conv.run(pool: pool)
        case let .maxPool2d(window, channels, input, output):
            if kernelPath == .scalar {
                maxPool2dQ8Reference(window: window, channels: channels, input: input, output: output)
            } else {
                maxPool2dQ8Fast(window: window, channels: channels, path: kernelPath, input: input, output: output)
            }
        case let .globalAvgPool(pixels, channels, input, inputZeroPoint, multiplier, shift, outputZeroPoint, output):
            if kernelPath == .scalar {
                globalAvgPoolQ8Reference(pixels: pixels, channels: channels, input: input, inputZeroPoint: inputZeroPoint,
                                         multiplier: multiplier, shift: shift, outputZeroPoint: outputZeroPoint, output: output)
            } else {
                globalAvgPoolQ8Fast(pixels: pixels, channels: channels, input: input, inputZeroPoint: inputZeroPoint,
                                    multiplier: multiplier, shift: shift, outputZeroPoint: outputZeroPoint, output: output)
            }
        }
    }
}
