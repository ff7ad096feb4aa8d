/// `struct optee_msg_arg` and `struct optee_msg_param`: the message that a std call
/// carries, byte for byte (layouts.tsv), with a total decoder.

/// OPTEE_MSG_CMD_*: the command of a std call.
public struct MsgCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static var openSession: MsgCommand { MsgCommand(rawValue: 0) }
    @inlinable public static var invokeCommand: MsgCommand { MsgCommand(rawValue: 1) }
    @inlinable public static var closeSession: MsgCommand { MsgCommand(rawValue: 2) }
    @inlinable public static var cancel: MsgCommand { MsgCommand(rawValue: 3) }
    @inlinable public static var registerSHM: MsgCommand { MsgCommand(rawValue: 4) }
    @inlinable public static var unregisterSHM: MsgCommand { MsgCommand(rawValue: 5) }
    @inlinable public static var doBottomHalf: MsgCommand { MsgCommand(rawValue: 6) }
    @inlinable public static var stopAsyncNotif: MsgCommand { MsgCommand(rawValue: 7) }
    @inlinable public static var lendProtmem: MsgCommand { MsgCommand(rawValue: 8) }
    @inlinable public static var reclaimProtmem: MsgCommand { MsgCommand(rawValue: 9) }
    @inlinable public static var getProtmemConfig: MsgCommand { MsgCommand(rawValue: 10) }
    @inlinable public static var assignProtmem: MsgCommand { MsgCommand(rawValue: 11) }
    /// OP-TEE name, or nil when unknown.
    public var name: String? {
        switch rawValue {
        case 0: "OPTEE_MSG_CMD_OPEN_SESSION"
        case 1: "OPTEE_MSG_CMD_INVOKE_COMMAND"
        case 2: "OPTEE_MSG_CMD_CLOSE_SESSION"
        case 3: "OPTEE_MSG_CMD_CANCEL"
        case 4: "OPTEE_MSG_CMD_REGISTER_SHM"
        case 5: "OPTEE_MSG_CMD_UNREGISTER_SHM"
        case 6: "OPTEE_MSG_CMD_DO_BOTTOM_HALF"
        case 7: "OPTEE_MSG_CMD_STOP_ASYNC_NOTIF"
        case 8: "OPTEE_MSG_CMD_LEND_PROTMEM"
        case 9: "OPTEE_MSG_CMD_RECLAIM_PROTMEM"
        case 10: "OPTEE_MSG_CMD_GET_PROTMEM_CONFIG"
        case 11: "OPTEE_MSG_CMD_ASSIGN_PROTMEM"
        default: nil
        }
    }
    public var description: String { name ?? hex(rawValue) }
}

/// The type in the low byte of a param's `attr` (OPTEE_MSG_ATTR_TYPE_*).
public enum MsgParamType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0, valueInput = 1, valueOutput = 2, valueInout = 3
    case rmemInput = 5, rmemOutput = 6, rmemInout = 7
    case tmemInput = 9, tmemOutput = 10, tmemInout = 11

    /// VALUE_* types.
    @inlinable public var isValue: Bool { (1...3).contains(rawValue) }
    /// RMEM_* (registered memory, FMEM on FF-A) types.
    @inlinable public var isRmem: Bool { (5...7).contains(rawValue) }
    /// TMEM_* (temporary memory by address) types.
    @inlinable public var isTmem: Bool { (9...11).contains(rawValue) }
    /// Any memory reference type.
    @inlinable public var isMemref: Bool { isRmem || isTmem }
    /// Carries data from the normal world in (INPUT or INOUT).
    @inlinable public var isInput: Bool { self != .none && rawValue & 3 != 2 }
    /// Carries data back out (OUTPUT or INOUT).
    @inlinable public var isOutput: Bool { rawValue & 2 != 0 }

    /// OP-TEE name of the type.
    public var name: String {
        switch self {
        case .none: "OPTEE_MSG_ATTR_TYPE_NONE"
        case .valueInput: "OPTEE_MSG_ATTR_TYPE_VALUE_INPUT"
        case .valueOutput: "OPTEE_MSG_ATTR_TYPE_VALUE_OUTPUT"
        case .valueInout: "OPTEE_MSG_ATTR_TYPE_VALUE_INOUT"
        case .rmemInput: "OPTEE_MSG_ATTR_TYPE_RMEM_INPUT"
        case .rmemOutput: "OPTEE_MSG_ATTR_TYPE_RMEM_OUTPUT"
        case .rmemInout: "OPTEE_MSG_ATTR_TYPE_RMEM_INOUT"
        case .tmemInput: "OPTEE_MSG_ATTR_TYPE_TMEM_INPUT"
        case .tmemOutput: "OPTEE_MSG_ATTR_TYPE_TMEM_OUTPUT"
        case .tmemInout: "OPTEE_MSG_ATTR_TYPE_TMEM_INOUT"
        }
    }
    public var description: String { name }
}

