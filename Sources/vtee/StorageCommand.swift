import ArgumentParser
import Foundation
import VTEEKit
import VTEEDemo

/// `vtee storage-torture` (hidden): the writer the storage crash test kills with SIGKILL at random
/// points; see `runStorageTorture`.
struct StorageTortureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage-torture", abstract: "Check, then overwrite, secure storage objects until killed (crash tests).",
        shouldDisplay: false)

    @Option(help: "Storage root.") var storage: String
    @Option(help: "Secure state directory (device key, rollback counters).") var secureState: String
    @Option(help: "Objects overwritten in turn.") var objects: Int = 4
    @Option(help: "Number of the first write.") var firstWrite: UInt64 = 1
    @Option(help: "Writes before stopping (0: until killed).") var writes: Int = 0

    func validate() throws {
        guard (1...64).contains(objects) else { throw ValidationError("--objects must be 1...64") }
        guard writes >= 0 else { throw ValidationError("--writes must be >= 0") }
    }

    func run() throws {
        var o = StorageTortureOptions(storage: storage, secureState: secureState)
        o.objects = objects; o.firstWrite = firstWrite; o.writes = writes
        do {
            try runStorageTorture(o) { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        } catch {
            FileHandle.standardError.write(Data("vtee storage-torture: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
