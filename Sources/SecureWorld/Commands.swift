// The message commands of a std call (OPTEE_MSG_CMD_*) over the thread's copy of the argument
// (through MsgArgView), and the translation of message params into TA params and back.
import TAAPI
import TEEABI
import Machine

/// Where a TA param came from, so its outputs can be written back.
struct ParamBinding: Sendable {
    var type: MsgParamType = .none
    var buffer: NSBuffer? = nil
    var shmCookie: UInt64? = nil
}

/// The bindings of the (at most four) TA params, inline.
struct ParamBindings: Sendable {
    var b0 = ParamBinding(), b1 = ParamBinding(), b2 = ParamBinding(), b3 = ParamBinding()
    /// How many params were bound (in order).
    var count = 0
    /// Some param took a reference on a registered shm (released after the command).
    var holdsSHM = false

    subscript(i: Int) -> ParamBinding {
        get {
            switch i {
            case 0: b0
            case 1: b1
            case 2: b2
            default: b3
            }
        }
        set {
            switch i {
            case 0: b0 = newValue
            case 1: b1 = newValue
            case 2: b2 = newValue
            default: b3 = newValue
            }
        }
    }
}

extension SecureThread {
    /// Executes the command of the copied argument; returns the SMC code (OK unless the command
    /// itself is unknown, EBADCMD) and records results in the copy.
    @inline(__always) func execute() async -> SMCReturn {
        guard let a = arg else { return .ebadcmd }
        let n = numParams
        let command = a.cmd
        switch command {
        case .openSession:
            await openSession(a, n)
        case .invokeCommand:
            await invoke(a, n)
        case .closeSession:
            let r: TEEResult
            let sid = a.session
            if n != 0 { r = .badParameters }
            else if let s = partition.session(sid) {
                r = await world.closeSession(s, call: self)
            } else { r = .itemNotFound }
            finish(a, r, .tee, "CLOSE_SESSION \(hex(sid))")
        case .cancel:
            let r: TEEResult
            let sid = a.session
            if n != 0 { r = .badParameters }
            else if partition.session(sid) != nil {
                partition.cancel(session: sid, cancelID: a.cancelID); r = .success
            } else { r = .badParameters }
            finish(a, r, .tee, "CANCEL \(hex(sid))")
        case .registerSHM:
            finish(a, registerSHM(a, n), .tee, "REGISTER_SHM")
        case .unregisterSHM:
            finish(a, await unregisterSHM(a, n), .tee, "UNREGISTER_SHM")
        case .doBottomHalf, .stopAsyncNotif:
            // Asynchronous notification is not advertised (no source raises one), as OP-TEE
            // without CFG_CORE_ASYNC_NOTIF: these commands are unknown.
            world.countSMC(.ebadcmd, partition, "\(command) without async notifications"); return .ebadcmd
        default:
            world.countSMC(.ebadcmd, partition, "unknown message command \(command)")
            return .ebadcmd
        }
        return .ok
    }

    private func finish(_ a: MsgArgView, _ r: TEEResult, _ origin: TEEOrigin, _ what: @autoclosure () -> String) {
        a.ret = r
        a.retOrigin = origin
        if origin == .tee { world.countTEE(r, partition, what()) }
    }

    /// Who opens a session, from its meta params: the client UUID counts only for logins that
    /// name one (PUBLIC and REE_KERNEL open as the nil UUID).
    private static func client(of meta: OpenSessionMeta) -> TAClientIdentity {
        TAClientIdentity(login: meta.login, uuid: meta.login == .public || meta.login == .reeKernel ? .zero : meta.client)
    }

    /// The open session `sid` an INVOKE names: this thread's last one when it is still open (no
    /// lock), else the partition's, which becomes the thread's last. nil when there is none.
    private func invokedSession(_ sid: UInt32) -> Session? {
        if let c = lastSession, c.id == sid, !c.closedFlag.load(ordering: .acquiring) { return c }
        guard let found = partition.session(sid) else { return nil }
        lastSession = found
        return found
    }

