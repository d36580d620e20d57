import DactylArena
import DactylKernels
import DactylModel
import DactylPipeline

/// `dactyl inspect`: the model's ops with shapes and MACs, and the memory plan.
enum InspectCommand {
    static let usage = """
        usage: dactyl inspect [MODEL] [--input HxW] [--window N] [--beam N] [--planner greedy|linear] [--kernel PATH]

        Prints the model's ops with their shapes and multiply-accumulates, and the memory plan:
        every buffer's size, offset and lifetime in the one arena, and the arena's size.

          MODEL              model file (default: the default model, see `dactyl help`)
          --input HxW        encoder input size (default: the model's)
          --window N         temporal window in frames (default: the model's)
          --beam N           plan for prefix beam search of width N (default: greedy only)
          --planner NAME     greedy: share memory between buffers by lifetime (default);
                             linear: give every buffer its own memory (for debugging)
          --kernel PATH      plan for this kernel path's packed weights (default: $DACTYL_KERNEL, else
                             the fastest this CPU runs; scalar packs nothing)
        """

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        let arguments = try CommandError.parsing(words, valueOptions: ["--input", "--window", "--beam", "--planner", "--kernel"])
        guard arguments.positionals.count <= 1 else {
            throw .usage("inspect takes one model file, got \(arguments.positionals.count) arguments")
        }
        let kernel = try KernelOptions(arguments)
        let model = try loadModel(arguments.positionals.first)
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.kernelPath = kernel.kernelPath
        configuration.localiser = model.localiser != nil
        do {
            if let size = try arguments.integers("--input", count: 2, separator: "x", range: 1...Model.maximumInputSize,
                                                 example: "HxW from 1x1 to \(Model.maximumInputSize)x\(Model.maximumInputSize) such as 112x112") {
                configuration.inputHeight = size[0]
                configuration.inputWidth = size[1]
            }
            configuration.window = try arguments.integer("--window", default: model.defaultWindow, range: 1...100_000)
            configuration.beamWidth = try arguments.integer("--beam", default: 0, range: 0...maximumBeamWidth)
            configuration.strategy = try arguments.choice("--planner", from: ["greedy", "linear"], default: "greedy") == "linear"
                ? .linear : .greedyBySize
        } catch {
            throw .usage(error.message)
        }
        let layout: PipelineLayout
        do {
            layout = try PipelineLayout(model: model, configuration: configuration)
        } catch {
            throw .failed(error.description)
        }
        return report(model: model, layout: layout)
    }

    /// One row per int8 op (the encoder's or the localiser's): tensors with shapes, geometry, MACs;
    /// returns the total MACs.
    static func int8OpTable(_ ops: [EncoderOp], shapes: [TensorShape], into out: inout OutputText) -> Int {
        out.line("  #   op                 input          output         kernel  stride  pad  relu  residual  MACs")
        var total = 0
        for (index, op) in ops.enumerated() {
            let macs = op.multiplyAccumulates(shapes: shapes)
            total += macs
            var kernel = "-", stride = "-", pad = "-", relu = "-", residual = "-"
            switch op {
            case .conv2d(let conv):
                kernel = "\(conv.kernelHeight)x\(conv.kernelWidth)"
                stride = "\(conv.strideHeight)"
                pad = "\(conv.padHeight)"
                relu = conv.relu ? "yes" : "no"
                residual = conv.residual.map { "t\($0)" } ?? "-"
            case .maxPool2d(let pool):
                kernel = "\(pool.kernelHeight)x\(pool.kernelWidth)"
                stride = "\(pool.strideHeight)"
                pad = "\(pool.padHeight)"
            case .globalAvgPool:
                break
            }
            out.line("  " + padRight("\(index)", 4) + padRight(op.name, 19)
                     + padRight("t\(op.input) \(shapes[op.input])", 15) + padRight("t\(op.output) \(shapes[op.output])", 15)
                     + padRight(kernel, 8) + padRight(stride, 8) + padRight(pad, 5) + padRight(relu, 6) + padRight(residual, 10)
                     + grouped(macs))
        }
        return total
    }

    /// The hand localiser: input, ops with shapes and MACs, interval and its cost beside the encoder's.
    static func localiserReport(_ localiser: Localiser, model: Model, encoderMACs: Int, into out: inout OutputText) {
        let seconds = Double(localiser.interval) / model.frameRate.perSecond
        out.line("hand localiser, int8, every \(localiser.interval) frames (\(fixed(Float(seconds * 1000), decimals: 0)) ms at the model's rate); "
                 + "input \(localiser.inputHeight)x\(localiser.inputWidth)x3 (the whole frame), presence logit \(fixed(localiser.presenceLogit, decimals: 3))")
        _ = int8OpTable(localiser.ops, shapes: localiser.shapes, into: &out)
        let macs = localiser.multiplyAccumulates
        let share = encoderMACs > 0 ? Float(macs) / Float(localiser.interval) / Float(encoderMACs) * 100 : 0
        out.line("  total \(grouped(macs)) MACs per run, \(grouped(macs / localiser.interval)) per frame amortised "
                 + "(\(fixed(share, decimals: 1)) % of the encoder's); heat t\(localiser.heatTensor) \(localiser.heatShape), "
                 + "box t\(localiser.boxTensor); weights \(grouped(localiser.weightBytes)) bytes")
        out.line()
    }

    static func report(model: Model, layout: PipelineLayout) -> OutputText {
        let configuration = layout.configuration
        var out = OutputText()
        out.line("model      \(model.path) (format 1.\(model.versionMinor), \(grouped(model.fileBytes)) bytes)")
        if !model.info.isEmpty { out.line("info       \(model.info)") }
        var symbols = ""
        for symbol in model.alphabet { symbols += symbol }
        out.line("alphabet   \(model.alphabet.count) symbols + CTC blank: \(jsonString(symbols))")
        let crop = model.defaultCrop
        out.line("input      \(configuration.inputHeight)x\(configuration.inputWidth)x3 RGB int8 (model default \(model.inputHeight)x\(model.inputWidth)); default crop x \(crop.x) y \(crop.y) w \(crop.width) h \(crop.height) (thousandths of the frame)")
        out.line("frame rate \(model.frameRate) frames/s" + (model.frameRateIsRecorded ? "" : " (no RATE section: assumed)")
                 + "; sources at other rates are resampled to it")
        out.line("window     \(configuration.window) frames (model default \(model.defaultWindow))")
        out.line("kernels    \(configuration.kernelPath.name)")
        out.line()

        out.line("encoder, int8, per frame")
        let encoderMACs = int8OpTable(model.encoderOps, shapes: layout.shapes, into: &out)
        out.line("  total \(grouped(encoderMACs)) MACs per frame; feature t\(model.featureTensor), \(model.featureSize) values")
        out.line()
        if let localiser = model.localiser { localiserReport(localiser, model: model, encoderMACs: encoderMACs, into: &out) }

        let window = configuration.window
        out.line("temporal head, fp32, per window of \(window) frames")
        out.line("  #   op                 channels              MACs")
        var headMACs = 0
        for (index, op) in model.headOps.enumerated() {
            let macs = model.multiplyAccumulates(headOp: index, frames: window)
            headMACs += macs
            var detail = "\(op.inChannels) -> \(op.outChannels)"
            switch op {
            case .conv1d(let conv): detail += " k\(conv.kernel)" + (conv.relu ? " relu" : "")
            case .biGRU(let gru): detail = "\(gru.inputSize) -> 2x\(gru.hiddenSize)"
            default: break
            }
            out.line("  " + padRight("\(index)", 4) + padRight(op.name, 19) + padRight(detail, 22) + grouped(macs))
        }
        out.line("  total \(grouped(headMACs)) MACs per window (\(grouped(headMACs / window)) per frame)")
        out.line("  all together \(grouped(encoderMACs + headMACs / window)) MACs per frame")
        out.line()

        let plan = layout.plan
        let strategy = plan.strategy == .linear ? "linear, no sharing" : "greedy by size, shared by lifetime"
        out.line("memory plan (\(strategy); 64-byte aligned)")
        out.line("  buffer                                        bytes      offset     live steps")
        for (index, request) in plan.requests.enumerated() {
            out.line("  " + padRight(request.name, 44) + padLeft(grouped(request.bytes), 11) + padLeft(grouped(plan.offsets[index]), 12)
                     + "     \(request.firstStep)-\(request.lastStep)")
        }
        let largest = plan.largestLiveSet
        out.line("  arena \(grouped(plan.arenaBytes)) bytes (without sharing \(grouped(plan.unsharedBytes)))")
        out.line("  largest live set \(grouped(largest.bytes)) bytes at step \(largest.step) (\(layout.stepNames[largest.step]))")
        out.line("  weights \(grouped(model.weightBytes)) bytes, mapped read-only from the model file")
        return out
    }
}
