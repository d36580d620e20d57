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
    /// Arena bytes of the beam search's lexicon trie and language model (`VocabularyFiles.arenaBytes`);
    /// 0: none.
    public var vocabularyBytes = 0
    public var strategy: PlanningStrategy
    /// Bytes of arena memory live for the whole run, for the caller's own state (the live box's
    /// segmenter, text and timing rings); 0 for none.
    public var callerWorkspaceBytes = 0
    /// The most memory the plan may ask for (`PipelineLayout.defaultArenaLimit` unless set).
    public var arenaLimitBytes: Int = PipelineLayout.defaultArenaLimit
    /// The encoder's kernel path: fast paths plan memory for their packed weights.
    public var kernelPath: KernelPath
    /// Plan the model's hand localiser too (`--crop auto`): its tensors, packed weights and
    /// preprocess tables. Ignored for a model without one.
    public var localiser = false
    /// Model frames between localiser runs (nil: the model's `LMET` interval).
    public var localiserInterval: Int? = nil
    /// How the crop follows the localiser's boxes.
    public var tracker = CropTrackerSettings()

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
/// laid out by one memory plan. Steps, in the order they run: with the hand localiser, first
/// its preprocess (the whole frame to its tensor 0), its ops and the reading of its box; then
/// the recogniser's preprocess (writes tensor 0); the encoder ops; store the feature in the
/// ring; one step per head op (the first also dequantises the ring); last, CTC decoding.
/// The localiser's tensors are dead before the recogniser's preprocess, so they share memory
/// with the encoder's.
public struct PipelineLayout {
    public let configuration: PipelineConfiguration
    public let shapes: [TensorShape]
    public let plan: MemoryPlan
    /// Request index of each encoder tensor's buffer.
    public let tensorBuffers: [Int]
    public let featureRing: Int
    /// Two features for frame-rate resampling: the last encoded frame's, which the next frame's
    /// model frames interpolate from, and the current one's.
    public let resamplingFeatures: Int
    public let preprocessWorkspace: Int
    /// Per head op: its input, output and scratch (nil: none) buffers.
    public let headBuffers: [(input: Int, output: Int, scratch: Int?)]
    public let decoderWorkspace: Int
    /// nil when the configuration asked for none.
    public let callerWorkspace: Int?
    /// The lexicon trie and language model, filled at start-up and read by every decode (nil: none).
    public let vocabulary: Int?
    /// Per encoder op: the buffer of its weights packed for the kernel path (nil: the op runs
    /// on the reference kernel, straight from the mapped model).
    public let packedWeights: [Int?]
    /// A readable name per step, for `dactyl inspect`.
    public let stepNames: [String]
    /// The hand localiser's plan (nil: not planned).
    public let localiser: LocaliserBuffers?

    /// The localiser's buffers: request indices as the encoder's.
    public struct LocaliserBuffers {
        public let shapes: [TensorShape]
        public let tensorBuffers: [Int]
        public let packedWeights: [Int?]
        /// Resize tables from the whole frame to the localiser's input.
        public let preprocessWorkspace: Int
    }

    /// The arena is at most half the RAM of the smallest board Dactyl supports (a Raspberry Pi
    /// Zero 2 W has 512 MB): a plan above it fails at once with an error naming the limit,
    /// instead of the OOM killer ending the process later. 256 MiB holds the default model's
    /// window for about 10 minutes of 30 fps video (see docs).
    public static let defaultArenaLimit = 256 << 20

    /// Plans the buffers for `configuration`; errors if the encoder cannot run at its input
    /// size, or if the arena would exceed `configuration.arenaLimitBytes` (the message names
    /// the limit and the longest window that fits).
    public init(model: Model, configuration: PipelineConfiguration) throws(ModelError) {
        try self.init(model: model, configuration: configuration, explainLimit: true)
    }

    /// The longest temporal window whose plan fits `configuration.arenaLimitBytes` (0 if none).
    public static func longestWindow(model: Model, configuration: PipelineConfiguration) -> Int {
        var fits = 0, tooLong = min(configuration.arenaLimitBytes, 1 << 46) + 1
        var trial = configuration
        while tooLong - fits > 1 {
            trial.window = fits + (tooLong - fits) / 2
            if (try? PipelineLayout(model: model, configuration: trial, explainLimit: false)) != nil {
                fits = trial.window
            } else {
                tooLong = trial.window
            }
        }
        return fits
    }

