import ArgumentParser

/// `vtee decode`: names and fields of SMC ids, return codes, attributes, commands, results.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode", abstract: "Decode an ABI value.")
    func run() throws { throw ValidationError("decode: not built yet") }
}

/// `vtee abi --json`: every named constant.
struct ABICommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "abi", abstract: "List every ABI constant vtee defines.")
    func run() throws { throw ValidationError("abi: not built yet") }
}
