import DactylArena
import DactylKernels
import DactylModel
import DactylTestSupport
import Foundation
import XCTest
@testable import DactylPipeline

/// The localiser on the recogniser's runner and arena: it finds what its weights look for, reads
/// the box by the spec's rule, and every kernel path agrees with the scalar reference bit for bit.
final class HandLocaliserTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dactyl-localiser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    static func tinyModel() throws -> Data {
        try Data(contentsOf: GoldenVectorTests.folder.appendingPathComponent("tiny.dmdl"))
    }

    func save(_ data: Data, _ name: String) throws -> Model {
        let url = scratch.appendingPathComponent(name)
        try data.write(to: url)
        return try Model.load(path: url.path)
    }

    func recogniser(_ model: Model, clip: Y4MClip, path: KernelPath = .scalar, threads: Int = 1,
                    strategy: PlanningStrategy = .greedyBySize) throws -> Recogniser {
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.localiser = true
        configuration.strategy = strategy
        return try Recogniser(model: model, configuration: configuration, crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
                              frameWidth: clip.width, frameHeight: clip.height, kernelPath: path, threads: threads)
    }

    func testBrightPatchIsFoundAndItsBoxRead() throws {
        let model = try save(LocaliserBuilder().adding(to: Self.tinyModel()), "patch.dmdl")
        let path = scratch.appendingPathComponent("patch.y4m").path
        // Cells of the 24x32 input's 4x4 stride are 16x16 pixels of the 128x96 frame.
        try PatchClip().write(positions: [(x: 80, y: 48), nil, (x: 0, y: 0)], to: path)
        let clip = try Y4MClip(path: path)
        let recogniser = try recogniser(model, clip: clip)
        let localiser = try XCTUnwrap(recogniser.cropFollower?.localiser)
        var cursor = clip.makeFrameCursor()
        let first = localiser.locate(try XCTUnwrap(cursor.next()))
        XCTAssertTrue(first.present, "\(first)")
        // The 24-pixel square at (80, 48) covers cell (3, 5) whole.
        XCTAssertEqual(first.row, 3)
        XCTAssertEqual(first.column, 5)
        XCTAssertEqual(first.centreX, 5.5 / 8 * 128, accuracy: 1e-4)
        XCTAssertEqual(first.centreY, 3.5 / 6 * 96, accuracy: 1e-4)
        XCTAssertEqual(first.width, 0.30 * 128, accuracy: 1e-4)
        XCTAssertEqual(first.height, 0.40 * 96, accuracy: 1e-4)
        XCTAssertGreaterThan(first.peak, 8)
        let empty = localiser.locate(try XCTUnwrap(cursor.next()))
        XCTAssertFalse(empty.present, "\(empty)")
        XCTAssertLessThan(empty.peak, 0)
        let corner = localiser.locate(try XCTUnwrap(cursor.next()))
        XCTAssertTrue(corner.present)
        XCTAssertEqual(corner.row, 0)
        XCTAssertEqual(corner.column, 0)
    }

    /// Ties go to the first cell in row-major order; presence compares the dequantised peak.
    func testBoxRuleTiesAndPresence() throws {
        let model = try save(LocaliserBuilder().adding(to: Self.tinyModel()), "patch.dmdl")
        let localiser = try XCTUnwrap(model.localiser)
        var heat = [Int8](repeating: -20, count: 48), box = [Int8](repeating: 0, count: 48 * 4)
        heat[13] = 30
        heat[40] = 30
        box[13 * 4 ..< 13 * 4 + 4] = [25, 75, 50, 20]
        let read = HandLocaliser.readBox(localiser: localiser, heat: heat, box: box, frameWidth: 640, frameHeight: 480)
        XCTAssertEqual(read.row, 1)
        XCTAssertEqual(read.column, 5)
        XCTAssertTrue(read.present, "30 x 0.1 = 3.0 reaches the presence logit 3.0")
        XCTAssertEqual(read.centreX, 5.25 / 8 * 640, accuracy: 1e-4)
        XCTAssertEqual(read.centreY, 1.75 / 6 * 480, accuracy: 1e-4)
        XCTAssertEqual(read.width, 0.5 * 640, accuracy: 1e-4)
        XCTAssertEqual(read.height, 0.2 * 480, accuracy: 1e-4)
        heat[13] = 29
        heat[40] = 29
        XCTAssertFalse(HandLocaliser.readBox(localiser: localiser, heat: heat, box: box, frameWidth: 640, frameHeight: 480).present)
    }

    /// Every kernel path this CPU runs, on one thread and on three, and the linear plan (no
    /// memory shared), give the scalar reference's heat and box maps exactly.
    func testEveryKernelPathMatchesScalarOnTheLocaliser() throws {
        let clip = try Y4MClip(path: GoldenVectorTests.folder.appendingPathComponent("clip420.y4m").path)
        for seed: UInt64 in [1, 2] {
            let model = try save(LocaliserBuilder.randomGraph(adding: Self.tinyModel(), seed: seed), "random\(seed).dmdl")
            let reference = try recogniser(model, clip: clip)
            var variants: [(String, Recogniser)] = [("linear plan", try recogniser(model, clip: clip, strategy: .linear))]
            for path in KernelPath.available(on: .detect()) where path != .scalar {
                for threads in [1, 3] { variants.append(("\(path.name) \(threads) threads", try recogniser(model, clip: clip, path: path, threads: threads))) }
            }
            let localiser = try XCTUnwrap(model.localiser)
            let heatCount = localiser.heatShape.elementCount
            var cursor = clip.makeFrameCursor()
            var spread = Set<Int8>()
            while let frame = cursor.next() {
                let expected = try XCTUnwrap(reference.cropFollower?.localiser)
                _ = expected.locate(frame)
                let heat = Array(UnsafeBufferPointer(start: expected.heatMap, count: heatCount))
                let box = Array(UnsafeBufferPointer(start: expected.boxMap, count: heatCount * 4))
                spread.formUnion(heat)
                spread.formUnion(box)
                for (label, variant) in variants {
                    let localiser = try XCTUnwrap(variant.cropFollower?.localiser)
                    XCTAssertEqual(localiser.locate(frame), expected.readBox(frameWidth: clip.width, frameHeight: clip.height), label)
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: localiser.heatMap, count: heatCount)), heat, "seed \(seed) \(label)")
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: localiser.boxMap, count: heatCount * 4)), box, "seed \(seed) \(label)")
                }
            }
            // The comparison means something: the maps are not saturated or constant.
            XCTAssertGreaterThan(spread.count, 30, "seed \(seed)")
        }
    }

    /// The recogniser's results are unchanged by the localiser sharing its arena.
    func testRecogniserFeaturesUnchangedByTheLocaliser() throws {
        let original = try Self.tinyModel()
        let model = try save(LocaliserBuilder.randomGraph(adding: original, seed: 3), "random.dmdl")
        let clip = try Y4MClip(path: GoldenVectorTests.folder.appendingPathComponent("clip420.y4m").path)
        let crop = CropRect(x: 8, y: 0, width: 48, height: 48)
        var plain = PipelineConfiguration.modelDefaults(model)
        plain.window = clip.frameCount
        var withLocaliser = plain
        withLocaliser.localiser = true
        withLocaliser.localiserInterval = 1
        let a = try Recogniser(model: model, configuration: plain, crop: crop, frameWidth: clip.width, frameHeight: clip.height, kernelPath: .scalar)
        let b = try Recogniser(model: model, configuration: withLocaliser, crop: crop, frameWidth: clip.width, frameHeight: clip.height, kernelPath: .scalar)
        XCTAssertNil(a.cropFollower)
        XCTAssertNotNil(b.cropFollower)
        XCTAssertNotNil(b.layout.localiser)
        var cursor = clip.makeFrameCursor()
        while let frame = cursor.next() {
            try a.add(frame: frame)
            _ = b.cropFollower!.localiser.locate(frame)
            try b.add(frame: frame)
        }
        for index in 0..<a.frames {
            XCTAssertEqual(Array(UnsafeBufferPointer(start: a.feature(index), count: model.featureSize)),
                           Array(UnsafeBufferPointer(start: b.feature(index), count: model.featureSize)))
        }
    }

    /// The live box with --crop auto: the zone each frame carries to the sinks (the preview page
    /// draws it) follows the square; a reframe is not motion to the segmenter.
    func testLiveBoxZoneFollowsTheHand() throws {
        let model = try save(LocaliserBuilder().adding(to: Self.tinyModel()), "patch.dmdl")
        let path = scratch.appendingPathComponent("moving.y4m").path
        let positions: [(x: Int, y: Int)?] = Array(repeating: (x: 8, y: 8), count: 30) + Array(repeating: (x: 96, y: 64), count: 30)
        try PatchClip().write(positions: positions, to: path)
        let clip = try Y4MClip(path: path)
        let recogniser = try ContinuousRecogniser(
            model: model, window: 32, method: .greedy, crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
            frameWidth: clip.width, frameHeight: clip.height, kernelPath: .scalar, followHand: true)
        let box = LiveBox(recogniser: recogniser, source: .clip(ClipPlayer(clip: clip, realtime: false, loop: false)),
                          sinks: ZoneSink())
        var crops: [CropRect] = [], motion: [Float] = []
        while box.step() != .ended {
            crops.append(recogniser.recogniser.preprocessor.crop)
            motion.append(recogniser.lastMotion)
        }
        // Frames the tracker reframed (but the one where the square jumps, which is real motion):
        // neither they nor the next frame (compared through the new crop) see more than the noise.
        var reframes = 0
        for frame in 1..<crops.count - 1 where crops[frame] != crops[frame - 1] && frame != 30 {
            reframes += 1
            XCTAssertLessThan(motion[frame], 3, "frame \(frame): \(motion[frame - 1 ... frame + 1])")
            XCTAssertLessThan(motion[frame + 1], 3, "frame \(frame + 1): \(motion[frame - 1 ... frame + 1])")
        }
        XCTAssertGreaterThan(reframes, 2)
        let zones = box.sinks.zones
        XCTAssertEqual(zones.count, 60)
        func holds(_ zone: CropRect, _ x: Int, _ y: Int) -> Bool {
            x >= zone.x && x < zone.x + zone.width && y >= zone.y && y < zone.y + zone.height
        }
        XCTAssertTrue(holds(zones[20], 20, 20), "\(zones[20])")
        XCTAssertTrue(holds(zones[59], 108, 76), "\(zones[59])")
        func distinct(_ list: ArraySlice<CropRect>) -> Int { Set(list.map { "\($0)" }).count }
        XCTAssertEqual(distinct(zones[6..<30]), 1, "still while the square is held")
        XCTAssertGreaterThan(distinct(zones[30...]), 2, "glides to the new place")
        XCTAssertTrue(recogniser.handPresent)
    }
}

