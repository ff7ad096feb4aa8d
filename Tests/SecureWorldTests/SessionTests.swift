import Testing
import Foundation
import Synchronization
import TEEABI
import SignedTA
import Machine
@testable import SecureWorld

@Suite struct SessionTests {
    func world(_ config: SecureWorldConfig = .init()) throws -> RawNormalWorld {
        let nw = try RawNormalWorld(config: config)
        _ = nw.createVM(1)
        return nw
    }

    @Test func openInvokeCloseWithValueParams() throws {
        let nw = try world()
        let (r, origin, s) = nw.open(TestTAs.main)
        #expect(r == .success && s != 0)
        #expect(origin == TEEOrigin.trustedApp.rawValue)
        let a = nw.invoke(s, Cmd.inc, params: [.value(.valueInout, a: 41, b: 7, c: 9)])
        #expect(a?.ret == .success)
        #expect(a?.params[0].a == 42 && a?.params[0].b == 7 && a?.params[0].c == 9)
        #expect(nw.world.stats(clientID: 1)?.sessions == 1)
        #expect(nw.close(s) == .success)
        #expect(nw.world.stats(clientID: 1) == SecureWorldClientStats(sessions: 0, registeredSHM: 0, threadsBusy: 0, threadsSuspended: 0, instances: 0))
        #expect(nw.close(s) == .itemNotFound)
    }

    @Test func aSynchronousLifecycleOpensAndClosesInlineWithTheTaskPathsResults() throws {
        // The VM's first open of the TA runs on the thread's task and finds its lifecycle
        // synchronous; the later ones (and every close) run inline on the entering vCPU. Both
        // paths must give the same answers and leave the same state.
        let nw = try world()
        let before = TestTAs.syncLifecycleCalls.withLock { $0 }
        let meta = OpenSessionMeta(ta: TestTAs.syncLifecycle, client: .zero, login: .public)
        var sessions: [UInt32] = []
        for k in 0..<3 {
            let a = nw.call(MsgArg(cmd: .openSession, params: meta.params + [.value(.valueInout, a: UInt64(k), b: 7)])).arg
            #expect(a?.ret == .success && a?.retOrigin == .trustedApp)
            #expect(a?.params[2].a == UInt64(k) + 100 && a?.params[2].b == 7)
            let s = a?.session ?? 0
            #expect(s != 0 && !sessions.contains(s))
            sessions.append(s)
        }
        #expect(nw.world.stats(clientID: 1)?.sessions == 3 && nw.world.stats(clientID: 1)?.instances == 3)
        // A refusal by the TA: its origin, no session, the instance dropped.
        let refused = nw.call(MsgArg(cmd: .openSession, params: meta.params + [.value(.valueInout, a: 999)])).arg
        #expect(refused?.ret == .accessDenied && refused?.retOrigin == .trustedApp && refused?.session == 0)
        #expect(nw.world.stats(clientID: 1)?.sessions == 3 && nw.world.stats(clientID: 1)?.instances == 3)
        for s in sessions { #expect(nw.invoke(s, 0, params: [.value(.valueInout, a: 1)])?.params[0].a == 2) }
        for s in sessions { #expect(nw.close(s) == .success) }
        #expect(nw.close(sessions[0]) == .itemNotFound)
        #expect(nw.world.stats(clientID: 1) == SecureWorldClientStats(sessions: 0, registeredSHM: 0, threadsBusy: 0, threadsSuspended: 0, instances: 0))
        let after = TestTAs.syncLifecycleCalls.withLock { $0 }
        #expect(after.creates - before.creates >= 4 && after.opens - before.opens >= 4)
        #expect(after.closes - before.closes >= 3 && after.destroys - before.destroys >= 4)
    }

    @Test func valueInputIsNotWrittenBackAndTypesReachTheTA() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let a = nw.invoke(s, Cmd.types, params: [.value(.valueOutput), .value(.valueInput, a: 5),
                                                   .tmem(.tmemInput, bufPtr: 0, size: 0, shmRef: 0),
                                                   .value(.valueInout)])
        #expect(a?.params[0].a == UInt64(GPParamTypes(.valueOutput, .valueInput, .memrefInput, .valueInout).rawValue))
        #expect(a?.params[1].a == 5)
    }

    @Test func tmemContiguousInputAndOutput() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let inPA = nw.pages(), outPA = nw.pages()
        nw.write(inPA, Array("hello secure".utf8))
        let a = nw.invoke(s, Cmd.echo, params: [.tmem(.tmemInput, bufPtr: inPA.raw, size: 12, shmRef: 1),
                                                  .tmem(.tmemOutput, bufPtr: outPA.raw, size: 64, shmRef: 2)])
        #expect(a?.ret == .success)
        #expect(a?.params[1].size == 12)
        #expect(nw.read(outPA, 12) == Array("hello secure".utf8))
        // Too small output: SHORT_BUFFER with the needed size, nothing written.
        let small = nw.pages()
        let b = nw.invoke(s, Cmd.echo, params: [.tmem(.tmemInput, bufPtr: inPA.raw, size: 12, shmRef: 1),
                                                  .tmem(.tmemOutput, bufPtr: small.raw, size: 4, shmRef: 2)])
        #expect(b?.ret == .shortBuffer && b?.params[1].size == 12)
        #expect(nw.read(small, 4) == [0, 0, 0, 0])
    }

