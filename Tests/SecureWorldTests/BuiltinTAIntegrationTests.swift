import Testing
import TEEABI
import Machine
import TrustedApps
@testable import SecureWorld

/// The TrustedApps built-ins, driven through the secure world by register frames and memory,
/// against the behaviour the optee_examples clients expect.
@Suite struct BuiltinTAIntegrationTests {
    func world() throws -> RawNormalWorld {
        let nw = try RawNormalWorld(tas: BuiltinTAs.all, pages: 1024)
        _ = nw.createVM(1)
        return nw
    }
    func input(_ nw: RawNormalWorld, _ b: [UInt8]) -> MsgParam {
        let p = nw.pages(max(1, (b.count + 4095) / 4096))
        nw.write(p, b)
        return .tmem(.tmemInput, bufPtr: p.raw, size: UInt64(b.count), shmRef: 1)
    }
    func output(_ nw: RawNormalWorld, _ n: Int) -> (MsgParam, PA) {
        let p = nw.pages(max(1, (n + 4095) / 4096))
        return (.tmem(.tmemOutput, bufPtr: p.raw, size: UInt64(n), shmRef: 1), p)
    }

    @Test func helloWorldIncrementsAndDecrements() throws {
        let nw = try world()
        let (r, _, s) = nw.open(BuiltinTAs.helloWorld.uuid)
        #expect(r == .success)
        #expect(nw.invoke(s, 0, params: [.value(.valueInout, a: 42)])?.params[0].a == 43)
        #expect(nw.invoke(s, 1, params: [.value(.valueInout, a: 42)])?.params[0].a == 41)
        #expect(nw.invoke(s, 0, params: [.value(.valueInput, a: 42)])?.ret == .badParameters)
        #expect(nw.close(s) == .success)
    }

    @Test func randomFillsSixteenBytes() throws {
        let nw = try world()
        let (_, _, s) = nw.open(BuiltinTAs.random.uuid)
        let (o, pa) = output(nw, 16)
        let a = nw.invoke(s, 0, params: [o])
        #expect(a?.ret == .success && a?.params[0].size == 16)
        #expect(nw.read(pa, 16) != [UInt8](repeating: 0, count: 16))
    }

    @Test func secureStorageWritesReadsAndDeletesObjects() throws {
        let nw = try world()
        let (_, _, s) = nw.open(BuiltinTAs.secureStorage.uuid)
        let id = Array("object#1".utf8)
        let data = [UInt8](repeating: 0xA1, count: 7000)
        #expect(nw.invoke(s, 1, params: [input(nw, id), input(nw, data)])?.ret == .success)
        let (o, pa) = output(nw, 7000)
        let r = nw.invoke(s, 0, params: [input(nw, id), o])
        #expect(r?.ret == .success && r?.params[1].size == 7000)
        let same = nw.read(pa, 7000) == data
        #expect(same)
        let (o2, _) = output(nw, 7000)
        #expect(nw.invoke(s, 0, params: [input(nw, Array("object#2".utf8)), o2])?.ret == .itemNotFound)
        #expect(nw.invoke(s, 2, params: [input(nw, id)])?.ret == .success)
        let (o3, _) = output(nw, 7000)
        #expect(nw.invoke(s, 0, params: [input(nw, id), o3])?.ret == .itemNotFound)
        // Single instance, not multi session: a second session is BUSY.
        #expect(nw.open(BuiltinTAs.secureStorage.uuid).0 == .busy)
    }

    @Test func hotpAnswersRFC4226Vectors() throws {
        let nw = try world()
        let (_, _, s) = nw.open(BuiltinTAs.hotp.uuid)
        #expect(nw.invoke(s, 0, params: [input(nw, Array("12345678901234567890".utf8))])?.ret == .success)
        let expected: [UInt64] = [755224, 287082, 359152, 969429]
        for e in expected {
            #expect(nw.invoke(s, 1, params: [.value(.valueOutput)])?.params[0].a == e)
        }
    }

    @Test func vteeTestTAExercisesEveryRPCKind() throws {
        let nw = try RawNormalWorld(config: .init(interruptTick: .milliseconds(1)), tas: BuiltinTAs.all, pages: 1024)
        _ = nw.createVM(1)
        let (r, _, s) = nw.open(TestTA.uuid)
        #expect(r == .success)
        #expect(nw.invoke(s, TestTA.Command.getTime.rawValue, params: [.value(.valueOutput)])?.params[0].a == 1_700_000_000)
        #expect(nw.invoke(s, TestTA.Command.shmRoundTrip.rawValue, params: [.value(.valueInput, a: 20000, b: 0)])?.ret == .success)
        #expect(nw.invoke(s, TestTA.Command.suspend.rawValue, params: [.value(.valueInput, a: 5)])?.ret == .success)
        #expect(nw.invoke(s, TestTA.Command.notifySend.rawValue, params: [.value(.valueInput, a: 3)])?.ret == .success)
        #expect(nw.invoke(s, TestTA.Command.storageRoundTrip.rawValue, params: [.value(.valueInput, a: 100_000)])?.ret == .success)
        #expect(nw.invoke(s, TestTA.Command.taToTA.rawValue, params: [.value(.valueInout, a: 1)])?.params[0].a == 2)
        let long = nw.invoke(s, TestTA.Command.longRun.rawValue, params: [.value(.valueInout, a: 5)])
        #expect(long?.ret == .success)
        let fns = nw.lock.withLock { $0.rpcFunctions }
        #expect(fns.contains(RPCFunction.foreignInterrupt.rawValue))
        let p = nw.invoke(s, TestTA.Command.panic.rawValue, params: [.value(.valueInput, a: 1)])
        #expect(p?.ret == .targetDead && p?.retOrigin == .tee)
        #expect(nw.invoke(s, TestTA.Command.getTime.rawValue, params: [.value(.valueOutput)])?.ret == .targetDead)
        #expect(nw.close(s) == .success)
        #expect(nw.world.stats(clientID: 1) == SecureWorldClientStats(sessions: 0, registeredSHM: 0, threadsBusy: 0, threadsSuspended: 0, instances: 0))
    }
}
