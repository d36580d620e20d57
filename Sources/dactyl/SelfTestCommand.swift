import CDactylBuiltIn
import CDactylPlatform
import DactylKernels
import DactylModel
import DactylPipeline

/// `dactyl selftest`: the golden vectors built into the binary, on every kernel path this CPU
/// runs, and a short decode with the default model. A user runs it on a freshly installed board.
enum SelfTestCommand {
    static let usage = """
        usage: dactyl selftest [--golden DIR] [--model FILE]

        Checks this binary on this CPU: runs the golden vectors built into it (a tiny model and a
        clip, with the numpy reference's int8 encoder outputs and letters) through every kernel
        path the CPU can run, requiring every encoder output to be bit-exact and the letters equal;
        then decodes the clip with the default model. Prints PASS or FAIL per check and exits 1 if
        anything failed.

          --golden DIR   use the golden files in DIR (tiny.dmdl, selftest.txt and the files it
                         names) instead of the built-in ones
          --model FILE   the model for the short decode (default: the default model)
        """

    /// The golden clip's expectations (selftest.txt, written by Tests/golden/make_golden.py).
    struct Expectations {
        var clip = ""
        var features = ""
        var crop = CropRect(x: 0, y: 0, width: 0, height: 0)
        var greedy = ""
        var beamWidth = 0
        var beam = ""

        init(parsing text: String) throws(CommandError) {
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ", omittingEmptySubsequences: false).map { String($0) }
                switch words.first {
                case "clip" where words.count == 2: clip = words[1]
                case "features" where words.count == 2: features = words[1]
                case "crop" where words.count == 5:
                    let numbers = words.dropFirst().compactMap { Int($0) }
                    guard numbers.count == 4 else { throw .failed("selftest.txt: bad crop line '\(line)'") }
                    crop = CropRect(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
                // Letters may contain spaces: everything after the first space (and the width).
                case "greedy": greedy = words.dropFirst().joined(separator: " ")
                case "beam" where words.count >= 2:
                    // The same bound as `decode --beam`: a huge width would plan an absurd workspace.
                    guard let width = Arguments.wholeNumber(words[1]), (1...maximumBeamWidth).contains(width) else {
                        throw .failed("selftest.txt: bad beam line '\(line)', expected 'beam N LETTERS' with N from 1 to \(maximumBeamWidth)")
                    }
                    beamWidth = width
                    beam = words.dropFirst(2).joined(separator: " ")
                default:
                    throw .failed("selftest.txt: unexpected line '\(line)'")
                }
            }
            guard !clip.isEmpty, !features.isEmpty, crop.width > 0, beamWidth > 0 else {
                throw .failed("selftest.txt: expected clip, features, crop, greedy and beam lines")
            }
        }
    }

    /// Bytes that stay valid while the command runs: built into the binary, or a file read whole.
    struct Bytes {
        let buffer: UnsafeRawBufferPointer
        let name: String

        static func builtIn(_ blob: dactyl_builtin_blob, _ name: String) -> Bytes {
            Bytes(buffer: UnsafeRawBufferPointer(start: blob.bytes, count: blob.count), name: "built-in " + name)
        }

        /// Reads `path` into memory kept for the rest of the process (selftest is a one-shot command).
        static func file(_ path: String) throws(CommandError) -> Bytes {
            var size = 0
            var errorNumber: Int32 = 0
            guard let address = dactyl_read_file(path, 64, &size, &errorNumber) else {
                throw .failed("\(path): \(String(cString: dactyl_error_text(errorNumber)))")
            }
            return Bytes(buffer: UnsafeRawBufferPointer(start: address, count: size), name: path)
        }

        var text: String { String(decoding: buffer, as: UTF8.self) }
    }

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        let arguments = try CommandError.parsing(words, valueOptions: ["--golden", "--model"])
        guard arguments.positionals.isEmpty else { throw .usage("selftest takes no arguments") }

