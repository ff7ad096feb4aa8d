/// NormalWorld: the guest kernel's OP-TEE driver (Linux `drivers/tee/optee` in Swift).
///
/// Runs in the normal world, inside one guest. It sees only the guest's RAM by IPA (through
/// `GuestAddressSpace`'s guest-side `read`/`write`) and traps to whatever sits below through the
/// `Conduit` it is given. It never sees a PA and never imports SecureWorld or Mediator: the
/// worlds meet only through register frames and the bytes of `optee_msg_arg` in guest RAM.
import Logging
import Machine
import TEEABI

/// Why a driver operation failed locally (the equivalent of an ioctl's -errno).
/// `result` maps it to the GP code a client sees (with origin COMMS).
public enum DriverError: Error, Equatable, Sendable, CustomStringConvertible {
    /// CALLS_UID did not return OP-TEE's API UID.
    case notOPTEE
    /// The message ABI revision is not one this driver speaks.
    case unsupportedRevision(major: UInt32, minor: UInt32)
    /// EXCHANGE_CAPABILITIES failed, or the secure world offers no dynamic shared memory.
    case capabilitiesRefused(SMCReturn)
    /// The secure world offers no dynamic shared memory (this driver has no reserved pool).
    case noDynamicSharedMemory
    /// Out of guest pages for buffers, page lists or argument buffers.
    case outOfMemory
    /// A parameter the caller passed is malformed (bad offset/size, unknown shm, too many params).
    case badParameters
    /// No secure thread became free within the configured bound.
    case busy
    /// The secure world answered an SMC with an error, or guest memory could not be accessed.
    case communication
    /// The driver has been shut down.
    case shutDown
    /// The request is not allowed from user space (a login in the REE-kernel range).
    case notPermitted

    /// The GP result a client sees for this failure (libteec's errno mapping).
    public var result: TEEResult {
        switch self {
        case .outOfMemory: .outOfMemory
        case .badParameters: .badParameters
        case .busy: .busy
        case .notPermitted: .generic
        case .notOPTEE, .unsupportedRevision, .noDynamicSharedMemory: .itemNotFound
        case .capabilitiesRefused, .communication, .shutDown: .communication
        }
    }

    public var description: String {
        switch self {
        case .notOPTEE: "CALLS_UID is not OP-TEE's"
        case let .unsupportedRevision(ma, mi): "unsupported OP-TEE message revision \(ma).\(mi)"
        case let .capabilitiesRefused(r): "EXCHANGE_CAPABILITIES refused: \(r)"
        case .noDynamicSharedMemory: "secure world offers no dynamic shared memory"
        case .outOfMemory: "out of guest memory"
        case .badParameters: "bad parameters"
        case .busy: "no secure thread became free in time"
        case .communication: "communication with the secure world failed"
        case .shutDown: "driver shut down"
        case .notPermitted: "not permitted from user space"
        }
    }
}

/// Tunables of one driver instance; every wait it does is bounded by one of these.
public struct DriverConfiguration: Sendable {
    /// Number of vCPUs the guest traps from; calls rotate over them, so a call may resume on another.
    public var vcpus: Int
    /// Longest a call waits for a free secure thread (call queue / ETHREAD_LIMIT), in seconds.
    public var threadWait: Double
    /// Longest a release of shared memory waits for the calls still using it, in seconds (then
    /// the last of them frees it when it ends).
    public var releaseWait: Double = 10
    /// Longest a NOTIFICATION wait blocks for its matching send, in seconds.
    public var notificationWait: Double
    /// Longest a request waits for an attached supplicant to take it, in seconds (then it is
    /// withdrawn: COMMUNICATION). One the supplicant took is waited for until answered or detached.
    public var supplicantWait: Double
    /// Longest a request waits when no supplicant is attached, in seconds.
    public var supplicantAbsentWait: Double
    /// Cap on one SUSPEND RPC, in seconds.
    public var maxSuspend: Double
    /// Pages of guest RAM (indices 0..<ramPages) the driver may allocate from; nil = all of it.
    public var ramPages: Range<Int>?
    /// Use CALL_WITH_RPC_ARG when SEC_CAP_RPC_ARG is offered (false forces CALL_WITH_ARG).
    public var useRPCArg: Bool
    /// Pre-register argument pages and use CALL_WITH_REGD_ARG (as Linux does with its
    /// registered msg-arg cache) when the RPC argument is offered. Off by default.
    public var useRegisteredArguments: Bool
    /// ENABLE_SHM_CACHE at probe, as Linux's optee driver does: the secure world keeps the RPC
    /// argument each thread allocated with RPC_ALLOC, so an RPC costs one round trip instead of
    /// three (ALLOC, CMD, FREE); the driver hands the cached buffers back with DISABLE_SHM_CACHE
    /// at shutdown.
    public var enableSHMCache = true
    /// Logger for debug-level accounting of bad input.
    public var logger: Logger
    /// The host's clock (every wait and SUSPEND, GET_TIME) and process identity.
    public var host: HostServices