    private init(model: Model, configuration: PipelineConfiguration, explainLimit: Bool) throws(ModelError) {
        guard configuration.window >= 1 else {
            throw ModelError(.impossibleShape, path: model.path, offset: 0, "temporal window of \(configuration.window) frames, expected at least 1")
        }
        // Capped so that MemoryPlan's sums of request sizes stay exact whatever a caller sets.
        let limit = min(configuration.arenaLimitBytes, 1 << 46)
        func tooLarge(_ what: String) -> ModelError {
            var detail = "\(what) is more than the arena limit of \(limit) bytes"
            if explainLimit {
                let longest = PipelineLayout.longestWindow(model: model, configuration: configuration)
                detail += longest > 0
                    ? "; a window of at most \(longest) frames fits (this one is \(configuration.window))"
                    : "; no window fits at this input size"
            }
            return ModelError(.exceedsMemoryLimit, path: model.path, offset: 0, detail)
        }
        // The feature ring and the head's input grow with the window; bounding them first keeps
        // every per-window size below (the head kernels' scratch included) far from overflow.
        guard let headInputBytes = CheckedSize.product(configuration.window, model.featureSize, MemoryLayout<Float>.stride),
              headInputBytes <= limit else {
            throw tooLarge("a temporal window of \(configuration.window) frames")
        }
        let shapes = try model.encoderShapes(inputHeight: configuration.inputHeight, inputWidth: configuration.inputWidth)
        let ops = model.encoderOps
        let localiser = configuration.localiser ? model.localiser : nil
        // Localiser steps: preprocess, its ops, reading the box.
        let first = localiser.map { $0.ops.count + 2 } ?? 0
        let storeStep = first + ops.count + 1
        let firstHeadStep = storeStep + 1
        let decodeStep = firstHeadStep + model.headOps.count
        let window = configuration.window
        let floatBytes = MemoryLayout<Float>.stride

        var requests: [BufferRequest] = []
        var oversized: (name: String, bytes: Int?)? = nil
        /// Every size goes through here: nil (an overflow) or more than the limit is recorded
        /// and planned as 0 bytes, and the plan is refused below, before any memory is asked for.
        func request(_ name: String, _ bytes: Int?, _ first: Int, _ last: Int) -> Int {
            var planned = bytes ?? 0
            if bytes == nil || planned > limit {
                if oversized == nil { oversized = (name, bytes) }
                planned = 0
            }
            requests.append(BufferRequest(name: name, bytes: planned, firstStep: first, lastStep: last))
            return requests.count - 1
        }

        /// An int8 graph's tensors, each live from the step that writes it to the last step that
        /// reads it (`base`: the step of its preprocess; `kept` tensors are read at `keptUntil`).
        func graphTensors(_ ops: [EncoderOp], _ shapes: [TensorShape], base: Int, kept: [Int], keptUntil: Int,
                          prefix: String) -> [Int] {
            var lastRead = [Int](repeating: base, count: shapes.count)
            for (index, op) in ops.enumerated() {
                lastRead[op.input] = max(lastRead[op.input], base + index + 1)
                if case .conv2d(let conv) = op, let residual = conv.residual {
                    lastRead[residual] = max(lastRead[residual], base + index + 1)
                }
            }
            for id in kept { lastRead[id] = keptUntil }
            var writtenAt = [Int](repeating: base, count: shapes.count)
            for (index, op) in ops.enumerated() { writtenAt[op.output] = base + index + 1 }
            return shapes.indices.map { id in
                request("\(prefix)tensor \(id) \(shapes[id])", shapes[id].elementCount, writtenAt[id], max(lastRead[id], writtenAt[id]))
            }
        }
        /// Packed weights are written once at start-up and read by every frame.
        func packed(_ ops: [EncoderOp], _ shapes: [TensorShape], prefix: String) -> [Int?] {
            ops.enumerated().map { index, op in
                guard case .conv2d(let conv) = op else { return nil }
                let input = shapes[op.input], output = shapes[op.output]
                let window = Window2D(inputHeight: input.height, inputWidth: input.width, outputHeight: output.height,
                                      outputWidth: output.width, kernelHeight: conv.kernelHeight, kernelWidth: conv.kernelWidth,
                                      strideHeight: conv.strideHeight, strideWidth: conv.strideWidth,
                                      padHeight: conv.padHeight, padWidth: conv.padWidth)
                let bytes = FastConv2DQ8.packedBytes(window: window, inputChannels: conv.inChannels,
                                                     outputChannels: conv.outChannels, path: configuration.kernelPath)
                return bytes > 0 ? request("\(prefix)op \(index) weights packed for \(configuration.kernelPath.name)", bytes, 0, decodeStep) : nil
            }
        }
        if let localiser {
            let readStep = localiser.ops.count + 1
            self.localiser = LocaliserBuffers(
                shapes: localiser.shapes,
                tensorBuffers: graphTensors(localiser.ops, localiser.shapes, base: 0, kept: [localiser.heatTensor, localiser.boxTensor],
                                            keptUntil: readStep, prefix: "localiser "),
                packedWeights: packed(localiser.ops, localiser.shapes, prefix: "localiser "),
                preprocessWorkspace: request(
                    "localiser preprocess tables",
                    FrameToInput.workspaceBytes(outputHeight: localiser.inputHeight, outputWidth: localiser.inputWidth), 0, decodeStep))
        } else {
            self.localiser = nil
        }
        tensorBuffers = graphTensors(ops, shapes, base: first, kept: [model.featureTensor], keptUntil: storeStep, prefix: "")
        // Filled once at start-up and read for every frame, so live throughout.
        preprocessWorkspace = request(
            "preprocess tables",
            FrameToInput.workspaceBytes(outputHeight: configuration.inputHeight, outputWidth: configuration.inputWidth),
            0, decodeStep)
        packedWeights = packed(ops, shapes, prefix: "")
        featureRing = request("feature ring \(window)x\(model.featureSize)", CheckedSize.product(window, model.featureSize), 0, decodeStep)
        resamplingFeatures = request("frame-rate resampling: last and current feature", CheckedSize.product(2, model.featureSize),
                                     0, decodeStep)
        callerWorkspace = configuration.callerWorkspaceBytes > 0
            ? request("live state", configuration.callerWorkspaceBytes, 0, decodeStep) : nil

        // Head: op i reads what op i-1 wrote (op 0 reads the dequantised ring); log-softmax
        // works in place, so its "output" is its input buffer.
        var headBuffers: [(input: Int, output: Int, scratch: Int?)] = []
        var current = request("head input \(window)x\(model.featureSize)", headInputBytes, firstHeadStep, firstHeadStep)
        for (index, op) in model.headOps.enumerated() {
            let step = firstHeadStep + index
            let scratchFloats = TemporalHead.scratchFloats(op, frames: window)
            let scratch = scratchFloats > 0 ? request("\(op.name) scratch", CheckedSize.product(scratchFloats, floatBytes), step, step) : nil
            let output: Int
            if TemporalHead.isInPlace(op) {
                output = current
            } else {
                output = request("\(op.name) output \(window)x\(op.outChannels)", CheckedSize.product(window, op.outChannels, floatBytes), step, step + 1)
            }
            headBuffers.append((current, output, scratch))
            current = output
        }
        // The log-probabilities stay live through decoding.
        requests[current] = BufferRequest(name: requests[current].name, bytes: requests[current].bytes,
                                          firstStep: requests[current].firstStep, lastStep: decodeStep)
        decoderWorkspace = request(
            "CTC decoder workspace",
            CTCDecoder.workspaceBytes(frames: window, classes: model.numClasses, method: configuration.decodingMethod,
                                      vocabulary: configuration.vocabularyBytes > 0),
            decodeStep, decodeStep)
        vocabulary = configuration.vocabularyBytes > 0
            ? request("lexicon trie and language model", configuration.vocabularyBytes, 0, decodeStep) : nil

        var stepNames: [String] = []
        if let localiser {
            stepNames.append("localiser preprocess")
            for (index, op) in localiser.ops.enumerated() { stepNames.append("localiser op \(index) \(op.name)") }
            stepNames.append("localiser box")
        }
        stepNames.append("preprocess")
        for (index, op) in ops.enumerated() { stepNames.append("encoder op \(index) \(op.name)") }
        stepNames.append("store feature")
        for (index, op) in model.headOps.enumerated() { stepNames.append("head op \(index) \(op.name)") }
        stepNames.append("CTC decode")

        if let oversized {
            throw tooLarge("the \(oversized.name) (\(oversized.bytes.map { "\($0) bytes" } ?? "a size that overflows"))")
        }
        let plan = MemoryPlan(requests: requests, strategy: configuration.strategy)
        guard plan.arenaBytes <= limit else {
            throw tooLarge("the arena of \(plan.arenaBytes) bytes for a window of \(window) frames")
        }

        self.configuration = configuration
        self.shapes = shapes
        self.headBuffers = headBuffers
        self.stepNames = stepNames
        self.plan = plan
    }
}
