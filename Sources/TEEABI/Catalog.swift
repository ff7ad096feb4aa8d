/// The catalog of every named constant vtee implements, with OP-TEE / Linux / GP names
/// verbatim, for printing (`vtee decode`, `vtee abi --json`) and conformance tests.
/// The rows are generated from the conformance fixture by scripts/gen-catalog.py.

/// Groups of constants, named as in the project's conformance fixture.
public enum ABIGroup: String, Sendable, CaseIterable {
    case smcEncoding = "smc_encoding"
    case smcFunctionIDs = "smc_function_ids"
    case smcCallArgs = "smc_call_args"
    case smcReturnCodes = "smc_return_codes"
    case smcCapabilities = "smc_capabilities"
    case msgCommands = "msg_commands"
    case msgAttr = "msg_attr"
    case msgOrigin = "msg_origin"
    case rpcCommands = "rpc_commands"
    case teeResultCodes = "tee_result_codes"
    case gpParamTypes = "gp_param_types"
    case loginMethods = "login_methods"
    case linuxTEEIoctls = "linux_tee_ioctls"
    case uuid = "uuid"
    case gpMisc = "gp_misc"
}

/// One named constant.
public struct ABIConstant: Hashable, Sendable {
    /// The group it is listed under.
    public let group: ABIGroup
    /// The header's name, verbatim.
    public let name: String
    /// Its value (every catalogued constant fits 64 bits).
    public let value: UInt64
    /// A constant of `group` called `name` (verbatim header spelling) with `value`.
    public init(_ group: ABIGroup, _ name: String, _ value: UInt64) { self.group = group; self.name = name; self.value = value }
}

/// Lookups over every constant vtee defines.
public enum ABICatalog {
    /// Every constant, in catalog order.
    public static let all: [ABIConstant] = CatalogData.entries

    /// Reference rows deliberately left out of the catalog (legacy spellings, newer uapi,
    /// 128-bit UUIDs that live as `TEEUUID`), with the reason.
    public static var omitted: [(name: String, reason: String)] { CatalogData.omitted }

    /// The first name in `group` with `value` (and the given prefix), or nil.
    public static func name(group: ABIGroup, value: UInt64, prefix: String = "") -> String? {
        all.first { $0.group == group && $0.value == value && $0.name.hasPrefix(prefix) }?.name
    }
    /// Every name in `group` with `value` and the given prefix, in catalog order.
    public static func names(group: ABIGroup, value: UInt64, prefix: String = "") -> [String] {
        all.filter { $0.group == group && $0.value == value && $0.name.hasPrefix(prefix) }.map(\.name)
    }
    /// All constants named `name`.
    public static func lookup(_ name: String) -> [ABIConstant] { all.filter { $0.name == name } }
    /// The value of the constant named `name` (names are unique in the catalog), or nil.
    public static func value(of name: String) -> UInt64? { all.first { $0.name == name }?.value }

    /// The whole catalog as a JSON array of {"group", "name", "value"} objects, one per line.
    /// Values are printed as exact decimal integers (even above 2^53).
    public static func json(_ constants: [ABIConstant] = all) -> String {
        var out = "[\n"
        for (i, c) in constants.enumerated() {
            out += "  {\"group\": \(jsonString(c.group.rawValue)), \"name\": \(jsonString(c.name)), \"value\": \(c.value)}"
            out += i + 1 < constants.count ? ",\n" : "\n"
        }
        return out + "]\n"
    }

    /// A JSON string literal for `s` (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
