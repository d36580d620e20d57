/// The parts of a loaded model, as docs/model-format.md defines them. Weight pointers point
/// into the read-only mapping that the `Model` owns; they stay valid while the model lives.

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

    public var elementCount: Int { height * width * channels }
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

public struct GlobalAvgPoolOp {
    public let input: Int
    public let output: Int
    public let multiplier: Int32
    public let shift: Int32
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

    public var name: String {
        switch self {
        case .conv2d: "conv2d_q8"
        case .maxPool2d: "maxpool2d_q8"
        case .globalAvgPool: "global_avgpool_q8"
        }
    }
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

public struct LinearOp {
    public let inFeatures: Int
    public let outFeatures: Int
    /// f32 [outFeatures][inFeatures]
    public let weights: UnsafePointer<Float>
    public let bias: UnsafePointer<Float>
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

    public var name: String {
        switch self {
        case .conv1d: "conv1d_f32"
        case .biGRU: "bigru_f32"
        case .linear: "linear_f32"
        case .logSoftmax: "log_softmax_f32"
        }
    }
}
