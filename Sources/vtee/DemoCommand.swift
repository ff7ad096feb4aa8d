import ArgumentParser

/// `vtee demo`: boots platform, mediator, secure world and N guests in one process.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Run the scripted workload in N guests through the mediator.")
    func run() async throws { throw ValidationError("demo: not built yet") }
}
