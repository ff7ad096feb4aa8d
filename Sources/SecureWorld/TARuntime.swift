// The TA runtime: instances (single instance, multi session, keep alive), sessions, entry-point
// calls with one entry point per instance at a time, panics, and TA-to-TA sessions.
import Synchronization
import TAAPI
import TEEABI
import SignedTA

/// One instance of a TA. Its entry points run only while a call owns it (`word`'s owner), so
/// the TA object itself needs no lock of its own.
final class TAInstance: @unchecked Sendable {
    // @unchecked: `ta` (not Sendable) is used only by the call that owns the instance.
    let descriptor: TADescriptor
    let ta: any TrustedApplication

    /// Ownership and life in one atomic word, so taking and returning the instance takes no
    /// lock: the low 62 bits are the owning call's token (0: nobody), then `destroyedBit`, `deadBit`.
    private let word = Atomic<UInt64>(0)
    private static let deadBit: UInt64 = 1 << 63
    private static let destroyedBit: UInt64 = 1 << 62
    private static let ownerMask: UInt64 = destroyedBit - 1

    struct State {
        var sessions = 0
        var created = false
    }
    let state = Mutex(State())

    /// Notification keys of the calls waiting for this instance to be free, oldest first
    /// (OP-TEE's tee_ta_cv); `waiterCount` lets a release without waiters skip the lock.
    private let waiters = Mutex<[UInt32]>([])
    private let waiterCount = Atomic<Int>(0)

    init(descriptor: TADescriptor) {
        self.descriptor = descriptor
        self.ta = descriptor.make()
    }

    /// Queues a call that will wait on notification `key` until the instance is released.
    func addWaiter(_ key: UInt32) {
        waiters.withLock { w in w.append(key); waiterCount.store(w.count, ordering: .releasing) }
    }

    /// Drops a waiter that got the instance (or gave up); nothing if a release already took it.
    func removeWaiter(_ key: UInt32) {
        waiters.withLock { w in
            if let i = w.firstIndex(of: key) { w.remove(at: i) }
            waiterCount.store(w.count, ordering: .releasing)
        }
    }

    /// The oldest waiter's key, taken off the queue; nil when nobody waits.
    func takeWaiter() -> UInt32? {
        guard waiterCount.load(ordering: .acquiring) > 0 else { return nil }
        return waiters.withLock { w -> UInt32? in
            let k = w.isEmpty ? nil : w.removeFirst()
            waiterCount.store(w.count, ordering: .releasing)
            return k
        }
    }

    enum Acquire { case ok, busy, reentrant, dead }

    func tryAcquire(_ token: UInt64) -> Acquire {
        var w = word.load(ordering: .acquiring)
        while true {
            if w & (Self.deadBit | Self.destroyedBit) != 0 { return .dead }
            let o = w & Self.ownerMask
            if o != 0 { return o == token & Self.ownerMask ? .reentrant : .busy }
            let (done, now) = word.compareExchange(expected: w, desired: w | (token & Self.ownerMask), ordering: .acquiringAndReleasing)
            if done { return .ok }
            w = now
        }
    }

    /// True when nobody owns the instance (it may be taken by the next `tryAcquire`), or it
    /// died (the next `tryAcquire` answers dead): either way a waiter need not sleep.
    var tryAcquireWouldSucceed: Bool {
        let w = word.load(ordering: .acquiring)
        return w & (Self.deadBit | Self.destroyedBit) != 0 || w & Self.ownerMask == 0
    }

    func releaseOwner() {
        var w = word.load(ordering: .relaxed)
        while true {
            let (done, now) = word.compareExchange(expected: w, desired: w & ~Self.ownerMask, ordering: .acquiringAndReleasing)
            if done { return }
            w = now
        }
    }

    /// The TA panicked: its sessions answer TARGET_DEAD from now on.
    func markDead() { word.bitwiseOr(Self.deadBit, ordering: .acquiringAndReleasing) }

    var isDead: Bool { word.load(ordering: .acquiring) & Self.deadBit != 0 }

