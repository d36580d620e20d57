import DactylArena
import DactylKernels
import DactylModel

/// What the memory plan depends on besides the model.
public struct PipelineConfiguration: Sendable {
    /// Encoder input size (the model's own by default).
    public var inputHeight: Int
    public var inputWidth: Int
    /// Frames in the temporal window: the feature ring's length and the head's sequence length.
    public var window: Int
    /// Prefix beam width; 0 plans for greedy decoding only.
    public var beamWidth: Int
    public var strategy: PlanningStrategy
    /// The encoder's kernel path: fast paths plan memory for their packed weights.
    public var kernelPath: KernelPath

    public init(inputHeight: Int, inputWidth: Int, window: Int, beamWidth: Int, strategy: PlanningStrategy = .greedyBySize,
                kernelPath: KernelPath = .best(on: .detect())) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.window = window
        self.beamWidth = beamWidth
        self.strategy = strategy
        self.kernelPath = kernelPath
    }

    /// The decoding the plan reserves workspace for.
    public var decodingMethod: CTCDecoder.Method { beamWidth > 0 ? .beam(width: beamWidth) : .greedy }

    public static func modelDefaults(_ model: Model) -> PipelineConfiguration {
        PipelineConfiguration(inputHeight: model.inputHeight, inputWidth: model.inputWidth,
                              window: model.defaultWindow, beamWidth: 0)
    }
}

/// Every buffer of the pipeline, from the frame's input tensor to the decoder's workspace,
/// laid out by one memory plan. Steps, in the order they run:
/// 0 preprocess (writes tensor 0); 1...n the encoder ops; n+1 store the feature in the ring;
/// then one step per head op (the first also dequantises the ring); last, CTC decoding.
public struct PipelineLayout {
    public let configuration: PipelineConfiguration
    public let shapes: [TensorShape]
    public let plan: MemoryPlan
    /// Request index of each encoder tensor's buffer.
    public let tensorBuffers: [Int]
    public let featureRing: Int
    public let preprocessWorkspace: Int
    /// Per head op: its input, output and scratch (nil: none) buffers.
    public let headBuffers: [(input: Int, output: Int, scratch: Int?)]
    public let decoderWorkspace: Int
    /// Per encoder op: the buffer of its weights packed for the kernel path (nil: the op runs
    /// on the reference kernel, straight from the mapped model).
    public let packedWeights: [Int?]
    /// A readable name per step, for `dactyl inspect`.
    public let stepNames: [String]

    public init(model: Model, configuration: PipelineConfiguration) throws(ModelError) {
        guard configuration.window >= 1 else {
            throw ModelError(.impossibleShape, path: model.path, offset: 0, "temporal window of \(configuration.window) frames, expected at least 1")
        }
        let shapes = try model.encoderShapes(inputHeight: configuration.inputHeight, inputWidth: configuration.inputWidth)
        let ops = model.encoderOps
        let storeStep = ops.count + 1
        let firstHeadStep = storeStep + 1
        let decodeStep = firstHeadStep + model.headOps.count
        let window = configuration.window
        let floatBytes = MemoryLayout<Float>.stride

        var requests: [BufferRequest] = []
        func request(_ name: String, _ bytes: Int, _ first: Int, _ last: Int) -> Int {
            requests.append(BufferRequest(name: name, bytes: bytes, firstStep: first, lastStep: last))
            return requests.count - 1
        }

        // Encoder tensors live from the step that writes them to the last step that reads them.
        var lastRead = [Int](repeating: 0, count: shapes.count)
        for (index, op) in ops.enumerated() {
            lastRead[op.input] = max(lastRead[op.input], index + 1)
            if case .conv2d(let conv) = op, let residual = conv.residual {
                lastRead[residual] = max(lastRead[residual], index + 1)
            }
        }
        lastRead[model.featureTensor] = storeStep
        var writtenAt = [Int](repeating: 0, count: shapes.count)
        for (index, op) in ops.enumerated() { writtenAt[op.output] = index + 1 }
        tensorBuffers = shapes.indices.map { id in
            request("tensor \(id) \(shapes[id])", shapes[id].elementCount, writtenAt[id], max(lastRead[id], writtenAt[id]))
        }
        // Filled once at start-up and read for every frame, so live throughout.
        preprocessWorkspace = request(
            "preprocess tables",
            FrameToInput.workspaceBytes(outputHeight: configuration.inputHeight, outputWidth: configuration.inputWidth),
            0, decodeStep)
        // Packed weights are written once at start-up and read by every frame.
        packedWeights = ops.enumerated().map { index, op in
            guard case .conv2d(let conv) = op else { return nil }
            let input = shapes[op.input], output = shapes[op.output]
            let window = Window2D(inputHeight: input.height, inputWidth: input.width, outputHeight: output.height,
                                  outputWidth: output.width, kernelHeight: conv.kernelHeight, kernelWidth: conv.kernelWidth,
                                  strideHeight: conv.strideHeight, strideWidth: conv.strideWidth,
                                  padHeight: conv.padHeight, padWidth: conv.padWidth)
            let bytes = FastConv2DQ8.packedBytes(window: window, inputChannels: conv.inChannels,
                                                 outputChannels: conv.outChannels, path: configuration.kernelPath)
            return bytes > 0 ? request("op \(index) weights packed for \(configuration.kernelPath.name)", bytes, 0, decodeStep) : nil
        }
        featureRing = request("feature ring \(window)x\(model.featureSize)", window * model.featureSize, 0, decodeStep)

        // Head: op i reads what op i-1 wrote (op 0 reads the dequantised ring); log-softmax
        // works in place, so its "output" is its input buffer.
        var headBuffers: [(input: Int, output: Int, scratch: Int?)] = []
        var current = request("head input \(window)x\(model.featureSize)", window * model.featureSize * floatBytes,
                              firstHeadStep, firstHeadStep)
        for (index, op) in model.headOps.enumerated() {
            let step = firstHeadStep + index
            let scratchFloats = TemporalHead.scratchFloats(op, frames: window)
            let scratch = scratchFloats > 0 ? request("\(op.name) scratch", scratchFloats * floatBytes, step, step) : nil
            let output: Int
            if TemporalHead.isInPlace(op) {
                output = current
            } else {
                output = request("\(op.name) output \(window)x\(op.outChannels)", window * op.outChannels * floatBytes, step, step + 1)
            }
            headBuffers.append((current, output, scratch))
            current = output
        }
        // The log-probabilities stay live through decoding.
        requests[current] = BufferRequest(name: requests[current].name, bytes: requests[current].bytes,
                                          firstStep: requests[current].firstStep, lastStep: decodeStep)
        decoderWorkspace = request(
            "CTC decoder workspace",
            CTCDecoder.workspaceBytes(frames: window, classes: model.numClasses, method: configuration.decodingMethod),
            decodeStep, decodeStep)

        var stepNames = ["preprocess"]
        for (index, op) in ops.enumerated() { stepNames.append("encoder op \(index) \(op.name)") }
        stepNames.append("store feature")
        for (index, op) in model.headOps.enumerated() { stepNames.append("head op \(index) \(op.name)") }
        stepNames.append("CTC decode")

        self.configuration = configuration
        self.shapes = shapes
        self.headBuffers = headBuffers
        self.stepNames = stepNames
        self.plan = MemoryPlan(requests: requests, strategy: configuration.strategy)
    }
}
