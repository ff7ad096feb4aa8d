/// The OP-TEE driver proper: probe, argument buffers, the std-call loop and RPC service.
import Logging
import Machine
import Synchronization
import TEEABI

/// Counters of what the driver did, for tests and stats.
public struct DriverStatistics: Sendable, Equatable {
    /// Std calls made (each SMC loop counts once).
    public var stdCalls = 0
    /// ETHREAD_LIMIT answers seen.
    public var threadLimitHits = 0
    /// RPC returns by function (ALLOC, FREE, FOREIGN_INTR, CMD or unknown raw value).
    public var rpcFunctions: [UInt32: Int] = [:]
    /// RPC commands served, by OPTEE_RPC_CMD_* value.
    public var rpcCommands: [UInt32: Int] = [:]
    /// Malformed RPC requests answered with an error.
    public var badRPC = 0
    /// Std calls that failed at the SMC level (COMMUNICATION).
    public var failedCalls = 0
    /// Std calls made with CALL_WITH_REGD_ARG.
    public var registeredArgumentCalls = 0
}

/// Argument pages registered with the secure world at probe, for CALL_WITH_REGD_ARG.
final class RegisteredArguments: Sendable {
    /// Each page and its cookie.
    let pages: [(page: GuestBuffer, cookie: UInt64)]
    /// Which pages calls hold now.
    let slots: SlotPool
    init(_ pages: [(page: GuestBuffer, cookie: UInt64)]) { self.pages = pages; slots = SlotPool(count: pages.count) }
}

/// The driver's live counters: atomics, so counting takes no lock on the call path. RPC
/// functions and commands below 32 have their own counter; rarer raw values share a map.
final class DriverCounters: Sendable {
    let stdCalls = Atomic<Int>(0), threadLimitHits = Atomic<Int>(0), badRPC = Atomic<Int>(0)
    let failedCalls = Atomic<Int>(0), registeredArgumentCalls = Atomic<Int>(0)
    let rpcFunctions: InlineArray<32, Atomic<Int>> = InlineArray { _ in Atomic<Int>(0) }
    let rpcCommands: InlineArray<32, Atomic<Int>> = InlineArray { _ in Atomic<Int>(0) }
    let rareFunctions = Mutex<[UInt32: Int]>([:]), rareCommands = Mutex<[UInt32: Int]>([:])

    func bump(_ c: borrowing Atomic<Int>) { c.wrappingAdd(1, ordering: .relaxed) }
    func rpcFunction(_ fn: UInt32) {
        if fn < 32 { rpcFunctions[Int(fn)].wrappingAdd(1, ordering: .relaxed) } else { rareFunctions.withLock { $0[fn, default: 0] += 1 } }
    }
    func rpcCommand(_ cmd: UInt32) {
        if cmd < 32 { rpcCommands[Int(cmd)].wrappingAdd(1, ordering: .relaxed) } else { rareCommands.withLock { $0[cmd, default: 0] += 1 } }
    }

    /// A consistent-enough snapshot (each counter read once).
    var snapshot: DriverStatistics {
        var s = DriverStatistics()
        s.stdCalls = stdCalls.load(ordering: .relaxed); s.threadLimitHits = threadLimitHits.load(ordering: .relaxed)
        s.badRPC = badRPC.load(ordering: .relaxed); s.failedCalls = failedCalls.load(ordering: .relaxed)
        s.registeredArgumentCalls = registeredArgumentCalls.load(ordering: .relaxed)
        for i in 0..<32 {
            let f = rpcFunctions[i].load(ordering: .relaxed), c = rpcCommands[i].load(ordering: .relaxed)
            if f > 0 { s.rpcFunctions[UInt32(i)] = f }
            if c > 0 { s.rpcCommands[UInt32(i)] = c }
        }
        s.rpcFunctions.merge(rareFunctions.withLock { $0 }) { $0 + $1 }
        s.rpcCommands.merge(rareCommands.withLock { $0 }) { $0 + $1 }
        return s
    }
}

/// One guest's OP-TEE driver: probes the secure world, then serves open/invoke/close/cancel and
/// shared-memory requests from any number of threads, each trap on one of the guest's vCPUs.
///
/// A std call builds its `optee_msg_arg` in place in a guest page through `MsgArgView` and reads
/// the outcome from the same bytes: no codec value, no byte array. A steady-state call takes one
/// lock (the call queue's `enter`); vCPUs, argument pages and statistics are atomics.
public final class OPTEEDriver: Sendable {
    /// The guest's address space (only its guest-side accessors are used).
    public let space: GuestAddressSpace
    /// Where traps go.
    public let conduit: any Conduit
    /// Tunables.
    public let configuration: DriverConfiguration
    /// The guest page allocator every buffer comes from.
    public let allocator: GuestPageAllocator
    /// SEC_CAP_* bits from EXCHANGE_CAPABILITIES.
    public let capabilities: SecureCapabilities
    /// Secure threads reported by GET_THREAD_COUNT (nil when not reported).
    public let threadCount: Int?
    /// Params of the pre-allocated RPC argument (0 when CALL_WITH_ARG is used).
    public let rpcParamCount: Int
    /// Highest notification value (EXCHANGE_CAPABILITIES a2).
    public let maxNotificationValue: UInt64
    /// OS revision (GET_OS_REVISION a0.a1).
    public let osRevision: (major: UInt32, minor: UInt32)
    /// Whether ENABLE_ASYNC_NOTIF succeeded.
    public let asyncNotificationsEnabled: Bool
    /// ENABLE_SHM_CACHE succeeded at probe (RPC arguments stay cached in the secure world).
    public let shmCacheEnabled: Bool
    /// The queue to the supplicant.
    public let supplicant: SupplicantChannel
    /// FIFO admission to secure threads.
    public let callQueue: CallQueue

    struct ShmRecord: Sendable {
        var handle: SharedMemoryHandle
        var backing: GuestBuffer?      // owned pages, freed on release
        var pageList: GuestBuffer?     // list kept alive while the secure world may use it
        /// Calls in flight naming it in a memref param (Linux's tee_shm reference count).
        var users = 0
        /// Released while in use: no new call may name it; the last user lets it go.
        var releasing = false
        /// The releaser waiting for the last user, if it still waits (nil: the last user frees).
        var releaser: Waiter? = nil
    }
    private let shms = Mutex<[UInt64: ShmRecord]>([:])
    private let nextCookie = Atomic<UInt64>(1)
    /// Argument pages reserved at probe (page i of `argRun`), claimed per call through `argSlots`.
    private let argRun: GuestBuffer?
    private let argSlots: SlotPool
    /// Pre-registered argument pages (CALL_WITH_REGD_ARG), published once after the probe.
    private let regd = AtomicLazyReference<RegisteredArguments>()
    /// Whether the probe may register argument pages: when false (the default configuration), a
    /// call never loads `regd` (its `load` is an unspecialized generic, a metadata lookup per call).
    private let regdEnabled: Bool
    private let regdRetired = Atomic<Bool>(false)
    private let vcpuSlots: SlotPool
    /// Bounce pages of one-page temporary memrefs and the slots calls hold (`BounceTable`),
    /// inline: reached without a reference count or a generic lookup per call.
    private let bounce = BounceTable()
    /// The RPC arguments the secure world allocated (RPC_ALLOC), found by RPC_CMD without the
    /// shared-memory table's lock (`RPCArgumentCache`); written under that lock.
    private let rpcArgs = RPCArgumentCache()
    /// Bounce slots in use at most: one per secure thread (16 at most).
    private var bounceSlotCount: Int { min(BounceTable.slots, max(1, threadCount ?? 4)) }
    private let counters = DriverCounters()
    private let shutDown = Atomic<Bool>(false)
    let notifications: NotificationTable
    private var clock: any HostClock { configuration.host.clock }
    private var log: Logger { configuration.logger }

