// One VM's share of the secure world (OP-TEE's virtualization partition): its secure threads,
// sessions, registered shared memory and TA instances. Thread slots are atomics (taking and
// returning a thread takes no lock); the rest sits under the VM's own lock.
import Synchronization
import TAAPI
import TEEABI
import Machine

/// A registered shared-memory object (REGISTER_SHM), named by the normal world's cookie.
struct RegisteredSHM: Sendable {
    let cookie: UInt64
    let buffer: NSBuffer
    /// Calls currently using it (rmem params, CALL_WITH_REGD_ARG); UNREGISTER waits while > 0.
    var users: Int = 0
    /// UNREGISTER_SHM is waiting for the last user: no new call may take it.
    var unregistering = false
    /// Notification values of the UNREGISTER_SHM calls waiting; the last user's call sends them.
    var waiters: [UInt32] = []
}

/// The state of a secure thread's slot (the state machine free -> running <-> suspended).
enum SlotState: UInt8 {
    case free = 0, running = 1, suspended = 2
}

/// A VM partition.
final class Partition: @unchecked Sendable {
    // @unchecked: `threads` is set once at the end of init (the threads need the finished
    // partition), before the partition is published; it never changes afterwards.
    let clientID: UInt64
    private(set) var threads: [SecureThread] = []
    /// The same threads unretained (held by `threads` for the partition's life), for the call path.
    private(set) var threadRefs: [Unmanaged<SecureThread>] = []
    /// VM_DESTROYED was received: no thread is handed out or suspended any more.
    let destroyed = Atomic<Bool>(false)
    /// ENABLE_SHM_CACHE is in force.
    let shmCache = Atomic<Bool>(false)

    struct State: Sendable {
        var sessions: [UInt32: Session] = [:]
        var sessionCount = 0          // NW + TA-to-TA, against the limit
        var nextSession: UInt32 = 1
        var shms: [UInt64: RegisteredSHM] = [:]
        var singleInstances: [TEEUUID: TAInstance] = [:]
        var liveInstances: [ObjectIdentifier: TAInstance] = [:]
        var counters = SecureWorldCounters()
        /// Built-in multi-instance TAs an OPEN_SESSION of this VM found with a synchronous
        /// lifecycle (`lifecycleRunsSynchronously`): later opens of them may run inline.
        var synchronousLifecycle: Set<TEEUUID> = []

        /// Reserves one session on a new instance of `desc` (an open's step, under the partition
        /// lock): the instance is live, counted and, for a single-instance TA, the one its UUID names.
        mutating func reserveFreshInstance(_ desc: TADescriptor) -> TAInstance {
            let i = TAInstance(descriptor: desc)
            i.state.withLock { $0.sessions = 1 }
            if desc.properties.singleInstance { singleInstances[desc.uuid] = i }
            liveInstances[ObjectIdentifier(i)] = i
            sessionCount += 1
            return i
        }
    }
    let state: Mutex<State>
    /// RPC returns by function and RPC_CMD by command (raw values below 32), counted without the
    /// VM's lock: an RPC takes no lock for its statistics. Larger values go to `state.counters`.
    let rpcFunctionCounts: InlineArray<32, Atomic<Int>> = InlineArray { _ in Atomic<Int>(0) }
    let rpcCommandCounts: InlineArray<32, Atomic<Int>> = InlineArray { _ in Atomic<Int>(0) }

    init(clientID: UInt64, threads: Int, world: SecureWorld) {
        self.clientID = clientID
        state = Mutex(State())
        var ts: [SecureThread] = []
        ts.reserveCapacity(threads)
        for i in 0..<threads { ts.append(SecureThread(index: i, world: world, partition: self)) }
        self.threads = ts
        self.threadRefs = ts.map { Unmanaged.passUnretained($0) }
    }

    // MARK: Threads

