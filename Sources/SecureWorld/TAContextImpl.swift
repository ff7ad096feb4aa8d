// The services a TA gets while one of its entry points runs (the GP internal API in Swift):
// randomness and time locally, everything of the normal world through RPCs of the current call.
import TAAPI
import TEEABI

/// Who an entry point runs for: an open session, or a session being opened.
enum TASubject: Sendable {
    case session(Session)
    case opening(OpeningSession)
}

/// The client and TA of a session being opened (no `Session` exists yet).
final class OpeningSession: Sendable {
    let client: TAClientIdentity
    let uuid: TEEUUID
    /// World-clock nanoseconds after which the opened TA sees its cancellation flag (0: never).
    let cancelDeadline: UInt64
    init(client: TAClientIdentity, uuid: TEEUUID, cancelDeadline: UInt64 = 0) {
        self.client = client; self.uuid = uuid; self.cancelDeadline = cancelDeadline
    }
}

/// The `TAContext` of one entry-point call, bound to the secure thread that runs it. Two
/// references, so it fits an existential's inline buffer: passing it as `any TAContext`
/// allocates nothing.
struct TARunContext: TAContext {
    let call: StdCall
    let subject: TASubject

    var world: SecureWorld { call.world }
    /// The session this entry point runs for (nil while opening one).
    var session: Session? { if case let .session(s) = subject { s } else { nil } }

    var client: TAClientIdentity {
        switch subject {
        case let .session(s): s.client
        case let .opening(o): o.client
        }
    }

    var taUUID: TEEUUID {
        switch subject {
        case let .session(s): s.instance.descriptor.uuid
        case let .opening(o): o.uuid
        }
    }

    func random(_ count: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        var out = [UInt8](repeating: 0, count: max(0, count))
        var i = 0
        while i < out.count {
            var w = g.next()
            for _ in 0..<8 where i < out.count { out[i] = UInt8(truncatingIfNeeded: w); w >>= 8; i += 1 }
        }
        return out
    }

    func systemTime() -> (seconds: UInt32, millis: UInt32) { world.systemTime() }

    // Inlined into the protocol witness: one async frame instead of two per call.
    @inline(__always) func reeTime() async throws(TEEResult) -> (seconds: UInt64, nanos: UInt64) {
        let (r, p, _) = await call.rpcCommand(.getTime, [.value(.valueOutput)])
        guard r == .success, let v = p.first else { throw r == .success ? .communication : r }
        return (v.a, v.b)
    }

    /// The client cancelled, or the caller's cancellationRequestTimeout for this TA-to-TA
    /// session or command has passed.
    var isCancelled: Bool {
        if call.cancelled.load(ordering: .acquiring) { return true }
        let deadline: UInt64
        switch subject {
        case let .session(s): deadline = s.cancelDeadline.load(ordering: .acquiring)
        case let .opening(o): deadline = o.cancelDeadline
        }
        return deadline != 0 && world.clock.nanoseconds() >= deadline
    }

    func checkpoint() async throws(TEEResult) {
        guard let tick = world.config.interruptTick, call.timeInSlice() >= tick else { return }
        guard await call.foreignInterrupt() else { throw .communication }
    }

    func waitNotification(key: UInt32) async throws(TEEResult) { try await notification(.wait, key) }
    func sendNotification(key: UInt32) async throws(TEEResult) { try await notification(.send, key) }

    private func notification(_ op: RPCNotification, _ key: UInt32) async throws(TEEResult) {
        guard key < SecureWorld.syncNotificationBase, key <= world.config.maxNotificationValue else { throw .badParameters }
        let (r, _, _) = await call.rpcCommand(.notification, [.value(.valueInput, a: op.rawValue, b: UInt64(key))])
        guard r == .success else { throw r }
    }

    func suspend(millis: UInt32) async throws(TEEResult) {
        let (r, _, _) = await call.rpcCommand(.suspend, [.value(.valueInput, a: UInt64(millis))])
        guard r == .success else { throw r }
    }

    func roundTripSharedMemory(size: Int, type: RPCShmType, fill: UInt8) async throws(TEEResult) -> [UInt8] {
        let (buf, cookie) = try await call.allocSharedMemory(type: type, size: size)
        let view = world.ns.view
        var result: Result<[UInt8], TEEResult>
        do {
            try buf.write(view, offset: 0, [UInt8](repeating: fill, count: size))
            result = .success(try buf.read(view, offset: 0, count: size))
        } catch { result = .failure(error) }
        await call.freeSharedMemory(type: type, cookie: cookie)
        return try result.get()
    }

