/// TEEClient: the GlobalPlatform TEE Client API (libteec) in Swift.
///
/// Runs in the normal world's user space, on top of the `NormalWorld` driver (the tee ioctls).
/// Each type maps one to one onto a TEEC_* type so that a C ABI can be a thin layer:
/// `TEEContext` ~ TEEC_Context, `TEESession` ~ TEEC_Session, `TEEOperation` ~ TEEC_Operation,
/// `TEESharedMemory` ~ TEEC_SharedMemory, `TEEError` ~ (TEEC_Result, returnOrigin).
/// The in-process API needs only the driver: the daemon's remote context is `TEEClientRemote`.
import Machine
import NormalWorld
import Synchronization
import TEEABI

/// A failed TEEC call: the result code and where it came from (TEEC_ORIGIN_*).
public struct TEEError: Error, Equatable, Sendable, CustomStringConvertible {
    /// TEEC_Result.
    public let result: TEEResult
    /// returnOrigin.
    public let origin: TEEOrigin
    /// An error with its origin.
    public init(_ result: TEEResult, origin: TEEOrigin) { self.result = result; self.origin = origin }
    /// A driver failure seen as libteec sees a failed ioctl: origin COMMS.
    init(_ e: DriverError) { self.init(e.result, origin: .comms) }
    public var description: String { "\(result) from \(origin)" }
}

/// How a client identifies itself when opening a session (TEEC_LOGIN_*), with connection data.
public enum TEELogin: Sendable, Hashable {
    /// TEEC_LOGIN_PUBLIC: nil client UUID.
    case `public`
    /// TEEC_LOGIN_USER: UUIDv5 of "uid=<euid hex>".
    case user
    /// TEEC_LOGIN_GROUP with a gid the caller must belong to: UUIDv5 of "gid=<gid hex>".
    case group(gid: UInt32)
    /// TEEC_LOGIN_APPLICATION: UUIDv5 of "app=<application id>".
    case application
    /// TEEC_LOGIN_USER_APPLICATION: "uid=<euid hex>:app=<application id>".
    case userApplication
    /// TEEC_LOGIN_GROUP_APPLICATION: "gid=<gid hex>:app=<application id>".
    case groupApplication(gid: UInt32)

    /// The OPTEE_MSG login method.
    public var method: LoginMethod {
        switch self {
        case .public: .public
        case .user: .user
        case .group: .group
        case .application: .application
        case .userApplication: .applicationUser
        case .groupApplication: .applicationGroup
        }
    }
}

extension TEELogin {
    /// The gid a group login names (nil for the others).
    public var gid: UInt32? {
        switch self {
        case let .group(g), let .groupApplication(g): g
        default: nil
        }
    }

    /// The client UUID this login gives a process with `identity` (TEEABI's `ClientIdentity`
    /// naming); group logins need membership (ACCESS_DENIED otherwise, as Linux's -EPERM).
    public func clientUUID(_ identity: ProcessIdentity) throws(TEEError) -> TEEUUID {
        if let g = gid, !identity.isMember(of: g) { throw TEEError(.accessDenied, origin: .comms) }
        guard let u = ClientIdentity.uuid(for: method, uid: identity.uid, gid: gid ?? identity.gid,
                                          application: identity.executable) else {
            throw TEEError(.badParameters, origin: .api)
        }
        return u
    }
}

