import CDactylKernels
import CDactylPlatform

/// An int8 conv2d on a fast path (Sources/CDactylKernels): weights packed for the path once,
/// tensors bound once; `run` computes exactly what `conv2dQ8Reference` computes.
public final class FastConv2DQ8 {
    let descriptor: UnsafeMutablePointer<dactyl_conv2d_q8>
    public let path: KernelPath

    /// Whether a 3x3 stride-1 conv may run as int8 Winograd F(4x4, 3x3) (the NEON smull path
    /// only; conv2d_q8_neon_winograd.c). `.chosen`: the packer's rule (enough 4x4 tiles and input
    /// channels), which `DACTYL_WINOGRAD=0` / `=1` turns off / on; `.forced` / `.off` override both
    /// (tests). Winograd runs only where its exact recovery holds for the weights, forced or not.
    public enum Winograd: Int32 { case chosen = 0, forced = 1, off = -1 }

    /// Runs as Winograd F(4x4, 3x3) (chosen at pack time).
    public var usesWinograd: Bool { descriptor.pointee.winograd != 0 }

    /// The NEON paths' output stage runs in 32-bit lanes (chosen at pack time: every shift >= 32,
    /// and the residual's >= 18; conv2d_q8_neon_common.h), not in 64-bit ones.
    public var usesRequant32: Bool {
        descriptor.pointee.requant_32bit != 0 && (descriptor.pointee.residual == nil || descriptor.pointee.residual_32bit != 0)
    }

    static func describe(window: Window2D, inputChannels: Int, outputChannels: Int) -> dactyl_conv2d_q8 {
        var conv = dactyl_conv2d_q8()
        conv.input_height = Int32(window.inputHeight)
        conv.input_width = Int32(window.inputWidth)
        conv.input_channels = Int32(inputChannels)
        conv.output_height = Int32(window.outputHeight)
        conv.output_width = Int32(window.outputWidth)
        conv.output_channels = Int32(outputChannels)
        conv.kernel_height = Int32(window.kernelHeight)
        conv.kernel_width = Int32(window.kernelWidth)
        conv.stride_height = Int32(window.strideHeight)
        conv.stride_width = Int32(window.strideWidth)
        conv.pad_height = Int32(window.padHeight)
        conv.pad_width = Int32(window.padWidth)
        return conv
    }

    /// Bytes of packed weights the conv needs on `path`; 0 when the path keeps the reference
    /// for it (the scalar path, a path this binary lacks, or a kernel row too long).
    public static func packedBytes(window: Window2D, inputChannels: Int, outputChannels: Int, path: KernelPath,
                                   winograd: Winograd = .chosen) -> Int {
        guard let number = path.fastPathNumber else { return 0 }
        var conv = describe(window: window, inputChannels: inputChannels, outputChannels: outputChannels)
        conv.winograd_mode = winograd.rawValue
        return dactyl_conv2d_q8_packed_bytes(&conv, number)
    }

    /// Packs OHWI `weights`, `bias` and the output stage's per-channel constants into
    /// `packedMemory` (`packedBytes` bytes, 64-byte aligned) and binds the tensors.
    public init(window: Window2D, inputChannels: Int, outputChannels: Int, path: KernelPath,
                input: UnsafePointer<Int8>, inputZeroPoint: Int32, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>,
                outputStage: Conv2DQ8OutputStage, output: UnsafeMutablePointer<Int8>, packedMemory: UnsafeMutableRawPointer,
                winograd: Winograd = .chosen) {
        var conv = FastConv2DQ8.describe(window: window, inputChannels: inputChannels, outputChannels: outputChannels)
        conv.winograd_mode = winograd.rawValue
        conv.input_zero_point = inputZeroPoint
        conv.output_zero_point = outputStage.outputZeroPoint
        conv.relu = outputStage.relu ? 1 : 0
        conv.residual_zero_point = outputStage.residualZeroPoint
        conv.residual_multiplier = outputStage.residualMultiplier
        conv.residual_shift = outputStage.residualShift
        conv.input = input
        conv.output = output
        conv.residual = outputStage.residual
        dactyl_conv2d_q8_pack(&conv, path.fastPathNumber ?? 0, weights, bias, outputStage.multipliers, outputStage.shifts, packedMemory)
        descriptor = .allocate(capacity: 1)
        descriptor.initialize(to: conv)
        self.path = path
    }

