import Foundation
import XCTest

/// The `dactyl` binary as a user runs it: output, exit status, and one-line errors.
final class CommandLineTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let golden = repository.appendingPathComponent("Tests/golden")

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dactyl-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var lastLine: String { stdout.split(separator: "\n").last.map(String.init) ?? "" }
    }

    /// Runs the dactyl built beside this test bundle.
    func dactyl(_ arguments: [String], environment: [String: String] = [:], in folder: URL? = nil) throws -> Result {
        // On Linux the test bundle URL is the build products folder; elsewhere it is a .xctest inside it.
        let bundle = Bundle(for: CommandLineTests.self).bundleURL
        let binary = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("dactyl") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }!
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = folder ?? Self.repository
        var variables = ProcessInfo.processInfo.environment
        variables.removeValue(forKey: "DACTYL_MODEL")
        variables.merge(environment) { $1 }
        process.environment = variables
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    var tinyModel: String { Self.golden.appendingPathComponent("tiny.dmdl").path }
    func clip(_ name: String) -> String { Self.golden.appendingPathComponent(name).path }

    func expected() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Self.golden.appendingPathComponent("expected.json"))) as! [String: Any]
    }

    func expectedClip(_ index: Int) throws -> [String: Any] {
        (try expected()["clips"] as! [[String: Any]])[index]
    }

    func testDecodePrintsTheReferenceLetters() throws {
        let clip420 = try expectedClip(0)
        let text = try dactyl(["decode", clip("clip420.y4m"), "--model", tinyModel])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.lastLine, clip420["greedy"] as? String)
        XCTAssertEqual(text.stderr, "")

        let clip444 = try expectedClip(1)
        let crop = clip444["crop"] as! [String: Int]
        let cropText = "\(crop["x"]!),\(crop["y"]!),\(crop["width"]!),\(crop["height"]!)"
        let cropped = try dactyl(["decode", clip("clip444.y4m"), "--model=\(tinyModel)", "--crop", cropText, "--beam", "4"])
        XCTAssertEqual(cropped.status, 0, cropped.stderr)
        XCTAssertEqual(cropped.lastLine, clip444["beam"] as? String)
    }

    func testJSONLinesReportLettersSpansAndScores() throws {
        let clip420 = try expectedClip(0)
        let result = try dactyl(["decode", clip("clip420.y4m"), "--model", tinyModel, "--beam", "4", "--format", "jsonl"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        let object = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        let letters = object["letters"] as! String
        XCTAssertEqual(letters, clip420["beam"] as? String)
        XCTAssertEqual(object["decoder"] as? String, "beam")
        XCTAssertEqual(object["beam"] as? Int, 4)
        XCTAssertEqual(object["frames"] as? Int, 16)
        let spans = object["spans"] as! [[String: Any]]
        XCTAssertEqual(spans.map { $0["letter"] as! String }.joined(), letters)
        var previousEnd = -1
        for span in spans {
            let start = span["start"] as! Int, end = span["end"] as! Int, score = span["score"] as! Double
            XCTAssertTrue(previousEnd < start && start <= end && end < 16, "spans must be ordered and disjoint: \(spans)")
            XCTAssertTrue(score > 0 && score <= 1)
            previousEnd = end
        }
    }

    func testDefaultModelIsFoundFromAnyFolderAndByEnvironment() throws {
        // The README's first command prints what samples/sample.txt records (and the numpy
        // reference reads, test_golden.py), from any folder.
        let sample = Self.repository.appendingPathComponent("samples/sample.y4m").path
        let expectations = try String(contentsOf: Self.repository.appendingPathComponent("samples/sample.txt"), encoding: .utf8)
        let decoded = try XCTUnwrap(expectations.split(separator: "\n").first { $0.hasPrefix("decoded ") }).dropFirst("decoded ".count)
        let fromElsewhere = try dactyl(["decode", sample], in: scratch)
        XCTAssertEqual(fromElsewhere.status, 0, fromElsewhere.stderr)
        XCTAssertEqual(fromElsewhere.stdout, decoded + "\n")

        let byVariable = try dactyl(["decode", clip("clip420.y4m")], environment: ["DACTYL_MODEL": tinyModel], in: scratch)
        XCTAssertEqual(byVariable.lastLine, try expectedClip(0)["greedy"] as? String)
    }

    func testInspectShowsOpsMACsAndThePlan() throws {
        let greedy = try dactyl(["inspect", tinyModel])
        XCTAssertEqual(greedy.status, 0, greedy.stderr)
        for text in ["conv2d_q8", "maxpool2d_q8", "global_avgpool_q8", "bigru_f32", "MACs per frame", "feature ring", "arena "] {
            XCTAssertTrue(greedy.stdout.contains(text), "inspect output lacks \(text)")
        }
        func arenaBytes(_ output: String) -> Int {
            let line = output.split(separator: "\n").first { $0.contains("  arena ") }!
            return Int(line.split(separator: " ")[1].replacingOccurrences(of: ",", with: ""))!
        }
        let linear = try dactyl(["inspect", tinyModel, "--planner", "linear", "--window", "16"])
        XCTAssertEqual(linear.status, 0, linear.stderr)
        XCTAssertGreaterThan(arenaBytes(linear.stdout), arenaBytes(greedy.stdout))
        let larger = try dactyl(["inspect", tinyModel, "--input", "48x64", "--window", "100", "--beam", "8"])
        XCTAssertEqual(larger.status, 0, larger.stderr)
        XCTAssertTrue(larger.stdout.contains("t0 48x64x3"))
        XCTAssertGreaterThan(arenaBytes(larger.stdout), arenaBytes(greedy.stdout))
        // The scalar path plans no packed weights; a fast path plans them in the arena.
        let scalar = try dactyl(["inspect", tinyModel, "--kernel", "scalar"])
        XCTAssertTrue(scalar.stdout.contains("kernels    scalar"), scalar.stdout)
        XCTAssertFalse(scalar.stdout.contains("weights packed for"), scalar.stdout)
        if !greedy.stdout.contains("kernels    scalar") {
            XCTAssertTrue(greedy.stdout.contains("weights packed for"), greedy.stdout)
            XCTAssertGreaterThan(arenaBytes(greedy.stdout), arenaBytes(scalar.stdout))
        }
    }

    func testKernelPathOptions() throws {
        let tiny = ["decode", clip("clip420.y4m"), "--model", tinyModel]
        let scalar = try dactyl(tiny + ["--kernel", "scalar", "--threads", "1"])
        XCTAssertEqual(scalar.status, 0, scalar.stderr)
        let fastest = try dactyl(tiny + ["--threads", "3"])
        XCTAssertEqual(fastest.stdout, scalar.stdout, "every path decodes the same letters")
        let byVariable = try dactyl(tiny, environment: ["DACTYL_KERNEL": "scalar"])
        XCTAssertEqual(byVariable.stdout, scalar.stdout)
        try assertFails(tiny + ["--kernel", "turbo"], status: 2, mentioning: ["unknown kernel path 'turbo'", "scalar, avx2, vnni, neon, sdot"])
        #if arch(x86_64)
        let foreign = "sdot"
        #else
        let foreign = "vnni"
        #endif
        try assertFails(tiny + ["--kernel", foreign], status: 1, mentioning: ["'\(foreign)' is not available on this CPU"])
        try assertFails(tiny + ["--threads", "0"], status: 2, mentioning: ["--threads"])
        let bench = try dactyl(["bench", "--model", tinyModel, "--frames", "3", "--layers", "--json", "--kernel", "scalar"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        for key in ["\"kernel\":\"scalar\"", "\"encoder_ms_median\":", "\"layers\":[", "\"name\":\"conv2d_q8\""] {
            XCTAssertTrue(bench.stdout.contains(key), "bench --json lacks \(key): \(bench.stdout)")
        }
    }

    /// Bad input: one line on stderr naming the problem, a non-zero status, nothing on stdout.
    func assertFails(_ arguments: [String], status: Int32, mentioning texts: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try dactyl(arguments)
        XCTAssertEqual(result.status, status, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stdout, "", "nothing may reach stdout on failure", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("dactyl: "), result.stderr, file: file, line: line)
        for text in texts {
            XCTAssertTrue(result.stderr.contains(text), "\(result.stderr) should mention \(text)", file: file, line: line)
        }
        XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("crashed"), result.stderr, file: file, line: line)
    }

    func testBadInputGivesAClearErrorAndNoResult() throws {
        let missing = scratch.appendingPathComponent("missing.y4m").path
        try assertFails(["decode", missing, "--model", tinyModel], status: 1, mentioning: [missing, "No such file"])

        let original = try Data(contentsOf: URL(fileURLWithPath: clip("clip420.y4m")))
        let short = scratch.appendingPathComponent("short.y4m")
        try original.prefix(original.count - 100).write(to: short)
        try assertFails(["decode", short.path, "--model", tinyModel], status: 1, mentioning: [short.path, "frame 15"])

        let notY4M = scratch.appendingPathComponent("not.y4m")
        try Data("RIFF....WAVEfmt ".utf8).write(to: notY4M)
        try assertFails(["decode", notY4M.path, "--model", tinyModel], status: 1, mentioning: [notY4M.path])

        var model = try Data(contentsOf: URL(fileURLWithPath: tinyModel))
        model[model.count - 10] ^= 0xFF
        let corrupt = scratch.appendingPathComponent("corrupt.dmdl")
        try model.write(to: corrupt)
        try assertFails(["decode", clip("clip420.y4m"), "--model", corrupt.path], status: 1, mentioning: [corrupt.path, "checksum"])
        try assertFails(["inspect", corrupt.path], status: 1, mentioning: ["checksum"])
        try assertFails(["decode", clip("clip420.y4m"), "--model", tinyModel, "--crop", "60,0,16,16"], status: 1, mentioning: ["crop"])
    }

    func testSelftestPassesWithBuiltInGoldenVectorsAndFailsOnWrongOnes() throws {
        let builtIn = try dactyl(["selftest", "--model", tinyModel])
        XCTAssertEqual(builtIn.status, 0, builtIn.stdout + builtIn.stderr)
        XCTAssertTrue(builtIn.stdout.contains("PASS  kernel path scalar: encoder outputs bit-exact, 256 of 256"), builtIn.stdout)
        XCTAssertEqual(builtIn.lastLine, "selftest: PASS")

        // A copy of the golden folder with one feature value changed must fail, naming the path.
        let golden = scratch.appendingPathComponent("golden")
        try FileManager.default.copyItem(at: Self.golden, to: golden)
        let featuresFile = golden.appendingPathComponent("clip420.features.bin")
        var features = try Data(contentsOf: featuresFile)
        features[37] = features[37] &+ 1
        try features.write(to: featuresFile)
        let wrong = try dactyl(["selftest", "--golden", golden.path, "--model", tinyModel])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stdout.contains("FAIL  kernel path scalar: encoder outputs bit-exact, 255 of 256"), wrong.stdout)
        XCTAssertTrue(wrong.stdout.contains("PASS  kernel path scalar: greedy letters"), "letters do not depend on the expected file")
        // Every path this CPU runs fails the bit-exact check (and nothing else): model load, then
        // three checks per path, one random-shape check per fast path, then the short decode.
        let paths = wrong.stdout.split(separator: "\n").filter { $0.contains("PASS  kernel path") && $0.contains("greedy letters") }.count
        XCTAssertGreaterThanOrEqual(paths, 1)
        XCTAssertEqual(wrong.lastLine, "selftest: FAIL (\(paths) of \(2 + 3 * paths + (paths - 1)) checks failed)")
        XCTAssertTrue(builtIn.stdout.contains("SKIP  kernel path"), "the paths this binary or CPU cannot run are named")

        try assertFails(["selftest", "--golden", scratch.appendingPathComponent("nowhere").path], status: 1, mentioning: ["nowhere", "No such file"])
    }

    func testUsageErrors() throws {
        try assertFails(["decode", clip("clip420.y4m"), "--beam", "zero"], status: 2, mentioning: ["--beam"])
        try assertFails(["decode", clip("clip420.y4m"), "--format", "xml"], status: 2, mentioning: ["text, jsonl"])
        try assertFails(["decode", clip("clip420.y4m"), "--crop", "1,2,3"], status: 2, mentioning: ["X,Y,W,H"])
        try assertFails(["decode", clip("clip420.y4m"), "--frobnicate"], status: 2, mentioning: ["--frobnicate"])
        try assertFails(["decode"], status: 2, mentioning: ["needs a clip"])
        try assertFails(["transmogrify"], status: 2, mentioning: ["unknown command"])
        try assertFails([], status: 2, mentioning: ["no command"])
        let help = try dactyl(["decode", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("usage: dactyl decode CLIP"))
    }
}
