import AllocationCounter
import CDactylPlatform
import DactylModel
import DactylTestSupport
import Foundation
import Glibc
import XCTest
@testable import DactylPipeline

/// A sink that keeps the words and each status with its message.
struct FaultSink: BoxSink {
    var commits: [(text: String, isFinal: Bool)] = []
    var statuses: [(status: BoxStatus, message: String)] = []

    mutating func partial(_ word: WordView, now: UInt64) {}
    mutating func commit(_ word: WordView, now: UInt64) {
        commits.append((String(decoding: word.text, as: UTF8.self), word.isFinal))
    }
    mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        statuses.append((status, String(decoding: message, as: UTF8.self)))
    }
    mutating func service(now: UInt64) -> SinkRequest? { nil }
    mutating func flush(deadline: UInt64) {}

    /// The words as a person reads them: pieces joined.
    var words: [String] {
        var result: [String] = [], current = ""
        for (text, isFinal) in commits {
            current += text
            if isFinal { result.append(current); current = "" }
        }
        return result
    }
}

/// Installs the simulated camera at `device`, showing a session of two words (the sample's
/// "dragon" with rests between) one frame every `frameInterval` ns; returns its frames and
/// where the words are.
func installSimulatedSession(device: String, frameInterval: UInt64, timeScale: UInt32 = 1) throws -> (frames: [Data], words: [Range<Int>]) {
    let (path, words) = try SessionClip().write([.holdFirst(20), .word, .holdLast(30), .empty(15), .word, .holdLast(30)])
    defer { try? FileManager.default.removeItem(atPath: path) }
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    let frameBytes = 128 * 128 * 3 / 2
    var frames: [Data] = []
    var offset = bytes.firstIndex(of: 0x0A)! + 1
    while offset < bytes.count {
        frames.append(bytes[(offset + 6)..<(offset + 6 + frameBytes)])  // after "FRAME\n"
        offset += 6 + frameBytes
    }
    let all = frames.reduce(Data(), +)
    let error = all.withUnsafeBytes {
        dactyl_camera_sim_install(device, 128, 128, $0.bindMemory(to: UInt8.self).baseAddress, frames.count,
                                  UInt32(frameInterval / 1000), 30, timeScale)
    }
    guard error == 0 else { throw POSIXError(POSIXErrorCode(rawValue: error) ?? .EIO) }
    return (frames, words)
}

/// Issue 12 part 5: the camera fails while a word is being signed (EIO from VIDIOC_DQBUF, no
/// frames, an unplug that lasts several reopen attempts, a DQBUF that hangs), driven through the
/// C shim's simulated camera (dactyl_camera_fault.h), so V4L2Camera, CameraFrameSource and
/// LiveBox run their real recovery code without a device.
final class CameraFaultTests: XCTestCase {
    static let device = "/dev/dactyl-simulated-camera"
    /// A real-time camera's stamps (30 frames/s), played ten times faster than real time
    /// (dactyl_camera_sim_install's time scale); the rest that ends a word is 15 frames (0.5 s).
    static let frameInterval: UInt64 = 33_333_000
    static let timeScale: UInt32 = 10
    static let segmenter: SegmenterSettings = {
        var settings = SegmenterSettings()
        settings.quietSeconds = Float(15 * frameInterval) / 1e9
        return settings
    }()
    var model: Model!
    /// The session's frames and where its two words are.
    var frames: [Data] = []
    var words: [Range<Int>] = []

    override func setUpWithError() throws {
        model = try Model.load(path: SessionClip.modelPath)
        (frames, words) = try installSimulatedSession(device: Self.device, frameInterval: Self.frameInterval,
                                                   timeScale: Self.timeScale)
    }

    override func tearDown() {
        dactyl_camera_sim_remove()
        dactyl_notify_close()
        unsetenv("NOTIFY_SOCKET")
        unsetenv("WATCHDOG_USEC")
    }

    var counters: dactyl_camera_sim_counters {
        var counters = dactyl_camera_sim_counters()
        dactyl_camera_sim_read_counters(&counters)
        return counters
    }

    func makeBox<Sinks: BoxSink>(_ sinks: Sinks, stallMilliseconds: Int = 5000) throws -> LiveBox<Sinks> {
        let camera = V4L2Camera(configuration: CameraConfiguration(device: Self.device, width: 128, height: 128,
                                                                   stallTimeoutMilliseconds: stallMilliseconds))
        let source = CameraFrameSource(camera: camera, waitMilliseconds: 20,
                                       backoff: CameraBackoff(initialMilliseconds: 40, maximumMilliseconds: 1000))
        try source.start()
        let recogniser = try ContinuousRecogniser(model: model, window: model.defaultWindow, method: .greedy,
                                                  crop: CropRect(x: 0, y: 0, width: 128, height: 128),
                                                  frameWidth: 128, frameHeight: 128, settings: Self.segmenter)
        let box = LiveBox(recogniser: recogniser, source: .camera(source), sinks: sinks)
        box.start()
        return box
    }

