// swift-tools-version: 6.1
// vtee: a virtual, OP-TEE-compatible TrustZone stack. Module layout follows
// docs/ARCHITECTURE.md: worlds meet only through register frames and physical memory.
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]
/// The secure world's core, the built-in TAs and the C TA host run on the secure thread's own executor: their
/// nonisolated async functions inherit the caller's executor (SE-0461) instead of hopping to the
/// preferred task executor at every call and return, whose lookup takes the task's status lock
/// (issue 10's profiles: ~20% of a NOP invoke in round 3, ~13% of a GET_TIME in round 6). TAAPI
/// declares the TA entry points and context services nonisolated(nonsending) to match. (Round 3
/// recorded a Swift 6.3.1 crash for a @concurrent witness of a nonsending requirement with an
/// inout parameter; round 6 could not reproduce it on 6.3.1 with any witness form, and the TA
/// suites run with the nonsending entries.)
let secureAsync: [SwiftSetting] = strict + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

// Fuzz targets link libFuzzer only when scripts/fuzz.sh builds them (VTEE_FUZZ=1, scratch path
// .build-fuzz, the rest built with --sanitize=address and coverage; the target's main calls
// LLVMFuzzerRunDriver). `swift build --sanitize=fuzzer` cannot be used: it links libFuzzer's main
// into every executable, plugin tools included.
let fuzzing = ProcessInfo.processInfo.environment["VTEE_FUZZ"] != nil
/// A sanitizer or fuzz build (scripts/sanitizers.sh, scripts/fuzz.sh): builds what its tests and
/// fuzz targets need, not the benchmark harness.
let sanitizerBuild = fuzzing || ProcessInfo.processInfo.environment["VTEE_SANITIZE"] != nil
let fuzzSwift: [SwiftSetting] = strict + (fuzzing ? [.define("VTEE_FUZZ"), .unsafeFlags(["-sanitize=fuzzer,address"])] : [])
let fuzzLink: [LinkerSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer,address"])] : []
/// Linker flags of the C client libraries (libteec.so, libvtee-preload.so): the Swift runtime and
/// Foundation (with CoreFoundation and ICU) linked in statically, so a C program needs only libc,
/// libm, libstdc++ and libgcc_s; --no-undefined makes a missing piece a build error, not a load error.
let selfContained = ["-static-stdlib",
                     "-Xlinker", "--start-group",
                     "-lFoundation", "-lFoundationInternationalization", "-lFoundationEssentials", "-lCoreFoundation",
                     "-l_FoundationICU", "-l_FoundationCollections", "-l_FoundationCShims", "-lBlocksRuntime", "-ldispatch",
                     "-Xlinker", "--end-group"]
                   // A sanitizer build (VTEE_SANITIZE=1, .ci/run's TSan/ASan steps) leaves the
                   // sanitizer's entry points undefined in these libraries: the check would refuse them.
                   + (ProcessInfo.processInfo.environment["VTEE_SANITIZE"] != nil ? [] : ["-Xlinker", "--no-undefined"])

let package = Package(
    name: "vtee",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vtee", targets: ["vtee"]),
        .library(name: "TEEClient", targets: ["TEEClient"]),
        .library(name: "TEEClientRemote", targets: ["TEEClientRemote"]),
        // libteec.so (SONAME libteec.so.2): the GP TEE Client API with OP-TEE client's C ABI.
        .library(name: "teec", type: .dynamic, targets: ["TEECLibrary"]),
        // libvtee-preload.so: LD_PRELOAD routes /dev/tee0 and /dev/teepriv0 to vtee.
        .library(name: "vtee-preload", type: .dynamic, targets: ["VTEEPreloadLibrary"]),
        // libvteeta.so: the GP Internal Core API runtime a C TA links against (-lvteeta).
        .library(name: "vteeta", type: .dynamic, targets: ["vteeta"]),
        // The executable each TA process runs (argv[0] "ta-<uuid>").
        .executable(name: "vtee-ta-host", targets: ["vtee-ta-host"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.0"),
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
        .target(name: "SecureWorld", dependencies: ["TEEABI", "TAAPI", "Machine", "SignedTA", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")], swiftSettings: secureAsync),
        .target(name: "TrustedApps", dependencies: ["TAAPI", "TEEABI", "TACrypto", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")], swiftSettings: secureAsync),
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
        // The GP crypto framework of C TAs (secure world): keys and operation state per TA instance.
        .target(name: "TACrypto", dependencies: [.product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"), .product(name: "BigInt", package: "BigInt")], swiftSettings: strict),
        .target(name: "TAHost", dependencies: ["TAAPI", "TEEABI", "TAHostShim", "TAChannel", "TACrypto", .product(name: "Logging", package: "swift-log")], swiftSettings: secureAsync),
        .target(name: "CTEEDev", path: "Sources/CTEEDev"),
        .target(name: "TEEDevice", dependencies: ["TEEABI", "Machine", "NormalWorld", "Supplicant", "Transport", "CTEEDev"], swiftSettings: strict),
        .target(name: "CTEEC", dependencies: ["CTEEDev"], path: "Sources/CTEEC"),
        .target(name: "TEECLibrary", dependencies: ["CTEEC", "TEEDevice"], swiftSettings: strict,
                linkerSettings: [.unsafeFlags(selfContained + ["-Xlinker", "-soname=libteec.so.2"])]),
        .target(name: "CVTEEPreload", dependencies: ["CTEEDev"], path: "Sources/CVTEEPreload", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "VTEEPreloadLibrary", dependencies: ["CVTEEPreload", "TEEDevice"], swiftSettings: strict,
                linkerSettings: [.unsafeFlags(selfContained)]),
        .target(name: "MediatedPlatform", dependencies: ["TEEABI", "Machine", "Mediator", "Platform"], swiftSettings: strict),
        .target(name: "VTEEKit", dependencies: ["TEEABI", "TAAPI", "TAHost", "SignedTA", "Machine", "SecureWorld", "TrustedApps", "Mediator", "Platform", "MediatedPlatform", "NormalWorld", "TEEClient", "Supplicant", "Transport", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "VTEEDaemon", dependencies: ["VTEEKit", "SignedTA", "TEEABI", "Machine", "SecureWorld", "Mediator", "Platform", "TEEClient", "Transport", "CShim", .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus")], swiftSettings: strict),
        .target(name: "VTEEDemo", dependencies: ["TEEClientRemote", "VTEEKit", "VTEEDaemon", "TEEABI", "Machine", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Transport"], swiftSettings: strict),
        .target(name: "VTEEAttack", dependencies: ["MediatedPlatform", "TEEABI", "Machine", "SecureWorld", "TrustedApps", "Mediator", "Platform"], swiftSettings: strict),
        .target(name: "VTEEBench", dependencies: ["TEEClientRemote", "VTEEKit", "VTEEDaemon", "CAllocCount", "TEEABI", "Machine", "NormalWorld", "Platform", "TEEClient", "Transport", "TrustedApps", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .executableTarget(name: "vtee", dependencies: ["VTEEKit", "VTEEDaemon", "VTEEDemo", "VTEEAttack", "VTEEBench", "TEEABI", "SignedTA", "TADevKit", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: strict),

        // libFuzzer targets (scripts/fuzz.sh builds them with --sanitize=fuzzer into .build-fuzz;
        // a plain build makes executables that do nothing).
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport", swiftSettings: fuzzSwift),
        .executableTarget(name: "TEEABIFuzz", dependencies: ["FuzzSupport", "TEEABI"], path: "Fuzz/TEEABIFuzz", exclude: ["seeds"], swiftSettings: fuzzSwift, linkerSettings: fuzzLink),
        .executableTarget(name: "WireFuzz", dependencies: ["FuzzSupport", "Transport", "Machine", "TEEABI", "CShim", .product(name: "Logging", package: "swift-log")], path: "Fuzz/WireFuzz", exclude: ["seeds"], swiftSettings: fuzzSwift, linkerSettings: fuzzLink),
        .executableTarget(name: "MediatorFuzz", dependencies: ["FuzzSupport", "VTEEAttack", "MediatedPlatform", "Mediator", "SecureWorld", "TrustedApps", "Machine", "TEEABI"], path: "Fuzz/MediatorFuzz", exclude: ["seeds"], swiftSettings: fuzzSwift, linkerSettings: fuzzLink),
        .executableTarget(name: "SupplicantFuzz", dependencies: ["FuzzSupport", "Supplicant", "NormalWorld", "Machine", "TEEABI"], path: "Fuzz/SupplicantFuzz", exclude: ["seeds"], swiftSettings: fuzzSwift, linkerSettings: fuzzLink),
        .executableTarget(name: "TEEDeviceFuzz", dependencies: ["FuzzSupport", "TEEDevice", "CTEEDev", "VTEEDaemon", "Mediator", "TrustedApps", "TEEABI", .product(name: "Logging", package: "swift-log")], path: "Fuzz/TEEDeviceFuzz", exclude: ["seeds"], swiftSettings: fuzzSwift, linkerSettings: fuzzLink),

        .testTarget(name: "TEEABITests", dependencies: ["TEEABI"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "SecureWorldTests", dependencies: ["SecureWorld", "SignedTA", "TAAPI", "TrustedApps", "Machine", "TEEABI", "CAllocCount"], swiftSettings: strict),
        .testTarget(name: "TrustedAppsTests", dependencies: ["TrustedApps", "TAAPI", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "NormalWorldTests", dependencies: ["CAllocCount", "NormalWorld", "SignedTA", "TAAPI", "TEEClient", "Supplicant", "SecureWorld", "TrustedApps", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "MediatorTests", dependencies: ["Mediator", "Platform", "MediatedPlatform", "CAllocCount", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "TAHostTests", dependencies: ["TAHost", "TADevKit", "VTEEKit", "VTEEBench", "TEEClient", "TrustedApps", "SecureWorld", "Machine", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "TACryptoTests", dependencies: ["TACrypto", .product(name: "BigInt", package: "BigInt")], swiftSettings: strict),
        .testTarget(name: "TASDKTests", dependencies: ["TADevKit", "SignedTA", "VTEEKit", "TAAPI", "SecureWorld", "TrustedApps", "NormalWorld", "TEEClient", "Supplicant", "Machine", "TEEABI"],
                    exclude: ["CTAs"], swiftSettings: strict),
        .testTarget(name: "VTEEDaemonTests", dependencies: ["TEEClientRemote", "VTEEDaemon", "VTEEDemo", "VTEEKit", "TEEABI", "TEEClient", "NormalWorld", "TrustedApps", "Transport", "CShim", "Platform", "Machine"], swiftSettings: strict),
        .testTarget(name: "VTEEDemoTests", dependencies: ["VTEEDemo", "VTEEKit"], swiftSettings: strict),
        .testTarget(name: "VTEEAttackTests", dependencies: ["VTEEAttack", "MediatedPlatform", "TrustedApps", "TEEABI"], swiftSettings: strict),
        .testTarget(name: "VTEEBenchTests", dependencies: ["VTEEBench", "CAllocCount", "VTEEKit", "TEEClient", "TrustedApps", "Machine", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "CClientTests", dependencies: ["VTEEDaemon", "VTEEKit", "TEEDevice", "TEEABI"], exclude: ["Programs"], swiftSettings: strict),
    ] + (sanitizerBuild ? [] : [
        // package-benchmark's harness (`swift package benchmark`): left out of the sanitizer and fuzz
        // builds, which run none of it; its plugin's tools alone cost them a minute or more each.
        .executableTarget(name: "VTEEBenchmarks", dependencies: ["VTEEKit", "TEEClient", "Mediator", "Platform", "SecureWorld", "TrustedApps", "Machine", "TEEABI", .product(name: "Benchmark", package: "package-benchmark")],
                          path: "Benchmarks/VTEEBenchmarks", swiftSettings: strict,
                          plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]),
    ])
)
