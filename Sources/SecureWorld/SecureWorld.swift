/// SecureWorld: the OP-TEE-compatible secure world core and the TA runtime.
///
/// Runs in the secure world. Its only entry is `SecureWorld.smc(_:)` (a register frame in, a
/// register frame out) plus physical memory reached by PA; it never sees an IPA and imports
/// neither Mediator, Platform nor NormalWorld. Everything a caller sends is copied into
/// secure-world memory (Swift values) before it is validated and used; normal-world buffers are
/// reached only through the non-secure memory view, so naming secure RAM fails.
import Logging
import Synchronization
@_exported import TAAPI
import TEEABI
import Machine
import SignedTA
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The secure world's clock: the host-services seam for time (TEE_GetSystemTime, the
/// FOREIGN_INTR tick). Given at construction, so tests drive time instead of sleeping.
public protocol SecureClock: Sendable {
    /// Monotonic nanoseconds since an arbitrary origin.
    func nanoseconds() -> UInt64
}

/// The host's monotonic clock (CLOCK_MONOTONIC).
public struct HostSecureClock: SecureClock {
    /// The host clock.
    public init() {}
    public func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// Tunables of the secure world; defaults follow OP-TEE's (CFG_NUM_THREADS = 8, virtualization on).
public struct SecureWorldConfig: Sendable {
    /// Secure threads per VM (OP-TEE's CFG_NUM_THREADS, per partition).
    public var threadsPerVM: Int
    /// True: a7 names the client and VMs must be announced with VM_CREATED (CFG_NS_VIRTUALIZATION).
    /// False: no hypervisor, one implicit client, a7 ignored.
    public var virtualization: Bool
    /// Period after which a long TA command calling `checkpoint()` returns RPC FOREIGN_INTR.
    public var interruptTick: Duration?
    /// Open sessions per VM (normal-world and TA-to-TA); more get OUT_OF_MEMORY.
    public var maxSessionsPerVM: Int
    /// Registered shared-memory objects per VM; more get OUT_OF_MEMORY.
    public var maxRegisteredSHMPerVM: Int
    /// Pages one page list may describe (REGISTER_SHM, NONCONTIG tmem, RPC shm).
    public var maxSHMPages: Int
    /// Bytes one memref may carry into a TA (copied into secure memory; larger is OUT_OF_MEMORY).
    public var maxMemrefBytes: Int
    /// Highest client id VM_CREATED accepts.
    public var maxClientID: UInt64
    /// Highest notification value the normal world accepts (Linux's default without async
    /// notification: 255). Values from `SecureWorld.syncNotificationBase` up are the secure
    /// threads' own (a call waiting for a busy TA); a TA may use the values below it.
    public var maxNotificationValue: UInt32
    /// Kept for source compatibility; unused: a drain never polls. A TA that awaits something
    /// outside the secure world makes the thread yield with FOREIGN_INTR at once.
    public var externalAwaitBudget: Duration
    /// The key a TA image fetched with RPC LOAD_TA must be signed with (OP-TEE's TA_PUBLIC_KEY);
    /// nil refuses every image. Default: vtee's development key (logged loudly at start).
    public var taKey: TAVerificationKey?
    /// The runner seam: turns the ELF of a verified TA image into a TA (the composition root
    /// fills it with the TA process runner). Called only after the signature and UUID checked
    /// out; a thrown code goes to the client with origin TEE. nil: images cannot be run (BAD_FORMAT).
    public var loadTA: (@Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor)?
    /// Secure storage: device key and rollback counters, and each client's storage namespace.
    public var storage = SecureStorageConfig()

