/// vtee: the composition root's command line. Each subcommand lives in its own file.
import ArgumentParser

@main
struct VTEE: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vtee",
        abstract: "A virtual, OP-TEE-compatible TrustZone stack: guests, mediator, secure world.",
        subcommands: [DemoCommand.self, ServeCommand.self, ClientCommand.self, InvokeCommand.self, StatsCommand.self, DecodeCommand.self, ABICommand.self, AttackCommand.self]
    )
}