    @Test func tmemNoncontigPageListSpanningPages() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let data = (0..<9000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let inPages = (0..<3).map { _ in nw.pages() }.reversed().map { $0 }
        // Offset 100 inside the first page.
        var left = data[...]
        for (i, p) in inPages.enumerated() {
            let start = i == 0 ? 100 : 0
            let n = min(pageSize - start, left.count)
            nw.write(PA(p.raw + UInt64(start)), Array(left.prefix(n))); left = left.dropFirst(n)
        }
        let inList = nw.pageList(inPages, offset: 100)
        let outPages = (0..<3).map { _ in nw.pages() }
        let outList = nw.pageList(outPages)
        let a = nw.invoke(s, Cmd.echo, params: [.tmem(.tmemInput, bufPtr: inList, size: 9000, shmRef: 1, noncontig: true),
                                                  .tmem(.tmemOutput, bufPtr: outList, size: 9000, shmRef: 2, noncontig: true)])
        #expect(a?.ret == .success)
        let back = nw.read(outPages[0], 4096) + nw.read(outPages[1], 4096) + nw.read(outPages[2], 808)
        let same = back == data
        #expect(same)
    }

    @Test func registeredSHMWithRmemParamsAndBoundsChecks() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let ps = (0..<2).map { _ in nw.pages() }
        nw.write(ps[0], Array("registered".utf8))
        let list = nw.pageList(ps)
        let reg = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: list, size: 8192, shmRef: 0xC0FFEE, noncontig: true)]))
        #expect(reg.arg?.ret == .success)
        #expect(nw.world.stats(clientID: 1)?.registeredSHM == 1)
        let a = nw.invoke(s, Cmd.echo, params: [.rmem(.rmemInput, offset: 0, size: 10, shmRef: 0xC0FFEE),
                                                  .rmem(.rmemOutput, offset: 4096, size: 100, shmRef: 0xC0FFEE)])
        #expect(a?.ret == .success && a?.params[1].size == 10)
        #expect(nw.read(ps[1], 10) == Array("registered".utf8))
        // Out of bounds: TEE_ERROR_SECURITY; unknown cookie: BAD_PARAMETERS.
        #expect(nw.invoke(s, Cmd.echo, params: [.rmem(.rmemInput, offset: 8000, size: 200, shmRef: 0xC0FFEE),
                                                  .rmem(.rmemOutput, offset: 0, size: 1, shmRef: 0xC0FFEE)])?.ret == .security)
        #expect(nw.invoke(s, Cmd.echo, params: [.rmem(.rmemInput, offset: UInt64.max, size: 2, shmRef: 0xC0FFEE),
                                                  .rmem(.rmemOutput, offset: 0, size: 1, shmRef: 0xC0FFEE)])?.ret == .security)
        #expect(nw.invoke(s, Cmd.echo, params: [.rmem(.rmemInput, offset: 0, size: 2, shmRef: 0xBAD),
                                                  .rmem(.rmemOutput, offset: 0, size: 1, shmRef: 0xC0FFEE)])?.ret == .badParameters)
        // Duplicate cookie refused.
        #expect(nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: list, size: 10, shmRef: 0xC0FFEE, noncontig: true)])).arg?.ret == .badParameters)
        let unreg = nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 0xC0FFEE)]))
        #expect(unreg.arg?.ret == .success)
        // An unknown (here: already unregistered) cookie is BAD_PARAMETERS, as in OP-TEE.
        #expect(nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 0xC0FFEE)])).arg?.ret == .badParameters)
    }

    @Test func callWithRegdArgReadsTheArgumentFromRegisteredSHM() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let p = nw.pages()
        let list = nw.pageList([p])
        _ = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: list, size: 4096, shmRef: 77, noncontig: true)]))
        nw.writeArg(PA(p.raw + 256), MsgArg(cmd: .invokeCommand, function: Cmd.reeTime, session: s, params: [.value(.valueOutput)]))
        let f = nw.complete(nw.world.smc(RegisterFrame(.callWithRegdArg, a1: 0, a2: 77, a3: 256, a7: 1)),
                            argPA: PA(p.raw + 256), rpcArg: true, params: 1)
        #expect(f.ret == .ok)
        let back = nw.readArg(PA(p.raw + 256))
        #expect(back?.ret == .success && back?.params[0].a == 1_700_000_000)
        // The shm is free again: unregister succeeds.
        #expect(nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 77)])).arg?.ret == .success)
        // Unknown cookie or misaligned offset: EBADADDR.
        #expect(nw.world.smc(RegisterFrame(.callWithRegdArg, a1: 0, a2: 77, a3: 0, a7: 1)).ret == .ebadaddr)
    }

    @Test func unregisterWhileInUseWaitsForTheLastUser() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let p = nw.pages()
        _ = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: nw.pageList([p]), size: 4096, shmRef: 9, noncontig: true)]))
        // A command holding an rmem of shm 9 is suspended at an RPC.
        let argPA = nw.pages()
        nw.writeArg(argPA, MsgArg(cmd: .invokeCommand, function: Cmd.suspend, session: s,
                                  params: [.value(.valueInput, a: 1), .rmem(.rmemInput, offset: 0, size: 8, shmRef: 9)]))
        var f = nw.world.smc(nw.callFrame(argPA))
        while f.ret.isRPC && !(f.ret.rpcFunction == .cmd) { f = nw.world.smc(nw.serve(f)) }
        #expect(f.ret.rpcFunction == .cmd)
        // UNREGISTER waits in the normal world (NOTIFICATION wait on 64 + its thread id, as
        // OP-TEE's condvar; never blocking the secure world) ...
        let uPA = nw.pages()
        nw.writeArg(uPA, MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 9)]))
        func untilCmd(_ start: RegisterFrame) -> RegisterFrame {
            var g = start
            while g.ret.isRPC && g.ret.rpcFunction != .cmd { g = nw.world.smc(nw.serve(g)) }
            return g
        }
        func rpcArg(_ g: RegisterFrame) -> MsgArg? {
            nw.lock.withLock { $0.rpcArgs[RegisterFrame.join(g.a1, g.a2)] }.flatMap { nw.readArg($0) }
        }
        var u = untilCmd(nw.world.smc(nw.callFrame(uPA)))
        let key = UInt64(SecureWorld.syncNotificationBase) + u.a3
        var w = try #require(rpcArg(u))
        #expect(w.cmd.rawValue == RPCCommand.notification.rawValue && w.params[0].a == RPCNotification.wait.rawValue && w.params[0].b == key)
        // ... no new call may take the shm meanwhile ...
        #expect(nw.invoke(s, Cmd.echo, params: [.rmem(.rmemInput, offset: 0, size: 1, shmRef: 9),
                                                  .rmem(.rmemOutput, offset: 0, size: 1, shmRef: 9)])?.ret == .badParameters)
        // ... a wake that is not the last user's just waits again ...
        u = untilCmd(nw.world.smc(nw.serve(u)))
        w = try #require(rpcArg(u))
        #expect(w.cmd.rawValue == RPCCommand.notification.rawValue && w.params[0].b == key)
        #expect(!nw.lock.withLock { $0.notified.contains(key) })
        // ... and completes once the last user is done, which sends its value.
        f = nw.complete(nw.world.smc(nw.serve(f)))
        #expect(f.ret == .ok)
        #expect(nw.lock.withLock { $0.notified.contains(key) })
        #expect(!nw.lock.withLock { $0.rpcFunctions.contains(RPCFunction.foreignInterrupt.rawValue) })
        u = nw.complete(nw.world.smc(nw.serve(u)))
        #expect(u.ret == .ok && nw.readArg(uPA)?.ret == .success)
        #expect(nw.world.stats(clientID: 1)?.registeredSHM == 0)
        #expect(nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 9)])).arg?.ret == .badParameters)
    }

    @Test func memrefNullReachesTheTAAsNull() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let inPA = nw.pages()
        nw.write(inPA, [1, 2, 3])
        // Output NULL with size 0: SHORT_BUFFER and the needed size (a size query).
        let a = nw.invoke(s, Cmd.echo, params: [.tmem(.tmemInput, bufPtr: inPA.raw, size: 3, shmRef: 1),
                                                  .tmem(.tmemOutput, bufPtr: 0, size: 0, shmRef: 0)])
        #expect(a?.ret == .shortBuffer && a?.params[1].size == 3)
    }

    @Test func aNullTemporaryMemrefReachesTheTAWithSizeZero() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        // The client names no buffer but claims 100 bytes: the TA sees a NULL memref of size 0.
        let a = nw.invoke(s, Cmd.memrefSize, params: [.tmem(.tmemInout, bufPtr: 0, size: 100, shmRef: 0), .value(.valueOutput)])
        #expect(a?.ret == .success)
        #expect(a?.params[1].a == 0 && a?.params[1].b == 1)
        // A real buffer reaches it with its size.
        let p = nw.pages()
        let b = nw.invoke(s, Cmd.memrefSize, params: [.tmem(.tmemInout, bufPtr: p.raw, size: 100, shmRef: 1), .value(.valueOutput)])
        #expect(b?.params[1].a == 100 && b?.params[1].b == 0)
    }

    @Test func unknownTAIsItemNotFoundAfterLoadTARPC() throws {
        let nw = try world()
        let (r, origin, s) = nw.open(TestTAs.missing)
        #expect(r == .itemNotFound && origin == TEEOrigin.tee.rawValue && s == 0)
        #expect(nw.lock.withLock { $0.rpcCommands.contains(RPCCommand.loadTA.rawValue) })
    }

    @Test func loadTAFetchesASignedImageFromTheNormalWorldAndTheLoaderRunsItsELF() throws {
        let loadable = TestTAs.uuid("22222222-0000-4000-8000-000000000001")
        let junk = TestTAs.uuid("22222222-0000-4000-8000-000000000002")
        let elf = Array("vtee-ta:main".utf8) + [UInt8](repeating: 7, count: 5000)
        let image = try SignedTAImage.sign(elf: elf, uuid: loadable, key: .development)
        let config = SecureWorldConfig(loadTA: { uuid, bytes throws(TEEResult) in
            guard bytes == elf else { throw .badFormat }
            return TADescriptor(uuid: uuid, name: "loaded") { MainTA() }
        })
        let nw = try world(config)
        nw.lock.withLock { $0.taImages = [loadable: image, junk: [1, 2, 3]] }
        let (r, _, s) = nw.open(loadable)
        #expect(r == .success)
        #expect(nw.invoke(s, Cmd.inc, params: [.value(.valueInout, a: 1)])?.params[0].a == 2)
        // An unsigned image never reaches the loader.
        let (r2, o2, _) = nw.open(junk)
        #expect(r2 == .security && o2 == TEEOrigin.tee.rawValue)
    }

    @Test func loadTAIntoANonContiguousSHMAllocBufferGoesOutAsRmem() throws {
        let loadable = TestTAs.uuid("22222222-0000-4000-8000-000000000003")
        let elf = Array("vtee-ta:main".utf8) + [UInt8](repeating: 9, count: 9000)
        let image = try SignedTAImage.sign(elf: elf, uuid: loadable, key: .development)
        let config = SecureWorldConfig(loadTA: { uuid, bytes throws(TEEResult) in
            guard bytes == elf else { throw .badFormat }
            return TADescriptor(uuid: uuid, name: "loaded") { MainTA() }
        })
        let nw = try world(config)
        nw.lock.withLock { $0.taImages = [loadable: image]; $0.noncontigSHM = true }
        let (r, _, s) = nw.open(loadable)
        #expect(r == .success)
        #expect(nw.invoke(s, Cmd.inc, params: [.value(.valueInout, a: 1)])?.params[0].a == 2)
        // The size query, then the fetch into the three-page buffer as RMEM(cookie, offset 0).
        let sent = nw.lock.withLock { $0.loadTAParams }
        #expect(sent.count == 2)
        #expect(sent.last?.attr == MsgAttr(.rmemOutput) && sent.last?.a == 0 && sent.last?.size == UInt64(image.count))
        let cookie = sent.last?.shmRef ?? 0
        #expect(nw.lock.withLock { $0.rpcShmPages[cookie]?.count } == 3)
    }

    @Test func failingOpenSessionGivesTheTAResultWithOriginTrustedApp() throws {
        let nw = try world()
        let (r, origin, s) = nw.open(TestTAs.failingOpen)
        #expect(r == .accessDenied && origin == TEEOrigin.trustedApp.rawValue && s == 0)
        #expect(nw.world.stats(clientID: 1)?.instances == 0)
    }

    @Test func singleInstanceNonMultiSessionTAIsBusyForASecondSession() throws {
        let nw = try world()
        let (r1, _, s1) = nw.open(TestTAs.single)
        #expect(r1 == .success)
        let (r2, o2, _) = nw.open(TestTAs.single)
        #expect(r2 == .busy && o2 == TEEOrigin.tee.rawValue)
        #expect(nw.close(s1) == .success)
        let (r3, _, _) = nw.open(TestTAs.single)
        #expect(r3 == .success)
    }

    @Test func aCallOnABusySingleInstanceTAWaitsThroughNotificationUntilTheOwnerReleasesIt() throws {
        // OP-TEE's condvar on a busy TA: the second caller sleeps in the normal world on
        // NOTIFICATION wait (NOTIF_SYNC_VALUE_BASE + its thread id) and the owner's release sends
        // that value; no FOREIGN_INTR polling.
        let nw = try world()
        let (_, _, a) = nw.open(TestTAs.shared)
        let (_, _, b) = nw.open(TestTAs.shared)
        func untilCmd(_ s: UInt32, _ cmd: UInt32) -> (RegisterFrame, PA) {
            let pa = nw.pages()
            nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: cmd, session: s, params: [.value(.valueOutput)]))
            var f = nw.world.smc(nw.callFrame(pa))
            while f.ret.isRPC && f.ret.rpcFunction != .cmd { f = nw.world.smc(nw.serve(f)) }
            return (f, pa)
        }
        func rpcArg(_ f: RegisterFrame) -> MsgArg? {
            nw.lock.withLock { $0.rpcArgs[RegisterFrame.join(f.a1, f.a2)] }.flatMap { nw.readArg($0) }
        }
        // A holds the instance, suspended at GET_TIME.
        let (fa, paA) = untilCmd(a, 2)
        #expect(rpcArg(fa)?.cmd.rawValue == RPCCommand.getTime.rawValue)
        // B finds it busy and waits on its own notification value.
        let (fb, paB) = untilCmd(b, 1)
        let wait = try #require(rpcArg(fb))
        let key = UInt64(SecureWorld.syncNotificationBase) + fb.a3
        #expect(wait.cmd.rawValue == RPCCommand.notification.rawValue)
        #expect(wait.params[0].a == RPCNotification.wait.rawValue && wait.params[0].b == key)
        #expect(!nw.lock.withLock { $0.rpcFunctions.contains(UInt32(RPCFunction.foreignInterrupt.rawValue)) })
        // A finishes; its release sends B's value before A's call returns.
        #expect(nw.complete(nw.world.smc(nw.serve(fa))).ret == .ok)
        #expect(nw.readArg(paA)?.ret == .success)
        #expect(nw.lock.withLock { $0.notified.contains(key) })
        // B wakes, takes the instance and counts second.
        #expect(nw.complete(nw.world.smc(nw.serve(fb))).ret == .ok)
        let back = nw.readArg(paB, params: 1)
        #expect(back?.ret == .success && back?.params[0].a == 2)
        #expect(nw.world.stats(clientID: 1)?.threadsBusy == 0)
    }

    @Test func aWaiterQueuedDuringAnInlineCommandIsWokenByTheThreadsTask() throws {
        // Call A runs a synchronous command inline on the shared instance; while it runs (a hook
        // inside the TA entry), call B on another thread finds the instance busy and waits on its
        // notification value. A's release then owes B a NOTIFICATION send: A's thread's task sends
        // it and finishes A's call, whose results stay intact; B then takes the instance.
        let nw = try world()
        let (_, _, a) = nw.open(TestTAs.shared)
        let (_, _, b) = nw.open(TestTAs.shared)
        let waiting = Mutex<(frame: RegisterFrame, pa: PA)?>(nil)
        let queued = DispatchSemaphore(value: 0)
        TestTAs.inlineHook.withLock { $0 = {
            Thread.detachNewThread {
                let pa = nw.pages()
                nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: 1, session: b, params: [.value(.valueOutput)]))
                var f = nw.world.smc(nw.callFrame(pa))
                while f.ret.isRPC && f.ret.rpcFunction != .cmd { f = nw.world.smc(nw.serve(f)) }
                waiting.withLock { $0 = (f, pa) }
                queued.signal()
            }
            _ = queued.wait(timeout: .now() + 60)   // bound only: B queues within microseconds
        } }
        let back = nw.invoke(a, 3, params: [.value(.valueOutput)])
        TestTAs.inlineHook.withLock { $0 = nil }
        #expect(back?.ret == .success && back?.params[0].a == 1)
        let (fb, paB) = try #require(waiting.withLock { $0 })
        let key = UInt64(SecureWorld.syncNotificationBase) + fb.a3
        #expect(nw.lock.withLock { $0.notified.contains(key) })
        #expect(nw.complete(nw.world.smc(nw.serve(fb))).ret == .ok)
        let bBack = nw.readArg(paB, params: 1)
        #expect(bBack?.ret == .success && bBack?.params[0].a == 2)
        #expect(nw.world.stats(clientID: 1)?.threadsBusy == 0)
    }

    @Test func multiSessionKeepAliveInstanceIsSharedAndSurvives() throws {
        let nw = try world()
        let (_, _, a) = nw.open(TestTAs.shared)
        let (_, _, b) = nw.open(TestTAs.shared)
        _ = nw.invoke(a, 1, params: [.value(.valueOutput)])
        let c = nw.invoke(b, 1, params: [.value(.valueOutput)])
        #expect(c?.params[0].a == 2)
        #expect(nw.world.stats(clientID: 1)?.instances == 1)
        _ = nw.close(a); _ = nw.close(b)
        #expect(nw.world.stats(clientID: 1)?.instances == 1)
        let (_, _, d) = nw.open(TestTAs.shared)
        #expect(nw.invoke(d, 1, params: [.value(.valueOutput)])?.params[0].a == 3)
    }

    @Test func taPanicKillsItsSessionsWithTargetDeadAndTheCoreKeepsRunning() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let (_, _, other) = nw.open(TestTAs.main)
        let a = nw.invoke(s, Cmd.panic)
        #expect(a?.ret == .targetDead && a?.retOrigin == .tee)
        let b = nw.invoke(s, Cmd.inc, params: [.value(.valueInout, a: 1)])
        #expect(b?.ret == .targetDead && b?.retOrigin == .tee)
        // Another instance is untouched.
        #expect(nw.invoke(other, Cmd.inc, params: [.value(.valueInout, a: 1)])?.params[0].a == 2)
        #expect(nw.close(s) == .success)
        #expect(nw.world.counters.taPanics == 1)
    }

    @Test func taToTASessionsWork() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let a = nw.invoke(s, Cmd.taToTA, params: [.value(.valueInout, a: 10)])
        #expect(a?.ret == .success && a?.params[0].a == 11)
        #expect(nw.world.stats(clientID: 1)?.sessions == 1)
    }

    @Test func randomFillsTheOutputMemref() throws {
        let nw = try world()
        let (_, _, s) = nw.open(TestTAs.main)
        let out = nw.pages()
        let a = nw.invoke(s, Cmd.random, params: [.tmem(.tmemOutput, bufPtr: out.raw, size: 64, shmRef: 1)])
        #expect(a?.ret == .success && a?.params[0].size == 64)
        #expect(nw.read(out, 64) != [UInt8](repeating: 0, count: 64))
    }

    @Test func noHypervisorModeServesOneImplicitClient() throws {
        let nw = try RawNormalWorld(config: .init(virtualization: false))
        let (r, _, s) = nw.open(TestTAs.main, client: 12345)
        #expect(r == .success)
        #expect(nw.invoke(s, Cmd.inc, client: 0, params: [.value(.valueInout, a: 1)])?.params[0].a == 2)
        #expect(nw.world.stats(clientID: 0)?.sessions == 1)
    }
}

