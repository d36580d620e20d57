/// Geometry of a 2-D convolution or pooling window over an NHWC frame.
public struct Window2D: Sendable {
    public var inputHeight: Int
    public var inputWidth: Int
    public var outputHeight: Int
    public var outputWidth: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var padHeight: Int
    public var padWidth: Int

    public init(inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int,
                kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                padHeight: Int, padWidth: Int) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.padHeight = padHeight
        self.padWidth = padWidth
    }

    /// Kernel rows that fall inside the input for output row `outputRow`.
    @inline(__always)
    func validKernelRows(_ outputRow: Int) -> Range<Int> {
        let top = outputRow * strideHeight - padHeight
        return max(0, -top)..<min(kernelHeight, inputHeight - top)
    }

    @inline(__always)
    func validKernelColumns(_ outputColumn: Int) -> Range<Int> {
        let left = outputColumn * strideWidth - padWidth
        return max(0, -left)..<min(kernelWidth, inputWidth - left)
    }
}

/// The fused output stage of an int8 convolution: per-channel requantisation, the optional
/// residual add, the zero point and ReLU, applied to the int32 accumulator in one pass.
public struct Conv2DQ8OutputStage {
    public var multipliers: UnsafePointer<Int32>
    public var shifts: UnsafePointer<Int32>
    public var outputZeroPoint: Int32
    public var relu: Bool
    /// Tensor of the output's shape added after requantisation, or nil.
    public var residual: UnsafePointer<Int8>?
    public var residualZeroPoint: Int32
    public var residualMultiplier: Int32
    public var residualShift: Int32

    public init(multipliers: UnsafePointer<Int32>, shifts: UnsafePointer<Int32>, outputZeroPoint: Int32,
                relu: Bool, residual: UnsafePointer<Int8>? = nil, residualZeroPoint: Int32 = 0,
                residualMultiplier: Int32 = 0, residualShift: Int32 = 1) {
        self.multipliers = multipliers
        self.shifts = shifts
        self.outputZeroPoint = outputZeroPoint
        self.relu = relu
        self.residual = residual
        self.residualZeroPoint = residualZeroPoint
        self.residualMultiplier = residualMultiplier
        self.residualShift = residualShift
    }

    /// The output value of `channel` at element `index` of the output tensor.
    @inline(__always)
    public func apply(_ accumulator: Int32, channel: Int, index: Int) -> Int8 {
        var value = rndnu(Int64(accumulator) &* Int64(multipliers[channel]), shift: shifts[channel])
        if let residual {
            let centred = Int64(residual[index]) &- Int64(residualZeroPoint)
            value &+= rndnu(centred &* Int64(residualMultiplier), shift: residualShift)
        }
        value &+= Int64(outputZeroPoint)
        return clampToInt8(value, lowerBound: relu ? max(Int64(outputZeroPoint), -128) : -128)
    }
}

/// int8 2-D convolution, scalar reference: NHWC input, OHWI per-channel weights, int32
/// accumulation, the fused output stage. Every fast path must match it bit for bit.
public func conv2dQ8Reference(
    window: Window2D, inputChannels: Int, outputChannels: Int,
    input: UnsafePointer<Int8>, inputZeroPoint: Int32,
    weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>,
    outputStage: Conv2DQ8OutputStage, output: UnsafeMutablePointer<Int8>
) {
    let kernelArea = window.kernelHeight * window.kernelWidth * inputChannels
    for outputRow in 0..<window.outputHeight {
        let rows = window.validKernelRows(outputRow)
        let top = outputRow * window.strideHeight - window.padHeight
        for outputColumn in 0..<window.outputWidth {
            let columns = window.validKernelColumns(outputColumn)
            let left = outputColumn * window.strideWidth - window.padWidth
            let outputIndex = (outputRow * window.outputWidth + outputColumn) * outputChannels
            for channel in 0..<outputChannels {
                var accumulator = bias[channel]
                let filter = weights + channel * kernelArea
                for kernelRow in rows {
                    for kernelColumn in columns {
                        let pixel = input + ((top + kernelRow) * window.inputWidth + left + kernelColumn) * inputChannels
                        let taps = filter + (kernelRow * window.kernelWidth + kernelColumn) * inputChannels
                        for inputChannel in 0..<inputChannels {
                            accumulator &+= (Int32(pixel[inputChannel]) &- inputZeroPoint) &* Int32(taps[inputChannel])
                        }
                    }
                }
                output[outputIndex + channel] = outputStage.apply(accumulator, channel: channel, index: outputIndex + channel)
            }
        }
    }
}
