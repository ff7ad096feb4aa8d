// Steady-state calls through the client and the driver allocate nothing: a TEEC_InvokeCommand
// with four VALUE_INOUT params, counted with the test binary's counting allocator (CAllocCount).
import CAllocCount
import Dispatch
import Foundation
import Synchronization
import Machine
import NormalWorld
import TEEABI
import TEEClient
import Testing

/// A secure world that answers every std call at once, in place and without allocating:
/// each value param's `a` += 1, ret SUCCESS from the TA. Only the probe fast calls are scripted.
struct InPlaceSecureWorld: Conduit {
    let space: GuestAddressSpace

    func trap(_ f: RegisterFrame, vcpu: Int) -> RegisterFrame {
        switch f.function {
        case .callsUID:
            let w = OPTEEIdentity.apiUID
            return RegisterFrame(a0: UInt64(w.0), a1: UInt64(w.1), a2: UInt64(w.2), a3: UInt64(w.3))
        case .callsRevision: return RegisterFrame(a0: 2, a1: 0)
        case .getOSRevision: return RegisterFrame(a0: 4, a1: 0)
        case .exchangeCapabilities: return RegisterFrame(a0: 0, a1: UInt64(SecureCapabilities([.dynamicSHM, .rpcArg]).rawValue), a2: 0, a3: 4)
        case .getThreadCount: return RegisterFrame(a0: 0, a1: 8)
        case .callWithArg, .callWithRPCArg:
            let ipa = IPA(RegisterFrame.join(f.a1, f.a2))
            let ok: Bool? = try? space.withBytes(ipa, count: pageSize - ipa.pageOffset) { (b) -> Bool in
                guard let v = try? MsgArgView(b), let n = try? v.paramCount(max: 6) else { return false }
                for i in 0..<n { if let p = v.param(i), p.attr.type?.isValue == true { p.valueA &+= 1 } }
                v.ret = .success; v.retOrigin = .trustedApp; v.session = 1
                return true
            }
            return RegisterFrame(a0: UInt64(ok == true ? SMCReturn.ok.rawValue : SMCReturn.unknownFunction.rawValue))
        default:
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }
}

@Suite(.enabled(if: vtee_alloc_counting() != 0, "a sanitizer build owns malloc: nothing to count")) struct AllocationTests {
    /// The zero-allocation promise of the client and driver layers: after warm-up, N invokes with
    /// four VALUE_INOUT params make no heap allocation on the calling thread (where both run).
    @Test func steadyStateNopInvokeAllocatesNothingInClientAndDriver() throws {
        let memory = PhysicalMemory()
        let space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 64, layout: .scattered(seed: 3))
        let driver = try OPTEEDriver(space: space, conduit: InPlaceSecureWorld(space: space), configuration: DriverConfiguration(vcpus: 2))
        let context = TEEContext(driver: driver)
        let session = try context.openSession(TEEUUID(octets: [UInt8](repeating: 7, count: 16)))
        var op = TEEOperation([.valueInout(a: 1, b: 2), .valueInout(a: 3, b: 4), .valueInout(a: 5, b: 6), .valueInout(a: 7, b: 8)])
        for _ in 0..<16 { try session.invoke(1, &op) }          // warm-up: lazily created state, caches
        let n = 1000
        let before = vtee_thread_alloc_count()
        for _ in 0..<n { try session.invoke(1, &op) }
        let mallocs = vtee_thread_alloc_count() &- before
        print("mallocs per steady-state NOP invoke (client+driver): \(Double(mallocs) / Double(n)) (\(mallocs) over \(n))")
        #expect(mallocs == 0)
        #expect(op[0].value.a == UInt32(1 + 16 + n) && op[0].value.b == 2)   // the calls really happened
        #expect(op[3].value.a == UInt32(7 + 16 + n) && op[3].value.b == 8)
        session.close()
        context.finalize()
    }

    /// A caller that has to queue for a secure thread allocates nothing either once the queue is
    /// warm: waiters are reused, not made per wait.
    @Test func aCallerQueuedForASecureThreadAllocatesNothingOnceWarm() {
        let q = CallQueue(limit: 1)
        let rounds = 200, warm = 4
        let go = DispatchSemaphore(value: 0), roundDone = DispatchSemaphore(value: 0)
        let counted = Atomic<Int>(0), granted = Atomic<Int>(0)
        Thread.detachNewThread {
            for r in 0..<rounds {
                guard go.wait(timeout: .now() + 30) == .success else { return }
                let before = vtee_thread_alloc_count()
                let t = q.enter(timeout: 30)
                let made = Int(vtee_thread_alloc_count() - before)
                if r >= warm { counted.wrappingAdd(made, ordering: .relaxed) }
                if t != nil { granted.wrappingAdd(1, ordering: .relaxed); q.leave() }
                roundDone.signal()
            }
        }
        for _ in 0..<rounds {
            guard q.enter(timeout: 5) != nil else { Issue.record("slot"); return }
            go.signal()
            #expect(waitUntil { q.queued == 1 })     // the other caller is queued behind us
            q.leave()                                // ... and gets the slot handed over
            guard roundDone.wait(timeout: .now() + 30) == .success else { Issue.record("round"); return }
        }
        let made = counted.load(ordering: .relaxed), got = granted.load(ordering: .relaxed)
        print("allocations per queued enter after warm-up: \(Double(made) / Double(rounds - warm))")
        #expect(got == rounds)
        #expect(made == 0)
    }
}