    /// Creates the driver for guest `space` trapping through `conduit`, and probes the secure
    /// world (UID, revision, capabilities, thread count, async notifications).
    public init(space: GuestAddressSpace, conduit: any Conduit, configuration: DriverConfiguration = DriverConfiguration(),
                supplicant: SupplicantChannel? = nil) throws(DriverError) {
        self.space = space; self.conduit = conduit; self.configuration = configuration
        let allocator = GuestPageAllocator(space: space, range: configuration.ramPages)
        self.allocator = allocator
        self.supplicant = supplicant ?? SupplicantChannel(clock: configuration.host.clock)
        self.notifications = NotificationTable(clock: configuration.host.clock)
        self.vcpuSlots = SlotPool(count: max(1, configuration.vcpus))
        func fast(_ f: RegisterFrame) -> RegisterFrame { conduit.trap(f, vcpu: 0) }
        func u32(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v) }

        let uid = fast(RegisterFrame(.callsUID))
        guard TEEUUID(registerWords: (u32(uid.a0), u32(uid.a1), u32(uid.a2), u32(uid.a3))) == .opteeAPI else { throw .notOPTEE }
        let rev = fast(RegisterFrame(.callsRevision))
        guard u32(rev.a0) == OPTEEIdentity.msgRevisionMajor, u32(rev.a1) >= OPTEEIdentity.msgRevisionMinor else {
            throw .unsupportedRevision(major: u32(rev.a0), minor: u32(rev.a1))
        }
        let os = fast(RegisterFrame(.getOSRevision))
        osRevision = (u32(os.a0), u32(os.a1))
        let nsec: NonSecureCapabilities = configuration.vcpus == 1 ? .uniprocessor : []
        let caps = fast(RegisterFrame(.exchangeCapabilities, a1: UInt64(nsec.rawValue)))
        guard SMCReturn(rawValue: u32(caps.a0)) == .ok else { throw .capabilitiesRefused(SMCReturn(rawValue: u32(caps.a0))) }
        capabilities = SecureCapabilities(rawValue: u32(caps.a1))
        guard capabilities.contains(.dynamicSHM) else { throw .noDynamicSharedMemory }
        maxNotificationValue = caps.a2 & 0xFFFF_FFFF
        let rpcParams = Int(caps.a3 & 0xFF)
        // The argument (at most 2 meta + 4 TA params) and the RPC argument after it share one page;
        // an RPC argument too large for that is not used (CALL_WITH_ARG instead).
        let fits = MsgArg.size(numParams: Self.maxArgParams) + MsgArg.size(numParams: rpcParams) <= pageSize
        rpcParamCount = (configuration.useRPCArg && capabilities.contains(.rpcArg) && rpcParams > 0 && fits) ? rpcParams : 0
        let tc = fast(RegisterFrame(.getThreadCount))
        threadCount = (SMCReturn(rawValue: u32(tc.a0)) == .ok && tc.a1 > 0) ? Int(tc.a1 & 0xFFFF_FFFF) : nil
        callQueue = CallQueue(limit: threadCount, clock: configuration.host.clock)
        if capabilities.contains(.asyncNotif) {
            asyncNotificationsEnabled = SMCReturn(rawValue: u32(fast(RegisterFrame(.enableAsyncNotif)).a0)) == .ok
        } else {
            asyncNotificationsEnabled = false
        }
        shmCacheEnabled = configuration.enableSHMCache
            && SMCReturn(rawValue: u32(fast(RegisterFrame(.enableSHMCache)).a0)) == .ok
        // Argument pages for the calls in flight (one per secure thread, at most 16), reserved
        // untouched; more concurrent calls than that take a fresh page each.
        var want = min(16, max(1, threadCount ?? 4))
        var run: GuestBuffer? = nil
        while want > 0, run == nil {
            run = try? allocator.allocate(pages: want, zeroed: false)
            if run == nil { want /= 2 }
        }
        argRun = run
        argSlots = SlotPool(count: run?.pages ?? 0)
        regdEnabled = configuration.useRegisteredArguments && rpcParamCount > 0
        if regdEnabled {
            var pages: [(page: GuestBuffer, cookie: UInt64)] = []
            for _ in 0..<min(threadCount ?? 8, 16) {
                guard let page = try? allocator.allocate(pages: 1) else { break }
                let h = SharedMemoryHandle(id: newCookie(), address: page.base, size: pageSize, kind: .kernel, registered: true)
                guard (try? registerWithSecureWorld(h)) != nil else { allocator.free(page); break }
                pages.append((page, h.id))
            }
            if !pages.isEmpty { _ = regd.storeIfNil(RegisteredArguments(pages)) }
        }
    }

    /// Most params of one argument: the two OPEN_SESSION meta params and four TA params.
    static let maxArgParams = 2 + DriverParams.capacity

    /// A snapshot of the counters.
    public var statistics: DriverStatistics { counters.snapshot }
    /// Shared memory objects the driver tracks now (client, kernel and supplicant).
    public var sharedMemoryCount: Int { shms.withLock { $0.count } }
    /// Releases waiting now for the last call that uses their shared memory.
    public var releasesWaiting: Int { shms.withLock { t in t.values.reduce(0) { $0 + ($1.releaser != nil ? 1 : 0) } } }
    /// Callers blocked in NOTIFICATION waits now.
    public var notificationWaiters: Int { notifications.waiting }

    private func newCookie() -> UInt64 { nextCookie.wrappingAdd(1, ordering: .relaxed).oldValue }
    /// Runs one trap on a vCPU no other trap is using, as a guest kernel schedules its threads on
    /// vCPUs: a vCPU executes one SMC at a time. Between two traps of one call (while an RPC is
    /// served) the vCPU is free, so the call may resume on another one.
    private func trapOnFreeVCPU(_ frame: RegisterFrame) -> RegisterFrame {
        let v = vcpuSlots.claim(rotate: true)
        defer { vcpuSlots.release(v) }
        return conduit.trap(frame, vcpu: v)
    }

    // MARK: - Client requests (the tee ioctls)

    /// OPEN_SESSION to TA `uuid` with the given login and client UUID (computed by the caller as
    /// Linux's tee_core does), TA params and cancel id.
    public func openSession(uuid: TEEUUID, login: LoginMethod, clientUUID: TEEUUID, params: DriverParams,
                            cancelID: UInt32 = 0) throws(DriverError) -> DriverResult {
        // As tee_core: the REE-kernel login range is refused from user space, unknown methods are invalid.
        guard !(0x8000_0000...0xBFFF_FFFF).contains(login.rawValue) else { throw .notPermitted }
        guard login.isDefined else { throw .badParameters }
        let meta = OpenSessionMeta(ta: uuid, client: clientUUID, login: login)
        return try request(cmd: .openSession, function: 0, session: 0, cancelID: cancelID, meta: meta, params: params)
    }

    /// OPEN_SESSION with params in an array (more than four are `.badParameters`).
    public func openSession(uuid: TEEUUID, login: LoginMethod, clientUUID: TEEUUID, params: [DriverParam],
                            cancelID: UInt32 = 0) throws(DriverError) -> DriverResult {
        try openSession(uuid: uuid, login: login, clientUUID: clientUUID, params: DriverParams(params), cancelID: cancelID)
    }

    /// INVOKE_COMMAND `function` in `session` with TA params and cancel id.
    public func invoke(session: UInt32, function: UInt32, params: DriverParams, cancelID: UInt32 = 0) throws(DriverError) -> DriverResult {
        try request(cmd: .invokeCommand, function: function, session: session, cancelID: cancelID, meta: nil, params: params)
    }

    /// INVOKE_COMMAND with params in an array (more than four are `.badParameters`).
    public func invoke(session: UInt32, function: UInt32, params: [DriverParam], cancelID: UInt32 = 0) throws(DriverError) -> DriverResult {
        try invoke(session: session, function: function, params: DriverParams(params), cancelID: cancelID)
    }

    /// CLOSE_SESSION; returns the secure world's result.
    @discardableResult
    public func closeSession(_ session: UInt32) throws(DriverError) -> TEEResult {
        try request(cmd: .closeSession, function: 0, session: session, cancelID: 0, meta: nil, params: DriverParams()).ret
    }

    /// CANCEL of the call with `cancelID` in `session`. It skips the call queue (the calls it
    /// would cancel may hold every slot) but still honours ETHREAD_LIMIT.
    @discardableResult
    public func cancel(cancelID: UInt32, session: UInt32) throws(DriverError) -> TEEResult {
        let (out, _) = try call(.cancel, numParams: 0, queued: false) { v in v.session = session; v.cancelID = cancelID }
        return out?.ret ?? .communication
    }

    /// Allocates `size` bytes of guest RAM as shared memory; with `register`, REGISTER_SHM makes it
    /// usable as RMEM in client params (Linux's dynamic shm). The supplicant passes `false`.
    public func allocateSharedMemory(size: Int, kind: SharedMemoryKind = .client, register: Bool = true) throws(DriverError) -> SharedMemoryHandle {
        guard size >= 0, size <= allocator.range.count * pageSize else { throw .badParameters }
        let buf = try allocator.allocate(bytes: max(size, 1))
        let id = newCookie()
        var handle = SharedMemoryHandle(id: id, address: buf.base, size: size, kind: kind, registered: false)
        if register {
            do throws(DriverError) { try registerWithSecureWorld(handle) } catch { allocator.free(buf); throw error }
            handle = SharedMemoryHandle(id: id, address: buf.base, size: size, kind: kind, registered: true)
        }
        shms.withLock { $0[id] = ShmRecord(handle: handle, backing: buf, pageList: nil) }
        return handle
    }

    /// Registers `size` bytes of guest RAM the caller owns at `address` (REGISTER_SHM with a
    /// NONCONTIG page list). The pages stay the caller's; `release` only unregisters.
    public func registerSharedMemory(address: IPA, size: Int) throws(DriverError) -> SharedMemoryHandle {
        guard size > 0, address.adding(UInt64(size)) != nil else { throw .badParameters }
        let pages = PageListBuilder.pageCount(address: address, size: size)
        for k in 0..<pages {
            guard let e = space.entry(IPAPage(address.page.number &+ UInt64(k))), e.type == .ramReadWrite else { throw .badParameters }
        }
        let id = newCookie()
        let handle = SharedMemoryHandle(id: id, address: address, size: size, kind: .client, registered: true)
        try registerWithSecureWorld(handle)
        shms.withLock { $0[id] = ShmRecord(handle: handle, backing: nil, pageList: nil) }
        return handle
    }

    /// Releases shared memory: UNREGISTER_SHM when registered, then frees what the driver owns.
    public func release(_ shm: SharedMemoryHandle) throws(DriverError) {
        try release(id: shm.id)
    }

    /// Releases shared memory by id (see `release(_:)`); unknown ids, memory already being
    /// released, and the driver's own memory for the secure world, are `.badParameters`.
    /// Memory a call in flight still names is not freed under it: no new call may name it, and
    /// the release waits (at most `configuration.releaseWait`) for the last such call to end;
    /// past that bound it returns and the last call frees the memory when it ends.
    public func release(id: UInt64) throws(DriverError) {
        enum Step { case unknown, now(ShmRecord), wait(Waiter) }
        let step: Step = shms.withLock { s in
            guard var r = s[id], r.handle.kind != .kernel, !r.releasing else { return .unknown }
            if r.users == 0 { s.removeValue(forKey: id); return .now(r) }
            let w = Waiter(clock: clock)
            r.releasing = true; r.releaser = w
            s[id] = r
            return .wait(w)
        }
        switch step {
        case .unknown:
            log.debug("release of unknown shared memory", metadata: ["id": "\(id)"])
            throw .badParameters
        case let .now(rec):
            dispose(rec)
        case let .wait(w):
            _ = w.wait(configuration.releaseWait)
            // Ours to free if the last user is gone; else the last user frees it.
            let rec: ShmRecord? = shms.withLock { s in
                guard var r = s[id], r.releasing else { return nil }
                if r.users == 0 { return s.removeValue(forKey: id) }
                r.releaser = nil
                s[id] = r
                return nil
            }
            if let rec { dispose(rec) } else { log.debug("release waits for a call still using the memory", metadata: ["id": "\(id)"]) }
        }
    }

    /// Ends the calls' hold on the shared memory in `held` (0: none): the last user of memory
    /// being released wakes the releaser, or frees it when the releaser stopped waiting.
    private func endUse(_ held: InlineArray<4, UInt64>) {
        var free = InlineArray<4, ShmRecord?>(repeating: nil)
        var wake = InlineArray<4, Waiter?>(repeating: nil)
        shms.withLock { table in
            for i in 0..<4 {
                let id = held[i]
                guard id != 0, var r = table[id] else { continue }
                r.users -= 1
                if r.users == 0 && r.releasing {
                    if let w = r.releaser { wake[i] = w; table[id] = r } else { free[i] = table.removeValue(forKey: id) }
                } else {
                    table[id] = r
                }
            }
        }
        for i in 0..<4 {
            wake[i]?.signal()
            if let r = free[i] { dispose(r) }
        }
    }

    /// UNREGISTER_SHM when registered, then frees the pages the driver owns for it.
    private func dispose(_ rec: ShmRecord) {
        let id = rec.handle.id
        if rec.handle.registered {
            if let out = try? unregister(cookie: id, force: false), out != .success {
                log.debug("UNREGISTER_SHM refused", metadata: ["id": "\(id)", "ret": "\(out)"])
            }
        }
        if let b = rec.backing { allocator.free(b) }
        if let l = rec.pageList { allocator.free(l) }
    }

    /// UNREGISTER_SHM of `cookie` (an RMEM_INPUT param naming it); the secure world's result.
    private func unregister(cookie: UInt64, force: Bool) throws(DriverError) -> TEEResult {
        let (out, _) = try call(.unregisterSHM, numParams: 1, queued: true, force: force) { v throws(ABIError) in
            guard let p = v.param(0) else { throw .truncated(needed: MsgArg.size(numParams: 1), available: v.byteCount) }
            p.attr = MsgAttr(.rmemInput); p.rmemOffset = 0; p.memrefSize = 0; p.shmRef = cookie
        }
        return out?.ret ?? .communication
    }

    /// The handle of shared memory `id`, if the driver knows it.
    public func sharedMemory(id: UInt64) -> SharedMemoryHandle? { shms.withLock { $0[id]?.handle } }

    /// Reads `count` bytes at `offset` of shared memory `shm` (a client mapping its buffer).
    public func read(_ shm: SharedMemoryHandle, offset: Int = 0, count: Int) throws(DriverError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= shm.size, count <= shm.size - offset,
              let a = shm.address.adding(UInt64(offset)) else { throw .badParameters }
        do { return try space.read(a, count: count) } catch { throw .communication }
    }

    /// Writes `bytes` at `offset` of shared memory `shm`.
    public func write(_ shm: SharedMemoryHandle, offset: Int = 0, _ bytes: [UInt8]) throws(DriverError) {
        guard offset >= 0, offset <= shm.size, bytes.count <= shm.size - offset,
              let a = shm.address.adding(UInt64(offset)) else { throw .badParameters }
        do { try space.write(a, bytes) } catch { throw .communication }
    }

    /// The async-notification interrupt's bottom half: drains GET_ASYNC_NOTIF_VALUE, waking
    /// notification waiters and running DO_BOTTOM_HALF when asked. Returns values handled.
    @discardableResult
    public func handleAsyncNotification() -> Int {
        guard asyncNotificationsEnabled else { return 0 }
        var handled = 0
        for _ in 0..<64 {
            let f = trapOnFreeVCPU(RegisterFrame(.getAsyncNotifValue))
            guard SMCReturn(rawValue: UInt32(truncatingIfNeeded: f.a0)) == .ok else { break }
            let flags = UInt32(truncatingIfNeeded: f.a2)
            guard flags & OPTEEIdentity.asyncNotifValid != 0 else { break }
            let value = f.a1 & 0xFFFF_FFFF
            if value == UInt64(OPTEEIdentity.asyncNotifValueDoBottomHalf) {
                _ = try? call(.doBottomHalf, numParams: 0, queued: true) { _ in }
            } else {
                notifications.send(key: value)
            }
            handled += 1
            if flags & OPTEEIdentity.asyncNotifPending == 0 { break }
        }
        return handled
    }

    /// Stops the driver: STOP_ASYNC_NOTIF when enabled; later requests fail with `.shutDown`.
    public func shutdown() {
        guard !shutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if asyncNotificationsEnabled { _ = try? call(.stopAsyncNotif, numParams: 0, queued: true, force: true) { _ in } }
        if shmCacheEnabled {
            // DISABLE_SHM_CACHE hands back one cached RPC argument per call until none is left
            // (Linux's optee_disable_shm_cache); bounded: a secure world has a few threads.
            for _ in 0..<256 {
                let r = trapOnFreeVCPU(RegisterFrame(.disableSHMCache))
                guard SMCReturn(rawValue: UInt32(truncatingIfNeeded: r.a0)) == .ok else { break }
                _ = freeKernelMemory(RegisterFrame.join(r.a1, r.a2))
            }
        }
        regdRetired.store(true, ordering: .releasing)
        for (page, cookie) in regd.load()?.pages ?? [] {
            _ = try? unregister(cookie: cookie, force: true)
            allocator.free(page)
        }
    }

    // MARK: - Building requests

    /// Guest pages a request owns for the duration of the call (temporary memrefs' data and the
    /// page lists of memrefs): one slot per TA param, held inline. `bounce` is the bounce slot
    /// whose pages `data` and `list` are (given back, not freed), or -1.
    private struct Temp { var data: GuestBuffer? = nil; var list: GuestBuffer? = nil; var capacity = 0; var bounce = -1 }

    /// A temporary memref's data page for one call and its page list (entry 0 names the data
    /// page, the rest and `next` are 0), both made and written on the slot's first use and only
    /// read afterwards (by the mediator and the secure world), so a call finds the list in place.
    /// nil when no slot is free or its pages cannot be had: the caller allocates fresh pages.
    private func claimBounce(_ table: borrowing BounceTable) -> (slot: Int, data: GuestBuffer, list: GuestBuffer)? {
        guard let k = table.claim(of: bounceSlotCount) else { return nil }
        let base = table.runs[k].load(ordering: .acquiring)
        if base != 0 { return (k, GuestBuffer(base: IPA(base), pages: 1), GuestBuffer(base: IPA(base + UInt64(pageSize)), pages: 1)) }
        guard let run = try? allocator.allocate(pages: 2, zeroed: true) else { table.release(k); return nil }
        let data = GuestBuffer(base: run.base, pages: 1), list = GuestBuffer(base: run.page(1).address, pages: 1)
        do {
            // The rest of the list page stays zero from the allocation.
            try space.withBytes(list.base, count: pageSize) { (b) throws(ABIError) in
                let view = try PageList.PageView(b)
                view.setEntry(0, data.base.raw)
                view.next = 0
            }
        } catch {
            allocator.free(run); table.release(k); return nil
        }
        table.runs[k].store(run.base.raw, ordering: .releasing)
        return (k, data, list)
    }

    private func request(cmd: MsgCommand, function: UInt32, session: UInt32, cancelID: UInt32,
                         meta: OpenSessionMeta?, params: DriverParams) throws(DriverError) -> DriverResult {
        guard !params.overflowed else { throw .badParameters }
        let metaCount = meta == nil ? 0 : 2
        let n = params.count
        var temps = InlineArray<4, Temp>(repeating: Temp())
        var encoded = InlineArray<4, MsgParam>(repeating: .none)
        defer {
            for i in 0..<n {
                if temps[i].bounce >= 0 { bounce.release(temps[i].bounce); continue }
                if let d = temps[i].data { allocator.free(d) }
                if let l = temps[i].list { allocator.free(l) }
            }
        }
        // The shared memory every memref names, looked up under one lock for the whole request;
        // each is held for the call (a release waits for it, as OP-TEE's reg-shm release does).
        // Only the handles are kept (a trivial value): a copy of the record would retain its
        // pages and its releaser, and four optional records made the frame larger for every call.
        var records = InlineArray<4, SharedMemoryHandle?>(repeating: nil)
        var held = InlineArray<4, UInt64>(repeating: 0)
        var anyMemref = false
        for i in 0..<n { if case .memref = params[i] { anyMemref = true } }
        if anyMemref {
            shms.withLock { table in
                for i in 0..<n {
                    guard case let .memref(_, shm, _, _) = params[i], var r = table[shm.id], !r.releasing else { continue }
                    r.users += 1
                    table[shm.id] = r
                    records[i] = r.handle; held[i] = shm.id
                }
            }
        }
        defer { if anyMemref { endUse(held) } }
        // Guest pages first (temporary buffers, page lists), then the argument in place.
        for i in 0..<n {
            switch params[i] {
            case .none:
                encoded[i] = .none
            case let .value(dir, a, b, c):
                encoded[i] = .value(dir.valueType, a: a, b: b, c: c)
            case let .tmem(dir, bytes):
                if bytes.isEmpty {
                    encoded[i] = .tmem(dir.tmemType, bufPtr: 0, size: 0, shmRef: 0)
                    continue
                }
                // One page: the slot's bounce page, written (an input) or zeroed (an output) as
                // a fresh page would be, with its page list already in place.
                if bytes.count <= pageSize, let (k, data, list) = claimBounce(bounce) {
                    temps[i].bounce = k; temps[i].data = data; temps[i].list = list; temps[i].capacity = bytes.count
                    do {
                        if dir.isInput { try space.write(data.base, bytes) } else {
                            try space.withBytes(data.base, count: pageSize) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
                        }
                    } catch { throw .communication }
                    encoded[i] = .tmem(dir.tmemType, bufPtr: list.base.raw, size: UInt64(bytes.count), shmRef: newCookie(), noncontig: true)
                    continue
                }
                // An input buffer is overwritten right away: no zeroing first (the secure world
                // reads only `size` bytes). An output-only buffer starts zeroed.
                let data = try allocator.allocate(pages: (bytes.count + pageSize - 1) / pageSize, zeroed: !dir.isInput)
                temps[i].data = data; temps[i].capacity = bytes.count
                if dir.isInput { do { try space.write(data.base, bytes) } catch { throw .communication } }
                let (list, ptr) = try PageListBuilder.build(address: data.base, size: bytes.count, allocator: allocator)
                temps[i].list = list
                encoded[i] = .tmem(dir.tmemType, bufPtr: ptr, size: UInt64(bytes.count), shmRef: newCookie(), noncontig: true)
            case let .memref(dir, shm, offset, size):
                guard let rec = records[i], rec.id == shm.id, offset >= 0, size >= 0,
                      offset <= rec.size, size <= rec.size - offset else { throw .badParameters }
                if rec.registered {
                    encoded[i] = .rmem(dir.rmemType, offset: UInt64(offset), size: UInt64(size), shmRef: shm.id)
                } else {
                    guard let start = rec.address.adding(UInt64(offset)) else { throw .badParameters }
                    let (list, ptr) = try PageListBuilder.build(address: start, size: size, allocator: allocator)
                    temps[i].list = list
                    encoded[i] = .tmem(dir.tmemType, bufPtr: ptr, size: UInt64(size), shmRef: shm.id, noncontig: true)
                }
            }
        }
        var outParams = InlineArray<4, MsgParam>(repeating: .none)
        let (out, record) = try call(cmd, numParams: metaCount + n, queued: true) { v throws(ABIError) in
            v.function = function; v.session = session; v.cancelID = cancelID
            if let meta { try meta.store(into: v) }
            for i in 0..<n { v.param(metaCount + i)?.store(encoded[i]) }
        } read: { v in
            for i in 0..<n { if let p = v.param(metaCount + i) { outParams[i] = p.load() } }
        }
        guard let out else {
            return DriverResult(ret: .communication, origin: .comms, session: 0,
                                params: DriverParamResults(count: n), queue: record)
        }
        var results = DriverParamResults(count: n)
        for i in 0..<n {
            let r = outParams[i]
            switch params[i] {
            case .none: break
            case let .value(dir, _, _, _):
                if dir.isOutput { results[i] = .value(a: r.a, b: r.b, c: r.c) }
            case let .memref(dir, _, _, _):
                if dir.isOutput { results[i] = .memref(size: Int(clamping: r.size)) }
            case let .tmem(dir, _):
                guard dir.isOutput else { continue }
                let size = Int(clamping: r.size)
                var bytes: [UInt8] = []
                if let d = temps[i].data {
                    bytes = (try? space.read(d.base, count: min(size, temps[i].capacity))) ?? []
                }
                results[i] = .tmem(bytes: bytes, size: size)
            }
        }
        return DriverResult(ret: out.ret, origin: out.origin, session: out.session, params: results, queue: record)
    }

    private func registerWithSecureWorld(_ h: SharedMemoryHandle) throws(DriverError) {
        let (list, ptr) = try PageListBuilder.build(address: h.address, size: max(h.size, 1), allocator: allocator)
        defer { allocator.free(list) }
        let (out, _) = try call(.registerSHM, numParams: 1, queued: true) { v throws(ABIError) in
            guard let p = v.param(0) else { throw .truncated(needed: MsgArg.size(numParams: 1), available: v.byteCount) }
            p.store(.tmem(.tmemOutput, bufPtr: ptr, size: UInt64(h.size), shmRef: h.id, noncontig: true))
        }
        guard let out else { throw .communication }
        guard out.ret == .success else {
            log.debug("REGISTER_SHM refused", metadata: ["ret": "\(out.ret)"])
            throw out.ret == .outOfMemory ? .outOfMemory : .badParameters
        }
    }

    // MARK: - The std-call loop


    /// The header fields of an argument as the secure world left it.
    struct CallOutcome {
        var ret: TEEResult
        var origin: TEEOrigin
        var session: UInt32
    }

    /// Where a call's argument lives: a pre-registered page, a reserved page, or a fresh one.
    private enum ArgPage { case registered(Int), reserved(Int), fresh(GuestBuffer) }

    /// Runs one std call to completion: `build` fills the argument of `cmd` with `numParams` params
    /// in place (header zeroed, cmd and num_params set), and once the secure world returned OK,
    /// `read` sees the argument as it was left. Returns the header's outcome, or nil when the SMC
    /// failed or the argument came back malformed (the caller reports COMMUNICATION), plus how it queued.
    func call(_ cmd: MsgCommand, numParams n: Int, queued: Bool, force: Bool = false,
              build: (MsgArgView) throws(ABIError) -> Void,
              read: (MsgArgView) -> Void = { _ in }) throws(DriverError) -> (CallOutcome?, QueueRecord) {
        guard force || !shutDown.load(ordering: .acquiring) else { throw .shutDown }
        let argSize = MsgArg.size(numParams: n)
        let rpcArgSize = rpcParamCount > 0 ? MsgArg.size(numParams: rpcParamCount) : 0
        let total = argSize + rpcArgSize
        guard n >= 0, total <= pageSize else { throw .badParameters }

        let page: ArgPage
        let base: IPA
        let registered = !regdEnabled || regdRetired.load(ordering: .acquiring) ? nil : regd.load()
        if let registered, let i = registered.slots.tryClaim() {
            page = .registered(i); base = registered.pages[i].page.base
        } else if let run = argRun, let i = argSlots.tryClaim() {
            page = .reserved(i); base = run.page(i).address
        } else {
            let b = try allocator.allocate(pages: 1, zeroed: false)
            page = .fresh(b); base = b.base
        }
        defer {
            switch page {
            case let .registered(i): registered?.slots.release(i)
            case let .reserved(i): argSlots.release(i)
            case let .fresh(b): allocator.free(b)
            }
        }

        // No clock read on an uncontended call: the queue times its own waits, and the
        // ETHREAD_LIMIT deadline is set at the first retry, less what the queue already waited.
        var record = QueueRecord(arrival: 0, grant: 0, waitedNanos: 0, threadLimitRetries: 0)
        if queued {
            guard let t = callQueue.enterTimed(timeout: configuration.threadWait) else {
                log.debug("no secure thread in time")
                throw .busy
            }
            record.arrival = t.arrival; record.grant = t.grant; record.waitedNanos = t.waitedNanos
        }
        defer { if queued { callQueue.leave() } }
        counters.bump(counters.stdCalls)

        var frame: RegisterFrame
        if case let .registered(i) = page {
            let (hi, lo) = RegisterFrame.split(registered?.pages[i].cookie ?? 0)
            frame = RegisterFrame(.callWithRegdArg, a1: hi, a2: lo, a3: 0)
            counters.bump(counters.registeredArgumentCalls)
        } else {
            let (hi, lo) = RegisterFrame.split(base.raw)
            frame = RegisterFrame(rpcArgSize > 0 ? .callWithRPCArg : .callWithArg, a1: hi, a2: lo, a3: UInt64(OPTEEIdentity.shmCached))
        }
        let waitBudget = UInt64(max(0, min(configuration.threadWait, 1e9)) * 1e9)
        var deadline: UInt64? = nil

        // The argument is built, passed and read in place: one translation of its page per call.
        let r: Result<CallOutcome?, DriverError>
        do {
            r = try space.withBytes(base, count: total) { (bytes) throws(DriverError) -> Result<CallOutcome?, DriverError> in
                guard let view = try? MsgArgView(bytes) else { return .failure(.communication) }
                do throws(ABIError) {
                    try view.reset(cmd: cmd, numParams: n)
                    try build(view)
                } catch { return .failure(.badParameters) }
                // The RPC argument area needs no clearing: the secure world writes it before each RPC.
                let rpcView = rpcArgSize > 0 ? view.rpcArgument(numParams: n, rpcParams: rpcParamCount) : nil
                while true {
                    let out = trapOnFreeVCPU(frame)
                    let ret = SMCReturn(rawValue: UInt32(truncatingIfNeeded: out.a0))
                    if ret == .ethreadLimit {
                        counters.bump(counters.threadLimitHits)
                        record.threadLimitRetries += 1
                        let w0 = clock.now()
                        let end = deadline ?? w0 &+ (waitBudget > record.waitedNanos ? waitBudget - record.waitedNanos : 0)
                        deadline = end
                        guard w0 < end else { return .failure(.busy) }
                        callQueue.waitForCompletion(timeout: min(0.05, Double(end - w0) / 1e9))
                        record.waitedNanos += clock.now() - w0
                        continue
                    }
                    if ret.isRPC {
                        frame = handleRPC(out, rpcArg: rpcView)
                        continue
                    }
                    guard ret == .ok else {
                        counters.bump(counters.failedCalls)
                        log.debug("std call failed", metadata: ["a0": "\(ret)"])
                        return .success(nil)
                    }
                    break
                }
                // The secure world may only have written outputs: a changed num_params is malformed.
                guard (try? view.paramCount(max: n)) == n else {
                    counters.bump(counters.badRPC)
                    return .success(nil)
                }
                read(view)
                return .success(CallOutcome(ret: view.ret, origin: view.retOrigin, session: view.session))
            }
        } catch {
            if case let .body(e) = error { throw e }
            throw .communication
        }
        return (try r.get(), record)
    }

    // MARK: - RPC

    private func handleRPC(_ out: RegisterFrame, rpcArg: MsgArgView?) -> RegisterFrame {
        var f = out
        f.a0 = UInt64(SMCFunctionID.returnFromRPC.rawValue)
        let fn = UInt32(truncatingIfNeeded: out.a0) & 0xFFFF
        counters.rpcFunction(fn)
        switch RPCFunction(rawValue: fn) {
        case .alloc:
            let size = Int(out.a1 & 0xFFFF_FFFF)
            if let h = try? allocateKernelMemory(size: size) {
                // Published under the table's lock, so a FREE (which takes it) cannot come between.
                shms.withLock { t in if t[h.id] != nil { rpcArgs.publish(h) } }
                (f.a1, f.a2) = RegisterFrame.split(h.address.raw)
                (f.a4, f.a5) = RegisterFrame.split(h.id)
            } else {
                f.a1 = 0; f.a2 = 0; f.a4 = 0; f.a5 = 0
            }
        case .free:
            let cookie = RegisterFrame.join(out.a1, out.a2)
            if !freeKernelMemory(cookie) { counters.bump(counters.badRPC); log.debug("RPC FREE of unknown cookie") }
        case .foreignInterrupt:
            break
        case .cmd:
            let cookie = RegisterFrame.join(out.a1, out.a2)
            if let rpcArg {
                serveRPC(rpcArg)
            } else if let (address, capacity) = rpcArgs.lookup(cookie) ?? sharedMemory(id: cookie).map(RPCArgumentCache.place) {
                // An RPC argument in memory the secure world allocated: served in place in its first
                // page (OP-TEE's RPC arguments are far smaller than a page).
                let served = try? space.withBytes(address, count: capacity) { (b) -> Bool in
                    guard let v = try? MsgArgView(b) else { return false }
                    serveRPC(v); return true
                }
                if served != true { counters.bump(counters.badRPC) }
            } else {
                counters.bump(counters.badRPC); log.debug("RPC CMD with unknown cookie")
            }
        default:
            counters.bump(counters.badRPC)
            log.debug("unknown RPC function", metadata: ["fn": "\(fn)"])
        }
        return f
    }

    private func allocateKernelMemory(size: Int) throws(DriverError) -> SharedMemoryHandle {
        guard size > 0 else { throw .badParameters }
        return try allocateSharedMemory(size: size, kind: .kernel, register: false)
    }

    private func freeKernelMemory(_ cookie: UInt64) -> Bool {
        guard let rec = shms.withLock({ s -> ShmRecord? in
            guard let r = s[cookie], r.handle.kind == .kernel else { return nil }
            rpcArgs.withdraw(cookie)
            return s.removeValue(forKey: cookie)
        }) else { return false }
        if let b = rec.backing { allocator.free(b) }
        if let l = rec.pageList { allocator.free(l) }
        return true
    }

    /// Serves one RPC command in place in the RPC argument `v` (ret, origin and outputs); a
    /// malformed argument is answered BAD_PARAMETERS in its header.
    private func serveRPC(_ v: MsgArgView) {
        let count: Int
        do throws(ABIError) {
            count = try v.paramCount()
            try v.validateAttributes(count: count)
        } catch {
            counters.bump(counters.badRPC)
            log.debug("malformed RPC argument")
            v.ret = .badParameters
            return
        }
        counters.rpcCommand(v.cmd.rawValue)
        serve(v, count: count)
    }

    /// TEE_ERROR_TIMEOUT: a NOTIFICATION wait that ran out of time.
    static let timeoutResult = TEEResult(rawValue: 0xFFFF_3001)

    private func badRPC(_ v: MsgArgView, _ why: StaticString) {
        counters.bump(counters.badRPC)
        log.debug("bad RPC", metadata: ["cmd": "\(v.cmd.rawValue)", "why": "\(why)"])
        v.ret = .badParameters
    }

    /// Serves one RPC command in place (ret and outputs); `count` params were checked.
    private func serve(_ v: MsgArgView, count: Int) {
        v.retOrigin = .comms
        let one = count == 1 ? v.param(0) : nil
        switch RPCCommand(rawValue: v.cmd.rawValue) {
        case .getTime:
            guard let p = one, p.attr.type == .valueOutput else { return badRPC(v, "GET_TIME params") }
            // Through the stored configuration: `clock` would copy the existential per call.
            let t = configuration.host.clock.wallTime()
            p.valueA = t.seconds; p.valueB = t.nanoseconds; p.valueC = 0
            v.ret = .success
        case .notification:
            guard let p = one, p.attr.type == .valueInput else { return badRPC(v, "NOTIFICATION params") }
            guard p.valueB <= max(maxNotificationValue, 255) else { return badRPC(v, "NOTIFICATION key") }
            switch RPCNotification(rawValue: p.valueA) {
            case .wait:
                // value.c: optional timeout in ms (newer kernels); always bounded by our own limit.
                let c = p.valueC
                let bound = c == 0 ? configuration.notificationWait : min(Double(c) / 1000, configuration.notificationWait)
                v.ret = notifications.wait(key: p.valueB, timeout: bound) ? .success : Self.timeoutResult
            case .send:
                notifications.send(key: p.valueB); v.ret = .success
            case nil:
                badRPC(v, "NOTIFICATION op")
            }
        case .suspend:
            guard let p = one, p.attr.type == .valueInput else { return badRPC(v, "SUSPEND params") }
            let secs = min(Double(p.valueA) / 1000, configuration.maxSuspend)
            if secs > 0 { clock.sleep(until: clock.deadline(after: secs)) }
            v.ret = .success
        case .shmAlloc:
            serveShmAlloc(v, count: count)
        case .shmFree:
            serveShmFree(v, count: count)
        case .loadTA, .rpmb, .fs, .gprof, .socket, .ftrace, .suppPlugin, .rpmbProbeReset, .rpmbProbeNext, .rpmbFrames:
            forwardToSupplicant(v, count: count)
        default:
            v.ret = .notSupported
        }
    }

    private func serveShmAlloc(_ v: MsgArgView, count: Int) {
        guard count >= 1, let p = v.param(0), p.attr.type == .valueInput,
              let type = RPCShmType(rawValue: p.valueA), p.valueB > 0, p.valueB <= UInt64(allocator.range.count * pageSize) else {
            return badRPC(v, "SHM_ALLOC params")
        }
        let (a, size) = (p.valueA, p.valueB)
        let handle: SharedMemoryHandle
        switch type {
        case .kernel, .global:
            guard let h = try? allocateSharedMemory(size: Int(size), kind: .kernel, register: false) else { v.ret = .outOfMemory; return }
            handle = h
        case .application:
            let r = supplicant.call(.shmAlloc, [.value(.valueInout, a: a, b: size, c: 0)],
                                    served: configuration.supplicantWait, absent: configuration.supplicantAbsentWait)
            guard r.result == .success, let id = r.params.first?.values.c, let h = sharedMemory(id: id),
                  h.size >= Int(size) else {
                v.ret = r.result == .success ? .outOfMemory : r.result; return
            }
            handle = h
        }
        // Reply: TMEM_OUTPUT | NONCONTIG with a page list, as Linux does for dynamic shared memory
        // (a guest's pages are contiguous only in IPA; a mediator such as Xen's requires a list).
        guard let (list, ptr) = try? PageListBuilder.build(address: handle.address, size: handle.size, allocator: allocator) else {
            v.ret = .outOfMemory; return
        }
        shms.withLock { $0[handle.id]?.pageList = list }
        p.store(.tmem(.tmemOutput, bufPtr: ptr, size: UInt64(handle.size), shmRef: handle.id, noncontig: true))
        v.ret = .success
    }

    private func serveShmFree(_ v: MsgArgView, count: Int) {
        guard count >= 1, let p = v.param(0), p.attr.type == .valueInput,
              let type = RPCShmType(rawValue: p.valueA), let h = sharedMemory(id: p.valueB) else {
            return badRPC(v, "SHM_FREE params")
        }
        switch type {
        case .kernel, .global:
            v.ret = freeKernelMemory(h.id) ? .success : .badParameters
        case .application:
            guard h.kind == .supplicant else { return badRPC(v, "SHM_FREE of non-supplicant memory") }
            let r = supplicant.call(.shmFree, [.value(.valueInput, a: p.valueA, b: p.valueB, c: 0)],
                                    served: configuration.supplicantWait, absent: configuration.supplicantAbsentWait)
            v.ret = r.result
        }
    }

    /// Where a tmem/rmem param of an RPC points: the shm, and the byte offset inside it.
    private func locate(_ p: MsgParam) -> (SharedMemoryHandle, Int)? {
        guard let t = p.attr.type, let h = sharedMemory(id: p.shmRef) else { return nil }
        let offset: Int
        if t.isRmem {
            guard p.bufPtr <= UInt64(h.size) else { return nil }
            offset = Int(p.bufPtr)
        } else if p.bufPtr >= h.address.raw, p.bufPtr - h.address.raw <= UInt64(h.size) {
            offset = Int(p.bufPtr - h.address.raw)
        } else {
            offset = 0   // an address the guest cannot map back (translated below us): the buffer's start
        }
        guard p.size <= UInt64(h.size - offset) else { return nil }
        return (h, offset)
    }

    private func forwardToSupplicant(_ v: MsgArgView, count: Int) {
        var params: [SupplicantParam] = []
        var windows: [(SharedMemoryHandle, Int)?] = []
        params.reserveCapacity(count); windows.reserveCapacity(count)
        for i in 0..<count {
            guard let p = v.param(i)?.load(), let t = p.attr.type else { return badRPC(v, "param type") }
            if t == .none { params.append(.none); windows.append(nil); continue }
            if t.isValue { params.append(.value(t, a: p.a, b: p.b, c: p.c)); windows.append(nil); continue }
            if p.size == 0 && (p.shmRef == 0 || sharedMemory(id: p.shmRef) == nil) {
                params.append(.memref(t, data: nil, size: 0)); windows.append(nil); continue
            }
            guard let (h, off) = locate(p) else { return badRPC(v, "memref outside shared memory") }
            let n = Int(p.size)
            let data: [UInt8]
            if t.isInput { guard let d = try? read(h, offset: off, count: n) else { return badRPC(v, "memref read") }; data = d }
            else { data = [UInt8](repeating: 0, count: n) }
            params.append(.memref(t, data: data, size: n)); windows.append((h, off))
        }
        let r = supplicant.call(RPCCommand(rawValue: v.cmd.rawValue), params,
                                windows: windows.map { $0.map { SupplicantWindow(shm: $0.0.id, offset: $0.1) } },
                                served: configuration.supplicantWait, absent: configuration.supplicantAbsentWait)
        v.ret = r.result
        guard r.params.count == params.count else { return }
        for (i, rp) in r.params.enumerated() {
            guard let p = v.param(i), let t = p.attr.type, t.isOutput else { continue }
            switch rp {
            case let .value(_, a, b, c) where t.isValue:
                p.valueA = a; p.valueB = b; p.valueC = c
            case let .memref(_, data, size) where t.isMemref:
                let cap = Int(clamping: p.memrefSize)
                if let (h, off) = windows[i] ?? nil, let d = data {
                    let n = min(min(size, cap), d.count)
                    if n > 0 { try? write(h, offset: off, Array(d.prefix(n))) }
                }
                p.memrefSize = UInt64(max(0, size))
            default: break
            }
        }
    }
}