/// A caller-owned buffer that TEEC_RegisterSharedMemory shares with the TA (TEEC_SharedMemory's
/// `buffer`): the caller keeps reading and writing it; calls see its contents and update it.
public final class TEEBuffer: Sendable {
    private let storage: Mutex<[UInt8]>
    /// A buffer holding `bytes`.
    public init(_ bytes: [UInt8]) { storage = Mutex(bytes) }
    /// A zeroed buffer of `count` bytes.
    public convenience init(count: Int) { self.init([UInt8](repeating: 0, count: max(0, count))) }
    /// The current contents (the caller's view).
    public var bytes: [UInt8] {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
    /// Bytes in the buffer.
    public var count: Int { storage.withLock { $0.count } }
    /// `count` bytes at `offset` (clamped to the buffer).
    func slice(_ offset: Int, _ count: Int) -> [UInt8] {
        storage.withLock { b in
            let lo = min(max(0, offset), b.count), hi = min(b.count, lo + max(0, count))
            return Array(b[lo..<hi])
        }
    }
    /// Writes `bytes` at `offset` (clamped to the buffer: it never grows).
    func update(_ offset: Int, _ bytes: [UInt8]) {
        storage.withLock { b in
            let lo = min(max(0, offset), b.count), n = min(bytes.count, b.count - lo)
            if n > 0 { b.replaceSubrange(lo..<lo + n, with: bytes.prefix(n)) }
        }
    }
}

/// TEEC_SharedMemory: memory in guest RAM shared with the TA, allocated (TEEC_AllocateSharedMemory)
/// or registered from a caller's buffer (TEEC_RegisterSharedMemory). In process the caller's memory
/// is never guest RAM, so a registered buffer always has a shadow in guest RAM, copied in before
/// each call that uses it (INPUT memory) and out after it (OUTPUT memory), as libteec does with
/// its shadow buffers.
public final class TEESharedMemory: Sendable {
    /// TEEC_MEM_INPUT / TEEC_MEM_OUTPUT flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        /// The TEEC_MEM_* bits.
        public let rawValue: UInt32
        /// Flags from TEEC_MEM_* bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// TEEC_MEM_INPUT: the TA reads it.
        public static let input = Flags(rawValue: 1)
        /// TEEC_MEM_OUTPUT: the TA writes it.
        public static let output = Flags(rawValue: 2)
        /// True for what GP allows: INPUT, OUTPUT or both, and no other bit.
        public var isValid: Bool { !isEmpty && isSubset(of: [.input, .output]) }
    }
    /// Requested size in bytes.
    public let size: Int
    /// Direction flags.
    public let flags: Flags
    /// The driver's handle.
    public let handle: SharedMemoryHandle
    /// The caller's buffer this memory shadows (TEEC_RegisterSharedMemory), nil when allocated.
    public let shared: TEEBuffer?
    let context: TEEContext
    private let released = Atomic<Bool>(false)

    init(context: TEEContext, handle: SharedMemoryHandle, size: Int, flags: Flags, shared: TEEBuffer? = nil) {
        self.context = context; self.handle = handle; self.size = size; self.flags = flags; self.shared = shared
    }

    /// Before a call: the caller's bytes of the window go to the shadow (INPUT memory only).
    func copyIn(offset: Int, size: Int) throws(TEEError) {
        guard let b = shared, flags.contains(.input), size > 0 else { return }
        try write(b.slice(offset, size), at: offset)
    }
    /// After a call: what the TA left in the window goes back to the caller (OUTPUT memory only;
    /// `size` is the smaller of the window and what the TA reported).
    func copyOut(offset: Int, size: Int) {
        guard let b = shared, flags.contains(.output), size > 0, !isReleased,
              let bytes = try? read(offset: offset, count: min(size, self.size - offset)) else { return }
        b.update(offset, bytes)
    }

    /// The current contents (what the TA wrote, for outputs).
    public func read(offset: Int = 0, count: Int? = nil) throws(TEEError) -> [UInt8] {
        do { return try context.driver.read(handle, offset: offset, count: count ?? (size - offset)) } catch { throw TEEError(error) }
    }
    /// Writes `bytes` at `offset` (what the TA will read).
    public func write(_ bytes: [UInt8], at offset: Int = 0) throws(TEEError) {
        do { try context.driver.write(handle, offset: offset, bytes) } catch { throw TEEError(error) }
    }
    /// TEEC_ReleaseSharedMemory (idempotent).
    public func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        context.forget(self)
        try? context.driver.release(handle)
    }
    /// True after `release`.
    public var isReleased: Bool { released.load(ordering: .acquiring) }
}

