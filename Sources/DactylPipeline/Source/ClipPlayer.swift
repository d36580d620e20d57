import CDactylPlatform

/// Plays a clip as a camera would deliver it, so that everything after the source can be run and
/// tested without a camera: at the clip's frame rate (`realtime`) or as fast as the pipeline
/// takes frames, once or looped. In real time, when the pipeline falls behind, the newest due
/// frame wins and the skipped ones are counted as dropped, as with a camera.
public struct ClipPlayer {
    public let clip: Y4MClip
    public let realtime: Bool
    public let loop: Bool
    public let framesPerSecond: Double
    /// CLOCK_MONOTONIC ns of frame 0's arrival.
    public private(set) var startTime: UInt64 = 0
    /// The next source frame number (counting over loops).
    public private(set) var nextFrame = 0
    public private(set) var framesDropped = 0
    private var cursor: Y4MFrameCursor

    /// Frames per second when the clip does not say (Y4M's `F` tag is optional).
    public static let defaultFramesPerSecond = 30.0

    public init(clip: Y4MClip, realtime: Bool, loop: Bool) {
        self.clip = clip
        self.realtime = realtime
        self.loop = loop
        if let rate = clip.frameRate, rate.numerator > 0, rate.denominator > 0 {
            framesPerSecond = Double(rate.numerator) / Double(rate.denominator)
        } else {
            framesPerSecond = ClipPlayer.defaultFramesPerSecond
        }
        cursor = clip.makeFrameCursor()
    }

    /// When frame `number` is due, in real time.
    public func dueTime(_ number: Int) -> UInt64 {
        startTime + UInt64((Double(number) * 1e9 / framesPerSecond).rounded())
    }

    /// The next frame, its source frame number and its time (when it is due in real time), or nil at the end of the clip
    /// (never, when looping). In real time this sleeps until the frame is due; a signal ends the
    /// sleep early and returns nil with `interrupted` set, so the caller can act on it at once.
    public mutating func next() -> (frame: YUVFrame, number: Int, arrival: UInt64)? {
        guard clip.frameCount > 0, loop || nextFrame < clip.frameCount else { return nil }
        if nextFrame == 0 && startTime == 0 { startTime = dactyl_monotonic_ns() }
        var arrival = dactyl_monotonic_ns()
        if realtime {
            let elapsed = Double(arrival - min(arrival, startTime))
            let newestDue = Int(elapsed * framesPerSecond / 1e9)
            if newestDue > nextFrame {
                framesDropped += newestDue - nextFrame
                nextFrame = newestDue
                if !loop && nextFrame >= clip.frameCount { return nil }
            } else if newestDue < nextFrame {
                dactyl_sleep_until(dueTime(nextFrame))
                guard dactyl_monotonic_ns() >= dueTime(nextFrame) else { return nil }
            }
        }
        // A clip frame's time is its place in the clip, also when played as fast as it goes:
        // the segmenter measures pauses in the signer's time, not in the player's.
        arrival = dueTime(nextFrame)
        let index = nextFrame % clip.frameCount
        if cursor.frameIndex != index { cursor = clip.makeFrameCursor(at: index) }
        guard let frame = cursor.next() else { return nil }
        let number = nextFrame
        nextFrame += 1
        return (frame, number, arrival)
    }

    /// True when `next()` returned nil before the clip's end: a signal ended the wait.
    public var interrupted: Bool { loop || nextFrame < clip.frameCount }
}
