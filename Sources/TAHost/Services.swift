// What a TA process asks of the secure world during an entry point (the channel's requests):
// log lines, REE time, TA persistent time, TA-to-TA sessions and secure storage. Every length
// and offset comes from the TA process and is checked against the request area first.
// Secure world.
import Logging
import TAAPI
import TAChannel
import TEEABI

extension ProcessTA {
    /// The request area as bytes the TA wrote: `count` bytes at `offset`, nil when out of range.
    func requestBytes(_ p: TAProcess, offset: Int = 0, count: UInt64) -> [UInt8]? {
        let area = p.requestArea
        guard count <= UInt64(area.count), offset >= 0, offset <= area.count - Int(count) else { return nil }
        // Sound: offset + count <= area.count was just checked.
        return [UInt8](UnsafeRawBufferPointer(rebasing: area[offset..<(offset + Int(count))]))
    }

    /// Writes `bytes` at `offset` of the request area; false when they do not fit.
    @discardableResult
    func writeRequestBytes(_ p: TAProcess, _ bytes: [UInt8], offset: Int = 0) -> Bool {
        let area = p.requestArea
        guard offset >= 0, bytes.count <= area.count - offset else { return false }
        bytes.withUnsafeBytes { src in
            // Sound: offset + bytes.count <= area.count was just checked.
            guard let s = src.baseAddress, let d = area.baseAddress, !bytes.isEmpty else { return }
            (d + offset).copyMemory(from: s, byteCount: bytes.count)
        }
        return true
    }

    func arg(_ p: TAProcess, _ i: Int32) -> UInt64 { vtee_ch_req_arg_at(p.ctl, i)?.pointee ?? 0 }
    func setArg(_ p: TAProcess, _ i: Int32, _ v: UInt64) { vtee_ch_req_arg_at(p.ctl, i)?.pointee = v }
    func reply(_ p: TAProcess, _ r: TEEResult, origin: TEEOrigin = .tee) {
        p.ctl.pointee.req_result = r.rawValue
        p.ctl.pointee.req_origin = origin.rawValue
    }

    /// Serves one request with the entry point's context.
    func serve(_ p: TAProcess, context: any TAContext) async {
        let req = Int(p.ctl.pointee.req)
        switch req {
        case VTEE_REQ_LOG: logLine(p)
        case VTEE_REQ_REE_TIME:
            do {
                let t = try await context.reeTime()
                setArg(p, 0, t.seconds); setArg(p, 1, t.nanos); reply(p, .success)
            } catch { reply(p, error) }
        case VTEE_REQ_SUPP_PLUGIN: await supplicantPlugin(p, context: context)
        case VTEE_REQ_PTIME_GET: persistentTimeGet(p)
        case VTEE_REQ_PTIME_SET: persistentTimeSet(p)
        case VTEE_REQ_TA_OPEN, VTEE_REQ_TA_INVOKE, VTEE_REQ_TA_CLOSE: await taToTA(p, req, context: context)
        case VTEE_REQ_OBJ_OPEN...VTEE_REQ_OBJ_PEEK: await storage(p, req, context: context)
        case VTEE_REQ_CRYPTO_OBJ_ALLOC...VTEE_REQ_CRYPTO_LAST: crypto(p, req)
        case VTEE_REQ_BIGINT_FIRST...VTEE_REQ_BIGINT_LAST: bigInt(p, req)
        default: reply(p, .notSupported)
        }
    }

    /// SUPP_PLUGIN (tee_invoke_supp_plugin): req_uuid the plugin, args[0] cmd, [1] sub_cmd, [2] the
    /// data's length in the request area; the plugin's output comes back there, args[3] its length.
    private func supplicantPlugin(_ p: TAProcess, context: any TAContext) async {
        setArg(p, 3, 0)
        guard let data = requestBytes(p, count: arg(p, 2)) else { reply(p, .badParameters); return }
        let plugin = withUnsafeBytes(of: p.ctl.pointee.req_uuid) { TEEUUID(octets: Array($0)) }
        do {
            let out = try await context.invokeSupplicantPlugin(plugin, command: UInt32(truncatingIfNeeded: arg(p, 0)),
                                                               subCommand: UInt32(truncatingIfNeeded: arg(p, 1)), data: data)
            guard writeRequestBytes(p, out) else { reply(p, .shortBuffer); return }
            setArg(p, 3, UInt64(out.count))
            reply(p, .success)
        } catch {
            reply(p, error)
        }
    }

    /// Serves a request when no entry-point context exists (TA_DestroyEntryPoint): log lines and
    /// the crypto and arithmetic requests (they need no client; a TA frees its operations there).
    func serveWithoutContext(_ p: TAProcess) {
        let req = Int(p.ctl.pointee.req)
        switch req {
        case VTEE_REQ_LOG: logLine(p)
        case VTEE_REQ_CRYPTO_OBJ_ALLOC...VTEE_REQ_CRYPTO_LAST: crypto(p, req)
        case VTEE_REQ_BIGINT_FIRST...VTEE_REQ_BIGINT_LAST: bigInt(p, req)
        default: reply(p, .badState)
        }
    }

