import ArgumentParser

/// `vtee attack`: the adversarial battery against platform + mediator + secure world.
struct AttackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attack", abstract: "Run the attack battery.")
    func run() async throws { throw ValidationError("attack: not built yet") }
}
