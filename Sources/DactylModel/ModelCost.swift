/// Multiply-accumulates of each op, for `dactyl inspect` and benchmarks. Computed with
/// `CheckedSize`: shapes from `encoderShapes` are bounded so the encoder figures are exact; a
/// figure that would overflow (a huge window) reads `Int.max` instead of trapping.
extension Model {
    /// MACs of encoder op `index` for one frame with tensor `shapes`.
    public func multiplyAccumulates(encoderOp index: Int, shapes: [TensorShape]) -> Int {
        encoderOps[index].multiplyAccumulates(shapes: shapes)
    }

    /// MACs of head op `index` over a window of `frames`.
    public func multiplyAccumulates(headOp index: Int, frames: Int) -> Int {
        switch headOps[index] {
        case .conv1d(let conv):
            return CheckedSize.saturatingProduct(frames, conv.outChannels, conv.kernel, conv.inChannels)
        case .biGRU(let gru):
            // Sizes are at most 65536 each (the parser's bound), so the small products are exact.
            return CheckedSize.saturatingProduct(frames, 6 * gru.hiddenSize, gru.inputSize + gru.hiddenSize)
        case .linear(let linear):
            return CheckedSize.saturatingProduct(frames, linear.outFeatures, linear.inFeatures)
        case .logSoftmax(let channels):
            return CheckedSize.saturatingProduct(frames, channels)
        }
    }

    /// Bytes of weights and quantisation parameters the ops read (the DATA they point into).
    /// Every array lies inside the file, so each term is at most the file's size; the sum is
    /// saturating only because ops may share arrays.
    public var weightBytes: Int {
        var total = 0
        func add(_ bytes: Int) { total = CheckedSize.saturatingSum(total, bytes) }
        for op in encoderOps {
            if case .conv2d(let conv) = op {
                add(CheckedSize.saturatingProduct(conv.outChannels, conv.kernelHeight * conv.kernelWidth * conv.inChannels + 12))
            }
        }
        for op in headOps {
            switch op {
            case .conv1d(let conv): add(CheckedSize.saturatingProduct(4 * conv.outChannels, conv.kernel * conv.inChannels + 1))
            case .biGRU(let gru): add(CheckedSize.saturatingProduct(24 * gru.hiddenSize, gru.inputSize + gru.hiddenSize + 2))
            case .linear(let linear): add(CheckedSize.saturatingProduct(4 * linear.outFeatures, linear.inFeatures + 1))
            case .logSoftmax: break
            }
        }
        return total
    }
}

extension EncoderOp {
    /// MACs of this op for one run with tensor `shapes` (the recogniser's encoder or the hand
    /// localiser). Pooling counts one accumulate (average) or comparison (max) per input tap.
    public func multiplyAccumulates(shapes: [TensorShape]) -> Int {
        let output = shapes[self.output]
        switch self {
        case .conv2d(let conv):
            return CheckedSize.saturatingProduct(
                output.elementCount, conv.kernelHeight, CheckedSize.saturatingProduct(conv.kernelWidth, conv.inChannels))
        case .maxPool2d(let pool):
            return CheckedSize.saturatingProduct(output.elementCount, pool.kernelHeight, pool.kernelWidth)
        case .globalAvgPool:
            return shapes[input].elementCount
        }
    }
}