/// One TEEC_Parameter of an operation. Outputs are written back into the operation after the call.
public enum TEEParameter: Sendable {
    /// TEEC_NONE.
    case none
    /// TEEC_VALUE_INPUT.
    case valueInput(a: UInt32, b: UInt32)
    /// TEEC_VALUE_OUTPUT (a, b filled in).
    case valueOutput(a: UInt32 = 0, b: UInt32 = 0)
    /// TEEC_VALUE_INOUT.
    case valueInout(a: UInt32, b: UInt32)
    /// TEEC_MEMREF_TEMP_INPUT: a temporary buffer the TA reads; empty = NULL buffer.
    case tempInput([UInt8])
    /// TEEC_MEMREF_TEMP_OUTPUT: `buffer.count` is the capacity; after the call `buffer` holds what
    /// fit and `size` what the TA reported (larger than capacity with SHORT_BUFFER).
    case tempOutput([UInt8], size: Int = 0)
    /// TEEC_MEMREF_TEMP_INOUT.
    case tempInout([UInt8], size: Int = 0)
    /// TEEC_MEMREF_WHOLE: the whole shared memory, direction from its flags; `size` updated.
    case whole(TEESharedMemory, size: Int = 0)
    /// TEEC_MEMREF_PARTIAL_INPUT.
    case partialInput(TEESharedMemory, offset: Int, size: Int)
    /// TEEC_MEMREF_PARTIAL_OUTPUT (`size` updated).
    case partialOutput(TEESharedMemory, offset: Int, size: Int)
    /// TEEC_MEMREF_PARTIAL_INOUT (`size` updated).
    case partialInout(TEESharedMemory, offset: Int, size: Int)

    /// Output value a/b (zeros for non-values).
    public var value: (a: UInt32, b: UInt32) {
        switch self {
        case let .valueInput(a, b), let .valueOutput(a, b), let .valueInout(a, b): (a, b)
        default: (0, 0)
        }
    }
    /// Bytes of a temporary buffer (empty otherwise).
    public var buffer: [UInt8] {
        switch self {
        case let .tempInput(b), let .tempOutput(b, _), let .tempInout(b, _): b
        default: []
        }
    }
    /// Reported size of a memref output.
    public var size: Int {
        switch self {
        case let .tempInput(b): b.count
        case let .tempOutput(_, s), let .tempInout(_, s), let .whole(_, s): s
        case let .partialInput(_, _, s), let .partialOutput(_, _, s), let .partialInout(_, _, s): s
        default: 0
        }
    }
}

/// Lets another thread cancel a running operation (TEEC_RequestCancellation). Its state is one
/// atomic word, so a cancellable call takes no lock.
public final class TEECancellation: Sendable {
    // Bits 0...31: the session; 32: a session is set; 33: cancellation requested; 34: finished.
    private static let hasSession: UInt64 = 1 << 32, requested: UInt64 = 1 << 33, finished: UInt64 = 1 << 34
    private let state = Atomic<UInt64>(0)
    /// The cancel id sent with the operation and with the CANCEL request.
    public let id: UInt32
    private static let counter = Atomic<UInt32>(1)

    /// A fresh token with a unique, nonzero cancel id.
    public init() {
        var v = Self.counter.wrappingAdd(1, ordering: .relaxed).oldValue
        if v == 0 { v = Self.counter.wrappingAdd(1, ordering: .relaxed).oldValue }
        id = v
    }

    /// Marks the operation started in `session`; false when it was cancelled before it began.
    func begin(session: UInt32) -> Bool {
        var old = state.load(ordering: .acquiring)
        while true {
            let new = (old & Self.requested) | Self.hasSession | UInt64(session)
            let (done, now) = state.compareExchange(expected: old, desired: new, ordering: .acquiringAndReleasing)
            if done { return old & Self.requested == 0 }
            old = now
        }
    }
    func end() { state.bitwiseOr(Self.finished, ordering: .acquiringAndReleasing) }

    /// True once cancellation was requested.
    public var isRequested: Bool { state.load(ordering: .acquiring) & Self.requested != 0 }

