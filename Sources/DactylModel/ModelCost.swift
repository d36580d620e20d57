/// Multiply-accumulates of each op, for `dactyl inspect` and benchmarks.
extension Model {
    /// MACs of encoder op `index` for one frame with tensor `shapes`. Pooling counts one
    /// accumulate (average) or comparison (max) per input tap.
    public func multiplyAccumulates(encoderOp index: Int, shapes: [TensorShape]) -> Int {
        let op = encoderOps[index]
        let output = shapes[op.output]
        switch op {
        case .conv2d(let conv):
            return output.elementCount * conv.kernelHeight * conv.kernelWidth * conv.inChannels
        case .maxPool2d(let pool):
            return output.elementCount * pool.kernelHeight * pool.kernelWidth
        case .globalAvgPool:
            return shapes[op.input].elementCount
        }
    }

    /// MACs of head op `index` over a window of `frames`.
    public func multiplyAccumulates(headOp index: Int, frames: Int) -> Int {
        switch headOps[index] {
        case .conv1d(let conv):
            return frames * conv.outChannels * conv.kernel * conv.inChannels
        case .biGRU(let gru):
            return 2 * frames * 3 * gru.hiddenSize * (gru.inputSize + gru.hiddenSize)
        case .linear(let linear):
            return frames * linear.outFeatures * linear.inFeatures
        case .logSoftmax(let channels):
            return frames * channels
        }
    }

    /// Bytes of weights and quantisation parameters the ops read (the DATA they point into).
    public var weightBytes: Int {
        var total = 0
        for op in encoderOps {
            if case .conv2d(let conv) = op {
                total += conv.outChannels * (conv.kernelHeight * conv.kernelWidth * conv.inChannels + 12)
            }
        }
        for op in headOps {
            switch op {
            case .conv1d(let conv): total += 4 * conv.outChannels * (conv.kernel * conv.inChannels + 1)
            case .biGRU(let gru): total += 2 * 4 * 3 * gru.hiddenSize * (gru.inputSize + gru.hiddenSize + 2)
            case .linear(let linear): total += 4 * linear.outFeatures * (linear.inFeatures + 1)
            case .logSoftmax: break
            }
        }
        return total
    }
}
