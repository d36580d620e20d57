// swift-tools-version:6.0
// Dactyl: the board runtime (Embedded-Swift compatible) and its tests.
//
// EMBEDDED=1 builds the board targets as Embedded Swift (DESIGN.md, "Cross"): the same sources,
// checked at compile time for what Embedded Swift lacks. Test targets stay ordinary Swift.
import PackageDescription
import Foundation

let environment = ProcessInfo.processInfo.environment
let embedded = environment["EMBEDDED"] != nil
let boardSwift: [SwiftSetting] = embedded
    ? [.enableExperimentalFeature("Embedded"), .unsafeFlags(["-wmo"])]
    : []

/// Embedded Swift's String comparison needs the Unicode normalisation tables, a static library
/// in the toolchain's embedded/<triple> folder. EMBEDDED_TRIPLE names the target
/// (default: this machine's Linux triple); the toolchain is the one whose `swiftc` is on PATH.
func embeddedUnicodeTables() -> [LinkerSetting] {
    guard embedded else { return [] }
    #if arch(aarch64) || arch(arm64)
    let hostTriple = "aarch64-unknown-linux-gnu"
    #else
    let hostTriple = "x86_64-unknown-linux-gnu"
    #endif
    let triple = environment["EMBEDDED_TRIPLE"] ?? hostTriple
    for folder in (environment["PATH"] ?? "").split(separator: ":") {
        let compiler = URL(fileURLWithPath: String(folder)).appendingPathComponent("swiftc").resolvingSymlinksInPath()
        let library = compiler.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("lib/swift/embedded/\(triple)/libswiftUnicodeDataTables.a").path
        if FileManager.default.fileExists(atPath: library) {
            return [.unsafeFlags([library])]
        }
    }
    return []
}

func builtInData() -> [CSetting] {
    var settings: [CSetting] = [.define("DACTYL_GOLDEN_DIR", to: "\"\(Context.packageDirectory)/Tests/golden\"")]
    if let model = environment["DACTYL_EMBED_MODEL"], !model.isEmpty {
        let path = model.hasPrefix("/") ? model : Context.packageDirectory + "/" + model
        settings.append(.define("DACTYL_DEFAULT_MODEL_FILE", to: "\"\(path)\""))
    }
    return settings
}

var products: [Product] = [.executable(name: "dactyl", targets: ["dactyl"])]
var targets: [Target] = [
    // Platform calls (mmap, read/write, clocks, termios, libgpiod, the HID gadget, V4L2 through
    // libv4l2, the preview page's sockets and JPEG encoder) and OpenBLAS behind one C target.
    .target(name: "CDactylPlatform",
            linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("gpiod"), .linkedLibrary("v4l2"),
                             .linkedLibrary("jpeg"), .linkedLibrary("m")]),
    // Data built into the binary: the golden vectors for `dactyl selftest`, and the model
    // named by DACTYL_EMBED_MODEL (a path) for a self-contained board binary.
    .target(name: "CDactylBuiltIn", cSettings: builtInData()),
    .target(name: "DactylModel", dependencies: ["CDactylPlatform"], swiftSettings: boardSwift),
    .target(name: "DactylArena", dependencies: ["CDactylPlatform"], swiftSettings: boardSwift),
    // The fast int8 kernels (intrinsics, one file per kernel and ISA) and the encoder's thread
    // pool; always optimised, since a debug build's -O0 intrinsics would make the tests crawl.
    .target(name: "CDactylKernels", cSettings: [.unsafeFlags(["-O2"])]),
    .target(name: "DactylKernels", dependencies: ["CDactylPlatform", "CDactylKernels"], swiftSettings: boardSwift),
    .target(name: "DactylPipeline",
            dependencies: ["DactylModel", "DactylArena", "DactylKernels", "CDactylPlatform"],
            swiftSettings: boardSwift),
    .executableTarget(name: "dactyl", dependencies: ["DactylPipeline", "DactylKernels", "CDactylBuiltIn"], swiftSettings: boardSwift,
                      linkerSettings: embeddedUnicodeTables()),
]
if !embedded {
    targets += [
        .target(name: "DactylTestSupport", path: "Tests/DactylTestSupport"),
        .testTarget(name: "DactylModelTests", dependencies: ["DactylModel", "DactylTestSupport"]),
        .testTarget(name: "DactylArenaTests", dependencies: ["DactylArena", "DactylTestSupport"]),
        .testTarget(name: "DactylKernelsTests", dependencies: ["DactylKernels", "DactylTestSupport"]),
        // Interposes malloc in the test executable to prove the frame loop allocates nothing.
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "DactylPipelineTests", dependencies: ["DactylPipeline", "AllocationCounter", "DactylTestSupport"]),
        .testTarget(name: "dactylTests", dependencies: ["dactyl", "DactylTestSupport"]),
    ]
}

// The libFuzzer targets (fuzz/README.md): built only with DACTYL_FUZZ=1, in their own scratch
// path, with -sanitize=fuzzer,address; never part of the normal build.
if environment["DACTYL_FUZZ"] != nil && !embedded {
    targets += [
        .target(name: "CDactylFuzz", path: "fuzz/Sources/CDactylFuzz"),
        .executableTarget(name: "dactyl-fuzz", dependencies: ["DactylPipeline", "DactylModel", "CDactylPlatform", "CDactylFuzz"],
                          path: "fuzz/Sources/dactyl-fuzz", swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
}

let package = Package(
    name: "Dactyl",
    products: products,
    targets: targets,
    swiftLanguageModes: [.v6]
)