        let modelBytes: Bytes, expectations: Expectations, clipBytes: Bytes, featureBytes: Bytes
        if let folder = arguments.value("--golden") {
            modelBytes = try .file(folder + "/tiny.dmdl")
            expectations = try Expectations(parsing: try Bytes.file(folder + "/selftest.txt").text)
            clipBytes = try .file(folder + "/" + expectations.clip)
            featureBytes = try .file(folder + "/" + expectations.features)
        } else {
            modelBytes = .builtIn(dactyl_builtin_golden_model(), "tiny.dmdl")
            expectations = try Expectations(parsing: Bytes.builtIn(dactyl_builtin_golden_selftest(), "selftest.txt").text)
            clipBytes = .builtIn(dactyl_builtin_golden_clip(), expectations.clip)
            featureBytes = .builtIn(dactyl_builtin_golden_features(), expectations.features)
        }

        var report = OutputText()
        let cpu = CPUFeatures.detect()
        #if arch(arm64) || arch(aarch64)
        let architecture = "aarch64"
        #else
        let architecture = "x86_64"
        #endif
        var featureList = ""
        for name in cpu.names { featureList += " " + name }
        report.line("dactyl \(version) selftest on \(architecture), CPU features:" + (featureList.isEmpty ? " none detected" : featureList))

        var checks = 0, failures = 0
        func check(_ passed: Bool, _ what: String) {
            report.line((passed ? "  PASS  " : "  FAIL  ") + what)
            checks += 1
            if !passed { failures += 1 }
        }

        var loadProblem: String? = nil
        var loadedModel: Model? = nil, loadedClip: Y4MClip? = nil
        do { loadedModel = try Model.borrowing(bytes: modelBytes.buffer, path: modelBytes.name) } catch { loadProblem = error.description }
        do { loadedClip = try Y4MClip(borrowing: clipBytes.buffer, name: clipBytes.name) } catch { loadProblem = error.description }
        guard let model = loadedModel, let clip = loadedClip else {
            check(false, "golden model and clip load: \(loadProblem ?? "")")
            report.write()
            throw .failed("selftest: FAIL (the golden vectors do not load)")
        }
        check(true, "golden model and clip load (\(model.encoderOps.count) encoder ops, \(clip.frameCount) frames)")

        for path in KernelPath.available(on: cpu) {
            let outcome = runGolden(model: model, clip: clip, expectations: expectations, expectedFeatures: featureBytes.buffer, kernelPath: path)
            switch outcome {
            case .failure(let message):
                check(false, "kernel path \(path.name): \(message)")
            case .success(let result):
                check(result.equalValues == result.totalValues,
                      "kernel path \(path.name): encoder outputs bit-exact, \(result.equalValues) of \(result.totalValues) int8 values over \(clip.frameCount) frames")
                check(result.greedy == expectations.greedy,
                      "kernel path \(path.name): greedy letters \(jsonString(result.greedy)), expected \(jsonString(expectations.greedy))")
                check(result.beam == expectations.beam,
                      "kernel path \(path.name): beam-\(expectations.beamWidth) letters \(jsonString(result.beam)), expected \(jsonString(expectations.beam))")
            }
        }

        // The hand localiser's golden vectors: its heat and box maps bit-exact on every path.
        let localiserFiles: (model: Bytes, clip: Bytes, heat: [Bytes], box: [Bytes])
        if let folder = arguments.value("--golden") {
            let base = folder + "/localiser/"
            localiserFiles = (try .file(base + "tiny-localiser.dmdl"), try .file(base + "frames.y4m"),
                              [try .file(base + "frame0.heat.bin"), try .file(base + "frame1.heat.bin"), try .file(base + "frame2.heat.bin")],
                              [try .file(base + "frame0.box.bin"), try .file(base + "frame1.box.bin"), try .file(base + "frame2.box.bin")])
        } else {
            localiserFiles = (.builtIn(dactyl_builtin_golden_localiser_model(), "localiser/tiny-localiser.dmdl"),
                              .builtIn(dactyl_builtin_golden_localiser_clip(), "localiser/frames.y4m"),
                              [.builtIn(dactyl_builtin_golden_localiser_heat0(), "heat0"), .builtIn(dactyl_builtin_golden_localiser_heat1(), "heat1"),
                               .builtIn(dactyl_builtin_golden_localiser_heat2(), "heat2")],
                              [.builtIn(dactyl_builtin_golden_localiser_box0(), "box0"), .builtIn(dactyl_builtin_golden_localiser_box1(), "box1"),
                               .builtIn(dactyl_builtin_golden_localiser_box2(), "box2")])
        }
        for path in KernelPath.available(on: cpu) {
            switch runLocaliserGolden(localiserFiles, kernelPath: path) {
            case .failure(let message): check(false, "kernel path \(path.name): hand localiser: \(message)")
            case .success(let (equal, total, frames)):
                check(equal == total, "kernel path \(path.name): hand localiser's heat and box maps bit-exact, \(equal) of \(total) int8 values over \(frames) frames")
            }
        }

