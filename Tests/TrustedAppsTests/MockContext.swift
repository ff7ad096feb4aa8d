/// Test doubles for the TA runtime: an in-memory TAStorage and a scripted TAContext, so the
/// built-in TAs can be driven without the secure world core.
import TAAPI
import Synchronization
import Testing
import TEEABI
import TrustedApps

/// TAStorage kept in a dictionary; `failWith` makes every call throw that result.
final class InMemoryStorage: TAStorage {
    let objects = Mutex<[[UInt8]: [UInt8]]>([:])
    let failWith = Mutex<TEEResult?>(nil)

    private func check() throws(TEEResult) {
        if let e = failWith.withLock({ $0 }) { throw e }
    }

    func read(id: [UInt8]) async throws(TEEResult) -> [UInt8] {
        try check()
        guard let d = objects.withLock({ $0[id] }) else { throw .itemNotFound }
        return d
    }

    func write(id: [UInt8], data: [UInt8], overwrite: Bool) async throws(TEEResult) {
        try check()
        let ok = objects.withLock { o -> Bool in
            if o[id] != nil && !overwrite { return false }
            o[id] = data
            return true
        }
        if !ok { throw .accessConflict }
    }

    func delete(id: [UInt8]) async throws(TEEResult) {
        try check()
        let existed = objects.withLock { $0.removeValue(forKey: id) != nil }
        if !existed { throw .itemNotFound }
    }

    func rename(from: [UInt8], to: [UInt8]) async throws(TEEResult) {
        try check()
        let r: TEEResult? = objects.withLock { o in
            guard let d = o[from] else { return .itemNotFound }
            guard o[to] == nil else { return .accessConflict }
            o[to] = d
            o[from] = nil
            return nil
        }
        if let r { throw r }
    }

    func list() async throws(TEEResult) -> [[UInt8]] {
        try check()
        return objects.withLock { Array($0.keys) }
    }
}

/// What the mock context saw.
struct MockLog: Sendable {
    var notificationsWaited: [UInt32] = []
    var notificationsSent: [UInt32] = []
    var suspends: [UInt32] = []
    var shmRoundTrips: [(size: Int, type: RPCShmType, fill: UInt8)] = []
    var checkpoints = 0
    var openedSessions: [TEEUUID] = []
    var closedSessions: [UInt32] = []
    var invokes: [UInt32] = []
}

/// A scripted TAContext. TA-to-TA sessions run the built-in TAs in-process.
final class MockContext: TAContext {
    let client: TAClientIdentity
    let taUUID: TEEUUID
    let storage: any TAStorage
    let log = Mutex(MockLog())
    /// The cancellation flag the TA polls.
    let cancelled = Atomic<Bool>(false)
    /// Set the cancellation flag after this many checkpoints (nil: never).
    let cancelAfterCheckpoints: Int?
    /// REE time GET_TIME answers.
    let ree: (seconds: UInt64, nanos: UInt64)
    /// When set, RPCs (time, notification, suspend, shm) fail with this result.
    let rpcFailure: TEEResult?
    /// When set, the shm round trip returns these bytes instead of the fill.
    let corruptShm: [UInt8]?
    /// Deterministic "random" bytes: counts up from this seed.
    let randomSeed: UInt8
    private let sessions = Mutex<[UInt32: SessionBox]>([:])
    private let nextSession = Atomic<UInt32>(1)

    init(taUUID: TEEUUID = .zero, storage: any TAStorage = InMemoryStorage(), cancelAfterCheckpoints: Int? = nil,
         ree: (seconds: UInt64, nanos: UInt64) = (1_700_000_000, 123_456_789), rpcFailure: TEEResult? = nil,
         corruptShm: [UInt8]? = nil, randomSeed: UInt8 = 1) {
        self.client = TAClientIdentity(login: .public, uuid: .zero)
        self.taUUID = taUUID
        self.storage = storage
        self.cancelAfterCheckpoints = cancelAfterCheckpoints
        self.ree = ree
        self.rpcFailure = rpcFailure
        self.corruptShm = corruptShm
        self.randomSeed = randomSeed
    }

