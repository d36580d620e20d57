import DactylTestSupport
import AllocationCounter
import DactylKernels
import DactylModel
import Foundation
import Glibc
import XCTest
@testable import DactylPipeline

/// DESIGN.md: after start-up the frame loop does no heap allocation at all.
///
/// It is a property of the optimised build the board runs: unoptimised code boxes large enum
/// payloads while iterating generic collections (measured: about 10 allocations per frame), so
/// scripts/test.sh runs this test on a release build (`swift test -c release -Xswiftc -enable-testing`).
final class FrameLoopAllocationTests: XCTestCase {
    func testFrameLoopHeadAndDecodingAllocateNothing() throws {
        #if DEBUG
        let optimised = false
        #else
        let optimised = true
        #endif
        try XCTSkipUnless(optimised, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        let folder = GoldenVectorTests.folder
        let model = try Model.load(path: folder.appendingPathComponent("tiny.dmdl").path)
        let clip = try Y4MClip(path: folder.appendingPathComponent("clip420.y4m").path)
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.window = clip.frameCount
        configuration.beamWidth = 4
        // The counter itself works: an Array allocates, on this thread and on another.
        allocation_counter_start()
        let probe = [Int](repeating: 1, count: Int.random(in: 100...200))
        XCTAssertGreaterThan(allocation_counter_stop(), 0)
        withExtendedLifetime(probe) {}
        let go = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let other = Thread {
            go.wait()
            withExtendedLifetime([Int](repeating: 2, count: Int.random(in: 100...200))) {}
            done.signal()
        }
        other.start()
        allocation_counter_start_all_threads()
        go.signal()
        done.wait()
        XCTAssertGreaterThan(allocation_counter_stop_all_threads(), 0, "an allocation on another thread is counted")

        // Every kernel path this CPU runs, on one thread and on a pool of three.
        for path in KernelPath.available(on: .detect()) {
            for threads in [1, 3] {
                let recogniser = try Recogniser(
                    model: model, configuration: configuration, crop: CropRect(x: 8, y: 0, width: 48, height: 48),
                    frameWidth: clip.width, frameHeight: clip.height, kernelPath: path, threads: threads)
                try checkNoAllocation(recogniser, clip: clip, method: configuration.decodingMethod, "\(path.name), \(threads) threads")
            }
        }
    }

    func checkNoAllocation(_ recogniser: Recogniser, clip: Y4MClip, method: CTCDecoder.Method, _ label: String) throws {
        let decoder = recogniser.makeDecoder(method)
        for pass in 0..<2 {
            recogniser.reset()
            var cursor = clip.makeFrameCursor()
            allocation_counter_start_all_threads()
            while let frame = cursor.next() {
                try recogniser.add(frame: frame)
            }
            let result = decoder.decode(logProbs: recogniser.runHead(), frames: recogniser.frames)
            let allocations = allocation_counter_stop_all_threads()
            XCTAssertEqual(allocations, 0, "\(label), pass \(pass): \(allocations) heap allocations in the frame loop")
            XCTAssertEqual(recogniser.frames, clip.frameCount)
            XCTAssertGreaterThan(result.labels.count, 0)
        }
    }

    /// The live box's loop (`dactyl run` over a clip): source, segmenter, partials, commits,
    /// prefix beam decoding of each word, statistics, and the sinks: one that counts, then the
    /// real stdout (JSON lines, to /dev/null) and serial (a pseudo-terminal) sinks.
    func testLiveBoxLoopAllocatesNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let model = try Model.load(path: SessionClip.modelPath)
        let (path, _) = try SessionClip().write([.holdFirst(20), .word, .holdLast(30), .empty(10), .word, .holdLast(30)])
        let clip = try Y4MClip(path: path)

        func run<Sinks: BoxSink>(_ sinks: Sinks) throws -> (allocations: UInt64, box: LiveBox<Sinks>) {
            let recogniser = try ContinuousRecogniser(
                model: model, window: 48, method: .beam(width: 4), crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
                frameWidth: clip.width, frameHeight: clip.height)
            let box = LiveBox(recogniser: recogniser, source: .clip(ClipPlayer(clip: clip, realtime: false, loop: false)), sinks: sinks)
            allocation_counter_start()
            box.start()
            while box.step() != .ended {}
            box.finish(flushSeconds: 0.5)
            return (allocation_counter_stop(), box)
        }

        let counted = try run(CountingSink())
        XCTAssertEqual(counted.allocations, 0, "\(counted.allocations) heap allocations in the live loop")
        XCTAssertEqual(counted.box.sourceFrames, clip.frameCount)
        // Both words arrived (in pieces: the window is shorter than the word), with partials and status changes.
        XCTAssertEqual(counted.box.sinks.finalWords, 2)
        XCTAssertEqual(counted.box.sinks.letters, 12)
        XCTAssertGreaterThan(counted.box.sinks.partials, 2)
        XCTAssertGreaterThan(counted.box.sinks.statuses, 4)

        var master: Int32 = -1, slave: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        XCTAssertEqual(openpty(&master, &slave, &name, nil, nil), 0)
        defer { close(master); close(slave) }
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        let sinks = SinkSet(
            stdout: StdoutSink(configuration: StdoutSink.Configuration(format: .jsonLines, fd: devNull), alphabet: model.alphabet, runStart: 0),
            serial: try SerialSink(configuration: SerialSink.Configuration(path: String(cString: name)), runStart: 0, now: 0))
        let real = try run(sinks)
        XCTAssertEqual(real.allocations, 0, "\(real.allocations) heap allocations in the live loop with the stdout and serial sinks")
        XCTAssertEqual(real.box.sinks.serial?.wordsDelivered, counted.box.sinks.commits, "every piece of both words reached the port")
    }

