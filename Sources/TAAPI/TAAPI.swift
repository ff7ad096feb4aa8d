/// TAAPI: the TA API, everything a trusted application may see. What a TA implements (the GP
/// entry points) and what the secure world offers it (the GP internal API services, in Swift).
///
/// Runs in the secure world, but is not its core: a TA module imports TAAPI (and TEEABI for the
/// shared value types), never SecureWorld, so it cannot reach `SecureWorld.smc`, threads,
/// partitions or physical memory. A TA sees only its params, its context and the services below.
import TEEABI

/// GP TA properties (gpd.ta.singleInstance, multiSession, instanceKeepAlive).
public struct TAProperties: Hashable, Sendable {
    /// One instance shared by every session (TA_FLAG_SINGLE_INSTANCE).
    public var singleInstance: Bool
    /// A single-instance TA accepts several sessions at once (TA_FLAG_MULTI_SESSION).
    public var multiSession: Bool
    /// A single-instance TA survives its last session (TA_FLAG_INSTANCE_KEEP_ALIVE).
    public var keepAlive: Bool
    /// Properties with the given flags; the default is a multi-instance TA (flags 0).
    public init(singleInstance: Bool = false, multiSession: Bool = false, keepAlive: Bool = false) {
        self.singleInstance = singleInstance; self.multiSession = multiSession; self.keepAlive = keepAlive
    }
}

/// A GP TEE_Param value: two 32-bit words.
public struct TAValue: Hashable, Sendable {
    /// First word (TEE_Param.value.a).
    public var a: UInt32
    /// Second word (TEE_Param.value.b).
    public var b: UInt32
    /// A value with the given words.
    public init(a: UInt32 = 0, b: UInt32 = 0) { self.a = a; self.b = b }
}

/// A GP memref as the TA sees it: the bytes (a private copy of the shared buffer) and the size
/// the TA reports back. For outputs, the secure world copies back `min(size, capacity)` bytes of
/// `bytes`, and returns `size` to the client (a size above capacity with SHORT_BUFFER tells the
/// client how much is needed). `isNull` marks a NULL memref (MEMREF_NULL).
public struct TAMemref: Hashable, Sendable {
    /// Buffer contents: input data on entry (zeroes for OUTPUT), what the TA wrote on exit.
    public var bytes: [UInt8]
    /// Size reported back to the client. Starts as the buffer size.
    public var size: Int
    /// Capacity of the client's buffer (what may be copied back).
    public let capacity: Int
    /// A NULL buffer (size 0, no memory).
    public let isNull: Bool
    /// A memref over `bytes`; `capacity` defaults to their count.
    public init(bytes: [UInt8], capacity: Int? = nil, isNull: Bool = false) {
        self.bytes = bytes; self.size = bytes.count; self.capacity = capacity ?? bytes.count; self.isNull = isNull
    }
}

/// One GP TEE_Param.
public enum TAParam: Hashable, Sendable {
    case none
    case value(TAValue)
    case memref(TAMemref)

    /// The value, or nil when not a value param.
    @inlinable public var value: TAValue? { if case let .value(v) = self { v } else { nil } }
    /// The memref, or nil when not a memref param.
    public var memref: TAMemref? { if case let .memref(m) = self { m } else { nil } }
}

/// The four params of an entry point with their GP types. Stored inline (four fields, no array),
/// so a call with value params allocates nothing; only a memref's bytes live in a buffer.
public struct TAParams: Hashable, Sendable {
    /// TEE_PARAM_TYPES packed types, as the TA checks them.
    public var types: GPParamTypes
    /// params[0...3], inline.
    @usableFromInline var p0: TAParam, p1: TAParam, p2: TAParam, p3: TAParam

