import CDactylPlatform
import DactylKernels
import DactylModel
import DactylPipeline

/// `dactyl bench`: how fast this binary runs a model on this CPU.
enum BenchCommand {
    static let usage = """
        usage: dactyl bench [--model FILE] [--input HxW] [--threads N] [--frames N] [--kernel PATH]
                            [--window T] [--layers] [--json]

        Times the pipeline on synthetic frames: per-frame latency (preprocess + encoder, median
        and p90 after a warm-up), frames/s, the encoder's GMAC/s and its share of the kernel
        path's measured peak (a tight loop of its multiply-accumulate instruction, on every
        thread), and the temporal head + greedy decoding for a window of T frames.

          --model FILE       model file (default: the default model)
          --input HxW        encoder input size (default: the model's)
          --frames N         timed frames (default 50), after N/5 (at least 3) warm-up frames
          --window T         frames in the temporal window (default: the model's)
          --layers           also time every encoder op alone (median and minimum over the frames)
          --json             one JSON object instead of the table
        """ + "\n" + KernelOptions.usageLines

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        let arguments = try CommandError.parsing(
            words, valueOptions: ["--model", "--input", "--frames", "--window"] + KernelOptions.valueOptions,
            flagOptions: ["--layers", "--json"])
        guard arguments.positionals.isEmpty else { throw .usage("bench takes no positional arguments") }
        let kernel = try KernelOptions(arguments)
        let model = try loadModel(arguments.value("--model"))
        let frames: Int, window: Int, input: [Int]?
        do {
            frames = try arguments.integer("--frames", default: 50, range: 1...100_000)
            window = try arguments.integer("--window", default: model.defaultWindow, range: 1...100_000)
            input = try arguments.integers("--input", count: 2, separator: "x", range: 1...Model.maximumInputSize,
                                           example: "HxW from 1x1 to \(Model.maximumInputSize)x\(Model.maximumInputSize) such as 112x112")
        } catch {
            throw .usage(error.message)
        }
        var configuration = PipelineConfiguration.modelDefaults(model)
        if let input {
            configuration.inputHeight = input[0]
            configuration.inputWidth = input[1]
        }
        configuration.window = window
        configuration.kernelPath = kernel.kernelPath
        configuration.localiser = model.localiser != nil