    /// Defaults: one vCPU, generous bounds that still never hang.
    public init(vcpus: Int = 1, threadWait: Double = 30, notificationWait: Double = 10,
                supplicantWait: Double = 10, supplicantAbsentWait: Double = 0.5, maxSuspend: Double = 1,
                ramPages: Range<Int>? = nil, useRPCArg: Bool = true, useRegisteredArguments: Bool = false,
                logger: Logger = Logger(label: "vtee.normalworld"), host: HostServices = .system) {
        self.host = host
        self.useRegisteredArguments = useRegisteredArguments
        self.vcpus = max(1, vcpus); self.threadWait = threadWait; self.notificationWait = notificationWait
        self.supplicantWait = supplicantWait; self.supplicantAbsentWait = supplicantAbsentWait
        self.maxSuspend = maxSuspend; self.ramPages = ramPages; self.useRPCArg = useRPCArg; self.logger = logger
    }
}

/// Direction of a parameter (GP INPUT / OUTPUT / INOUT).
public enum ParamDirection: Sendable, Hashable {
    case input, output, `inout`

    /// The OPTEE_MSG value type for this direction.
    public var valueType: MsgParamType { switch self { case .input: .valueInput; case .output: .valueOutput; case .inout: .valueInout } }
    /// The OPTEE_MSG tmem type for this direction.
    public var tmemType: MsgParamType { switch self { case .input: .tmemInput; case .output: .tmemOutput; case .inout: .tmemInout } }
    /// The OPTEE_MSG rmem type for this direction.
    public var rmemType: MsgParamType { switch self { case .input: .rmemInput; case .output: .rmemOutput; case .inout: .rmemInout } }
    /// Carries data in.
    public var isInput: Bool { self != .output }
    /// Carries data out.
    public var isOutput: Bool { self != .input }
}

/// One parameter of an open-session or invoke request, close to Linux's `tee_param`.
public enum DriverParam: Sendable {
    /// Unused slot.
    case none
    /// Three 64-bit values (GP uses a and b).
    case value(ParamDirection, a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0)
    /// A window of registered shared memory (RMEM when registered, else a TMEM page list).
    case memref(ParamDirection, shm: SharedMemoryHandle, offset: Int, size: Int)
    /// A temporary buffer copied into guest RAM for this call (TMEM NONCONTIG page list);
    /// for outputs `bytes.count` is the capacity. An empty buffer is a NULL memref.
    case tmem(ParamDirection, bytes: [UInt8])
}

/// The TA params of one request, held inline (GP's four TEEC_Parameters): building and passing
/// them allocates nothing. A fifth param is remembered as overflow and the request fails with
/// `.badParameters`.
public struct DriverParams: Sendable, ExpressibleByArrayLiteral {
    /// Params a request carries at most (TEEC_CONFIG_PAYLOAD_REF_COUNT).
    public static let capacity = 4
    private var p0: DriverParam = .none, p1: DriverParam = .none, p2: DriverParam = .none, p3: DriverParam = .none
    /// Params held.
    public private(set) var count = 0
    /// True when more than `capacity` params were added (the request is refused).
    public private(set) var overflowed = false

