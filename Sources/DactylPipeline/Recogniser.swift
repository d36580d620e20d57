import DactylArena
import DactylKernels
import DactylModel

/// Why the pipeline cannot be set up; the CLI prints `description`.
public enum PipelineError: Error, CustomStringConvertible {
    case model(ModelError)
    case preprocess(PreprocessError)
    case outOfMemory(bytes: Int)
    case windowFull(frames: Int)
    case threads(Int)

    public var description: String {
        switch self {
        case .model(let error): error.description
        case .preprocess(let error): error.description
        case .outOfMemory(let bytes): "cannot allocate the \(bytes)-byte arena"
        case .windowFull(let frames): "the temporal window of \(frames) frames is full"
        case .threads(let count): "cannot start \(count) encoder threads"
        }
    }
}

/// The recogniser from frame to log-probabilities: preprocessing, the int8 encoder, the feature
/// ring and the fp32 head, all on one arena planned and allocated here, once. After `init`,
/// `add(frame:)` and `runHead()` allocate nothing.
public final class Recogniser {
    public let model: Model
    public let layout: PipelineLayout
    public let arena: Arena
    public let preprocessor: FrameToInput
    let encoder: FrameEncoder
    let head: TemporalHead
    let featureRing: UnsafeMutablePointer<Int8>
    /// Frames in the window so far.
    public private(set) var frames = 0

    /// Plans and allocates the arena for `configuration`, with frames of `frameWidth` x
    /// `frameHeight` cropped to `crop`. `kernelPath` nil takes the configuration's (by default
    /// the fastest path this CPU runs); `threads` nil runs the encoder on every core.
    public init(model: Model, configuration: PipelineConfiguration, crop: CropRect,
                frameWidth: Int, frameHeight: Int, kernelPath: KernelPath? = nil, threads: Int? = nil) throws(PipelineError) {
        var configuration = configuration
        if let kernelPath { configuration.kernelPath = kernelPath }
        let layout: PipelineLayout
        do {
            layout = try PipelineLayout(model: model, configuration: configuration)
        } catch {
            throw .model(error)
        }
        guard let arena = Arena(plan: layout.plan) else { throw .outOfMemory(bytes: layout.plan.arenaBytes) }
        do {
            preprocessor = try FrameToInput(
                crop: crop, frameWidth: frameWidth, frameHeight: frameHeight,
                outputHeight: configuration.inputHeight, outputWidth: configuration.inputWidth,
                workspace: arena.base + layout.plan.offsets[layout.preprocessWorkspace])
        } catch {
            throw .preprocess(error)
        }
        self.model = model
        self.layout = layout
        self.arena = arena
        let threadCount = threads ?? EncoderThreadPool.cpuCount
        var pool: EncoderThreadPool? = nil
        if threadCount > 1 && configuration.kernelPath != .scalar {
            guard let created = EncoderThreadPool(threads: threadCount) else { throw .threads(threadCount) }
            pool = created
        }
        encoder = FrameEncoder(
            model: model, shapes: layout.shapes, kernelPath: configuration.kernelPath, pool: pool,
            packedMemory: { op in layout.packedWeights[op].map { arena.base + layout.plan.offsets[$0] } },
            tensorMemory: { arena.buffer(layout.tensorBuffers[$0], as: Int8.self) })
        head = TemporalHead(model: model, buffers: layout.headBuffers.map { buffers in
            TemporalHead.OpBuffers(input: arena.buffer(buffers.input, as: Float.self),
                                   output: arena.buffer(buffers.output, as: Float.self),
                                   scratch: buffers.scratch.map { arena.buffer($0, as: Float.self) })
        })
        featureRing = arena.buffer(layout.featureRing, as: Int8.self)
    }

    public var window: Int { layout.configuration.window }
    public var kernelPath: KernelPath { encoder.kernelPath }
    /// The encoder, for timing it alone (`dactyl bench`).
    public var frameEncoder: FrameEncoder { encoder }
    public var featureSize: Int { model.featureSize }
    public var classes: Int { model.numClasses }

    /// Preprocesses and encodes one frame and appends its feature to the window.
    public func add(frame: YUVFrame) throws(PipelineError) {
        guard frames < window else { throw .windowFull(frames: window) }
        preprocessor.write(frame, inputLUT: model.inputLUT, into: encoder.input)
        encoder.encode()
        (featureRing + frames * featureSize).update(from: encoder.feature, count: featureSize)
        frames += 1
    }

    /// The int8 feature of frame `index` in the window.
    public func feature(_ index: Int) -> UnsafePointer<Int8> {
        UnsafePointer(featureRing + index * featureSize)
    }

    /// Runs the temporal head over the window; returns log-probabilities [frames][classes].
    public func runHead() -> UnsafePointer<Float> {
        head.run(features: featureRing, frames: frames)
        return head.logProbabilities
    }

    /// The arena memory reserved for the CTC decoder.
    public var decoderWorkspace: UnsafeMutableRawPointer {
        arena.base + layout.plan.offsets[layout.decoderWorkspace]
    }

    /// Empties the window (the next frame starts a new utterance).
    public func reset() { frames = 0 }
}

extension Recogniser {
    /// A recogniser whose window holds all of `clip`, with the decoder's workspace planned for `method`.
    public convenience init(model: Model, clip: Y4MClip, crop: CropRect, method: CTCDecoder.Method,
                            kernelPath: KernelPath? = nil, threads: Int? = nil,
                            strategy: PlanningStrategy = .greedyBySize) throws(PipelineError) {
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.window = clip.frameCount
        configuration.strategy = strategy
        if case .beam(let width) = method { configuration.beamWidth = width }
        try self.init(
            model: model, configuration: configuration, crop: crop, frameWidth: clip.width, frameHeight: clip.height,
            kernelPath: kernelPath, threads: threads)
    }

    /// Encodes every frame of `clip` into the window.
    public func add(clip: Y4MClip) throws(PipelineError) {
        var cursor = clip.makeFrameCursor()
        while let frame = cursor.next() { try add(frame: frame) }
    }

    /// A decoder on this recogniser's planned workspace.
    public func makeDecoder(_ method: CTCDecoder.Method) -> CTCDecoder {
        CTCDecoder(workspace: decoderWorkspace, frames: window, classes: classes, method: method)
    }
}
