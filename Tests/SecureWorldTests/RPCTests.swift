import Testing
import Synchronization
import TEEABI
import Machine
@testable import SecureWorld

@Suite struct RPCTests {
    func world(_ config: SecureWorldConfig = .init()) throws -> (RawNormalWorld, UInt32) {
        let nw = try RawNormalWorld(config: config)
        _ = nw.createVM(1)
        let (_, _, s) = nw.open(TestTAs.main)
        return (nw, s)
    }

    /// Starts an invoke and stops at the first RPC_CMD (serving ALLOC on the way).
    func startUntilCmd(_ nw: RawNormalWorld, _ s: UInt32, _ cmd: UInt32, params: [MsgParam], client: UInt64 = 1) -> (RegisterFrame, PA) {
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: cmd, session: s, params: params))
        var f = nw.world.smc(nw.callFrame(pa, client: client))
        while f.ret.isRPC && f.ret.rpcFunction != .cmd { f = nw.world.smc(nw.serve(f, client: client)) }
        return (f, pa)
    }

    @Test func getTimeRPCAllocatesTheRPCArgServesAndFreesIt() throws {
        let (nw, s) = try world()
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.reeTime, session: s, params: [.value(.valueOutput)]))
        let f1 = nw.world.smc(nw.callFrame(pa))
        #expect(f1.ret == .rpc(.alloc) && f1.a1 == UInt64(rpcArgSize))
        #expect(f1.a3 < 8)
        #expect(nw.world.stats(clientID: 1)?.threadsSuspended == 1)
        let f2 = nw.world.smc(nw.serve(f1))
        #expect(f2.ret == .rpc(.cmd))
        let cookie = RegisterFrame.join(f2.a1, f2.a2)
        let argPA = nw.lock.withLock { $0.rpcArgs[cookie] }
        let rpcArg = try #require(argPA.flatMap { nw.readArg($0) })
        #expect(rpcArg.cmd.rawValue == RPCCommand.getTime.rawValue && rpcArg.params[0].attr == MsgAttr(.valueOutput))
        let f3 = nw.world.smc(nw.serve(f2))
        #expect(f3.ret == .rpc(.free) && RegisterFrame.join(f3.a1, f3.a2) == cookie)
        let f4 = nw.world.smc(nw.serve(f3))
        #expect(f4.ret == .ok)
        let back = nw.readArg(pa)
        #expect(back?.ret == .success && back?.params[0].a == 1_700_000_000 && back?.params[0].b == 123_456_789)
        #expect(nw.world.stats(clientID: 1)?.threadsBusy == 0)
        let c = nw.world.counters
        #expect(c.rpcFunctions[.alloc] == 1 && c.rpcFunctions[.cmd] == 1 && c.rpcFunctions[.free] == 1)
        #expect(c.rpcCommands[.getTime] == 1)
    }

    @Test func callWithRPCArgUsesTheSuppliedRPCArgument() throws {
        let (nw, s) = try world()
        let a = nw.invoke(s, Cmd.reeTime, params: [.value(.valueOutput)], rpcArg: true)
        #expect(a?.ret == .success && a?.params[0].a == 1_700_000_000)
        let fns = nw.lock.withLock { $0.rpcFunctions }
        #expect(!fns.contains(RPCFunction.alloc.rawValue))
    }

    @Test func suspendRPCCarriesMillis() throws {
        let (nw, s) = try world()
        let (f, _) = startUntilCmd(nw, s, Cmd.suspend, params: [.value(.valueInput, a: 250)])
        let arg = try #require(nw.lock.withLock { $0.rpcArgs[RegisterFrame.join(f.a1, f.a2)] }.flatMap { nw.readArg($0) })
        #expect(arg.cmd.rawValue == RPCCommand.suspend.rawValue && arg.params[0].a == 250)
        #expect(nw.complete(nw.world.smc(nw.serve(f))).ret == .ok)
    }

    @Test func shmAllocAndFreeRoundTripContiguousAndNoncontig() throws {
        let (nw, s) = try world()
        for nc in [false, true] {
            nw.lock.withLock { $0.noncontigSHM = nc }
            let a = nw.invoke(s, Cmd.shm, params: [.value(.valueInput, a: 10_000, b: 0), .value(.valueOutput)])
            #expect(a?.ret == .success && a?.params[1].a == 10_000)
            let k = nw.invoke(s, Cmd.shm, params: [.value(.valueInput, a: 100, b: 1), .value(.valueOutput)])
            #expect(k?.ret == .success && k?.params[1].a == 100)
        }
        let cmds = nw.lock.withLock { $0.rpcCommands }
        #expect(cmds.filter { $0 == RPCCommand.shmAlloc.rawValue }.count == 4)
        #expect(cmds.filter { $0 == RPCCommand.shmFree.rawValue }.count == 4)
    }

    @Test func shmAllocAnsweredWithSecureMemoryIsRefused() throws {
        let (nw, s) = try world()
        let (f, _) = startUntilCmd(nw, s, Cmd.shm, params: [.value(.valueInput, a: 100), .value(.valueOutput)])
        // Answer SHM_ALLOC with a buffer in secure RAM.
        let argPA = try #require(nw.lock.withLock { $0.rpcArgs[RegisterFrame.join(f.a1, f.a2)] })
        var arg = try #require(nw.readArg(argPA))
        let secure = try #require(nw.memory.region(containing: PA(0x8000_0000)))
        #expect(secure.kind.isSecure)
        arg.ret = .success
        arg.params[0] = .tmem(.tmemOutput, bufPtr: secure.basePA.raw, size: 4096, shmRef: 0x77)
        nw.write(argPA, arg.encoded())
        var g = nw.world.smc(RegisterFrame(.returnFromRPC, a1: f.a1, a2: f.a2, a3: f.a3, a7: 1))
        // The core frees the cookie it was given and fails the command.
        #expect(g.ret == .rpc(.cmd))
        let freeArg = try #require(nw.readArg(argPA))
        #expect(freeArg.cmd.rawValue == RPCCommand.shmFree.rawValue && freeArg.params[0].b == 0x77)
        g = nw.complete(nw.world.smc(nw.serve(g)))
        #expect(g.ret == .ok)
        #expect(nw.readArg(PA(0))?.ret == nil)
    }

    @Test func foreignInterruptEveryTickWhileALongCommandRuns() throws {
        let (nw, s) = try world(.init(interruptTick: .milliseconds(1)))
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.long, session: s, params: [.value(.valueInout, a: 50)]))
        var f = nw.world.smc(nw.callFrame(pa))
        var intr = 0
        while f.ret.isRPC {
            if f.ret.rpcFunction == .foreignInterrupt { intr += 1 }
            f = nw.world.smc(nw.serve(f))
        }
        #expect(f.ret == .ok)
        #expect(intr >= 1)
        #expect(nw.readArg(pa)?.params[0].b == 50)
    }

    @Test func notificationWaitIsWokenBySendFromAnotherThread() throws {
        let (nw, s) = try world()
        let (_, _, s2) = nw.open(TestTAs.main)
        let (waitF, waitPA) = startUntilCmd(nw, s, Cmd.wait, params: [.value(.valueInput, a: 7)])
        let waitArgPA = try #require(nw.lock.withLock { $0.rpcArgs[RegisterFrame.join(waitF.a1, waitF.a2)] })
        let w = try #require(nw.readArg(waitArgPA))
        #expect(w.cmd.rawValue == RPCCommand.notification.rawValue && w.params[0].a == 0 && w.params[0].b == 7)
        #expect(nw.world.stats(clientID: 1)?.threadsSuspended == 1)
        // Another secure thread sends key 7.
        let sent = nw.invoke(s2, Cmd.send, params: [.value(.valueInput, a: 7)])
        #expect(sent?.ret == .success)
        #expect(nw.lock.withLock { $0.notified.contains(7) })
        // The normal world wakes the waiter.
        let done = nw.complete(nw.world.smc(nw.serve(waitF)))
        #expect(done.ret == .ok && nw.readArg(waitPA)?.ret == .success)
        #expect(nw.invoke(s, Cmd.wait, params: [.value(.valueInput, a: 100_000)])?.ret == .badParameters)
    }

    @Test func notificationAcrossOSThreads() async throws {
        let (nw, s) = try world()
        let (_, _, s2) = nw.open(TestTAs.main)
        let (waitF, waitPA) = startUntilCmd(nw, s, Cmd.wait, params: [.value(.valueInput, a: 3)])
        // Resume the waiter from a different OS thread than the one that started it.
        let sender = Task.detached { nw.invoke(s2, Cmd.send, params: [.value(.valueInput, a: 3)])?.ret }
        #expect(await sender.value == .success)
        let waiter = Task.detached { nw.complete(nw.world.smc(nw.serve(waitF))).ret }
        #expect(await waiter.value == .ok)
        #expect(nw.readArg(waitPA)?.ret == .success)
    }

    @Test func cancellationFlagReachesTheRunningCommand() throws {
        let (nw, s) = try world(.init(interruptTick: .milliseconds(1)))
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.long, session: s, cancelID: 42,
                               params: [.value(.valueInout, a: 1_000_000)]))
        var f = nw.world.smc(nw.callFrame(pa))
        while f.ret.isRPC && f.ret.rpcFunction != .foreignInterrupt { f = nw.world.smc(nw.serve(f)) }
        #expect(f.ret.rpcFunction == .foreignInterrupt)
        // CANCEL with another cancel id does nothing; the right one cancels.
        #expect(nw.call(MsgArg(cmd: .cancel, session: s, cancelID: 41)).arg?.ret == .success)
        #expect(nw.call(MsgArg(cmd: .cancel, session: s, cancelID: 42)).arg?.ret == .success)
        #expect(nw.call(MsgArg(cmd: .cancel, session: 0xABCD, cancelID: 42)).arg?.ret == .badParameters)
        f = nw.complete(nw.world.smc(nw.serve(f)))
        #expect(f.ret == .ok)
        let back = nw.readArg(pa)
        #expect(back?.ret == .cancel && back?.retOrigin == .trustedApp)
        #expect((back?.params[0].b ?? 0) < 1_000_000)
    }

    @Test func fsRPCPayloadsInAPageListBufferGoOutAsRmemAndRoundTrip() throws {
        // OP-TEE names memrefs into non-contiguous shm by RMEM(cookie, offset): a TMEM address
        // names only one page. The normal world here hands out page lists in descending order.
        let (nw, s) = try world()
        nw.lock.withLock { $0.noncontigSHM = true }
        func mem(_ b: [UInt8], out: Bool = false, size: Int? = nil) -> MsgParam {
            let p = nw.pages(20)
            if !out { nw.write(p, b) }
            return .tmem(out ? .tmemOutput : .tmemInput, bufPtr: p.raw, size: UInt64(size ?? b.count), shmRef: 1)
        }
        let data = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        #expect(nw.invoke(s, Cmd.put, params: [mem([7]), mem(data), .value(.valueInput, a: 0)])?.ret == .success)
        let out = mem([], out: true, size: 20_000)
        let get = nw.invoke(s, Cmd.get, params: [mem([7]), out])
        #expect(get?.ret == .success && get?.params[1].size == 20_000)
        let same = nw.read(PA(out.bufPtr), 20_000) == data
        #expect(same, "the object did not round-trip")
        // A rename sends two names in one buffer: the second at its offset.
        #expect(nw.invoke(s, Cmd.rename, params: [mem([7]), mem([8])])?.ret == .success)
        #expect(nw.invoke(s, Cmd.get, params: [mem([8]), mem([], out: true, size: 20_000)])?.ret == .success)
        // The multi-page payloads went out as RMEM (a one-page payload is one piece: TMEM).
        let attrs = nw.lock.withLock { $0.fsMemrefAttrs }
        #expect(attrs.contains { $0.type?.isRmem == true }, "\(attrs)")
    }

    @Test func storageWriteReadListRenameDeleteOverFSRPC() throws {
        let (nw, s) = try world()
        func mem(_ b: [UInt8], out: Bool = false, size: Int? = nil) -> MsgParam {
            let p = nw.pages(4)
            if !out { nw.write(p, b) }
            return .tmem(out ? .tmemOutput : .tmemInput, bufPtr: p.raw, size: UInt64(size ?? b.count), shmRef: 1)
        }
        let data = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let bigIn = nw.pages(18)
        nw.write(bigIn, data)
        let put = nw.invoke(s, Cmd.put, params: [mem([1, 2]), .tmem(.tmemInput, bufPtr: bigIn.raw, size: 70_000, shmRef: 1), .value(.valueInput, a: 0)])
        #expect(put?.ret == .success)
        // One payload buffer serves every FS RPC of the call (grown once for the 64 KiB chunk).
        let allocs = nw.lock.withLock { $0.rpcCommands.filter { $0 == RPCCommand.shmAlloc.rawValue }.count }
        let frees = nw.lock.withLock { $0.rpcCommands.filter { $0 == RPCCommand.shmFree.rawValue }.count }
        #expect(allocs <= 2 && allocs == frees)
        // On the normal world's side: the directory file and one object file of ciphertext, nothing staged.
        let files = nw.lock.withLock { $0.fs.files }.filter { $0.key.hasPrefix("/\(TestTAs.main)/") }
        #expect(Set(files.keys) == ["/\(TestTAs.main)/dirf.db", "/\(TestTAs.main)/o1"])
        #expect(files["/\(TestTAs.main)/o1"]?.count == ObjectFile.fileSize(70_000))
        #expect(files["/\(TestTAs.main)/o1"].map { Array($0.suffix(1000)) } != Array(data.suffix(1000)))
        // No overwrite: ACCESS_CONFLICT.
        #expect(nw.invoke(s, Cmd.put, params: [mem([1, 2]), mem([9]), .value(.valueInput, a: 0)])?.ret == .accessConflict)
        let bigOut = nw.pages(18)
        let get = nw.invoke(s, Cmd.get, params: [mem([1, 2]), .tmem(.tmemOutput, bufPtr: bigOut.raw, size: 72_000, shmRef: 1)])
        #expect(get?.ret == .success && get?.params[1].size == 70_000)
        let same = nw.read(bigOut, 70_000) == data
        #expect(same)
        #expect(nw.invoke(s, Cmd.put, params: [mem([3]), mem([7, 7]), .value(.valueInput, a: 1)])?.ret == .success)
        #expect(nw.invoke(s, Cmd.list, params: [.value(.valueOutput)])?.params[0].a == 2)
        #expect(nw.invoke(s, Cmd.rename, params: [mem([3]), mem([1, 2])])?.ret == .accessConflict)
        #expect(nw.invoke(s, Cmd.rename, params: [mem([3]), mem([4])])?.ret == .success)
        #expect(nw.invoke(s, Cmd.delete, params: [mem([4])])?.ret == .success)
        #expect(nw.invoke(s, Cmd.delete, params: [mem([4])])?.ret == .itemNotFound)
        #expect(nw.invoke(s, Cmd.get, params: [mem([4]), mem([], out: true, size: 10)])?.ret == .itemNotFound)
        #expect(nw.lock.withLock { $0.rpcCommands.contains(RPCCommand.fs.rawValue) })
    }
}
