import CDactylPlatform
import DactylTestSupport
import Foundation
import Glibc
import XCTest
@testable import DactylPipeline

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
