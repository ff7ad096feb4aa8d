/// Test support: builds the project's C test TAs with the host C compiler against libvteeta.so
/// and runs them in a whole in-process vtee (guest, mediator, secure world) whose LOAD_TA path
/// hands the TA's ELF to a `TAProcessRunner`.
import Foundation
import Logging
import Machine
import MediatedPlatform
import Mediator
import NormalWorld
import Platform
import SecureWorld
import SignedTA
import Supplicant
import TAHost
import TEEABI
import TEEClient
import TrustedApps
import VTEEKit

enum TAFixtures {
    /// The package's build directory (where libvteeta.so and vtee-ta-host are).
    static var buildDirectory: String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let exe = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        // The test bundle is .build/<config>/vteePackageTests.xctest.
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }
    static var sourceRoot: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("TAs").path }

    static let coreUUID = try! TEEUUID("c0de0001-7ee0-4a11-8b5d-000000000001")

    /// Compiles TA directory `name` into `<dir>/<uuid>.ta` (the bare ELF: signing is the dev kit's).
    static func build(_ name: String, uuid: TEEUUID, into dir: String) throws {
        let src = sourceRoot + "/" + name
        let files = try FileManager.default.contentsOfDirectory(atPath: src).filter { $0.hasSuffix(".c") }.map { src + "/" + $0 }
        let out = dir + "/\(uuid).ta"
        let args = ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-O1", "-I", src, "-I", sourceRoot + "/shim"]
            + files + [sourceRoot + "/shim/ta_header.c", "-L", buildDirectory, "-lvteeta", "-Wl,--no-undefined", "-o", out]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["cc"] + args
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else { throw BuildError(message: msg) }
        // LOAD_TA verifies the signature first: sign the ELF with the development key, as the dev kit does.
        guard let elf = FileManager.default.contents(atPath: out) else { throw BuildError(message: "no \(out)") }
        let image = try SignedTAImage.sign(elf: [UInt8](elf), uuid: uuid, key: .development)
        try Data(image).write(to: URL(fileURLWithPath: out))
    }
    struct BuildError: Error { var message: String }

    /// One build of the core TA per test process.
    static let taDirectory: Result<String, any Error> = {
        let dir = NSTemporaryDirectory() + "vtee-tahost-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try build("core", uuid: coreUUID, into: dir)
            return .success(dir)
        } catch { return .failure(error) }
    }()
}

/// Collects log lines (the TA's trace lines reach the secure world's logger).
final class LogCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(Logger.Level, String, Logger.Metadata)] = []
    func append(_ l: Logger.Level, _ m: String, _ md: Logger.Metadata) { lock.lock(); lines.append((l, m, md)); lock.unlock() }
    var all: [(Logger.Level, String, Logger.Metadata)] { lock.lock(); defer { lock.unlock() }; return lines }
}

struct CollectingHandler: LogHandler {
    let sink: LogCollector
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        sink.append(event.level, event.message.description, self.metadata.merging(event.metadata ?? [:]) { $1 })
    }
}

/// A whole machine with one guest whose supplicant serves TAs from the fixture directory.
final class TAStack: @unchecked Sendable {
    let runner: TAProcessRunner
    let world: SecureWorld
    let mediator: Mediator
    let space: GuestAddressSpace
    let driver: OPTEEDriver
    let supplicant: Supplicant
    let context: TEEContext
    let logs = LogCollector()
    let storage: String

    init(entryBound: Duration? = nil, cancelGrace: Duration = .seconds(2)) throws {
        let taDir = try TAFixtures.taDirectory.get()
        var cfg = TAProcessConfig(hostExecutable: TAFixtures.buildDirectory + "/vtee-ta-host")
        cfg.entryBound = entryBound
        cfg.cancelGrace = cancelGrace
        let sink = logs
        cfg.logger = Logger(label: "vtee.ta") { _ in CollectingHandler(sink: sink) }
        runner = TAProcessRunner(config: cfg)
        let memory = PhysicalMemory()
        world = SecureWorld(memory: memory, config: SecureWorldConfig(threadsPerVM: 8, virtualization: true,
                                                                     interruptTick: .milliseconds(5),
                                                                     loadTA: { [runner] u, elf throws(TEEResult) in try runner.load(uuid: u, elf: elf) }),
                            tas: BuiltinTAs.all)
        mediator = try Mediator(memory: memory, secureWorld: world, config: MediatorConfig())
        var builder = PlatformBuilder()
        try builder.register(mediatorService(mediator))
        try builder.register(TRNGService())
        let platform = builder.build()
        let id = GuestID(1)
        space = try GuestAddressSpace(memory: memory, id: id, pages: 2048, layout: .scattered(seed: 0x7EE))
        try mediator.addGuest(space)
        driver = try OPTEEDriver(space: space, conduit: PlatformConduit(platform: platform, guest: id),
                                 configuration: DriverConfiguration(vcpus: 2))
        storage = NSTemporaryDirectory() + "vtee-tahost-store-\(UUID().uuidString)"
        supplicant = try Supplicant(driver: driver, configuration: SupplicantConfiguration(storageDirectory: storage, taDirectory: taDir))
        _ = supplicant.start()
        context = TEEContext(driver: driver)
    }

    func shutdown() {
        context.finalize()
        supplicant.stop()
        driver.shutdown()
        mediator.destroyGuest(space.id)
        space.removeRAM()
        try? FileManager.default.removeItem(atPath: storage)
    }
}

/// Open file descriptors of this process (for leak checks).
func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Zombie children of this process.
func zombieChildren() -> [Int32] {
    let me = getpid()
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && fields[0] == "Z" && Int32(fields[1]) == me
    }
}
