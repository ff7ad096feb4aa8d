// One VM's share of the secure world (OP-TEE's virtualization partition): its secure threads,
// sessions, registered shared memory and TA instances, all under that VM's own lock.
import Synchronization
import TAAPI
import TEEABI
import Machine

/// A registered shared-memory object (REGISTER_SHM), named by the normal world's cookie.
struct RegisteredSHM: Sendable {
    let cookie: UInt64
    let buffer: NSBuffer
    /// Calls currently using it (rmem params, CALL_WITH_REGD_ARG); UNREGISTER is BUSY while > 0.
    var users: Int = 0
}

/// A VM partition.
final class Partition: Sendable {
    let clientID: UInt64
    let threads: [SecureThread]

    enum SlotState: Sendable, Equatable { case free, running, suspended }

    struct State: Sendable {
        var slots: [SlotState]
        var sessions: [UInt32: Session] = [:]
        var sessionCount = 0          // NW + TA-to-TA, against the limit
        var nextSession: UInt32 = 1
        var shms: [UInt64: RegisteredSHM] = [:]
        var singleInstances: [TEEUUID: TAInstance] = [:]
        var liveInstances: [ObjectIdentifier: TAInstance] = [:]
        var shmCacheEnabled = false
        var asyncNotifEnabled = false
        var destroyed = false
        var counters = SecureWorldCounters()
    }
    let state: Mutex<State>

    init(clientID: UInt64, threads: Int) {
        self.clientID = clientID
        self.threads = (0..<threads).map { SecureThread(index: $0) }
        state = Mutex(State(slots: Array(repeating: .free, count: threads)))
    }

    // MARK: Threads

    /// Takes a free thread (marked running), or nil (ETHREAD_LIMIT).
    func allocateThread() -> SecureThread? {
        state.withLock { s -> SecureThread? in
            guard !s.destroyed, let i = s.slots.firstIndex(of: .free) else { return nil }
            s.slots[i] = .running
            return threads[i]
        }
    }

    /// Running -> suspended at an RPC of `rpc`; false when the VM is being destroyed (the
    /// command must then unwind instead of waiting for an answer nobody will send).
    func suspend(_ t: SecureThread, rpc: RPCFunction) -> Bool {
        state.withLock { s in
            guard !s.destroyed else { return false }
            s.slots[t.index] = .suspended
            s.counters.rpcFunctions[rpc, default: 0] += 1
            return true
        }
    }

    /// Suspended -> running, for the one caller that resumes it; false when not suspended.
    func claimSuspended(_ i: Int) -> Bool {
        state.withLock { s in
            guard !s.destroyed, i >= 0, i < s.slots.count, s.slots[i] == .suspended else { return false }
            s.slots[i] = .running
            return true
        }
    }

    /// Any -> free.
    func release(_ t: SecureThread) {
        state.withLock { s in s.slots[t.index] = .free }
    }

    /// Marks the partition destroyed and returns its suspended threads, now claimed for teardown.
    func beginTeardown() -> [SecureThread] {
        state.withLock { s -> [SecureThread] in
            s.destroyed = true
            var out: [SecureThread] = []
            for i in s.slots.indices where s.slots[i] == .suspended {
                s.slots[i] = .running
                out.append(threads[i])
            }
            return out
        }
    }

    // MARK: RPC argument cache

    enum DisableResult { case busy, empty, cookie(UInt64) }

    /// DISABLE_SHM_CACHE: hands back one cached RPC argument cookie at a time, then disables.
    func disableSHMCache() -> DisableResult {
        state.withLock { s -> DisableResult in
            guard s.slots.allSatisfy({ $0 == .free }) else { return .busy }
            for t in threads {
                let c: UInt64? = t.box.withLock { b in
                    guard let a = b.rpcArg, !a.supplied else { return nil }
                    b.rpcArg = nil
                    return a.cookie
                }
                if let c { return .cookie(c) }
            }
            s.shmCacheEnabled = false
            return .empty
        }
    }

    /// ENABLE_SHM_CACHE: false (EBUSY) while a thread is in use.
    func enableSHMCache() -> Bool {
        state.withLock { s in
            guard s.slots.allSatisfy({ $0 == .free }) else { return false }
            s.shmCacheEnabled = true
            return true
        }
    }

    var shmCacheEnabled: Bool { state.withLock { $0.shmCacheEnabled } }

    // MARK: Stats

    func stats() -> SecureWorldClientStats {
        state.withLock { s in
            SecureWorldClientStats(sessions: s.sessions.count, registeredSHM: s.shms.count,
                                   threadsBusy: s.slots.filter { $0 != .free }.count,
                                   threadsSuspended: s.slots.filter { $0 == .suspended }.count,
                                   instances: s.liveInstances.count)
        }
    }

    /// Counts an RPC command.
    func countRPC(_ c: RPCCommand) { state.withLock { $0.counters.rpcCommands[c, default: 0] += 1 } }

    // MARK: Registered shm

    /// Takes a reference on shm `cookie` for a call; nil when absent.
    func useSHM(_ cookie: UInt64) -> NSBuffer? {
        state.withLock { s -> NSBuffer? in
            guard var e = s.shms[cookie] else { return nil }
            e.users += 1
            s.shms[cookie] = e
            return e.buffer
        }
    }

    /// Drops a reference taken with `useSHM`.
    func unuseSHM(_ cookie: UInt64) {
        state.withLock { s in
            guard var e = s.shms[cookie] else { return }
            e.users = max(0, e.users - 1)
            s.shms[cookie] = e
        }
    }
}