    /// A configuration; every limit has a default.
    public init(threadsPerVM: Int = 8, virtualization: Bool = true, interruptTick: Duration? = nil,
                maxSessionsPerVM: Int = 256, maxRegisteredSHMPerVM: Int = 256, maxSHMPages: Int = 16384,
                maxMemrefBytes: Int = 8 << 20, maxClientID: UInt64 = 0xFFFF, maxNotificationValue: UInt32 = 255,
                externalAwaitBudget: Duration = .milliseconds(10),
                taKey: TAVerificationKey? = try? TAVerificationKey.development,
                loadTA: (@Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor)? = nil) {
        self.threadsPerVM = max(1, threadsPerVM); self.virtualization = virtualization
        self.interruptTick = interruptTick; self.maxSessionsPerVM = maxSessionsPerVM
        self.maxRegisteredSHMPerVM = maxRegisteredSHMPerVM; self.maxSHMPages = maxSHMPages
        self.maxMemrefBytes = maxMemrefBytes; self.maxClientID = maxClientID
        self.maxNotificationValue = maxNotificationValue; self.externalAwaitBudget = externalAwaitBudget
        self.taKey = taKey; self.loadTA = loadTA
    }
}

/// What one client (VM) holds in the secure world; the attack battery checks these invariants.
public struct SecureWorldClientStats: Hashable, Sendable {
    /// Open sessions from the normal world (TA-to-TA sessions not included).
    public var sessions: Int
    /// Registered shared-memory objects.
    public var registeredSHM: Int
    /// Secure threads not free (running or suspended).
    public var threadsBusy: Int
    /// Secure threads suspended at an RPC.
    public var threadsSuspended: Int
    /// Live TA instances.
    public var instances: Int
}

/// Counts of errors by code and RPCs by kind, since the secure world started.
public struct SecureWorldCounters: Hashable, Sendable {
    /// SMC-level errors returned in a0 (EBADADDR, ETHREAD_LIMIT, ERESUME ...).
    public var smcErrors: [SMCReturn: Int] = [:]
    /// GP/TEE errors returned in an argument's `ret` with origin TEE.
    public var teeErrors: [TEEResult: Int] = [:]
    /// RPC returns by function (ALLOC, FREE, FOREIGN_INTR, CMD).
    public var rpcFunctions: [RPCFunction: Int] = [:]
    /// RPC_CMD by command (GET_TIME, FS, SHM_ALLOC ...).
    public var rpcCommands: [RPCCommand: Int] = [:]
    /// TA panics (a TA threw or panicked).
    public var taPanics: Int = 0

    /// All SMC and TEE errors together.
    public var totalErrors: Int { smcErrors.values.reduce(0, +) + teeErrors.values.reduce(0, +) }

    mutating func merge(_ o: SecureWorldCounters) {
        for (k, v) in o.smcErrors { smcErrors[k, default: 0] += v }
        for (k, v) in o.teeErrors { teeErrors[k, default: 0] += v }
        for (k, v) in o.rpcFunctions { rpcFunctions[k, default: 0] += v }
        for (k, v) in o.rpcCommands { rpcCommands[k, default: 0] += v }
        taPanics += o.taPanics
    }
}

extension SecureWorld {
    /// OP-TEE's NOTIF_SYNC_VALUE_BASE (with its async range 0..63): a secure thread waits on
    /// this + its thread id; TA-raised notification keys stay below it.
    public static let syncNotificationBase: UInt32 = 64
}

/// The OP-TEE-compatible secure world: fast calls, std calls on per-VM pools of secure threads,
/// RPCs to the normal world, sessions, registered shared memory and the TA runtime.
public final class SecureWorld: SMCEntry, Sendable {
    let memory: PhysicalMemory
    let ns: NSMemory
    let config: SecureWorldConfig
    /// `config.maxMemrefBytes` and `config.maxSHMPages`, read on every call that binds a memref:
    /// kept apart so that reading them does not copy the whole configuration (its closure and key).
    let maxMemrefBytes: Int, maxSHMPages: Int
    /// `config.maxSessionsPerVM`, for the same reason.
    let maxSessionsPerVM: Int
    let tas: [TEEUUID: TADescriptor]
    let log = Logger(label: "vtee.secure")
    /// Time, through the host-services seam.
    let clock: any SecureClock
    /// The clock's reading at start (TEE_GetSystemTime counts from here).
    let startNanos: UInt64
    /// Secure storage locks and derived keys.
    let storage = StorageService()
    /// Per-VM partitions by client id, spread over shards so that a lookup never takes a lock
    /// shared by every VM; every call then works under its own VM's lock.
    private let shards: [PartitionShard]
    /// The same shards unretained (held by `shards` for the world's life), for the call path.
    private let shardRefs: [Unmanaged<PartitionShard>]
    static let shardCount = 64
    /// The partition of the no-hypervisor mode (set once at the end of init).
    private let implicitRef = AtomicLazyReference<Partition>()
    /// The implicit partition; read only without virtualization (with it, the lazy reference's
    /// generic load is skipped on every call).
    private var implicit: Partition? { config.virtualization ? nil : implicitRef.load() }
    /// One bit per created client id up to `createdBitsLimit`: a fast call checks that its VM
    /// exists with one atomic load, without the shard lock or a retain of the partition.
    private let createdBits: InlineArray<1024, Atomic<UInt64>> = InlineArray { _ in Atomic<UInt64>(0) }
    static let createdBitsLimit: UInt64 = 1024 * 64
    /// Errors that belong to no partition, and counters of destroyed partitions.
    let globalCounters = Mutex(SecureWorldCounters())
    /// Source of unique call tokens (instance ownership).
    let tokens = Atomic<UInt64>(1)

