/// A register frame read as an OP-TEE call: which call it is and what its argument registers
/// mean (see abi/notes.md). Total: any frame decodes to a call or to a typed `ABIError`.

/// One OP-TEE SMC as the normal world issues it, with its arguments decoded.
public enum SMCCall: Hashable, Sendable {
    /// OPTEE_SMC_CALL_WITH_ARG: a1:a2 = physical address of an `optee_msg_arg`, a3 = cache attributes.
    case callWithArg(argument: UInt64, cacheAttributes: UInt32)
    /// OPTEE_SMC_CALL_WITH_RPC_ARG: as CALL_WITH_ARG; the RPC argument follows the call argument.
    case callWithRPCArg(argument: UInt64, cacheAttributes: UInt32)
    /// OPTEE_SMC_CALL_WITH_REGD_ARG: a1:a2 = shared-memory cookie, a3 = offset of the argument in it.
    case callWithRegdArg(cookie: UInt64, offset: UInt32)
    /// OPTEE_SMC_CALL_RETURN_FROM_RPC: a1..a6 as the normal world sets them (a1:a2 answer, a3 thread id,
    /// a4:a5 cookie for RPC_ALLOC).
    case returnFromRPC(a1: UInt32, a2: UInt32, thread: UInt32, a4: UInt32, a5: UInt32, a6: UInt32)
    /// OPTEE_SMC_EXCHANGE_CAPABILITIES: a1 = the normal world's capabilities.
    case exchangeCapabilities(NonSecureCapabilities)
    /// OPTEE_SMC_VM_CREATED: a1 = the new client id (hypervisor only).
    case vmCreated(clientID: UInt32)
    /// OPTEE_SMC_VM_DESTROYED: a1 = the client id that is gone (hypervisor only).
    case vmDestroyed(clientID: UInt32)
    /// OPTEE_SMC_L2CC_MUTEX: a1 = operation, a2:a3 = address for SET_ADDR.
    case l2ccMutex(operation: UInt32, address: UInt64)
    /// A known OP-TEE fast call without arguments (UID, revision, OS UUID, SHM config, thread count, ...).
    case query(SMCFunctionID)
    /// Any other function id: not an OP-TEE call (the answer is OPTEE_SMC_RETURN_UNKNOWN_FUNCTION).
    case other(SMCFunctionID)

    /// Alignment OP-TEE requires of an `optee_msg_arg` address.
    @inlinable public static var argumentAlignment: UInt64 { 8 }

    /// OP-TEE fast calls that take no argument registers.
    public static let queries: Set<SMCFunctionID> = [
        .callsCount, .callsUID, .callsRevision, .getOSUUID, .getOSRevision, .getSHMConfig, .disableSHMCache,
        .enableSHMCache, .getThreadCount, .enableAsyncNotif, .getAsyncNotifValue, .bootSecondary, .getProtmemConfig,
    ]