/// A param's full `attr` word: type, META, NONCONTIG and cache bits.
public struct MsgAttr: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    @inlinable public static var typeMask: UInt64 { 0xFF }
    @inlinable public static var metaBit: UInt64 { 0x100 }
    @inlinable public static var noncontigBit: UInt64 { 0x200 }
    @inlinable public static var cacheShift: UInt64 { 16 }
    @inlinable public static var cacheMask: UInt64 { 0x7 }
    /// Every bit a valid attr may have set.
    @inlinable public static var validBits: UInt64 { typeMask | metaBit | noncontigBit | (cacheMask << cacheShift) }

    /// Builds an attr from its parts.
    @inlinable public init(_ type: MsgParamType, meta: Bool = false, noncontig: Bool = false, cache: UInt8 = 0) {
        rawValue = UInt64(type.rawValue) | (meta ? Self.metaBit : 0) | (noncontig ? Self.noncontigBit : 0)
            | ((UInt64(cache) & Self.cacheMask) << Self.cacheShift)
    }

    /// The param type, or nil when the low byte is not a defined type.
    @inlinable public var type: MsgParamType? { MsgParamType(rawValue: UInt8(rawValue & Self.typeMask)) }
    /// OPTEE_MSG_ATTR_META: consumed by OP-TEE itself.
    @inlinable public var isMeta: Bool { rawValue & Self.metaBit != 0 }
    /// OPTEE_MSG_ATTR_NONCONTIG: tmem buf_ptr names a page list.
    @inlinable public var isNoncontig: Bool { rawValue & Self.noncontigBit != 0 }
    /// OPTEE_MSG_ATTR_CACHE_* bits.
    @inlinable public var cache: UInt8 { UInt8((rawValue >> Self.cacheShift) & Self.cacheMask) }
    /// True when the attr has a defined type and no stray bits, and NONCONTIG only on tmem.
    @inlinable public var isWellFormed: Bool {
        guard let t = type, rawValue & ~Self.validBits == 0 else { return false }
        return !isNoncontig || t.isTmem
    }

    public var description: String {
        var parts = [type?.name ?? "type \(hex(rawValue & Self.typeMask, width: 2))"]
        if isMeta { parts.append("OPTEE_MSG_ATTR_META") }
        if isNoncontig { parts.append("OPTEE_MSG_ATTR_NONCONTIG") }
        if cache != 0 { parts.append("cache=\(cache)") }
        if rawValue & ~Self.validBits != 0 { parts.append("stray bits \(hex(rawValue & ~Self.validBits, width: 16))") }
        return parts.joined(separator: " | ")
    }
}

/// One `struct optee_msg_param` (32 bytes): attr plus a 24-byte union kept as three words.
///
/// The union is interpreted by `attr`: value {a, b, c}; tmem {buf_ptr, size, shm_ref};
/// rmem {offs, size, shm_ref}; fmem {offs_low:32, offs_high:16, internal_offs:16, size, global_id}.
public struct MsgParam: Hashable, Sendable, CustomStringConvertible {
    /// The attr word.
    public var attr: MsgAttr
    /// The union's three words (bytes 8, 16, 24 of the param).
    public var a: UInt64, b: UInt64, c: UInt64

    @inlinable public init(attr: MsgAttr, a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0) {
        self.attr = attr; self.a = a; self.b = b; self.c = c
    }
    /// A NONE param.
    public static let none = MsgParam(attr: MsgAttr(.none))
    /// A value param.
    @inlinable public static func value(_ t: MsgParamType, a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, meta: Bool = false) -> MsgParam {
        MsgParam(attr: MsgAttr(t, meta: meta), a: a, b: b, c: c)
    }
    /// A tmem param: buffer address, size, and the shm reference (cookie).
    @inlinable public static func tmem(_ t: MsgParamType, bufPtr: UInt64, size: UInt64, shmRef: UInt64, noncontig: Bool = false) -> MsgParam {
        MsgParam(attr: MsgAttr(t, noncontig: noncontig), a: bufPtr, b: size, c: shmRef)
    }
    /// An rmem param: offset and size inside the registered shm `shmRef`.
    @inlinable public static func rmem(_ t: MsgParamType, offset: UInt64, size: UInt64, shmRef: UInt64) -> MsgParam {
        MsgParam(attr: MsgAttr(t), a: offset, b: size, c: shmRef)
    }

