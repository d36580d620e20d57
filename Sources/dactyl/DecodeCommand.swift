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
                             [--insertion-bonus B]] [--format text|jsonl] [--crop X,Y,W,H] [--timing]
                             [--kernel PATH] [--threads N]

        Recognises the fingerspelled letters in a YUV4MPEG2 clip (.y4m, 4:2:0 or 4:4:4): every
        frame through the int8 encoder, the whole clip through the temporal head, then CTC decoding.

          CLIP               the clip to decode
          --model FILE       model file (default: the default model, see `dactyl help`)
          --beam N           prefix beam search with N beams (default: greedy decoding)
        \(VocabularyOptions.usage)
          --format FORMAT    text: the letters as the last line (default);
                             jsonl: one JSON object with the letters, per-letter frame spans and scores
          --crop X,Y,W,H     the hand's rectangle in the frame, in pixels (default: the model's)
          --timing           report frames per second on standard error
        """ + "\n" + KernelOptions.usageLines

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        let arguments = try CommandError.parsing(
            words, valueOptions: ["--model", "--beam", "--format", "--crop"] + VocabularyOptions.names + KernelOptions.valueOptions,
            flagOptions: ["--timing"])
        guard arguments.positionals.count == 1 else {
            throw .usage(arguments.positionals.isEmpty ? "decode needs a clip" : "decode takes one clip, got \(arguments.positionals.count)")
        }
        let beamWidth: Int, format: String, cropNumbers: [Int]?
        do {
            beamWidth = try arguments.integer("--beam", default: 0, range: 1...maximumBeamWidth)
            format = try arguments.choice("--format", from: ["text", "jsonl"], default: "text")
            cropNumbers = try arguments.integers("--crop", count: 4, separator: ",", range: 0...Y4MClip.maximumDimension,
                                                 example: "X,Y,W,H in pixels such as 80,0,480,480")
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
        let crop = cropNumbers.map { CropRect(x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
            ?? CropRect.fromThousandths(x: model.defaultCrop.x, y: model.defaultCrop.y, width: model.defaultCrop.width,
                                        height: model.defaultCrop.height, frameWidth: clip.width, frameHeight: clip.height)
        let method: CTCDecoder.Method = beamWidth > 0 ? .beam(width: beamWidth) : .greedy

        let started = dactyl_monotonic_ns()
        let recogniser: Recogniser
        do {
            recogniser = try Recogniser(model: model, clip: clip, crop: crop, method: method,
                                        kernelPath: kernel.kernelPath, threads: kernel.threads,
                                        vocabularyBytes: vocabularyFiles?.arenaBytes ?? 0)
        } catch {
            if case .model(let modelError) = error, modelError.kind == .exceedsMemoryLimit {
                throw .failed("\(clip.path): the clip has \(clip.frameCount) frames and decode holds a whole clip in one window: \(modelError.detail)")
            }
            throw .failed("\(clip.path): \(error.description)")
        }
        let encodingStarted = dactyl_monotonic_ns()
        do {
            try recogniser.add(clip: clip)
        } catch {
            // A clip error names the file, offset and frame itself.
            if case .clip(let clipError) = error { throw .failed(clipError.description) }
            throw .failed("\(clip.path): frame \(recogniser.frames): \(error.description)")
        }
        let encodingFinished = dactyl_monotonic_ns()
        let vocabulary = vocabularyFiles.map { files in
            files.install(into: recogniser.vocabularyMemory!, lmWeight: vocabularyOptions!.lmWeight,
                          insertionBonus: vocabularyOptions!.insertionBonus)
        }
        let result = recogniser.makeDecoder(method, vocabulary: vocabulary).decode(logProbs: recogniser.runHead(), frames: recogniser.frames)
        let finished = dactyl_monotonic_ns()

        if arguments.has("--timing") {
            let frames = recogniser.frames
            let encodingSeconds = Double(encodingFinished - encodingStarted) / 1e9
            let totalSeconds = Double(finished - started) / 1e9
            var timing = OutputText()
            timing.line("dactyl: \(frames) frames in \(fixed(Float(totalSeconds), decimals: 3)) s: "
                        + "\(fixed(Float(Double(frames) / encodingSeconds), decimals: 1)) frames/s through the encoder, "
                        + "\(fixed(Float(Double(finished - encodingFinished) / 1e6), decimals: 2)) ms for head and decoding, "
                        + "arena \(grouped(recogniser.layout.plan.arenaBytes)) bytes, kernel path \(kernel.kernelPath.name), "
                        + "\(kernel.threads) thread" + (kernel.threads == 1 ? "" : "s"))
            timing.write(to: 2)
        }
        return format == "jsonl"
            ? jsonReport(clip: clip, model: model, method: method, frames: recogniser.frames, result: result)
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

    static func jsonReport(clip: Y4MClip, model: Model, method: CTCDecoder.Method, frames: Int, result: CTCDecoder.Result) -> OutputText {
        var decoder = "\"decoder\":\"greedy\""
        if case .beam(let width) = method { decoder = "\"decoder\":\"beam\",\"beam\":\(width)" }
        var spans = ""
        for (index, span) in result.spans.enumerated() {
            spans += (index == 0 ? "" : ",")
                + "{\"letter\":\(jsonString(model.alphabet[Int(span.classIndex) - 1])),\"start\":\(span.startFrame),"
                + "\"end\":\(span.endFrame),\"score\":\(fixed(span.score, decimals: 4))}"
        }
        var out = OutputText()
        out.line("{\"clip\":\(jsonString(clip.path)),\"frames\":\(frames),\(decoder),"
                 + "\"letters\":\(jsonString(letters(model, result.labels))),\"spans\":[\(spans)]}")
        return out
    }
}