/// The bounce pages of a driver's one-page temporary memrefs: slot k's two-page run by IPA (0:
/// not made yet; its data page, then its list page), made by the slot's first holder (release)
/// and read by later holders (acquire), and which slots calls hold now. A call never waits for a
/// slot (all busy: it allocates fresh pages), so a bitmap is the whole pool. Pages are taken
/// only when a slot is first used, so an idle guest's driver holds no page for them.
struct BounceTable: ~Copyable, Sendable {
    /// Most slots.
    static let slots = 8
    /// Slot k's run base IPA, 0 until made.
    let runs: InlineArray<8, Atomic<UInt64>> = InlineArray { _ in Atomic<UInt64>(0) }
    /// Bit k: slot k is held.
    private let busy = Atomic<UInt64>(0)

    /// The lowest free slot of the first `count`, taken; nil when all are busy.
    func claim(of count: Int) -> Int? {
        let all: UInt64 = (1 << UInt64(max(1, min(Self.slots, count)))) - 1
        var b = busy.load(ordering: .relaxed)
        while true {
            let free = ~b & all
            guard free != 0 else { return nil }
            let k = free.trailingZeroBitCount
            let (done, now) = busy.compareExchange(expected: b, desired: b | (1 << UInt64(k)), ordering: .acquiringAndReleasing)
            if done { return k }
            b = now
        }
    }

