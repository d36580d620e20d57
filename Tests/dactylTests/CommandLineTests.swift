import DactylTestSupport
import DactylTestSupport
import Foundation
import Glibc
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

    /// The `dactyl` built beside this test bundle, started with `arguments` in `folder` (the
    /// repository by default), not waited for.
    func startDactyl(_ arguments: [String], environment: [String: String] = [:], in folder: URL? = nil) throws -> (Process, Pipe, Pipe) {
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
        return (process, out, err)
    }

    /// Runs the dactyl built beside this test bundle.
    func dactyl(_ arguments: [String], environment: [String: String] = [:], in folder: URL? = nil) throws -> Result {
        let (process, out, err) = try startDactyl(arguments, environment: environment, in: folder)
        // A command that hangs (e.g. blocked opening a FIFO) is ended and shows as a failure
        // (status 15) instead of hanging the test run.
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { if process.isRunning { process.terminate() } }
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

    /// `source` (a Y4M clip at 30 frames/s) as a clip at `rate` frames/s showing the same motion:
    /// at 60 every frame twice, at 15 every other frame.
    func retimed(_ source: String, rate: Int) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        let marker = Data("FRAME".utf8)
        let headerEnd = try XCTUnwrap(data.firstIndex(of: 0x0A))
        let header = String(decoding: data[..<headerEnd], as: UTF8.self)
        XCTAssertTrue(header.contains(" F30:1"), header)
        var frames: [Data] = []
        var start = headerEnd + 1
        while start < data.endIndex {
            let next = data.range(of: marker, in: (start + marker.count)..<data.endIndex)?.lowerBound ?? data.endIndex
            frames.append(data[start..<next])
            start = next
        }
        var out = Data(header.replacingOccurrences(of: " F30:1", with: " F\(rate):1").utf8) + Data([0x0A])
        for (index, frame) in frames.enumerated() {
            if rate == 60 { out += frame + frame } else if rate == 15 { if index % 2 == 0 { out += frame } } else { out += frame }
        }
        let url = scratch.appendingPathComponent("retimed-\(rate).y4m")
        try out.write(to: url)
        return url.path
    }

    func testDecodeResamplesTheClipToTheModelsFrameRate() throws {
        let sample = Self.repository.appendingPathComponent("samples/sample.y4m").path
        func report(_ arguments: [String]) throws -> [String: Any] {
            let result = try dactyl(["decode"] + arguments + ["--format", "jsonl"])
            XCTAssertEqual(result.status, 0, result.stderr)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        func starts(_ report: [String: Any]) -> [Int] { (report["spans"] as? [[String: Any]] ?? []).compactMap { $0["start"] as? Int } }
        let original = try report([sample])
        XCTAssertEqual(original["letters"] as? String, "dragon")
        XCTAssertEqual(original["model_frames"] as? Int, 67)
        // The same signing at 60 frames/s: every other frame encoded, the same letters, spans in
        // the clip's own frames (twice the numbers).
        let sixty = try report([try retimed(sample, rate: 60)])
        XCTAssertEqual(sixty["frames"] as? Int, 134)
        XCTAssertEqual(sixty["model_frames"] as? Int, 67)
        XCTAssertEqual(sixty["letters"] as? String, "dragon")
        XCTAssertEqual(starts(sixty), starts(original).map { 2 * $0 })
        // At 15 frames/s: the missing frames interpolated.
        let fifteen = try report([try retimed(sample, rate: 15)])
        XCTAssertEqual(fifteen["model_frames"] as? Int, 67)
        XCTAssertEqual(fifteen["letters"] as? String, "dragon")
        // --fps overrides the header: the 30 frames/s sample taken as 60 is half as many model frames.
        let declared = try report([sample, "--fps", "60"])
        XCTAssertEqual(declared["model_frames"] as? Int, 34)
        XCTAssertEqual(declared["fps"] as? Double, 60)
        try assertFails(["decode", sample, "--fps", "1001"], status: 2, mentioning: ["--fps", "1 to 1000", "'1001'"])
        try assertFails(["decode", sample, "--fps", "30/0"], status: 2, mentioning: ["--fps"])
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
        // The model's frame rate: tiny.dmdl records 30 (RATE); the shipped model has no RATE (a 1.0 file
        // to which issue 14 added the localiser, format 1.2): it is assumed.
        XCTAssertTrue(greedy.stdout.contains("(format 1.1, "), greedy.stdout)
        XCTAssertTrue(greedy.stdout.contains("frame rate 30 frames/s; sources at other rates are resampled to it"), greedy.stdout)
        let shipped = try dactyl(["inspect"])
        XCTAssertTrue(shipped.stdout.contains("(format 1.2, ") && shipped.stdout.contains("frame rate 30 frames/s (no RATE section: assumed)"),
                      shipped.stdout)
        XCTAssertTrue(shipped.stdout.contains("hand localiser, int8, every 3 frames"), shipped.stdout)
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
    func assertFails(_ arguments: [String], status: Int32, mentioning texts: [String], environment: [String: String] = [:],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try dactyl(arguments, environment: environment)
        XCTAssertEqual(result.status, status, result.stderr, file: file, line: line)
        XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.stdout, "", "nothing may reach stdout on failure", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("dactyl: "), result.stderr, file: file, line: line)
        for text in texts {
            XCTAssertTrue(result.stderr.contains(text), "\(result.stderr) should mention \(text)", file: file, line: line)
        }
        XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("crashed"), result.stderr, file: file, line: line)
    }

    func testLexiconKeepsTheResultToItsWordsAndBadFilesAreNamed() throws {
        let lexicon = clip("vocabulary/lexicon.txt")
        let words = try String(contentsOfFile: lexicon, encoding: .utf8).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        // Words of the lexicon separated by spaces, the last one possibly unfinished.
        func inLexicon(_ letters: String) -> Bool {
            let parts = letters.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            return parts.dropLast().allSatisfy(words.contains) && words.contains { $0.hasPrefix(parts.last!) }
        }
        let plain = try dactyl(["decode", clip("clip420.y4m"), "--model", tinyModel, "--beam", "4"])
        XCTAssertFalse(inLexicon(plain.lastLine), "the untrained model's letters are not lexicon words")
        for extra in [["--lexicon", lexicon], ["--lexicon", lexicon, "--lm", clip("vocabulary/lm.dclm"), "--lm-weight", "0.5"]] {
            let result = try dactyl(["decode", clip("clip420.y4m"), "--model", tinyModel, "--beam", "4"] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(inLexicon(result.lastLine), "\(result.lastLine) is not made of lexicon words")
        }
        let withLM = try dactyl(["decode", clip("clip420.y4m"), "--model", tinyModel, "--beam", "4", "--lm",
                                 clip("vocabulary/lm.dclm"), "--lm-weight", "3", "--insertion-bonus", "-0.5"])
        XCTAssertEqual(withLM.status, 0, withLM.stderr)

        let bad = scratch.appendingPathComponent("words.txt")
        try "canoe\ncan oe\n".write(to: bad, atomically: true, encoding: .utf8)
        try assertFails(["decode", clip("clip420.y4m"), "--model", tinyModel, "--beam", "4", "--lexicon", bad.path],
                        status: 1, mentioning: [bad.path + ": line 2: expected one word"])
        try assertFails(["decode", clip("clip420.y4m"), "--model", tinyModel, "--beam", "4", "--lm", lexicon],
                        status: 1, mentioning: [lexicon + ": offset 0: expected a character language model"])
        try assertFails(["decode", clip("clip420.y4m"), "--lexicon", lexicon], status: 2, mentioning: ["--beam N"])
        try assertFails(["decode", clip("clip420.y4m"), "--beam", "4", "--lm-weight", "0.5"], status: 2, mentioning: ["--lm FILE"])
        try assertFails(["decode", clip("clip420.y4m"), "--beam", "4", "--lm", lexicon, "--lm-weight", "1e3"], status: 2,
                        mentioning: ["--lm-weight", "1e3"])
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
        let wrong = try selftestWithGoldenByteChanged("clip420.features.bin", at: 37)
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stdout.contains("FAIL  kernel path scalar: encoder outputs bit-exact, 255 of 256"), wrong.stdout)
        XCTAssertTrue(wrong.stdout.contains("PASS  kernel path scalar: greedy letters"), "letters do not depend on the expected file")
        // Every path this CPU runs fails the bit-exact check (and nothing else): model load, then
        // three checks per path and the localiser's per path, one random-shape check per fast path,
        // then the short decode.
        let paths = wrong.stdout.split(separator: "\n").filter { $0.contains("PASS  kernel path") && $0.contains("greedy letters") }.count
        XCTAssertGreaterThanOrEqual(paths, 1)
        XCTAssertEqual(wrong.lastLine, "selftest: FAIL (\(paths) of \(2 + 4 * paths + (paths - 1)) checks failed)")
        XCTAssertTrue(builtIn.stdout.contains("SKIP  kernel path"), "the paths this binary or CPU cannot run are named")

        try assertFails(["selftest", "--golden", scratch.appendingPathComponent("nowhere").path], status: 1, mentioning: ["nowhere", "No such file"])
    }

    /// `dactyl selftest` on a copy of the golden folder whose `file` has the byte at `index` one higher.
    func selftestWithGoldenByteChanged(_ file: String, at index: Int) throws -> Result {
        let golden = scratch.appendingPathComponent("golden")
        try FileManager.default.copyItem(at: Self.golden, to: golden)
        let changed = golden.appendingPathComponent(file)
        var bytes = try Data(contentsOf: changed)
        bytes[index] = bytes[index] &+ 1
        try bytes.write(to: changed)
        return try dactyl(["selftest", "--golden", golden.path, "--model", tinyModel])
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

    func testRecordNamesTheDeviceAndStepAndWritesNothingOnFailure() throws {
        let out = scratch.appendingPathComponent("clip.y4m").path
        let notCamera = try dactyl(["record", "/dev/null", "--frames", "2", "--out", out])
        XCTAssertEqual(notCamera.status, 1)
        XCTAssertEqual(notCamera.stderr, "dactyl: /dev/null: VIDIOC_QUERYCAP: Inappropriate ioctl for device\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no clip from a device that is not a camera")
        let missing = try dactyl(["record", scratch.appendingPathComponent("video5").path, "--frames", "2", "--out", out])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasSuffix("video5: cannot open camera: No such file or directory\n"), missing.stderr)

        for (arguments, message) in [
            (["record", "--frames", "2", "--out", out], "record needs a camera device"),
            (["record", "/dev/video0", "--out", out], "record needs --frames N"),
            (["record", "/dev/video0", "--frames", "2"], "record needs --out FILE.y4m"),
            (["record", "/dev/video0", "--frames", "0", "--out", out], "option '--frames' expects a whole number from 1 to 1000000, got '0'"),
            (["record", "/dev/video0", "--frames", "2", "--out", out, "--size", "640"], "option '--size' expects WxH such as 640x480, got '640'"),
            (["record", "/dev/video0", "--frames", "2", "--out", out, "--pixel-format", "rgb"],
             "option '--pixel-format' expects one of auto, yuyv, nv12, yu12, i420, mjpeg, got 'rgb'"),
        ] {
            let result = try dactyl(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments)")
            XCTAssertEqual(result.stderr, "dactyl: record: \(message) (see `dactyl help record`)\n")
        }
        let help = try dactyl(["record", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("usage: dactyl record DEVICE --frames N --out FILE.y4m"))
    }

    // MARK: - dactyl run

    var sample: String { Self.repository.appendingPathComponent("samples/sample.y4m").path }

    func testRunOverAClipPrintsTheWord() throws {
        let result = try dactyl(["run", sample, "--fast", "--stats"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "dragon\n")
        XCTAssertTrue(result.stderr.contains("67 frames encoded, 0 dropped; 67 model frames at 30 frames/s; 1 words"), result.stderr)
    }

    func testRunResamplesASourceAtAnotherRate() throws {
        // The sample at 60 frames/s (each frame twice: every other one skipped) and at 15 (every
        // other frame: the model's frames between them interpolated) reads the same word.
        let sixty = try dactyl(["run", try retimed(sample, rate: 60), "--fast", "--stats"])
        XCTAssertEqual(sixty.status, 0, sixty.stderr)
        XCTAssertEqual(sixty.stdout, "dragon\n")
        XCTAssertTrue(sixty.stderr.contains("67 frames encoded, 0 dropped; 67 model frames at 30 frames/s"), sixty.stderr)
        let fifteen = try dactyl(["run", try retimed(sample, rate: 15), "--fast", "--stats", "--trace"])
        XCTAssertEqual(fifteen.status, 0, fifteen.stderr)
        XCTAssertEqual(fifteen.stdout, "dragon\n")
        XCTAssertTrue(fifteen.stderr.contains("34 frames encoded, 0 dropped; 67 model frames at 30 frames/s"), fifteen.stderr)
        // --trace numbers the clip's own frames.
        XCTAssertTrue(fifteen.stderr.contains("trace frame 33 ") && !fifteen.stderr.contains("trace frame 34 "), fifteen.stderr)
    }

    func testTheBundledSessionPrintsItsWordsOneByOne() throws {
        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.repository.appendingPathComponent("samples/session.json")))
        let words = try XCTUnwrap((truth as? [String: Any])?["words"] as? [[String: Any]]).compactMap { $0["text"] as? String }
        XCTAssertEqual(words.count, 3)
        let result = try dactyl(["run", "samples/session.y4m", "--fast", "--sink", "stdout"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, words.map { $0 + "\n" }.joined())
    }

    func testRunWithThePreviewPrintsItsURLAndTheSameWords() throws {
        let result = try dactyl(["run", "samples/session.y4m", "--fast", "--preview", "127.0.0.1:0"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "jade\nyara\ntess\n")
        XCTAssertNotNil(result.stderr.range(of: #"^dactyl: preview at http://127\.0\.0\.1:[0-9]+/\n$"#, options: .regularExpression),
                        result.stderr)
        for (value, message) in [("http", "--preview http: expected PORT, ADDR:PORT or [IPV6]:PORT"),
                                 ("70000", "--preview 70000: expected PORT")] {
            let bad = try dactyl(["run", sample, "--preview", value])
            XCTAssertEqual(bad.status, 2, value)
            XCTAssertTrue(bad.stderr.hasPrefix("dactyl: run: \(message)"), bad.stderr)
            XCTAssertEqual(bad.stderr.filter { $0 == "\n" }.count, 1, "one line: \(bad.stderr)")
        }
        let notAnAddress = try dactyl(["run", sample, "--preview", "box.local:8080"])
        XCTAssertEqual(notAnAddress.status, 1)
        XCTAssertEqual(notAnAddress.stderr, "dactyl: preview: cannot listen on box.local port 8080: not an IP address\n")
    }

    func testRunTakesABoardProfileAndOverridesItsKeys() throws {
        let profile = scratch.appendingPathComponent("box.conf")
        try "crop = 0,0,128,128\nsinks = stdout\n".write(to: profile, atomically: true, encoding: .utf8)
        XCTAssertEqual(try dactyl(["run", sample, "--fast", "--board", profile.path]).stdout, "dragon\n")
        // A crop that misses the hand reads nothing; the command line overrides the profile's.
        let missed = try dactyl(["run", sample, "--fast", "--board", profile.path, "--crop", "0,0,16,16"])
        XCTAssertEqual(missed.status, 0, missed.stderr)
        XCTAssertNotEqual(missed.stdout, "dragon\n")
        XCTAssertEqual(try dactyl(["run", sample, "--fast", "--board", "pc", "--crop", "0,0,128,128"]).stdout, "dragon\n")
    }

    func testRunErrorsNameTheProblem() throws {
        let profile = scratch.appendingPathComponent("bad.conf")
        try "camera.fps = 30\nserial.bud = 9600\n".write(to: profile, atomically: true, encoding: .utf8)
        let badKey = try dactyl(["run", sample, "--board", profile.path])
        XCTAssertEqual(badKey.status, 1)
        XCTAssertTrue(badKey.stderr.hasPrefix("dactyl: \(profile.path):2: serial.bud: unknown key"), badKey.stderr)

        let badValue = try dactyl(["run", sample, "--serial-baud", "12345"])
        XCTAssertEqual(badValue.status, 2)
        XCTAssertTrue(badValue.stderr.contains("command line: serial.baud: expected a baud rate"), badValue.stderr)

        let noBoard = try dactyl(["run", sample, "--board", "toaster"])
        XCTAssertEqual(noBoard.status, 1)
        XCTAssertTrue(noBoard.stderr.contains("no board profile 'toaster'"), noBoard.stderr)

        let outside = try dactyl(["run", sample, "--crop", "100,100,64,64"])
        XCTAssertEqual(outside.status, 1)
        XCTAssertTrue(outside.stderr.contains("does not lie inside the 128x128 frame"), outside.stderr)
        XCTAssertEqual(outside.stdout, "")
    }

    func testSIGTERMCommitsTheWordBeingSignedAndExitsZero() throws {
        // In real time the word takes 2.2 s; stopped after 1.6 s, the letters read so far still arrive.
        let bundle = Bundle(for: CommandLineTests.self).bundleURL
        let binary = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("dactyl") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }!
        let process = Process()
        process.executableURL = binary
        process.arguments = ["run", sample]
        process.currentDirectoryURL = Self.repository
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        Thread.sleep(forTimeInterval: 1.6)
        process.terminate()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        // A loaded machine may drop frames in real time, so only "some letters, one word" is certain.
        XCTAssertTrue(stdout.hasSuffix("\n") && stdout.count >= 2 && !stdout.dropLast().contains("\n"), stdout)
    }

    func testSIGHUPRereadsTheBoardProfile() throws {
        // The profile's crop first misses the hand; after SIGHUP with the right crop the looped
        // word is read. Played as fast as it goes, so a slow machine changes nothing.
        let (session, _) = try SessionClip().write([.holdFirst(20), .word, .holdLast(40)])
        let profile = scratch.appendingPathComponent("box.conf")
        try "crop = 0,0,12,12\n".write(to: profile, atomically: true, encoding: .utf8)
        let bundle = Bundle(for: CommandLineTests.self).bundleURL
        let binary = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("dactyl") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }!
        let process = Process()
        process.executableURL = binary
        process.arguments = ["run", session, "--loop", "--fast", "--board", profile.path]
        process.currentDirectoryURL = Self.repository
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        Thread.sleep(forTimeInterval: 1.0)
        try "crop = 0,0,128,128 # the whole frame\n".write(to: profile, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 8.0)
        process.terminate()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        XCTAssertTrue(stdout.contains("dragon\n"), stdout)
    }

    /// Issue 12 #1 and #8: crafted models with valid checksums trapped `decode` and `inspect`
    /// (SIGILL), or put a newline into the alphabet; now each is a one-line error, exit 1.
    func testCraftedModelsAreOneLineErrorsNotCrashes() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: tinyModel))
        for (name, data, text) in [("overflow", CraftedModels.conv2dWeightCountOverflow(original), "weights"),
                                   ("newline", CraftedModels.newlineInAlphabet(original), "U+000A")] {
            let model = scratch.appendingPathComponent("\(name).dmdl")
            try data.write(to: model)
            try assertFails(["inspect", model.path], status: 1, mentioning: [model.path + ": offset ", text])
            try assertFails(["decode", clip("clip420.y4m"), "--model", model.path], status: 1, mentioning: [model.path, text])
        }
    }

    /// Issue 12 #3: a FIFO as clip, model or $DACTYL_MODEL hung forever; /dev/zero and a
    /// folder said "Invalid argument". Now each is refused at once as not a regular file.
    func testNonRegularFilesAreRefusedAtOnce() throws {
        let fifo = scratch.appendingPathComponent("pipe").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let started = Date()
        try assertFails(["decode", fifo, "--model", tinyModel], status: 1, mentioning: [fifo, "not a regular file (it is a FIFO)"])
        try assertFails(["inspect", fifo], status: 1, mentioning: [fifo, "not a regular file"])
        try assertFails(["decode", clip("clip420.y4m")], status: 1, mentioning: [fifo, "not a regular file"],
                        environment: ["DACTYL_MODEL": fifo])
        try assertFails(["inspect", "/dev/zero"], status: 1, mentioning: ["/dev/zero", "not a regular file (it is a device)"])
        try assertFails(["decode", scratch.path, "--model", tinyModel], status: 1, mentioning: ["not a regular file (it is a directory)"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
    }

    /// Issue 12 #8: `Int("+8")` parses, so `--beam +8` and `--crop +1,...` were accepted;
    /// usage errors printed two lines (every failure above is checked to be one line).
    func testSignedNumbersAreUsageErrors() throws {
        try assertFails(["decode", clip("clip420.y4m"), "--model", tinyModel, "--beam", "+8"], status: 2, mentioning: ["--beam", "+8"])
        try assertFails(["decode", clip("clip420.y4m"), "--model", tinyModel, "--crop", "+1,0,16,16"], status: 2, mentioning: ["--crop"])
        try assertFails(["decode", clip("clip420.y4m"), "--model", tinyModel, "--crop", "1,-0,16,16"], status: 2, mentioning: ["--crop"])
        try assertFails(["inspect", tinyModel, "--window", "+4"], status: 2, mentioning: ["--window"])
        try assertFails(["inspect", tinyModel, "--input", "+32x32"], status: 2, mentioning: ["--input"])
        try assertFails(["decode", clip("clip420.y4m"), "--beam", "99999999999999999999999"], status: 2, mentioning: ["--beam"])
    }

    /// Found by the `args` fuzz target's seed (issue 12 part 2): `run --max-frames` takes
    /// 1...Int.max, but numbers of 19 digits were refused ("expects a whole number from 1 to
    /// 9223372036854775807, got '9223372036854775807'"). Now only values past Int.max are.
    func testWholeNumbersUpToIntMaxAreAccepted() throws {
        let missing = "/nonexistent/dactyl-model.dmdl"
        // Parsed, so the run gets as far as the model, which is missing: exit 1, not a usage error.
        try assertFails(["run", clip("clip420.y4m"), "--model", missing, "--max-frames", "9223372036854775807"],
                        status: 1, mentioning: [missing])
        try assertFails(["run", clip("clip420.y4m"), "--model", missing, "--max-frames", "9223372036854775808"],
                        status: 2, mentioning: ["--max-frames", "9223372036854775808"])
        try assertFails(["run", clip("clip420.y4m"), "--model", missing, "--max-frames", "00000000000000000000001"],
                        status: 1, mentioning: [missing])
    }

    /// Issue 12 #2 and #6: `inspect --input HxW` with large sizes trapped; `--window 100000`
    /// planned 20 GB. Sizes are bounded, and a plan over the arena limit is an error naming the
    /// limit and the longest window that fits.
    func testHugeGeometryAndWindowsAreCleanErrors() throws {
        try assertFails(["inspect", tinyModel, "--input", "100000x100000"], status: 2, mentioning: ["--input", "8192x8192"])
        try assertFails(["inspect", tinyModel, "--input", "3000000000x3000000000"], status: 2, mentioning: ["--input"])
        try assertFails(["inspect", "models/default.dmdl", "--input", "8192x8192"], status: 1, mentioning: ["arena limit of 268435456 bytes"])
        let window = try dactyl(["inspect", "models/default.dmdl", "--window", "100000"])
        XCTAssertEqual(window.status, 1)
        XCTAssertTrue(window.stderr.contains("arena limit of 268435456 bytes; a window of at most "), window.stderr)
        // The window it names does fit, and one more frame does not.
        let longest = try XCTUnwrap(window.stderr.split(separator: " ").drop { $0 != "most" }.dropFirst().first.flatMap { Int($0) })
        XCTAssertEqual(try dactyl(["inspect", "models/default.dmdl", "--window", "\(longest)"]).status, 0)
        XCTAssertEqual(try dactyl(["inspect", "models/default.dmdl", "--window", "\(longest + 1)"]).status, 1)
    }

    /// Issue 12 #6: a clip too long for the arena limit fails at once, naming the limit, instead
    /// of being ended by the OOM killer (a 20,000-frame clip planned 800 MB of back-pointers).
    func testAClipTooLongForTheArenaIsAClearErrorUpFront() throws {
        let long = scratch.appendingPathComponent("long.y4m")
        var bytes = Data("YUV4MPEG2 W8 H8 C444\n".utf8)
        let frame = Data("FRAME\n".utf8) + Data(count: 8 * 8 * 3)
        for _ in 0..<80_000 { bytes.append(frame) }
        try bytes.write(to: long)
        try assertFails(["decode", long.path, "--model", "models/default.dmdl"], status: 1,
                        mentioning: [long.path, "80000 frames", "arena limit of 268435456 bytes", "at most"])
    }

    /// Issue 12 #5: a huge beam width in selftest.txt overflowed the beam search's workspace
    /// size and trapped (a million ran for minutes); it is bounded like `decode --beam`.
    func testSelftestRefusesAHugeBeamWidth() throws {
        let golden = scratch.appendingPathComponent("golden-beam")
        try FileManager.default.copyItem(at: Self.golden, to: golden)
        let expectations = golden.appendingPathComponent("selftest.txt")
        let text = try String(contentsOf: expectations, encoding: .utf8)
        for width in ["1000000", "9223372036854775807", "+4"] {
            let lines = text.split(separator: "\n").map { line in
                line.hasPrefix("beam ") ? "beam \(width) " + line.split(separator: " ").dropFirst(2).joined(separator: " ") : String(line)
            }
            try (lines.joined(separator: "\n") + "\n").write(to: expectations, atomically: true, encoding: .utf8)
            try assertFails(["selftest", "--golden", golden.path, "--model", tinyModel], status: 1, mentioning: ["beam", "1 to 256"])
        }
    }

    func testRunSendsWordsToASerialPortAndJSONLinesToStdout() throws {
        // A pseudo-terminal is a real serial port: the far end reads what an assistive device would.
        var master: Int32 = -1, slave: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        XCTAssertEqual(openpty(&master, &slave, &name, nil, nil), 0)
        defer { close(master); close(slave) }
        let port = String(cString: name)
        let result = try dactyl(["run", sample, "--fast", "--sink", "serial,stdout", "--serial", port, "--format", "jsonl", "--stats"])
        XCTAssertEqual(result.status, 0, result.stderr)
        var received = [UInt8](repeating: 0, count: 4096)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        let count = read(master, &received, received.count)
        let serial = String(decoding: received.prefix(max(0, count)), as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertTrue(serial.contains { $0.hasPrefix("W ") && $0.hasSuffix(" 0 0 1 dragon") }, "\(serial)")
        XCTAssertTrue(serial.contains { $0.hasPrefix("P ") }, "\(serial)")
        XCTAssertEqual(serial.first?.hasPrefix("S "), true, "\(serial)")

        let objects = try result.stdout.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(objects.filter { $0["type"] as? String == "commit" }.map { $0["text"] as? String }, ["dragon"])
        XCTAssertEqual(objects.last?["type"] as? String, "stats")
        XCTAssertEqual(objects.last?["frames_seen"] as? Int, 67)
        XCTAssertEqual(objects.first?["status"] as? String, "idle")
    }

    func testAMissingGPIOChipOrKeyboardIsReportedAndTheBoxRunsWithoutThem() throws {
        let result = try dactyl(["run", sample, "--fast", "--sink", "stdout,gpio,keyboard", "--gpio-chip", "/dev/nosuchchip",
                                 "--gpio-status-led", "GPIO17", "--keyboard", scratch.appendingPathComponent("hidg9").path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "dragon\n")
        XCTAssertTrue(result.stderr.contains("/dev/nosuchchip") && result.stderr.contains("running without GPIO"), result.stderr)
        XCTAssertTrue(result.stderr.contains("hidg9") && result.stderr.contains("running without the keyboard"), result.stderr)
    }

    func testAMissingCameraIsReportedAndRetriedUntilStopped() throws {
        // No camera at start-up is not fatal for a box (it may be plugged in later): the loss is
        // said on stderr, the box keeps retrying, and SIGINT ends it cleanly.
        let bundle = Bundle(for: CommandLineTests.self).bundleURL
        let binary = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("dactyl") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }!
        let process = Process()
        process.executableURL = binary
        let device = scratch.appendingPathComponent("video9").path
        process.arguments = ["run", device]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertTrue(process.isRunning, "a missing camera must not end the box")
        kill(process.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(stderr.hasPrefix("dactyl: camera-lost: \(device): cannot open camera"), stderr)
    }
}
