/// A scripted stand-in for the secure world that records everything it is given, so tests can
/// prove what crosses the mediator: PAs of mediator memory only, the client id in a7, the
/// validated copy rather than the guest's memory.
import Machine
import Synchronization
import TEEABI

/// Function number of INVOKE that makes the fake run ALLOC -> CMD(GET_TIME) -> FREE RPCs.
let fakeRPCFunction: UInt32 = 99
/// Function number of INVOKE that makes the fake run SHM_ALLOC -> SHM_FREE via RPC_CMD.
let fakeShmFunction: UInt32 = 98
/// Function number of INVOKE that makes the fake scribble over every field of the argument it
/// was given (header, attrs, inputs, buffer pointers, cookies, and num_params + 2 params).
let fakeScribbleFunction: UInt32 = 97
/// The byte the scribbling fake writes everywhere.
let scribble: UInt8 = 0xE5

/// Records frames and arguments; answers std calls by incrementing value outputs.
final class FakeSecureWorld: SMCEntry, Sendable {
    let memory: PhysicalMemory
    struct Seen: Sendable {
        var frames: [RegisterFrame] = []
        var args: [(pa: PA, kind: RegionKind?, arg: MsgArg)] = []
        /// Each std call's page as handed over: the bytes from the argument's PA to the end of its page.
        var rawPages: [[UInt8]] = []
        var rpcShadows: [PA] = []
        var rpcReplies: [MsgArg] = []
        var allocatedShm: [MsgParam] = []
    }
    let seen = Mutex(Seen())
    /// Per thread: the call's arg PA and the RPC step reached.
    private let threads = Mutex<[UInt64: (arg: PA, step: Int, rpcPA: PA?, cookie: UInt64)]>([:])
    private let nextThread = Atomic<UInt64>(1)
    let caps: SecureCapabilities

    init(memory: PhysicalMemory, caps: SecureCapabilities = [.dynamicSHM, .memrefNull, .rpcArg, .haveReservedSHM, .virtualization]) {
        self.memory = memory; self.caps = caps
    }

    var frames: [RegisterFrame] { seen.withLock { $0.frames } }
    var args: [(pa: PA, kind: RegionKind?, arg: MsgArg)] { seen.withLock { $0.args } }