    /// Gives slot `k` back.
    func release(_ k: Int) {
        guard k >= 0, k < Self.slots else { return }
        busy.bitwiseAnd(~(1 << UInt64(k)), ordering: .releasing)
    }
}

/// The RPC arguments a driver allocated for the secure world (RPC_ALLOC), by cookie, so that an
/// RPC_CMD finds its argument with a few atomic loads instead of the shared-memory table's lock
/// and hash. Slot `cookie % slots` holds the cookie and the argument's place (the IPA of its
/// first page, page aligned, with the bytes the argument may use, 1 ... a page, as `count - 1`
/// in the low bits). Writers hold the shared-memory table's lock (publish after the table has
/// the record, withdraw before the table drops it), so a cookie found here is in the table.
/// Cookies are never reused, so the cookie word works as a seqlock's sequence: a reader that
/// sees the same cookie before and after reading the place read the place published with it.
/// A miss (another cookie in the slot, memory not page aligned) falls back to the table.
struct RPCArgumentCache: ~Copyable, Sendable {
    /// Slots (a secure world caches about one RPC argument per thread).
    static let slots = 16
    private let cookies: InlineArray<16, Atomic<UInt64>> = InlineArray { _ in Atomic<UInt64>(0) }
    private let places: InlineArray<16, Atomic<UInt64>> = InlineArray { _ in Atomic<UInt64>(0) }