    /// Issue 14: the live loop with `--crop auto` (the localiser on every kernel path, one
    /// thread and three, run every frame and every third; the tracker moving the crop) allocates nothing.
    func testLiveBoxLoopWithTheLocaliserAllocatesNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let original = try Data(contentsOf: URL(fileURLWithPath: SessionClip.modelPath))
        let (path, _) = try SessionClip().write([.holdFirst(20), .word, .holdLast(30), .empty(10), .word, .holdLast(30)])
        let clip = try Y4MClip(path: path)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dactyl-alloc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var models: [(String, Model)] = []
        for (name, data) in [("bright", LocaliserBuilder().adding(to: original)),
                             ("random", LocaliserBuilder.randomGraph(adding: original, seed: 5))] {
            let url = folder.appendingPathComponent("\(name).dmdl")
            try data.write(to: url)
            models.append((name, try Model.load(path: url.path)))
        }
        var cropMoves = 0
        for (name, model) in models {
            for path in KernelPath.available(on: .detect()) {
                for (threads, interval) in [(1, 1), (3, 3)] {
                    let recogniser = try ContinuousRecogniser(
                        model: model, window: 48, method: .beam(width: 4), crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
                        frameWidth: clip.width, frameHeight: clip.height, kernelPath: path, threads: threads,
                        followHand: true, localiserInterval: interval)
                    let box = LiveBox(recogniser: recogniser, source: .clip(ClipPlayer(clip: clip, realtime: false, loop: false)),
                                      sinks: CountingSink())
                    let initial = recogniser.recogniser.preprocessor.crop
                    allocation_counter_start_all_threads()
                    box.start()
                    while box.step() != .ended {}
                    box.finish(flushSeconds: 0.5)
                    let allocations = allocation_counter_stop_all_threads()
                    let label = "\(name) localiser, \(path.name), \(threads) threads, interval \(interval)"
                    XCTAssertEqual(allocations, 0, "\(label): \(allocations) heap allocations in the live loop")
                    let follower = try XCTUnwrap(recogniser.recogniser.cropFollower)
                    XCTAssertEqual(follower.runs, (clip.frameCount + interval - 1) / interval, label)
                    if recogniser.recogniser.preprocessor.crop != initial { cropMoves += 1 }
                }
            }
        }
        XCTAssertGreaterThan(cropMoves, 0, "the tracker moved the crop in some runs")
    }

    /// Issue 10, frame rate: the live loop over sources at other rates than the model's, resampled
    /// to it (15 frames/s: each frame fills two model frames, the first interpolated, a segment
    /// filling the window mid-frame; 60: every other frame skipped), allocates nothing either.
    func testResampledLiveBoxLoopAllocatesNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let model = try Model.load(path: SessionClip.modelPath)
        let parts: [SessionClip.Part] = [.holdFirst(20), .word, .holdLast(30), .empty(10), .word, .holdLast(30)]
        for (keepEvery, repeats, rate) in [(2, 1, 15), (1, 2, 60)] {
            let (path, _) = try SessionClip().write(parts, repeats: repeats, keepEvery: keepEvery, framesPerSecond: rate)
            let clip = try Y4MClip(path: path)
            let recogniser = try ContinuousRecogniser(
                model: model, window: 48, method: .beam(width: 4), crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
                frameWidth: clip.width, frameHeight: clip.height)
            let box = LiveBox(recogniser: recogniser, source: .clip(ClipPlayer(clip: clip, realtime: false, loop: false)),
                              sinks: CountingSink())
            allocation_counter_start()
            box.start()
            while box.step() != .ended {}
            box.finish(flushSeconds: 0.5)
            let allocations = allocation_counter_stop()
            XCTAssertEqual(allocations, 0, "\(rate) frames/s: \(allocations) heap allocations in the live loop")
            XCTAssertEqual(box.sinks.finalWords, 2, "\(rate) frames/s")
            XCTAssertEqual(recogniser.encoded, rate == 15 ? 2 * recogniser.framesEncoded - 1 : recogniser.framesEncoded, "\(rate) frames/s")
        }
    }

    /// Issue 13: the preview page on, with a viewer taking the picture stream and the event
    /// stream the whole time. The loop's part (events formatted and handed over, frames copied
    /// when the server asks) and the server thread's (JPEG encoding, HTTP, SSE) allocate nothing:
    /// allocations are counted on every thread, after the first picture has gone out.
    func testLiveBoxLoopWithPreviewViewerAllocatesNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let model = try Model.load(path: SessionClip.modelPath)
        let clip = try Y4MClip(path: SessionClip.repository.appendingPathComponent("samples/session.y4m").path)
        let page = UnsafeRawBufferPointer(start: PreviewPage.html.utf8Start, count: PreviewPage.html.utf8CodeUnitCount)
        var configuration = PreviewConfiguration()
        configuration.maximumFramesPerSecond = 1000  // as many pictures as the loop gives
        let preview = try Preview(configuration: configuration, page: page, frameWidth: clip.width, frameHeight: clip.height,
                                  framesPerSecond: 30, runStart: 0)
        try preview.start()
        let viewer = try PreviewViewer(port: preview.port)
        defer { viewer.stop() }
        let crop = CropRect.fromThousandths(
            x: model.defaultCrop.x, y: model.defaultCrop.y, width: model.defaultCrop.width, height: model.defaultCrop.height,
            frameWidth: clip.width, frameHeight: clip.height)
        let recogniser = try ContinuousRecogniser(
            model: model, window: model.defaultWindow, method: .greedy, crop: crop,
            frameWidth: clip.width, frameHeight: clip.height)
        let box = LiveBox(recogniser: recogniser, source: .clip(ClipPlayer(clip: clip, realtime: false, loop: true)),
                          sinks: SinkSet(preview: preview.sink))
        box.start()
        // Warm-up: the connections are made and the first pictures have gone out.
        let warmUpEnd = monotonicNanoseconds() + 10_000_000_000
        while viewer.pictureBytes() < 20_000 && monotonicNanoseconds() < warmUpEnd { _ = box.step() }
        XCTAssertGreaterThan(viewer.pictureBytes(), 0, "the viewer got pictures")
        let handedBefore = box.sinks.preview?.framesHanded ?? 0, bytesBefore = viewer.pictureBytes() + viewer.eventBytes()
        let startFrame = box.sourceFrames, wordsBefore = recogniser.wordsCommitted
        allocation_counter_start_all_threads()
        while box.sourceFrames < startFrame + 2 * clip.frameCount { _ = box.step() }
        let allocations = allocation_counter_stop_all_threads()
        let words = recogniser.wordsCommitted - wordsBefore
        box.finish(flushSeconds: 0.5)
        preview.stop()
        XCTAssertEqual(allocations, 0, "\(allocations) heap allocations over \(2 * clip.frameCount) frames with a preview viewer")
        XCTAssertGreaterThan((box.sinks.preview?.framesHanded ?? 0) - handedBefore, 20, "pictures were taken and sent meanwhile")
        XCTAssertGreaterThan(viewer.pictureBytes() + viewer.eventBytes(), bytesBefore, "the viewer kept receiving")
        XCTAssertEqual(box.sinks.preview?.eventsDropped, 0)
        XCTAssertEqual(words, 6, "two loops of the session's frames committed its three words twice")
    }

    /// Issue 12, soak: the live loop over the bundled session played again and again (10 loops,
    /// 3,080 frames, 30 words) allocates nothing however long it runs, and each loop commits its
    /// three words. scripts/soak.py runs the same for 100,000 frames and more from outside.
    func testLongLoopedLiveBoxRunAllocatesNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let model = try Model.load(path: SessionClip.modelPath)
        let clip = try Y4MClip(path: SessionClip.repository.appendingPathComponent("samples/session.y4m").path)
        let crop = CropRect.fromThousandths(
            x: model.defaultCrop.x, y: model.defaultCrop.y, width: model.defaultCrop.width, height: model.defaultCrop.height,
            frameWidth: clip.width, frameHeight: clip.height)
        let recogniser = try ContinuousRecogniser(
            model: model, window: model.defaultWindow, method: .greedy, crop: crop,
            frameWidth: clip.width, frameHeight: clip.height)
        let box = LiveBox(recogniser: recogniser, source: .clip(ClipPlayer(clip: clip, realtime: false, loop: true)), sinks: CountingSink())
        let loops = 10
        allocation_counter_start()
        box.start()
        var ended = false
        while box.sourceFrames < loops * clip.frameCount && !ended {
            ended = box.step() == .ended
        }
        let allocations = allocation_counter_stop()
        box.finish(flushSeconds: 0.5)
        XCTAssertFalse(ended, "a looped clip does not end")
        XCTAssertEqual(allocations, 0, "\(allocations) heap allocations over \(box.sourceFrames) frames of the live loop")
        XCTAssertEqual(box.sourceFrames, loops * clip.frameCount)
        XCTAssertEqual(box.sinks.finalWords, 3 * loops, "every loop of the session commits its three words")
        XCTAssertEqual(recogniser.wordsCommitted, box.sinks.finalWords, "every committed word reached the sink")
    }

    func testBeamSearchWithLexiconAndLanguageModelAllocatesNothing() throws {
        #if DEBUG
        try XCTSkipUnless(false, "runs on the release build: scripts/test.sh runs it with swift test -c release")
        #endif
        let folder = GoldenVectorTests.folder
        let model = try Model.load(path: folder.appendingPathComponent("tiny.dmdl").path)
        let clip = try Y4MClip(path: folder.appendingPathComponent("clip420.y4m").path)
        let files = try VocabularyFiles(lexiconPath: folder.appendingPathComponent("vocabulary/lexicon.txt").path,
                                        languageModelPath: folder.appendingPathComponent("vocabulary/lm.dclm").path,
                                        alphabet: model.alphabet)
        let recogniser = try Recogniser(model: model, clip: clip, crop: CropRect(x: 8, y: 0, width: 48, height: 48),
                                        method: .beam(width: 4), vocabularyBytes: files.arenaBytes)
        let vocabulary = files.install(into: recogniser.vocabularyMemory!, lmWeight: 0.5, insertionBonus: 1)
        let decoder = recogniser.makeDecoder(.beam(width: 4), vocabulary: vocabulary)
        try recogniser.add(clip: clip)
        let logProbs = recogniser.runHead()
        for pass in 0..<2 {
            allocation_counter_start()
            let result = decoder.decode(logProbs: logProbs, frames: recogniser.frames)
            let allocations = allocation_counter_stop()
            XCTAssertEqual(allocations, 0, "pass \(pass): \(allocations) heap allocations while decoding")
            XCTAssertGreaterThan(result.labels.count, 0)
        }
    }
}

