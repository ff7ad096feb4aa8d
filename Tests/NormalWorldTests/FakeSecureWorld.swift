// A scripted OP-TEE stand-in behind a Conduit: answers the probe fast calls and runs std calls
// whose RPC sequence the test chooses, so every RPC path of the driver is driven deterministically.
import Machine
import NormalWorld
import Synchronization
import TEEABI

final class FakeSecureWorld: Conduit, Sendable {
    /// Invoke functions the fake understands.
    enum Function: UInt32 {
        /// value[0] a += 1, immediately.
        case increment = 0
        /// ALLOC (without RPC arg), GET_TIME, FOREIGN_INTR, SHM_ALLOC kernel (2 pages), SHM_FREE,
        /// an unknown RPC command, an unknown RPC function, FREE; value[0].a = bitmask of checks passed.
        case rpcTour = 1
        /// SUSPEND for value[0].a ms, holding its secure thread.
        case hold = 2
    }
    static let tourChecks: UInt64 = 0b1_1111

    struct Call {
        var arg: IPA; var numParams: Int; var withRPCArg: Bool; var function: UInt32
        var pc = 0; var allocIPA: UInt64 = 0; var allocCookie: UInt64 = 0; var shmCookie: UInt64 = 0
        var checks: UInt64 = 0
    }
    struct State { var busy: [Int: Call] = [:]; var asyncValues: [UInt64] = []; var maxBusy = 0; var registered: Set<UInt64> = [] }

    let space: GuestAddressSpace
    let threads: Int
    let reportThreads: Bool
    let caps: SecureCapabilities
    let uidOK: Bool
    let state = Mutex(State())

    init(space: GuestAddressSpace, threads: Int = 8, reportThreads: Bool = true,
         caps: SecureCapabilities = [.dynamicSHM, .rpcArg, .asyncNotif, .memrefNull], uidOK: Bool = true) {
        self.space = space; self.threads = threads; self.reportThreads = reportThreads; self.caps = caps; self.uidOK = uidOK
    }