    var storage: any TAStorage { FSRPCStorage(call: call, ta: taUUID) }

    func invokeSupplicantPlugin(_ plugin: TEEUUID, command: UInt32, subCommand: UInt32, data: [UInt8]) async throws(TEEResult) -> [UInt8] {
        // OP-TEE's tee_invoke_supp_plugin_rpc: the UUID's octets as four little-endian words,
        // the data in an application payload buffer (MEMREF_INOUT), out_len back in value[2].b.
        let o = plugin.octets
        func word(_ i: Int) -> UInt64 { (0..<4).reduce(UInt64(0)) { $0 | UInt64(o[i + $1]) << (8 * UInt64($1)) } }
        var params: [MsgParam] = [.value(.valueInput, a: 0, b: word(0), c: word(4)),
                                  .value(.valueInput, a: word(8), b: word(12), c: UInt64(command)),
                                  .value(.valueInout, a: UInt64(subCommand), b: 0, c: 0)]
        var payload: (buffer: NSBuffer, cookie: UInt64)? = nil
        if data.isEmpty {
            params.append(.tmem(.tmemInout, bufPtr: 0, size: 0, shmRef: 0))
        } else {
            let p = try await call.payloadBuffer(size: data.count)
            try p.buffer.write(world.ns.view, offset: 0, data)
            params.append(call.rpcMemref(.tmemInout, buffer: p.buffer, cookie: p.cookie, size: UInt64(data.count)))
            payload = p
        }
        let (r, back, _) = await call.rpcCommand(.suppPlugin, params)
        guard r == .success else { throw r }
        let outLength = back.count > 2 ? Int(clamping: back[2].b) : 0
        guard let p = payload, outLength > 0 else { return [] }
        return (try? p.buffer.read(world.ns.view, offset: 0, count: min(outLength, data.count))) ?? []
    }

    func openSession(ta: TEEUUID, params: inout TAParams) async throws(TEEResult) -> TASessionHandle {
        try await openSession(ta: ta, params: &params, cancellationTimeout: Self.infiniteTimeout)
    }

    func openSession(ta: TEEUUID, params: inout TAParams, cancellationTimeout: UInt32) async throws(TEEResult) -> TASessionHandle {
        guard let parent = session else { throw .badState }
        let me = TAClientIdentity(login: .trustedApp, uuid: taUUID)
        let (r, _, s) = await world.openSession(uuid: ta, client: me, params: &params, call: call, parent: parent,
                                                cancelDeadline: deadline(cancellationTimeout))
        guard r == .success, let s else { throw r == .success ? .generic : r }
        return TASessionHandle(id: s.id)
    }

    func invoke(_ handle: TASessionHandle, command: UInt32, params: inout TAParams) async throws(TEEResult) {
        try await invoke(handle, command: command, params: &params, cancellationTimeout: Self.infiniteTimeout)
    }

    func invoke(_ handle: TASessionHandle, command: UInt32, params: inout TAParams, cancellationTimeout: UInt32) async throws(TEEResult) {
        guard let parent = session, let s = parent.live.withLock({ $0.children[handle.id] }) else { throw .itemNotFound }
        s.cancelDeadline.store(deadline(cancellationTimeout), ordering: .releasing)
        let (r, _) = await world.invoke(s, command: command, params: &params, call: call)
        s.cancelDeadline.store(0, ordering: .releasing)
        guard r == .success else { throw r }
    }

    /// The world-clock deadline of a cancellationRequestTimeout in milliseconds (0: none).
    private func deadline(_ millis: UInt32) -> UInt64 {
        millis == Self.infiniteTimeout ? 0 : max(1, world.clock.nanoseconds() &+ UInt64(millis) * 1_000_000)
    }

    func closeSession(_ handle: TASessionHandle) async {
        guard let parent = session, let s = parent.live.withLock({ $0.children[handle.id] }) else { return }
        parent.live.withLock { _ = $0.children.removeValue(forKey: handle.id) }
        _ = await world.closeSession(s, call: call)
    }
}