        // The fast paths on random conv2d shapes the golden model lacks (odd channel counts, 5x5, 7x7,
        // padded convs on small maps).
        let randomCases = 60
        for path in KernelPath.available(on: cpu) where path != .scalar {
            let (problem, requant32) = FastConv2DCheck.run(path: path, cases: randomCases, seed: 2026)
            check(problem == nil, "kernel path \(path.name): conv2d bit-exact with the reference on \(randomCases) random shapes"
                  + (path == .neon || path == .sdot ? ", \(requant32) of them with the 32-bit output stage" : "")
                  + (problem.map { ": " + $0 } ?? ""))
        }
        // Winograd F(4x4, 3x3) (the neon path), forced on for every 3x3 stride-1 shape it can take.
        let winogradCases = 24
        for path in KernelPath.available(on: cpu) where path == .neon {
            let (problem, winograd) = FastConv2DCheck.runWinograd(path: path, cases: winogradCases, seed: 2027)
            check(problem == nil, "kernel path \(path.name): Winograd F(4x4, 3x3) bit-exact with the reference on \(winogradCases) "
                  + "random 3x3 stride-1 shapes, \(winograd) of them run as Winograd" + (problem.map { ": " + $0 } ?? ""))
        }
        for path in KernelPath.allCases where !path.isAvailable(on: cpu) {
            report.line("  SKIP  kernel path \(path.name): not checked, "
                        + (path.isCompiled ? "this CPU lacks its instructions" : "an \(path.architecture) binary has it"))
        }

        // A short decode with the model the box will use: it must load and run on this CPU.
        if arguments.value("--model") != nil || DefaultModel.isAvailable {
            do throws(CommandError) {
                let boxModel = try loadModel(arguments.value("--model"))
                let path = boxModel.path
                let crop = CropRect.fromThousandths(
                    x: boxModel.defaultCrop.x, y: boxModel.defaultCrop.y, width: boxModel.defaultCrop.width,
                    height: boxModel.defaultCrop.height, frameWidth: clip.width, frameHeight: clip.height)
                switch decode(model: boxModel, clip: clip, crop: crop, method: .greedy, kernelPath: nil) {
                case .success(let letters):
                    check(true, "short decode with \(path): \(clip.frameCount) frames -> \(jsonString(letters))")
                case .failure(let message):
                    check(false, "short decode with \(path): \(message)")
                }
            } catch {
                if case .failed(let message) = error { check(false, "short decode: \(message)") }
            }
        } else {
            report.line("  SKIP  short decode: no default model found (use --model FILE)")
        }