    private func openSession(_ a: MsgArgView, _ n: Int) async {
        a.session = 0
        let meta: OpenSessionMeta
        do { meta = try OpenSessionMeta(view: a, count: n) } catch {
            finish(a, .badParameters, .tee, "OPEN_SESSION meta"); return
        }
        guard meta.login.isDefined else { finish(a, .badParameters, .tee, "OPEN_SESSION login \(meta.login)"); return }
        let client = Self.client(of: meta)
        var bindings = ParamBindings()
        var ta: TAParams
        switch copyIn(a, first: 2, count: n - 2, &bindings) {
        case let .failure(e): await release(bindings); finish(a, e, .tee, "OPEN_SESSION params"); return
        case let .success(p): ta = p
        }
        let (r, origin, s) = await world.openSession(uuid: meta.ta, client: client, params: &ta, call: self, parent: nil)
        copyOut(&ta, a, first: 2, bindings)
        await release(bindings)
        if let s { a.session = s.id }
        finish(a, r, origin, "OPEN_SESSION \(meta.ta)")
    }

    @inline(__always) private func invoke(_ a: MsgArgView, _ n: Int) async {
        var bindings = ParamBindings()
        var ta: TAParams
        switch copyIn(a, first: 0, count: n, &bindings) {
        case let .failure(e): await release(bindings); finish(a, e, .tee, "INVOKE params"); return
        case let .success(p): ta = p
        }
        let sid = a.session
        guard let s = invokedSession(sid) else {
            await release(bindings); finish(a, .badParameters, .tee, "INVOKE unknown session \(hex(sid))"); return
        }
        setInflight(session: sid, cancelID: a.cancelID)
        let (r, origin) = await world.invoke(s, command: a.function, params: &ta, call: self)
        clearInflight()
        copyOut(&ta, a, first: 0, bindings)
        await release(bindings)
        finish(a, r, origin, "INVOKE \(hex(sid)) cmd \(a.function)")
    }

    // MARK: Inline

    /// Runs an INVOKE on the entering vCPU, without the thread's task, when nothing in it can
    /// suspend: the argument came by address (no registered shm to let go of at the end), it
    /// names no registered memory (dropping a user may owe an UNREGISTER_SHM an RPC), and its
    /// TA runs the command synchronously (`TrustedApplication.runsSynchronously`). Returns the
    /// SMC code with the results copied back, or nil when the call must go to the task: before
    /// any effect (no session in the cache or the partition, instance busy or dead, an argument
    /// this path does not take), or after the command, when the instance's release owes a
    /// waiting call its notification (`setup.wake`; with `setup.ranInline` the task sends it and
    /// finishes the call). Copy-in, TA entry, copy-out and copy-back are the task path's own
    /// functions, so both paths give the same results, panics and cancellation.
    func runInline() -> SMCReturn? {
        guard setup.regdCookie == nil, let a = arg else { return nil }
        switch a.cmd {
        case .invokeCommand: return runInlineInvoke(a)
        case .closeSession: return runInlineClose(a)
        case .openSession: return runInlineOpen(a)
        default: return nil
        }
    }

    /// Ends an inline command: the instance goes back, and either the results go back to the
    /// normal world now, or (a call waits for the instance) the task sends the waiter its
    /// notification and finishes the call.
    private func endInline(_ inst: TAInstance) -> SMCReturn? {
        inst.releaseOwner()
        if let wake = inst.takeWaiter() {
            setup.wake = wake
            setup.ranInline = true
            return nil
        }
        return completeInline()
    }

    /// The results of a command that ran inline go back to the normal world, and the call ends.
    private func completeInline() -> SMCReturn {
        copyBack()
        setup = CallSetup()
        return .ok
    }

    /// Gives an instance back before anything ran (the command needs the task after all); a
    /// waiter that queued meanwhile is woken by the task before it starts the command.
    private func declineInline(_ inst: TAInstance) -> SMCReturn? {
        inst.releaseOwner()
        setup.wake = inst.takeWaiter()
        return nil
    }