    /// A secure world over `memory`, serving the built-in `tas`, with time from `clock`.
    public init(memory: PhysicalMemory, config: SecureWorldConfig = .init(), tas: [TADescriptor],
                clock: any SecureClock = HostSecureClock()) {
        self.memory = memory; self.ns = NSMemory(memory: memory); self.config = config
        self.maxMemrefBytes = config.maxMemrefBytes; self.maxSHMPages = config.maxSHMPages
        self.maxSessionsPerVM = config.maxSessionsPerVM
        var t: [TEEUUID: TADescriptor] = [:]
        for d in tas { t[d.uuid] = d }
        self.tas = t
        self.clock = clock
        self.startNanos = clock.nanoseconds()
        shards = (0..<Self.shardCount).map { _ in PartitionShard() }
        shardRefs = shards.map { Unmanaged.passUnretained($0) }
        if !config.virtualization {
            _ = implicitRef.storeIfNil(Partition(clientID: 0, threads: config.threadsPerVM, world: self))
        }
        if config.loadTA != nil, let key = config.taKey, key.isDevelopmentKey {
            log.warning("""
                TA signing: trusting vtee's DEVELOPMENT key (keys/default_ta.pem, public, DEVELOPMENT ONLY): \
                anyone can sign a TA this secure world will load; pass --ta-key with your own public key
                """)
        }
    }

    deinit {
        // End the task of every idle secure thread (nobody can call in any more). A thread left
        // suspended at an RPC keeps its parked task; it is never resumed.
        var parts: [Partition] = implicit.map { [$0] } ?? []
        for s in shards { parts += s.map.withLock { Array($0.values) } }
        for p in parts {
            for t in p.threads where t.slot.compareExchange(expected: SlotState.free.rawValue, desired: SlotState.running.rawValue,
                                                            ordering: .acquiringAndReleasing).exchanged {
                t.stop(keepAlive: false)
            }
        }
    }

    // MARK: Entry

    /// Executes one SMC: the secure world's only entry.
    @inline(__always)
    public func smc(_ frame: RegisterFrame) -> RegisterFrame {
        let f = frame.function
        if f.isFast { return fastCall(frame) }
        return stdCall(frame)
    }

    /// Snapshot of what client `clientID` holds; nil when no such VM exists.
    public func stats(clientID: UInt64) -> SecureWorldClientStats? {
        partition(for: clientID)?.stats()
    }

    /// Errors by code and RPCs by kind, summed over every VM (live and destroyed).
    public var counters: SecureWorldCounters {
        var c = globalCounters.withLock { $0 }
        let parts = implicit.map { [$0] } ?? shards.flatMap { $0.map.withLock { Array($0.values) } }
        for p in parts { c.merge(p.counters()) }
        return c
    }

    /// Client ids of the VMs created (VM_CREATED and not yet VM_DESTROYED).
    public var clients: [UInt64] {
        if let i = implicit { return [i.clientID] }
        return shards.flatMap { $0.map.withLock { Array($0.keys) } }.sorted()
    }

    /// True when VM `clientID` was created and not destroyed (ids past the bitmap: by lookup).
    @inline(__always)
    func isCreated(_ clientID: UInt64) -> Bool {
        guard clientID < Self.createdBitsLimit else { return partition(for: clientID) != nil }
        return createdBits[Int(clientID >> 6)].load(ordering: .acquiring) & (1 << (clientID & 63)) != 0
    }

    private func markCreated(_ clientID: UInt64, _ on: Bool) {
        guard clientID < Self.createdBitsLimit else { return }
        let bit: UInt64 = 1 << (clientID & 63)
        if on { createdBits[Int(clientID >> 6)].bitwiseOr(bit, ordering: .releasing) }
        else { createdBits[Int(clientID >> 6)].bitwiseAnd(~bit, ordering: .releasing) }
    }