    /// A driver over a fresh guest and a fake secure world.
    static func driver(threads: Int = 8, reportThreads: Bool = true, caps: SecureCapabilities = [.dynamicSHM, .rpcArg, .asyncNotif, .memrefNull],
                       configure: (inout DriverConfiguration) -> Void = { _ in }) throws -> (OPTEEDriver, FakeSecureWorld) {
        let memory = PhysicalMemory()
        let space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 512, layout: .scattered(seed: 7))
        let fake = FakeSecureWorld(space: space, threads: threads, reportThreads: reportThreads, caps: caps)
        var cfg = DriverConfiguration(vcpus: 4, threadWait: 20, notificationWait: 2)
        configure(&cfg)
        return (try OPTEEDriver(space: space, conduit: fake, configuration: cfg), fake)
    }

    func queueAsyncValue(_ v: UInt64) { state.withLock { $0.asyncValues.append(v) } }

    func trap(_ f: RegisterFrame, vcpu: Int) -> RegisterFrame {
        switch f.function {
        case .callsUID:
            let w = uidOK ? OPTEEIdentity.apiUID : (1, 2, 3, 4)
            return RegisterFrame(a0: UInt64(w.0), a1: UInt64(w.1), a2: UInt64(w.2), a3: UInt64(w.3))
        case .callsRevision: return RegisterFrame(a0: 2, a1: 0)
        case .getOSRevision: return RegisterFrame(a0: 4, a1: 10)
        case .exchangeCapabilities: return RegisterFrame(a0: 0, a1: UInt64(caps.rawValue), a2: 255, a3: 4)
        case .getThreadCount: return reportThreads ? RegisterFrame(a0: 0, a1: UInt64(threads)) : RegisterFrame(a0: 0xFFFF_FFFF)
        case .enableAsyncNotif: return RegisterFrame(a0: 0)
        case .getAsyncNotifValue:
            return state.withLock { s in
                guard !s.asyncValues.isEmpty else { return RegisterFrame(a0: 0, a1: 0, a2: 0) }
                let v = s.asyncValues.removeFirst()
                return RegisterFrame(a0: 0, a1: v, a2: UInt64(OPTEEIdentity.asyncNotifValid | (s.asyncValues.isEmpty ? 0 : OPTEEIdentity.asyncNotifPending)))
            }
        case .callWithArg, .callWithRPCArg: return start(f)
        case .returnFromRPC: return resume(f)
        default: return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }

    private func readArg(_ ipa: IPA, _ n: Int = MsgArg.maxNumParams) -> MsgArg? {
        guard let hdr = try? space.read(ipa, count: 32) else { return nil }
        let count = Int(UInt32(hdr[28]) | UInt32(hdr[29]) << 8)
        guard count <= n, let b = try? space.read(ipa, count: MsgArg.size(numParams: count)) else { return nil }
        return try? MsgArg.decode(b, validateAttributes: false)
    }

    private func start(_ f: RegisterFrame) -> RegisterFrame {
        let ipa = IPA(RegisterFrame.join(f.a1, f.a2))
        guard let arg = readArg(ipa) else { return RegisterFrame(a0: UInt64(SMCReturn.ebadaddr.rawValue)) }
        let tid: Int? = state.withLock { s in
            guard let t = (0..<threads).first(where: { s.busy[$0] == nil }) else { return nil }
            s.busy[t] = Call(arg: ipa, numParams: arg.params.count, withRPCArg: f.function == .callWithRPCArg, function: arg.function)
            s.maxBusy = max(s.maxBusy, s.busy.count)
            return t
        }
        guard let tid else { return RegisterFrame(a0: UInt64(SMCReturn.ethreadLimit.rawValue)) }
        var out = arg
        switch arg.cmd {
        case .invokeCommand:
            switch Function(rawValue: arg.function) {
            case .increment:
                out.params[0].a += 1
                return finish(tid, out, .success)
            case .rpcTour:
                return step(tid, resume: nil)
            case .hold:
                return rpcCmd(tid, MsgArg(cmd: MsgCommand(rawValue: RPCCommand.suspend.rawValue), params: [.value(.valueInput, a: arg.params[0].a)]))
            case nil:
                return finish(tid, out, .notSupported)
            }
        case .registerSHM:
            state.withLock { _ = $0.registered.insert(arg.params[0].shmRef) }
            return finish(tid, out, arg.params.count == 1 && arg.params[0].attr.isNoncontig ? .success : .badParameters)
        case .unregisterSHM:
            let known = state.withLock { $0.registered.remove(arg.params[0].shmRef) != nil }
            return finish(tid, out, known ? .success : .itemNotFound)
        default:
            return finish(tid, out, .success)
        }
    }

    private func finish(_ tid: Int, _ arg: MsgArg, _ ret: TEEResult) -> RegisterFrame {
        guard let call = state.withLock({ $0.busy.removeValue(forKey: tid) }) else { return RegisterFrame(a0: 5) }
        var out = arg; out.ret = ret; out.retOrigin = .trustedApp
        try? space.write(call.arg, out.encoded())
        return RegisterFrame(a0: 0)
    }

    private func rpcArgAddress(_ c: Call) -> IPA {
        c.withRPCArg ? IPA(c.arg.raw + UInt64(MsgArg.size(numParams: c.numParams))) : IPA(c.allocIPA)
    }

    private func rpcCmd(_ tid: Int, _ rpc: MsgArg) -> RegisterFrame {
        guard let c = state.withLock({ $0.busy[tid] }) else { return RegisterFrame(a0: 5) }
        try? space.write(rpcArgAddress(c), rpc.encoded())
        let (h, l) = RegisterFrame.split(c.withRPCArg ? 0 : c.allocCookie)
        return RegisterFrame(a0: UInt64(SMCReturn.rpc(.cmd).rawValue), a1: h, a2: l, a3: UInt64(tid))
    }

    private func resume(_ f: RegisterFrame) -> RegisterFrame {
        let tid = Int(f.a3)
        guard let c = state.withLock({ $0.busy[tid] }) else { return RegisterFrame(a0: UInt64(SMCReturn.ebadcmd.rawValue)) }
        if Function(rawValue: c.function) == .hold {
            guard let arg = readArg(c.arg) else { return RegisterFrame(a0: 5) }
            return finish(tid, arg, .success)
        }
        return step(tid, resume: f)
    }

    private func rpcBack(_ c: Call) -> MsgArg? { readArg(rpcArgAddress(c), 4) }

    /// The RPC tour, one step per return to the normal world.
    private func step(_ tid: Int, resume f: RegisterFrame?) -> RegisterFrame {
        guard var c = state.withLock({ $0.busy[tid] }) else { return RegisterFrame(a0: 5) }
        var finished = false
        defer { if !finished { state.withLock { $0.busy[tid] = c } } }
        func rpc(_ fn: RPCFunction, a1: UInt64 = 0, a2: UInt64 = 0) -> RegisterFrame {
            RegisterFrame(a0: UInt64(SMCReturn.rpc(fn).rawValue), a1: a1, a2: a2, a3: UInt64(tid))
        }
        func cmd(_ r: RPCCommand, _ p: [MsgParam]) -> RegisterFrame {
            try? space.write(rpcArgAddress(c), MsgArg(cmd: MsgCommand(rawValue: r.rawValue), params: p).encoded())
            let (h, l) = RegisterFrame.split(c.withRPCArg ? 0 : c.allocCookie)
            return rpc(.cmd, a1: h, a2: l)
        }
        c.pc += 1
        switch c.pc {
        case 1:
            if !c.withRPCArg { return rpc(.alloc, a1: 4096) }
            c.pc = 2; fallthrough
        case 2:
            if let f, !c.withRPCArg {
                c.allocIPA = RegisterFrame.join(f.a1, f.a2); c.allocCookie = RegisterFrame.join(f.a4, f.a5)
                if c.allocIPA != 0, c.allocIPA & 0xFFF == 0, c.allocCookie != 0 { c.checks |= 1 << 0 }
            } else if c.withRPCArg { c.checks |= 1 << 0 }
            return cmd(.getTime, [.value(.valueOutput)])
        case 3:
            if let b = rpcBack(c), b.ret == .success, b.params[0].a > 1_600_000_000 { c.checks |= 1 << 1 }
            return rpc(.foreignInterrupt)
        case 4:
            return cmd(.shmAlloc, [.value(.valueInput, a: RPCShmType.kernel.rawValue, b: 5000, c: 8)])
        case 5:
            if let b = rpcBack(c), b.ret == .success, b.params[0].attr == MsgAttr(.tmemOutput, noncontig: true), b.params[0].size >= 5000,
               let list = try? space.read(IPA(b.params[0].bufPtr & ~0xFFF), count: 4096) {
                // The page list names two data pages the guest can write.
                let e0 = list[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                if (try? space.write(IPA(e0), [1])) != nil { c.checks |= 1 << 2 }
                c.shmCookie = b.params[0].shmRef
            }
            return cmd(.shmFree, [.value(.valueInput, a: RPCShmType.kernel.rawValue, b: c.shmCookie)])
        case 6:
            if let b = rpcBack(c), b.ret == .success { c.checks |= 1 << 3 }
            return cmd(RPCCommand(rawValue: 99), [])
        case 7:
            if let b = rpcBack(c), b.ret == .notSupported { c.checks |= 1 << 4 }
            return RegisterFrame(a0: 0xFFFF_0009, a3: UInt64(tid))   // unknown RPC function: just resumed
        case 8:
            if !c.withRPCArg { let (h, l) = RegisterFrame.split(c.allocCookie); return rpc(.free, a1: h, a2: l) }
            c.pc = 9; fallthrough
        default:
            guard var arg = readArg(c.arg) else { return RegisterFrame(a0: 5) }
            arg.params[0].a = c.checks
            state.withLock { $0.busy[tid] = nil }
            arg.ret = .success
            try? space.write(c.arg, arg.encoded())
            finished = true
            return RegisterFrame(a0: 0)
        }
    }
}