    private func logLine(_ p: TAProcess) {
        let level = arg(p, 0)
        let n = min(arg(p, 1), 1024)
        let text = String(decoding: requestBytes(p, count: n) ?? [], as: UTF8.self)
        switch level {
        case 1: log.error("\(text)")
        case 2: log.info("\(text)")
        case 3: log.debug("\(text)")
        default: log.trace("\(text)")
        }
        reply(p, .success)
    }

    // MARK: TA persistent time (kept by the secure world per TA UUID, as OP-TEE keeps it in memory)

    private func persistentTimeGet(_ p: TAProcess) {
        guard let offset = runner.persistentTime.withLock({ $0[uuid] }) else { reply(p, .timeNotSet); return }
        let now = runner.secondsSinceStart + offset
        let (s, atto) = now.components
        let millis = UInt64(max(0, atto / 1_000_000_000_000_000))
        let secs = UInt64(max(0, s))
        setArg(p, 0, secs & 0xFFFF_FFFF); setArg(p, 1, millis)
        reply(p, secs > 0xFFFF_FFFF ? .overflow : .success)
    }

    private func persistentTimeSet(_ p: TAProcess) {
        let set = Duration.seconds(Int64(arg(p, 0) & 0xFFFF_FFFF)) + .milliseconds(Int64(arg(p, 1) & 0xFFFF_FFFF))
        let offset = set - runner.secondsSinceStart
        runner.persistentTime.withLock { $0[uuid] = offset }
        reply(p, .success)
    }

    // MARK: TA-to-TA

    /// TA_OPEN: req_uuid, params in req_params/request area, args[0] cancellationRequestTimeout;
    /// answers args[1] = session. TA_INVOKE: args[0] timeout, args[1] session, args[2] command. TA_CLOSE: args[1] session.
    private func taToTA(_ p: TAProcess, _ req: Int, context: any TAContext) async {
        if req == VTEE_REQ_TA_CLOSE {
            await context.closeSession(TASessionHandle(id: UInt32(truncatingIfNeeded: arg(p, 1))))
            reply(p, .success)
            return
        }
        let types = GPParamTypes(rawValue: p.ctl.pointee.req_param_types & 0xFFFF)
        var list: [TAParam] = []
        var spans: [(Int, Int)?] = [nil, nil, nil, nil]
        for i in 0..<4 {
            guard let cp = vtee_ch_req_param_at(p.ctl, Int32(i)) else { list.append(.none); continue }
            switch types[i] {
            case .valueInput?, .valueOutput?, .valueInout?:
                list.append(.value(TAValue(a: UInt32(truncatingIfNeeded: cp.pointee.a), b: UInt32(truncatingIfNeeded: cp.pointee.b))))
            case .memrefInput?, .memrefOutput?, .memrefInout?:
                if cp.pointee.a == UInt64.max { list.append(.memref(TAMemref(bytes: [], isNull: true))); continue }
                guard cp.pointee.a <= UInt64(Int32.max), let bytes = requestBytes(p, offset: Int(cp.pointee.a), count: cp.pointee.b) else {
                    reply(p, .badParameters); return
                }
                spans[i] = (Int(cp.pointee.a), bytes.count)
                list.append(.memref(TAMemref(bytes: bytes)))
            case .none?: list.append(.none)
            case nil: reply(p, .badParameters); return
            }
        }
        var params = TAParams(types: types, params: list)
        // args[0]: the caller's cancellationRequestTimeout in ms (TEE_TIMEOUT_INFINITE: none).
        let timeout = UInt32(truncatingIfNeeded: arg(p, 0))
        var result: TEEResult = .success
        var origin: TEEOrigin = .trustedApp
        do {
            if req == VTEE_REQ_TA_OPEN {
                let target = withUnsafeBytes(of: p.ctl.pointee.req_uuid) { TEEUUID(octets: Array($0)) }
                let h = try await context.openSession(ta: target, params: &params, cancellationTimeout: timeout)
                setArg(p, 1, UInt64(h.id))
            } else {
                try await context.invoke(TASessionHandle(id: UInt32(truncatingIfNeeded: arg(p, 1))),
                                         command: UInt32(truncatingIfNeeded: arg(p, 2)), params: &params,
                                         cancellationTimeout: timeout)
            }
        } catch {
            result = error
            // The TA API does not carry the origin: codes only the TEE raises are reported as its.
            let teeCodes: Set<TEEResult> = [.itemNotFound, .targetDead, .outOfMemory, .busy, .security, .communication, .badFormat, .badState]
            origin = teeCodes.contains(error) ? .tee : .trustedApp
        }
        for i in 0..<4 {
            guard let cp = vtee_ch_req_param_at(p.ctl, Int32(i)) else { continue }
            switch types[i] {
            case .valueOutput?, .valueInout?:
                let v = params.value(i)
                cp.pointee.a = UInt64(v.a); cp.pointee.b = UInt64(v.b)
            case .memrefOutput?, .memrefInout?:
                guard let span = spans[i], let m = params.memref(i) else { continue }
                writeRequestBytes(p, Array(m.bytes.prefix(min(span.1, m.size))), offset: span.0)
                cp.pointee.b = UInt64(m.size)
            default: break
            }
        }
        reply(p, result, origin: origin)
    }
}
