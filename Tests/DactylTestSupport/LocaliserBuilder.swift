import Foundation

/// Adds a hand localiser (`LMET`, `LTEN`, `LOPS`, docs/model-format.md) to a model file, for
/// tests: one that finds a bright patch. The whole frame goes to an `inputHeight` x `inputWidth`
/// input (LUT: q = v − 128); the heatmap is a `cell` x `cell`, stride-`cell` convolution with
/// every weight 1 (a cell's mean brightness: (mean − 128)·3/4, about 95 for white, −51 for
/// a grey of 60), so its peak is the brightest cell; the box map is constant: the centre in the
/// middle of the cell and the given size (fractions of the frame, in hundredths).
public struct LocaliserBuilder {
    public var inputHeight: UInt32 = 24
    public var inputWidth: UInt32 = 32
    public var cell: UInt32 = 4
    /// The heat's scale is 0.1, so the peak logit is a tenth of its int8 value.
    public var presenceLogit: Float = 3.0
    public var interval: UInt32 = 2
    /// Box width and height in hundredths of the frame's.
    public var boxWidth: Int32 = 30
    public var boxHeight: Int32 = 40

    public init() {}

    /// `model` (a file without a localiser) with this localiser, format 1.2.
    public func adding(to model: Data) -> Data {
        var file = LocaliserFile(model)
        func place(_ bytes: Data) -> UInt32 { file.place(bytes) }
        let lut = place(Data((0..<3).flatMap { _ in (0..<256).map { UInt8(bitPattern: Int8($0 - 128)) } }))
        let taps = Int(cell * cell * 3)
        let heatWeights = place(Data(repeating: 1, count: taps))
        let heatBias = place(LocaliserFile.int32s([0]))
        // 2^30 / 2^36 = 1/64: a cell's sum of 48 (v − 128) becomes about its mean · 3/4.
        let heatMultiplier = place(LocaliserFile.int32s([1 << 30]))
        let heatShift = place(LocaliserFile.int32s([30 + Int32(log2(Double(taps) * 4 / 3).rounded())]))
        let boxWeights = place(Data(count: 4 * taps))
        let boxBias = place(LocaliserFile.int32s([50, 50, boxWidth, boxHeight]))
        let boxMultiplier = place(LocaliserFile.int32s([Int32](repeating: 1 << 30, count: 4)))
        let boxShift = place(LocaliserFile.int32s([Int32](repeating: 30, count: 4)))

        var meta = Data()
        for value in [inputHeight, inputWidth, 3, lut, 1, 2, presenceLogit.bitPattern, interval] { meta.appendU32(value) }
        meta.append(Data(count: 32))
        var tensors = Data()
        tensors.appendU32(3)
        for (channels, scale) in [(UInt32(3), Float(1) / 128), (1, 0.1), (4, 0.01)] {
            tensors.appendU32(channels)
            tensors.appendU32(scale.bitPattern)
            tensors.appendU32(0)
            tensors.appendU32(0)
        }
        var ops = Data()
        ops.appendU32(2)
        for (output, weights, bias, multiplier, shift) in [(UInt32(1), heatWeights, heatBias, heatMultiplier, heatShift),
                                                          (2, boxWeights, boxBias, boxMultiplier, boxShift)] {
            for field in [1, 72, 0, output, 0xFFFF_FFFF, cell, cell, cell, cell, 0, 0, 0, weights, bias, multiplier, shift, 0, 0] {
                ops.appendU32(field)
            }
        }
        return file.serialized(meta: meta, tensors: tensors, ops: ops)
    }