    /// Params with their packed types; missing params are NONE, extra ones dropped.
    public init(types: GPParamTypes, params: [TAParam]) {
        self.types = types
        p0 = params.count > 0 ? params[0] : .none
        p1 = params.count > 1 ? params[1] : .none
        p2 = params.count > 2 ? params[2] : .none
        p3 = params.count > 3 ? params[3] : .none
    }
    /// Params with their packed types, given one by one (allocates nothing).
    @inlinable public init(types: GPParamTypes, _ p0: TAParam = .none, _ p1: TAParam = .none,
                           _ p2: TAParam = .none, _ p3: TAParam = .none) {
        self.types = types; self.p0 = p0; self.p1 = p1; self.p2 = p2; self.p3 = p3
    }
    /// Four NONE params.
    public static let empty = TAParams(types: GPParamTypes(rawValue: 0))

    /// params[0...3] as an array (a copy; for tools and tests).
    public var params: [TAParam] { [p0, p1, p2, p3] }

    /// params[i]; out-of-range reads are NONE and writes are ignored.
    @inlinable public subscript(i: Int) -> TAParam {
        get {
            switch i {
            case 0: p0
            case 1: p1
            case 2: p2
            case 3: p3
            default: .none
            }
        }
        set {
            switch i {
            case 0: p0 = newValue
            case 1: p1 = newValue
            case 2: p2 = newValue
            case 3: p3 = newValue
            default: break
            }
        }
    }
    /// Value of params[i] (zero when not a value).
    @inlinable public func value(_ i: Int) -> TAValue { self[i].value ?? TAValue() }
    /// Sets params[i] to a value.
    @inlinable public mutating func setValue(_ i: Int, _ v: TAValue) { self[i] = .value(v) }
    /// Memref of params[i] (nil when not a memref).
    public func memref(_ i: Int) -> TAMemref? { self[i].memref }
    /// Replaces the bytes of memref i and sets its reported size to `size` (default: bytes.count).
    public mutating func setMemref(_ i: Int, bytes: [UInt8], size: Int? = nil) {
        guard var m = self[i].memref else { return }
        m.bytes = bytes; m.size = size ?? bytes.count
        self[i] = .memref(m)
    }
    /// Sets only the reported size of memref i (SHORT_BUFFER answers).
    public mutating func setMemrefSize(_ i: Int, _ size: Int) {
        guard var m = self[i].memref else { return }
        m.size = size
        self[i] = .memref(m)
    }
}

/// Who opened a session (TEE_Identity).
public struct TAClientIdentity: Hashable, Sendable {
    /// How the client logged in.
    public var login: LoginMethod
    /// The client UUID the secure world was given.
    public var uuid: TEEUUID
    /// An identity.
    public init(login: LoginMethod, uuid: TEEUUID) { self.login = login; self.uuid = uuid }
}

/// A TA that stops on purpose (TEE_Panic) or by accident: its sessions die with TARGET_DEAD.
public struct TAPanic: Error, Sendable, CustomStringConvertible {
    /// The panic code (TEE_Panic argument).
    public var code: UInt32
    /// Why, for logs.
    public var reason: String
    /// A panic with a code and a reason.
    public init(code: UInt32 = 0, _ reason: String = "TEE_Panic") { self.code = code; self.reason = reason }
    public var description: String { "TA panic \(hex(code)): \(reason)" }
}

/// Flags for opening persistent objects (TEE_DATA_FLAG_*), as GP defines them.
public struct TAStorageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let accessRead = TAStorageFlags(rawValue: 0x1)
    public static let accessWrite = TAStorageFlags(rawValue: 0x2)
    public static let accessWriteMeta = TAStorageFlags(rawValue: 0x4)
    public static let shareRead = TAStorageFlags(rawValue: 0x10)
    public static let shareWrite = TAStorageFlags(rawValue: 0x20)
    public static let overwrite = TAStorageFlags(rawValue: 0x400)
}