    // Typed views of the union.
    /// tmem.buf_ptr / rmem.offs / value.a.
    @inlinable public var bufPtr: UInt64 { get { a } set { a = newValue } }
    /// tmem.size / rmem.size / value.b.
    @inlinable public var size: UInt64 { get { b } set { b = newValue } }
    /// tmem.shm_ref / rmem.shm_ref / value.c.
    @inlinable public var shmRef: UInt64 { get { c } set { c = newValue } }
    /// fmem.offs_low | offs_high << 32.
    @inlinable public var fmemOffset: UInt64 { (a & 0xFFFF_FFFF) | (((a >> 32) & 0xFFFF) << 32) }
    /// fmem.internal_offs.
    @inlinable public var fmemInternalOffset: UInt16 { UInt16(truncatingIfNeeded: a >> 48) }
    /// The 16 octets in value.a, value.b (UUIDs in OPEN_SESSION meta params).
    public var octets: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes { LE.put($0, 0, a); LE.put($0, 8, b) }
        return out
    }
    /// Stores 16 octets into value.a, value.b, byte for byte as a memcpy would.
    public mutating func setOctets(_ o: [UInt8]) {
        var bytes = o.prefix(16).map { $0 }
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        bytes.withUnsafeBytes { a = LE.u64($0, 0); b = LE.u64($0, 8) }
    }

    public var description: String {
        "{\(attr) a=\(hex(a, width: 1)) b=\(hex(b, width: 1)) c=\(hex(c, width: 1))}"
    }

    /// Size of one encoded param.
    @inlinable public static var byteSize: Int { 32 }
}

/// `struct optee_msg_arg` with its params.
public struct MsgArg: Hashable, Sendable, CustomStringConvertible {
    /// OPTEE_MSG_CMD_*.
    public var cmd: MsgCommand
    /// `func`: the TA command of INVOKE_COMMAND.
    public var function: UInt32
    /// Session id (written back by OPEN_SESSION).
    public var session: UInt32
    /// Id a later CANCEL names.
    public var cancelID: UInt32
    /// Padding, kept for byte-exact round trips.
    public var pad: UInt32
    /// Result code.
    public var ret: TEEResult
    /// Which layer produced `ret`.
    public var retOrigin: TEEOrigin
    /// The params; their count is num_params.
    public var params: [MsgParam]

    /// Size of the fixed header.
    @inlinable public static var headerSize: Int { 32 }
    /// OPTEE_MSG_MAX_NUM_PARAMS: (4096 - 32) / 32 keeps one argument in one page.
    @inlinable public static var maxNumParams: Int { 127 }

    /// OPTEE_MSG_GET_ARG_SIZE(n) = 32 + 32 * n.
    @inlinable public static func size(numParams n: Int) -> Int { headerSize + MsgParam.byteSize * n }
    /// This argument's encoded size.
    @inlinable public var byteSize: Int { Self.size(numParams: params.count) }

    /// An argument; unspecified fields are zero.
    public init(cmd: MsgCommand, function: UInt32 = 0, session: UInt32 = 0, cancelID: UInt32 = 0,
                pad: UInt32 = 0, ret: TEEResult = .success, retOrigin: TEEOrigin = TEEOrigin(rawValue: 0),
                params: [MsgParam] = []) {
        self.cmd = cmd; self.function = function; self.session = session; self.cancelID = cancelID
        self.pad = pad; self.ret = ret; self.retOrigin = retOrigin; self.params = params
    }

    /// Reads only `num_params` from an encoded header (no validation of the params).
    public static func peekNumParams(_ bytes: UnsafeRawBufferPointer) throws(ABIError) -> UInt32 {
        guard bytes.count >= headerSize else { throw .truncated(needed: headerSize, available: bytes.count) }
        return LE.u32(bytes, 28)
    }

