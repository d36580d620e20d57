/// Shape inference over the encoder ops (docs/model-format.md, "Shapes"). Run at load time
/// with the model's own input size and again whenever the runtime chooses another.
enum ShapeInference {
    /// Elements of any one encoder tensor for one frame (1 GiB of int8): far more than a board
    /// has, and small enough that no size derived from it can overflow.
    public static let maximumTensorElements = 1 << 30
    /// Multiply-accumulates of the encoder for one frame: about a day per frame on a Pi, so
    /// nothing real comes near it, and it keeps every sum of MACs (per frame, per window) far
    /// from overflow.
    public static let maximumMACsPerFrame = 1 << 48

    /// `featureTensor` nil: no 1x1 output is required (the localiser's maps). Errors name ops as
    /// "`label` N" at file offset `offset` (the localiser's: "LOPS op N" at LOPS).
    static func encoderShapes(
        tensors: [TensorInfo], ops: [EncoderOp], inputHeight: Int, inputWidth: Int,
        featureTensor: Int?, path: String, label: String = "op", network: String = "the encoder", offset: Int = 0
    ) throws(ModelError) -> [TensorShape] {
        func shapeError(_ detail: String) -> ModelError {
            ModelError(.impossibleShape, path: path, offset: offset, detail)
        }
        guard (1...Model.maximumInputSize).contains(inputHeight), (1...Model.maximumInputSize).contains(inputWidth) else {
            throw shapeError("input size \(inputHeight)x\(inputWidth), expected 1x1 to \(Model.maximumInputSize)x\(Model.maximumInputSize)")
        }
        var shapes = [TensorShape?](repeating: nil, count: tensors.count)
        shapes[0] = TensorShape(height: inputHeight, width: inputWidth, channels: tensors[0].channels)

        func outputSize(_ size: Int, kernel: Int, stride: Int, pad: Int, op index: Int, axis: String) throws(ModelError) -> Int {
            let span = size + 2 * pad - kernel
            guard span >= 0 else {
                throw shapeError("\(label) \(index): \(axis) \(size) with padding \(pad) is smaller than the kernel \(kernel)")
            }
            return span / stride + 1
        }

        var frameMACs = 0
        for (index, op) in ops.enumerated() {
            // The loader guarantees every input was written before it is read.
            let input = shapes[op.input]!
            let outputChannels = tensors[op.output].channels
            let output: TensorShape
            switch op {
            case .conv2d(let conv):
                guard conv.inChannels == input.channels else {
                    throw shapeError("\(label) \(index) (conv2d_q8): weights expect \(conv.inChannels) input channels, tensor \(op.input) has \(input.channels)")
                }
                output = TensorShape(
                    height: try outputSize(input.height, kernel: conv.kernelHeight, stride: conv.strideHeight, pad: conv.padHeight, op: index, axis: "height"),
                    width: try outputSize(input.width, kernel: conv.kernelWidth, stride: conv.strideWidth, pad: conv.padWidth, op: index, axis: "width"),
                    channels: conv.outChannels)
                guard outputChannels == conv.outChannels else {
                    throw shapeError("\(label) \(index) (conv2d_q8): weights give \(conv.outChannels) output channels, tensor \(op.output) has \(outputChannels)")
                }
                if let residual = conv.residual, shapes[residual]! != output {
                    throw shapeError("\(label) \(index) (conv2d_q8): residual tensor \(residual) is \(shapes[residual]!), the output is \(output)")
                }
            case .maxPool2d(let pool):
                output = TensorShape(
                    height: try outputSize(input.height, kernel: pool.kernelHeight, stride: pool.strideHeight, pad: pool.padHeight, op: index, axis: "height"),
                    width: try outputSize(input.width, kernel: pool.kernelWidth, stride: pool.strideWidth, pad: pool.padWidth, op: index, axis: "width"),
                    channels: input.channels)
                guard outputChannels == input.channels else {
                    throw shapeError("\(label) \(index) (maxpool2d_q8): output tensor \(op.output) has \(outputChannels) channels, the input \(input.channels)")
                }
            case .globalAvgPool:
                output = TensorShape(height: 1, width: 1, channels: input.channels)
                guard outputChannels == input.channels else {
                    throw shapeError("\(label) \(index) (global_avgpool_q8): output tensor \(op.output) has \(outputChannels) channels, the input \(input.channels)")
                }
            }
            guard let elements = CheckedSize.product(output.height, output.width, output.channels),
                  elements <= maximumTensorElements else {
                throw shapeError("\(label) \(index) (\(op.name)): output tensor \(op.output) is \(output), more than \(maximumTensorElements) values")
            }
            let tapsPerOutput: Int?
            switch op {
            case .conv2d(let conv): tapsPerOutput = CheckedSize.product(conv.kernelHeight, conv.kernelWidth, conv.inChannels)
            case .maxPool2d(let pool): tapsPerOutput = CheckedSize.product(pool.kernelHeight, pool.kernelWidth)
            case .globalAvgPool: tapsPerOutput = CheckedSize.product(input.height, input.width)
            }
            guard let taps = tapsPerOutput, let macs = CheckedSize.product(elements, taps),
                  let total = CheckedSize.sum(frameMACs, macs), total <= maximumMACsPerFrame else {
                throw shapeError("\(label) \(index) (\(op.name)): at \(inputHeight)x\(inputWidth) \(network) needs more than \(maximumMACsPerFrame) multiply-accumulates per frame")
            }
            frameMACs = total
            shapes[op.output] = output
        }

        var result: [TensorShape] = []
        result.reserveCapacity(shapes.count)
        for (id, shape) in shapes.enumerated() {
            guard let shape else { throw shapeError("\(network): tensor \(id) is never written by an op") }
            result.append(shape)
        }
        guard let featureTensor else { return result }
        let feature = result[featureTensor]
        guard feature.height == 1, feature.width == 1 else {
            throw shapeError("feature tensor \(featureTensor) is \(feature), expected 1x1xC")
        }
        return result
    }
}