    /// OPEN_SESSION inline, for a built-in multi-instance TA whose lifecycle never suspends (as
    /// an earlier open of this VM found: `Partition.State.synchronousLifecycle`), with well-formed
    /// meta params and no registered-memory param: the task path's steps (`openSession` here and
    /// in TARuntime) in the same order on a fresh instance, which nobody else can own. Anything
    /// else goes to the task before any effect (a refused meta, login or param is reported there).
    private func runInlineOpen(_ a: MsgArgView) -> SMCReturn? {
        let n = numParams
        guard n >= 2, n - 2 <= 4, let meta = try? OpenSessionMeta(view: a, count: n), meta.login.isDefined else { return nil }
        guard paramsNameNoRegisteredMemory(a, 2..<n) else { return nil }
        let uuid = meta.ta
        guard let desc = world.tas[uuid], !desc.properties.singleInstance else { return nil }
        var bindings = ParamBindings()
        guard case var .success(ta) = copyIn(a, first: 2, count: n - 2, &bindings) else { return nil }
        let client = Self.client(of: meta)
        let p = partition, limit = world.maxSessionsPerVM
        enum Pick { case decline, err(TEEResult), inst(TAInstance) }
        let pick: Pick = p.state.withLock { s in
            guard s.synchronousLifecycle.contains(uuid) else { return .decline }
            guard !p.destroyed.load(ordering: .acquiring) else { return .err(.targetDead) }
            guard s.sessionCount < limit else { return .err(.outOfMemory) }
            return .inst(s.reserveFreshInstance(desc))
        }
        a.session = 0
        var r: TEEResult, origin: TEEOrigin
        var session: Session? = nil
        switch pick {
        case .decline:
            return nil
        case let .err(e):
            (r, origin) = (e, .tee)
        case let .inst(inst):
            // A fresh instance: nobody else holds it yet.
            guard inst.tryAcquire(token) == .ok else { world.dropSessionReservation(inst, p); return nil }
            let ctx = TARunContext(call: self, subject: .opening(OpeningSession(client: client, uuid: uuid)))
            var st: AnyObject? = nil
            do {
                let created = try inst.ta.createSynchronously(context: ctx)
                if created != .success {
                    (r, origin) = (created, .trustedApp)
                } else {
                    inst.state.withLock { $0.created = true }
                    (r, st) = try inst.ta.openSessionSynchronously(params: &ta, context: ctx)
                    origin = .trustedApp
                }
            } catch {
                world.panic(inst, p, error)
                (r, origin) = (.targetDead, .tee)
            }
            inst.releaseOwner()
            // A fresh instance has no waiters (nobody could find it to wait on).
            if r == .success {
                session = world.bookSession(inst, client: client, state: st, parent: nil, p)
                if session == nil { (r, origin) = (.targetDead, .tee) }
            }
            if session == nil { world.dropSessionReservation(inst, p) }
        }
        copyOut(&ta, a, first: 2, bindings)
        if let session { a.session = session.id }
        finish(a, r, origin, "OPEN_SESSION \(uuid)")
        return completeInline()
    }

    /// CLOSE_SESSION inline, for a TA whose lifecycle never suspends
    /// (`lifecycleRunsSynchronously`) and a session without TA-to-TA children: the task path's
    /// `SecureWorld.closeSession` in the same steps, with the instance taken first (so no entry
    /// of it runs, and no child can be opened, while the session is closed). Everything else
    /// (unknown or dead session, busy instance, children, an asynchronous lifecycle) goes to the
    /// task before any effect.
    private func runInlineClose(_ a: MsgArgView) -> SMCReturn? {
        guard numParams == 0 else { return nil }
        let sid = a.session
        guard let s = partition.session(sid) else { return nil }
        let inst = s.instance
        guard !inst.isDead, inst.tryAcquire(token) == .ok else { return nil }
        guard inst.ta.lifecycleRunsSynchronously else { return declineInline(inst) }
        // The task path's steps (`SecureWorld.closeSession`), each through the same definition.
        guard s.markClosed(onlyWithoutChildren: true) else { return declineInline(inst) }
        partition.unlink(s)
        s.closeSynchronously(inst.ta, context: TARunContext(call: self, subject: .session(s)))
        finish(a, .success, .tee, "CLOSE_SESSION \(hex(sid))")
        let r = endInline(inst)
        world.dropSessionReservation(inst, partition)
        return r
    }

