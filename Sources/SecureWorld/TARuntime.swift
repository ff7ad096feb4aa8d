// The TA runtime: instances (single instance, multi session, keep alive), sessions, entry-point
// calls with one entry point per instance at a time, panics, and TA-to-TA sessions.
import Synchronization
import TAAPI
import TEEABI
import SignedTA

/// One instance of a TA. Its entry points run only while a call owns it (`owner`), so the
/// TA object itself needs no lock of its own.
final class TAInstance: @unchecked Sendable {
    // @unchecked: `ta` (not Sendable) is used only by the call that owns the instance.
    let descriptor: TADescriptor
    let ta: any TrustedApplication

    struct State {
        var owner: UInt64? = nil
        var dead = false
        var destroyed = false
        var sessions = 0
        var created = false
    }
    let state = Mutex(State())

    init(descriptor: TADescriptor) {
        self.descriptor = descriptor
        self.ta = descriptor.make()
    }

    enum Acquire { case ok, busy, reentrant, dead }

    func tryAcquire(_ token: UInt64) -> Acquire {
        state.withLock { s in
            if s.dead || s.destroyed { return .dead }
            if let o = s.owner { return o == token ? .reentrant : .busy }
            s.owner = token
            return .ok
        }
    }

    func releaseOwner() { state.withLock { $0.owner = nil } }

    var isDead: Bool { state.withLock { $0.dead } }

    /// Calls TA_DestroyEntryPoint once, if nobody is running an entry point and it did not panic.
    func destroyIfIdle() {
        let go: Bool = state.withLock { s in
            guard !s.destroyed, s.owner == nil else { return false }
            s.destroyed = true
            return !s.dead && s.created
        }
        if go { ta.destroy() }
    }
}

/// An open session: the instance, who opened it, the TA's session state, the commands in flight
/// (for CANCEL) and the TA-to-TA sessions it opened.
final class Session: @unchecked Sendable {
    // @unchecked: `taState` (AnyObject?) is touched only by the call that owns the instance.
    let id: UInt32
    let instance: TAInstance
    let client: TAClientIdentity
    nonisolated(unsafe) var taState: AnyObject?

    struct Live {
        var inflight: [(cancelID: UInt32, call: StdCall)] = []
        var children: [UInt32: Session] = [:]
        var nextChild: UInt32 = 1
        var closed = false
    }
    let live = Mutex(Live())

    init(id: UInt32, instance: TAInstance, client: TAClientIdentity, taState: AnyObject?) {
        self.id = id; self.instance = instance; self.client = client; self.taState = taState
    }

    /// CANCEL: flags every command of this session in flight with `cancelID`.
    func cancel(cancelID: UInt32) {
        live.withLock { l in for e in l.inflight where e.cancelID == cancelID { e.call.cancelled.withLock { $0 = true } } }
    }
}

extension SecureWorld {
    /// Runs `body` while owning `inst`. A busy instance makes the thread yield with FOREIGN_INTR
    /// and retry (never blocking in the secure world); re-entering from the same call is BUSY.
    func withInstance<R>(_ inst: TAInstance, call: StdCall,
                         _ body: () async -> R) async -> Result<R, TEEResult> {
        while true {
            switch inst.tryAcquire(call.token) {
            case .ok:
                let r = await body()
                inst.releaseOwner()
                return .success(r)
            case .reentrant: return .failure(.busy)
            case .dead: return .failure(.targetDead)
            case .busy:
                guard await call.foreignInterrupt() else { return .failure(.targetDead) }
            }
        }
    }

    /// Records a TA panic: the instance dies, its sessions answer TARGET_DEAD from now on.
    func panic(_ inst: TAInstance, _ p: Partition, _ error: any Error) {
        log.debug("TA \(inst.descriptor.name) panicked: \(error)")
        inst.state.withLock { $0.dead = true }
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
            let (r2, _, _) = await call.rpcCommand(.loadTA, [probe, .tmem(.tmemOutput, bufPtr: buf.address(at: 0)?.raw ?? 0,
                                                                          size: size, shmRef: cookie)])
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
        let d: TADescriptor
        do throws(TEEResult) { d = try loader(uuid, verified.elf) } catch { return .failure(error) }
        guard d.uuid == uuid else { return .failure(.security) }
        return .success(d)
    }

