/// The parts of a loaded model, as docs/model-format.md defines them. Weight pointers point
/// into the model file's bytes that the `Model` owns; they stay valid while the model lives.
/// Each op type reads its own record (`parse`) right after its definition.

/// An encoder tensor's quantisation: real = scale * (q - zeroPoint).
public struct TensorInfo: Equatable, Sendable {
    public let channels: Int
    public let scale: Float
    public let zeroPoint: Int32
}

/// NHWC shape of one frame's tensor (N = 1).
public struct TensorShape: Equatable, Sendable, CustomStringConvertible {
    public let height: Int
    public let width: Int
    public let channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// Shapes from shape inference are bounded (`ShapeInference.maximumTensorElements`), so this
    /// never saturates for them; a hand-made absurd shape gives `Int.max` rather than a trap.
    public var elementCount: Int { CheckedSize.saturatingProduct(height, width, channels) }
    public var description: String { "\(height)x\(width)x\(channels)" }
}

/// The hand crop a model expects by default, in thousandths of the source frame's size.
public struct CropThousandths: Equatable, Sendable {
    public let x: Int
    public let y: Int
    public let width: Int
    public let height: Int
}

public struct Conv2DOp {
    public let input: Int
    public let output: Int
    public let residual: Int?
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let strideHeight: Int
    public let strideWidth: Int
    public let padHeight: Int
    public let padWidth: Int
    public let relu: Bool
    public let inChannels: Int
    public let outChannels: Int
    /// int8 [outChannels][kernelHeight][kernelWidth][inChannels]
    public let weights: UnsafePointer<Int8>
    public let bias: UnsafePointer<Int32>
    public let multipliers: UnsafePointer<Int32>
    public let shifts: UnsafePointer<Int32>
    public let residualMultiplier: Int32
    public let residualShift: Int32
}

extension Conv2DOp {
    static let fieldCount = 16

    static func parse(_ record: inout OpRecord) throws(ModelError) -> Conv2DOp {
        let input = try record.readTensor(0)
        let residual: Int? = try record.field(2) == 0xFFFF_FFFF ? nil : try record.readTensor(2)
        let output = try record.writeTensor(1)
        let kernelHeight = try record.dimension(3, "kernel_h"), kernelWidth = try record.dimension(4, "kernel_w")
        let strideHeight = try record.dimension(5, "stride_h"), strideWidth = try record.dimension(6, "stride_w")
        let padHeight = try record.field(7), padWidth = try record.field(8)
        guard padHeight < kernelHeight, padWidth < kernelWidth else {
            throw record.fail(.impossibleShape, field: 7, "padding \(padHeight)x\(padWidth) must be smaller than the kernel \(kernelHeight)x\(kernelWidth)")
        }
        let inChannels = record.tensors[input].channels
        let outChannels = record.tensors[output].channels
        let weights: UnsafePointer<Int8> = try record.array(
            10, count: CheckedSize.product(outChannels, kernelHeight, kernelWidth, inChannels), "weights")
        let shifts: UnsafePointer<Int32> = try record.array(13, count: outChannels, "shifts")
        let multipliers: UnsafePointer<Int32> = try record.array(12, count: outChannels, "multipliers")
        for channel in 0..<outChannels {
            guard (1...62).contains(shifts[channel]), multipliers[channel] >= 0 else {
                throw ModelError(.badQuantization, path: record.parser.path,
                                 offset: record.data.offset + (try record.field(13)) + 4 * channel,
                                 "\(record.label): channel \(channel) multiplier \(multipliers[channel]) shift \(shifts[channel]), expected 0 to 2^31-1 and 1 to 62")
            }
        }
        let bias: UnsafePointer<Int32> = try record.array(11, count: outChannels, "bias")
        return Conv2DOp(
            input: input, output: output, residual: residual,
            kernelHeight: kernelHeight, kernelWidth: kernelWidth,
            strideHeight: strideHeight, strideWidth: strideWidth,
            padHeight: padHeight, padWidth: padWidth,
            relu: try record.flag(9, "relu"), inChannels: inChannels, outChannels: outChannels,
            weights: weights, bias: bias, multipliers: multipliers, shifts: shifts,
            residualMultiplier: residual == nil ? 0 : try record.multiplier(14),
            residualShift: residual == nil ? 1 : try record.shift(15))
    }
}

public struct MaxPool2DOp {
    public let input: Int
    public let output: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let strideHeight: Int
    public let strideWidth: Int
    public let padHeight: Int
    public let padWidth: Int
}

extension MaxPool2DOp {
    static let fieldCount = 8

    static func parse(_ record: inout OpRecord) throws(ModelError) -> MaxPool2DOp {
        let input = try record.readTensor(0)
        let output = try record.writeTensor(1)
        let kernelHeight = try record.dimension(2, "kernel_h"), kernelWidth = try record.dimension(3, "kernel_w")
        let padHeight = try record.field(6), padWidth = try record.field(7)
        guard padHeight < kernelHeight, padWidth < kernelWidth else {
            throw record.fail(.impossibleShape, field: 6, "padding \(padHeight)x\(padWidth) must be smaller than the kernel \(kernelHeight)x\(kernelWidth)")
        }
        let inputInfo = record.tensors[input], outputInfo = record.tensors[output]
        guard inputInfo.scale == outputInfo.scale, inputInfo.zeroPoint == outputInfo.zeroPoint else {
            throw record.fail(.badQuantization, field: 1, "output tensor \(output) must share the input's scale and zero point")
        }
        return MaxPool2DOp(
            input: input, output: output, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
            strideHeight: try record.dimension(4, "stride_h"), strideWidth: try record.dimension(5, "stride_w"),
            padHeight: padHeight, padWidth: padWidth)
    }
}