    /// True when every param in `range` has a known type and none names registered memory
    /// (what the inline paths take; anything else goes to the task).
    private func paramsNameNoRegisteredMemory(_ a: MsgArgView, _ range: Range<Int>) -> Bool {
        for i in range {
            guard let p = a.param(i), let t = p.attr.type, !t.isRmem else { return false }
        }
        return true
    }

    /// INVOKE inline (see `runInline`).
    private func runInlineInvoke(_ a: MsgArgView) -> SMCReturn? {
        let n = numParams
        guard n <= 4 else { return nil }
        guard paramsNameNoRegisteredMemory(a, 0..<n) else { return nil }
        // Unretained: `lastSession` (set by `invokedSession`) holds the session for this whole
        // call (only this thread sets it, and the task path does not run meanwhile), the session
        // holds its instance and the instance its TA. Passed on guaranteed (+0), so reaching
        // them and their `let`s takes no reference count.
        guard let held = invokedSession(a.session) else { return nil }
        return Unmanaged.passUnretained(held)._withUnsafeGuaranteedRef { s in
            Unmanaged.passUnretained(s.instance)._withUnsafeGuaranteedRef { inst in
                runInlineInvoke(a, session: s, instance: inst, count: n)
            }
        }
    }

    /// INVOKE inline on session `s` of instance `inst`: ask, take the instance, copy in, run the
    /// TA's synchronous entry, copy out, finish.
    private func runInlineInvoke(_ a: MsgArgView, session s: Session, instance inst: TAInstance, count n: Int) -> SMCReturn? {
        let command = a.function
        guard inst.ta.runsSynchronously(command: command) else { return nil }
        guard inst.tryAcquire(token) == .ok else { return nil }
        var bindings = ParamBindings()
        var r: TEEResult, origin: TEEOrigin
        var params = TAParams(types: GPParamTypes(rawValue: 0))
        if let e = copyIn(a, first: 0, count: n, &bindings, into: &params) {
            (r, origin) = (e, .tee)
        } else {
            setInflight(session: s.id, cancelID: a.cancelID)
            do {
                r = try inst.ta.invokeSynchronously(command: command, params: &params, sessionState: s.taState,
                                                    context: TARunContext(call: self, subject: .session(s)))
                origin = .trustedApp
            } catch {
                world.panic(inst, partition, error)
                (r, origin) = (.targetDead, .tee)
            }
            clearInflight()
            copyOut(&params, a, first: 0, bindings)
        }
        finish(a, r, origin, "INVOKE \(hex(s.id)) cmd \(command)")
        return endInline(inst)
    }

    // MARK: Params

    /// Converts message params [first, first + count) into TA params: values copied, memrefs
    /// resolved (tmem by PA or page list, rmem inside a registered shm) and their bytes copied in.
    func copyIn(_ a: MsgArgView, first: Int, count: Int, _ bindings: inout ParamBindings) -> Result<TAParams, TEEResult> {
        var ta = TAParams(types: GPParamTypes(rawValue: 0))
        if let e = copyIn(a, first: first, count: count, &bindings, into: &ta) { return .failure(e) }
        return .success(ta)
    }

