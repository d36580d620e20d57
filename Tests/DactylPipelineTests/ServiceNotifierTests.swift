import CDactylPlatform
import Foundation
import Glibc
import XCTest
@testable import DactylPipeline

/// The service manager's end of sd_notify: a unix datagram socket the test binds (a path, or a
/// name in the abstract namespace), read by a thread that stamps each message on arrival.
final class NotifySocket: @unchecked Sendable {
    let name: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [(time: UInt64, text: String)] = []
    private var stopped = false
    private var thread: Thread?

    /// `abstract`: a name in the abstract namespace (NOTIFY_SOCKET=@name), else a path.
    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        let unique = "dactyl-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        name = abstract ? "@" + unique : FileManager.default.temporaryDirectory.appendingPathComponent(unique).path
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index] = byte }
            if abstract { path[0] = 0 }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 0, tv_usec: 20_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [unowned self] in self.receive() }
        self.thread = thread
        thread.start()
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            lock.lock()
            let done = stopped
            lock.unlock()
            if done { return }
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let now = dactyl_monotonic_ns()
            lock.lock()
            received.append((now, String(decoding: buffer.prefix(count), as: UTF8.self)))
            lock.unlock()
        }
    }

    /// What arrived so far, after waiting `settle` seconds for datagrams in flight.
    func messages(settle: TimeInterval = 0.1) -> [(time: UInt64, text: String)] {
        Thread.sleep(forTimeInterval: settle)
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    func close() {
        lock.lock()
        stopped = true
        lock.unlock()
        Thread.sleep(forTimeInterval: 0.05)
        Glibc.close(fd)
        if !name.hasPrefix("@") { unlink(name) }
    }
}

/// The sd_notify side of the systemd watchdog (ServiceNotifier, notify.c): which messages, when,
/// and nothing at all outside systemd.
final class ServiceNotifierTests: XCTestCase {
    override func tearDown() {
        dactyl_notify_close()
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { unsetenv(name) }
    }

    func testReadyWatchdogStatusAndStoppingReachTheSocket() throws {
        let socket = try NotifySocket(abstract: false)
        defer { socket.close() }
        setenv("NOTIFY_SOCKET", socket.name, 1)
        setenv("WATCHDOG_USEC", "100000", 1)
        var notifier = ServiceNotifier(sinks: RecordingSink(), now: 1_000_000_000)
        XCTAssertTrue(notifier.isActive)
        XCTAssertEqual(notifier.openError, 0)
        XCTAssertEqual(notifier.pingInterval, 50_000_000, "half of WATCHDOG_USEC")
        notifier.ready()
        // Pings at most every 50 ms of the loop's clock, however often it steps.
        for milliseconds in [10, 49, 50, 60, 99, 100, 101, 149] {
            _ = notifier.service(now: 1_000_000_000 + UInt64(milliseconds) * 1_000_000)
        }
        XCTAssertEqual(notifier.pings, 2)
        withBytes("/dev/video0: camera lost:\nVIDIOC_DQBUF: Input/output error") {
            notifier.status(.cameraLost, message: $0, now: 0)
        }
        withBytes("") { notifier.status(.idle, message: $0, now: 0) }
        withBytes("") { notifier.status(.signing, message: $0, now: 0) }
        notifier.stopping()
        XCTAssertEqual(socket.messages().map(\.text),
                       ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "STATUS=/dev/video0: camera lost: VIDIOC_DQBUF: Input/output error",
                        "STATUS=camera back", "STOPPING=1"])
        // The sinks behind it saw every status.
        XCTAssertEqual(notifier.sinks.statuses, [.cameraLost, .idle, .signing])
    }

    func testAbstractSocketsAndWhenThereIsNoWatchdogOrNoSystemd() throws {
        let socket = try NotifySocket(abstract: true)
        defer { socket.close() }
        setenv("NOTIFY_SOCKET", socket.name, 1)
        var notifier = ServiceNotifier(sinks: RecordingSink(), now: 0)
        XCTAssertTrue(notifier.isActive)
        XCTAssertEqual(notifier.pingInterval, 0, "no WATCHDOG_USEC: no watchdog")
        notifier.ready()
        _ = notifier.service(now: 10_000_000_000)
        // The watchdog belongs to another process (WATCHDOG_PID): no pings from this one.
        setenv("WATCHDOG_USEC", "100000", 1)
        setenv("WATCHDOG_PID", "1", 1)
        var other = ServiceNotifier(sinks: RecordingSink(), now: 0)
        XCTAssertEqual(other.pingInterval, 0)
        _ = other.service(now: 10_000_000_000)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        XCTAssertEqual(ServiceNotifier(sinks: RecordingSink(), now: 0).pingInterval, 50_000_000)
        other.stopping()
        XCTAssertEqual(socket.messages().map(\.text), ["READY=1", "STOPPING=1"])

        // Outside systemd nothing is sent and nothing fails; a relative name is refused.
        unsetenv("NOTIFY_SOCKET")
        var outside = ServiceNotifier(sinks: RecordingSink(), now: 0)
        XCTAssertFalse(outside.isActive)
        XCTAssertEqual(outside.openError, 0)
        outside.ready()
        _ = outside.service(now: 10_000_000_000)
        XCTAssertEqual(outside.pings, 0)
        setenv("NOTIFY_SOCKET", "relative/socket", 1)
        let bad = ServiceNotifier(sinks: RecordingSink(), now: 0)
        XCTAssertFalse(bad.isActive)
        XCTAssertEqual(bad.openError, EINVAL)
    }
}
