/// Turns a raw ABI number into its name and fields, for people reading traces
/// (`vtee decode`). Total: every input gives a `DecodedValue`; unknown values say so.

/// What kind of ABI value a number is read as.
public enum ABIValueKind: String, Sendable, CaseIterable {
    /// An SMCCC function id in a0 (OPTEE_SMC_*, SMCCC_*, TRNG_*).
    case smcFunction = "smc"
    /// A TEE_Result / TEEC_Result.
    case result
    /// An OPTEE_SMC_RETURN_* in a0 after an SMC, RPC requests included.
    case smcReturn = "smc-return"
    /// An `optee_msg_param.attr` word.
    case attr
    /// An OPTEE_MSG_CMD_* in `optee_msg_arg.cmd`.
    case msgCommand = "cmd"
    /// An OPTEE_RPC_CMD_* in the `cmd` of an RPC argument.
    case rpcCommand = "rpc"
    /// An OPTEE_SMC_RPC_FUNC_* (low 16 bits of an RPC return).
    case rpcFunction = "rpc-func"
    /// A TEE_ORIGIN_* in `ret_origin`.
    case origin
    /// A login method (OPTEE_MSG_LOGIN_*, TEE_LOGIN_*).
    case login
    /// A Linux TEE ioctl number (TEE_IOC_*).
    case ioctl
}

/// One labelled field of a decoded value ("owner" = "50 Trusted OS").
public struct DecodedField: Hashable, Sendable {
    /// What the field is ("owner", "call type", ...).
    public let label: String
    /// The field's text.
    public let value: String
    /// A field called `label` with text `value`.
    public init(_ label: String, _ value: String) { self.label = label; self.value = value }
}

/// The result of decoding one number: its name (nil when unknown) and its fields.
public struct DecodedValue: Hashable, Sendable, CustomStringConvertible {
    /// What the number was read as.
    public let kind: ABIValueKind
    /// The number itself.
    public let raw: UInt64
    /// The OP-TEE / GP / Linux name, or nil when the value is not defined.
    public let name: String?
    /// The fields, in print order.
    public let fields: [DecodedField]

    /// True when the value has a defined name.
    public var isKnown: Bool { name != nil }

    /// The value of the field labelled `label`, if present.
    public func field(_ label: String) -> String? { fields.first { $0.label == label }?.value }

    /// "0x32000004 OPTEE_SMC_CALL_WITH_ARG" then one "  label: value" line per field.
    public var text: String {
        let width = raw > 0xFFFF_FFFF ? 16 : 8
        var lines = ["\(hex(raw, width: width)) \(name ?? "unknown")"]
        lines += fields.map { "  \($0.label): \($0.value)" }
        return lines.joined(separator: "\n")
    }
    /// Same as `text`.
    public var description: String { text }
}

/// Decodes raw numbers as ABI values.
public enum ABIValueDecoder {
    /// Parses "0x..." hex, "0b..." binary or decimal, with optional underscores; nil when not a UInt64.
    public static func parseInteger(_ s: String) -> UInt64? {
        let t = s.trimmingPrefixAndSpaces().replacingUnderscores()
        let lower = t.lowercased()
        if lower.hasPrefix("0x") { return UInt64(lower.dropFirst(2), radix: 16) }
        if lower.hasPrefix("0b") { return UInt64(lower.dropFirst(2), radix: 2) }
        return UInt64(lower, radix: 10)
    }

    /// Decodes `raw` as a value of `kind`.
    public static func decode(_ raw: UInt64, as kind: ABIValueKind) -> DecodedValue {
        switch kind {
        case .smcFunction: smcFunction(raw)
        case .result: result(raw)
        case .smcReturn: smcReturn(raw)
        case .attr: attr(raw)
        case .msgCommand: simple(raw, kind, fits32: { MsgCommand(rawValue: $0) }, name: { $0.name })
        case .rpcCommand: simple(raw, kind, fits32: { RPCCommand(rawValue: $0) }, name: { $0.name })
        case .rpcFunction: simple(raw, kind, fits32: { RPCFunction(rawValue: $0) }, name: { $0.name })
        case .origin: simple(raw, kind, fits32: { TEEOrigin(rawValue: $0) }, name: { $0.name })
        case .login: login(raw)
        case .ioctl: ioctl(raw)
        }
    }

    private static func tooWide(_ raw: UInt64, _ kind: ABIValueKind) -> DecodedValue {
        DecodedValue(kind: kind, raw: raw, name: nil, fields: [DecodedField("error", "wider than 32 bits")])
    }