    /// Calls TA_DestroyEntryPoint once, if nobody is running an entry point and it did not panic.
    func destroyIfIdle() {
        var w = word.load(ordering: .acquiring)
        while true {
            guard w & Self.destroyedBit == 0, w & Self.ownerMask == 0 else { return }
            let (done, now) = word.compareExchange(expected: w, desired: w | Self.destroyedBit, ordering: .acquiringAndReleasing)
            if done { break }
            w = now
        }
        if w & Self.deadBit == 0 && state.withLock({ $0.created }) { ta.destroy() }
    }
}

/// An open session: the instance, who opened it, the TA's session state and the TA-to-TA
/// sessions it opened. (Commands in flight are found through the threads, for CANCEL.)
final class Session: @unchecked Sendable {
    // @unchecked: `taState` (AnyObject?) is touched only by the call that owns the instance.
    let id: UInt32
    let instance: TAInstance
    let client: TAClientIdentity
    nonisolated(unsafe) var taState: AnyObject?

    struct Live {
        var children: [UInt32: Session] = [:]
        var nextChild: UInt32 = 1
        var closed = false
    }
    let live = Mutex(Live())
    /// Mirrors `live.closed`, readable without the lock (a thread's cached session is checked with it).
    let closedFlag = Atomic<Bool>(false)
    /// A TA-to-TA session: world-clock nanoseconds after which the command in flight sees its
    /// cancellation flag (the caller's cancellationRequestTimeout; 0: none).
    let cancelDeadline = Atomic<UInt64>(0)

    init(id: UInt32, instance: TAInstance, client: TAClientIdentity, taState: AnyObject?) {
        self.id = id; self.instance = instance; self.client = client; self.taState = taState
    }

    /// The first step of closing: marks the session closed, so no new command finds it. False
    /// when it already was closed, or (`onlyWithoutChildren`) when it has TA-to-TA children.
    func markClosed(onlyWithoutChildren: Bool = false) -> Bool {
        live.withLock { l in
            guard !l.closed, !(onlyWithoutChildren && !l.children.isEmpty) else { return false }
            l.closed = true
            closedFlag.store(true, ordering: .releasing)
            return true
        }
    }

    /// The TA's close-session entry when its lifecycle is synchronous; the state goes with it.
    func closeSynchronously(_ ta: any TrustedApplication, context: TARunContext) {
        ta.closeSessionSynchronously(sessionState: taState, context: context)
        taState = nil
    }
}

extension SecureWorld {
    /// Runs `body` while owning `inst`. A busy instance makes the call wait through RPC
    /// NOTIFICATION (as OP-TEE's condvar on a busy TA) until the owner releases it; re-entering
    /// from the same call is BUSY.
    func withInstance<R>(_ inst: TAInstance, call: StdCall,
                         _ body: () async -> R) async -> Result<R, TEEResult> {
        while true {
            switch inst.tryAcquire(call.token) {
            case .ok:
                let r = await body()
                await release(inst, call: call)
                return .success(r)
            case .reentrant: return .failure(.busy)
            case .dead: return .failure(.targetDead)
            case .busy:
                guard await waitForInstance(inst, call: call) else { return .failure(.targetDead) }
            }
        }
    }

    /// The notification value a call on `call`'s thread waits on: OP-TEE's
    /// NOTIF_SYNC_VALUE_BASE + thread id, above the values TAs may use; nil past the range.
    func syncNotificationKey(_ call: StdCall) -> UInt32? {
        let k = UInt64(SecureWorld.syncNotificationBase) + UInt64(call.index)
        return k <= UInt64(config.maxNotificationValue) ? UInt32(k) : nil
    }

    /// The instance is owned by another call: queue this one and wait in the normal world on
    /// its notification key (RPC NOTIFICATION wait) until a release sends it. A spurious or
    /// timed-out wake just retries. False when the VM is going away.
    func waitForInstance(_ inst: TAInstance, call: StdCall) async -> Bool {
        guard let key = syncNotificationKey(call) else { return await call.foreignInterrupt() }
        inst.addWaiter(key)
        // Released between the failed try and the queueing: the release may not have seen us.
        if inst.tryAcquireWouldSucceed {
            inst.removeWaiter(key)
            return true
        }
        let (r, _, _) = await call.rpcCommand(.notification, [.value(.valueInput, a: RPCNotification.wait.rawValue, b: UInt64(key))])
        inst.removeWaiter(key)
        switch r {
        case .communication: return false
        case .success: return true
        default:
            // The normal world refused or timed the wait out: yield once so a retry cannot spin.
            return await call.foreignInterrupt()
        }
    }

