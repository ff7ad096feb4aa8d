/// The hypervisor layers allocate nothing per steady-state call: a NOP INVOKE with four
/// VALUE_INOUT params and a fast call, through the platform and the mediator, over a secure
/// world stub that itself allocates nothing (counted by the bench's per-thread interposer).
import CAllocCount
import Machine
import MediatedPlatform
import Mediator
import Platform
import TEEABI
import Testing

/// Answers the mediator's start-up queries, GET_OS_REVISION, and completes std calls in place.
private final class QuietSecureWorld: SMCEntry, Sendable {
    let memory: PhysicalMemory
    init(memory: PhysicalMemory) { self.memory = memory }
    func smc(_ f: RegisterFrame) -> RegisterFrame {
        switch f.function {
        case .getThreadCount: return RegisterFrame(a0: 0, a1: 4)
        case .exchangeCapabilities: return RegisterFrame(a0: 0, a1: UInt64(SecureCapabilities.dynamicSHM.rawValue), a3: 4)
        case .vmCreated, .vmDestroyed: return RegisterFrame(a0: 0)
        case .getOSRevision: return RegisterFrame(a0: 4, a1: 1)
        case .callWithArg:
            _ = try? memory.withBytes(PA(RegisterFrame.join(f.a1, f.a2)), count: MsgArg.size(numParams: 4), world: .secure) { b in
                guard let v = try? MsgArgView(b) else { return }
                if v.cmd == .openSession { v.session = 1 }
                v.ret = .success
                if let p = v.param(0) { p.valueA = p.valueA &+ 1 }   // get then set: no modify coroutine
            }
            return RegisterFrame(a0: 0)
        default: return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }
}

@Test(.enabled(if: vtee_alloc_counting() != 0, "a sanitizer build owns malloc: nothing to count"))
func steadyStateNOPInvokeAndFastCallAllocateNothingInThePlatformAndTheMediator() throws {
    let memory = PhysicalMemory()
    var c = MediatorConfig(); c.maxGuests = 1
    let mediator = try Mediator(memory: memory, secureWorld: QuietSecureWorld(memory: memory), config: c)
    let g = RawGuest(space: try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 16), platform: try makeMediatedPlatform(mediator: mediator))
    try mediator.addGuest(g.space)
    let meta = OpenSessionMeta(ta: TEEUUID(octets: [UInt8](repeating: 1, count: 16)), client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
    #expect(g.call(MsgArg(cmd: .openSession, params: meta.params), page: 0).0.a0 == 0)
    try g.write(MsgArg(cmd: .invokeCommand, session: 1, params: (0..<4).map { .value(.valueInout, a: UInt64($0)) }), page: 1)
    let (h, l) = RegisterFrame.split(g.ipa(1).raw)
    let invoke = RegisterFrame(.callWithArg, a1: h, a2: l)
    let fast = RegisterFrame(.getOSRevision)
    for _ in 0..<64 { _ = g.trap(invoke); _ = g.trap(fast) }   // warm: slot pages, caches, capacities

    var failures = 0
    let invokes = vtee_thread_alloc_count()
    for _ in 0..<1000 where g.trap(invoke).a0 != 0 { failures += 1 }
    let afterInvokes = vtee_thread_alloc_count()
    for _ in 0..<1000 where g.trap(fast).a0 != 4 { failures += 1 }
    let afterFast = vtee_thread_alloc_count()

    #expect(failures == 0)
    #expect(afterInvokes - invokes == 0, "mallocs in 1000 NOP invokes")
    #expect(afterFast - afterInvokes == 0, "mallocs in 1000 fast calls")
    #expect(g.readArg(page: 1, numParams: 4)?.params[0].a == 1064)
}