    /// Steps the box until the simulated camera has shown every frame of the session once,
    /// calling `inject` before each step with the number of frames shown so far.
    func play<Sinks: BoxSink>(_ box: LiveBox<Sinks>, inject: (Int) -> Void = { _ in }) {
        let deadline = Date().addingTimeInterval(30)
        while Int(counters.frames) < frames.count && Date() < deadline {
            inject(Int(counters.frames))
            _ = box.step()
        }
        box.finish()
        XCTAssertEqual(Int(counters.frames), frames.count, "the session did not play to its end")
    }

    var source: (LiveBox<FaultSink>) -> CameraFrameSource {
        { box in
            guard case .camera(let source) = box.source else { fatalError("not a camera") }
            return source
        }
    }

    /// The word being signed when the camera went is committed at the loss with the letters
    /// seen so far ("drag"); the rest of it, signed after the camera is back, is a word of its
    /// own ("on"): no letter is lost, the word is split. The second word is read whole.
    func assertNoLetterLost(_ sink: FaultSink, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThanOrEqual(sink.words.count, 2, "\(sink.words)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(sink.words.first?.count ?? 0, 3, "the letters before the loss: \(sink.words)", file: file, line: line)
        XCTAssertEqual(sink.words.dropLast().joined(), "dragon", "\(sink.words)", file: file, line: line)
        XCTAssertEqual(sink.words.last, "dragon", "\(sink.words)", file: file, line: line)
    }

    func testEIOMidWordCommitsTheLettersSeenAndTheCameraIsReopened() throws {
        let box = try makeBox(FaultSink())
        let lossAt = words[0].lowerBound + 45
        var lossTime: UInt64 = 0
        play(box) { shown in
            if shown == lossAt && lossTime == 0 {
                lossTime = dactyl_monotonic_ns()
                dactyl_camera_fault_dequeue(1, EIO)
            }
        }
        let sink = box.sinks
        // The letters read before the loss are committed at the loss, not thrown away.
        assertNoLetterLost(sink)
        let lost = try XCTUnwrap(sink.statuses.first { $0.status == .cameraLost })
        XCTAssertEqual(lost.message, "\(Self.device): camera lost: VIDIOC_DQBUF: Input/output error")
        // Reopened once, after the back-off, and the box read the next word whole.
        XCTAssertEqual(source(box).camera.reconnects, 1)
        XCTAssertEqual(counters.opens, 2)
        XCTAssertGreaterThanOrEqual(counters.open_attempt_ns.1 - lossTime, 40_000_000, "reopened before the back-off")
        XCTAssertEqual(sink.statuses.last?.status, .idle)
        XCTAssertFalse(source(box).isLost)
    }

    func testACameraThatStopsSendingIsLostAfterTheStallTimeAndReopened() throws {
        let box = try makeBox(FaultSink(), stallMilliseconds: 250)
        let stallAt = words[0].lowerBound + 45
        var stallTime: UInt64 = 0
        play(box) { shown in
            if shown == stallAt && stallTime == 0 {
                stallTime = dactyl_monotonic_ns()
                dactyl_camera_fault_stall(400)
            }
        }
        let sink = box.sinks
        assertNoLetterLost(sink)
        XCTAssertEqual(sink.statuses.filter { $0.status == .cameraLost }.map(\.message),
                       ["\(Self.device): camera lost: no frame for 250 ms"])
        XCTAssertEqual(source(box).camera.reconnects, 1)
    }

    func testAnUnpluggedCameraIsRetriedWithDoublingDelaysUntilItReturns() throws {
        let box = try makeBox(FaultSink())
        var armed = false
        play(box) { shown in
            if shown == words[0].lowerBound + 45 && !armed {
                armed = true
                dactyl_camera_fault_dequeue(1, ENODEV)
                dactyl_camera_fault_open(3, ENOENT)
            }
        }
        let sink = box.sinks
        assertNoLetterLost(sink)
        XCTAssertEqual(sink.statuses.filter { $0.status == .cameraLost }.count, 1, "one loss, reported once")
        XCTAssertEqual(counters.open_attempts, 5, "the first open, three failed reopens, the one that worked")
        XCTAssertEqual(counters.opens, 2)
        // The delays between attempts double: 80, 160, 320 ms (after the first 40).
        let attempts = withUnsafeBytes(of: counters.open_attempt_ns) { Array($0.bindMemory(to: UInt64.self).prefix(5)) }
        for (index, expected) in [80, 160, 320].enumerated() {
            let gap = Int((attempts[index + 2] - attempts[index + 1]) / 1_000_000)
            XCTAssertTrue(gap >= expected && gap < expected + 150, "attempt \(index + 2): \(gap) ms after the one before, expected \(expected)")
        }
        XCTAssertEqual(source(box).camera.reconnects, 1)
    }

    /// The watchdog's point: a loop hung in a driver call stops the pings (systemd then restarts
    /// the box), while a camera that is merely away does not (the loop reopens it by itself).
    func testAHungDequeueStopsThePingsAndAnUnpluggedCameraDoesNot() throws {
        let socket = try NotifySocket(abstract: false)
        defer { socket.close() }
        setenv("NOTIFY_SOCKET", socket.name, 1)
        setenv("WATCHDOG_USEC", "60000", 1)  // WatchdogSec=60ms: a ping every 30 ms
        let box = try makeBox(ServiceNotifier(sinks: FaultSink(), now: dactyl_monotonic_ns()))
        box.sinks.ready()
        var hangStart: UInt64 = 0
        var unplugged = false
        play(box) { shown in
            if box.sinks.pings >= 2 && hangStart == 0 {  // once the pings are under way
                hangStart = dactyl_monotonic_ns()
                dactyl_camera_fault_hang(400)
            }
            if shown == words[0].lowerBound + 45 && !unplugged {
                unplugged = true
                dactyl_camera_fault_dequeue(1, ENODEV)
                dactyl_camera_fault_open(3, ENOENT)  // away for 40 + 80 + 160 + 320 ms
            }
        }
        box.sinks.stopping()
        let messages = socket.messages()
        XCTAssertEqual(messages.first?.text, "READY=1")
        XCTAssertEqual(messages.last?.text, "STOPPING=1")
        let pings = messages.filter { $0.text == "WATCHDOG=1" }.map(\.time)
        let gaps = zip(pings.dropFirst(), pings).map { Int(($0 - $1) / 1_000_000) }
        // The hang: no ping for its 400 ms (50 ms allowed for the receiving thread's lag), far
        // beyond WatchdogSec, so systemd would act; pings before and after it.
        XCTAssertEqual(pings.filter { $0 > hangStart + 50_000_000 && $0 < hangStart + 400_000_000 }, [], "pings during the hang")
        XCTAssertTrue(pings.contains { $0 < hangStart } && pings.contains { $0 > hangStart + 400_000_000 })
        XCTAssertGreaterThanOrEqual(gaps.max() ?? 0, 350, "\(gaps)")
        // The camera away for 600 ms: the loop kept stepping, and pinging.
        let lost = try XCTUnwrap(messages.first { $0.text.hasPrefix("STATUS=") && $0.text.contains("camera lost") })
        XCTAssertEqual(lost.text, "STATUS=\(Self.device): camera lost: VIDIOC_DQBUF: No such device")
        let back = try XCTUnwrap(messages.first { $0.text == "STATUS=camera back" })
        XCTAssertGreaterThanOrEqual(back.time - lost.time, 550_000_000, "away for 40 + 80 + 160 + 320 ms")
        let pingsWhileAway = pings.filter { $0 > lost.time && $0 < back.time }.count
        XCTAssertGreaterThanOrEqual(pingsWhileAway, 10, "the loop pings while the camera is away")
        assertNoLetterLost(box.sinks.sinks)
    }
}

/// The camera's part of DESIGN.md's rule, now that a host test can stream from a camera: reading
/// frames through V4L2Camera and CameraFrameSource, the live loop and the watchdog's pings
/// allocate nothing. Runs on the release build (scripts/test.sh: the name ends in
/// FrameLoopAllocationTests), as the other allocation tests do.
final class CameraFrameLoopAllocationTests: XCTestCase {
    override func tearDown() {
        dactyl_camera_sim_remove()
        dactyl_notify_close()
        unsetenv("NOTIFY_SOCKET")
        unsetenv("WATCHDOG_USEC")
    }