public struct GlobalAvgPoolOp {
    public let input: Int
    public let output: Int
    public let multiplier: Int32
    public let shift: Int32
}

extension GlobalAvgPoolOp {
    static let fieldCount = 4

    static func parse(_ record: inout OpRecord) throws(ModelError) -> GlobalAvgPoolOp {
        let input = try record.readTensor(0)
        let output = try record.writeTensor(1)
        return GlobalAvgPoolOp(input: input, output: output, multiplier: try record.multiplier(2), shift: try record.shift(3))
    }
}

/// An op of the per-frame int8 encoder.
public enum EncoderOp {
    case conv2d(Conv2DOp)
    case maxPool2d(MaxPool2DOp)
    case globalAvgPool(GlobalAvgPoolOp)

    public var input: Int {
        switch self {
        case .conv2d(let op): op.input
        case .maxPool2d(let op): op.input
        case .globalAvgPool(let op): op.input
        }
    }

    public var output: Int {
        switch self {
        case .conv2d(let op): op.output
        case .maxPool2d(let op): op.output
        case .globalAvgPool(let op): op.output
        }
    }

    public var opcode: Opcode {
        switch self {
        case .conv2d: .conv2dQ8
        case .maxPool2d: .maxPool2dQ8
        case .globalAvgPool: .globalAvgPoolQ8
        }
    }

    public var name: String { opcode.name }
}

public struct Conv1DOp {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let relu: Bool
    /// f32 [outChannels][kernel][inChannels]
    public let weights: UnsafePointer<Float>
    public let bias: UnsafePointer<Float>
}

extension Conv1DOp {
    static let fieldCount = 6

    static func parse(_ record: inout OpRecord) throws(ModelError) -> Conv1DOp {
        let inChannels = try record.dimension(0, "in_channels"), outChannels = try record.dimension(1, "out_channels")
        let kernel = try record.dimension(2, "kernel")
        guard kernel % 2 == 1 else { throw record.fail(.impossibleShape, field: 2, "kernel \(kernel) must be odd") }
        return Conv1DOp(
            inChannels: inChannels, outChannels: outChannels, kernel: kernel, relu: try record.flag(3, "relu"),
            weights: try record.array(4, count: CheckedSize.product(outChannels, kernel, inChannels), "weights"),
            bias: try record.array(5, count: outChannels, "bias"))
    }
}

/// One direction of a GRU, in PyTorch's layout and gate order (r, z, n).
public struct GRUWeights {
    /// f32 [3 * hidden][input]
    public let inputWeights: UnsafePointer<Float>
    /// f32 [3 * hidden][hidden]
    public let hiddenWeights: UnsafePointer<Float>
    public let inputBias: UnsafePointer<Float>
    public let hiddenBias: UnsafePointer<Float>
}

public struct BiGRUOp {
    public let inputSize: Int
    public let hiddenSize: Int
    public let forward: GRUWeights
    public let backward: GRUWeights
}

extension BiGRUOp {
    static let fieldCount = 10

    static func parse(_ record: inout OpRecord) throws(ModelError) -> BiGRUOp {
        let inputSize = try record.dimension(0, "input_size"), hidden = try record.dimension(1, "hidden_size")
        let gates = CheckedSize.product(3, hidden)
        func direction(_ first: Int, _ name: String) throws(ModelError) -> GRUWeights {
            GRUWeights(
                inputWeights: try record.array(first, count: CheckedSize.product(3, hidden, inputSize), "\(name) w_ih"),
                hiddenWeights: try record.array(first + 1, count: CheckedSize.product(3, hidden, hidden), "\(name) w_hh"),
                inputBias: try record.array(first + 2, count: gates, "\(name) b_ih"),
                hiddenBias: try record.array(first + 3, count: gates, "\(name) b_hh"))
        }
        return BiGRUOp(inputSize: inputSize, hiddenSize: hidden,
                       forward: try direction(2, "forward"), backward: try direction(6, "backward"))
    }
}

public struct LinearOp {
    public let inFeatures: Int
    public let outFeatures: Int
    /// f32 [outFeatures][inFeatures]
    public let weights: UnsafePointer<Float>
    public let bias: UnsafePointer<Float>
}

extension LinearOp {
    static let fieldCount = 4

    static func parse(_ record: inout OpRecord) throws(ModelError) -> LinearOp {
        let inFeatures = try record.dimension(0, "in_features"), outFeatures = try record.dimension(1, "out_features")
        return LinearOp(
            inFeatures: inFeatures, outFeatures: outFeatures,
            weights: try record.array(2, count: CheckedSize.product(outFeatures, inFeatures), "weights"),
            bias: try record.array(3, count: outFeatures, "bias"))
    }
}

/// An op of the fp32 temporal head; the ops form a chain over [frames][channels].
public enum HeadOp {
    case conv1d(Conv1DOp)
    case biGRU(BiGRUOp)
    case linear(LinearOp)
    case logSoftmax(channels: Int)

    public var inChannels: Int {
        switch self {
        case .conv1d(let op): op.inChannels
        case .biGRU(let op): op.inputSize
        case .linear(let op): op.inFeatures
        case .logSoftmax(let channels): channels
        }
    }

    public var outChannels: Int {
        switch self {
        case .conv1d(let op): op.outChannels
        case .biGRU(let op): 2 * op.hiddenSize
        case .linear(let op): op.outFeatures
        case .logSoftmax(let channels): channels
        }
    }

    public var opcode: Opcode {
        switch self {
        case .conv1d: .conv1dF32
        case .biGRU: .biGRUF32
        case .linear: .linearF32
        case .logSoftmax: .logSoftmaxF32
        }
    }

    public var name: String { opcode.name }
}