    /// Requests cancellation: records it and, while the operation runs, sends OPTEE_MSG_CMD_CANCEL
    /// with this cancel id through `context`.
    public func request(through context: TEEContext) {
        let old = state.bitwiseOr(Self.requested, ordering: .acquiringAndReleasing).oldValue
        guard old & Self.finished == 0, old & Self.hasSession != 0 else { return }
        _ = try? context.driver.cancel(cancelID: id, session: UInt32(truncatingIfNeeded: old))
    }
}

/// TEEC_Operation: up to four parameters plus an optional cancellation token.
public struct TEEOperation: Sendable {
    /// params[0...3].
    public var params: [TEEParameter]
    /// Cancellation handle (started/cancel id).
    public var cancellation: TEECancellation?

    /// An operation with the given parameters (padded with `.none` to four).
    public init(_ params: [TEEParameter] = [], cancellable: Bool = false) {
        var p = Array(params.prefix(4))
        while p.count < 4 { p.append(.none) }
        self.params = p
        self.cancellation = cancellable ? TEECancellation() : nil
    }

    /// params[i].
    public subscript(i: Int) -> TEEParameter {
        get { i >= 0 && i < params.count ? params[i] : .none }
        set { if i >= 0 && i < params.count { params[i] = newValue } }
    }

    /// The TEEC_PARAM_TYPES word of this operation.
    public var paramTypes: UInt32 {
        var t: UInt32 = 0
        for (i, p) in params.enumerated() {
            let v: UInt32
            switch p {
            case .none: v = 0
            case .valueInput: v = 1
            case .valueOutput: v = 2
            case .valueInout: v = 3
            case .tempInput: v = 5
            case .tempOutput: v = 6
            case .tempInout: v = 7
            case .whole: v = 0xC
            case .partialInput: v = 0xD
            case .partialOutput: v = 0xE
            case .partialInout: v = 0xF
            }
            t |= v << (4 * UInt32(i))
        }
        return t
    }

    /// Driver params for the operation; BAD_PARAMETERS (origin API) on misuse.
    func driverParams(context: TEEContext) throws(TEEError) -> DriverParams {
        var out = DriverParams()
        // Index loops over concrete types: no generic iteration on the call path.
        for i in 0..<min(params.count, DriverParams.capacity) {
            switch params[i] {
            case .none: out.append(.none)
            case let .valueInput(a, b): out.append(.value(.input, a: UInt64(a), b: UInt64(b)))
            case let .valueOutput(a, b): out.append(.value(.output, a: UInt64(a), b: UInt64(b)))
            case let .valueInout(a, b): out.append(.value(.inout, a: UInt64(a), b: UInt64(b)))
            case let .tempInput(b): out.append(.tmem(.input, bytes: b))
            case let .tempOutput(b, s):
                // GP: a NULL buffer (empty) with a nonzero size is BAD_PARAMETERS.
                guard !b.isEmpty || s == 0 else { throw TEEError(.badParameters, origin: .api) }
                out.append(.tmem(.output, bytes: b))
            case let .tempInout(b, s):
                guard !b.isEmpty || s == 0 else { throw TEEError(.badParameters, origin: .api) }
                out.append(.tmem(.inout, bytes: b))
            case let .whole(shm, _):
                try Self.check(shm, context)
                let dir: ParamDirection
                switch (shm.flags.contains(.input), shm.flags.contains(.output)) {
                case (true, true): dir = .inout
                case (true, false): dir = .input
                case (false, true): dir = .output
                case (false, false): throw TEEError(.badParameters, origin: .api)
                }
                out.append(.memref(dir, shm: shm.handle, offset: 0, size: shm.size))
            case let .partialInput(shm, o, s):
                try Self.check(shm, context, need: .input, offset: o, size: s)
                out.append(.memref(.input, shm: shm.handle, offset: o, size: s))
            case let .partialOutput(shm, o, s):
                try Self.check(shm, context, need: .output, offset: o, size: s)
                out.append(.memref(.output, shm: shm.handle, offset: o, size: s))
            case let .partialInout(shm, o, s):
                try Self.check(shm, context, need: [.input, .output], offset: o, size: s)
                out.append(.memref(.inout, shm: shm.handle, offset: o, size: s))
            }
        }
        return out
    }