        // A synthetic 4:4:4 frame of the input's size (the crop is the whole frame): smooth
        // gradients, so activations are neither all zero nor all saturated.
        let height = configuration.inputHeight, width = configuration.inputWidth
        var planes = [UInt8](repeating: 0, count: 3 * height * width)
        for row in 0..<height {
            for column in 0..<width {
                let index = row * width + column
                planes[index] = UInt8(truncatingIfNeeded: 40 + (row * 7 + column * 3) % 180)
                planes[height * width + index] = UInt8(truncatingIfNeeded: 100 + (row + column) % 50)
                planes[2 * height * width + index] = UInt8(truncatingIfNeeded: 120 + (row * 3) % 40)
            }
        }
        let recogniser: Recogniser
        do {
            recogniser = try Recogniser(model: model, configuration: configuration,
                                        crop: CropRect(x: 0, y: 0, width: width, height: height),
                                        frameWidth: width, frameHeight: height, threads: kernel.threads)
        } catch {
            throw .failed("\(model.path): \(error.description)")
        }
        return planes.withUnsafeBufferPointer { buffer in
            let frame = YUVFrame(width: width, height: height, chroma: .yuv444, colorRange: .full, y: buffer.baseAddress!,
                                 yStride: width, u: buffer.baseAddress! + height * width,
                                 v: buffer.baseAddress! + 2 * height * width, uvStride: width)
            return measure(model: model, recogniser: recogniser, frame: frame, frames: frames, kernel: kernel,
                           layers: arguments.has("--layers"), json: arguments.has("--json"))
        }
    }

    static func median(_ values: [UInt64]) -> Double { percentile(values, 0.5) }

    static func percentile(_ values: [UInt64], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let index = min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction + 0.5))
        return Double(sorted[index])
    }

    static func measure(model: Model, recogniser: Recogniser, frame: YUVFrame, frames: Int, kernel: KernelOptions,
                        layers: Bool, json: Bool) -> OutputText {
        let encoder = recogniser.frameEncoder
        let shapes = recogniser.layout.shapes
        let window = recogniser.window
        var encoderMACs = 0
        for index in model.encoderOps.indices { encoderMACs += model.multiplyAccumulates(encoderOp: index, shapes: shapes) }

        // Warm-up, then whole frames (preprocess + encoder + storing the feature).
        func addFrame() {
            if recogniser.frames == window { recogniser.reset() }
            try? recogniser.add(frame: frame)
        }
        for _ in 0..<max(3, frames / 5) { addFrame() }
        var frameTimes: [UInt64] = []
        frameTimes.reserveCapacity(frames)
        for _ in 0..<frames {
            let start = dactyl_monotonic_ns()
            addFrame()
            frameTimes.append(dactyl_monotonic_ns() &- start)
        }
        // The encoder alone (what other runtimes' latency covers: tensor in, feature out).
        var encoderTimes: [UInt64] = []
        encoderTimes.reserveCapacity(frames)
        for _ in 0..<frames {
            let start = dactyl_monotonic_ns()
            encoder.encode()
            encoderTimes.append(dactyl_monotonic_ns() &- start)
        }
        // Preprocessing alone (crop, scale, colour conversion and quantisation into the input tensor).
        var preprocessTimes: [UInt64] = []
        for _ in 0..<max(3, min(20, frames / 5)) {
            let start = dactyl_monotonic_ns()
            recogniser.preprocessor.write(frame, inputLUT: model.inputLUT, into: encoder.input)
            preprocessTimes.append(dactyl_monotonic_ns() &- start)
        }
        let preprocessMs = median(preprocessTimes) / 1e6
        // Each op alone, on the activations the last frame left.
        var layerTimes = [[UInt64]](repeating: [], count: layers ? encoder.stepCount : 0)
        if layers {
            for _ in 0..<frames {
                for step in 0..<encoder.stepCount {
                    let start = dactyl_monotonic_ns()
                    encoder.run(step: step)
                    layerTimes[step].append(dactyl_monotonic_ns() &- start)
                }
            }
        }
        // The head and greedy decoding over a full window.
        recogniser.reset()
        while recogniser.frames < window { try? recogniser.add(frame: frame) }
        let decoder = recogniser.makeDecoder(.greedy)
        var headTimes: [UInt64] = []
        for _ in 0..<max(3, min(20, frames / 5)) {
            let start = dactyl_monotonic_ns()
            _ = decoder.decode(logProbs: recogniser.runHead(), frames: window)
            headTimes.append(dactyl_monotonic_ns() &- start)
        }

        let localiser = localiserCost(recogniser: recogniser, frame: frame, frames: frames)
        let peakPerThread = kernelPeakMACsPerSecond(kernel.kernelPath)
        let threads = kernel.kernelPath == .scalar ? 1 : kernel.threads
        let peak = peakPerThread * Double(threads)
        let medianNs = median(frameTimes), p90Ns = percentile(frameTimes, 0.9)
        let encoderNs = median(encoderTimes)
        let gmacs = Double(encoderMACs) / encoderNs
        let headMs = median(headTimes) / 1e6

        var out = OutputText()
        if json {
            var text = "{\"model\":\(jsonString(model.path)),\"input\":\"\(shapes[0].height)x\(shapes[0].width)\","
                + "\"kernel\":\"\(kernel.kernelPath.name)\",\"threads\":\(threads),\"frames\":\(frames),"
                + "\"frame_ms_median\":\(fixed(Float(medianNs / 1e6), decimals: 4)),\"frame_ms_p90\":\(fixed(Float(p90Ns / 1e6), decimals: 4)),"
                + "\"frame_ms_min\":\(fixed(Float(Double(frameTimes.min() ?? 0) / 1e6), decimals: 4)),"
                + "\"encoder_ms_median\":\(fixed(Float(encoderNs / 1e6), decimals: 4)),"
                + "\"encoder_ms_min\":\(fixed(Float(Double(encoderTimes.min() ?? 0) / 1e6), decimals: 4)),"
                + "\"frames_per_second\":\(fixed(Float(1e9 / medianNs), decimals: 2)),\"encoder_macs\":\(encoderMACs),"
                + "\"gmac_per_second\":\(fixed(Float(gmacs), decimals: 3)),"
                + "\"peak_gmac_per_second\":\(fixed(Float(peak / 1e9), decimals: 3)),"
                + "\"fraction_of_peak\":\(peak > 0 ? fixed(Float(gmacs * 1e9 / peak), decimals: 4) : "null"),"
                + "\"preprocess_ms\":\(fixed(Float(preprocessMs), decimals: 4)),\"head_window\":\(window),\"head_and_decode_ms\":\(fixed(Float(headMs), decimals: 4))"
            if let localiser {
                text += ",\"localiser_ms\":\(fixed(Float(localiser.runMs), decimals: 4)),\"localiser_interval\":\(localiser.interval),"
                    + "\"localiser_preprocess_ms\":\(fixed(Float(localiser.preprocessMs), decimals: 4)),"
                    + "\"localiser_ms_per_frame\":\(fixed(Float(localiser.runMs / Double(localiser.interval)), decimals: 4)),"
                    + "\"localiser_macs\":\(localiser.macs)"
            }
            if layers {
                text += ",\"layers\":["
                for step in 0..<encoder.stepCount {
                    let macs = model.multiplyAccumulates(encoderOp: step, shapes: shapes)
                    let ns = median(layerTimes[step])
                    text += (step == 0 ? "" : ",") + "{\"op\":\(step),\"name\":\(jsonString(model.encoderOps[step].name)),"
                        + "\"output\":\"\(shapes[model.encoderOps[step].output])\",\"macs\":\(macs),\"fast\":\(encoder.isFast(step: step)),"
                        + "\"winograd\":\(encoder.isWinograd(step: step)),"
                        + "\"ms_median\":\(fixed(Float(ns / 1e6), decimals: 4)),"
                        + "\"ms_min\":\(fixed(Float(Double(layerTimes[step].min() ?? 0) / 1e6), decimals: 4))}"
                }
                text += "]"
            }
            out.line(text + "}")
            return out
        }
        out.line("model \(model.path), input \(shapes[0].height)x\(shapes[0].width), kernel path \(kernel.kernelPath.name), "
                 + "\(threads) thread" + (threads == 1 ? "" : "s") + ", \(frames) frames")
        out.line("frame latency (preprocess + encoder): median \(fixed(Float(medianNs / 1e6), decimals: 3)) ms, "
                 + "p90 \(fixed(Float(p90Ns / 1e6), decimals: 3)) ms, min \(fixed(Float(Double(frameTimes.min() ?? 0) / 1e6), decimals: 3)) ms, "
                 + "\(fixed(Float(1e9 / medianNs), decimals: 1)) frames/s")
        out.line("encoder alone: median \(fixed(Float(encoderNs / 1e6), decimals: 3)) ms, "
                 + "\(fixed(Float(Double(encoderMACs) / 1e9), decimals: 3)) GMAC a frame, \(fixed(Float(gmacs), decimals: 2)) GMAC/s"
                 + (peak > 0 ? ", \(fixed(Float(100 * gmacs * 1e9 / peak), decimals: 1)) % of the measured peak "
                    + "\(fixed(Float(peak / 1e9), decimals: 1)) GMAC/s" : " (no peak loop for the scalar path)"))
        out.line("preprocess alone: \(fixed(Float(preprocessMs), decimals: 3)) ms")
        out.line("temporal head + greedy decoding, window of \(window) frames: \(fixed(Float(headMs), decimals: 3)) ms")
        if let localiser {
            out.line("hand localiser (whole frame to \(localiser.input), preprocess + \(fixed(Float(Double(localiser.macs) / 1e6), decimals: 2)) MMAC): "
                     + "\(fixed(Float(localiser.runMs), decimals: 3)) ms a run (preprocess \(fixed(Float(localiser.preprocessMs), decimals: 3)) ms), "
                     + "every \(localiser.interval) frames: "
                     + "\(fixed(Float(localiser.runMs / Double(localiser.interval)), decimals: 3)) ms a frame "
                     + "(\(fixed(Float(100 * localiser.runMs / Double(localiser.interval) / (medianNs / 1e6)), decimals: 1)) % of the frame latency)")
        }
        if layers {
            // The minimum too: on a shared machine it is what the op costs when it has the core.
            out.line("op  name          output            MMAC     ms  min ms  GMAC/s  % peak  path")
            for step in 0..<encoder.stepCount {
                let op = model.encoderOps[step]
                let macs = model.multiplyAccumulates(encoderOp: step, shapes: shapes)
                let ns = max(median(layerTimes[step]), 1)
                let rate = Double(macs) / ns
                out.line(pad("\(step)", 4) + pad(op.name, 14) + pad("\(shapes[op.output])", 16)
                         + pad(fixed(Float(Double(macs) / 1e6), decimals: 1), 7, left: true)
                         + pad(fixed(Float(ns / 1e6), decimals: 3), 8, left: true)
                         + pad(fixed(Float(Double(layerTimes[step].min() ?? 0) / 1e6), decimals: 3), 8, left: true)
                         + pad(fixed(Float(rate), decimals: 1), 8, left: true)
                         + pad(peak > 0 && encoder.isFast(step: step) ? fixed(Float(100 * rate * 1e9 / peak), decimals: 1) : "-", 8, left: true)
                         + "  " + (encoder.isFast(step: step) ? kernel.kernelPath.name : "scalar")
                         + (encoder.isWinograd(step: step) ? " winograd" : ""))
            }
        }
        return out
    }

    /// The hand localiser's median run (whole frame to its input, its ops, reading the box), if
    /// the model has one.
    static func localiserCost(recogniser: Recogniser, frame: YUVFrame, frames: Int)
        -> (runMs: Double, preprocessMs: Double, interval: Int, macs: Int, input: String)? {
        guard let follower = recogniser.cropFollower else { return nil }
        let localiser = follower.localiser
        for _ in 0..<max(3, frames / 5) { _ = localiser.locate(frame) }
        var times: [UInt64] = [], preprocessTimes: [UInt64] = []
        times.reserveCapacity(frames)
        preprocessTimes.reserveCapacity(frames)
        for _ in 0..<frames {
            let start = dactyl_monotonic_ns()
            localiser.preprocess(frame)
            let preprocessed = dactyl_monotonic_ns()
            localiser.run()
            _ = localiser.readBox(frameWidth: frame.width, frameHeight: frame.height)
            let end = dactyl_monotonic_ns()
            times.append(end &- start)
            preprocessTimes.append(preprocessed &- start)
        }
        return (median(times) / 1e6, median(preprocessTimes) / 1e6, follower.interval, localiser.localiser.multiplyAccumulates,
                "\(localiser.localiser.inputHeight)x\(localiser.localiser.inputWidth)")
    }

    static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let count = text.utf8.count
        guard count < width else { return text + (left ? "" : " ") }
        var spaces = ""
        for _ in 0..<(width - count) { spaces += " " }
        return left ? spaces + text : text + spaces
    }
}
