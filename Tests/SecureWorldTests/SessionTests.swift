import Testing
import TEEABI
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
        #expect(nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 0xC0FFEE)])).arg?.ret == .itemNotFound)
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

    @Test func unregisterWhileInUseIsBusyUntilReleased() throws {
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
        #expect(nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 9)])).arg?.ret == .busy)
        f = nw.complete(nw.world.smc(nw.serve(f)))
        #expect(f.ret == .ok)
        #expect(nw.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 9)])).arg?.ret == .success)
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

    @Test func unknownTAIsItemNotFoundAfterLoadTARPC() throws {
        let nw = try world()
        let (r, origin, s) = nw.open(TestTAs.missing)
        #expect(r == .itemNotFound && origin == TEEOrigin.tee.rawValue && s == 0)
        #expect(nw.lock.withLock { $0.rpcCommands.contains(RPCCommand.loadTA.rawValue) })
    }

    @Test func loadTAFetchesAnImageFromTheNormalWorldAndTheLoaderRunsIt() throws {
        let loadable = TestTAs.uuid("22222222-0000-4000-8000-000000000001")
        let junk = TestTAs.uuid("22222222-0000-4000-8000-000000000002")
        let image = Array("vtee-ta:main".utf8) + [UInt8](repeating: 7, count: 5000)
        let config = SecureWorldConfig(loadTA: { uuid, bytes in
            bytes.starts(with: Array("vtee-ta:main".utf8)) && bytes.count == 5012
                ? TADescriptor(uuid: uuid, name: "loaded") { MainTA() } : nil
        })
        let nw = try world(config)
        nw.lock.withLock { $0.taImages = [loadable: image, junk: [1, 2, 3]] }
        let (r, _, s) = nw.open(loadable)
        #expect(r == .success)
        #expect(nw.invoke(s, Cmd.inc, params: [.value(.valueInout, a: 1)])?.params[0].a == 2)
        let (r2, o2, _) = nw.open(junk)
        #expect(r2 == .badFormat && o2 == TEEOrigin.tee.rawValue)
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