    private static func check(_ shm: TEESharedMemory, _ ctx: TEEContext, need: TEESharedMemory.Flags = [],
                              offset: Int = 0, size: Int = 0) throws(TEEError) {
        guard shm.context === ctx, !shm.isReleased, shm.flags.isSuperset(of: need),
              offset >= 0, size >= 0, offset <= shm.size, size <= shm.size - offset else {
            throw TEEError(.badParameters, origin: .api)
        }
    }

    /// True when a memref names registered memory shadowing a caller's buffer.
    var usesRegisteredBuffers: Bool {
        for i in 0..<params.count {
            switch params[i] {
            case let .whole(shm, _), let .partialInput(shm, _, _), let .partialOutput(shm, _, _), let .partialInout(shm, _, _):
                if shm.shared != nil { return true }
            default: break
            }
        }
        return false
    }

    /// Copies each registered buffer's window into its shadow before the call.
    func copyIn() throws(TEEError) {
        for i in 0..<params.count {
            switch params[i] {
            case let .whole(shm, _) where shm.shared != nil: try shm.copyIn(offset: 0, size: shm.size)
            case let .partialInput(shm, o, s) where shm.shared != nil, let .partialInout(shm, o, s) where shm.shared != nil:
                try shm.copyIn(offset: o, size: s)
            default: break
            }
        }
    }

    /// Copies what the TA wrote back into each registered buffer after the call (`before`: the
    /// params as sent, for the window sizes).
    func copyOut(sent before: [TEEParameter]) {
        for i in 0..<min(params.count, before.count) {
            switch (before[i], params[i]) {
            case let (.whole(shm, _), .whole(_, s)) where shm.shared != nil:
                shm.copyOut(offset: 0, size: min(shm.size, s))
            case let (.partialOutput(shm, o, s0), .partialOutput(_, _, s)) where shm.shared != nil,
                 let (.partialInout(shm, o, s0), .partialInout(_, _, s)) where shm.shared != nil:
                shm.copyOut(offset: o, size: min(s0, s))
            default: break
            }
        }
    }

    /// A temporary buffer after the call: `buffer` with its first `bytes.count` bytes (at most
    /// all of it) replaced by what came back; `bytes` itself when it covers the whole buffer (no
    /// copy). The caller has taken `buffer` out of the params, so it is changed in place.
    private static func merged(_ buffer: consuming [UInt8], _ bytes: [UInt8]) -> [UInt8] {
        if bytes.count == buffer.count { return bytes }
        var b = buffer
        let n = min(bytes.count, b.count)
        b.replaceSubrange(0..<n, with: bytes[0..<n])
        return b
    }

    /// Writes the call's outputs back into the params (values, sizes, temporary buffers).
    mutating func apply(_ results: DriverParamResults) {
        for i in 0..<min(results.count, params.count) {
            switch (params[i], results[i]) {
            case let (.valueOutput, .value(a, b, _)): params[i] = .valueOutput(a: UInt32(truncatingIfNeeded: a), b: UInt32(truncatingIfNeeded: b))
            case let (.valueInout, .value(a, b, _)): params[i] = .valueInout(a: UInt32(truncatingIfNeeded: a), b: UInt32(truncatingIfNeeded: b))
            case let (.tempOutput(buf, _), .tmem(bytes, size)):
                params[i] = .none
                params[i] = .tempOutput(Self.merged(buf, bytes), size: size)
            case let (.tempInout(buf, _), .tmem(bytes, size)):
                params[i] = .none
                params[i] = .tempInout(Self.merged(buf, bytes), size: size)
            case let (.whole(shm, _), .memref(size)) where shm.flags.contains(.output):
                // GP: a WHOLE memref's size is updated only for OUTPUT memory.
                params[i] = .whole(shm, size: size)
            case let (.partialOutput(shm, o, _), .memref(size)): params[i] = .partialOutput(shm, offset: o, size: size)
            case let (.partialInout(shm, o, _), .memref(size)): params[i] = .partialInout(shm, offset: o, size: size)
            default: break
            }
        }
    }
}

