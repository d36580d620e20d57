import DactylTestSupport
import Foundation
import XCTest

/// `--crop auto` as a user runs it: the crop follows a moving hand (the test localiser's bright
/// square), is the default for a model with a localiser, and is refused for a model without.
extension CommandLineTests {
    func localiserModel(_ builder: LocaliserBuilder = LocaliserBuilder(), name: String = "localiser.dmdl") throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try builder.adding(to: Data(contentsOf: URL(fileURLWithPath: tinyModel))).write(to: URL(fileURLWithPath: path))
        return path
    }

    func crops(_ result: Result) throws -> [[Int]] {
        let json = try JSONSerialization.jsonObject(with: Data(result.lastLine.utf8)) as! [String: Any]
        return json["crops"] as! [[Int]]
    }

    /// The crop of source frame `frame` from the run-length list.
    func crop(at frame: Int, in list: [[Int]]) -> [Int] {
        Array(list.last { $0[0] <= frame }!.dropFirst())
    }

    func contains(_ crop: [Int], _ x: Int, _ y: Int) -> Bool {
        x >= crop[0] && x < crop[0] + crop[2] && y >= crop[1] && y < crop[1] + crop[3]
    }

    func testDecodeCropAutoFollowsAMovingHand() throws {
        let model = try localiserModel()
        let clip = scratch.appendingPathComponent("moving.y4m").path
        // The square held at the top left for a second, then at the bottom right.
        let positions: [(x: Int, y: Int)?] = Array(repeating: (x: 8, y: 8), count: 30) + Array(repeating: (x: 96, y: 64), count: 30)
        try PatchClip().write(positions: positions, to: clip)
        let result = try dactyl(["decode", clip, "--model", model, "--format", "jsonl", "--crop", "auto"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let list = try crops(result)
        XCTAssertTrue(result.lastLine.contains("\"crop_mode\":\"auto\""), result.lastLine)
        XCTAssertTrue(contains(crop(at: 10, in: list), 20, 20), "\(list)")
        XCTAssertTrue(contains(crop(at: 59, in: list), 108, 76), "\(list)")
        XCTAssertFalse(contains(crop(at: 59, in: list), 20, 20), "\(list)")
        // Still while the square is held: after acquiring it, no change until it moves.
        let changesWhileHeld = list.filter { $0[0] > 4 && $0[0] < 30 }
        XCTAssertEqual(changesWhileHeld, [], "\(list)")
        // Every crop has the recogniser input's aspect ratio (32x24) and lies inside the 128x96 frame.
        for entry in list.dropFirst() {
            XCTAssertEqual(Double(entry[3]) / Double(entry[4]), 32.0 / 24, accuracy: 0.05, "\(entry)")
            XCTAssertTrue(entry[1] >= 0 && entry[2] >= 0 && entry[1] + entry[3] <= 128 && entry[2] + entry[4] <= 96, "\(entry)")
        }
        // The default for a model with a localiser; --crop model and a fixed crop turn it off.
        let byDefault = try dactyl(["decode", clip, "--model", model, "--format", "jsonl"])
        XCTAssertEqual(try crops(byDefault), list)
        let fixed = try dactyl(["decode", clip, "--model", model, "--format", "jsonl", "--crop", "0,0,64,48"])
        XCTAssertEqual(try crops(fixed), [[0, 0, 0, 64, 48]])
        XCTAssertTrue(fixed.lastLine.contains("\"crop_mode\":\"fixed\""))
        let modelCrop = try dactyl(["decode", clip, "--model", model, "--format", "jsonl", "--crop", "model"])
        XCTAssertEqual(try crops(modelCrop).count, 1)
        // Every localiser run: the interval option.
        let everyFrame = try dactyl(["decode", clip, "--model", model, "--format", "jsonl", "--localiser-interval", "1"])
        XCTAssertTrue(everyFrame.lastLine.contains("\"localiser_runs\":60,\"localiser_interval\":1"), everyFrame.lastLine)
    }

    func testCropAutoWithoutALocaliserIsAnError() throws {
        let clip = scratch.appendingPathComponent("still.y4m").path
        try PatchClip().write(positions: [(x: 8, y: 8)], to: clip)
        for command in [["decode", clip], ["run", clip, "--fast"]] {
            let result = try dactyl(command + ["--model", tinyModel, "--crop", "auto"])
            XCTAssertEqual(result.status, 1)
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("--crop auto needs a model with a hand localiser"), result.stderr)
            XCTAssertTrue(result.stderr.contains(tinyModel), result.stderr)
        }
    }

    /// The live box: with no hand in view nothing is signed, however much moves; the same clip
    /// with the model's crop opens a segment.
    func testRunStaysIdleWithoutAHand() throws {
        var blind = LocaliserBuilder()
        blind.presenceLogit = 50  // never reached: the localiser sees no hand
        let model = try localiserModel(blind)
        let clip = scratch.appendingPathComponent("busy.y4m").path
        let positions: [(x: Int, y: Int)?] = (0..<60).map { (x: ($0 * 7) % 100, y: ($0 * 5) % 70) }
        try PatchClip().write(positions: positions, to: clip)
        let auto = try dactyl(["run", clip, "--fast", "--model", model, "--format", "jsonl", "--stats"])
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertFalse(auto.stdout.contains("\"status\":\"hand\""), auto.stdout)
        XCTAssertTrue(auto.stderr.contains("hand localiser: 30 runs (every 2 model frames), hand tracked in 0.0 % of model frames, crop moved 0 times"),
                      auto.stderr)
        let fixed = try dactyl(["run", clip, "--fast", "--model", model, "--format", "jsonl", "--crop", "model"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertTrue(fixed.stdout.contains("\"status\":\"hand\""), fixed.stdout)
    }

    func testInspectShowsTheLocaliser() throws {
        let result = try dactyl(["inspect", try localiserModel()])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("hand localiser, int8, every 2 frames"), result.stdout)
        XCTAssertTrue(result.stdout.contains("total 11,520 MACs per run"), result.stdout)
        XCTAssertTrue(result.stdout.contains("localiser tensor 0 24x32x3"), result.stdout)
    }

    /// selftest checks the localiser's golden maps on every path: built in, and a changed box value fails.
    func testSelftestChecksTheLocaliserOnEveryPath() throws {
        let builtIn = try dactyl(["selftest", "--model", tinyModel])
        XCTAssertEqual(builtIn.status, 0, builtIn.stdout + builtIn.stderr)
        XCTAssertTrue(builtIn.stdout.contains("PASS  kernel path scalar: hand localiser's heat and box maps bit-exact, 720 of 720 int8 values over 3 frames"),
                      builtIn.stdout)
        let wrong = try selftestWithGoldenByteChanged("localiser/frame1.box.bin", at: 5)
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stdout.contains("FAIL  kernel path scalar: hand localiser's heat and box maps bit-exact, 719 of 720"), wrong.stdout)
        XCTAssertTrue(wrong.stdout.contains("PASS  kernel path scalar: encoder outputs bit-exact"), wrong.stdout)
    }
}
