/// The catalog of every named constant vtee implements, with OP-TEE / Linux / GP names
/// verbatim, for printing (`vtee decode`, `vtee abi --json`) and conformance tests.

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
    public let group: ABIGroup
    public let name: String
    public let value: UInt64
    public init(_ group: ABIGroup, _ name: String, _ value: UInt64) { self.group = group; self.name = name; self.value = value }
}

public enum ABICatalog {
    /// Every constant, in catalog order.
    public static let all: [ABIConstant] = CatalogData.entries

    /// The first name in `group` with `value` (and the given prefix), or nil.
    public static func name(group: ABIGroup, value: UInt64, prefix: String = "") -> String? {
        all.first { $0.group == group && $0.value == value && $0.name.hasPrefix(prefix) }?.name
    }
    /// All constants named `name`.
    public static func lookup(_ name: String) -> [ABIConstant] { all.filter { $0.name == name } }
}