/// TEEC_Context: a connection to the TEE through one driver; tracks its sessions and shared memory.
public final class TEEContext: Sendable {
    /// The driver (the /dev/tee0 of this context).
    public let driver: OPTEEDriver
    private struct State { var sessions: Set<UInt32> = []; var shms: [UInt64: TEESharedMemory] = [:]; var finalized = false }
    private let state = Mutex(State())

    /// The host services the context uses: the process identity its logins name.
    public let host: HostServices

    /// TEEC_InitializeContext over an in-process driver (host services: the driver's).
    public init(driver: OPTEEDriver, host: HostServices? = nil) {
        self.driver = driver; self.host = host ?? driver.configuration.host; self.onFinalize = nil
    }

    /// A context over `driver` that runs `onFinalize` once after `finalize()` closed everything
    /// (a remote guest detaches from its daemon there).
    public init(driver: OPTEEDriver, host: HostServices? = nil, onFinalize: @escaping @Sendable () -> Void) {
        self.driver = driver; self.host = host ?? driver.configuration.host; self.onFinalize = onFinalize
    }
    private let onFinalize: (@Sendable () -> Void)?

    /// TEEC_InitializeContext(name): as libteec, only nil or "optee-tz" name this TEE;
    /// any other name is ITEM_NOT_FOUND (origin API).
    public convenience init(name: String?, driver: OPTEEDriver) throws(TEEError) {
        guard name == nil || name == "optee-tz" else { throw TEEError(.itemNotFound, origin: .api) }
        self.init(driver: driver)
    }

    /// Sessions open now.
    public var openSessions: Int { state.withLock { $0.sessions.count } }

    /// TEEC_OpenSession with an operation whose outputs are written back.
    public func openSession(_ uuid: TEEUUID, login: TEELogin = .public, operation: inout TEEOperation) throws(TEEError) -> TEESession {
        guard !state.withLock({ $0.finalized }) else { throw TEEError(.badState, origin: .api) }
        let client = try login.clientUUID(host.identity)
        let params = try operation.driverParams(context: self)
        // Only calls using registered buffers keep the params as sent (a copy-on-write copy).
        let sent = operation.usesRegisteredBuffers ? operation.params : nil
        if sent != nil { try operation.copyIn() }
        let token = operation.cancellation
        if let token, !token.begin(session: 0) { throw TEEError(.cancel, origin: .api) }
        defer { token?.end() }
        let r: DriverResult
        do { r = try driver.openSession(uuid: uuid, login: login.method, clientUUID: client, params: params, cancelID: token?.id ?? 0) }
        catch { throw TEEError(error) }
        operation.apply(r.params)
        if let sent { operation.copyOut(sent: sent) }
        guard r.ret == .success else { throw TEEError(r.ret, origin: r.origin) }
        state.withLock { _ = $0.sessions.insert(r.session) }
        return TEESession(context: self, id: r.session)
    }

    /// TEEC_OpenSession without an operation.
    public func openSession(_ uuid: TEEUUID, login: TEELogin = .public) throws(TEEError) -> TEESession {
        var op = TEEOperation()
        return try openSession(uuid, login: login, operation: &op)
    }

    /// TEEC_AllocateSharedMemory (size 0 counts as 8 bytes of backing, as libteec does).
    /// Flags 0 or with bits other than INPUT and OUTPUT are BAD_PARAMETERS (origin API).
    public func allocateSharedMemory(size: Int, flags: TEESharedMemory.Flags = [.input, .output]) throws(TEEError) -> TEESharedMemory {
        try allocate(size: size, flags: flags, shared: nil)
    }