    func testCameraLoopAndWatchdogPingsAllocateNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let device = "/dev/dactyl-simulated-camera"
        let (frames, _) = try installSimulatedSession(device: device, frameInterval: CameraFaultTests.frameInterval,
                                                      timeScale: CameraFaultTests.timeScale)
        let socket = try NotifySocket()
        defer { socket.close() }
        setenv("NOTIFY_SOCKET", socket.name, 1)
        setenv("WATCHDOG_USEC", "20000", 1)
        let model = try Model.load(path: SessionClip.modelPath)
        let source = CameraFrameSource(camera: V4L2Camera(configuration: CameraConfiguration(device: device, width: 128, height: 128)))
        try source.start()
        let recogniser = try ContinuousRecogniser(model: model, window: model.defaultWindow, method: .greedy,
                                                  crop: CropRect(x: 0, y: 0, width: 128, height: 128),
                                                  frameWidth: 128, frameHeight: 128,
                                                  settings: CameraFaultTests.segmenter)
        let box = LiveBox(recogniser: recogniser, source: .camera(source),
                          sinks: ServiceNotifier(sinks: CountingSink(), now: dactyl_monotonic_ns()))
        box.start()
        box.sinks.ready()
        // Warm up (the first frames fill the rings), then count over the rest of the session.
        while box.sourceFrames < 10 { _ = box.step() }
        allocation_counter_start()
        while box.sourceFrames < frames.count { _ = box.step() }
        let allocations = allocation_counter_stop()
        box.finish(flushSeconds: 0.1)
        XCTAssertEqual(allocations, 0, "\(allocations) heap allocations over \(frames.count - 10) camera frames")
        XCTAssertEqual(box.sinks.sinks.finalWords, 2)
        XCTAssertGreaterThan(box.sinks.pings, 5, "the watchdog was pinged from the loop")
        XCTAssertEqual(source.framesDropped, 0)
    }
}