    func partition(for clientID: UInt64) -> Partition? {
        if let i = implicit { return i }
        // Sound: `shards` holds every shard for the world's life, and the caller is in a method of the world.
        return shardRefs[Int(clientID % UInt64(Self.shardCount))]._withUnsafeGuaranteedRef { $0.map.withLock { $0[clientID] } }
    }

    private func shard(_ clientID: UInt64) -> PartitionShard { shards[Int(clientID % UInt64(Self.shardCount))] }

    /// Counts an SMC-level error (on `p` when known) and logs it at debug level.
    func countSMC(_ r: SMCReturn, _ p: Partition?, _ why: @autoclosure () -> String) {
        log.debug("smc error \(r): \(why())")
        if let p { p.state.withLock { $0.counters.smcErrors[r, default: 0] += 1 } }
        else { globalCounters.withLock { $0.smcErrors[r, default: 0] += 1 } }
    }

    /// Counts a TEE-level error returned in an argument.
    func countTEE(_ r: TEEResult, _ p: Partition, _ why: @autoclosure () -> String) {
        guard r != .success else { return }
        log.debug("tee error \(r): \(why())")
        p.state.withLock { $0.counters.teeErrors[r, default: 0] += 1 }
    }

    // MARK: Fast calls

    static let callsCountValue: UInt64 = 14

    /// A fast call: the identity calls of a created VM (the hot ones: a driver's probe,
    /// `fast_call_ns`) are answered inline, every other case by `fastCallOther`.
    @inline(__always)
    private func fastCall(_ frame: RegisterFrame) -> RegisterFrame {
        let client = frame.a7
        guard !config.virtualization || client == 0 || isCreated(client) else { return fastCallOther(frame) }
        return Self.identityAnswer(frame) ?? fastCallOther(frame)
    }

    /// The identity fast calls (OS revision, API UID and revision, OS UUID): the answer, or nil
    /// for any other function.
    @inline(__always)
    private static func identityAnswer(_ frame: RegisterFrame) -> RegisterFrame? {
        var out = frame
        switch frame.function {
        case .getOSRevision:
            out.a0 = UInt64(OPTEEIdentity.osRevisionMajor); out.a1 = UInt64(OPTEEIdentity.osRevisionMinor); out.a2 = 0
        case .callsUID:
            out.setUUIDWords(OPTEEIdentity.apiUID)
        case .callsRevision:
            out.a0 = UInt64(OPTEEIdentity.msgRevisionMajor); out.a1 = UInt64(OPTEEIdentity.msgRevisionMinor)
        case .getOSUUID:
            out.setUUIDWords(OPTEEIdentity.osUUID)
        default:
            return nil
        }
        return out
    }