    private func allocate(size: Int, flags: TEESharedMemory.Flags, shared: TEEBuffer?) throws(TEEError) -> TEESharedMemory {
        guard size >= 0, flags.isValid else { throw TEEError(.badParameters, origin: .api) }
        let h: SharedMemoryHandle
        do { h = try driver.allocateSharedMemory(size: max(size, 8)) } catch { throw TEEError(error) }
        let shm = TEESharedMemory(context: self, handle: h, size: size, flags: flags, shared: shared)
        state.withLock { $0.shms[h.id] = shm }
        return shm
    }

    /// TEEC_RegisterSharedMemory of the caller's `buffer`: calls read it (INPUT) and write it
    /// (OUTPUT) through a guest-RAM shadow synchronised around each call; flags as for allocation.
    public func registerSharedMemory(_ buffer: TEEBuffer, flags: TEESharedMemory.Flags = [.input, .output]) throws(TEEError) -> TEESharedMemory {
        let shm = try allocate(size: buffer.count, flags: flags, shared: buffer)
        do throws(TEEError) { try shm.write(buffer.bytes) } catch { shm.release(); throw error }
        return shm
    }

    /// Shared memory holding a copy of `buffer` (allocate, then write): the caller's array is a
    /// value, so later changes on either side are not seen by the other (`TEEBuffer` shares).
    public func registerSharedMemory(_ buffer: [UInt8], flags: TEESharedMemory.Flags = [.input, .output]) throws(TEEError) -> TEESharedMemory {
        let shm = try allocateSharedMemory(size: buffer.count, flags: flags)
        do throws(TEEError) { try shm.write(buffer) } catch { shm.release(); throw error }
        return shm
    }

    /// TEEC_RequestCancellation.
    public func requestCancellation(_ operation: TEEOperation) {
        operation.cancellation?.request(through: self)
    }

    /// TEEC_FinalizeContext: closes every session and releases every shared memory left.
    public func finalize() {
        let (sessions, shms, wasOpen): ([UInt32], [TEESharedMemory], Bool) = state.withLock { s in
            let wasOpen = !s.finalized
            s.finalized = true
            defer { s.sessions = []; s.shms = [:] }
            return (Array(s.sessions), Array(s.shms.values), wasOpen)
        }
        for id in sessions { _ = try? driver.closeSession(id) }
        for shm in shms { shm.release() }
        if wasOpen { onFinalize?() }
    }

    func forget(_ shm: TEESharedMemory) { state.withLock { _ = $0.shms.removeValue(forKey: shm.handle.id) } }
    func forget(session: UInt32) -> Bool { state.withLock { $0.sessions.remove(session) != nil } }
}

/// TEEC_Session: an open session with a TA.
public final class TEESession: Sendable {
    /// The context it belongs to.
    public let context: TEEContext
    /// The session id the secure world gave.
    public let id: UInt32

    init(context: TEEContext, id: UInt32) { self.context = context; self.id = id }

    /// TEEC_InvokeCommand: outputs (values, sizes, temporary buffers) are written back into
    /// `operation` even when the TA returns an error, as libteec does.
    public func invoke(_ command: UInt32, _ operation: inout TEEOperation) throws(TEEError) {
        let params = try operation.driverParams(context: context)
        // Only calls using registered buffers keep the params as sent (a copy-on-write copy).
        let sent = operation.usesRegisteredBuffers ? operation.params : nil
        if sent != nil { try operation.copyIn() }
        let token = operation.cancellation
        if let token, !token.begin(session: id) { throw TEEError(.cancel, origin: .api) }
        defer { token?.end() }
        let r: DriverResult
        do { r = try context.driver.invoke(session: id, function: command, params: params, cancelID: token?.id ?? 0) }
        catch { throw TEEError(error) }
        operation.apply(r.params)
        if let sent { operation.copyOut(sent: sent) }
        guard r.ret == .success else { throw TEEError(r.ret, origin: r.origin) }
    }

    /// TEEC_InvokeCommand without params.
    public func invoke(_ command: UInt32) throws(TEEError) {
        var op = TEEOperation()
        try invoke(command, &op)
    }

    /// TEEC_CloseSession (idempotent).
    public func close() {
        guard context.forget(session: id) else { return }
        _ = try? context.driver.closeSession(id)
    }
}
