import DactylTestSupport
import Foundation
import Glibc
import XCTest

/// Issue 12 part 5 at the command line: signals in the middle of a word, a bad model at
/// start-up, and the sd_notify messages a service manager receives from `dactyl run`.
extension CommandLineTests {
    func testSIGINTCommitsTheWordBeingSignedAndExitsZero() throws {
        // As SIGTERM (testSIGTERMCommitsTheWordBeingSignedAndExitsZero): Ctrl-C at a console.
        // Stopped 1.6 s into the 2.2 s word (real time): the letters read so far arrive as a word.
        let (process, out, _) = try startDactyl(["run", sample])
        Thread.sleep(forTimeInterval: 1.6)
        kill(process.processIdentifier, SIGINT)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(stdout.hasSuffix("\n") && stdout.count >= 2 && !stdout.dropLast().contains("\n"), stdout)
        XCTAssertTrue("dragon".hasPrefix(stdout.dropLast()), stdout)
    }

    func testSIGHUPInTheMiddleOfWordsLosesNoLetter() throws {
        // The word fills most of each loop (67 of 92 frames, played as fast as they are read), and
        // SIGHUP comes six times with a crop that changes each time (once a broken profile),
        // each a third of a loop after a word: in the middle of the next one. Every word still
        // reads "dragon" whole, before, across and after the reloads.
        let (session, _) = try SessionClip().write([.holdFirst(5), .word, .holdLast(20)])
        defer { try? FileManager.default.removeItem(atPath: session) }
        let profile = scratch.appendingPathComponent("box.conf")
        let crops = ["0,0,128,128", "2,2,124,124"]
        try "crop = \(crops[0])\n".write(to: profile, atomically: true, encoding: .utf8)
        let (process, out, err) = try startDactyl(["run", session, "--loop", "--fast", "--board", profile.path, "--sink", "stdout"])
        // Paced by the words themselves (a loop's time is measured between the first two), so that
        // a slow machine changes nothing.
        var reader = LineReader(out.fileHandleForReading.fileDescriptor)
        var lines = reader.lines(count: 1, timeout: 60)
        let loopStart = Date()
        lines += reader.lines(count: 1, timeout: 60)
        let loopSeconds = Date().timeIntervalSince(loopStart)
        for index in 1...6 {
            // The fourth reload finds a broken profile: said once, and the crop before it is kept.
            let text = index == 4 ? "crop = 0,0,banana\n" : "crop = \(crops[index % 2])\n"
            try text.write(to: profile, atomically: true, encoding: .utf8)
            Thread.sleep(forTimeInterval: min(0.5, loopSeconds / 3))
            kill(process.processIdentifier, SIGHUP)
            lines += reader.lines(count: 1, timeout: 60)
        }
        lines += reader.lines(count: 1, timeout: 60)
        process.terminate()
        let stdout = lines.map { $0 + "\n" }.joined() + String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        XCTAssertEqual(lines.count, 9, stdout)
        // A good profile reloads silently; the broken one is one line.
        XCTAssertEqual(stderr.split(separator: "\n").count, 1, stderr)
        XCTAssertTrue(stderr.hasPrefix("dactyl: \(profile.path):1: crop") && stderr.hasSuffix("(SIGHUP: keeping the profile loaded before)\n"),
                      stderr)
        var words = stdout.split(separator: "\n").map(String.init)
        // The last word may have been cut by SIGTERM (committed with the letters read so far).
        if let last = words.last, last != "dragon", "dragon".hasPrefix(last) { words.removeLast() }
        XCTAssertGreaterThanOrEqual(words.count, 9, stdout)
        XCTAssertEqual(Set(words), ["dragon"], stdout)
    }

    func testAMissingOrCorruptModelStopsTheBoxAtOnceWithOneLine() throws {
        // Under systemd a bad model must fail the start (exit 1 before READY=1), not run broken.
        let socket = try NotifySocket()
        defer { socket.close() }
        let environment = ["NOTIFY_SOCKET": socket.name, "WATCHDOG_USEC": "1000000"]
        let missing = scratch.appendingPathComponent("missing.dmdl").path
        try assertFails(["run", sample, "--model", missing], status: 1, mentioning: [missing, "No such file"], environment: environment)

        var model = try Data(contentsOf: URL(fileURLWithPath: SessionClip.modelPath))
        model[model.count - 10] ^= 0xFF
        let corrupt = scratch.appendingPathComponent("corrupt.dmdl")
        try model.write(to: corrupt)
        try assertFails(["run", sample], status: 1, mentioning: [corrupt.path, "checksum"],
                        environment: environment.merging(["DACTYL_MODEL": corrupt.path]) { $1 })
        let truncated = scratch.appendingPathComponent("truncated.dmdl")
        try model.prefix(model.count / 2).write(to: truncated)
        // A camera source: the model is checked before any device is opened.
        try assertFails(["run", "/dev/video9", "--model", truncated.path], status: 1, mentioning: [truncated.path],
                        environment: environment)
        XCTAssertEqual(socket.messages().map(\.text), [], "no READY=1 (nor anything else) from a box that cannot start")
    }

    func testRunTellsSystemdItIsReadyAlivesAndStopping() throws {
        let socket = try NotifySocket()
        defer { socket.close() }
        // WatchdogSec=20ms: a ping at least every 10 ms of the run.
        let result = try dactyl(["run", sample, "--fast"], environment: ["NOTIFY_SOCKET": socket.name, "WATCHDOG_USEC": "20000"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "dragon\n")
        let messages = socket.messages().map(\.text)
        XCTAssertEqual(messages.first, "READY=1", "\(messages)")
        XCTAssertEqual(messages.last, "STOPPING=1", "\(messages)")
        XCTAssertGreaterThanOrEqual(messages.filter { $0 == "WATCHDOG=1" }.count, 1, "\(messages)")
        XCTAssertEqual(Set(messages), ["READY=1", "WATCHDOG=1", "STOPPING=1"])

        // An unusable NOTIFY_SOCKET is said once; the box runs anyway.
        let bad = try dactyl(["run", sample, "--fast"], environment: ["NOTIFY_SOCKET": "relative"])
        XCTAssertEqual(bad.status, 0, bad.stderr)
        XCTAssertEqual(bad.stdout, "dragon\n")
        XCTAssertEqual(bad.stderr, "dactyl: NOTIFY_SOCKET: Invalid argument; not notifying systemd\n")
    }
}

/// Whole lines from a descriptor as they come, waiting at most a given time for them.
struct LineReader {
    let fd: Int32
    var pending: [UInt8] = []

    init(_ fd: Int32) { self.fd = fd }

    mutating func lines(count: Int, timeout: TimeInterval) -> [String] {
        var result: [String] = []
        let end = Date().addingTimeInterval(timeout)
        while result.count < count {
            if let newline = pending.firstIndex(of: 0x0A) {
                result.append(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
                continue
            }
            let left = end.timeIntervalSinceNow
            guard left > 0 else { break }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(left * 1000)) > 0 else { break }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            pending += buffer[0..<n]
        }
        return result
    }
}
