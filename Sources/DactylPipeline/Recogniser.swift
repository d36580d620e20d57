import DactylArena
import DactylKernels
import DactylModel

/// Why the pipeline cannot be set up; the CLI prints `description`.
public enum PipelineError: Error, CustomStringConvertible {
    case model(ModelError)
    case preprocess(PreprocessError)
    case outOfMemory(bytes: Int)
    case windowFull(frames: Int)
    /// The clip could not be read while playing (truncated or a read error).
    case clip(ClipError)
    case threads(Int)

    public var description: String {
        switch self {
        case .clip(let error): error.description
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
    public private(set) var preprocessor: FrameToInput
    let encoder: FrameEncoder
    let head: TemporalHead
    let featureRing: UnsafeMutablePointer<Int8>
    /// The last encoded frame's feature, for resampled ticks to interpolate from, and the
    /// current one's (the live box's `encodeInput()`).
    let lastFeature: UnsafeMutablePointer<Int8>
    let currentFeature: UnsafeMutablePointer<Int8>
    /// Frames in the window so far.
    public private(set) var frames = 0
    /// The hand localiser and crop tracker (`--crop auto`; nil unless the configuration planned it).
    public private(set) var cropFollower: CropFollower? = nil
    /// `add(clip:sourceRate:)` with a crop follower: each source frame where the crop changed, and the new crop.
    public private(set) var cropChanges: [(frame: Int, crop: CropRect)] = []
    /// Set to [] to have `add(clip:sourceRate:)` keep every localiser run's raw box (`decode --trace-boxes`).
    public var boxLog: [(frame: Int, box: HandBox)]? = nil

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
        lastFeature = arena.buffer(layout.resamplingFeatures, as: Int8.self)
        currentFeature = lastFeature + model.featureSize
        if let localiser = model.localiser, layout.localiser != nil {
            let handLocaliser = try HandLocaliser(model: model, layout: layout, arena: arena, frameWidth: frameWidth,
                                                  frameHeight: frameHeight, kernelPath: configuration.kernelPath, pool: pool)
            let tracker = CropTracker(frameWidth: frameWidth, frameHeight: frameHeight,
                                      aspect: Double(configuration.inputWidth) / Double(configuration.inputHeight),
                                      framesPerSecond: model.frameRate.perSecond, initial: crop, settings: configuration.tracker)
            cropFollower = CropFollower(localiser: handLocaliser, tracker: tracker,
                                        interval: configuration.localiserInterval ?? localiser.interval)
        }
    }

    /// `--crop auto`: runs the localiser when due (`CropFollower.step`) on a source frame that
    /// fills `modelFrames` model frames and moves the crop if the tracker moved it; returns the
    /// new crop, or nil if it stayed (or there is no follower).
    public func followHand(_ frame: YUVFrame, modelFrames: Int) -> CropRect? {
        guard let moved = cropFollower?.step(frame, modelFrames: modelFrames) else { return nil }
        // The tracker keeps its crops inside the frame, so this cannot fail.
        do { try setCrop(moved) } catch { return nil }
        return moved
    }

    public var window: Int { layout.configuration.window }
    public var kernelPath: KernelPath { encoder.kernelPath }
    /// The encoder, for timing it alone (`dactyl bench`).
    public var frameEncoder: FrameEncoder { encoder }
    public var featureSize: Int { model.featureSize }
    public var classes: Int { model.numClasses }

    /// Preprocesses and encodes one frame and appends its feature to the window (through the
    /// current crop: the hand is followed by `add(clip:sourceRate:)` and the live box).
    public func add(frame: YUVFrame) throws(PipelineError) {
        guard frames < window else { throw .windowFull(frames: window) }
        preprocess(frame)
        encodeInput(intoSlot: frames)
        frames += 1
    }

    /// The quantised input tensor of the last `preprocess(_:)`, until `encodeInput` overwrites
    /// the memory it shares with later tensors.
    public var input: UnsafePointer<Int8> { UnsafePointer(encoder.input) }
    public var inputCount: Int { layout.configuration.inputHeight * layout.configuration.inputWidth * 3 }

    /// Moves the hand crop (a re-read board profile): the resize tables are recomputed in place.
    public func setCrop(_ crop: CropRect) throws(PipelineError) {
        do {
            preprocessor = try FrameToInput(
                crop: crop, frameWidth: preprocessor.frameWidth, frameHeight: preprocessor.frameHeight,
                outputHeight: preprocessor.outputHeight, outputWidth: preprocessor.outputWidth,
                workspace: arena.base + layout.plan.offsets[layout.preprocessWorkspace])
        } catch {
            throw .preprocess(error)
        }
    }

    /// Crops, resizes and quantises `frame` into the encoder's input tensor.
    public func preprocess(_ frame: YUVFrame) {
        preprocessor.write(frame, inputLUT: model.inputLUT, into: encoder.input)
    }

    /// Encodes the input tensor and stores its feature in slot `slot` of the feature ring.
    public func encodeInput(intoSlot slot: Int) {
        precondition(slot >= 0 && slot < window, "feature ring slot out of range")
        encoder.encode()
        (featureRing + slot * featureSize).update(from: encoder.feature, count: featureSize)
    }

    /// Encodes the input tensor and fills `step.ticks` ring slots from `firstSlot` (wrapping around
    /// the window) with its feature interpolated against the last encoded frame's (frame-rate
    /// resampling, `FrameRateResampler`); a step of no ticks encodes nothing.
    public func encodeInput(_ step: FrameRateResampler.Step, firstSlot: Int) {
        guard step.ticks > 0 else { return }
        encodeInput()
        for index in 0..<step.ticks { storeEncodedFeature(weight: step.weight(ofTick: index), intoSlot: (firstSlot + index) % window) }
        keepEncodedFeature()
    }

    /// Encodes the input tensor and keeps its feature (`storeEncodedFeature`) until the next
    /// `keepEncodedFeature`: the live box stores one frame into several model frames, running the
    /// head between them, which reuses the encoder's memory.
    public func encodeInput() {
        encoder.encode()
        currentFeature.update(from: encoder.feature, count: featureSize)
    }

    /// Ring slot `slot` := the last `encodeInput`'s feature interpolated with the previous kept one (weight in 1/256 on the new one).
    public func storeEncodedFeature(weight: Int, intoSlot slot: Int) {
        precondition(slot >= 0 && slot < window, "feature ring slot out of range")
        interpolateFeatures(lastFeature, currentFeature, weight: weight, count: featureSize, into: featureRing + slot * featureSize)
    }

    /// The last `encodeInput`'s feature becomes the one the next frame interpolates from.
    public func keepEncodedFeature() {
        lastFeature.update(from: currentFeature, count: featureSize)
    }

    /// Runs the temporal head over `count` ring slots from `start` (wrapping around); returns
    /// log-probabilities [count][classes].
    public func runHead(ringStart start: Int, count: Int) -> UnsafePointer<Float> {
        head.run(ring: featureRing, ringFrames: window, start: start, frames: count)
        return head.logProbabilities
    }

    /// Memory the configuration reserved for the caller (`PipelineConfiguration.callerWorkspaceBytes`),
    /// live for the whole run; 64-byte aligned.
    public var callerWorkspace: UnsafeMutableRawPointer? {
        layout.callerWorkspace.map { arena.base + layout.plan.offsets[$0] }
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

    /// The arena memory reserved for the lexicon trie and language model (nil: none planned).
    public var vocabularyMemory: UnsafeMutableRawPointer? {
        layout.vocabulary.map { arena.base + layout.plan.offsets[$0] }
    }

    /// Empties the window (the next frame starts a new utterance).
    public func reset() { frames = 0 }
}

extension Recogniser {
    /// A recogniser whose window holds all of `clip`, with the decoder's workspace planned for
    /// `method`: every frame, or with `sourceRate` (the clip's), the clip resampled to the model's rate.
    public convenience init(model: Model, clip: Y4MClip, crop: CropRect, method: CTCDecoder.Method,
                            sourceRate: FrameRate? = nil,
                            kernelPath: KernelPath? = nil, threads: Int? = nil, strategy: PlanningStrategy = .greedyBySize,
                            vocabularyBytes: Int = 0, followHand: Bool = false, localiserInterval: Int? = nil) throws(PipelineError) {
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.window = sourceRate.map {
            FrameRateResampler.ticks(frames: clip.frameCount, sourceRate: $0, modelRate: model.frameRate)
        } ?? clip.frameCount
        configuration.vocabularyBytes = vocabularyBytes
        configuration.strategy = strategy
        configuration.localiser = followHand
        configuration.localiserInterval = localiserInterval
        if case .beam(let width) = method { configuration.beamWidth = width }
        try self.init(
            model: model, configuration: configuration, crop: crop, frameWidth: clip.width, frameHeight: clip.height,
            kernelPath: kernelPath, threads: threads)
    }

    /// Encodes every frame of `clip` into the window; a clip that cannot be read to its end
    /// (truncated while playing) is an error naming the file and the frame.
    public func add(clip: Y4MClip) throws(PipelineError) {
        var cursor = clip.makeFrameCursor()
        while let frame = cursor.next() { try add(frame: frame) }
        if let error = cursor.error { throw .clip(error) }
    }

    /// Encodes `clip` resampled from `sourceRate` to the model's rate into the window (only the
    /// frames that fill a model frame are encoded); returns, per model frame, the source frame
    /// nearest to it in the interpolation (the one with at least half the weight).
    public func add(clip: Y4MClip, sourceRate: FrameRate) throws(PipelineError) -> [Int] {
        var resampler = FrameRateResampler(rate: model.frameRate)
        var sourceFrames: [Int] = []
        sourceFrames.reserveCapacity(window)
        var cursor = clip.makeFrameCursor()
        var frame = 0, lastEncoded = 0
        while let yuv = cursor.next() {
            let step = resampler.step(time: FrameRateResampler.sourceTime(frame: frame, rate: sourceRate))
            if step.ticks > 0 {
                guard frames + step.ticks <= window else { throw .windowFull(frames: window) }
                let runs = cropFollower?.runs ?? 0
                if let crop = followHand(yuv, modelFrames: step.ticks) { cropChanges.append((frame, crop)) }
                if boxLog != nil, let follower = cropFollower, follower.runs > runs, let box = follower.lastBox { boxLog?.append((frame, box)) }
                preprocess(yuv)
                encodeInput(step, firstSlot: frames)
                for index in 0..<step.ticks {
                    sourceFrames.append(step.weight(ofTick: index) * 2 >= FrameRateResampler.weightOne ? frame : lastEncoded)
                }
                frames += step.ticks
                lastEncoded = frame
            }
            frame += 1
        }
        if let error = cursor.error { throw .clip(error) }
        return sourceFrames
    }

    /// A decoder on this recogniser's planned workspace.
    public func makeDecoder(_ method: CTCDecoder.Method, vocabulary: BeamVocabulary? = nil) -> CTCDecoder {
        precondition(vocabulary == nil || layout.vocabulary != nil, "the decoder's vocabulary was not planned")
        return CTCDecoder(workspace: decoderWorkspace, frames: window, classes: classes, method: method, vocabulary: vocabulary)
    }
}
