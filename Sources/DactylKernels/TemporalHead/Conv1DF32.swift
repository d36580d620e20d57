import CDactylPlatform

/// fp32 1-D convolution over time, [frames][inChannels] -> [frames][outChannels], zero padding
/// kernel/2 at both ends. Lowered to one OpenBLAS sgemm through an im2col buffer.
public enum Conv1DF32 {
    /// Floats of scratch `run` needs.
    public static func scratchFloats(frames: Int, inChannels: Int, kernel: Int) -> Int {
        frames * kernel * inChannels
    }

    public static func run(
        frames: Int, inChannels: Int, outChannels: Int, kernel: Int, relu: Bool,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        let rowLength = kernel * inChannels
        let half = kernel / 2
        for frame in 0..<frames {
            for tap in 0..<kernel {
                let source = frame + tap - half
                let destination = scratch + frame * rowLength + tap * inChannels
                if source >= 0 && source < frames {
                    destination.update(from: input + source * inChannels, count: inChannels)
                } else {
                    destination.update(repeating: 0, count: inChannels)
                }
            }
            (output + frame * outChannels).update(from: bias, count: outChannels)
        }
        dactyl_sgemm(0, 1, Int32(frames), Int32(outChannels), Int32(rowLength), 1,
                     scratch, Int32(rowLength), weights, Int32(rowLength), 1, output, Int32(outChannels))
        if relu {
            for index in 0..<frames * outChannels where output[index] < 0 { output[index] = 0 }
        }
    }
}
