import ArgumentParser
import Foundation
import VTEEDemo

/// `vtee demo`: boots platform, mediator, secure world and N guests in one process and runs the
/// scripted workload in every guest at once. Exit 0 only if every step of every guest succeeded.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run the scripted workload in N guests through the mediator.")

    @Option(help: "Number of guests.") var guests: Int = 4
    @Option(help: "Storage directory of the guests' supplicants (default: a vtee directory under the user's data directory).")
    var storage: String?
    @Flag(help: "Print one JSON object instead of the table.") var json = false

    func validate() throws {
        guard (1...64).contains(guests) else { throw ValidationError("--guests must be between 1 and 64") }
    }

    func run() throws {
        let dir = storage ?? DemoDefaults.storageDirectory
        let report: DemoReport
        do { report = try runDemo(guests: guests, storage: dir) } catch {
            FileHandle.standardError.write(Data("vtee demo: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print(json ? report.json : report.table)
        if !report.ok { throw ExitCode.failure }
    }
}
