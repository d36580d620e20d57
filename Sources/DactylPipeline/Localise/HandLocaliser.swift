import DactylArena
import DactylKernels
import DactylModel

/// Where the localiser says the signing hand is, in pixels of the frame it ran on
/// (docs/model-format.md, "Reading the box").
public struct HandBox: Equatable, Sendable {
    /// The heatmap's peak reached `presence_logit`.
    public var present: Bool
    public var centreX: Double
    public var centreY: Double
    public var width: Double
    public var height: Double
    /// The peak, dequantised (a logit).
    public var peak: Double
    /// The peak's cell (row, column) in the heatmap.
    public var row: Int
    public var column: Int

    public init(present: Bool, centreX: Double, centreY: Double, width: Double, height: Double, peak: Double, row: Int, column: Int) {
        self.present = present
        self.centreX = centreX
        self.centreY = centreY
        self.width = width
        self.height = height
        self.peak = peak
        self.row = row
        self.column = column
    }
}

/// The hand localiser on the recogniser's arena: the whole frame resized to its input with its
/// own LUT (`FrameToInput` with crop = the frame), its int8 graph on the encoder's runner (same
/// kernels, packed weights and thread pool), and the box read from its heat and box maps.
/// Everything was planned by `PipelineLayout`; `locate` allocates nothing.
public struct HandLocaliser {
    public let localiser: Localiser
    public let preprocessor: FrameToInput
    /// The localiser's int8 graph.
    public let graph: FrameEncoder
    let heat: UnsafePointer<Int8>
    let box: UnsafePointer<Int8>

    /// On the buffers `layout` planned for the localiser (`PipelineConfiguration.localiser`).
    public init(model: Model, layout: PipelineLayout, arena: Arena, frameWidth: Int, frameHeight: Int,
                kernelPath: KernelPath, pool: EncoderThreadPool?) throws(PipelineError) {
        guard let localiser = model.localiser, let buffers = layout.localiser else {
            throw .model(ModelError(.missingSection, path: model.path, offset: Model.headerSize,
                                    "the model has no hand localiser (sections LMET, LTEN, LOPS)"))
        }
        self.localiser = localiser
        do {
            preprocessor = try FrameToInput(
                crop: CropRect(x: 0, y: 0, width: frameWidth, height: frameHeight), frameWidth: frameWidth, frameHeight: frameHeight,
                outputHeight: localiser.inputHeight, outputWidth: localiser.inputWidth,
                workspace: arena.base + layout.plan.offsets[buffers.preprocessWorkspace])
        } catch {
            throw .preprocess(error)
        }
        graph = FrameEncoder(
            ops: localiser.ops, tensors: localiser.tensors, shapes: buffers.shapes, output: localiser.heatTensor,
            kernelPath: kernelPath, pool: pool,
            packedMemory: { op in buffers.packedWeights[op].map { arena.base + layout.plan.offsets[$0] } },
            tensorMemory: { arena.buffer(buffers.tensorBuffers[$0], as: Int8.self) })
        heat = UnsafePointer(arena.buffer(buffers.tensorBuffers[localiser.heatTensor], as: Int8.self))
        box = UnsafePointer(arena.buffer(buffers.tensorBuffers[localiser.boxTensor], as: Int8.self))
    }

    /// The localiser's quantised input (valid after `preprocess`, until `run` overwrites memory it shares).
    public var input: UnsafeMutablePointer<Int8> { graph.input }
    public var inputCount: Int { localiser.inputHeight * localiser.inputWidth * 3 }
    /// The heatmap (Hh x Wh) and box map (Hh x Wh x 4), valid after `run`.
    public var heatMap: UnsafePointer<Int8> { heat }
    public var boxMap: UnsafePointer<Int8> { box }

    /// The whole frame, resized and quantised into the localiser's input.
    public func preprocess(_ frame: YUVFrame) {
        preprocessor.write(frame, inputLUT: localiser.inputLUT, into: graph.input)
    }

    /// Runs the localiser's ops on its input.
    public func run() { graph.encode() }

    /// Preprocesses `frame`, runs the localiser and reads the box.
    public func locate(_ frame: YUVFrame) -> HandBox {
        preprocess(frame)
        run()
        return readBox(frameWidth: preprocessor.frameWidth, frameHeight: preprocessor.frameHeight)
    }

    /// The spec's rule: the cell with the largest int8 heat (the first in row-major order on
    /// ties); present if its dequantised value reaches `presence_logit`; the box channels there,
    /// dequantised, place the centre in the cell and give the size as fractions of the frame.
    public func readBox(frameWidth: Int, frameHeight: Int) -> HandBox {
        HandLocaliser.readBox(localiser: localiser, heat: heat, box: box, frameWidth: frameWidth, frameHeight: frameHeight)
    }

    public static func readBox(localiser: Localiser, heat: UnsafePointer<Int8>, box: UnsafePointer<Int8>,
                               frameWidth: Int, frameHeight: Int) -> HandBox {
        let shape = localiser.heatShape
        var best = 0
        for cell in 1..<(shape.height * shape.width) where heat[cell] > heat[best] { best = cell }
        let heatInfo = localiser.tensors[localiser.heatTensor], boxInfo = localiser.tensors[localiser.boxTensor]
        // f32 scale times a small integer is exact in Double, so the comparison is the real one.
        let peak = Double(heatInfo.scale) * Double(Int32(heat[best]) - heatInfo.zeroPoint)
        func channel(_ index: Int) -> Double {
            Double(boxInfo.scale) * Double(Int32(box[best * 4 + index]) - boxInfo.zeroPoint)
        }
        let row = best / shape.width, column = best % shape.width
        return HandBox(
            present: peak >= Double(localiser.presenceLogit),
            centreX: (Double(column) + channel(0)) / Double(shape.width) * Double(frameWidth),
            centreY: (Double(row) + channel(1)) / Double(shape.height) * Double(frameHeight),
            width: channel(2) * Double(frameWidth), height: channel(3) * Double(frameHeight),
            peak: peak, row: row, column: column)
    }
}