    /// No params.
    public init() {}
    /// The params of `array` (more than four overflow).
    public init(_ array: [DriverParam]) { for p in array { append(p) } }
    /// The params of a literal (tests and tools; the call path uses `append`).
    public init(arrayLiteral elements: DriverParam...) { self.init(elements) }

    /// Adds a param at the end.
    public mutating func append(_ p: DriverParam) {
        guard count < Self.capacity else { overflowed = true; return }
        count += 1
        self[count - 1] = p
    }

    /// Param `i` (`.none` out of range; stores out of range are ignored).
    public subscript(i: Int) -> DriverParam {
        get {
            switch i { case 0: p0; case 1: p1; case 2: p2; case 3: p3; default: .none }
        }
        set {
            switch i { case 0: p0 = newValue; case 1: p1 = newValue; case 2: p2 = newValue; case 3: p3 = newValue; default: break }
        }
    }
}

/// What came back for one parameter.
public enum DriverParamResult: Sendable, Equatable {
    /// Nothing to report (NONE or input-only value).
    case none
    /// Output values.
    case value(a: UInt64, b: UInt64, c: UInt64)
    /// Output memref size (the data is in the shared memory).
    case memref(size: Int)
    /// Output temporary buffer: the first min(size, capacity) bytes and the reported size.
    case tmem(bytes: [UInt8], size: Int)
}

/// One result per TA param of a request, held inline like `DriverParams`.
public struct DriverParamResults: Sendable, Equatable, RandomAccessCollection, ExpressibleByArrayLiteral {
    private var r0: DriverParamResult = .none, r1: DriverParamResult = .none
    private var r2: DriverParamResult = .none, r3: DriverParamResult = .none
    /// Results held.
    public private(set) var count = 0

    /// `n` results, all `.none` (at most four).
    public init(count n: Int = 0) { count = Swift.max(0, Swift.min(n, DriverParams.capacity)) }
    /// The results of a literal (tests compare against one).
    public init(arrayLiteral elements: DriverParamResult...) {
        self.init(count: elements.count)
        for (i, e) in elements.prefix(DriverParams.capacity).enumerated() { self[i] = e }
    }

    /// First index.
    public var startIndex: Int { 0 }
    /// One past the last index.
    public var endIndex: Int { count }
    /// Result `i` (`.none` out of range; stores out of range are ignored).
    public subscript(i: Int) -> DriverParamResult {
        get {
            guard i < count else { return .none }
            switch i { case 0: return r0; case 1: return r1; case 2: return r2; case 3: return r3; default: return .none }
        }
        set {
            guard i < count else { return }
            switch i { case 0: r0 = newValue; case 1: r1 = newValue; case 2: r2 = newValue; case 3: r3 = newValue; default: break }
        }
    }

    /// Same count and the same result at every index.
    public static func == (l: Self, r: Self) -> Bool {
        guard l.count == r.count else { return false }
        for i in 0..<l.count where l[i] != r[i] { return false }
        return true
    }
}

/// How a call waited for a secure thread: FIFO tickets and the time spent queued.
public struct QueueRecord: Sendable, Equatable {
    /// Order in which the call asked for a thread.
    public var arrival: UInt64
    /// Order in which it got one (equal ordering to `arrival` means nobody overtook it).
    public var grant: UInt64
    /// Nanoseconds spent waiting in the call queue (plus ETHREAD_LIMIT retries).
    public var waitedNanos: UInt64
    /// Times the secure world answered ETHREAD_LIMIT to this call.
    public var threadLimitRetries: Int
}

/// The outcome of a std call as the secure world reported it (ret, origin, outputs).
public struct DriverResult: Sendable {
    /// TEE result (from `optee_msg_arg.ret`, or COMMUNICATION when the SMC itself failed).
    public var ret: TEEResult
    /// Origin of `ret`.
    public var origin: TEEOrigin
    /// Session id (OPEN_SESSION).
    public var session: UInt32
    /// One result per TA parameter, in order.
    public var params: DriverParamResults
    /// Queueing record of the call.
    public var queue: QueueRecord
}