    /// Decodes `frame` (SMC32: the low 32 bits of each register). Fails with `.misaligned` when a
    /// call argument's address is not 8-byte aligned (OP-TEE answers EBADADDR).
    public init(frame: RegisterFrame) throws(ABIError) {
        let id = frame.function
        func w(_ r: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: r) }
        switch id {
        case .callWithArg, .callWithRPCArg:
            let address = RegisterFrame.join(frame.a1, frame.a2)
            guard address % Self.argumentAlignment == 0 else { throw .misaligned(address: address, alignment: Self.argumentAlignment) }
            self = id == .callWithArg ? .callWithArg(argument: address, cacheAttributes: w(frame.a3))
                                      : .callWithRPCArg(argument: address, cacheAttributes: w(frame.a3))
        case .callWithRegdArg:
            let offset = w(frame.a3)
            guard UInt64(offset) % Self.argumentAlignment == 0 else {
                throw .misaligned(address: UInt64(offset), alignment: Self.argumentAlignment)
            }
            self = .callWithRegdArg(cookie: RegisterFrame.join(frame.a1, frame.a2), offset: offset)
        case .returnFromRPC:
            self = .returnFromRPC(a1: w(frame.a1), a2: w(frame.a2), thread: w(frame.a3), a4: w(frame.a4),
                                  a5: w(frame.a5), a6: w(frame.a6))
        case .exchangeCapabilities:
            self = .exchangeCapabilities(NonSecureCapabilities(rawValue: w(frame.a1)))
        case .vmCreated: self = .vmCreated(clientID: w(frame.a1))
        case .vmDestroyed: self = .vmDestroyed(clientID: w(frame.a1))
        case .l2ccMutex: self = .l2ccMutex(operation: w(frame.a1), address: RegisterFrame.join(frame.a2, frame.a3))
        default: self = Self.queries.contains(id) ? .query(id) : .other(id)
        }
    }

    /// The function id of this call.
    public var function: SMCFunctionID {
        switch self {
        case .callWithArg: .callWithArg
        case .callWithRPCArg: .callWithRPCArg
        case .callWithRegdArg: .callWithRegdArg
        case .returnFromRPC: .returnFromRPC
        case .exchangeCapabilities: .exchangeCapabilities
        case .vmCreated: .vmCreated
        case .vmDestroyed: .vmDestroyed
        case .l2ccMutex: .l2ccMutex
        case let .query(id), let .other(id): id
        }
    }

    /// The frame that makes this call, with `clientID` in a7 (unused registers zero).
    public func frame(clientID: UInt64 = 0) -> RegisterFrame {
        var f = RegisterFrame(function, a7: clientID)
        switch self {
        case let .callWithArg(address, cache), let .callWithRPCArg(address, cache):
            (f.a1, f.a2) = RegisterFrame.split(address); f.a3 = UInt64(cache)
        case let .callWithRegdArg(cookie, offset):
            (f.a1, f.a2) = RegisterFrame.split(cookie); f.a3 = UInt64(offset)
        case let .returnFromRPC(a1, a2, thread, a4, a5, a6):
            f.a1 = UInt64(a1); f.a2 = UInt64(a2); f.a3 = UInt64(thread); f.a4 = UInt64(a4); f.a5 = UInt64(a5); f.a6 = UInt64(a6)
        case let .exchangeCapabilities(caps): f.a1 = UInt64(caps.rawValue)
        case let .vmCreated(id), let .vmDestroyed(id): f.a1 = UInt64(id)
        case let .l2ccMutex(op, address): f.a1 = UInt64(op); (f.a2, f.a3) = RegisterFrame.split(address)
        case .query, .other: break
        }
        return f
    }

    /// One line for traces: the call's name and its decoded arguments.
    public var summary: String {
        let name = function.name ?? "unknown \(hex(function.rawValue))"
        switch self {
        case let .callWithArg(a, c), let .callWithRPCArg(a, c): return "\(name) arg=\(hex(a, width: 1)) cache=\(c)"
        case let .callWithRegdArg(cookie, off): return "\(name) cookie=\(hex(cookie, width: 1)) offset=\(off)"
        case let .returnFromRPC(a1, a2, t, a4, a5, _):
            return "\(name) thread=\(t) a1=\(hex(a1)) a2=\(hex(a2)) a4=\(hex(a4)) a5=\(hex(a5))"
        case let .exchangeCapabilities(c): return "\(name) nsec_caps=\(hex(c.rawValue))"
        case let .vmCreated(id), let .vmDestroyed(id): return "\(name) client=\(id)"
        case let .l2ccMutex(op, a): return "\(name) op=\(op) addr=\(hex(a, width: 1))"
        case .query, .other: return name
        }
    }
}

extension ABIValueDecoder {
    /// Reads `frame` as an OP-TEE call: the call (nil on a decoding error or an unknown id) and
    /// lines for printing ("OPTEE_SMC_CALL_WITH_ARG arg=... cache=1", then the registers).
    public static func decode(frame: RegisterFrame) -> (call: SMCCall?, text: String) {
        let head: String
        var call: SMCCall?
        do {
            let c = try SMCCall(frame: frame)
            switch c {
            case .other where frame.function.name == nil: head = "\(hex(frame.function.rawValue)) unknown"
            case .other: head = "\(c.summary) (not an OP-TEE call)"; call = c
            default: head = c.summary; call = c
            }
        } catch {
            head = "\(frame.function.name ?? hex(frame.function.rawValue)) invalid: \(error)"
        }
        let regs = (0..<8).map { "  a\($0): \(hex(frame[$0]))" }
        return (call, ([head] + regs + ["  client id (a7): \(frame.a7)"]).joined(separator: "\n"))
    }
}