    /// Where an RPC argument in `h` lies: its address and the bytes of its first page it may use.
    static func place(_ h: SharedMemoryHandle) -> (IPA, Int) {
        (h.address, min(h.size, pageSize - h.address.pageOffset))
    }

    /// Makes `h` findable by its cookie. The caller holds the shared-memory table's lock.
    func publish(_ h: SharedMemoryHandle) {
        let (address, count) = Self.place(h)
        guard h.id != 0, address.pageOffset == 0, count >= 1, count <= pageSize else { return }
        let i = Int(h.id % UInt64(Self.slots))
        cookies[i].store(0, ordering: .relaxed)
        // The place must not be seen with the slot's previous cookie.
        atomicMemoryFence(ordering: .releasing)
        places[i].store(address.raw | UInt64(count - 1), ordering: .relaxed)
        cookies[i].store(h.id, ordering: .releasing)
    }

    /// Forgets `cookie` if a slot holds it. The caller holds the shared-memory table's lock.
    func withdraw(_ cookie: UInt64) {
        let i = Int(cookie % UInt64(Self.slots))
        if cookies[i].load(ordering: .relaxed) == cookie { cookies[i].store(0, ordering: .releasing) }
    }

    /// The address and usable bytes of the RPC argument `cookie`, or nil when no slot holds it.
    func lookup(_ cookie: UInt64) -> (IPA, Int)? {
        guard cookie != 0 else { return nil }
        let i = Int(cookie % UInt64(Self.slots))
        guard cookies[i].load(ordering: .acquiring) == cookie else { return nil }
        let place = places[i].load(ordering: .relaxed)
        atomicMemoryFence(ordering: .acquiring)
        guard cookies[i].load(ordering: .relaxed) == cookie else { return nil }
        let low = UInt64(pageSize - 1)
        return (IPA(place & ~low), Int(place & low) + 1)
    }
}
