/// vtee: the composition root's command line. Each subcommand lives in its own file.
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct VTEE: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vtee",
        abstract: "A virtual, OP-TEE-compatible TrustZone stack: guests, mediator, secure world.",
        subcommands: [DemoCommand.self, TACommand.self, DevkitCommand.self, ServeCommand.self, ClientCommand.self, InvokeCommand.self, StatsCommand.self, DecodeCommand.self, ABICommand.self, AttackCommand.self, BenchCommand.self, BenchGuestCommand.self, BenchLoopCommand.self, StorageTortureCommand.self]
    )

    /// Entry point: a peer that hangs up must show as an error code on a socket call, never kill
    /// the process with SIGPIPE.
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        await main(nil)
    }
}
