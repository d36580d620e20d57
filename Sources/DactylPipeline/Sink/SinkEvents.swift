/// What the run loop tells the sinks. Every value here is a view into memory the run loop owns
/// (planned at start-up), valid only during the call that receives it: a sink that keeps a word
/// (a queue for an unplugged serial port) copies its bytes into its own fixed storage. Nothing
/// here allocates, so the frame loop stays allocation-free with any set of sinks.

/// What the box is doing: the status LED's pattern and the status lines show it.
public enum BoxStatus: UInt8, Sendable, CaseIterable {
    /// Model loaded, devices opening.
    case starting
    /// Camera running, nobody signing.
    case idle
    /// A hand moves in the signing zone, no letters yet.
    case handSeen
    /// Letters are being recognised.
    case signing
    /// The camera disappeared; the loop is reopening it with back-off.
    case cameraLost
    /// Something the box cannot recover from by itself (the message says what).
    case error

    /// The lower-case name used in status lines (serial, JSON).
    public var name: StaticString {
        switch self {
        case .starting: "starting"
        case .idle: "idle"
        case .handSeen: "hand"
        case .signing: "signing"
        case .cameraLost: "camera-lost"
        case .error: "error"
        }
    }
}

/// A partial or committed word: its UTF-8 text and one span per letter (frame numbers are
/// counted from the start of the run, so they stay meaningful across segments).
public struct WordView {
    /// The letters as UTF-8, e.g. `dragon`; empty when nothing was read.
    public let text: UnsafeBufferPointer<UInt8>
    /// One span per letter, in order; may be empty when the alignment found none.
    public let letters: UnsafeBufferPointer<CTCLetterSpan>
    /// Which signing segment this is (0, 1, 2, ... over the run).
    public let segment: Int
    /// A segment longer than the window is committed in pieces: 0, 1, ... within the segment.
    public let piece: Int
    /// The word's last piece (always, for a word committed whole): a sink that writes plain text
    /// writes the word separator after it, and joins earlier pieces without one. A final piece
    /// may have no letters when the earlier pieces had them all.
    public let isFinal: Bool
    /// Source frame numbers (counted from the run's first frame, dropped frames included) of
    /// the segment's first frame and of the last frame this word covers.
    public let startFrame: Int
    public let endFrame: Int
    /// CLOCK_MONOTONIC nanoseconds of the segment's first frame and of this word's last frame.
    public let startNanoseconds: UInt64
    public let endNanoseconds: UInt64

    public init(text: UnsafeBufferPointer<UInt8>, letters: UnsafeBufferPointer<CTCLetterSpan>, segment: Int, piece: Int,
                isFinal: Bool = true, startFrame: Int, endFrame: Int, startNanoseconds: UInt64, endNanoseconds: UInt64) {
        self.text = text
        self.letters = letters
        self.segment = segment
        self.piece = piece
        self.isFinal = isFinal
        self.startFrame = startFrame
        self.endFrame = endFrame
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
    }
}

/// Per-run counters a sink may report (`--stats`, the JSON `stats` line).
public struct RunCounters: Sendable {
    public var framesSeen = 0
    public var framesEncoded = 0
    /// Frames skipped because the encoder was behind (the newest frame wins) plus the driver's
    /// sequence gaps.
    public var framesDropped = 0
    public var wordsCommitted = 0
    public init() {}
}

/// What a sink asks of the run loop (the GPIO button line).
public enum SinkRequest: Sendable, Equatable {
    /// Forget the word being signed.
    case clearWord
    /// Send the last committed word again.
    case repeatLastWord
}

/// A place the box sends letters to: serial, GPIO, USB keyboard, stdout. The run loop holds
/// each configured sink as a concrete value (no existentials: Embedded Swift) and calls these
/// in the loop, so none of them may block for long or allocate after `init`.
public protocol BoxSink {
    /// The word being signed, published every few frames while signing.
    mutating func partial(_ word: WordView, now: UInt64)
    /// A finished word (or piece of a long segment), in order, exactly once.
    mutating func commit(_ word: WordView, now: UInt64)
    /// The box's state changed; `message` (UTF-8, may be empty) says why, e.g. the camera's error.
    mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64)
    /// Called at least every 100 ms: retry queued deliveries, drive LED patterns, read buttons.
    mutating func service(now: UInt64) -> SinkRequest?
    /// Delivers what is queued, waiting at most until `deadline` (CLOCK_MONOTONIC ns): shutdown.
    mutating func flush(deadline: UInt64)
    /// Every frame the loop took, after the recogniser saw it, with the segmenter's view of it
    /// (the preview page shows both). Sinks of words ignore it (the default does nothing); one
    /// that keeps a frame copies what it needs now, into memory it set up at start-up.
    mutating func frame(_ frame: LiveFrame, now: UInt64)
}

extension BoxSink {
    public mutating func frame(_ frame: LiveFrame, now: UInt64) {}
}

/// A frame as the live loop saw it: the picture (memory the source owns, valid during the call),
/// the signing zone it was cropped to, and the segmenter's motion figures for it.
public struct LiveFrame {
    public let picture: YUVFrame
    /// Source frame number (dropped frames included).
    public let number: Int
    /// The signing zone in the picture's pixels (the crop the encoder sees).
    public let zone: CropRect
    /// Motion of this frame (mean |Δ| of the encoder input), the noise floor under it, and the
    /// segmenter's thresholds above the floor.
    public let motion: Float
    public let motionFloor: Float
    public let startMotion: Float
    public let stopMotion: Float
    /// A segment (a word being signed) is open.
    public let segmentOpen: Bool

    public init(picture: YUVFrame, number: Int, zone: CropRect, motion: Float, motionFloor: Float, startMotion: Float,
                stopMotion: Float, segmentOpen: Bool) {
        self.picture = picture
        self.number = number
        self.zone = zone
        self.motion = motion
        self.motionFloor = motionFloor
        self.startMotion = startMotion
        self.stopMotion = stopMotion
        self.segmentOpen = segmentOpen
    }
}

// The stdout sink's JSON lines (`--format jsonl`), one object per line, for scripts:
//   {"type":"status","status":"idle","message":"","t_ms":12}
//   {"type":"partial","segment":0,"text":"dra","t_ms":840}
//   {"type":"commit","segment":0,"piece":0,"final":true,"text":"dragon","start_frame":12,"end_frame":80,
//    "letters":[{"letter":"d","start":14,"end":20,"score":0.9871},...],"t_ms":2710,"latency_ms":95.2}
//   {"type":"stats",...}  (once, at exit, with --stats)
// t_ms: milliseconds since the run started (CLOCK_MONOTONIC); frames as in WordView.

extension FixedText {
    /// A committed word's fields as both JSON writers give them (the stdout sink's lines above and
    /// the preview page's events), after the object's first field:
    /// `,"segment":0,"piece":0,"final":true,"text":"dragon","start_frame":12,"end_frame":80`.
    mutating func appendCommitFields(_ word: WordView) {
        append(",\"segment\":")
        append(integer: word.segment)
        append(",\"piece\":")
        append(integer: word.piece)
        append(word.isFinal ? ",\"final\":true" : ",\"final\":false")
        append(",\"text\":")
        append(jsonString: word.text)
        append(",\"start_frame\":")
        append(integer: word.startFrame)
        append(",\"end_frame\":")
        append(integer: word.endFrame)
    }
}