    deinit { descriptor.deallocate() }

    /// `next` runs right after this conv in every frame: this conv's last tasks prefetch the
    /// weights each thread starts `next` with. Both must live as long as either runs.
    public func prefetches(_ next: FastConv2DQ8) {
        descriptor.pointee.next = UnsafePointer(next.descriptor)
    }

    /// Runs the convolution, split across `pool`'s threads (nil: this thread only).
    public func run(pool: EncoderThreadPool?) {
        dactyl_thread_pool_run_conv2d_q8(pool?.pool, descriptor)
    }
}

/// The encoder's worker threads, created once at start-up (`--threads N`).
public final class EncoderThreadPool {
    let pool: OpaquePointer
    public let threads: Int

    /// nil if a thread cannot be created.
    public init?(threads: Int) {
        guard let pool = dactyl_thread_pool_create(Int32(max(1, threads))) else { return nil }
        self.pool = pool
        self.threads = Int(dactyl_thread_pool_threads(pool))
    }

    deinit { dactyl_thread_pool_destroy(pool) }

    /// The number of online CPUs: the default thread count.
    public static var cpuCount: Int { Int(dactyl_cpu_count()) }
}

/// The path's measured peak on one thread: a tight loop of its multiply-accumulate
/// instruction, in MAC/s, the best of several runs (other processes only ever slow it down).
/// 0 when this binary lacks the path. `dactyl bench` reports a layer's rate as a share of it.
public func kernelPeakMACsPerSecond(_ path: KernelPath, seconds: Double = 0.05, runs: Int = 5) -> Double {
    guard let number = path.fastPathNumber, path.isCompiled else { return 0 }
    var best = 0.0
    var iterations: UInt64 = 1 << 14
    for _ in 0..<runs {
        while true {
            let start = dactyl_monotonic_ns()
            let macs = dactyl_peak_loop(number, iterations)
            let elapsed = Double(dactyl_monotonic_ns() &- start) / 1e9
            if elapsed >= seconds || iterations >= 1 << 40 {
                best = max(best, Double(macs) / max(elapsed, 1e-9))
                break
            }
            iterations *= 2
        }
    }
    return best
}

/// int8 max pooling for the fast paths (vectorised C, with `path`'s vectors on x86_64),
/// bit-exact with `maxPool2dQ8Reference`.
public func maxPool2dQ8Fast(window: Window2D, channels: Int, path: KernelPath, input: UnsafePointer<Int8>,
                            output: UnsafeMutablePointer<Int8>) {
    var pool = dactyl_pool2d_q8(
        input_height: Int32(window.inputHeight), input_width: Int32(window.inputWidth), channels: Int32(channels),
        output_height: Int32(window.outputHeight), output_width: Int32(window.outputWidth),
        kernel_height: Int32(window.kernelHeight), kernel_width: Int32(window.kernelWidth),
        stride_height: Int32(window.strideHeight), stride_width: Int32(window.strideWidth),
        pad_height: Int32(window.padHeight), pad_width: Int32(window.padWidth), input: input, output: output,
        path: path.fastPathNumber ?? 0)
    dactyl_maxpool2d_q8(&pool)
}

/// int8 global average pooling for the fast paths (C, vectorised sums), bit-exact with
/// `globalAvgPoolQ8Reference`.
public func globalAvgPoolQ8Fast(pixels: Int, channels: Int, input: UnsafePointer<Int8>, inputZeroPoint: Int32,
                                multiplier: Int32, shift: Int32, outputZeroPoint: Int32, output: UnsafeMutablePointer<Int8>) {
    var pool = dactyl_global_avgpool_q8_args(
        pixels: Int32(pixels), channels: Int32(channels), input_zero_point: inputZeroPoint, multiplier: multiplier,
        shift: shift, output_zero_point: outputZeroPoint, input: input, output: output)
    dactyl_global_avgpool_q8(&pool)
}