    private static func simple<T>(_ raw: UInt64, _ kind: ABIValueKind, fits32 make: (UInt32) -> T,
                                  name: (T) -> String?) -> DecodedValue {
        guard let v = UInt32(exactly: raw) else { return tooWide(raw, kind) }
        return DecodedValue(kind: kind, raw: raw, name: name(make(v)), fields: [DecodedField("decimal", "\(v)")])
    }

    private static func smcFunction(_ raw: UInt64) -> DecodedValue {
        guard let v = UInt32(exactly: raw) else { return tooWide(raw, .smcFunction) }
        let id = SMCFunctionID(rawValue: v)
        var f = [DecodedField("call type", id.isFast ? "fast" : "yielding"),
                 DecodedField("convention", id.isSMC64 ? "SMC64" : "SMC32"),
                 DecodedField("owner", id.owner.description),
                 DecodedField("function", "\(id.function)")]
        if id.hasReservedBits { f.append(DecodedField("reserved bits 23:16", hex((v >> 16) & 0xFF, width: 2))) }
        return DecodedValue(kind: .smcFunction, raw: raw, name: id.name, fields: f)
    }

    private static func result(_ raw: UInt64) -> DecodedValue {
        guard let v = UInt32(exactly: raw) else { return tooWide(raw, .result) }
        let r = TEEResult(rawValue: v)
        var f: [DecodedField] = []
        let aliases = ABICatalog.names(group: .teeResultCodes, value: raw, prefix: "TEEC_")
        if !aliases.isEmpty { f.append(DecodedField("client API name", aliases.joined(separator: ", "))) }
        return DecodedValue(kind: .result, raw: raw, name: r.name, fields: f)
    }

    private static func smcReturn(_ raw: UInt64) -> DecodedValue {
        guard let v = UInt32(exactly: raw) else { return tooWide(raw, .smcReturn) }
        let r = SMCReturn(rawValue: v)
        var f: [DecodedField] = []
        if r.isRPC {
            let fn = RPCFunction(rawValue: v & SMCReturn.rpcFunctionMask)
            f.append(DecodedField("rpc function", "\(fn.name ?? "unknown") (\(fn.rawValue))"))
        }
        return DecodedValue(kind: .smcReturn, raw: raw, name: r.name, fields: f)
    }

    private static func attr(_ raw: UInt64) -> DecodedValue {
        let a = MsgAttr(rawValue: raw)
        var f = [DecodedField("type", a.type?.name ?? "undefined (\(raw & MsgAttr.typeMask))")]
        if a.isMeta { f.append(DecodedField("meta", "OPTEE_MSG_ATTR_META")) }
        if a.isNoncontig { f.append(DecodedField("noncontig", "OPTEE_MSG_ATTR_NONCONTIG (tmem.buf_ptr names a page list)")) }
        f.append(DecodedField("cache", "\(a.cache)"))
        let stray = raw & ~MsgAttr.validBits
        if stray != 0 { f.append(DecodedField("stray bits", hex(stray, width: 16))) }
        if a.isNoncontig, let t = a.type, !t.isTmem { f.append(DecodedField("error", "NONCONTIG is only valid on TMEM types")) }
        return DecodedValue(kind: .attr, raw: raw, name: a.isWellFormed ? a.description : nil, fields: f)
    }

    private static func login(_ raw: UInt64) -> DecodedValue {
        guard let v = UInt32(exactly: raw) else { return tooWide(raw, .login) }
        let l = LoginMethod(rawValue: v)
        var f: [DecodedField] = []
        let others = ABICatalog.names(group: .loginMethods, value: raw).filter { $0 != l.name }
        if !others.isEmpty { f.append(DecodedField("also", others.joined(separator: ", "))) }
        if LinuxTEE.Login.reeKernelRange.contains(v) { f.append(DecodedField("linux", "reserved for kernel clients (user space gets -EPERM)")) }
        return DecodedValue(kind: .login, raw: raw, name: l.name, fields: f)
    }

    private static func ioctl(_ raw: UInt64) -> DecodedValue {
        guard let v = UInt32(exactly: raw) else { return tooWide(raw, .ioctl) }
        let dir: String
        switch v >> 30 { case 1: dir = "_IOW"; case 2: dir = "_IOR"; case 3: dir = "_IOWR"; default: dir = "_IO" }
        let f = [DecodedField("direction", dir), DecodedField("type", hex((v >> 8) & 0xFF, width: 2)),
                 DecodedField("number", "\(v & 0xFF)"), DecodedField("size", "\((v >> 16) & 0x3FFF)")]
        return DecodedValue(kind: .ioctl, raw: raw, name: LinuxTEE.Ioctl(rawValue: v).name, fields: f)
    }
}

extension String {
    fileprivate func trimmingPrefixAndSpaces() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed())
    }
    fileprivate func replacingUnderscores() -> String { String(self.filter { $0 != "_" }) }
}