/// A sink that only counts, so that it allocates nothing itself.
struct CountingSink: BoxSink {
    var partials = 0, commits = 0, finalWords = 0, letters = 0, statuses = 0
    mutating func partial(_ word: WordView, now: UInt64) { partials += 1 }
    mutating func commit(_ word: WordView, now: UInt64) {
        letters += word.text.count
        commits += 1
        if word.isFinal { finalWords += 1 }
    }
    mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) { statuses += 1 }
    mutating func service(now: UInt64) -> SinkRequest? { nil }
    mutating func flush(deadline: UInt64) {}
}

/// A viewer of the preview page on two threads of its own: one reads the picture stream, one the
/// event stream, each into a fixed buffer (no allocation while reading), counting bytes.
final class PreviewViewer {
    let pictures: Int32, events: Int32
    let counts = UnsafeMutablePointer<Int>.allocate(capacity: 2)
    let done = DispatchGroup()

    init(port: Int) throws {
        pictures = try PreviewViewer.connect(port: port, path: "/stream.mjpg")
        events = try PreviewViewer.connect(port: port, path: "/events")
        counts.initialize(repeating: 0, count: 2)
        for (index, fd) in [pictures, events].enumerated() {
            let address = Int(bitPattern: counts)  // a plain number crosses into the @Sendable closure
            done.enter()
            Thread { [done] in
                let counts = UnsafeMutablePointer<Int>(bitPattern: address)!
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 64)
                while true {
                    let n = recv(fd, buffer, 65536, 0)
                    if n <= 0 { break }
                    counts[index] += n
                }
                buffer.deallocate()
                done.leave()
            }.start()
        }
    }

    func pictureBytes() -> Int { counts[0] }
    func eventBytes() -> Int { counts[1] }

    static func connect(port: Int, path: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: test\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// Closes both streams and waits for the reading threads.
    func stop() {
        shutdown(pictures, Int32(SHUT_RDWR))
        shutdown(events, Int32(SHUT_RDWR))
        done.wait()
        close(pictures)
        close(events)
    }
}
