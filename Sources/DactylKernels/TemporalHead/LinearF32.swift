import CDactylPlatform

/// fp32 fully connected layer applied to every frame: y = W x + b, one OpenBLAS sgemm.
public enum LinearF32 {
    public static func run(
        frames: Int, inFeatures: Int, outFeatures: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        for frame in 0..<frames {
            (output + frame * outFeatures).update(from: bias, count: outFeatures)
        }
        dactyl_sgemm(0, 1, Int32(frames), Int32(outFeatures), Int32(inFeatures), 1,
                     input, Int32(inFeatures), weights, Int32(inFeatures), 1, output, Int32(outFeatures))
    }
}

/// Log-softmax over each frame's classes, in place.
public enum LogSoftmaxF32 {
    public static func run(frames: Int, classes: Int, values: UnsafeMutablePointer<Float>) {
        for frame in 0..<frames {
            let row = values + frame * classes
            var largest = -Float.infinity
            for index in 0..<classes { largest = max(largest, row[index]) }
            var sum: Float = 0
            for index in 0..<classes { sum += dactyl_expf(row[index] - largest) }
            let logNormaliser = largest + dactyl_logf(sum)
            for index in 0..<classes { row[index] -= logNormaliser }
        }
    }
}
