// The message commands of a std call (OPTEE_MSG_CMD_*) and the translation of message params
// into TA params and back.
import TAAPI
import TEEABI
import Machine

/// Where a TA param came from, so its outputs can be written back.
struct ParamBinding: Sendable {
    var type: MsgParamType = .none
    var buffer: NSBuffer? = nil
    var shmCookie: UInt64? = nil
}

extension StdCall {
    /// Executes the command of the copied argument; returns the SMC code (OK unless the command
    /// itself is unknown, EBADCMD) and records results in `out`.
    func execute(_ out: inout ArgPatch) async -> SMCReturn {
        let n = numParams
        switch command {
        case .openSession:
            await openSession(n, &out)
        case .invokeCommand:
            await invoke(n, &out)
        case .closeSession:
            let r: TEEResult
            if n != 0 { r = .badParameters }
            else if let s = partition.state.withLock({ $0.sessions[session] }) {
                r = await world.closeSession(s, call: self)
            } else { r = .itemNotFound }
            finish(r, .tee, &out, "CLOSE_SESSION \(hex(session))")
        case .cancel:
            let r: TEEResult
            if n != 0 { r = .badParameters }
            else if let s = partition.state.withLock({ $0.sessions[session] }) {
                s.cancel(cancelID: cancelID); r = .success
            } else { r = .badParameters }
            finish(r, .tee, &out, "CANCEL \(hex(session))")
        case .registerSHM:
            finish(registerSHM(n), .tee, &out, "REGISTER_SHM")
        case .unregisterSHM:
            finish(unregisterSHM(n), .tee, &out, "UNREGISTER_SHM")
        case .doBottomHalf, .stopAsyncNotif:
            guard partition.state.withLock({ $0.asyncNotifEnabled }) else {
                world.countSMC(.ebadcmd, partition, "\(command) without async notifications"); return .ebadcmd
            }
            finish(.success, .tee, &out, "")
        default:
            world.countSMC(.ebadcmd, partition, "unknown message command \(command)")
            return .ebadcmd
        }
        return .ok
    }

    private func finish(_ r: TEEResult, _ origin: TEEOrigin, _ out: inout ArgPatch, _ what: @autoclosure () -> String) {
        out.result(r, origin)
        if origin == .tee { world.countTEE(r, partition, what()) }
    }

    private func openSession(_ n: Int, _ out: inout ArgPatch) async {
        out.u32(8, 0)
        let meta: OpenSessionMeta
        do { meta = try OpenSessionMeta(params: (0..<min(n, 2)).map { param($0) }) } catch {
            finish(.badParameters, .tee, &out, "OPEN_SESSION meta"); return
        }
        guard meta.login.isDefined else { finish(.badParameters, .tee, &out, "OPEN_SESSION login \(meta.login)"); return }
        let client = TAClientIdentity(login: meta.login,
                                      uuid: meta.login == .public || meta.login == .reeKernel ? .zero : meta.client)
        var bindings: [ParamBinding] = []
        var ta: TAParams
        switch copyIn(first: 2, count: n - 2, &bindings) {
        case let .failure(e): release(bindings); finish(e, .tee, &out, "OPEN_SESSION params"); return
        case let .success(p): ta = p
        }
        let (r, origin, s) = await world.openSession(uuid: meta.ta, client: client, params: &ta, call: self, parent: nil)
        copyOut(ta, first: 2, bindings, &out)
        release(bindings)
        if let s { out.u32(8, s.id) }
        finish(r, origin, &out, "OPEN_SESSION \(meta.ta)")
    }

    private func invoke(_ n: Int, _ out: inout ArgPatch) async {
        var bindings: [ParamBinding] = []
        var ta: TAParams
        switch copyIn(first: 0, count: n, &bindings) {
        case let .failure(e): release(bindings); finish(e, .tee, &out, "INVOKE params"); return
        case let .success(p): ta = p
        }
        guard let s = partition.state.withLock({ $0.sessions[session] }) else {
            release(bindings); finish(.badParameters, .tee, &out, "INVOKE unknown session \(hex(session))"); return
        }
        let (r, origin) = await world.invoke(s, command: function, params: &ta, call: self, cancelID: cancelID)
        copyOut(ta, first: 0, bindings, &out)
        release(bindings)
        finish(r, origin, &out, "INVOKE \(hex(session)) cmd \(function)")
    }

    // MARK: Params

