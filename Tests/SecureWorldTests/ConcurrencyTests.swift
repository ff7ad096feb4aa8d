import Testing
import TEEABI
import Machine
@testable import SecureWorld

@Suite struct ConcurrencyTests {
    /// One VM's loop: invokes with and without RPCs, reusing one argument page.
    static func worker(_ nw: RawNormalWorld, client: UInt64, session: UInt32, rounds: Int) -> Int {
        let pa = nw.pages()
        var ok = 0
        for i in 0..<rounds {
            let cmd = i % 3 == 0 ? Cmd.reeTime : Cmd.inc
            nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: cmd, session: session, params: [.value(.valueInout, a: UInt64(i))]))
            var f = nw.world.smc(nw.callFrame(pa, client: client))
            // Bounded retry: each worker holds at most one thread at a time, so this ends at once.
            var retries = 0
            while f.ret == .ethreadLimit && retries < 10_000 { retries += 1; f = nw.world.smc(nw.callFrame(pa, client: client)) }
            f = nw.complete(f, client: client)
            if f.ret == .ok, let a = nw.readArg(pa, params: 1), a.ret == .success {
                ok += cmd == Cmd.inc ? (a.params[0].a == UInt64(i + 1) ? 1 : 0) : (a.params[0].a == 1_700_000_000 ? 1 : 0)
            }
        }
        return ok
    }

    @Test func manyVCPUsOfManyVMsRunCallsConcurrently() async throws {
        let nw = try RawNormalWorld(config: .init(threadsPerVM: 2), pages: 4096)
        var sessions: [(UInt64, UInt32)] = []
        for c in UInt64(1)...4 {
            #expect(nw.createVM(c) == .ok)
            let (r, _, s) = nw.open(TestTAs.main, client: c)
            #expect(r == .success)
            sessions.append((c, s))
            sessions.append((c, s))   // two vCPUs per VM, sharing a session
        }
        let rounds = 60
        let total = await withTaskGroup(of: Int.self) { g in
            for (c, s) in sessions { g.addTask { Self.worker(nw, client: c, session: s, rounds: rounds) } }
            var t = 0
            for await n in g { t += n }
            return t
        }
        #expect(total == sessions.count * rounds)
        for c in UInt64(1)...4 {
            #expect(nw.world.stats(clientID: c)?.threadsBusy == 0)
        }
    }

    @Test func destroyingOneVMWhileOthersRunLeavesThemIntact() async throws {
        let nw = try RawNormalWorld(pages: 4096)
        for c in UInt64(1)...3 { _ = nw.createVM(c) }
        let (_, _, s1) = nw.open(TestTAs.main, client: 1)
        let (_, _, s2) = nw.open(TestTAs.main, client: 2)
        // VM 3 has a command suspended at an RPC when it is destroyed.
        let (_, _, s3) = nw.open(TestTAs.main, client: 3)
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: Cmd.wait, session: s3, params: [.value(.valueInput, a: 9)]))
        #expect(nw.world.smc(nw.callFrame(pa, client: 3)).ret.isRPC)
        async let a = Task.detached { Self.worker(nw, client: 1, session: s1, rounds: 50) }.value
        async let b = Task.detached { Self.worker(nw, client: 2, session: s2, rounds: 50) }.value
        #expect(nw.world.smc(RegisterFrame(.vmDestroyed, a1: 3, a7: 0)).ret == .ok)
        #expect(await a == 50)
        #expect(await b == 50)
        #expect(nw.world.stats(clientID: 3) == nil)
        #expect(nw.world.clients == [1, 2])
    }
}
