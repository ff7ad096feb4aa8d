import ArgumentParser
import TEEABI

/// What `vtee decode` reads its numbers as (one flag; `--smc` is the default).
enum DecodeKind: String, EnumerableFlag {
    case smc, result, smcReturn, attr, cmd, rpc, rpcFunc, origin, login, ioctl, frame

    /// The TEEABI kind behind the flag (nil for `--frame`, which reads a whole register frame).
    var abiKind: ABIValueKind? {
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
        case .frame: nil
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
        case .frame: "a register frame: the values are a0, a1, ... (up to a7)"
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
        let raws = values.compactMap(ABIValueDecoder.parseInteger)
        guard raws.count == values.count else { throw ValidationError("not a 64-bit number in \(values)") }
        guard let abiKind = kind.abiKind else {
            guard raws.count <= 8 else { throw ValidationError("a frame has at most 8 registers (a0...a7)") }
            var frame = RegisterFrame()
            for (i, r) in raws.enumerated() { frame[i] = r }
            let d = ABIValueDecoder.decode(frame: frame)
            print(d.text)
            if d.call == nil { throw ExitCode(1) }
            return
        }
        var allKnown = true
        for raw in raws {
            let d = ABIValueDecoder.decode(raw, as: abiKind)
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
