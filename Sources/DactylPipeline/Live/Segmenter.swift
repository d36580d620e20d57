/// When signing starts and ends, from the motion in the signing zone and the letters the model
/// reads (docs/live-box.md, "Segmenter", has the measurements behind these defaults).
///
/// The signal is the mean absolute difference between consecutive encoder input tensors (the
/// cropped, resized, quantised frame: 64x64x3 values for the default model), which is already
/// in memory, so it costs one pass over 12 KB per frame: a hand that enters, moves between
/// letters or leaves moves pixels; a lowered hand, an empty zone or a still rest pose does not.
/// Every camera has its own noise, which moves pixels too, so motion is measured above the
/// noise floor: a low percentile of the last two seconds' motion (`MotionFloor`).
/// A still hand can also be holding a letter, so a segment ends only after a stretch of still
/// frames in which no letter ends.
public struct SegmenterSettings: Sendable, Equatable {
    /// A frame whose motion is at least this far above the noise floor (mean |Δ| in int8 steps)
    /// counts as moving.
    public var startMotion: Float = 1.5
    /// A frame whose motion is less than this above the noise floor counts as still.
    public var stopMotion: Float = 0.5
    /// A frame moving this much above the floor is the hand entering or leaving the zone, not
    /// fingerspelling (letters change shape in place): a segment's decoding starts after such
    /// frames at its start and stops before them at its end.
    public var travelMotion: Float = 5.0
    /// Consecutive moving frames that start a segment.
    public var startFrames = 3
    /// Still seconds, with no letter ending in them, that end a segment.
    public var quietSeconds: Float = 0.4
    /// Seconds before the first moving frame that the segment includes.
    public var preRollSeconds: Float = 0.2
    /// Seconds after the last moving frame that the word's decoding includes.
    public var tailSeconds: Float = 0.1
    /// A partial result every this many seconds while a segment is open.
    public var partialSeconds: Float = 0.2
    /// When a segment fills the window, letters ending in the window's last quarter wait for the
    /// next piece, so that a letter cut by the window's edge is read whole.
    public var pieceOverlapFraction: Float = 0.25

    public init() {}

    /// The settings in frames at `framesPerSecond`.
    public func frames(framesPerSecond: Double, window: Int) -> SegmenterFrames {
        func count(_ seconds: Float, minimum: Int) -> Int { max(minimum, Int((Double(seconds) * framesPerSecond).rounded())) }
        return SegmenterFrames(
            startMotion: startMotion, stopMotion: stopMotion, travelMotion: travelMotion, startFrames: max(1, startFrames),
            quietNanoseconds: UInt64(max(0, quietSeconds) * 1e9),
            preRollFrames: min(count(preRollSeconds, minimum: 0), window / 4),
            tailFrames: count(tailSeconds, minimum: 0),
            partialEvery: count(partialSeconds, minimum: 1),
            pieceOverlap: min(max(1, Int(Float(window) * pieceOverlapFraction)), window - 1))
    }
}

/// `SegmenterSettings` in frames of one source's rate.
public struct SegmenterFrames: Sendable, Equatable {
    public var startMotion: Float
    public var stopMotion: Float
    public var travelMotion: Float
    public var startFrames: Int
    /// A word ends when this long has passed since its last moving frame (arrival times).
    public var quietNanoseconds: UInt64
    public var preRollFrames: Int
    public var tailFrames: Int
    public var partialEvery: Int
    public var pieceOverlap: Int
}

/// The camera's noise floor: the 10th percentile of the motion of the last `capacity` frames
/// (frames of signing have still moments too, so the floor holds while a word is signed).
/// Its memory is planned in the arena; `add` allocates nothing.
public struct MotionFloor {
    public static let capacity = 64
    let history: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    public private(set) var count = 0
    var next = 0
    public private(set) var floor: Float = 0

    /// `memory` holds `2 * capacity` floats.
    init(memory: UnsafeMutablePointer<Float>) {
        history = memory
        scratch = memory + MotionFloor.capacity
    }

    public mutating func add(_ motion: Float) {
        history[next] = motion
        next = (next + 1) % MotionFloor.capacity
        count = min(count + 1, MotionFloor.capacity)
        // Insertion sort of at most 64 values: cheaper than any bookkeeping that avoids it.
        for index in 0..<count {
            let value = history[index]
            var position = index
            while position > 0 && scratch[position - 1] > value {
                scratch[position] = scratch[position - 1]
                position -= 1
            }
            scratch[position] = value
        }
        floor = scratch[count / 10]
    }
}

/// Mean absolute difference of two int8 tensors: the motion signal.
@inline(__always)
public func meanAbsoluteDifference(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, count: Int) -> Float {
    var sum = 0
    for index in 0..<count {
        let difference = Int(a[index]) - Int(b[index])
        sum += difference < 0 ? -difference : difference
    }
    return count > 0 ? Float(sum) / Float(count) : 0
}