    /// Gives `inst` back and wakes the oldest waiter (RPC NOTIFICATION send on its key); inlined,
    /// so a release nobody waits for makes no async call.
    @inline(__always) func release(_ inst: TAInstance, call: StdCall) async {
        inst.releaseOwner()
        guard let key = inst.takeWaiter() else { return }
        await wakeInstanceWaiter(key, call: call)
    }

    /// Wakes a call waiting for an instance on notification `key` (RPC NOTIFICATION send).
    func wakeInstanceWaiter(_ key: UInt32, call: StdCall) async {
        _ = await call.rpcCommand(.notification, [.value(.valueInput, a: RPCNotification.send.rawValue, b: UInt64(key))])
    }

    /// Records a TA panic: the instance dies, its sessions answer TARGET_DEAD from now on.
    func panic(_ inst: TAInstance, _ p: Partition, _ error: any Error) {
        log.debug("TA \(inst.descriptor.name) panicked: \(error)")
        inst.markDead()
        p.state.withLock { s in
            s.counters.taPanics += 1
            if s.singleInstances[inst.descriptor.uuid] === inst { s.singleInstances[inst.descriptor.uuid] = nil }
            s.liveInstances[ObjectIdentifier(inst)] = nil
        }
    }

    /// Finds the TA: built in, or (RPC LOAD_TA) from the normal world through `config.loadTA`.
    func descriptor(for uuid: TEEUUID, call: StdCall) async -> Result<TADescriptor, TEEResult> {
        if let d = tas[uuid] { return .success(d) }
        var probe = MsgParam.value(.valueInput)
        probe.setOctets(uuid.octets)
        let (r, back, _) = await call.rpcCommand(.loadTA, [probe, .tmem(.tmemOutput, bufPtr: 0, size: 0, shmRef: 0)])
        guard r == .success || r == .shortBuffer, let size = back.last?.size, size > 0 else { return .failure(.itemNotFound) }
        guard let loader = config.loadTA, size <= UInt64(config.maxMemrefBytes) else { return .failure(.badFormat) }
        let image: [UInt8]
        do {
            let (buf, cookie) = try await call.allocSharedMemory(type: .application, size: Int(size))
            let (r2, _, _) = await call.rpcCommand(.loadTA, [probe, call.rpcMemref(.tmemOutput, buffer: buf, cookie: cookie, size: size)])
            let bytes = r2 == .success ? try? buf.read(ns.view, offset: 0, count: Int(size)) : nil
            await call.freeSharedMemory(type: .application, cookie: cookie)
            guard let b = bytes else { return .failure(.itemNotFound) }
            image = b
        } catch { return .failure(error) }
        // OP-TEE's order: the signature, digest and UUID of the image are checked before
        // anything of the TA is handed on; every refusal is TEE_ERROR_SECURITY.
        guard let key = config.taKey else {
            log.warning("TA \(uuid) refused: no TA verification key is configured")
            return .failure(.security)
        }
        let verified: VerifiedTA
        do { verified = try SignedTAImage.verify(image, expecting: uuid, key: key) } catch {
            log.warning("TA \(uuid) refused at LOAD_TA: \(error)")
            return .failure(error.teeResult)
        }
        // OP-TEE's rollback check (ta_ver.db, after the signature): an image whose ta_version is
        // below one this client already loaded for the UUID is refused with ACCESS_CONFLICT; a
        // higher one is recorded. The database is an object of the core (nil UUID) in the
        // client's secure storage, so a TA may not claim the nil UUID.
        guard uuid != .zero else {
            log.warning("TA \(uuid) refused at LOAD_TA: the nil UUID names the core's own storage")
            return .failure(.security)
        }
        // A legacy image carries no version: OP-TEE checks only bootstrap images.
        do throws(TEEResult) {
            if verified.header.imageType == SignedTAHeader.bootstrapType {
                try await FSRPCStorage(call: call, ta: .zero).admitTAVersion(uuid, version: verified.header.taVersion)
            }
        } catch {
            log.warning("TA \(uuid) refused at LOAD_TA: ta_version \(verified.header.taVersion) (ta_ver.db): \(error)")
            return .failure(error)
        }
        let d: TADescriptor
        do throws(TEEResult) { d = try loader(uuid, verified.elf) } catch { return .failure(error) }
        guard d.uuid == uuid else { return .failure(.security) }
        return .success(d)
    }

