import CDactylPlatform
import DactylKernels

/// `--kernel PATH` (else $DACTYL_KERNEL, else the fastest path this CPU runs) and `--threads N`
/// (else every core), shared by `decode` and `bench`.
struct KernelOptions {
    static let valueOptions = ["--kernel", "--threads"]
    static let usageLines = """
          --kernel PATH      kernel path: scalar, avx2, vnni (x86_64), neon, sdot (aarch64); default
                             $DACTYL_KERNEL, else the fastest this CPU runs; an unavailable one is an error
          --threads N        encoder threads (default: one per core)
        """

    var kernelPath: KernelPath
    var threads: Int

    init(_ arguments: Arguments) throws(CommandError) {
        kernelPath = try KernelOptions.kernelPath(arguments)
        do {
            threads = try arguments.integer("--threads", default: EncoderThreadPool.cpuCount, range: 1...256)
        } catch {
            throw .usage(error.message)
        }
    }

    /// `--kernel PATH`, else $DACTYL_KERNEL, else the fastest path this CPU runs.
    static func kernelPath(_ arguments: Arguments) throws(CommandError) -> KernelPath {
        let cpu = CPUFeatures.detect()
        var name = arguments.value("--kernel")
        var source = "--kernel"
        if name == nil, let variable = dactyl_getenv("DACTYL_KERNEL") {
            let value = String(cString: variable)
            if !value.isEmpty { name = value; source = "DACTYL_KERNEL" }
        }
        guard let name else { return .best(on: cpu) }
        switch KernelPath.named(name, on: cpu) {
        case .success(let path): return path
        case .failure(let error):
            if case .unknown = error { throw .usage("\(source): \(error.description)") }
            throw .failed("\(source): \(error.description)")
        }
    }
}