/// Persistent objects of the TA's private storage (TEE_STORAGE_PRIVATE), keyed by raw id bytes.
/// Backed by the FS RPC to the supplicant; the on-disk format is the secure world's business,
/// so callers do not change when it does. Errors are GP results (ITEM_NOT_FOUND, ACCESS_CONFLICT,
/// STORAGE_NO_SPACE, CORRUPT_OBJECT, COMMUNICATION ...). Like `TAContext`'s services, every
/// method is `nonisolated(nonsending)`: it runs on the TA's secure thread.
public protocol TAStorage: Sendable {
    /// Reads the whole object `id`; `.itemNotFound` when absent.
    nonisolated(nonsending) func read(id: [UInt8]) async throws(TEEResult) -> [UInt8]
    /// Creates or (with `overwrite`) replaces object `id` with `data`, atomically.
    nonisolated(nonsending) func write(id: [UInt8], data: [UInt8], overwrite: Bool) async throws(TEEResult)
    /// Deletes object `id`; `.itemNotFound` when absent.
    nonisolated(nonsending) func delete(id: [UInt8]) async throws(TEEResult)
    /// Renames object `from` to `to`; `.accessConflict` when `to` exists.
    nonisolated(nonsending) func rename(from: [UInt8], to: [UInt8]) async throws(TEEResult)
    /// Ids of every object of this TA.
    nonisolated(nonsending) func list() async throws(TEEResult) -> [[UInt8]]
}

/// What the secure world offers a TA while it runs one entry point (the GP internal API).
///
/// Every async service is `nonisolated(nonsending)`: it runs on the caller's executor (the
/// secure thread), so a TA awaiting one costs no executor hop. An explicit `@concurrent`
/// witness still conforms; it only pays the hop.
public protocol TAContext: Sendable {
    /// Who opened the session.
    var client: TAClientIdentity { get }
    /// The TA's own UUID.
    var taUUID: TEEUUID { get }
    /// TEE_GenerateRandom: cryptographically secure random bytes.
    func random(_ count: Int) -> [UInt8]
    /// TEE_GetSystemTime: secure-world monotonic time.
    func systemTime() -> (seconds: UInt32, millis: UInt32)
    /// TEE_GetREETime: normal-world time through the GET_TIME RPC.
    nonisolated(nonsending) func reeTime() async throws(TEEResult) -> (seconds: UInt64, nanos: UInt64)
    /// TEE_GetCancellationFlag: the client asked to cancel this operation.
    var isCancelled: Bool { get }
    /// A long-running command calls this often: when a tick has elapsed since the first
    /// checkpoint after the thread last entered the secure world, the thread returns to the
    /// normal world with RPC FOREIGN_INTR and resumes afterwards.
    nonisolated(nonsending) func checkpoint() async throws(TEEResult)
    /// Waits on notification `key` (RPC NOTIFICATION wait) until another thread sends it.
    nonisolated(nonsending) func waitNotification(key: UInt32) async throws(TEEResult)
    /// Wakes a waiter on `key` (RPC NOTIFICATION send).
    nonisolated(nonsending) func sendNotification(key: UInt32) async throws(TEEResult)
    /// Asks the normal world to suspend this thread for `millis` (RPC SUSPEND).
    nonisolated(nonsending) func suspend(millis: UInt32) async throws(TEEResult)
    /// Allocates normal-world shared memory of `size` bytes (RPC SHM_ALLOC of `type`), writes
    /// `fill` into it, reads it back and frees it (RPC SHM_FREE); returns the bytes read back.
    nonisolated(nonsending) func roundTripSharedMemory(size: Int, type: RPCShmType, fill: UInt8) async throws(TEEResult) -> [UInt8]
    /// The TA's private persistent storage.
    var storage: any TAStorage { get }
    /// tee_invoke_supp_plugin: runs command `command` / `subCommand` of the normal world's
    /// supplicant plugin `plugin` (RPC SUPP_PLUGIN) on `data`; returns the plugin's output (the
    /// first out_len bytes of the buffer, at most `data.count`) or throws its result.
    nonisolated(nonsending) func invokeSupplicantPlugin(_ plugin: TEEUUID, command: UInt32, subCommand: UInt32, data: [UInt8]) async throws(TEEResult) -> [UInt8]
    /// Opens a session on another TA (TA-to-TA), with login TRUSTED_APP and this TA as client.
    nonisolated(nonsending) func openSession(ta: TEEUUID, params: inout TAParams) async throws(TEEResult) -> TASessionHandle
    /// Invokes a command in a TA-to-TA session.
    nonisolated(nonsending) func invoke(_ session: TASessionHandle, command: UInt32, params: inout TAParams) async throws(TEEResult)
    /// Closes a TA-to-TA session.
    nonisolated(nonsending) func closeSession(_ session: TASessionHandle) async
    /// TEE_OpenTASession with its cancellationRequestTimeout: once `cancellationTimeout`
    /// milliseconds have passed (`TAContext.infiniteTimeout`: never) the opened TA sees its
    /// cancellation flag raised, as OP-TEE's session cancel time does.
    nonisolated(nonsending) func openSession(ta: TEEUUID, params: inout TAParams, cancellationTimeout: UInt32) async throws(TEEResult) -> TASessionHandle
    /// TEE_InvokeTACommand with its cancellationRequestTimeout (see the open form).
    nonisolated(nonsending) func invoke(_ session: TASessionHandle, command: UInt32, params: inout TAParams, cancellationTimeout: UInt32) async throws(TEEResult)
}

