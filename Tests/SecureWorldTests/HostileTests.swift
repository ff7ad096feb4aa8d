import Testing
import TEEABI
import Machine
@testable import SecureWorld

@Suite struct HostileTests {
    func world(_ config: SecureWorldConfig = .init()) throws -> (RawNormalWorld, UInt32) {
        let nw = try RawNormalWorld(config: config)
        _ = nw.createVM(1)
        _ = nw.createVM(2)
        let (_, _, s) = nw.open(TestTAs.main)
        return (nw, s)
    }

    /// The core still serves a normal call after an attack.
    func stillServes(_ nw: RawNormalWorld, _ s: UInt32) -> Bool {
        nw.invoke(s, Cmd.inc, params: [.value(.valueInout, a: 1)])?.params[0].a == 2
    }

    @Test func threadExhaustionGivesEThreadLimitAndRecovers() throws {
        let (nw, s) = try world(.init(threadsPerVM: 2))
        var suspended: [RegisterFrame] = []
        for _ in 0..<2 {
            let pa = nw.pages()
            nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.suspend, session: s, params: [.value(.valueInput, a: 1)]))
            let f = nw.world.smc(nw.callFrame(pa))
            #expect(f.ret.isRPC)
            suspended.append(f)
        }
        #expect(nw.world.stats(clientID: 1)?.threadsSuspended == 2)
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.inc, session: s, params: [.value(.valueInout)]))
        #expect(nw.world.smc(nw.callFrame(pa)).ret == .ethreadLimit)
        // Another VM has its own pool.
        let (r2, _, _) = nw.open(TestTAs.main, client: 2)
        #expect(r2 == .success)
        for f in suspended { #expect(nw.complete(nw.world.smc(nw.serve(f))).ret == .ok) }
        #expect(nw.world.smc(nw.callFrame(pa)).ret == .ok)
        #expect(nw.world.counters.smcErrors[.ethreadLimit] == 1)
    }

    @Test func resumeWithBadForeignOrNotSuspendedThreadIdsIsEResume() throws {
        let (nw, s) = try world()
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.suspend, session: s, params: [.value(.valueInput, a: 1)]))
        let f = nw.world.smc(nw.callFrame(pa))
        #expect(f.ret == .rpc(.alloc))
        // Out of range, not suspended, and VM 2 naming VM 1's thread.
        #expect(nw.world.smc(RegisterFrame(.returnFromRPC, a3: 99, a7: 1)).ret == .eresume)
        #expect(nw.world.smc(RegisterFrame(.returnFromRPC, a3: f.a3 + 1, a7: 1)).ret == .eresume)
        #expect(nw.world.smc(RegisterFrame(.returnFromRPC, a3: f.a3, a7: 2)).ret == .eresume)
        #expect(nw.world.smc(RegisterFrame(.returnFromRPC, a3: f.a3, a7: 0)).ret == .enotavail)
        // The owner can still resume it, once.
        let g = nw.world.smc(nw.serve(f))
        #expect(g.ret.isRPC)
        #expect(nw.complete(g).ret == .ok)
        #expect(nw.world.stats(clientID: 1)?.threadsBusy == 0)
        // Once done, the id is not suspended any more.
        #expect(nw.world.smc(nw.serve(f)).ret == .eresume)
        #expect(nw.world.counters.smcErrors[.eresume] == 4)
        #expect(stillServes(nw, s))
    }

    @Test func resumeOfAThreadThatIsRunningIsEResume() async throws {
        let (nw, s) = try world()
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.external, session: s, params: [.value(.valueInput, a: 300)]))
        TestTAs.externalStarted.withLock { $0 = false }
        TestTAs.externalRelease.store(false, ordering: .releasing)
        // The TA signals when it runs (its thread busy on the detached task's vCPU); no polling.
        var running: Task<SMCReturn, Never>? = nil
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            TestTAs.externalStartedSignal.withLock { $0 = started }
            running = Task.detached { nw.complete(nw.world.smc(nw.callFrame(pa))).ret }
        }
        #expect(TestTAs.externalStarted.withLock { $0 })
        #expect(nw.world.smc(RegisterFrame(.returnFromRPC, a3: 0, a7: 1)).ret == .eresume)
        TestTAs.externalRelease.store(true, ordering: .releasing)
        #expect(await running?.value == .ok)
        #expect(nw.readArg(pa)?.ret == .success)
    }

    @Test func aTAAwaitingOutsideTheSecureWorldYieldsWithForeignInterrupts() async throws {
        let (nw, s) = try world(.init(externalAwaitBudget: .milliseconds(1)))
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.gate, session: s))
        // The command cannot finish before the gate opens: the vCPU gets FOREIGN_INTR back.
        var f = nw.world.smc(nw.callFrame(pa))
        #expect(f.ret == .rpc(.foreignInterrupt))
        f = nw.world.smc(nw.serve(f))
        #expect(f.ret == .rpc(.foreignInterrupt))
        let gate = TestTAs.gate.withLock { g -> CheckedContinuation<Void, Never>? in let c = g; g = nil; return c }
        #expect(gate != nil)
        gate?.resume()
        // The wake-up reaches the secure thread through the global executor (the TA's own
        // continuation resumes there, then hops back to its thread): until it is in, each entry
        // yields FOREIGN_INTR again. This test yields its pool thread between entries, so the
        // hop can run even on a saturated 2-wide pool; bounded so a lost wake-up fails.
        let deadline = ContinuousClock.now + .seconds(60)
        f = nw.world.smc(nw.serve(f))
        while f.ret == .rpc(.foreignInterrupt), ContinuousClock.now < deadline {
            await Task.yield()
            f = nw.world.smc(nw.serve(f))
        }
        #expect(nw.complete(f).ret == .ok)
        #expect(nw.readArg(pa)?.ret == .success)
        #expect(nw.world.stats(clientID: 1)?.threadsBusy == 0)
    }

    @Test func twoVMsAreIsolated() throws {
        let (nw, s) = try world()
        let p = nw.pages()
        _ = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: nw.pageList([p]), size: 4096, shmRef: 0x42, noncontig: true)]))
        // VM 2 cannot use VM 1's session or shm cookie.
        #expect(nw.invoke(s, Cmd.inc, client: 2, params: [.value(.valueInout)])?.ret == .badParameters)
        #expect(nw.close(s, client: 2) == .itemNotFound)
        let (_, _, s2) = nw.open(TestTAs.main, client: 2)
        #expect(nw.invoke(s2, Cmd.echo, client: 2, params: [.rmem(.rmemInput, offset: 0, size: 1, shmRef: 0x42),
                                                             .rmem(.rmemOutput, offset: 0, size: 1, shmRef: 0x42)])?.ret == .badParameters)
        #expect(nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 0x42)]), client: 2).arg?.ret == .badParameters)
        #expect(nw.world.smc(RegisterFrame(.callWithRegdArg, a1: 0, a2: 0x42, a3: 0, a7: 2)).ret == .ebadaddr)
        #expect(nw.world.stats(clientID: 1)?.registeredSHM == 1)
        #expect(nw.world.stats(clientID: 2)?.registeredSHM == 0)
        #expect(stillServes(nw, s))
    }

    @Test func stdCallsFromHypervisorOrUnknownVMAreENotAvail() throws {
        let (nw, _) = try world()
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .closeSession, session: 1))
        #expect(nw.world.smc(nw.callFrame(pa, client: 0)).ret == .enotavail)
        #expect(nw.world.smc(nw.callFrame(pa, client: 77)).ret == .enotavail)
    }

    @Test func vmDestroyedFreesSessionsSHMAndSuspendedThreads() throws {
        let (nw, s) = try world()
        let p = nw.pages()
        _ = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: nw.pageList([p]), size: 4096, shmRef: 5, noncontig: true)]))
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.wait, session: s, params: [.value(.valueInput, a: 1)]))
        var f = nw.world.smc(nw.callFrame(pa))
        while f.ret.rpcFunction != .cmd { f = nw.world.smc(nw.serve(f)) }
        #expect(nw.world.stats(clientID: 1) == SecureWorldClientStats(sessions: 1, registeredSHM: 1, threadsBusy: 1, threadsSuspended: 1, instances: 1))
        #expect(nw.world.smc(RegisterFrame(.vmDestroyed, a1: 1, a7: 0)).ret == .ok)
        #expect(nw.world.stats(clientID: 1) == nil)
        // The suspended thread is gone: resuming it is ENOTAVAIL (no such VM).
        #expect(nw.world.smc(nw.serve(f)).ret == .enotavail)
        // A new VM with the same id starts empty.
        #expect(nw.createVM(1) == .ok)
        #expect(nw.world.stats(clientID: 1) == SecureWorldClientStats(sessions: 0, registeredSHM: 0, threadsBusy: 0, threadsSuspended: 0, instances: 0))
        #expect(nw.invoke(s, Cmd.inc, params: [.value(.valueInout)])?.ret == .badParameters)
    }

    @Test func badArgumentAddressesAreEBadAddr() throws {
        let (nw, _) = try world()
        let secure = try #require(nw.memory.region(containing: PA(0x8000_0000)))
        func call(_ pa: UInt64, _ f: SMCFunctionID = .callWithArg) -> SMCReturn {
            let (h, l) = RegisterFrame.split(pa)
            return nw.world.smc(RegisterFrame(f, a1: h, a2: l, a7: 1)).ret
        }
        #expect(call(secure.basePA.raw) == .ebadaddr)            // secure RAM
        #expect(call(0x10) == .ebadaddr)                         // nowhere
        #expect(call(nw.pages().raw + 4) == .ebadaddr)           // misaligned
        // num_params above 127.
        let p = nw.pages()
        var head = MsgArg(cmd: .invokeCommand).encoded()
        head.replaceSubrange(28..<32, with: [200, 0, 0, 0])
        nw.write(p, head)
        #expect(call(p.raw) == .ebadaddr)
        // An argument that crosses its page.
        let q = nw.pages(2)
        nw.writeArg(PA(q.raw + 4000), MsgArg(cmd: .invokeCommand, params: [.none, .none, .none, .none]))
        #expect(call(q.raw + 4000) == .ebadaddr)
        // CALL_WITH_RPC_ARG needs room for the RPC argument in the same page.
        nw.writeArg(PA(q.raw + 3900), MsgArg(cmd: .invokeCommand))
        #expect(call(q.raw + 3900, .callWithRPCArg) == .ebadaddr)
        // Unknown std function id.
        #expect(nw.world.smc(RegisterFrame(a0: 0x3200_00EE, a7: 1)).ret == .ebadcmd)
        #expect(nw.world.stats(clientID: 1)?.threadsBusy == 0)
    }

    @Test func hostileParamsGetOPTEEErrorCodes() throws {
        let (nw, s) = try world()
        let secure = try #require(nw.memory.region(containing: PA(0x8000_0000)))
        func inv(_ params: [MsgParam]) -> TEEResult? { nw.invoke(s, Cmd.echo, params: params)?.ret }
        let ok = nw.pages()
        // More than four TA params.
        #expect(inv(Array(repeating: .value(.valueInput), count: 5)) == .badParameters)
        // Unknown attribute types, stray bits, META on an invoke param.
        #expect(inv([MsgParam(attr: MsgAttr(rawValue: 4))]) == .badParameters)
        #expect(inv([MsgParam(attr: MsgAttr(rawValue: 0x401))]) == .badParameters)
        #expect(inv([MsgParam(attr: MsgAttr(rawValue: 0x8000_0000_0000_0001))]) == .badParameters)
        #expect(inv([.value(.valueInput, meta: true)]) == .badParameters)
        // tmem in secure RAM, out of any region, wrapping.
        #expect(inv([.tmem(.tmemInput, bufPtr: secure.basePA.raw, size: 16, shmRef: 1), .tmem(.tmemOutput, bufPtr: ok.raw, size: 16, shmRef: 1)]) == .badParameters)
        #expect(inv([.tmem(.tmemInput, bufPtr: 0x1000, size: 16, shmRef: 1), .tmem(.tmemOutput, bufPtr: ok.raw, size: 16, shmRef: 1)]) == .badParameters)
        #expect(inv([.tmem(.tmemInput, bufPtr: UInt64.max - 4, size: 16, shmRef: 1), .tmem(.tmemOutput, bufPtr: ok.raw, size: 16, shmRef: 1)]) == .badParameters)
        #expect(inv([.tmem(.tmemInput, bufPtr: ok.raw, size: 1 << 40, shmRef: 1), .tmem(.tmemOutput, bufPtr: ok.raw, size: 16, shmRef: 1)]) == .outOfMemory)
        // Invoke on an unknown session.
        #expect(nw.invoke(0xDEAD, Cmd.inc, params: [.value(.valueInout)])?.ret == .badParameters)
        // Unknown message command: EBADCMD from the SMC.
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: MsgCommand(rawValue: 0x77)))
        #expect(nw.world.smc(nw.callFrame(pa)).ret == .ebadcmd)
        #expect(nw.world.counters.teeErrors[.badParameters, default: 0] >= 9)
        #expect(stillServes(nw, s))
    }

    @Test func hostileOpenSessionMetaAndLogin() throws {
        let (nw, s) = try world()
        func open(_ params: [MsgParam]) -> MsgArg? { nw.call(MsgArg(cmd: .openSession, params: params)).arg }
        let meta = OpenSessionMeta(ta: TestTAs.main, client: .zero, login: .public).params
        #expect(open([]).map { $0.ret } == .badParameters)
        #expect(open([meta[0]]).map { $0.ret } == .badParameters)
        var bad = meta; bad[1].attr = MsgAttr(.valueInput)
        #expect(open(bad).map { $0.ret } == .badParameters)
        var login = meta; login[1].c = 3
        #expect(open(login).map { $0.ret } == .badParameters)
        var ta = meta; ta[1].c = UInt64(LoginMethod.trustedApp.rawValue)
        #expect(open(ta).map { $0.ret } == .badParameters)
        #expect(open(meta + Array(repeating: .value(.valueInput), count: 5)).map { $0.ret } == .badParameters)
        let r = open(meta)
        #expect(r?.ret == .success && r?.retOrigin == .trustedApp)
        #expect(stillServes(nw, s))
        // CLOSE and CANCEL with params: BAD_PARAMETERS.
        #expect(nw.call(MsgArg(cmd: .closeSession, session: s, params: [.none])).arg?.ret == .badParameters)
        #expect(nw.call(MsgArg(cmd: .cancel, session: s, params: [.none])).arg?.ret == .badParameters)
    }

    @Test func hostilePageListsLoopsOverlongAndSecurePages() throws {
        let (nw, s) = try world(.init(maxSHMPages: 600))
        let secure = try #require(nw.memory.region(containing: PA(0x8000_0000)))
        func reg(_ bufPtr: UInt64, _ size: UInt64, _ cookie: UInt64) -> TEEResult? {
            nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: bufPtr, size: size, shmRef: cookie, noncontig: true)])).arg?.ret
        }
        // A list whose next pointer points to itself, for a buffer needing two list pages.
        let loop = nw.pages()
        let data = nw.pages()
        nw.write(loop, PageList.Page(entries: Array(repeating: data.raw, count: 511), next: loop.raw).encoded())
        #expect(reg(loop.raw, UInt64(512 * 4096), 1) == .badParameters)
        // Longer than the limit.
        #expect(reg(loop.raw, UInt64(601 * 4096), 2) == .outOfMemory)
        // Data page in secure RAM, unaligned data page, list page in secure RAM, size 0, overflow.
        let l1 = nw.pages()
        nw.write(l1, PageList.Page(entries: [secure.basePA.raw], next: 0).encoded())
        #expect(reg(l1.raw, 4096, 3) == .badParameters)
        nw.write(l1, PageList.Page(entries: [data.raw + 8], next: 0).encoded())
        #expect(reg(l1.raw, 4096, 4) == .badParameters)
        #expect(reg(secure.basePA.raw, 4096, 5) == .badParameters)
        #expect(reg(nw.pageList([data]), 0, 6) == .badParameters)
        #expect(reg(nw.pageList([data]), UInt64.max, 7) == .badParameters)
        #expect(reg(nw.pageList([data]), 4096, 0) == .badParameters)
        // Wrong attribute for REGISTER_SHM.
        #expect(nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemInput, bufPtr: nw.pageList([data]), size: 10, shmRef: 8, noncontig: true)])).arg?.ret == .badParameters)
        // Same loop as a NONCONTIG tmem param.
        #expect(nw.invoke(s, Cmd.echo, params: [.tmem(.tmemInput, bufPtr: loop.raw, size: UInt64(512 * 4096), shmRef: 1, noncontig: true),
                                                  .tmem(.tmemOutput, bufPtr: data.raw, size: 1, shmRef: 1)])?.ret == .badParameters)
        #expect(nw.world.stats(clientID: 1)?.registeredSHM == 0)
        #expect(stillServes(nw, s))
    }

    @Test func hostileRPCAnswersDoNotCrashTheCore() throws {
        let (nw, s) = try world()
        // RPC_ALLOC answered with secure memory, then with 0: OUT_OF_MEMORY to the TA.
        let secure = try #require(nw.memory.region(containing: PA(0x8000_0000)))
        nw.lock.withLock { $0.allocAnswer = { _ in (secure.basePA.raw, 0x99) } }
        let a = nw.invoke(s, Cmd.reeTime, params: [.value(.valueOutput)])
        #expect(a?.ret == .outOfMemory)
        #expect(nw.lock.withLock { $0.freedCookies.contains(0x99) })
        nw.lock.withLock { $0.allocAnswer = { _ in (0, 0) } }
        #expect(nw.invoke(s, Cmd.reeTime, params: [.value(.valueOutput)])?.ret == .outOfMemory)
        nw.lock.withLock { $0.allocAnswer = nil }
        #expect(stillServes(nw, s))
    }

    @Test func garbageFramesNeverCrash() throws {
        let (nw, s) = try world()
        var g = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var f = RegisterFrame(a0: g.next(), a1: g.next(), a2: g.next(), a3: g.next() % 16, a4: g.next(), a5: g.next(), a6: g.next(), a7: g.next() % 4)
            if g.next() % 2 == 0 { f.a0 = UInt64([0x3200_0003, 0x3200_0004, 0x3200_0012, 0x3200_0013, 0xB200_000A, 0xB200_000B][Int(g.next() % 6)]) }
            let r = nw.world.smc(f)
            if r.ret.isRPC { _ = nw.complete(r, client: f.a7) }
        }
        #expect(stillServes(nw, s))
    }

    @Test func perVMLimitsOnSessionsAndRegisteredSHMAnswerOutOfMemory() throws {
        let nw = try RawNormalWorld(config: .init(maxSessionsPerVM: 3, maxRegisteredSHMPerVM: 2))
        _ = nw.createVM(1); _ = nw.createVM(2)
        for _ in 0..<3 { #expect(nw.open(TestTAs.main).0 == .success) }
        #expect(nw.open(TestTAs.main).0 == .outOfMemory)
        #expect(nw.open(TestTAs.main, client: 2).0 == .success)
        let p = nw.pages()
        for c in UInt64(1)...2 {
            let r = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: nw.pageList([p]), size: 4096, shmRef: c, noncontig: true)]))
            #expect(r.arg?.ret == .success)
        }
        let r = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: nw.pageList([p]), size: 4096, shmRef: 3, noncontig: true)]))
        #expect(r.arg?.ret == .outOfMemory)
    }

    @Test func shmCacheCannotChangeWhileAThreadIsBusy() throws {
        let (nw, s) = try world()
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.suspend, session: s, params: [.value(.valueInput, a: 1)]))
        let f = nw.world.smc(nw.callFrame(pa))
        #expect(f.ret.isRPC)
        #expect(nw.world.smc(RegisterFrame(.enableSHMCache, a7: 1)).ret == .ebusy)
        #expect(nw.world.smc(RegisterFrame(.disableSHMCache, a7: 1)).ret == .ebusy)
        #expect(nw.complete(nw.world.smc(nw.serve(f))).ret == .ok)
        #expect(nw.world.smc(RegisterFrame(.enableSHMCache, a7: 1)).ret == .ok)
    }

    @Test func aTAPanickingInCreateGivesTargetDeadAndLeavesNothingBehind() throws {
        let (nw, _) = try world()
        for _ in 0..<2 {
            let (r, origin, sid) = nw.open(TestTAs.crashingCreate)
            #expect(r == .targetDead && origin == TEEOrigin.tee.rawValue && sid == 0)
        }
        #expect(nw.world.stats(clientID: 1)?.instances == 1)   // the main TA's instance only
        #expect(nw.world.counters.taPanics == 2)
    }

    @Test func vmDestroyedInTheMiddleOfAStorageWriteUnwindsTheCommand() throws {
        let (nw, s) = try world()
        let id = nw.pages(), data = nw.pages()
        nw.write(id, [1]); nw.write(data, [2, 3])
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.put, session: s,
                               params: [.tmem(.tmemInput, bufPtr: id.raw, size: 1, shmRef: 1),
                                        .tmem(.tmemInput, bufPtr: data.raw, size: 2, shmRef: 1), .value(.valueInput, a: 1)]))
        var f = nw.world.smc(nw.callFrame(pa))
        var cmds = 0
        while f.ret.isRPC && cmds < 3 {
            if f.ret.rpcFunction == .cmd { cmds += 1 }
            if cmds < 3 { f = nw.world.smc(nw.serve(f)) }
        }
        #expect(f.ret == .rpc(.cmd))
        #expect(nw.world.smc(RegisterFrame(.vmDestroyed, a1: 1, a7: 0)).ret == .ok)
        #expect(nw.world.stats(clientID: 1) == nil)
        #expect(nw.world.stats(clientID: 2)?.threadsBusy == 0)
        #expect(nw.open(TestTAs.main, client: 2).0 == .success)
    }
}