    /// `copyIn` into the caller's fresh (no params) `ta`, in place: the inline INVOKE's ~170-byte
    /// params are not moved out of a `Result`. nil on success; on failure `ta` holds what was
    /// converted so far, for the caller to drop.
    func copyIn(_ a: MsgArgView, first: Int, count: Int, _ bindings: inout ParamBindings, into ta: inout TAParams) -> TEEResult? {
        guard count >= 0, count <= 4 else { return .badParameters }
        // TEE_PARAM_TYPES, one nibble per param.
        var packed: UInt32 = 0
        // Two fields, not the whole config (copying it retains its closure and key).
        let maxMemrefBytes = world.maxMemrefBytes, maxSHMPages = world.maxSHMPages
        for i in 0..<count {
            guard let p = a.param(first + i) else { return .badParameters }
            var b = ParamBinding()
            defer { bindings[i] = b; bindings.count = i + 1 }
            let attr = p.attr
            guard attr.isWellFormed, !attr.isMeta, let t = attr.type else { return .badParameters }
            b.type = t
            switch t {
            case .none:
                continue
            case .valueInput, .valueOutput, .valueInout:
                packed |= UInt32((GPParamType(rawValue: t.rawValue) ?? .none).rawValue) << (4 * UInt32(i))
                ta[i] = .value(TAValue(a: UInt32(truncatingIfNeeded: p.valueA), b: UInt32(truncatingIfNeeded: p.valueB)))
                continue
            case .tmemInput, .tmemOutput, .tmemInout:
                packed |= UInt32((GPParamType(rawValue: t.rawValue - 4) ?? .none).rawValue) << (4 * UInt32(i))
                let bufPtr = p.tmemBufPtr, size = p.memrefSize
                if bufPtr == 0 && !attr.isNoncontig {
                    // MEMREF_NULL: no memory and size 0, as OP-TEE hands it to a TA; what the TA
                    // sets as size (a size query's answer) still goes back to the client.
                    ta[i] = .memref(TAMemref(bytes: [], capacity: 0, isNull: true))
                    continue
                }
                guard size <= UInt64(maxMemrefBytes) else { return .outOfMemory }
                if attr.isNoncontig {
                    do { b.buffer = try world.ns.walkPageList(bufPtr: bufPtr, size: size, maxPages: maxSHMPages) }
                    catch { return error }
                } else {
                    guard let buf = world.ns.contiguous(PA(bufPtr), count: Int(size)) else { return .badParameters }
                    b.buffer = buf
                }
            case .rmemInput, .rmemOutput, .rmemInout:
                packed |= UInt32((GPParamType(rawValue: t.rawValue) ?? .none).rawValue) << (4 * UInt32(i))
                let cookie = p.shmRef, offs = p.rmemOffset, size = p.memrefSize
                guard let shm = partition.useSHM(cookie) else { return .badParameters }
                b.shmCookie = cookie
                bindings.holdsSHM = true
                let (end, o) = offs.addingReportingOverflow(size)
                guard !o, end <= UInt64(shm.size), let buf = shm.slice(offset: Int(offs), count: Int(size)) else {
                    return .security
                }
                guard size <= UInt64(maxMemrefBytes) else { return .outOfMemory }
                b.buffer = buf
            }
            guard let buf = b.buffer else { return .badParameters }
            // One buffer, the thread's reused array for this slot, filled in place (zeroes for
            // OUTPUT): no intermediate arrays, and no allocation in the steady state.
            var bytes = scratch.bytes(i, count: buf.size, zeroed: !t.isInput)
            if t.isInput {
                let view = world.ns.view
                // Sound: the pointer covers exactly `bytes` and does not escape the closure.
                let r: Result<Void, TEEResult> = bytes.withUnsafeMutableBytes { raw in
                    do throws(TEEResult) { try buf.read(view, offset: 0, into: raw); return .success(()) } catch { return .failure(error) }
                }
                if case let .failure(e) = r { return e }
            }
            ta[i] = .memref(TAMemref(bytes: bytes, capacity: buf.size))
        }
        ta.types = GPParamTypes(rawValue: packed)
        return nil
    }

