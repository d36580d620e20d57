import CDactylPlatform

/// The live box under systemd (Type=notify, WatchdogSec=): tells the service manager when the box
/// is up (READY=1), that the loop is alive (WATCHDOG=1), when the camera is lost and back
/// (STATUS=), and that it is stopping (STOPPING=1). Outside systemd ($NOTIFY_SOCKET unset) it
/// only passes the sinks' calls through.
///
/// It sits in front of the sinks because the loop calls `service` on every step, frame or not
/// (a camera being reopened, a clip waiting for its next frame): the ping comes from there, so
/// it stops exactly when the loop stops stepping (hung in a driver call, a deadlocked encoder),
/// and the watchdog restarts the box. A lost camera does not stop the pings: the loop reopens it
/// by itself, and restarting the service would not bring it back sooner.
/// Nothing here allocates after `init`: each message is a static string or built on the C stack.
public struct ServiceNotifier<Sinks: BoxSink>: BoxSink {
    public var sinks: Sinks
    /// True when $NOTIFY_SOCKET named a socket.
    public let isActive: Bool
    /// Nanoseconds between watchdog pings: half of $WATCHDOG_USEC (sd_watchdog_enabled(3)
    /// advises pinging at half the interval); 0 when systemd asked for no watchdog.
    public let pingInterval: UInt64
    /// errno of an unusable $NOTIFY_SOCKET (0 when fine or unset), for one line on stderr.
    public let openError: Int32
    /// Watchdog pings sent.
    public private(set) var pings = 0
    private var lastPing: UInt64
    private var cameraLost = false

    /// Reads the environment (once: the run's start-up) and opens the socket.
    public init(sinks: Sinks, now: UInt64) {
        self.sinks = sinks
        openError = dactyl_notify_open()
        isActive = dactyl_notify_active() != 0
        pingInterval = dactyl_notify_watchdog_ns() / 2
        lastPing = now
    }

    /// The model is loaded and the source opened: the service is up.
    public func ready() {
        send("READY=1")
    }

    /// The loop has ended; what follows is the last word's commit and the sinks' flush.
    public func stopping() {
        send("STOPPING=1")
    }

    /// Closes the socket (at exit).
    public func close() {
        dactyl_notify_close()
    }

    private func send(_ message: StaticString) {
        _ = dactyl_notify_send(UnsafeRawPointer(message.utf8Start).assumingMemoryBound(to: CChar.self), message.utf8CodeUnitCount)
    }

    // MARK: BoxSink

    public mutating func partial(_ word: WordView, now: UInt64) { sinks.partial(word, now: now) }

    public mutating func commit(_ word: WordView, now: UInt64) { sinks.commit(word, now: now) }

    /// Frames go on to the sinks that take them (the preview page): the protocol's default would
    /// drop them here.
    public mutating func frame(_ frame: LiveFrame, now: UInt64) { sinks.frame(frame, now: now) }

    public mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        if status == .cameraLost {
            cameraLost = true
            _ = dactyl_notify_status(message.baseAddress, message.count)
        } else if cameraLost {
            cameraLost = false
            send("STATUS=camera back")
        }
        sinks.status(status, message: message, now: now)
    }

    public mutating func service(now: UInt64) -> SinkRequest? {
        if pingInterval > 0 && now &- lastPing >= pingInterval {
            lastPing = now
            pings += 1
            send("WATCHDOG=1")
        }
        return sinks.service(now: now)
    }

    public mutating func flush(deadline: UInt64) { sinks.flush(deadline: deadline) }
}
