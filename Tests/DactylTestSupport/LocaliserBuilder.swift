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
        var editor = ModelFileEditor(model)
        var data = editor.section("DATA")
        func place(_ bytes: Data) -> UInt32 {
            data.append(Data(count: (64 - data.count % 64) % 64))
            let offset = UInt32(data.count)
            data.append(bytes)
            return offset
        }
        func int32s(_ values: [Int32]) -> Data {
            var bytes = Data()
            for value in values { bytes.appendU32(UInt32(bitPattern: value)) }
            return bytes
        }
        let lut = place(Data((0..<3).flatMap { _ in (0..<256).map { UInt8(bitPattern: Int8($0 - 128)) } }))
        let taps = Int(cell * cell * 3)
        let heatWeights = place(Data(repeating: 1, count: taps))
        let heatBias = place(int32s([0]))
        // 2^30 / 2^36 = 1/64: a cell's sum of 48 (v − 128) becomes about its mean · 3/4.
        let heatMultiplier = place(int32s([1 << 30]))
        let heatShift = place(int32s([30 + Int32(log2(Double(taps) * 4 / 3).rounded())]))
        let boxWeights = place(Data(count: 4 * taps))
        let boxBias = place(int32s([50, 50, boxWidth, boxHeight]))
        let boxMultiplier = place(int32s([Int32](repeating: 1 << 30, count: 4)))
        let boxShift = place(int32s([Int32](repeating: 30, count: 4)))
        editor.setSection("DATA", data)

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
        editor.sections.append((tag: "LMET", bytes: meta))
        editor.sections.append((tag: "LTEN", bytes: tensors))
        editor.sections.append((tag: "LOPS", bytes: ops))
        editor.header[10] = 2
        editor.header[11] = 0
        return editor.serialized()
    }
}
