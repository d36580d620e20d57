import Foundation
import Glibc

/// The service manager's end of sd_notify (systemd's notify socket): a unix datagram socket the
/// test binds (a path, or a name in the abstract namespace), read by a thread that stamps each
/// message on arrival (CLOCK_MONOTONIC ns). It reads while the sender runs: a unix datagram
/// socket queues only about 10 datagrams (net.unix.max_dgram_qlen), and the rest are dropped.
public final class NotifySocket: @unchecked Sendable {
    /// What NOTIFY_SOCKET must say: the path, or @name.
    public let name: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [(time: UInt64, text: String)] = []
    private var stopped = false
    private var thread: Thread?

    /// `abstract`: a name in the abstract namespace (NOTIFY_SOCKET=@name), else a path.
    public init(abstract: Bool = false) throws {
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
            var clock = timespec()
            clock_gettime(CLOCK_MONOTONIC, &clock)
            let now = UInt64(clock.tv_sec) * 1_000_000_000 + UInt64(clock.tv_nsec)
            lock.lock()
            received.append((now, String(decoding: buffer.prefix(count), as: UTF8.self)))
            lock.unlock()
        }
    }

    /// What arrived so far, after waiting `settle` seconds for datagrams in flight.
    public func messages(settle: TimeInterval = 0.1) -> [(time: UInt64, text: String)] {
        Thread.sleep(forTimeInterval: settle)
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    public func close() {
        lock.lock()
        stopped = true
        lock.unlock()
        Thread.sleep(forTimeInterval: 0.05)
        Glibc.close(fd)
        if !name.hasPrefix("@") { unlink(name) }
    }
}

