import CDactylKernels
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
/// bit-exact with it. Chosen at start-up from the CPU's features; a path runs where this binary
/// holds its code (x86_64 or aarch64) and the CPU has the instructions.
public enum KernelPath: CaseIterable, Sendable {
    case scalar
    /// x86_64 AVX2 (vpmaddwd).
    case avx2
    /// x86_64 AVX-512 VNNI (vpdpbusd).
    case vnni
    /// aarch64 ARMv8.0 NEON (smull + sadalp): Pi 4, Zero 2 W.
    case neon
    /// aarch64 ARMv8.2 dot product (sdot): Pi 5.
    case sdot

    public var name: String {
        switch self {
        case .scalar: "scalar"
        case .avx2: "avx2"
        case .vnni: "vnni"
        case .neon: "neon"
        case .sdot: "sdot"
        }
    }

    /// The path called `name` (`--kernel`, `DACTYL_KERNEL`), or nil.
    public init?(name: String) {
        guard let path = KernelPath.allCases.first(where: { $0.name == name }) else { return nil }
        self = path
    }

    /// The CPU feature the path needs (nil: none).
    var requiredFeature: UInt32? {
        switch self {
        case .scalar: nil
        case .avx2: UInt32(DACTYL_CPU_AVX2)
        case .vnni: UInt32(DACTYL_CPU_AVX512_VNNI)
        case .neon: UInt32(DACTYL_CPU_NEON)
        case .sdot: UInt32(DACTYL_CPU_NEON_DOT)
        }
    }

    /// The C kernels' number for the path (DACTYL_PATH_*), nil for the reference.
    var fastPathNumber: Int32? {
        switch self {
        case .scalar: nil
        case .avx2: Int32(DACTYL_PATH_AVX2)
        case .vnni: Int32(DACTYL_PATH_AVX512_VNNI)
        case .neon: Int32(DACTYL_PATH_NEON)
        case .sdot: Int32(DACTYL_PATH_NEON_DOT)
        }
    }

    /// Whether this binary holds the path's code (the x86_64 paths on x86_64, the aarch64 ones on aarch64).
    public var isCompiled: Bool {
        guard let number = fastPathNumber else { return true }
        return dactyl_kernel_path_compiled(number) != 0
    }

    public func isAvailable(on cpu: CPUFeatures) -> Bool {
        guard isCompiled else { return false }
        guard let feature = requiredFeature else { return true }
        return cpu.has(feature)
    }

    /// Every path this CPU can run, the reference first.
    public static func available(on cpu: CPUFeatures) -> [KernelPath] {
        allCases.filter { $0.isAvailable(on: cpu) }
    }

    /// The path the pipeline uses on this CPU: the last (fastest) available one.
    public static func best(on cpu: CPUFeatures) -> KernelPath {
        available(on: cpu).last ?? .scalar
    }

    /// The path `name` if this CPU runs it, else a one-line reason (for `--kernel` and `DACTYL_KERNEL`).
    public static func named(_ name: String, on cpu: CPUFeatures) -> Result<KernelPath, KernelPathError> {
        guard let path = KernelPath(name: name) else { return .failure(.unknown(name)) }
        guard path.isAvailable(on: cpu) else { return .failure(.unavailable(path, cpu)) }
        return .success(path)
    }
}

/// Why a named kernel path cannot be used.
public enum KernelPathError: Error, CustomStringConvertible {
    case unknown(String)
    case unavailable(KernelPath, CPUFeatures)

    public var description: String {
        switch self {
        case .unknown(let name):
            "unknown kernel path '\(name)', expected one of: " + KernelPath.allCases.map { $0.name }.joined(separator: ", ")
        case .unavailable(let path, let cpu):
            "kernel path '\(path.name)' is not available on this CPU (" + (path.isCompiled ? "it lacks the instructions" : "not an \(path.architecture) binary")
                + "; available: " + KernelPath.available(on: cpu).map { $0.name }.joined(separator: ", ") + ")"
        }
    }
}

extension KernelPath {
    /// The architecture whose binaries hold the path.
    public var architecture: String {
        switch self {
        case .scalar: "any"
        case .avx2, .vnni: "x86_64"
        case .neon, .sdot: "aarch64"
        }
    }
}