    /// Takes a free thread (marked running), or nil (ETHREAD_LIMIT). Unretained: `threads` holds
    /// it for the partition's life, so a caller holding the partition may use it without a count.
    func allocateThread() -> Unmanaged<SecureThread>? {
        guard !destroyed.load(ordering: .acquiring) else { return nil }
        // An index loop: iterating through the Collection witnesses allocates in a debug build.
        var i = 0
        while i < threadRefs.count {
            let u = threadRefs[i]
            i += 1
            // Sound: `threads` holds the thread for the partition's life, and this is a method of the partition.
            let claim = u._withUnsafeGuaranteedRef { t -> Bool? in
                guard t.slot.compareExchange(expected: SlotState.free.rawValue, desired: SlotState.running.rawValue,
                                             ordering: .acquiringAndReleasing).exchanged else { return false }
                // Teardown may have begun meanwhile: give the thread back rather than run in a dead VM.
                if destroyed.load(ordering: .sequentiallyConsistent) {
                    t.slot.store(SlotState.free.rawValue, ordering: .releasing)
                    return nil
                }
                return true
            }
            switch claim {
            case .some(true): return u
            case .some(false): continue
            case .none: return nil
            }
        }
        return nil
    }

    /// Running -> suspended at an RPC of `rpc`; false when the VM is being destroyed (the
    /// command must then unwind instead of waiting for an answer nobody will send).
    func suspend(_ t: SecureThread, rpc: RPCFunction) -> Bool {
        guard !destroyed.load(ordering: .sequentiallyConsistent) else { return false }
        if rpc.rawValue < 32 { rpcFunctionCounts[Int(rpc.rawValue)].wrappingAdd(1, ordering: .relaxed) }
        else { state.withLock { $0.counters.rpcFunctions[rpc, default: 0] += 1 } }
        t.slot.store(SlotState.suspended.rawValue, ordering: .sequentiallyConsistent)
        if destroyed.load(ordering: .sequentiallyConsistent) {
            // Teardown started between the two checks: whoever claims the thread back unwinds it.
            return !t.slot.compareExchange(expected: SlotState.suspended.rawValue, desired: SlotState.running.rawValue,
                                           ordering: .sequentiallyConsistent).exchanged
        }
        return true
    }

    /// Suspended -> running, for the one caller that resumes it; false when not suspended.
    func claimSuspended(_ i: Int) -> Bool {
        guard !destroyed.load(ordering: .acquiring), i >= 0, i < threads.count else { return false }
        return threads[i].slot.compareExchange(expected: SlotState.suspended.rawValue, desired: SlotState.running.rawValue,
                                               ordering: .acquiringAndReleasing).exchanged
    }

    /// Any -> free.
    func release(_ t: SecureThread) { t.slot.store(SlotState.free.rawValue, ordering: .releasing) }

    /// Marks the partition destroyed and claims every thread not running on some vCPU now:
    /// `suspended` ones (at an RPC, to be unwound) and `idle` ones (to stop their task). A thread
    /// running elsewhere stops by itself when its command ends.
    func beginTeardown() -> (suspended: [SecureThread], idle: [SecureThread]) {
        destroyed.store(true, ordering: .sequentiallyConsistent)
        var suspended: [SecureThread] = [], idle: [SecureThread] = []
        for t in threads {
            t.setAborting()
            if t.slot.compareExchange(expected: SlotState.suspended.rawValue, desired: SlotState.running.rawValue,
                                      ordering: .sequentiallyConsistent).exchanged {
                suspended.append(t)
            } else if t.slot.compareExchange(expected: SlotState.free.rawValue, desired: SlotState.running.rawValue,
                                             ordering: .sequentiallyConsistent).exchanged {
                idle.append(t)
            } else {
                t.requestStop()
            }
        }
        return (suspended, idle)
    }

    /// True when no thread is taken.
    private var allThreadsFree: Bool {
        threads.allSatisfy { $0.slot.load(ordering: .acquiring) == SlotState.free.rawValue }
    }

    // MARK: RPC argument cache

    enum DisableResult { case busy, empty, cookie(UInt64) }