extension TAContext {
    /// GP's TEE_TIMEOUT_INFINITE: no cancellation request timeout.
    public static var infiniteTimeout: UInt32 { 0xFFFF_FFFF }

    /// Contexts that keep no time (tests, tools) ignore the timeout.
    nonisolated(nonsending) public func openSession(ta: TEEUUID, params: inout TAParams, cancellationTimeout: UInt32) async throws(TEEResult) -> TASessionHandle {
        try await openSession(ta: ta, params: &params)
    }

    /// Contexts that keep no time (tests, tools) ignore the timeout.
    nonisolated(nonsending) public func invoke(_ session: TASessionHandle, command: UInt32, params: inout TAParams, cancellationTimeout: UInt32) async throws(TEEResult) {
        try await invoke(session, command: command, params: &params)
    }
}

extension TAContext {
    /// Contexts without a supplicant route (test doubles) have no plugins.
    nonisolated(nonsending) public func invokeSupplicantPlugin(_ plugin: TEEUUID, command: UInt32, subCommand: UInt32, data: [UInt8]) async throws(TEEResult) -> [UInt8] {
        throw .notSupported
    }
}

/// A session this TA opened on another TA.
public struct TASessionHandle: Hashable, Sendable {
    /// The session id inside the secure world.
    public let id: UInt32
    /// A handle for session `id`.
    public init(id: UInt32) { self.id = id }
}

