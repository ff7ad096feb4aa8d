import ArgumentParser
import Foundation
import VTEEAttack

/// `vtee attack [--json]`: the adversarial battery against platform + mediator + secure world.
/// Prints a Markdown table (or a JSON array of {"name","held","expected","observed"}); exits 0 only if all held.
struct AttackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attack", abstract: "Run the attack battery.")

    @Flag(help: "Print a JSON array of {name, held, expected, observed}.")
    var json = false

    @Option(help: "Run only scenarios whose name contains this text.")
    var filter: String?

    func run() throws {
        let scenarios = attackScenarios.filter { s in filter.map { s.name.contains($0) } ?? true }
        guard !scenarios.isEmpty else { throw ValidationError("no scenario matches \(filter ?? "")") }
        let results = scenarios.map(runAttack)
        if json {
            struct Row: Encodable { let name: String; let held: Bool; let expected: String; let observed: String }
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try enc.encode(results.map { Row(name: $0.name, held: $0.held, expected: $0.expected, observed: $0.observed) })
            print(String(decoding: data, as: UTF8.self))
        } else {
            // A Markdown table: readable in a terminal, renders as a table in docs.
            func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }
            print("| result | scenario | tries | expected | observed |")
            print("|---|---|---|---|---|")
            for r in results {
                print("| \(r.held ? "held" : "BROKEN") | \(r.name) | \(cell(r.tries)) | \(cell(r.expected)) | \(cell(r.observed)) |")
            }
            print("")
            print("\(results.filter(\.held).count)/\(results.count) scenarios held")
        }
        if results.contains(where: { !$0.held }) { throw ExitCode(1) }
    }
}