    func smc(_ f: RegisterFrame) -> RegisterFrame {
        seen.withLock { $0.frames.append(f) }
        switch f.function {
        case .getThreadCount: return RegisterFrame(a0: 0, a1: 4)
        case .exchangeCapabilities: return RegisterFrame(a0: 0, a1: UInt64(caps.rawValue), a2: 0, a3: 4)
        case .vmCreated, .vmDestroyed, .enableSHMCache: return RegisterFrame(a0: 0)
        case .callsUID:
            let u = OPTEEIdentity.apiUID
            return RegisterFrame(a0: UInt64(u.0), a1: UInt64(u.1), a2: UInt64(u.2), a3: UInt64(u.3))
        case .callWithArg:
            let pa = PA(RegisterFrame.join(f.a1, f.a2))
            guard let bytes = try? memory.read(pa, count: pageSize, world: .secure),
                  let arg = try? MsgArg.decode(bytes) else { return RegisterFrame(a0: UInt64(SMCReturn.ebadaddr.rawValue)) }
            let raw = (try? memory.read(pa, count: pageSize - pa.pageOffset, world: .secure)) ?? []
            seen.withLock { $0.args.append((pa, memory.region(containing: pa)?.kind, arg)); $0.rawPages.append(raw) }
            if arg.cmd == .invokeCommand && arg.function == fakeScribbleFunction {
                let w = UInt64(scribble) * 0x0101_0101_0101_0101
                let h = UInt32(truncatingIfNeeded: w)
                let params = (0..<(arg.params.count + 2)).map { _ in MsgParam(attr: MsgAttr(rawValue: 0x3), a: w, b: w, c: w) }
                let out = MsgArg(cmd: MsgCommand(rawValue: h), function: h, session: h, cancelID: h, pad: h,
                                 ret: TEEResult(rawValue: h), retOrigin: TEEOrigin(rawValue: h), params: params)
                try? memory.write(pa, out.encoded(), world: .secure)
                return RegisterFrame(a0: 0)
            }
            if arg.cmd == .invokeCommand && (arg.function == fakeRPCFunction || arg.function == fakeShmFunction) {
                let t = nextThread.add(1, ordering: .relaxed).oldValue
                threads.withLock { $0[t] = (pa, 0, nil, 0) }
                return RegisterFrame(a0: UInt64(SMCReturn.rpc(.alloc).rawValue), a1: 160, a3: t)
            }
            return finish(pa, arg)
        case .returnFromRPC:
            return resume(f)
        default:
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }

    private func finish(_ pa: PA, _ a: MsgArg, extra: UInt64 = 0) -> RegisterFrame {
        var arg = a
        arg.ret = .success
        arg.retOrigin = .trustedApp
        if arg.cmd == .openSession { arg.session = 7 }
        for i in arg.params.indices where arg.params[i].attr.type?.isOutput == true && !arg.params[i].attr.isMeta {
            if arg.params[i].attr.type?.isValue == true { arg.params[i].a = arg.params[i].a &+ 1 &+ extra; arg.params[i].c = 0xC0FFEE }
            else { arg.params[i].size = 3 }
        }
        try? memory.write(pa, arg.encoded(), world: .secure)
        return RegisterFrame(a0: 0)
    }

    private func resume(_ f: RegisterFrame) -> RegisterFrame {
        guard let st = threads.withLock({ $0[f.a3] }) else { return RegisterFrame(a0: UInt64(SMCReturn.eresume.rawValue)) }
        let t = f.a3
        switch st.step {
        case 0:   // ALLOC answered: a1:a2 = PA, a4:a5 = cookie
            let pa = PA(RegisterFrame.join(f.a1, f.a2))
            guard pa.raw != 0 else {
                threads.withLock { $0[t] = nil }
                guard let bytes = try? memory.read(st.arg, count: pageSize, world: .secure), var a = try? MsgArg.decode(bytes) else { return RegisterFrame(a0: 0) }
                a.ret = .outOfMemory
                try? memory.write(st.arg, a.encoded(), world: .secure)
                return RegisterFrame(a0: 0)
            }
            seen.withLock { $0.rpcShadows.append(pa) }
            let cookie = RegisterFrame.join(f.a4, f.a5)
            guard let bytes = try? memory.read(st.arg, count: pageSize, world: .secure), let a = try? MsgArg.decode(bytes) else { return RegisterFrame(a0: 0) }
            let rpc: MsgArg
            if a.function == fakeShmFunction {
                rpc = MsgArg(cmd: MsgCommand(rawValue: RPCCommand.shmAlloc.rawValue), ret: .generic,
                             params: [.value(.valueInput, a: RPCShmType.application.rawValue, b: 8192)])
            } else {
                rpc = MsgArg(cmd: MsgCommand(rawValue: RPCCommand.getTime.rawValue), ret: .generic, params: [.value(.valueOutput)])
            }
            try? memory.write(pa, rpc.encoded(), world: .secure)
            threads.withLock { $0[t] = (st.arg, 1, pa, cookie) }
            let (h, l) = RegisterFrame.split(cookie)
            return RegisterFrame(a0: UInt64(SMCReturn.rpc(.cmd).rawValue), a1: h, a2: l, a3: t)
        case 1:   // CMD answered: read the reply from the shadow
            guard let rpa = st.rpcPA, let bytes = try? memory.read(rpa, count: 160, world: .secure),
                  let reply = try? MsgArg.decode(bytes) else { return RegisterFrame(a0: 0) }
            seen.withLock { $0.rpcReplies.append(reply) }
            if RPCCommand(rawValue: reply.cmd.rawValue) == .shmAlloc, reply.ret == .success {
                seen.withLock { $0.allocatedShm.append(reply.params[0]) }
                let free = MsgArg(cmd: MsgCommand(rawValue: RPCCommand.shmFree.rawValue), ret: .generic,
                                  params: [.value(.valueInput, a: RPCShmType.application.rawValue, b: reply.params[0].shmRef)])
                try? memory.write(rpa, free.encoded(), world: .secure)
                threads.withLock { $0[t] = (st.arg, 2, rpa, st.cookie) }
                let (h, l) = RegisterFrame.split(st.cookie)
                return RegisterFrame(a0: UInt64(SMCReturn.rpc(.cmd).rawValue), a1: h, a2: l, a3: t)
            }
            threads.withLock { $0[t] = (st.arg, 3, rpa, st.cookie) }
            let (h, l) = RegisterFrame.split(st.cookie)
            return RegisterFrame(a0: UInt64(SMCReturn.rpc(.free).rawValue), a1: h, a2: l, a3: t)
        case 2:
            threads.withLock { $0[t] = (st.arg, 3, st.rpcPA, st.cookie) }
            let (h, l) = RegisterFrame.split(st.cookie)
            return RegisterFrame(a0: UInt64(SMCReturn.rpc(.free).rawValue), a1: h, a2: l, a3: t)
        default:  // FREE answered: complete with the time seen
            threads.withLock { $0[t] = nil }
            let time = seen.withLock { $0.rpcReplies.last?.params.first?.a ?? 0 }
            guard let bytes = try? memory.read(st.arg, count: pageSize, world: .secure), let a = try? MsgArg.decode(bytes) else { return RegisterFrame(a0: 0) }
            return finish(st.arg, a, extra: time)
        }
    }
}
