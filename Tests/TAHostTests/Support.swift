/// Test support: exports the dev kit (with this build's libvteeta.so), builds the project's C
/// test TAs with it as an OP-TEE user would (`make -C <ta> TA_DEV_KIT_DIR=<kit>`: signed with
/// the development key), and runs them in a whole in-process vtee whose LOAD_TA path verifies
/// the image and hands its ELF to a `TAProcessRunner`.
import Foundation
import Logging
import Machine
import SecureWorld
import TADevKit
import TAHost
import TEEABI
import TEEClient
import VTEEKit

enum TAFixtures {
    /// The build products directory (libvteeta.so, vtee-ta-host, vtee).
    static var buildDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while dir.contains(".xctest") { dir = (dir as NSString).deletingLastPathComponent }
        return dir
    }
    static var sourceRoot: String { (#filePath as NSString).deletingLastPathComponent + "/../TAs" }

    static let coreUUID = try! TEEUUID("c0de0001-7ee0-4a11-8b5d-000000000001")
    static let cryptoUUID = try! TEEUUID("c0de0002-7ee0-4a11-8b5d-000000000002")
    static let benchUUID = try! TEEUUID("c0de00be-7ee0-4a11-8b5d-0000000000be")
    static let crypto11UUID = try! TEEUUID("c0de0003-7ee0-4a11-8b5d-000000000003")
    static var benchSource: String { (#filePath as NSString).deletingLastPathComponent + "/../../Benchmarks/CTAs/bench" }

    struct CommandError: Error, CustomStringConvertible { var description: String }

    static func run(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CommandError(description: "\(args.joined(separator: " ")): \(String(decoding: out, as: UTF8.self))")
        }
    }

    /// Exports the kit, builds every test TA with it, and collects the .ta files in one directory.
    static let taDirectory: Result<String, any Error> = {
        let root = NSTemporaryDirectory() + "vtee-tahost-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            let kit = root + "/kit", tas = root + "/tas", src = root + "/src"
            try FileManager.default.createDirectory(atPath: tas, withIntermediateDirectories: true)
            _ = try TADevKit.export(to: kit, vtee: buildDirectory + "/vtee", runtimeLibrary: buildDirectory + "/libvteeta.so")
            try FileManager.default.copyItem(atPath: sourceRoot, toPath: src)
            // The bench C TA (vtee bench's ta_c_invoke_ns / ta_aes_gcm_4k_ns) is built the same way.
            try FileManager.default.copyItem(atPath: benchSource, toPath: src + "/bench")
            for (name, uuid) in [("core", coreUUID), ("crypto", cryptoUUID), ("crypto11", crypto11UUID), ("bench", benchUUID)] {
                try run(["make", "-s", "-C", src + "/" + name, "TA_DEV_KIT_DIR=" + kit])
                try FileManager.default.copyItem(atPath: "\(src)/\(name)/\(uuid).ta", toPath: "\(tas)/\(uuid).ta")
            }
            return .success(tas)
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
    let stack: VTEEStack
    let guest: GuestStack
    let logs = LogCollector()
    let storage: String
    var context: TEEContext { guest.context }

    init(entryBound: Duration? = nil, cancelGrace: Duration = .seconds(2), pluginDirectory: String? = nil) throws {
        let taDir = try TAFixtures.taDirectory.get()
        var cfg = TAProcessConfig(hostExecutable: TAFixtures.buildDirectory + "/vtee-ta-host")
        cfg.entryBound = entryBound
        cfg.cancelGrace = cancelGrace
        let sink = logs
        cfg.logger = Logger(label: "vtee.ta") { _ in CollectingHandler(sink: sink) }
        let runner = TAProcessRunner(config: cfg)
        self.runner = runner
        storage = NSTemporaryDirectory() + "vtee-tahost-store-\(UUID().uuidString)"
        var sc = StackConfig()
        sc.storageRoot = storage
        sc.taDirectory = taDir
        sc.pluginDirectory = pluginDirectory
        sc.taRunner = { uuid, elf throws(TEEResult) in try runner.load(uuid: uuid, elf: elf) }
        stack = try VTEEStack(config: sc)
        guest = try stack.addGuest(GuestID(1))
    }

    func shutdown() {
        stack.removeGuest(guest)
        try? FileManager.default.removeItem(atPath: storage)
    }
}

/// Descriptors of this process that are a TA channel memfd (each live TA process holds one here).
func taChannelDescriptors() -> Int {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) ?? "").contains("vtee-ta-channel") }.count
}

/// Whether process `pid` no longer exists (exited and reaped: not even a zombie).
func isGone(_ pid: Int32) -> Bool { !FileManager.default.fileExists(atPath: "/proc/\(pid)") }

/// Open file descriptors of this process that TA processes use: their memfds (`vtee-ta*`) and
/// pidfds (for leak checks). Only these are counted because other suites run concurrently in the
/// same test process (make and gcc pipes, guest RAM memfds, daemon sockets) and would change a
/// process-wide count at any moment.
func openDescriptorCount() -> Int {
    guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return -1 }
    return fds.filter { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) else { return false }
        return target.hasPrefix("/memfd:vtee-ta") || target == "anon_inode:[pidfd]"
    }.count
}

/// Zombie children of this process.
func zombieChildren() -> [Int32] {
    let me = getpid()
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Only TA processes: other suites' short-lived children (make, gcc) are zombies for an instant.
        let comm = stat[stat.index(after: stat.firstIndex(of: "(") ?? stat.startIndex)..<close]
        return fields.count > 2 && fields[0] == "Z" && Int32(fields[1]) == me
            && (comm.hasPrefix("vtee-ta") || comm.hasPrefix("ta-"))
    }
}