    /// OPEN_SESSION (from the normal world, or TA-to-TA when `parent` is set).
    func openSession(uuid: TEEUUID, client: TAClientIdentity, params: inout TAParams, call: StdCall,
                     parent: Session?) async -> (TEEResult, TEEOrigin, Session?) {
        let p = call.partition
        let desc: TADescriptor
        switch await descriptor(for: uuid, call: call) {
        case let .failure(e): return (e, .tee, nil)
        case let .success(d): desc = d
        }
        let props = desc.properties
        let limit = config.maxSessionsPerVM
        // Find or make the instance and reserve a session on it, atomically for this VM.
        enum Pick { case err(TEEResult), inst(TAInstance, fresh: Bool) }
        let pick: Pick = p.state.withLock { s in
            guard !s.destroyed else { return .err(.targetDead) }
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
            let i = TAInstance(descriptor: desc)
            i.state.withLock { $0.sessions = 1 }
            if props.singleInstance { s.singleInstances[uuid] = i }
            s.liveInstances[ObjectIdentifier(i)] = i
            s.sessionCount += 1
            return .inst(i, fresh: true)
        }
        guard case let .inst(inst, fresh) = pick else {
            if case let .err(e) = pick { return (e, .tee, nil) }
            return (.generic, .tee, nil)
        }
        let ctx = TARunContext(world: self, call: call, client: client, uuid: uuid, session: nil)
        var local = params
        let outcome: Result<(TEEResult, TEEOrigin, AnyObject?), TEEResult> = await withInstance(inst, call: call) {
            do {
                if fresh || !inst.state.withLock({ $0.created }) {
                    let r = try await inst.ta.create(context: ctx)
                    guard r == .success else { return (r, .trustedApp, nil) }
                    inst.state.withLock { $0.created = true }
                }
                let (r, st) = try await inst.ta.openSession(params: &local, context: ctx)
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
        let session: Session? = p.state.withLock { s -> Session? in
            guard !s.destroyed else { return nil }
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
        guard let session else { dropSessionReservation(inst, p); return (.targetDead, .tee, nil) }
        return (.success, .trustedApp, session)
    }

    /// Undoes a session reservation; a multi-instance TA (or one not kept alive) left without
    /// sessions is destroyed.
    private func dropSessionReservation(_ inst: TAInstance, _ p: Partition) {
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

    /// INVOKE_COMMAND on a session.
    func invoke(_ session: Session, command: UInt32, params: inout TAParams, call: StdCall,
                cancelID: UInt32) async -> (TEEResult, TEEOrigin) {
        let inst = session.instance
        if inst.isDead { return (.targetDead, .tee) }
        session.live.withLock { $0.inflight.append((cancelID, call)) }
        defer { session.live.withLock { l in l.inflight.removeAll { $0.call === call } } }
        let ctx = TARunContext(world: self, call: call, client: session.client, uuid: inst.descriptor.uuid, session: session)
        var local = params
        let outcome: Result<(TEEResult, TEEOrigin), TEEResult> = await withInstance(inst, call: call) {
            if inst.isDead { return (.targetDead, .tee) }
            do {
                let r = try await inst.ta.invoke(command: command, params: &local, sessionState: session.taState, context: ctx)
                return (r, .trustedApp)
            } catch {
                self.panic(inst, call.partition, error)
                return (.targetDead, .tee)
            }
        }
        params = local
        switch outcome {
        case let .success(v): return v
        case let .failure(e): return (e, .tee)
        }
    }

    /// CLOSE_SESSION: closes the TA-to-TA sessions it opened, calls the TA's close entry point
    /// (not for a dead TA) and drops the instance when it has no sessions left.
    func closeSession(_ session: Session, call: StdCall) async -> TEEResult {
        let p = call.partition
        let already: Bool = session.live.withLock { l in
            if l.closed { return true }
            l.closed = true
            return false
        }
        if already { return .itemNotFound }
        let children = session.live.withLock { l -> [Session] in let c = Array(l.children.values); l.children.removeAll(); return c }
        for c in children { _ = await closeSession(c, call: call) }
        p.state.withLock { s in if s.sessions[session.id] === session { s.sessions[session.id] = nil } }
        let inst = session.instance
        if !inst.isDead {
            let ctx = TARunContext(world: self, call: call, client: session.client, uuid: inst.descriptor.uuid, session: session)
            _ = await withInstance(inst, call: call) {
                await inst.ta.closeSession(sessionState: session.taState, context: ctx)
                session.taState = nil
            }
        }
        dropSessionReservation(inst, p)
        return .success
    }
}
