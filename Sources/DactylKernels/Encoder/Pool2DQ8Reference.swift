/// int8 max pooling, scalar reference. Taps in the padding are skipped, so padding never wins.
public func maxPool2dQ8Reference(
    window: Window2D, channels: Int, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
) {
    for outputRow in 0..<window.outputHeight {
        let rows = window.validKernelRows(outputRow)
        let top = outputRow * window.strideHeight - window.padHeight
        for outputColumn in 0..<window.outputWidth {
            let columns = window.validKernelColumns(outputColumn)
            let left = outputColumn * window.strideWidth - window.padWidth
            let destination = output + (outputRow * window.outputWidth + outputColumn) * channels
            for channel in 0..<channels {
                var largest = Int8.min
                for kernelRow in rows {
                    for kernelColumn in columns {
                        largest = max(largest, input[((top + kernelRow) * window.inputWidth + left + kernelColumn) * channels + channel])
                    }
                }
                destination[channel] = largest
            }
        }
    }
}

/// int8 global average pooling, scalar reference: the integer mean rounded half up, then
/// requantised (docs/model-format.md).
public func globalAvgPoolQ8Reference(
    pixels: Int, channels: Int, input: UnsafePointer<Int8>, inputZeroPoint: Int32,
    multiplier: Int32, shift: Int32, outputZeroPoint: Int32, output: UnsafeMutablePointer<Int8>
) {
    let count = Int64(pixels)
    for channel in 0..<channels {
        var sum: Int64 = 0
        for pixel in 0..<pixels {
            sum &+= Int64(input[pixel * channels + channel]) &- Int64(inputZeroPoint)
        }
        let mean = floorDivide(2 &* sum &+ count, 2 &* count)
        let value = rndnu(mean &* Int64(multiplier), shift: shift) &+ Int64(outputZeroPoint)
        output[channel] = clampToInt8(value, lowerBound: -128)
    }
}

@inline(__always)
func floorDivide(_ numerator: Int64, _ denominator: Int64) -> Int64 {
    let quotient = numerator / denominator
    return (numerator % denominator != 0 && (numerator < 0) != (denominator < 0)) ? quotient - 1 : quotient
}
