import DactylTestSupport
import Foundation
import XCTest
@testable import DactylPipeline

/// The crop tracker: still while the hand signs in place (under a detector's jitter), following
/// a real move, holding through a short loss and releasing after a long one; crops with the
/// recogniser's aspect ratio inside the frame.
final class CropTrackerTests: XCTestCase {
    static let interval = 3

    func tracker(aspect: Double = 1) -> CropTracker {
        CropTracker(frameWidth: 640, frameHeight: 480, aspect: aspect, framesPerSecond: 30,
                    initial: CropRect(x: 80, y: 0, width: 480, height: 480))
    }

    func box(_ x: Double, _ y: Double, _ size: Double, present: Bool = true) -> HandBox {
        HandBox(present: present, centreX: x, centreY: y, width: size, height: size, peak: present ? 5 : -5, row: 0, column: 0)
    }

    /// One localiser run and the frames until the next.
    @discardableResult
    func run(_ tracker: inout CropTracker, _ box: HandBox) -> Bool {
        let changed = tracker.observe(box)
        tracker.advance(frames: Self.interval)
        return changed
    }

    /// Normal-ish noise (sum of uniforms), sd about `sd`.
    func noise(_ random: inout SplitMix64, sd: Double) -> Double {
        var sum = 0.0
        for _ in 0..<12 { sum += Double(random.next() % 1_000_001) / 1_000_000 }
        return (sum - 6) * sd
    }

    func testAcquiresAfterTwoAgreeingDetectionsNotOnOneFalsePositive() {
        var tracker = tracker()
        XCTAssertFalse(run(&tracker, box(100, 100, 120)))
        XCTAssertFalse(tracker.handPresent)
        // A second detection elsewhere is not the same hand: start again from it.
        XCTAssertFalse(run(&tracker, box(500, 300, 120)))
        XCTAssertFalse(tracker.handPresent)
        XCTAssertEqual(tracker.crop, CropRect(x: 80, y: 0, width: 480, height: 480))
        XCTAssertTrue(run(&tracker, box(505, 305, 124)))
        XCTAssertTrue(tracker.handPresent)
        XCTAssertEqual(tracker.crop.width, 124)
        XCTAssertEqual(tracker.crop.height, 124)
        XCTAssertEqual(tracker.crop.x, 505 - 62)
    }

    /// A held letter: the detector's boxes jitter (sd 4 % of the size on centre and size, more
    /// than the trained localiser's); the crop does not move at all.
    func testStaysStillUnderDetectorJitter() {
        var tracker = tracker()
        var random = SplitMix64(seed: 11)
        run(&tracker, box(320, 240, 150))
        run(&tracker, box(320, 240, 150))
        let held = tracker.crop
        var changes = 0
        var xs: [Double] = []
        for _ in 0..<100 {
            let size = 150 * (1 + noise(&random, sd: 0.04))
            let detection = box(320 + noise(&random, sd: 6), 240 + noise(&random, sd: 6), size)
            xs.append(detection.centreX)
            if run(&tracker, detection) { changes += 1 }
        }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let sd = (xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)).squareRoot()
        XCTAssertGreaterThan(sd / 150, 0.03, "the input does jitter")
        XCTAssertEqual(changes, 0)
        XCTAssertEqual(tracker.crop, held)
        XCTAssertTrue(tracker.handPresent)
    }

    /// The hand moves to another place: the crop follows within a few runs and then stops.
    func testFollowsARealMoveAndSettles() {
        var tracker = tracker()
        run(&tracker, box(200, 200, 150))
        run(&tracker, box(200, 200, 150))
        var runs = 0
        var moved = false
        while runs < 30 {
            moved = run(&tracker, box(450, 300, 180)) || moved
            runs += 1
            if !tracker.moving && moved { break }
        }
        XCTAssertTrue(moved)
        XCTAssertFalse(tracker.moving, "settled")
        XCTAssertLessThanOrEqual(runs, 10, "follows within a third of a second of runs")
        let crop = tracker.crop
        XCTAssertEqual(Double(crop.x) + Double(crop.width) / 2, 450, accuracy: 0.06 * 180)
        XCTAssertEqual(Double(crop.y) + Double(crop.height) / 2, 300, accuracy: 0.06 * 180)
        XCTAssertEqual(Double(crop.width), 180, accuracy: 0.06 * 180)
        // Settled: the same place again changes nothing.
        XCTAssertFalse(run(&tracker, box(450, 300, 180)))
        // A small move (inside the dead zone) does not move it either.
        for _ in 0..<10 { XCTAssertFalse(run(&tracker, box(470, 310, 185))) }
    }

    func testHoldsThroughALossThenReleases() {
        var tracker = tracker()
        run(&tracker, box(300, 200, 150))
        run(&tracker, box(300, 200, 150))
        let held = tracker.crop
        // 0.9 s without a hand: held.
        for _ in 0..<9 { run(&tracker, box(0, 0, 0, present: false)) }
        XCTAssertTrue(tracker.handPresent)
        XCTAssertEqual(tracker.crop, held)
        // The hand back in place within the hold: nothing changes.
        run(&tracker, box(300, 200, 150))
        XCTAssertTrue(tracker.handPresent)
        for _ in 0..<11 { run(&tracker, box(0, 0, 0, present: false)) }
        XCTAssertFalse(tracker.handPresent, "released after the hold")
        XCTAssertEqual(tracker.crop, held, "the crop stays where it was")
        // A hand elsewhere after the release is acquired at once (no easing across the frame).
        run(&tracker, box(500, 350, 120))
        XCTAssertTrue(run(&tracker, box(500, 350, 120)))
        XCTAssertEqual(tracker.crop, CropRect(x: 440, y: 290, width: 120, height: 120))
    }

    func testCropHasTheInputsAspectAndStaysInsideTheFrame() {
        var tracker = tracker(aspect: 4.0 / 3)
        run(&tracker, box(10, 10, 60))
        run(&tracker, box(10, 10, 60))
        // 60 high at 4:3 is 80 wide; moved inside the frame.
        XCTAssertEqual(tracker.crop, CropRect(x: 0, y: 0, width: 80, height: 60))
        var large = self.tracker()
        run(&large, HandBox(present: true, centreX: 600, centreY: 240, width: 200, height: 900, peak: 5, row: 0, column: 0))
        run(&large, HandBox(present: true, centreX: 600, centreY: 240, width: 200, height: 900, peak: 5, row: 0, column: 0))
        XCTAssertEqual(large.crop, CropRect(x: 160, y: 0, width: 480, height: 480))
    }
}