extension HandLocaliserTests {
    /// The localiser's tensors share arena memory with the encoder's (its input tensor included):
    /// running it must change nothing the recogniser sees. A localiser that never finds a hand (so
    /// the crop stays) leaves every frame's motion and every feature in the ring as without it,
    /// on the shipped model's plan, every kernel path, one thread and three.
    func testTheLocaliserLeavesTheRecognisersFramesAlone() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: SessionClip.modelPath))
        let model = try save(LocaliserBuilder.randomGraph(adding: original, seed: 9, inputHeight: 96, inputWidth: 128,
                                                          presenceLogit: 1000), "blind.dmdl")
        let (path, _) = try SessionClip().write([.holdFirst(10), .word, .holdLast(10)])
        let clip = try Y4MClip(path: path)
        for kernelPath in KernelPath.available(on: .detect()) {
            for threads in [1, 3] {
                var runs: [(motion: [Float], ring: [Int8])] = []
                for follow in [false, true] {
                    let recogniser = try ContinuousRecogniser(
                        model: model, window: 48, method: .greedy, crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
                        frameWidth: clip.width, frameHeight: clip.height, kernelPath: kernelPath, threads: threads,
                        followHand: follow, localiserInterval: 2)
                    let box = LiveBox(recogniser: recogniser, source: .clip(ClipPlayer(clip: clip, realtime: false, loop: false)),
                                      sinks: ZoneSink())
                    var motion: [Float] = []
                    while box.step() != .ended { motion.append(recogniser.lastMotion) }
                    var ring: [Int8] = []
                    for slot in 0..<48 {
                        ring += UnsafeBufferPointer(start: recogniser.recogniser.feature(slot), count: model.featureSize)
                    }
                    if follow {
                        XCTAssertEqual(recogniser.recogniser.cropFollower?.runs, (clip.frameCount + 1) / 2)
                        XCTAssertFalse(recogniser.handPresent)
                    }
                    runs.append((motion, ring))
                }
                let label = "\(kernelPath.name), \(threads) threads"
                XCTAssertEqual(runs[0].motion, runs[1].motion, label)
                XCTAssertEqual(runs[0].ring, runs[1].ring, label)
            }
        }
    }
}

/// Records the zone of every frame the live box hands the sinks.
struct ZoneSink: BoxSink {
    var zones: [CropRect] = []
    mutating func partial(_ word: WordView, now: UInt64) {}
    mutating func commit(_ word: WordView, now: UInt64) {}
    mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {}
    mutating func service(now: UInt64) -> SinkRequest? { nil }
    mutating func flush(deadline: UInt64) {}
    mutating func frame(_ frame: LiveFrame, now: UInt64) { zones.append(frame.zone) }
}
