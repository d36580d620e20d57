// swift-tools-version:6.0
// Dactyl: the board runtime (Embedded-Swift compatible) and its tests.
//
// EMBEDDED=1 builds the board targets as Embedded Swift (DESIGN.md, "Cross"): the same sources,
// checked at compile time for what Embedded Swift lacks. Test targets stay ordinary Swift.
import PackageDescription
import Foundation

let embedded = ProcessInfo.processInfo.environment["EMBEDDED"] != nil
let boardSwift: [SwiftSetting] = embedded
    ? [.enableExperimentalFeature("Embedded"), .unsafeFlags(["-wmo"])]
    : []

var products: [Product] = [.executable(name: "dactyl", targets: ["dactyl"])]
var targets: [Target] = [
    // Platform calls (mmap, read/write, clocks) and OpenBLAS behind one C target.
    .target(name: "CDactylPlatform", linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("m")]),
    .target(name: "DactylModel", dependencies: ["CDactylPlatform"], swiftSettings: boardSwift),
    .target(name: "DactylArena", dependencies: ["CDactylPlatform"], swiftSettings: boardSwift),
    .target(name: "DactylKernels", dependencies: ["CDactylPlatform"], swiftSettings: boardSwift),
    .target(name: "DactylPipeline",
            dependencies: ["DactylModel", "DactylArena", "DactylKernels", "CDactylPlatform"],
            swiftSettings: boardSwift),
    .executableTarget(name: "dactyl", dependencies: ["DactylPipeline"], swiftSettings: boardSwift),
]
if !embedded {
    targets += [
        .testTarget(name: "DactylModelTests", dependencies: ["DactylModel"]),
        .testTarget(name: "DactylArenaTests", dependencies: ["DactylArena"]),
        .testTarget(name: "DactylKernelsTests", dependencies: ["DactylKernels"]),
        .testTarget(name: "DactylPipelineTests", dependencies: ["DactylPipeline"]),
        .testTarget(name: "dactylTests", dependencies: ["dactyl"]),
    ]
}

let package = Package(
    name: "Dactyl",
    products: products,
    targets: targets,
    swiftLanguageModes: [.v6]
)