@Suite struct ParamKindTests {
    @Test func openSessionParamsGoBothWays() throws {
        let nw = try RawNormalWorld()
        _ = nw.createVM(1)
        let (r, _, s) = nw.open(TestTAs.main, params: [.value(.valueInout, a: 1)])
        #expect(r == .success)
        let meta = OpenSessionMeta(ta: TestTAs.main, client: .zero, login: .public)
        let a = nw.call(MsgArg(cmd: .openSession, params: meta.params + [.value(.valueInout, a: 5, b: 6)])).arg
        #expect(a?.ret == .success && a?.params[2].a == 105 && a?.params[2].b == 6 && a?.session != s)
    }

    @Test func tmemAndRmemInoutAreReadAndWrittenInPlace() throws {
        let nw = try RawNormalWorld()
        _ = nw.createVM(1)
        let (_, _, s) = nw.open(TestTAs.main)
        let t = nw.pages()
        nw.write(t, [1, 2, 3, 4])
        let a = nw.invoke(s, Cmd.reverse, params: [.tmem(.tmemInout, bufPtr: t.raw, size: 4, shmRef: 1)])
        #expect(a?.ret == .success && a?.params[0].size == 4 && nw.read(t, 4) == [4, 3, 2, 1])
        let p = nw.pages()
        nw.write(PA(p.raw + 100), [9, 8, 7])
        _ = nw.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: nw.pageList([p]), size: 4096, shmRef: 3, noncontig: true)]))
        let b = nw.invoke(s, Cmd.reverse, params: [.rmem(.rmemInout, offset: 100, size: 3, shmRef: 3)])
        #expect(b?.ret == .success && nw.read(PA(p.raw + 100), 3) == [7, 8, 9])
        // Noncontig inout spanning two pages with an offset.
        let q0 = nw.pages(), q1 = nw.pages()
        nw.write(PA(q0.raw + 4094), [1, 2]); nw.write(q1, [3, 4])
        let c = nw.invoke(s, Cmd.reverse, params: [.tmem(.tmemInout, bufPtr: nw.pageList([q0, q1], offset: 4094), size: 4, shmRef: 1, noncontig: true)])
        #expect(c?.ret == .success && nw.read(PA(q0.raw + 4094), 2) == [4, 3] && nw.read(q1, 2) == [2, 1])
    }

    @Test func memrefCopiesStayPrivateWhenTheThreadReusesItsScratch() throws {
        let nw = try RawNormalWorld()
        _ = nw.createVM(1)
        let (_, _, s) = nw.open(TestTAs.main)
        TestTAs.snapshots.withLock { $0 = [] }
        let t = nw.pages()
        nw.write(t, [1, 2, 3, 4])
        let a = nw.invoke(s, Cmd.snapshot, params: [.tmem(.tmemInout, bufPtr: t.raw, size: 4, shmRef: 1)])
        #expect(a?.ret == .success && nw.read(t, 4) == [0xFF, 2, 3, 4])
        // The next calls reuse the thread's arrays: the bytes the TA kept from the first call do
        // not change, a longer input is read whole, an output starts zeroed (nothing of the last
        // call's bytes), and a shorter input has no stale tail.
        nw.write(t, [9, 9, 9, 9, 9, 9])
        let b = nw.invoke(s, Cmd.snapshot, params: [.tmem(.tmemInout, bufPtr: t.raw, size: 6, shmRef: 1)])
        let c = nw.invoke(s, Cmd.snapshot, params: [.tmem(.tmemOutput, bufPtr: t.raw, size: 6, shmRef: 1)])
        #expect(b?.ret == .success && c?.ret == .success && nw.read(t, 6) == [0xFF, 0, 0, 0, 0, 0])
        nw.write(t, [7, 8])
        let d = nw.invoke(s, Cmd.snapshot, params: [.tmem(.tmemInout, bufPtr: t.raw, size: 2, shmRef: 1)])
        #expect(d?.ret == .success && nw.read(t, 2) == [0xFF, 8])
        // The guest rewrote its buffer between calls: each call saw the bytes of its own moment.
        #expect(TestTAs.snapshots.withLock { $0 } == [[1, 2, 3, 4], [9, 9, 9, 9, 9, 9], [0, 0, 0, 0, 0, 0], [7, 8]])
    }

    @Test func randomArgumentsNeverCrashOrLeakThreads() throws {
        let nw = try RawNormalWorld(pages: 2048)
        _ = nw.createVM(1)
        let (_, _, s) = nw.open(TestTAs.main)
        let data = nw.pages(4)
        let list = nw.pageList([data, PA(data.raw + 4096)])
        var g = SplitMix64(seed: 42)
        let pa = nw.pages()
        let attrs: [UInt64] = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 0x209, 0x20A, 0x101, 4, 8, 12, 0x301, 0x10009]
        for _ in 0..<1500 {
            let n = Int(g.next() % 7)
            var params: [MsgParam] = []
            for _ in 0..<n {
                let attr = attrs[Int(g.next() % UInt64(attrs.count))]
                let ptrs: [UInt64] = [0, data.raw, data.raw + g.next() % 8192, list, g.next(), 0x8000_0000, UInt64.max]
                let sizes: [UInt64] = [0, 1, 16, 4096, 8192, 9000, g.next()]
                params.append(MsgParam(attr: MsgAttr(rawValue: attr), a: ptrs[Int(g.next() % 7)], b: sizes[Int(g.next() % 7)],
                                       c: [0, 1, 3, UInt64(s)][Int(g.next() % 4)]))
            }
            let cmds: [MsgCommand] = [.openSession, .invokeCommand, .closeSession, .cancel, .registerSHM, .unregisterSHM, MsgCommand(rawValue: 99)]
            var arg = MsgArg(cmd: cmds[Int(g.next() % 7)], function: UInt32(g.next() % 20), session: g.next() % 2 == 0 ? s : UInt32(truncatingIfNeeded: g.next()),
                             params: params)
            if arg.cmd == .closeSession && arg.session == s { arg.session = 0 }
            if arg.function == Cmd.panic || arg.function == Cmd.wait || arg.function == Cmd.long || arg.function == Cmd.external || arg.function == Cmd.gate { arg.function = Cmd.inc }
            nw.writeArg(pa, arg)
            _ = nw.complete(nw.world.smc(nw.callFrame(pa)))
        }
        #expect(nw.world.stats(clientID: 1)?.threadsBusy == 0)
        #expect(nw.invoke(s, Cmd.inc, params: [.value(.valueInout, a: 1)])?.params[0].a == 2)
    }
}
