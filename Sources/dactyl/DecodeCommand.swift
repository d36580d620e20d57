import CDactylPlatform
import DactylArena
import DactylKernels
import DactylModel
import DactylPipeline

/// Widest prefix beam search the commands accept (`--beam`, selftest.txt): far past where
/// accuracy stops improving, and it keeps the decoder's workspace small.
let maximumBeamWidth = 256

/// `dactyl decode`: a clip's letters.
enum DecodeCommand {
    static let usage = """
        usage: dactyl decode CLIP [--model FILE] [--beam N [--lexicon FILE] [--lm FILE [--lm-weight W]]
                             [--insertion-bonus B]] [--format text|jsonl] [--crop X,Y,W,H|auto|model]
                             [--localiser-interval N] [--fps RATE] [--timing] [--kernel PATH] [--threads N]

        Recognises the fingerspelled letters in a YUV4MPEG2 clip (.y4m, 4:2:0 or 4:4:4): the clip
        resampled to the model's frame rate (frames that fill no model frame are skipped, missing
        ones interpolated), the frames through the int8 encoder, the whole clip through the temporal
        head, then CTC decoding.

          CLIP               the clip to decode
          --model FILE       model file (default: the default model, see `dactyl help`)
          --beam N           prefix beam search with N beams (default: greedy decoding)
        \(VocabularyOptions.usage)
          --format FORMAT    text: the letters as the last line (default);
                             jsonl: one JSON object with the letters, per-letter frame spans and scores,
                             and the crop of every frame ("crops": [first frame, x, y, w, h] each time it changes)
          --crop X,Y,W,H     the hand's rectangle in the frame, in pixels; auto: follow the hand with the
                             model's hand localiser (the default for a model that has one, docs/localiser.md);
                             model: the model's default crop (the default without a localiser)
          --localiser-interval N
                             with --crop auto, run the localiser every N model frames (default: the model's)
          --trace-boxes      with --crop auto, each localiser run's box on standard error (frame, present,
                             centre x and y, width, height in pixels, peak logit)
          --fps RATE         the clip's frame rate, e.g. 25 or 30000/1001 (default: its header's F tag;
                             without one, the model's: no resampling)
          --timing           report frames per second on standard error
        """ + "\n" + KernelOptions.usageLines

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        let arguments = try CommandError.parsing(
            words, valueOptions: ["--model", "--beam", "--format", "--crop", "--fps", "--localiser-interval"] + VocabularyOptions.names + KernelOptions.valueOptions,
            flagOptions: ["--timing", "--trace-boxes"])
        guard arguments.positionals.count == 1 else {
            throw .usage(arguments.positionals.isEmpty ? "decode needs a clip" : "decode takes one clip, got \(arguments.positionals.count)")
        }
        let beamWidth: Int, format: String, cropNumbers: [Int]?, givenRate: FrameRate?, localiserInterval: Int?
        let cropWord = arguments.value("--crop").flatMap { $0 == "auto" || $0 == "model" ? $0 : nil }
        do {
            givenRate = try arguments.frameRate("--fps")
            beamWidth = try arguments.integer("--beam", default: 0, range: 1...maximumBeamWidth)
            format = try arguments.choice("--format", from: ["text", "jsonl"], default: "text")
            cropNumbers = cropWord != nil ? nil
                : try arguments.integers("--crop", count: 4, separator: ",", range: 0...Y4MClip.maximumDimension,
                                         example: "X,Y,W,H in pixels such as 80,0,480,480, auto or model")
            localiserInterval = arguments.value("--localiser-interval") == nil ? nil
                : try arguments.integer("--localiser-interval", default: 1, range: 1...Localiser.maximumInterval)
        } catch {
            throw .usage(error.message)
        }
        let vocabularyOptions = try VocabularyOptions(arguments, beamWidth: beamWidth)
        let kernel = try KernelOptions(arguments)
        let model = try loadModel(arguments.value("--model"))
        let vocabularyFiles = try vocabularyOptions?.load(alphabet: model.alphabet)
        let clip: Y4MClip
        do {
            clip = try Y4MClip(path: arguments.positionals[0])
        } catch {
            throw .failed(error.description)
        }
        let followHand = try autoCrop(cropWord, given: cropNumbers != nil, model: model)
        let crop = cropNumbers.map { CropRect(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
            ?? CropRect.fromThousandths(x: model.defaultCrop.x, y: model.defaultCrop.y, width: model.defaultCrop.width,
                                        height: model.defaultCrop.height, frameWidth: clip.width, frameHeight: clip.height)
        let method: CTCDecoder.Method = beamWidth > 0 ? .beam(width: beamWidth) : .greedy
        let sourceRate: FrameRate
        if let givenRate {
            sourceRate = givenRate
        } else if let declared = clip.frameRate {
            guard let rate = reducedRate(declared.numerator, declared.denominator) else {
                throw .failed("\(clip.path): frame rate F\(declared.numerator):\(declared.denominator) is outside "
                              + "\(FrameRate.minimumPerSecond) to \(FrameRate.maximumPerSecond) frames/s; give the real one with --fps")
            }
            sourceRate = rate
        } else {
            sourceRate = model.frameRate
        }

        let started = dactyl_monotonic_ns()
        let recogniser: Recogniser
        do {
            recogniser = try Recogniser(model: model, clip: clip, crop: crop, method: method, sourceRate: sourceRate,
                                        kernelPath: kernel.kernelPath, threads: kernel.threads,
                                        vocabularyBytes: vocabularyFiles?.arenaBytes ?? 0,
                                        followHand: followHand, localiserInterval: localiserInterval)
        } catch {
            if case .model(let modelError) = error, modelError.kind == .exceedsMemoryLimit {
                throw .failed("\(clip.path): the clip has \(clip.frameCount) frames and decode holds a whole clip in one window: \(modelError.detail)")
            }
            throw .failed("\(clip.path): \(error.description)")
        }
        if arguments.has("--trace-boxes") { recogniser.boxLog = [] }
        let encodingStarted = dactyl_monotonic_ns()
        let sourceFrames: [Int]
        do {
            sourceFrames = try recogniser.add(clip: clip, sourceRate: sourceRate)
        } catch {
            // A clip error names the file, offset and frame itself.
            if case .clip(let clipError) = error { throw .failed(clipError.description) }
            throw .failed("\(clip.path): frame \(recogniser.frames): \(error.description)")
        }
        let encodingFinished = dactyl_monotonic_ns()
        if let log = recogniser.boxLog {
            var trace = OutputText()
            for (frame, box) in log {
                trace.line("box frame \(frame) \(box.present ? "present" : "absent") \(fixed(Float(box.centreX), decimals: 1)) "
                           + "\(fixed(Float(box.centreY), decimals: 1)) \(fixed(Float(box.width), decimals: 1)) "
                           + "\(fixed(Float(box.height), decimals: 1)) \(fixed(Float(box.peak), decimals: 3))")
            }
            trace.write(to: 2)
        }
        let vocabulary = vocabularyFiles.map { files in
            files.install(into: recogniser.vocabularyMemory!, lmWeight: vocabularyOptions!.lmWeight,
                          insertionBonus: vocabularyOptions!.insertionBonus)
        }
        let result = recogniser.makeDecoder(method, vocabulary: vocabulary).decode(logProbs: recogniser.runHead(), frames: recogniser.frames)
        let finished = dactyl_monotonic_ns()

        if arguments.has("--timing") {
            let frames = clip.frameCount
            let encodingSeconds = Double(encodingFinished - encodingStarted) / 1e9
            let totalSeconds = Double(finished - started) / 1e9
            var timing = OutputText()
            timing.line("dactyl: \(frames) frames in \(fixed(Float(totalSeconds), decimals: 3)) s: "
                        + "\(fixed(Float(Double(frames) / encodingSeconds), decimals: 1)) frames/s through the encoder "
                        + "(\(recogniser.frames) model frames at \(recogniser.model.frameRate) frames/s from \(sourceRate)), "
                        + "\(fixed(Float(Double(finished - encodingFinished) / 1e6), decimals: 2)) ms for head and decoding, "
                        + "arena \(grouped(recogniser.layout.plan.arenaBytes)) bytes, kernel path \(kernel.kernelPath.name), "
                        + "\(kernel.threads) thread" + (kernel.threads == 1 ? "" : "s"))
            timing.write(to: 2)
        }
        return format == "jsonl"
            ? jsonReport(clip: clip, model: model, method: method, sourceRate: sourceRate, modelFrames: recogniser.frames,
                         sourceFrames: sourceFrames, result: result, crops: [(0, crop)] + recogniser.cropChanges,
                         localiser: recogniser.cropFollower.map { ($0.runs, $0.interval) })
            : textReport(model: model, result: result)
    }

    static func letters(_ model: Model, _ labels: UnsafeBufferPointer<Int32>) -> String {
        var text = ""
        for label in labels { text += model.alphabet[Int(label) - 1] }
        return text
    }

    static func textReport(model: Model, result: CTCDecoder.Result) -> OutputText {
        var out = OutputText()
        out.line(letters(model, result.labels))
        return out
    }

    /// The clip's rate as a `FrameRate`, reduced (F60000:2000 is 30), or nil outside the bounds.
    static func reducedRate(_ numerator: Int, _ denominator: Int) -> FrameRate? {
        var a = numerator, b = denominator
        while b != 0 { (a, b) = (b, a % b) }
        return a > 0 ? FrameRate(numerator: numerator / a, denominator: denominator / a) : nil
    }

    /// Spans are in source frames (`sourceFrames` maps the model's frames to them).
    /// Whether the crop follows the hand: `--crop auto`, or no crop given and the model has a
    /// localiser; `--crop auto` with a model without one is an error.
    static func autoCrop(_ word: String?, given: Bool, model: Model) throws(CommandError) -> Bool {
        if word == "auto" {
            guard model.localiser != nil else {
                throw .failed("\(model.path): --crop auto needs a model with a hand localiser (sections LMET, LTEN, LOPS; "
                              + "docs/localiser.md); this one has none: give --crop X,Y,W,H or --crop model")
            }
            return true
        }
        return word == nil && !given && model.localiser != nil
    }

    /// `crops`: the crop from each listed source frame on (the first at frame 0).
    static func jsonReport(clip: Y4MClip, model: Model, method: CTCDecoder.Method, sourceRate: FrameRate, modelFrames: Int,
                           sourceFrames: [Int], result: CTCDecoder.Result, crops: [(frame: Int, crop: CropRect)] = [],
                           localiser: (runs: Int, interval: Int)? = nil) -> OutputText {
        var decoder = "\"decoder\":\"greedy\""
        if case .beam(let width) = method { decoder = "\"decoder\":\"beam\",\"beam\":\(width)" }
        var spans = ""
        for (index, span) in result.spans.enumerated() {
            spans += (index == 0 ? "" : ",")
                + "{\"letter\":\(jsonString(model.alphabet[Int(span.classIndex) - 1])),\"start\":\(sourceFrames[Int(span.startFrame)]),"
                + "\"end\":\(sourceFrames[Int(span.endFrame)]),\"score\":\(fixed(span.score, decimals: 4))}"
        }
        var cropList = ""
        for (index, entry) in crops.enumerated() {
            cropList += (index == 0 ? "" : ",") + "[\(entry.frame),\(entry.crop.x),\(entry.crop.y),\(entry.crop.width),\(entry.crop.height)]"
        }
        var out = OutputText()
        out.line("{\"clip\":\(jsonString(clip.path)),\"frames\":\(clip.frameCount),\"fps\":\(fixed(Float(sourceRate.perSecond), decimals: 3)),"
                 + "\"model_frames\":\(modelFrames),\"model_fps\":\(fixed(Float(model.frameRate.perSecond), decimals: 3)),\(decoder),"
                 + "\"letters\":\(jsonString(letters(model, result.labels))),\"spans\":[\(spans)],"
                 + "\"crop_mode\":\"\(localiser == nil ? "fixed" : "auto")\"" + (localiser.map { ",\"localiser_runs\":\($0.runs),\"localiser_interval\":\($0.interval)" } ?? "")
                 + ",\"crops\":[\(cropList)]}")
        return out
    }
}