    /// Writes TA outputs back: values (a, b) into the argument copy, memref bytes into their
    /// buffers (at most the buffer's capacity) and every output memref's new size into the copy.
    /// Each memref's bytes then go back to the thread's scratch for the next call (`ta` is left
    /// without them).
    func copyOut(_ ta: inout TAParams, _ a: MsgArgView, first: Int, _ bindings: ParamBindings) {
        defer { reclaimMemrefs(&ta, bindings) }
        for i in 0..<bindings.count {
            let b = bindings[i]
            guard b.type.isOutput, let p = a.param(first + i) else { continue }
            switch ta[i] {
            case let .value(v) where b.type.isValue:
                p.valueA = UInt64(v.a); p.valueB = UInt64(v.b)
            case let .memref(m) where b.type.isMemref:
                if let buf = b.buffer {
                    let n = max(0, min(m.size, buf.size, m.bytes.count))
                    if n > 0 {
                        let view = world.ns.view
                        // Sound: n <= m.bytes.count; the pointer does not escape the closure.
                        m.bytes.withUnsafeBytes { raw in _ = try? buf.write(view, offset: 0, from: UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
                    }
                }
                p.memrefSize = UInt64(max(0, m.size))
            default:
                continue
            }
        }
    }

    /// Moves the bytes of every memref param out of `ta` (leaving NONE) into the thread's
    /// scratch, for the next call's copies.
    func reclaimMemrefs(_ ta: inout TAParams, _ bindings: ParamBindings) {
        for i in 0..<bindings.count where bindings[i].type.isMemref {
            guard case let .memref(m) = ta[i] else { continue }
            ta[i] = .none
            scratch.give(i, m.bytes)
        }
    }

    /// Drops the registered-shm references params took, waking an UNREGISTER_SHM that waited for
    /// the last of them. Inlined: a call without registered memory makes no async call here (an
    /// async call allocates its callee's frame on the task's allocator).
    @inline(__always) func release(_ bindings: ParamBindings) async {
        guard bindings.holdsSHM else { return }
        await releaseSHM(bindings)
    }

    private func releaseSHM(_ bindings: ParamBindings) async {
        for i in 0..<bindings.count {
            if let c = bindings[i].shmCookie {
                let wake = partition.unuseSHM(c)
                if !wake.isEmpty { await wakeUnregister(wake) }
            }
        }
    }

    // MARK: Shared memory

    private func registerSHM(_ a: MsgArgView, _ n: Int) -> TEEResult {
        guard n == 1, let p = a.param(0) else { return .badParameters }
        let cookie = p.shmRef
        guard p.attr == MsgAttr(.tmemOutput, noncontig: true), cookie != 0 else { return .badParameters }
        let buffer: NSBuffer
        do { buffer = try world.ns.walkPageList(bufPtr: p.tmemBufPtr, size: p.memrefSize, maxPages: world.maxSHMPages) }
        catch { return error }
        let limit = world.config.maxRegisteredSHMPerVM
        return partition.state.withLock { s -> TEEResult in
            guard s.shms[cookie] == nil else { return .badParameters }
            guard s.shms.count < limit else { return .outOfMemory }
            s.shms[cookie] = RegisteredSHM(cookie: cookie, buffer: buffer)
            return .success
        }
    }

    /// UNREGISTER_SHM: BAD_PARAMETERS for a cookie that is not registered; while calls still use
    /// the shm, the command waits for the last one as OP-TEE waits on a condvar: in the normal
    /// world, on RPC NOTIFICATION wait of this thread's value, which the last user's call sends
    /// (FOREIGN_INTR yields when this thread has no value, or a wait ends without one). No new
    /// user may take the shm meanwhile.
    private func unregisterSHM(_ a: MsgArgView, _ n: Int) async -> TEEResult {
        guard n == 1, let p = a.param(0) else { return .badParameters }
        let cookie = p.shmRef
        let key = world.syncNotificationKey(self)
        enum Step { case done(TEEResult), wait }
        while true {
            let step = partition.state.withLock { s -> Step in
                guard var e = s.shms[cookie] else { return .done(.badParameters) }
                if let key, let i = e.waiters.firstIndex(of: key) { e.waiters.remove(at: i) }
                guard e.users == 0 else {
                    e.unregistering = true
                    if let key { e.waiters.append(key) }
                    s.shms[cookie] = e
                    return .wait
                }
                s.shms[cookie] = nil
                return .done(.success)
            }
            switch step {
            case let .done(r): return r
            case .wait:
                guard let key else {
                    guard await foreignInterrupt() else { return .busy }
                    continue
                }
                let (r, _, _) = await rpcCommand(.notification, [.value(.valueInput, a: RPCNotification.wait.rawValue, b: UInt64(key))])
                if r == .communication { return .busy }
                if r != .success { guard await foreignInterrupt() else { return .busy } }
            }
        }
    }

    /// Wakes UNREGISTER_SHM calls waiting for a shm this call stopped using (RPC NOTIFICATION send).
    func wakeUnregister(_ keys: [UInt32]) async {
        for k in keys {
            _ = await rpcCommand(.notification, [.value(.valueInput, a: RPCNotification.send.rawValue, b: UInt64(k))])
        }
    }
}