    /// Every fast call `fastCall` does not answer inline (and the identity calls again, for the
    /// unknown-client check): capabilities, thread count, the shm cache, VM lifecycle, unknown ids.
    @inline(never)
    private func fastCallOther(_ frame: RegisterFrame) -> RegisterFrame {
        var out = frame
        func ret(_ r: SMCReturn) -> RegisterFrame { out.a0 = UInt64(r.rawValue); return out }
        let client = frame.a7
        // With virtualization, a fast call from a VM that was not created gets ENOTAVAIL
        // (OP-TEE's virt_set_guest); the hypervisor (0) is always served.
        if config.virtualization && client != 0 && !isCreated(client) {
            countSMC(.enotavail, nil, "fast call \(frame.function) from unknown client \(client)")
            return ret(.enotavail)
        }
        if let out = Self.identityAnswer(frame) { return out }
        // The identity calls need no partition; the rest look it up (not on a hot path).
        var part: Partition? { config.virtualization ? (client != 0 ? partition(for: client) : nil) : implicit }
        switch frame.function {
        case .callsCount:
            out.a0 = config.virtualization ? Self.callsCountValue : Self.callsCountValue - 2
            return out
        case .exchangeCapabilities:
            guard frame.a1 & 0xFFFF_FFFF & ~UInt64(NonSecureCapabilities.uniprocessor.rawValue) == 0 else {
                countSMC(.enotavail, part, "unknown non-secure capabilities \(hex(frame.a1))")
                return ret(.enotavail)
            }
            // No ASYNC_NOTIF: nothing in this secure world raises an asynchronous notification
            // (OP-TEE advertises it only with CFG_CORE_ASYNC_NOTIF and a source), so a2 (the
            // highest async value) stays 0 and the normal world keeps its default of 255.
            var caps: SecureCapabilities = [.dynamicSHM, .memrefNull, .rpcArg]
            if config.virtualization { caps.insert(.virtualization) }
            out.a1 = UInt64(caps.rawValue)
            out.a2 = 0
            out.a3 = UInt64(OPTEEIdentity.rpcMaxNumParams)
            return ret(.ok)
        case .disableSHMCache:
            guard let p = part else { return ret(.enotavail) }
            let r = p.disableSHMCache()
            switch r {
            case .busy: countSMC(.ebusy, p, "disable shm cache with busy threads"); return ret(.ebusy)
            case .empty: return ret(.enotavail)
            case let .cookie(c):
                let (h, l) = RegisterFrame.split(c)
                out.a1 = h; out.a2 = l
                return ret(.ok)
            }
        case .enableSHMCache:
            guard let p = part else { return ret(.ok) }
            if p.enableSHMCache() { return ret(.ok) }
            countSMC(.ebusy, p, "enable shm cache with busy threads")
            return ret(.ebusy)
        case .getThreadCount:
            out.a1 = UInt64(config.threadsPerVM)
            return ret(.ok)
        case .vmCreated where config.virtualization:
            return ret(vmCreated(guest: frame.a1, caller: client))
        case .vmDestroyed where config.virtualization:
            return ret(vmDestroyed(guest: frame.a1, caller: client))
        default:
            countSMC(.unknownFunction, part, "unknown fast call \(frame.function)")
            return ret(.unknownFunction)
        }
    }

    private func vmCreated(guest: UInt64, caller: UInt64) -> SMCReturn {
        guard caller == 0 else { countSMC(.enotavail, nil, "VM_CREATED from client \(caller)"); return .enotavail }
        guard guest != 0, guest <= config.maxClientID else {
            countSMC(.enotavail, nil, "VM_CREATED for bad id \(guest)"); return .enotavail
        }
        let created: Bool = shard(guest).map.withLock { m in
            if m[guest] != nil { return false }
            m[guest] = Partition(clientID: guest, threads: config.threadsPerVM, world: self)
            markCreated(guest, true)
            return true
        }
        if !created { countSMC(.enotavail, nil, "VM_CREATED for existing VM \(guest)"); return .enotavail }
        log.debug("VM \(guest) created")
        return .ok
    }

    private func vmDestroyed(guest: UInt64, caller: UInt64) -> SMCReturn {
        guard caller == 0 else { countSMC(.enotavail, nil, "VM_DESTROYED from client \(caller)"); return .enotavail }
        guard let p = shard(guest).map.withLock({ m -> Partition? in
            let p = m.removeValue(forKey: guest)
            if p != nil { markCreated(guest, false) }
            return p
        }) else {
            countSMC(.enotavail, nil, "VM_DESTROYED for unknown VM \(guest)"); return .enotavail
        }
        teardown(p)
        let pc = p.counters()
        globalCounters.withLock { $0.merge(pc) }
        log.debug("VM \(guest) destroyed")
        return .ok
    }

    /// Frees everything of a VM: suspended commands unwind (every RPC answers abort), idle
    /// threads' tasks end, then sessions, instances and registered shm are dropped. A thread
    /// running on another vCPU right now ends its task when its command ends.
    private func teardown(_ p: Partition) {
        let (suspended, idle) = p.beginTeardown()
        for t in suspended {
            t.resume(.abort)
            // Bounded: an aborting thread never suspends again, so each drain makes progress.
            for _ in 0..<64 {
                if case .done = t.drain() { break }
                t.resume(.abort)
            }
            t.stop()
        }
        for t in idle { t.stop() }
        let instances = p.state.withLock { s -> [TAInstance] in
            let i = Array(s.liveInstances.values)
            s.sessions.removeAll(); s.shms.removeAll(); s.singleInstances.removeAll(); s.liveInstances.removeAll()
            return i
        }
        for i in instances { i.destroyIfIdle() }
    }

    // MARK: Std calls

