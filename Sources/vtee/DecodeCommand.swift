import ArgumentParser
import TEEABI

/// What `vtee decode` reads its numbers as (one flag; `--smc` is the default).
enum DecodeKind: String, EnumerableFlag {
    case smc, result, smcReturn, attr, cmd, rpc, rpcFunc, origin, login, ioctl

    /// The TEEABI kind behind the flag.
    var abiKind: ABIValueKind {
        switch self {
        case .smc: .smcFunction
        case .result: .result
        case .smcReturn: .smcReturn
        case .attr: .attr
        case .cmd: .msgCommand
        case .rpc: .rpcCommand
        case .rpcFunc: .rpcFunction
        case .origin: .origin
        case .login: .login
        case .ioctl: .ioctl
        }
    }

    static func help(for value: DecodeKind) -> ArgumentHelp? {
        switch value {
        case .smc: "SMCCC function id in a0 (default)"
        case .result: "TEE_Result / TEEC_Result code"
        case .smcReturn: "OPTEE_SMC_RETURN_* in a0 after an SMC (RPC requests included)"
        case .attr: "optee_msg_param attr word"
        case .cmd: "OPTEE_MSG_CMD_* of optee_msg_arg.cmd"
        case .rpc: "OPTEE_RPC_CMD_* of an RPC argument"
        case .rpcFunc: "OPTEE_SMC_RPC_FUNC_*"
        case .origin: "TEE_ORIGIN_* of ret_origin"
        case .login: "login method"
        case .ioctl: "Linux TEE ioctl number"
        }
    }
}

/// `vtee decode`: names and fields of SMC ids, return codes, attributes, commands, results.
/// Prints "unknown" and exits 1 when a value has no defined name.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Decode an ABI value.",
        discussion: "Numbers may be hex (0x...), binary (0b...) or decimal. Exit status 1 when a value is unknown.")

    @Flag(help: "How to read the numbers.")
    var kind: DecodeKind = .smc

    @Argument(help: "The values to decode.")
    var values: [String]

    func validate() throws {
        if values.isEmpty { throw ValidationError("give at least one value") }
        for v in values where ABIValueDecoder.parseInteger(v) == nil {
            throw ValidationError("not a 64-bit number: \(v)")
        }
    }

    func run() throws {
        var allKnown = true
        for v in values {
            guard let raw = ABIValueDecoder.parseInteger(v) else { throw ValidationError("not a 64-bit number: \(v)") }
            let d = ABIValueDecoder.decode(raw, as: kind.abiKind)
            print(d.text)
            allKnown = allKnown && d.isKnown
        }
        if !allKnown { throw ExitCode(1) }
    }
}

/// `vtee abi --json`: every named constant.
struct ABICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abi", abstract: "List every ABI constant vtee defines.")

    @Flag(help: "Print a JSON array of {\"group\", \"name\", \"value\"} objects.")
    var json = false

    @Option(help: "Only this group (e.g. smc_function_ids).")
    var group: String?

    func run() throws {
        var rows = ABICatalog.all
        if let g = group {
            guard let ag = ABIGroup(rawValue: g) else {
                throw ValidationError("unknown group \(g); groups: \(ABIGroup.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            rows = rows.filter { $0.group == ag }
        }
        if json {
            print(ABICatalog.json(rows), terminator: "")
        } else {
            for c in rows {
                let width = c.value > 0xFFFF_FFFF ? 16 : 8
                print("\(c.group.rawValue)\t\(c.name)\t\(hex(c.value, width: width))")
            }
        }
    }
}