    /// DISABLE_SHM_CACHE: hands back one cached RPC argument cookie at a time, then disables.
    func disableSHMCache() -> DisableResult {
        state.withLock { _ -> DisableResult in
            guard allThreadsFree else { return .busy }
            for t in threads {
                let c: UInt64? = t.shared.withLock { b in
                    guard let a = b.rpcArg, !a.supplied else { return nil }
                    b.rpcArg = nil
                    return a.cookie
                }
                if let c { return .cookie(c) }
            }
            shmCache.store(false, ordering: .releasing)
            return .empty
        }
    }

    /// ENABLE_SHM_CACHE: false (EBUSY) while a thread is in use.
    func enableSHMCache() -> Bool {
        state.withLock { _ in
            guard allThreadsFree else { return false }
            shmCache.store(true, ordering: .releasing)
            return true
        }
    }

    var shmCacheEnabled: Bool { shmCache.load(ordering: .acquiring) }

    // MARK: Cancel

    /// CANCEL: flags the INVOKE of session `session` with `cancelID` that a thread runs now.
    func cancel(session: UInt32, cancelID: UInt32) {
        for t in threads where t.isRunning(session: session, cancelID: cancelID) {
            t.cancelled.store(true, ordering: .releasing)
        }
    }

    // MARK: Stats

    func stats() -> SecureWorldClientStats {
        let slots = threads.map { $0.slot.load(ordering: .acquiring) }
        return state.withLock { s in
            SecureWorldClientStats(sessions: s.sessions.count, registeredSHM: s.shms.count,
                                   threadsBusy: slots.filter { $0 != SlotState.free.rawValue }.count,
                                   threadsSuspended: slots.filter { $0 == SlotState.suspended.rawValue }.count,
                                   instances: s.liveInstances.count)
        }
    }

    /// The open session `id` of this VM, or nil.
    func session(_ id: UInt32) -> Session? { state.withLock { $0.sessions[id] } }

    /// Removes `session` from this VM's session table (a closing step), unless the id now names
    /// another session.
    func unlink(_ session: Session) {
        state.withLock { s in if s.sessions[session.id] === session { s.sessions[session.id] = nil } }
    }

    /// Counts an RPC command.
    func countRPC(_ c: RPCCommand) {
        if c.rawValue < 32 { rpcCommandCounts[Int(c.rawValue)].wrappingAdd(1, ordering: .relaxed) }
        else { state.withLock { $0.counters.rpcCommands[c, default: 0] += 1 } }
    }

    /// This VM's counters: the locked ones plus the atomic RPC counts.
    func counters() -> SecureWorldCounters {
        var c = state.withLock { $0.counters }
        for i in 0..<32 {
            let f = rpcFunctionCounts[i].load(ordering: .relaxed)
            if f > 0 { c.rpcFunctions[RPCFunction(rawValue: UInt32(i)), default: 0] += f }
            let k = rpcCommandCounts[i].load(ordering: .relaxed)
            if k > 0 { c.rpcCommands[RPCCommand(rawValue: UInt32(i)), default: 0] += k }
        }
        return c
    }

    // MARK: Registered shm

    /// Takes a reference on shm `cookie` for a call; nil when absent.
    func useSHM(_ cookie: UInt64) -> NSBuffer? {
        state.withLock { s -> NSBuffer? in
            guard var e = s.shms[cookie], !e.unregistering else { return nil }
            e.users += 1
            s.shms[cookie] = e
            return e.buffer
        }
    }

    /// Drops a reference taken with `useSHM`; returns the notification values of the
    /// UNREGISTER_SHM calls to wake when this was the last user (empty otherwise: no allocation).
    @discardableResult
    func unuseSHM(_ cookie: UInt64) -> [UInt32] {
        state.withLock { s -> [UInt32] in
            guard var e = s.shms[cookie] else { return [] }
            e.users = max(0, e.users - 1)
            var wake: [UInt32] = []
            if e.users == 0 && !e.waiters.isEmpty { wake = e.waiters; e.waiters = [] }
            s.shms[cookie] = e
            return wake
        }
    }
}