    /// Decodes an argument. `maxParams` bounds num_params (default OPTEE_MSG_MAX_NUM_PARAMS);
    /// with `validateAttributes`, every attr must be well formed (a defined type, no stray bits).
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxParams: Int = maxNumParams,
                              validateAttributes: Bool = true) throws(ABIError) -> MsgArg {
        guard bytes.count >= headerSize else { throw .truncated(needed: headerSize, available: bytes.count) }
        let n = LE.u32(bytes, 28)
        guard n <= UInt32(min(maxParams, maxNumParams)) else { throw .tooManyParams(count: n, maximum: min(maxParams, maxNumParams)) }
        let needed = size(numParams: Int(n))
        guard bytes.count >= needed else { throw .truncated(needed: needed, available: bytes.count) }
        var params: [MsgParam] = []
        params.reserveCapacity(Int(n))
        for i in 0..<Int(n) {
            let o = headerSize + i * MsgParam.byteSize
            let p = MsgParam(attr: MsgAttr(rawValue: LE.u64(bytes, o)), a: LE.u64(bytes, o + 8),
                             b: LE.u64(bytes, o + 16), c: LE.u64(bytes, o + 24))
            if validateAttributes && !p.attr.isWellFormed { throw .unknownAttribute(index: i, attr: p.attr.rawValue) }
            params.append(p)
        }
        return MsgArg(cmd: MsgCommand(rawValue: LE.u32(bytes, 0)), function: LE.u32(bytes, 4),
                      session: LE.u32(bytes, 8), cancelID: LE.u32(bytes, 12), pad: LE.u32(bytes, 16),
                      ret: TEEResult(rawValue: LE.u32(bytes, 20)), retOrigin: TEEOrigin(rawValue: LE.u32(bytes, 24)),
                      params: params)
    }

    /// Decodes from a byte array (see `decode(_:maxParams:validateAttributes:)`).
    public static func decode(_ bytes: [UInt8], maxParams: Int = maxNumParams, validateAttributes: Bool = true) throws(ABIError) -> MsgArg {
        // Sound: the buffer pointer lives only for the closure.
        let r: Result<MsgArg, ABIError> = bytes.withUnsafeBytes { b in
            do throws(ABIError) { return .success(try decode(b, maxParams: maxParams, validateAttributes: validateAttributes)) }
            catch { return .failure(error) }
        }
        return try r.get()
    }

    /// Encodes into `out`, which must hold at least `byteSize` bytes; returns bytes written.
    @discardableResult
    public func encode(into out: UnsafeMutableRawBufferPointer) throws(ABIError) -> Int {
        guard out.count >= byteSize else { throw .truncated(needed: byteSize, available: out.count) }
        LE.put(out, 0, cmd.rawValue); LE.put(out, 4, function); LE.put(out, 8, session)
        LE.put(out, 12, cancelID); LE.put(out, 16, pad); LE.put(out, 20, ret.rawValue)
        LE.put(out, 24, retOrigin.rawValue); LE.put(out, 28, UInt32(params.count))
        for (i, p) in params.enumerated() {
            let o = Self.headerSize + i * MsgParam.byteSize
            LE.put(out, o, p.attr.rawValue); LE.put(out, o + 8, p.a); LE.put(out, o + 16, p.b); LE.put(out, o + 24, p.c)
        }
        return byteSize
    }

    /// The encoded bytes.
    public func encoded() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteSize)
        out.withUnsafeMutableBytes { b in _ = try? encode(into: b) }
        return out
    }

    public var description: String {
        "optee_msg_arg{cmd=\(cmd) func=\(function) session=\(hex(session)) cancel_id=\(cancelID) ret=\(ret) origin=\(retOrigin.rawValue) num_params=\(params.count)}"
            + params.enumerated().map { "\n  [\($0.offset)] \($0.element)" }.joined()
    }
}

/// Parsed OPEN_SESSION meta params: params[0] = TA UUID, params[1] = client UUID and login.
public struct OpenSessionMeta: Hashable, Sendable {
    /// The TA to open.
    public var ta: TEEUUID
    /// The client UUID.
    public var client: TEEUUID
    /// The login method.
    public var login: LoginMethod

    /// Meta values for an OPEN_SESSION.
    public init(ta: TEEUUID, client: TEEUUID, login: LoginMethod) {
        self.ta = ta; self.client = client; self.login = login
    }

    /// OPEN_SESSION meta attr: VALUE_INPUT | META (0x101).
    public static let metaAttr = MsgAttr(.valueInput, meta: true)

    /// The two meta params that start an OPEN_SESSION argument.
    public var params: [MsgParam] {
        var p0 = MsgParam(attr: Self.metaAttr); p0.setOctets(ta.octets)
        var p1 = MsgParam(attr: Self.metaAttr, c: UInt64(login.rawValue)); p1.setOctets(client.octets)
        return [p0, p1]
    }

    /// Parses the meta params; both must have attr exactly 0x101.
    public init(params: [MsgParam]) throws(ABIError) {
        guard params.count >= 2 else { throw .badMeta(index: params.count) }
        guard params[0].attr == Self.metaAttr else { throw .badMeta(index: 0) }
        guard params[1].attr == Self.metaAttr else { throw .badMeta(index: 1) }
        ta = TEEUUID(octets: params[0].octets)
        client = TEEUUID(octets: params[1].octets)
        login = LoginMethod(rawValue: UInt32(truncatingIfNeeded: params[1].c))
    }
}