    func random(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &+ Int(randomSeed)) } }
    func systemTime() -> (seconds: UInt32, millis: UInt32) { (10, 500) }

    func reeTime() async throws(TEEResult) -> (seconds: UInt64, nanos: UInt64) {
        if let e = rpcFailure { throw e }
        return ree
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    func checkpoint() async throws(TEEResult) {
        let n = log.withLock { $0.checkpoints += 1; return $0.checkpoints }
        if let limit = cancelAfterCheckpoints, n >= limit { cancelled.store(true, ordering: .relaxed) }
    }

    func waitNotification(key: UInt32) async throws(TEEResult) {
        if let e = rpcFailure { throw e }
        log.withLock { $0.notificationsWaited.append(key) }
    }

    func sendNotification(key: UInt32) async throws(TEEResult) {
        if let e = rpcFailure { throw e }
        log.withLock { $0.notificationsSent.append(key) }
    }

    func suspend(millis: UInt32) async throws(TEEResult) {
        if let e = rpcFailure { throw e }
        log.withLock { $0.suspends.append(millis) }
    }

    func roundTripSharedMemory(size: Int, type: RPCShmType, fill: UInt8) async throws(TEEResult) -> [UInt8] {
        if let e = rpcFailure { throw e }
        guard size >= 0, size <= 64 << 20 else { throw .outOfMemory }  // the mock's own limit
        log.withLock { $0.shmRoundTrips.append((size, type, fill)) }
        return corruptShm ?? [UInt8](repeating: fill, count: size)
    }

    func openSession(ta: TEEUUID, params: inout TAParams) async throws(TEEResult) -> TASessionHandle {
        log.withLock { $0.openedSessions.append(ta) }
        guard let d = BuiltinTAs.descriptor(for: ta) else { throw .itemNotFound }
        let inst = d.make()
        let r: (TEEResult, sessionState: AnyObject?)
        do { r = try await inst.openSession(params: &params, context: self) } catch { throw .targetDead }
        guard r.0 == .success else { throw r.0 }
        let id = nextSession.wrappingAdd(1, ordering: .relaxed).oldValue
        let box = SessionBox(instance: inst, state: r.sessionState)
        sessions.withLock { $0[id] = box }
        return TASessionHandle(id: id)
    }

    func invoke(_ session: TASessionHandle, command: UInt32, params: inout TAParams) async throws(TEEResult) {
        log.withLock { $0.invokes.append(command) }
        guard let box = sessions.withLock({ $0[session.id] }) else { throw .itemNotFound }
        let r: TEEResult
        do { r = try await box.instance.invoke(command: command, params: &params, sessionState: box.state, context: self) } catch { throw .targetDead }
        guard r == .success else { throw r }
    }

    func closeSession(_ session: TASessionHandle) async {
        log.withLock { $0.closedSessions.append(session.id) }
        _ = sessions.withLock { $0.removeValue(forKey: session.id) }
    }
}

/// A TA instance and its session state held by the mock (tests only; one task uses it at a time).
final class SessionBox: @unchecked Sendable {
    let instance: any TrustedApplication
    let state: AnyObject?
    init(instance: any TrustedApplication, state: AnyObject?) { self.instance = instance; self.state = state }
}

/// A session on a built-in TA driven directly through its entry points, as the runtime would.
final class TAHarness {
    let descriptor: TADescriptor
    let context: MockContext
    let instance: any TrustedApplication
    private(set) var state: AnyObject?

    /// Creates the instance and opens a session with `params` (NONE by default); records the open result.
    private(set) var openResult: TEEResult = .generic

    init(_ descriptor: TADescriptor, context: MockContext = MockContext(), openParams: TAParams = .empty) async throws {
        self.descriptor = descriptor
        self.context = context
        self.instance = descriptor.make()
        #expect(try await instance.create(context: context) == .success)
        var p = openParams
        let (r, s) = try await instance.openSession(params: &p, context: context)
        openResult = r
        state = s
    }

    /// Invokes `command`; returns the result and the params as the TA left them.
    func invoke(_ command: UInt32, _ params: TAParams) async throws -> (TEEResult, TAParams) {
        var p = params
        let r = try await instance.invoke(command: command, params: &p, sessionState: state, context: context)
        return (r, p)
    }

    func close() async {
        await instance.closeSession(sessionState: state, context: context)
        instance.destroy()
    }
}

// MARK: - Param builders

/// Params with these types and values/memrefs.
func params(_ types: GPParamTypes, _ p: [TAParam]) -> TAParams { TAParams(types: types, params: p) }
/// A value param.
func val(_ a: UInt32, _ b: UInt32 = 0) -> TAParam { .value(TAValue(a: a, b: b)) }
/// An input memref holding `bytes`.
func mem(_ bytes: [UInt8]) -> TAParam { .memref(TAMemref(bytes: bytes)) }
/// An output memref of `size` zero bytes.
func out(_ size: Int) -> TAParam { .memref(TAMemref(bytes: [UInt8](repeating: 0, count: size))) }
/// Bytes from a hex string.
func hexBytes(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(s.utf8.filter { $0 != 0x20 })
    if chars.count % 2 == 1 { chars.append(0x30) }
    var i = 0
    while i < chars.count {
        let h = String(decoding: chars[i..<i + 2], as: UTF8.self)
        out.append(UInt8(h, radix: 16) ?? 0)
        i += 2
    }
    return out
}

extension TAParams {
    /// Bytes reported back by memref i (the first `size` bytes).
    func outBytes(_ i: Int) -> [UInt8] {
        guard let m = memref(i) else { return [] }
        return Array(m.bytes.prefix(m.size))
    }
}
