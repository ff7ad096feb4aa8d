/// /dev/teepriv0's supplicant ioctls (SUPPL_RECV / SUPPL_SEND), as Linux's supp.c: the teepriv0
/// context that opened first is the supplicant (optee_open); vtee's own supplicant steps aside
/// from that open until that context closes. Requests carry shm ids, offsets and sizes (params_to_supp), so an external
/// tee-supplicant finds each buffer among the shared memory it allocated itself (SHM_ALLOC RPC ->
/// TEE_IOC_SHM_ALLOC on teepriv0 + mmap).
import NormalWorld
import TEEABI

/// The attached external supplicant, its requests in service and the id translation.
struct SupplicantBridgeState {
    /// The teepriv0 context serving requests, if any.
    var context: Int64?
    /// Its attachment to the driver's supplicant channel.
    var connection: SupplicantConnection?
    /// Requests handed out and not yet answered, by request id.
    var pending: [UInt64: SupplicantRequest] = [:]
    /// Driver shm handle id -> device shm id, for memory the supplicant allocated.
    var deviceID: [UInt64: Int32] = [:]
}

extension TEEDevice {
    /// How long one wait on the channel lasts before checking that the context is still open.
    static let receiveSlice = 0.2

    /// TEE_IOC_SUPPL_RECV (the context is the supplicant since its open; EBUSY for any other),
    /// waits for a request and writes it as func, num_params and params (a META param with the
    /// request id first when the caller offered one).
    func supplicantReceive(context: Int64, guest: GuestConnection, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        let (ptr, received) = try bufferArgument(.supplicantReceive, argument)
        var bytes = received
        let offered = try LinuxTEEArgs.params(.supplicantReceive, bytes)
        let conn = try attachSupplicant(context: context, guest: guest)
        var request: SupplicantRequest?
        while request == nil {
            let current = try withState { s throws(TEEIoctlError) -> Bool in s.supplicant.context == context && s.supplicant.connection == conn }
            guard current else { throw .interrupted }
            guard let r = guest.driver.supplicant.receive(conn, timeout: Self.receiveSlice) else { continue }
            if r.command == .shmFree, let id = r.params.first?.values.b,
               try withState({ s throws(TEEIoctlError) -> Bool in s.supplicant.deviceID[id] == nil }) {
                // Not memory this supplicant allocated: memory vtee's own supplicant allocated for a
                // call that was running when this one opened. Its owner frees it (nothing leaks);
                // an id nobody allocated is BAD_PARAMETERS from there.
                guest.driver.supplicant.reply(conn, guest.supplicant.serve(r))
                continue
            }
            request = r
        }
        guard let req = request else { throw .interrupted }
        let meta = offered.first.map { $0.attr & LinuxTEE.ParamAttr.metaBit != 0 } ?? false
        let count = req.params.count + (meta ? 1 : 0)
        guard count <= offered.count else {
            guest.driver.supplicant.reply(conn, SupplicantResponse(id: req.id, result: .badParameters, params: req.params))
            throw .invalid
        }
        let ids = try withState { s throws(TEEIoctlError) -> [UInt64: Int32] in
            s.supplicant.pending[req.id] = req
            return s.supplicant.deviceID
        }
        LinuxTEEArgs.put32(&bytes, 0, req.command.rawValue)
        LinuxTEEArgs.put32(&bytes, 4, UInt32(count))
        var i = 0
        if meta {
            LinuxTEEArgs.store(TEEIoctlParam(attr: LinuxTEE.ParamAttr.metaBit | 3, a: req.id), at: 0, .supplicantReceive, into: &bytes)
            i = 1
        }
        for (k, p) in req.params.enumerated() {
            LinuxTEEArgs.store(Self.toSupplicant(p, window: k < req.windows.count ? req.windows[k] : nil, command: req.command, ids: ids),
                               at: i + k, .supplicantReceive, into: &bytes)
        }
        bytes = Array(bytes.prefix(LinuxTEE.Layout.supplArgSize + count * LinuxTEE.Layout.paramSize))
        guard memory.write(ptr, bytes) else {
            guest.driver.supplicant.reply(conn, SupplicantResponse(id: req.id, result: .communication, params: req.params))
            _ = try? withState { s throws(TEEIoctlError) in s.supplicant.pending[req.id] = nil }
            throw .fault
        }
        return 0
    }

    /// One request param as params_to_supp writes it: values as they are (SHM_FREE's id
    /// translated to the device id), memrefs as (offset, size, shm id) or TEE_MEMREF_NULL.
    static func toSupplicant(_ p: SupplicantParam, window: SupplicantWindow?, command: RPCCommand, ids: [UInt64: Int32]) -> TEEIoctlParam {
        switch p {
        case .none:
            return TEEIoctlParam(attr: 0)
        case let .value(t, a, b, c):
            var b = b
            if command == .shmFree, let id = ids[b] { b = UInt64(UInt32(bitPattern: id)) }
            return TEEIoctlParam(attr: UInt64(t.rawValue), a: a, b: b, c: c)
        case let .memref(t, _, size):
            let attr: UInt64 = t.isInput && t.isOutput ? 7 : t.isOutput ? 6 : 5
            if let w = window, let id = ids[w.shm] {
                return TEEIoctlParam(attr: attr, a: UInt64(w.offset), b: UInt64(max(0, size)), c: UInt64(UInt32(bitPattern: id)))
            }
            return TEEIoctlParam(attr: attr, a: 0, b: UInt64(max(0, size)), c: LinuxTEE.memrefNull)
        }
    }

