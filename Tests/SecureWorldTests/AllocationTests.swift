// The secure world's share of a steady-state NOP invoke allocates nothing: counted with the
// shared per-thread allocation counter (CAllocCount; the drain runs on the calling thread, down
// to the TA, so every allocation of the secure world's share lands on this thread).
import Testing
import TEEABI
import Machine
import TrustedApps
import CAllocCount
@testable import SecureWorld

@Suite(.serialized, .enabled(if: vtee_alloc_counting() != 0, "a sanitizer build owns malloc: nothing to count")) struct AllocationTests {
    /// Mallocs made by this thread while `body` runs.
    static func mallocs(_ body: () -> Void) -> UInt64 {
        let before = vtee_thread_alloc_count()
        body()
        return UInt64(vtee_thread_alloc_count() &- before)
    }

    @Test func theMallocCounterSeesAllocations() {
        var keep: [Int] = []
        let n = Self.mallocs { keep = Array(repeating: 7, count: Int.random(in: 16...32)) }
        #expect(keep.count >= 16)
        #expect(n >= 1)
    }

    @Test func aSteadyStateNOPInvokeAllocatesNothingInTheSecureWorld() throws {
        let nw = try RawNormalWorld(tas: BuiltinTAs.all)
        #expect(nw.createVM(1) == .ok)
        let (r, _, s) = nw.open(TestTA.uuid)
        #expect(r == .success)
        let pa = nw.pages()
        nw.writeArg(pa, MsgArg(cmd: .invokeCommand, function: TestTA.Command.nopValues.rawValue, session: s,
                               params: (0..<4).map { .value(.valueInout, a: UInt64($0), b: 100) }))
        let frame = nw.callFrame(pa)
        // Warm up: the secure thread's task, buffer and caches come into being once.
        for _ in 0..<64 { _ = nw.world.smc(frame) }
        let rounds = 1000
        var ok = 0
        let n = Self.mallocs {
            for _ in 0..<rounds where nw.world.smc(frame).a0 == 0 { ok += 1 }
        }
        #expect(ok == rounds)
        #expect(n == 0, "mallocs in \(rounds) NOP invokes: \(n)")
        // The TA really ran every time: each value was incremented once per call.
        let back = try #require(nw.readArg(pa, params: 4))
        #expect(back.ret == .success)
        #expect(back.params[0].a == UInt64(64 + rounds) && back.params[3].a == UInt64(3 + 64 + rounds))
        #expect(back.params[2].b == UInt64(100 + 64 + rounds))
    }
}
