import CDactylPlatform

/// A camera as the live box's frame source: frame numbers that count the frames dropped on the
/// way (so the recogniser's timing stays true), the camera's loss reported once, and reopening
/// with back-off in steps that never wait longer than `waitMilliseconds`, so the loop keeps
/// serving signals and sinks (the status LED) while the camera is away.
public final class CameraFrameSource {
    public let camera: V4L2Camera
    /// The longest one `next()` waits for a frame, or sleeps between reconnection attempts.
    public let waitMilliseconds: Int
    /// The number the next frame would get if none were dropped.
    public private(set) var nextFrameNumber = 0
    /// Frames lost before reaching the recogniser: skipped for the newest, dropped by the driver.
    public private(set) var framesDropped = 0
    /// True from a loss until the camera is back.
    public private(set) var isLost = false
    /// The error of the last failed reconnection attempt (the loss itself was reported by `next()`).
    public private(set) var lastAttemptError: CameraError?

    /// What one `next()` found.
    public enum Event {
        /// A frame: its source frame number and its arrival (the driver's CLOCK_MONOTONIC stamp,
        /// never later than the dequeue).
        case frame(YUVFrame, number: Int, arrival: UInt64)
        /// Nothing yet (no frame within the wait, or the camera is away): call again.
        case waiting
        /// The camera went away (or was not there at start-up); reopening begins.
        case lost(CameraError)
        /// The camera is back, same frame size as before.
        case back
    }

    private var backoff: CameraBackoff
    private var nextAttempt: UInt64 = 0
    /// A loss found by `start()`, reported by the first `next()`.
    private var pendingLoss: CameraError?

    /// The negotiated frame rate, or the configured one while the camera has not been open.
    public var framesPerSecond: Double {
        let rate = camera.frameRate
        guard rate.numerator > 0, rate.denominator > 0 else { return Double(max(1, camera.configuration.framesPerSecond)) }
        return Double(rate.numerator) / Double(rate.denominator)
    }

    /// The frame size the recogniser is set up for: the negotiated one, or the configured one
    /// when the camera was absent at start-up (it must then come back at that size).
    public var frameSize: (width: Int, height: Int) {
        camera.isOpen ? (camera.width, camera.height) : (camera.configuration.width, camera.configuration.height)
    }

    public init(camera: V4L2Camera, waitMilliseconds: Int = 100, backoff: CameraBackoff = CameraBackoff()) {
        self.camera = camera
        self.waitMilliseconds = max(1, waitMilliseconds)
        self.backoff = backoff
    }

    /// Opens the camera. A camera that is not there (yet) is not an error: the box starts and
    /// reopens it with back-off, as after an unplug. A device that can never work (not a
    /// camera, no usable format) is: it throws.
    public func start() throws(CameraError) {
        do {
            try camera.open()
        } catch {
            guard error.isLoss else { throw error }
            camera.requireSize(width: camera.configuration.width, height: camera.configuration.height)
            pendingLoss = error
            lose()
        }
    }

    public func next() -> Event {
        if let loss = pendingLoss {
            pendingLoss = nil
            return .lost(loss)
        }
        if isLost { return reconnectStep() }
        switch camera.nextFrame(timeoutMilliseconds: waitMilliseconds) {
        case .frame(let captured):
            framesDropped += captured.droppedBefore
            let number = nextFrameNumber + captured.droppedBefore
            nextFrameNumber = number + 1
            // A frame cannot arrive after it is dequeued: some drivers (vivid) stamp the ideal
            // frame time, which can be a little ahead of the clock, and latencies would go negative.
            let arrival = min(captured.timestampNanoseconds, dactyl_monotonic_ns())
            return .frame(captured.frame, number: number, arrival: arrival)
        case .timeout:
            return .waiting
        case .lost(let error):
            lose()
            return .lost(error)
        }
    }

    private func lose() {
        isLost = true
        nextAttempt = dactyl_monotonic_ns() + UInt64(backoff.delayMilliseconds) * 1_000_000
    }

    private func reconnectStep() -> Event {
        let now = dactyl_monotonic_ns()
        if now < nextAttempt {
            let remaining = Int((nextAttempt - now + 999_999) / 1_000_000)
            dactyl_camera_sleep_ms(UInt32(min(waitMilliseconds, remaining)))
            return .waiting
        }
        do {
            try camera.reopen()
        } catch {
            lastAttemptError = error
            backoff.failed()
            nextAttempt = dactyl_monotonic_ns() + UInt64(backoff.delayMilliseconds) * 1_000_000
            return .waiting
        }
        isLost = false
        lastAttemptError = nil
        backoff.reset()
        return .back
    }
}