    /// Converts message params [first, first + count) into TA params: values copied, memrefs
    /// resolved (tmem by PA or page list, rmem inside a registered shm) and their bytes copied in.
    func copyIn(first: Int, count: Int, _ bindings: inout [ParamBinding]) -> Result<TAParams, TEEResult> {
        guard count >= 0, count <= 4 else { return .failure(.badParameters) }
        var types: [GPParamType] = [.none, .none, .none, .none]
        var params: [TAParam] = [.none, .none, .none, .none]
        let cfg = world.config
        for i in 0..<count {
            let p = param(first + i)
            var b = ParamBinding()
            defer { bindings.append(b) }
            guard p.attr.isWellFormed, !p.attr.isMeta, let t = p.attr.type else { return .failure(.badParameters) }
            b.type = t
            switch t {
            case .none:
                continue
            case .valueInput, .valueOutput, .valueInout:
                types[i] = GPParamType(rawValue: t.rawValue) ?? .none
                params[i] = .value(TAValue(a: UInt32(truncatingIfNeeded: p.a), b: UInt32(truncatingIfNeeded: p.b)))
                continue
            case .tmemInput, .tmemOutput, .tmemInout:
                types[i] = GPParamType(rawValue: t.rawValue - 4) ?? .none
                if p.bufPtr == 0 && !p.attr.isNoncontig {
                    // MEMREF_NULL: no memory; the size is kept for size queries.
                    var m = TAMemref(bytes: [], capacity: 0, isNull: true)
                    m.size = Int(min(p.size, UInt64(cfg.maxMemrefBytes)))
                    params[i] = .memref(m)
                    continue
                }
                guard p.size <= UInt64(cfg.maxMemrefBytes) else { return .failure(.outOfMemory) }
                if p.attr.isNoncontig {
                    do { b.buffer = try world.ns.walkPageList(bufPtr: p.bufPtr, size: p.size, maxPages: cfg.maxSHMPages) }
                    catch { return .failure(error) }
                } else {
                    guard let buf = world.ns.contiguous(PA(p.bufPtr), count: Int(p.size)) else { return .failure(.badParameters) }
                    b.buffer = buf
                }
            case .rmemInput, .rmemOutput, .rmemInout:
                types[i] = GPParamType(rawValue: t.rawValue) ?? .none
                guard let shm = partition.useSHM(p.shmRef) else { return .failure(.badParameters) }
                b.shmCookie = p.shmRef
                let (end, o) = p.a.addingReportingOverflow(p.size)
                guard !o, end <= UInt64(shm.size), let buf = shm.slice(offset: Int(p.a), count: Int(p.size)) else {
                    return .failure(.security)
                }
                guard p.size <= UInt64(cfg.maxMemrefBytes) else { return .failure(.outOfMemory) }
                b.buffer = buf
            }
            guard let buf = b.buffer else { return .failure(.badParameters) }
            let bytes: [UInt8]
            if t.isInput {
                do { bytes = try buf.read(world.ns.view, offset: 0, count: buf.size) } catch { return .failure(error) }
            } else {
                bytes = [UInt8](repeating: 0, count: buf.size)
            }
            params[i] = .memref(TAMemref(bytes: bytes, capacity: buf.size))
        }
        return .success(TAParams(types: GPParamTypes(types[0], types[1], types[2], types[3]), params: params))
    }

    /// Writes TA outputs back: values (a, b) into the argument, memref bytes into their buffers
    /// (at most the buffer's capacity) and every output memref's new size into the argument.
    func copyOut(_ ta: TAParams, first: Int, _ bindings: [ParamBinding], _ out: inout ArgPatch) {
        for (i, b) in bindings.enumerated() where b.type.isOutput {
            let o = MsgArg.headerSize + (first + i) * MsgParam.byteSize
            switch ta[i] {
            case let .value(v) where b.type.isValue:
                out.u64(o + 8, UInt64(v.a)); out.u64(o + 16, UInt64(v.b))
            case let .memref(m) where b.type.isMemref:
                if let buf = b.buffer {
                    let n = max(0, min(m.size, buf.size, m.bytes.count))
                    if n > 0 { try? buf.write(world.ns.view, offset: 0, Array(m.bytes[0..<n])) }
                }
                out.u64(o + 16, UInt64(max(0, m.size)))
            default:
                continue
            }
        }
    }

    /// Drops the registered-shm references params took.
    func release(_ bindings: [ParamBinding]) {
        for b in bindings { if let c = b.shmCookie { partition.unuseSHM(c) } }
    }

    // MARK: Shared memory

    private func registerSHM(_ n: Int) -> TEEResult {
        guard n == 1 else { return .badParameters }
        let p = param(0)
        guard p.attr == MsgAttr(.tmemOutput, noncontig: true), p.shmRef != 0 else { return .badParameters }
        let buffer: NSBuffer
        do { buffer = try world.ns.walkPageList(bufPtr: p.bufPtr, size: p.size, maxPages: world.config.maxSHMPages) }
        catch { return error }
        let limit = world.config.maxRegisteredSHMPerVM
        return partition.state.withLock { s -> TEEResult in
            guard s.shms[p.shmRef] == nil else { return .badParameters }
            guard s.shms.count < limit else { return .outOfMemory }
            s.shms[p.shmRef] = RegisteredSHM(cookie: p.shmRef, buffer: buffer)
            return .success
        }
    }

    private func unregisterSHM(_ n: Int) -> TEEResult {
        guard n == 1 else { return .badParameters }
        let cookie = param(0).shmRef
        return partition.state.withLock { s -> TEEResult in
            guard let e = s.shms[cookie] else { return .itemNotFound }
            guard e.users == 0 else { return .busy }
            s.shms[cookie] = nil
            return .success
        }
    }
}