    /// OPEN_SESSION (from the normal world, or TA-to-TA when `parent` is set).
    func openSession(uuid: TEEUUID, client: TAClientIdentity, params: inout TAParams, call: StdCall,
                     parent: Session?, cancelDeadline: UInt64 = 0) async -> (TEEResult, TEEOrigin, Session?) {
        let p = call.partition
        let desc: TADescriptor
        switch await descriptor(for: uuid, call: call) {
        case let .failure(e): return (e, .tee, nil)
        case let .success(d): desc = d
        }
        let props = desc.properties
        let limit = maxSessionsPerVM
        // Find or make the instance and reserve a session on it, atomically for this VM.
        enum Pick { case err(TEEResult), inst(TAInstance, fresh: Bool) }
        let pick: Pick = p.state.withLock { s in
            guard !p.destroyed.load(ordering: .acquiring) else { return .err(.targetDead) }
            guard s.sessionCount < limit else { return .err(.outOfMemory) }
            if props.singleInstance, let i = s.singleInstances[uuid], !i.isDead {
                let busy: Bool = i.state.withLock { st in
                    if st.sessions > 0 && !props.multiSession { return true }
                    st.sessions += 1
                    return false
                }
                if busy { return .err(.busy) }
                s.sessionCount += 1
                return .inst(i, fresh: false)
            }
            return .inst(s.reserveFreshInstance(desc), fresh: true)
        }
        guard case let .inst(inst, fresh) = pick else {
            if case let .err(e) = pick { return (e, .tee, nil) }
            return (.generic, .tee, nil)
        }
        let ctx = TARunContext(call: call, subject: .opening(OpeningSession(client: client, uuid: uuid, cancelDeadline: cancelDeadline)))
        var local = params
        let outcome: Result<(TEEResult, TEEOrigin, AnyObject?), TEEResult> = await withInstance(inst, call: call) {
            do {
                // A TA whose lifecycle never suspends is entered through its synchronous entry
                // points (its contract). A built-in multi-instance one is remembered, so the VM's
                // next opens run inline.
                let ta = inst.ta, sync = ta.lifecycleRunsSynchronously
                if sync, fresh, !props.singleInstance, parent == nil, tas[uuid] != nil {
                    p.state.withLock { _ = $0.synchronousLifecycle.insert(uuid) }
                }
                if fresh || !inst.state.withLock({ $0.created }) {
                    let r = sync ? try ta.createSynchronously(context: ctx) : try await ta.create(context: ctx)
                    guard r == .success else { return (r, .trustedApp, nil) }
                    inst.state.withLock { $0.created = true }
                }
                let (r, st) = sync ? try ta.openSessionSynchronously(params: &local, context: ctx)
                                   : try await ta.openSession(params: &local, context: ctx)
                return (r, .trustedApp, st)
            } catch {
                self.panic(inst, p, error)
                return (.targetDead, .tee, nil)
            }
        }
        params = local
        let (r, origin, st): (TEEResult, TEEOrigin, AnyObject?)
        switch outcome {
        case let .success(v): (r, origin, st) = v
        case let .failure(e): (r, origin, st) = (e, .tee, nil)
        }
        guard r == .success else {
            dropSessionReservation(inst, p)
            return (r, origin, nil)
        }
        guard let session = bookSession(inst, client: client, state: st, parent: parent, p) else {
            dropSessionReservation(inst, p); return (.targetDead, .tee, nil)
        }
        return (.success, .trustedApp, session)
    }

