/// The hand localiser a model file may carry (`LMET`, `LTEN`, `LOPS`; docs/model-format.md, "The
/// hand localiser"): a small int8 network over the whole frame, downscaled, whose centre heatmap
/// and box map say where the signing hand is. Validated with the rest of the file; its weight
/// pointers point into the model's bytes, valid while the `Model` lives.
public struct Localiser {
    /// Bytes of `LMET`.
    public static let metaSize = 64
    /// Longest `interval` in frames.
    public static let maximumInterval = 1000

    public let inputHeight: Int
    public let inputWidth: Int
    public let inputChannels: Int
    /// int8 [3][256]: the localiser's own input quantisation.
    public let inputLUT: UnsafePointer<Int8>
    /// Tensor ids in `tensors` of the centre heatmap (Hh x Wh x 1) and the box map (Hh x Wh x 4).
    public let heatTensor: Int
    public let boxTensor: Int
    /// A hand is present where the heatmap's peak, dequantised, is at least this.
    public let presenceLogit: Float
    /// Run every `interval` frames of the model's frame rate by default.
    public let interval: Int
    public let tensors: [TensorInfo]
    /// Encoder ops only (opcodes 1-3), over `tensors`.
    public let ops: [EncoderOp]
    /// Every tensor's shape at the localiser's input size.
    public let shapes: [TensorShape]

    public var heatShape: TensorShape { shapes[heatTensor] }

    /// Multiply-accumulates of op `index` for one run.
    public func multiplyAccumulates(op index: Int) -> Int { ops[index].multiplyAccumulates(shapes: shapes) }

    /// Multiply-accumulates of one run (bounded by the loader: at most 2^48).
    public var multiplyAccumulates: Int {
        var total = 0
        for index in ops.indices { total = CheckedSize.saturatingSum(total, multiplyAccumulates(op: index)) }
        return total
    }

    /// Bytes of the localiser's conv2d weights and quantisation parameters.
    public var weightBytes: Int {
        var total = 0
        for op in ops {
            if case .conv2d(let conv) = op {
                total = CheckedSize.saturatingSum(
                    total, CheckedSize.saturatingProduct(conv.outChannels, conv.kernelHeight * conv.kernelWidth * conv.inChannels + 12))
            }
        }
        return total
    }
}
