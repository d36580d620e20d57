import CDactylPlatform

/// Where frames come from: a clip played as a camera would deliver it (tests, demos, the
/// sample), or a camera.
public enum FrameSource {
    case clip(ClipPlayer)
    /// A V4L2 camera (opened by the caller: `CameraFrameSource.start()`).
    case camera(CameraFrameSource)

    public var framesPerSecond: Double {
        switch self {
        case .clip(let player): player.framesPerSecond
        case .camera(let source): source.framesPerSecond
        }
    }
}

/// What one `LiveBox.step()` did.
public enum LiveStep: Equatable {
    /// A frame was processed.
    case frame
    /// No frame yet (a wait ended early, a camera timeout, a camera being reopened): step again.
    case waiting
    /// The source has no more frames (the end of a clip that is not looped).
    case ended
}

/// The live box's loop body: the next frame from the source through the continuous recogniser
/// to the sinks, the sinks' requests (the button) back to the recogniser, and the statistics.
/// Everything it touches was allocated when it was made, so `step()` allocates nothing.
public final class LiveBox<Sinks: BoxSink> {
    public let recogniser: ContinuousRecogniser
    public var source: FrameSource
    /// The sinks, behind the word-latency counter.
    var output: TimedSinks<Sinks>
    public var sinks: Sinks {
        get { output.sinks }
        set { output.sinks = newValue }
    }
    public var statistics: RunStatistics {
        var statistics = counters
        statistics.wordLatencies = output.wordLatencies
        return statistics
    }
    var counters = RunStatistics()
    /// Source frames seen (dropped ones included).
    public private(set) var sourceFrames = 0

    public init(recogniser: ContinuousRecogniser, source: FrameSource, sinks: Sinks) {
        self.recogniser = recogniser
        self.source = source
        output = TimedSinks(sinks: sinks)
    }

    /// Tells the sinks the box is up (the status LED, the status line).
    public func start() {
        output.status(.idle, message: UnsafeBufferPointer(start: nil, count: 0), now: dactyl_monotonic_ns())
    }

    public func step() -> LiveStep {
        let result: LiveStep
        switch source {
        case .clip(var player):
            let next = player.next()
            let ended = next == nil && !player.interrupted
            counters.framesDropped = player.framesDropped
            source = .clip(player)
            if let next {
                process(next.frame, number: next.number, arrival: next.arrival)
                result = .frame
            } else {
                result = ended ? .ended : .waiting
            }
        case .camera(let camera):
            switch camera.next() {
            case .frame(let frame, let number, let arrival):
                counters.framesDropped = camera.framesDropped
                process(frame, number: number, arrival: arrival)
                result = .frame
            case .waiting:
                result = .waiting
            case .lost(let error):
                // The word being signed is committed from the frames that came: nothing already
                // seen is lost. Rare, so the message may allocate: the sinks show the camera as
                // lost (LED, status line).
                recogniser.finish(now: dactyl_monotonic_ns, sink: &output)
                var text = error.description
                text.withUTF8 { output.status(.cameraLost, message: $0, now: dactyl_monotonic_ns()) }
                result = .waiting
            case .back:
                output.status(.idle, message: UnsafeBufferPointer(start: nil, count: 0), now: dactyl_monotonic_ns())
                result = .waiting
            }
        }
        serviceSinks()
        return result
    }

    /// `arrival`: when the frame was taken (the camera's timestamp, a clip frame's due time);
    /// frame latency is counted from when the loop got it.
    func process(_ frame: YUVFrame, number: Int, arrival: UInt64) {
        let received = dactyl_monotonic_ns()
        sourceFrames = number + 1
        recogniser.process(frame, frameNumber: number, arrival: arrival, now: dactyl_monotonic_ns, sink: &output)
        let now = dactyl_monotonic_ns()
        counters.frameLatencies.record(now &- min(now, received))
        output.frame(LiveFrame(picture: frame, number: number, zone: recogniser.recogniser.preprocessor.crop,
                               motion: recogniser.lastMotion, motionFloor: recogniser.motionFloor.floor,
                               startMotion: recogniser.settings.startMotion, stopMotion: recogniser.settings.stopMotion,
                               segmentOpen: recogniser.segmentOpen), now: now)
    }

    func serviceSinks() {
        guard let request = output.service(now: dactyl_monotonic_ns()) else { return }
        switch request {
        case .clearWord: recogniser.clearWord(now: dactyl_monotonic_ns(), sink: &output)
        case .repeatLastWord: recogniser.repeatLastWord(now: dactyl_monotonic_ns(), sink: &output)
        }
    }

    /// Commits the word being signed and flushes the sinks, waiting at most `flushSeconds`.
    public func finish(flushSeconds: Double = 2) {
        recogniser.finish(now: dactyl_monotonic_ns, sink: &output)
        output.flush(deadline: dactyl_monotonic_ns() + UInt64(flushSeconds * 1e9))
    }
}

/// Sits between the recogniser and the sinks to count word latency (end of signing → the word
/// handed to the sinks), so that no sink has to.
struct TimedSinks<Sinks: BoxSink>: BoxSink {
    var sinks: Sinks
    var wordLatencies = LatencyLog(capacity: 4096)

    mutating func partial(_ word: WordView, now: UInt64) { sinks.partial(word, now: now) }

    mutating func commit(_ word: WordView, now: UInt64) {
        if word.isFinal { wordLatencies.record(now &- min(now, word.endNanoseconds)) }
        sinks.commit(word, now: now)
    }

    mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        sinks.status(status, message: message, now: now)
    }

    mutating func service(now: UInt64) -> SinkRequest? { sinks.service(now: now) }

    mutating func flush(deadline: UInt64) { sinks.flush(deadline: deadline) }

    mutating func frame(_ frame: LiveFrame, now: UInt64) { sinks.frame(frame, now: now) }
}