    /// Books the session an open created on `inst` (a child of `parent` for TA-to-TA); nil when
    /// the VM is going away (the caller then drops the reservation).
    func bookSession(_ inst: TAInstance, client: TAClientIdentity, state st: AnyObject?, parent: Session?, _ p: Partition) -> Session? {
        p.state.withLock { s -> Session? in
            guard !p.destroyed.load(ordering: .acquiring) else { return nil }
            if let parent {
                return parent.live.withLock { l -> Session in
                    let id = l.nextChild; l.nextChild &+= 1
                    let se = Session(id: id, instance: inst, client: client, taState: st)
                    l.children[id] = se
                    return se
                }
            }
            var id = s.nextSession
            while id == 0 || s.sessions[id] != nil { id &+= 1 }
            s.nextSession = id &+ 1
            let se = Session(id: id, instance: inst, client: client, taState: st)
            s.sessions[id] = se
            return se
        }
    }

    /// Undoes a session reservation; a multi-instance TA (or one not kept alive) left without
    /// sessions is destroyed.
    func dropSessionReservation(_ inst: TAInstance, _ p: Partition) {
        let left: Int = inst.state.withLock { s in s.sessions = max(0, s.sessions - 1); return s.sessions }
        p.state.withLock { $0.sessionCount = max(0, $0.sessionCount - 1) }
        let props = inst.descriptor.properties
        if left == 0 && (!props.singleInstance || !props.keepAlive) {
            p.state.withLock { s in
                if s.singleInstances[inst.descriptor.uuid] === inst { s.singleInstances[inst.descriptor.uuid] = nil }
                s.liveInstances[ObjectIdentifier(inst)] = nil
            }
            inst.destroyIfIdle()
        }
    }

    /// INVOKE_COMMAND on a session. Allocates nothing: the context is two references, the
    /// instance is taken and returned with atomics.
    @inline(__always) func invoke(_ session: Session, command: UInt32, params: inout TAParams, call: StdCall) async -> (TEEResult, TEEOrigin) {
        let inst = session.instance
        let ctx = TARunContext(call: call, subject: .session(session))
        while true {
            switch inst.tryAcquire(call.token) {
            case .ok:
                let out: (TEEResult, TEEOrigin)
                do {
                    // A command the TA runs synchronously goes to its synchronous entry (its contract).
                    let ta = inst.ta
                    let r = ta.runsSynchronously(command: command)
                        ? try ta.invokeSynchronously(command: command, params: &params, sessionState: session.taState, context: ctx)
                        : try await ta.invoke(command: command, params: &params, sessionState: session.taState, context: ctx)
                    out = (r, .trustedApp)
                } catch {
                    panic(inst, call.partition, error)
                    out = (.targetDead, .tee)
                }
                await release(inst, call: call)
                return out
            case .reentrant: return (.busy, .tee)
            case .dead: return (.targetDead, .tee)
            case .busy:
                // Never block in the secure world: wait in the normal world for the owner's release.
                guard await waitForInstance(inst, call: call) else { return (.targetDead, .tee) }
            }
        }
    }

    /// CLOSE_SESSION: closes the TA-to-TA sessions it opened, calls the TA's close entry point
    /// (not for a dead TA) and drops the instance when it has no sessions left.
    func closeSession(_ session: Session, call: StdCall) async -> TEEResult {
        let p = call.partition
        guard session.markClosed() else { return .itemNotFound }
        let children = session.live.withLock { l -> [Session] in let c = Array(l.children.values); l.children.removeAll(); return c }
        for c in children { _ = await closeSession(c, call: call) }
        p.unlink(session)
        let inst = session.instance
        if !inst.isDead {
            let ctx = TARunContext(call: call, subject: .session(session))
            _ = await withInstance(inst, call: call) {
                let ta = inst.ta
                if ta.lifecycleRunsSynchronously {
                    session.closeSynchronously(ta, context: ctx)
                } else {
                    await ta.closeSession(sessionState: session.taState, context: ctx)
                    session.taState = nil
                }
            }
        }
        dropSessionReservation(inst, p)
        return .success
    }
}
