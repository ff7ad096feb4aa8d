// swift-tools-version: 6.1
// vtee: a virtual, OP-TEE-compatible TrustZone stack. Module layout follows
// docs/ARCHITECTURE.md: worlds meet only through register frames and physical memory.
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "vtee",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vtee", targets: ["vtee"]),
        .library(name: "TEEClient", targets: ["TEEClient"]),
        // libvteeta.so: the GP Internal Core API runtime a C TA links against (-lvteeta).
        .library(name: "vteeta", type: .dynamic, targets: ["vteeta"]),
        // The executable each TA process runs (argv[0] "ta-<uuid>").
        .executable(name: "vtee-ta-host", targets: ["vtee-ta-host"]),
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
        .target(name: "SignedTA", dependencies: ["TEEABI", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")], swiftSettings: strict),
        .target(name: "TADevKit", dependencies: ["SignedTA"], resources: [.embedInCode("kit")], swiftSettings: strict),
        .target(name: "TAAPI", dependencies: ["TEEABI"], swiftSettings: strict),
        .target(name: "SecureWorld", dependencies: ["TEEABI", "TAAPI", "Machine", "SignedTA", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),
        .target(name: "TrustedApps", dependencies: ["TAAPI", "TEEABI", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")], swiftSettings: strict),
        .target(name: "Mediator", dependencies: ["TEEABI", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "Platform", dependencies: ["TEEABI", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "NormalWorld", dependencies: ["TEEABI", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "Supplicant", dependencies: ["NormalWorld", "TEEABI", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "TEEClient", dependencies: ["NormalWorld", "TEEABI", "Machine"], swiftSettings: strict),
        .target(name: "TEEClientRemote", dependencies: ["TEEClient", "NormalWorld", "Supplicant", "Transport", "TEEABI", "Machine"], swiftSettings: strict),
        .target(name: "Transport", dependencies: ["TEEABI", "Machine", "CShim", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        // The TA SDK runtime (TA world, C): the channel layout, libvteeta, the TA process executable.
        .target(name: "TAChannel", path: "Sources/TAChannel"),
        .target(name: "vteeta", dependencies: ["TAChannel"], path: "Sources/vteeta",
                cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-fvisibility=hidden"])],
                linkerSettings: [.linkedLibrary("dl"), .unsafeFlags(["-Xlinker", "-soname=libvteeta.so"])]),
        .executableTarget(name: "vtee-ta-host", path: "Sources/vtee-ta-host",
                          cSettings: [.unsafeFlags(["-Wall", "-Wextra"])], linkerSettings: [.linkedLibrary("dl")]),
        // TA processes seen from the secure world: spawn, sandbox contract, channel, GP services.
        .target(name: "TAHostShim", dependencies: ["TAChannel"], path: "Sources/TAHostShim",
                cSettings: [.unsafeFlags(["-Wall", "-Wextra"])]),
        .target(name: "TAHost", dependencies: ["TAAPI", "TEEABI", "TAHostShim", "TAChannel", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "MediatedPlatform", dependencies: ["TEEABI", "Machine", "Mediator", "Platform"], swiftSettings: strict),
        .target(name: "VTEEKit", dependencies: ["TEEABI", "TAAPI", "TAHost", "SignedTA", "Machine", "SecureWorld", "TrustedApps", "Mediator", "Platform", "MediatedPlatform", "NormalWorld", "TEEClient", "Supplicant", "Transport", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "VTEEDaemon", dependencies: ["VTEEKit", "SignedTA", "TEEABI", "Machine", "SecureWorld", "Mediator", "Platform", "TEEClient", "Transport", "CShim", .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus")], swiftSettings: strict),
        .target(name: "VTEEDemo", dependencies: ["TEEClientRemote", "VTEEKit", "VTEEDaemon", "TEEABI", "Machine", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Transport"], swiftSettings: strict),
        .target(name: "VTEEAttack", dependencies: ["MediatedPlatform", "TEEABI", "Machine", "SecureWorld", "TrustedApps", "Mediator", "Platform"], swiftSettings: strict),
        .target(name: "VTEEBench", dependencies: ["TEEClientRemote", "VTEEKit", "VTEEDaemon", "CAllocCount", "TEEABI", "Machine", "NormalWorld", "Platform", "TEEClient", "Transport", "TrustedApps", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .executableTarget(name: "VTEEBenchmarks", dependencies: ["VTEEKit", "TEEClient", "Mediator", "Platform", "TrustedApps", "Machine", "TEEABI", .product(name: "Benchmark", package: "package-benchmark")],
                          path: "Benchmarks/VTEEBenchmarks", swiftSettings: strict,
                          plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
        .executableTarget(name: "vtee", dependencies: ["VTEEKit", "VTEEDaemon", "VTEEDemo", "VTEEAttack", "VTEEBench", "TEEABI", "SignedTA", "TADevKit", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),

        .testTarget(name: "TEEABITests", dependencies: ["TEEABI"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "SecureWorldTests", dependencies: ["SecureWorld", "SignedTA", "TAAPI", "TrustedApps", "Machine", "TEEABI", "CAllocCount"], swiftSettings: strict),
        .testTarget(name: "TrustedAppsTests", dependencies: ["TrustedApps", "TAAPI", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "NormalWorldTests", dependencies: ["CAllocCount", "NormalWorld", "SignedTA", "TEEClient", "Supplicant", "SecureWorld", "TrustedApps", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "MediatorTests", dependencies: ["Mediator", "Platform", "MediatedPlatform", "CAllocCount", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "TAHostTests", dependencies: ["TAHost", "TADevKit", "VTEEKit", "TEEClient", "SecureWorld", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "TASDKTests", dependencies: ["TADevKit", "SignedTA", "VTEEKit", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Machine", "TEEABI"],
                    exclude: ["CTAs"], swiftSettings: strict),
        .testTarget(name: "VTEEDaemonTests", dependencies: ["TEEClientRemote", "VTEEDaemon", "VTEEDemo", "VTEEKit", "TEEABI", "TEEClient", "NormalWorld", "TrustedApps", "Transport", "CShim"], swiftSettings: strict),
        .testTarget(name: "VTEEDemoTests", dependencies: ["VTEEDemo", "VTEEKit"], swiftSettings: strict),
        .testTarget(name: "VTEEAttackTests", dependencies: ["VTEEAttack", "MediatedPlatform", "TrustedApps", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "VTEEBenchTests", dependencies: ["VTEEBench", "VTEEKit", "TEEClient", "TrustedApps", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
    ]
)
