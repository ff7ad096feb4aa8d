// swift-tools-version: 6.1
// vtee: a virtual, OP-TEE-compatible TrustZone stack. Module layout follows
// docs/ARCHITECTURE.md: worlds meet only through register frames and physical memory.
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

// Fuzz targets link libFuzzer only when scripts/fuzz.sh builds them (VTEE_FUZZ=1, scratch path
// .build-fuzz, the rest built with --sanitize=address and coverage; the target's main calls
// LLVMFuzzerRunDriver). `swift build --sanitize=fuzzer` cannot be used: it links libFuzzer's main
// into every executable, plugin tools included.
let fuzzing = ProcessInfo.processInfo.environment["VTEE_FUZZ"] != nil
let fuzzSwift: [SwiftSetting] = strict + (fuzzing ? [.define("VTEE_FUZZ"), .unsafeFlags(["-sanitize=fuzzer,address"])] : [])
let fuzzLink: [LinkerSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer,address"])] : []

let package = Package(
    name: "vtee",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vtee", targets: ["vtee"]),
        .library(name: "TEEClient", targets: ["TEEClient"]),
        .library(name: "TEEClientRemote", targets: ["TEEClientRemote"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "CShim", path: "Sources/CShim"),
        .target(name: "CAllocCount", path: "Sources/CAllocCount"),
        .target(name: "TEEABI", swiftSettings: strict),
        .target(name: "Machine", dependencies: ["TEEABI", "CShim"], swiftSettings: strict),
        .target(name: "TAAPI", dependencies: ["TEEABI"], swiftSettings: strict),
        .target(name: "SecureWorld", dependencies: ["TEEABI", "TAAPI", "Machine", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .target(name: "TrustedApps", dependencies: ["TAAPI", "TEEABI", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")], swiftSettings: strict),
        .target(name: "Mediator", dependencies: ["TEEABI", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "Platform", dependencies: ["TEEABI", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "NormalWorld", dependencies: ["TEEABI", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "Supplicant", dependencies: ["NormalWorld", "TEEABI", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "TEEClient", dependencies: ["NormalWorld", "TEEABI", "Machine"], swiftSettings: strict),
        .target(name: "TEEClientRemote", dependencies: ["TEEClient", "NormalWorld", "Supplicant", "Transport", "TEEABI", "Machine"], swiftSettings: strict),
        .target(name: "Transport", dependencies: ["TEEABI", "Machine", "CShim", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "MediatedPlatform", dependencies: ["TEEABI", "Machine", "Mediator", "Platform"], swiftSettings: strict),
        .target(name: "VTEEKit", dependencies: ["TEEABI", "Machine", "SecureWorld", "TrustedApps", "Mediator", "Platform", "MediatedPlatform", "NormalWorld", "TEEClient", "Supplicant", "Transport", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "VTEEDaemon", dependencies: ["VTEEKit", "TEEABI", "Machine", "SecureWorld", "Mediator", "Platform", "TEEClient", "Transport", "CShim", .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus")], swiftSettings: strict),
        .target(name: "VTEEDemo", dependencies: ["TEEClientRemote", "VTEEKit", "VTEEDaemon", "TEEABI", "Machine", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Transport"], swiftSettings: strict),
        .target(name: "VTEEAttack", dependencies: ["MediatedPlatform", "TEEABI", "Machine", "SecureWorld", "TrustedApps", "Mediator", "Platform"], swiftSettings: strict),
        .target(name: "VTEEBench", dependencies: ["TEEClientRemote", "VTEEKit", "VTEEDaemon", "CAllocCount", "TEEABI", "Machine", "NormalWorld", "Platform", "TEEClient", "Transport", "TrustedApps", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .executableTarget(name: "VTEEBenchmarks", dependencies: ["VTEEKit", "TEEClient", "Mediator", "Platform", "TrustedApps", "Machine", "TEEABI", .product(name: "Benchmark", package: "package-benchmark")],
                          path: "Benchmarks/VTEEBenchmarks", swiftSettings: strict,
                          plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
        .executableTarget(name: "vtee", dependencies: ["VTEEKit", "VTEEDaemon", "VTEEDemo", "VTEEAttack", "VTEEBench", "TEEABI", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),

        // libFuzzer targets (scripts/fuzz.sh builds them with --sanitize=fuzzer into .build-fuzz;
        // a plain build makes executables that do nothing).
        .executableTarget(name: "TEEABIFuzz", dependencies: ["TEEABI"], path: "Fuzz/TEEABIFuzz", swiftSettings: fuzzSwift, linkerSettings: fuzzLink),
        .executableTarget(name: "WireFuzz", dependencies: ["Transport", "Machine", "TEEABI", "CShim", .product(name: "Logging", package: "swift-log")], path: "Fuzz/WireFuzz", swiftSettings: fuzzSwift, linkerSettings: fuzzLink),
        .executableTarget(name: "MediatorFuzz", dependencies: ["VTEEAttack", "MediatedPlatform", "Mediator", "SecureWorld", "TrustedApps", "Machine", "TEEABI"], path: "Fuzz/MediatorFuzz", swiftSettings: fuzzSwift, linkerSettings: fuzzLink),
        .executableTarget(name: "SupplicantFuzz", dependencies: ["Supplicant", "NormalWorld", "Machine", "TEEABI"], path: "Fuzz/SupplicantFuzz", swiftSettings: fuzzSwift, linkerSettings: fuzzLink),

        .testTarget(name: "TEEABITests", dependencies: ["TEEABI"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "SecureWorldTests", dependencies: ["SecureWorld", "TAAPI", "TrustedApps", "Machine", "TEEABI", "CAllocCount"], swiftSettings: strict),
        .testTarget(name: "TrustedAppsTests", dependencies: ["TrustedApps", "TAAPI", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "NormalWorldTests", dependencies: ["CAllocCount", "NormalWorld", "TEEClient", "Supplicant", "SecureWorld", "TrustedApps", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "MediatorTests", dependencies: ["Mediator", "Platform", "MediatedPlatform", "CAllocCount", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "VTEEDaemonTests", dependencies: ["TEEClientRemote", "VTEEDaemon", "VTEEDemo", "VTEEKit", "TEEABI", "TEEClient", "NormalWorld", "TrustedApps", "Transport", "CShim", "Platform", "Machine"], swiftSettings: strict),
        .testTarget(name: "VTEEDemoTests", dependencies: ["VTEEDemo", "VTEEKit"], swiftSettings: strict),
        .testTarget(name: "VTEEAttackTests", dependencies: ["VTEEAttack", "MediatedPlatform", "TrustedApps", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "VTEEBenchTests", dependencies: ["VTEEBench", "VTEEKit", "TEEClient", "TrustedApps", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
    ]
)