        report.line(failures == 0 ? "selftest: PASS" : "selftest: FAIL (\(failures) of \(checks) checks failed)")
        report.write()
        if failures > 0 { throw .failed("selftest: \(failures) of \(checks) checks failed") }
        return OutputText()
    }

    enum Outcome<Success> {
        case success(Success)
        case failure(String)
    }

    struct GoldenResult {
        var equalValues = 0
        var totalValues = 0
        var greedy = ""
        var beam = ""
    }

    static func runGolden(model: Model, clip: Y4MClip, expectations: Expectations, expectedFeatures: UnsafeRawBufferPointer,
                          kernelPath: KernelPath) -> Outcome<GoldenResult> {
        let frames = clip.frameCount
        let method = CTCDecoder.Method.beam(width: expectations.beamWidth)
        guard expectedFeatures.count == frames * model.featureSize else {
            return .failure("golden features hold \(expectedFeatures.count) values, expected \(frames) x \(model.featureSize)")
        }
        let recogniser: Recogniser
        do {
            recogniser = try Recogniser(model: model, clip: clip, crop: expectations.crop, method: method, kernelPath: kernelPath)
            try recogniser.add(clip: clip)
        } catch {
            return .failure(error.description)
        }
        var result = GoldenResult()
        for frame in 0..<frames {
            let feature = recogniser.feature(frame)
            for index in 0..<model.featureSize {
                let expected = Int8(bitPattern: expectedFeatures[frame * model.featureSize + index])
                if feature[index] == expected { result.equalValues += 1 }
                result.totalValues += 1
            }
        }
        let logProbs = recogniser.runHead()
        result.greedy = DecodeCommand.letters(model, recogniser.makeDecoder(.greedy).decode(logProbs: logProbs, frames: frames).labels)
        result.beam = DecodeCommand.letters(model, recogniser.makeDecoder(method).decode(logProbs: logProbs, frames: frames).labels)
        return .success(result)
    }

    /// The localiser golden model on `clip`'s frames: (equal values, values, frames) of its heat and box maps.
    static func runLocaliserGolden(_ files: (model: Bytes, clip: Bytes, heat: [Bytes], box: [Bytes]),
                                   kernelPath: KernelPath) -> Outcome<(Int, Int, Int)> {
        let model: Model, clip: Y4MClip, recogniser: Recogniser
        do { model = try Model.borrowing(bytes: files.model.buffer, path: files.model.name) } catch { return .failure(error.description) }
        do { clip = try Y4MClip(borrowing: files.clip.buffer, name: files.clip.name) } catch { return .failure(error.description) }
        guard let localiser = model.localiser else { return .failure("\(files.model.name) has no localiser") }
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.localiser = true
        do {
            recogniser = try Recogniser(model: model, configuration: configuration,
                                        crop: CropRect(x: 0, y: 0, width: clip.width, height: clip.height),
                                        frameWidth: clip.width, frameHeight: clip.height, kernelPath: kernelPath)
        } catch {
            return .failure(error.description)
        }
        guard let runner = recogniser.cropFollower?.localiser else { return .failure("the localiser was not planned") }
        let cells = localiser.heatShape.elementCount
        var equal = 0, total = 0, frames = 0
        var cursor = clip.makeFrameCursor()
        while frames < files.heat.count, let frame = cursor.next() {
            let heat = files.heat[frames].buffer, box = files.box[frames].buffer
            guard heat.count == cells, box.count == 4 * cells else {
                return .failure("golden maps of frame \(frames) hold \(heat.count) and \(box.count) values, expected \(cells) and \(4 * cells)")
            }
            _ = runner.locate(frame)
            for index in 0..<cells where runner.heatMap[index] == Int8(bitPattern: heat[index]) { equal += 1 }
            for index in 0..<4 * cells where runner.boxMap[index] == Int8(bitPattern: box[index]) { equal += 1 }
            total += 5 * cells
            frames += 1
        }
        guard frames == files.heat.count else { return .failure("the clip has \(frames) frames, expected \(files.heat.count)") }
        return .success((equal, total, frames))
    }

    static func decode(model: Model, clip: Y4MClip, crop: CropRect, method: CTCDecoder.Method,
                       kernelPath: KernelPath?) -> Outcome<String> {
        do {
            let recogniser = try Recogniser(model: model, clip: clip, crop: crop, method: method, kernelPath: kernelPath)
            try recogniser.add(clip: clip)
            let result = recogniser.makeDecoder(method).decode(logProbs: recogniser.runHead(), frames: recogniser.frames)
            return .success(DecodeCommand.letters(model, result.labels))
        } catch {
            return .failure(error.description)
        }
    }
}