    /// `model` with a localiser of random weights over every kind of op and fast-path case the
    /// kernels have (strided 3x3 with padding and ReLU on 3 channels, max pool, a residual,
    /// 1x1 heads of 1 and 4 channels), for comparing kernel paths bit for bit.
    public static func randomGraph(adding model: Data, seed: UInt64, inputHeight: UInt32 = 48, inputWidth: UInt32 = 64,
                                   presenceLogit: Float = -1) -> Data {
        var random = SplitMix64(seed: seed)
        var file = LocaliserFile(model)
        func place(_ bytes: Data) -> UInt32 { file.place(bytes) }
        var lutBytes = Data()
        for channel in 0..<3 {
            for value in 0..<256 {
                let q: Int = (value * (3 + channel)) / 4 - 128 / (channel + 1)
                lutBytes.append(UInt8(bitPattern: Int8(clamping: q)))
            }
        }
        let lut = place(lutBytes)
        // (input, output, residual, kernel, stride, pad, relu, in, out) or a max pool (kernel 0 marks it).
        let tensorChannels: [UInt32] = [3, 8, 8, 8, 1, 4]
        var ops = Data()
        ops.appendU32(5)
        func conv(_ input: UInt32, _ output: UInt32, residual: UInt32?, kernel: UInt32, stride: UInt32, pad: UInt32, relu: UInt32) {
            let inC = Int(tensorChannels[Int(input)]), outC = Int(tensorChannels[Int(output)])
            let taps = Int(kernel * kernel) * inC
            var weightBytes = Data()
            for _ in 0..<outC * taps { weightBytes.append(UInt8(bitPattern: Int8(Int(random.next() % 255) - 127))) }
            let weights = place(weightBytes)
            var biases: [Int32] = [], multiplierValues: [Int32] = [], shiftValues: [Int32] = []
            for _ in 0..<outC {
                biases.append(Int32(Int(random.next() % 2001) - 1000))
                multiplierValues.append(Int32((1 << 30) + Int(random.next() % (1 << 30))))
                // Sums of up to ~72 products of ~64·127: shifts that spread the outputs over int8.
                let extra: Int32 = taps > 40 ? 2 : 0
                shiftValues.append(Int32(37 + Int(random.next() % 3)) + extra)
            }
            let bias = place(LocaliserFile.int32s(biases))
            let multipliers = place(LocaliserFile.int32s(multiplierValues))
            let shifts = place(LocaliserFile.int32s(shiftValues))
            let residualFields: [UInt32] = residual == nil ? [0, 0] : [1 << 30, 31]
            let fields: [UInt32] = [1, 72, input, output, residual ?? 0xFFFF_FFFF, kernel, kernel, stride, stride, pad, pad, relu,
                                    weights, bias, multipliers, shifts] + residualFields
            for field in fields {
                ops.appendU32(field)
            }
        }
        conv(0, 1, residual: nil, kernel: 3, stride: 2, pad: 1, relu: 1)
        for field: UInt32 in [2, 40, 1, 2, 3, 3, 2, 2, 1, 1] { ops.appendU32(field) }
        conv(2, 3, residual: 2, kernel: 3, stride: 1, pad: 1, relu: 1)
        conv(3, 4, residual: nil, kernel: 1, stride: 1, pad: 0, relu: 0)
        conv(3, 5, residual: nil, kernel: 1, stride: 1, pad: 0, relu: 0)

        var meta = Data()
        for value in [inputHeight, inputWidth, 3, lut, 4, 5, presenceLogit.bitPattern, 3] { meta.appendU32(value) }
        meta.append(Data(count: 32))
        var tensors = Data()
        tensors.appendU32(UInt32(tensorChannels.count))
        for (id, channels) in tensorChannels.enumerated() {
            tensors.appendU32(channels)
            tensors.appendU32(Float(0.02 + 0.01 * Double(id)).bitPattern)
            // Tensor 2 is tensor 1 max-pooled: the same quantisation.
            tensors.appendU32(UInt32(bitPattern: Int32([-5, 3, 3, -7, 10, -2][id])))
            tensors.appendU32(0)
        }
        // The pool's output shares its input's scale.
        tensors.setU32(at: 4 + 2 * 16 + 4, Float(0.03).bitPattern)
        return file.serialized(meta: meta, tensors: tensors, ops: ops)
    }
}

/// A model file being given a localiser: its `DATA` with the localiser's arrays appended, then the
/// three sections and format 1.2.
private struct LocaliserFile {
    var editor: ModelFileEditor
    var data: Data

    init(_ model: Data) {
        editor = ModelFileEditor(model)
        // A model that has a localiser already (models/default.dmdl) gets this one instead.
        editor.sections.removeAll { ["LMET", "LTEN", "LOPS"].contains($0.tag) }
        data = editor.section("DATA")
    }

    /// Appends `bytes` to `DATA` on a 64-byte boundary; returns their offset.
    mutating func place(_ bytes: Data) -> UInt32 {
        data.append(Data(count: (64 - data.count % 64) % 64))
        let offset = UInt32(data.count)
        data.append(bytes)
        return offset
    }

    static func int32s(_ values: [Int32]) -> Data {
        var bytes = Data()
        for value in values { bytes.appendU32(UInt32(bitPattern: value)) }
        return bytes
    }

    func serialized(meta: Data, tensors: Data, ops: Data) -> Data {
        var editor = editor
        editor.setSection("DATA", data)
        editor.sections.append((tag: "LMET", bytes: meta))
        editor.sections.append((tag: "LTEN", bytes: tensors))
        editor.sections.append((tag: "LOPS", bytes: ops))
        editor.header[10] = 2
        editor.header[11] = 0
        return editor.serialized()
    }
}