/// A trusted application instance: GP's entry points. One instance per session for a
/// multi-instance TA; one shared instance otherwise. The secure world never runs two entry
/// points of one instance at once, so an instance may keep plain mutable state.
///
/// Results: return a GP result (origin TRUSTED_APP when not SUCCESS). Throwing anything is a
/// panic: every session of the instance then answers TARGET_DEAD with origin TEE.
///
/// The async entry points are `nonisolated(nonsending)`: the secure world calls them on the
/// secure thread's executor and they run there with no executor hop. A plain `async` witness
/// takes that isolation, so the TA's own async helpers it awaits must be nonsending too (build
/// the TA module with `NonisolatedNonsendingByDefault`, as TrustedApps is, or mark them).
public protocol TrustedApplication: AnyObject {
    /// TA_CreateEntryPoint, once per instance.
    nonisolated(nonsending) func create(context: any TAContext) async throws -> TEEResult
    /// TA_DestroyEntryPoint, once per instance.
    func destroy()
    /// TA_OpenSessionEntryPoint; returns a per-session state token (any value) on success.
    nonisolated(nonsending) func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?)
    /// TA_CloseSessionEntryPoint.
    nonisolated(nonsending) func closeSession(sessionState: AnyObject?, context: any TAContext) async
    /// TA_InvokeCommandEntryPoint.
    nonisolated(nonsending) func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult
    /// True when `command` never suspends (no RPC, no await of any kind) and runs through
    /// `invokeSynchronously` instead of `invoke`. The secure world asks before it starts the
    /// command, possibly while another entry point of this instance runs, so the answer must
    /// depend on `command` only (no instance state). Default: false (every command
    /// runs through the asynchronous entry).
    func runsSynchronously(command: UInt32) -> Bool
    /// TA_InvokeCommandEntryPoint for the commands `runsSynchronously` names: the same contract
    /// as `invoke` (results, panics), run to completion on the secure thread with no executor
    /// hop. Only the context's synchronous services (random, time, cancellation flag, identity)
    /// are reachable from here. Default: NOT_SUPPORTED (never called for a TA that names none).
    func invokeSynchronously(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) throws -> TEEResult
    /// True when this TA's create, open-session and close-session entry points never suspend
    /// and run through `createSynchronously`, `openSessionSynchronously` and
    /// `closeSessionSynchronously` instead of their asynchronous forms. Default: false.
    var lifecycleRunsSynchronously: Bool { get }
    /// TA_CreateEntryPoint when `lifecycleRunsSynchronously` (same contract as `create`).
    /// Default: SUCCESS.
    func createSynchronously(context: any TAContext) throws -> TEEResult
    /// TA_OpenSessionEntryPoint when `lifecycleRunsSynchronously` (same contract as
    /// `openSession`). Default: accepts any params, no session state.
    func openSessionSynchronously(params: inout TAParams, context: any TAContext) throws -> (TEEResult, sessionState: AnyObject?)
    /// TA_CloseSessionEntryPoint when `lifecycleRunsSynchronously`. Default: nothing to do.
    func closeSessionSynchronously(sessionState: AnyObject?, context: any TAContext)
}

extension TrustedApplication {
    /// Default TA_CreateEntryPoint: nothing to do.
    nonisolated(nonsending) public func create(context: any TAContext) async throws -> TEEResult { .success }
    /// Default TA_DestroyEntryPoint: nothing to do.
    public func destroy() {}
    /// Default TA_OpenSessionEntryPoint: accepts any params, no session state.
    nonisolated(nonsending) public func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) { (.success, nil) }
    /// Default TA_CloseSessionEntryPoint: nothing to do.
    nonisolated(nonsending) public func closeSession(sessionState: AnyObject?, context: any TAContext) async {}
    /// Default: no command is synchronous.
    public func runsSynchronously(command: UInt32) -> Bool { false }
    /// Default: never called (no command is synchronous).
    public func invokeSynchronously(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) throws -> TEEResult {
        .notSupported
    }
    /// Default: the lifecycle entry points are asynchronous.
    public var lifecycleRunsSynchronously: Bool { false }
    /// Default TA_CreateEntryPoint, synchronous form: nothing to do.
    public func createSynchronously(context: any TAContext) throws -> TEEResult { .success }
    /// Default TA_OpenSessionEntryPoint, synchronous form: accepts any params, no session state.
    public func openSessionSynchronously(params: inout TAParams, context: any TAContext) throws -> (TEEResult, sessionState: AnyObject?) { (.success, nil) }
    /// Default TA_CloseSessionEntryPoint, synchronous form: nothing to do.
    public func closeSessionSynchronously(sessionState: AnyObject?, context: any TAContext) {}
}

/// How the secure world finds and instantiates a TA.
public struct TADescriptor: Sendable {
    /// The TA's UUID.
    public let uuid: TEEUUID
    /// Short name for logs.
    public let name: String
    /// Instance and session properties.
    public let properties: TAProperties
    /// Makes a fresh instance (TA_CreateEntryPoint follows).
    public let make: @Sendable () -> any TrustedApplication
    /// A descriptor; `make` builds one instance.
    public init(uuid: TEEUUID, name: String, properties: TAProperties = TAProperties(),
                make: @escaping @Sendable () -> any TrustedApplication) {
        self.uuid = uuid; self.name = name; self.properties = properties; self.make = make
    }
}
