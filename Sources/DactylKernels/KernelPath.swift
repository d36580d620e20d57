import CDactylPlatform

/// The CPU's features that kernel paths depend on, read once at start-up.
public struct CPUFeatures: Sendable {
    public let bits: UInt32

    public init(bits: UInt32) { self.bits = bits }

    public static func detect() -> CPUFeatures { CPUFeatures(bits: dactyl_cpu_features()) }

    public func has(_ feature: UInt32) -> Bool { bits & feature != 0 }

    /// Feature names, for `dactyl selftest`.
    public var names: [String] {
        let known: [(UInt32, String)] = [
            (UInt32(DACTYL_CPU_NEON), "neon"), (UInt32(DACTYL_CPU_NEON_DOT), "neon-dot"),
            (UInt32(DACTYL_CPU_NEON_I8MM), "i8mm"), (UInt32(DACTYL_CPU_AVX2), "avx2"),
            (UInt32(DACTYL_CPU_AVX512_VNNI), "avx512-vnni"), (UInt32(DACTYL_CPU_AVX_VNNI), "avx-vnni"),
        ]
        return known.filter { has($0.0) }.map { $0.1 }
    }
}

/// One implementation of the int8 encoder kernels. The scalar reference is always there; fast
/// paths join it per ISA (as XNNPACK keeps a scalar kernel beside every vector one) and must be
/// bit-exact with it. Chosen at start-up from the CPU's features.
public enum KernelPath: CaseIterable, Sendable {
    case scalar

    public var name: String {
        switch self {
        case .scalar: "scalar"
        }
    }

    public func isAvailable(on cpu: CPUFeatures) -> Bool {
        switch self {
        case .scalar: true
        }
    }

    /// Every path this CPU can run, the reference first.
    public static func available(on cpu: CPUFeatures) -> [KernelPath] {
        allCases.filter { $0.isAvailable(on: cpu) }
    }

    /// The path the pipeline uses on this CPU: the last (fastest) available one.
    public static func best(on cpu: CPUFeatures) -> KernelPath {
        available(on: cpu).last ?? .scalar
    }
}