    /// TEE_IOC_SUPPL_SEND: the answer to the request named by the META param (or the only one
    /// in service): result, output values and sizes; the data is already in the shared memory.
    func supplicantSend(context: Int64, guest: GuestConnection, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        let (_, bytes) = try bufferArgument(.supplicantSend, argument)
        let sent = try LinuxTEEArgs.params(.supplicantSend, bytes)
        let ret = TEEResult(rawValue: LinuxTEEArgs.u32(bytes, 0))
        let meta = sent.first.map { $0.attribute.isMeta } ?? false
        let (conn, req, shms) = try withState { s throws(TEEIoctlError) -> (SupplicantConnection, SupplicantRequest, [Int32: Shm]) in
            guard s.supplicant.context == context, let c = s.supplicant.connection else { throw .invalid }
            let id: UInt64
            if meta, let m = sent.first { id = m.a } else if s.supplicant.pending.count == 1, let only = s.supplicant.pending.keys.first { id = only } else { throw .invalid }
            guard let r = s.supplicant.pending.removeValue(forKey: id) else { throw .invalid }
            return (c, r, s.shms)
        }
        let body = meta ? Array(sent.dropFirst()) : sent
        var out = req.params
        for (k, p) in req.params.enumerated() {
            guard k < body.count else { break }
            let q = body[k]
            switch p {
            case let .value(t, _, _, _) where t.isOutput:
                var v = (q.a, q.b, q.c)
                if req.command == .shmAlloc, ret == .success {
                    // The supplicant answers with its device id: the driver knows the handle.
                    guard let dev = Int32(exactly: q.c), let shm = shms[dev], shm.context == context else {
                        guest.driver.supplicant.reply(conn, SupplicantResponse(id: req.id, result: .outOfMemory, params: req.params))
                        return 0
                    }
                    v.2 = shm.handle.id
                    _ = try? withState { s throws(TEEIoctlError) in s.supplicant.deviceID[shm.handle.id] = dev }
                }
                out[k] = .value(t, a: v.0, b: v.1, c: v.2)
            case let .memref(t, data, _) where t.isOutput:
                var bytesBack = data
                if let d = data, k < req.windows.count, let w = req.windows[k],
                   let h = guest.driver.sharedMemory(id: w.shm) {
                    bytesBack = (try? guest.driver.read(h, offset: w.offset, count: d.count)) ?? d
                }
                out[k] = .memref(t, data: bytesBack, size: Int(clamping: q.b))
            default:
                break
            }
        }
        if req.command == .shmFree, ret == .success, let b = req.params.first?.values.b {
            _ = try? withState { s throws(TEEIoctlError) in s.supplicant.deviceID[b] = nil }
        }
        guest.driver.supplicant.reply(conn, SupplicantResponse(id: req.id, result: ret, params: out))
        return 0
    }

    /// Makes `context` the supplicant (vtee's own stops serving), or EBUSY when another is.
    func attachSupplicant(context: Int64, guest: GuestConnection) throws(TEEIoctlError) -> SupplicantConnection {
        let existing = try withState { s throws(TEEIoctlError) -> SupplicantConnection? in
            if let c = s.supplicant.context, c != context { throw .busy }
            return s.supplicant.connection
        }
        if let c = existing { return c }
        guest.supplicant.stop()
        guard let c = guest.driver.supplicant.attach() else { throw .busy }
        let kept = try withState { s throws(TEEIoctlError) -> Bool in
            guard s.supplicant.context == nil else { return false }
            s.supplicant.context = context; s.supplicant.connection = c
            return true
        }
        guard kept else { guest.driver.supplicant.detach(c); throw .busy }
        // One supplicant per user, as one per machine on Linux: the daemon refuses a second
        // process of this uid (EBUSY); from here on it routes the uid's other processes here.
        if let e = guest.link.attach() {
            supplicantDetached(context: context)
            throw e
        }
        return c
    }

    /// The supplicant's context closed: its requests fail (COMMUNICATION) and vtee's own
    /// supplicant serves again.
    func supplicantDetached(context: Int64) {
        let got = try? withState { s throws(TEEIoctlError) -> (SupplicantConnection, GuestConnection)? in
            guard s.supplicant.context == context, let c = s.supplicant.connection, let g = s.guest else { return nil }
            s.supplicant = SupplicantBridgeState()
            return (c, g)
        }
        guard let (c, g) = got ?? nil else { return }
        g.link.detach()
        g.driver.supplicant.detach(c)
        _ = g.supplicant.start()
    }
}