    private func stdCall(_ frame: RegisterFrame) -> RegisterFrame {
        // (No closure over a local var here: a debug build would box it on every call.)
        func ret(_ r: SMCReturn) -> RegisterFrame {
            var out = frame
            out.a0 = UInt64(r.rawValue); out.a1 = 0; out.a2 = 0; out.a3 = 0; return out
        }
        let client = frame.a7
        let p: Partition
        if let i = implicit { p = i } else {
            guard client != 0, let q = partition(for: client) else {
                countSMC(.enotavail, nil, "std call from client \(client) (not a created VM)")
                return ret(.enotavail)
            }
            p = q
        }
        if frame.function == .returnFromRPC {
            let id = frame.a3
            guard id < UInt64(p.threads.count), p.claimSuspended(Int(id)) else {
                countSMC(.eresume, p, "RETURN_FROM_RPC for thread \(id) not suspended in client \(client)")
                return ret(.eresume)
            }
            let t = p.threads[Int(id)]
            t.resume(RPCReply(a1: frame.a1 & 0xFFFF_FFFF, a2: frame.a2 & 0xFFFF_FFFF,
                              a4: frame.a4 & 0xFFFF_FFFF, a5: frame.a5 & 0xFFFF_FFFF))
            return drive(t, p, frame)
        }
        guard let thread = p.allocateThread() else {
            countSMC(.ethreadLimit, p, "no free secure thread in client \(client)")
            return ret(.ethreadLimit)
        }
        // Sound: the partition's `threads` holds its threads for its whole life, and `p` is held
        // strongly for this whole call.
        return thread._withUnsafeGuaranteedRef { t in stdCall(frame, on: t, p) }
    }

    /// The std call `frame` of partition `p` on its allocated (running) thread `t`.
    private func stdCall(_ frame: RegisterFrame, on t: SecureThread, _ p: Partition) -> RegisterFrame {
        func ret(_ r: SMCReturn) -> RegisterFrame {
            var out = frame
            out.a0 = UInt64(r.rawValue); out.a1 = 0; out.a2 = 0; out.a3 = 0; return out
        }
        if case let .failure(e) = t.prepare(frame) {
            p.release(t)
            countSMC(e.code, p, e.why)
            return ret(e.code)
        }
        // A command that cannot suspend (an INVOKE of a command its TA runs synchronously) runs
        // right here on this vCPU, without waking the thread's task; anything else goes to the task.
        if let r = t.runInline() {
            // Its VM began going away meanwhile: end the thread's task (if it has one) as for an
            // idle thread, which the task path does when its command ends.
            if t.isStopping { t.stop() }
            p.release(t)
            return ret(r)
        }
        t.start()
        return drive(t, p, frame)
    }

    /// Drains thread `t` on this vCPU and turns how it stopped into the SMC's return frame.
    private func drive(_ t: SecureThread, _ p: Partition, _ frame: RegisterFrame) -> RegisterFrame {
        var unwinds = 0
        while true {
            let exit = t.drain()
            switch exit {
            case let .rpc(a0, a1, a2):
                // A VM going away: answer the RPC with abort here so the command unwinds; bounded,
                // since a TA awaiting something outside the secure world may not finish now.
                if unwinds < 64, t.isAborting || !p.suspend(t, rpc: RPCFunction(rawValue: a0 & 0xFFFF)) {
                    unwinds += 1
                    t.setAborting(); t.resume(.abort); continue
                }
                // Still not done in a VM that is going away (the TA awaits something outside the
                // secure world): let the global executor finish unwinding it.
                if unwinds >= 64 { t.stop() }
                return RegisterFrame(a0: UInt64(a0), a1: a1, a2: a2, a3: UInt64(t.index), a7: frame.a7)
            case let .done(a0):
                p.release(t)
                var out = frame
                out.a0 = UInt64(a0); out.a1 = 0; out.a2 = 0; out.a3 = 0
                return out
            }
        }
    }

    /// A fresh token naming one std call (instance ownership, reentrancy detection).
    func nextToken() -> UInt64 { tokens.add(1, ordering: .relaxed).newValue }

    /// Seconds and milliseconds since the secure world started (TEE_GetSystemTime).
    func systemTime() -> (seconds: UInt32, millis: UInt32) {
        let ns = clock.nanoseconds() &- startNanos
        return (UInt32(truncatingIfNeeded: ns / 1_000_000_000), UInt32(truncatingIfNeeded: ns / 1_000_000 % 1000))
    }
}

/// One shard of the client-id -> partition map.
final class PartitionShard: Sendable {
    let map = CallPathLock<[UInt64: Partition]>([:])
}
