// Issue 13's "stale secure-thread lookup": a call keeps the secure thread id of its last RPC
// after it resumes, and RETURN_FROM_RPC looks calls up by thread id taking the first match. If
// call A resumes on thread T and the secure world frees T (A has finished there) before the
// mediator has completed A, a call B of the same guest may be given T and suspend in an RPC:
// B's RETURN_FROM_RPC must reach B, not be refused because A (still in flight) matches first.
import Dispatch
import Foundation
import Machine
import Mediator
import Synchronization
import TEEABI
import Testing

/// A secure world with one thread (id 1) that every call takes when it is free: each call asks
/// for one FOREIGN_INTR RPC; its resume finishes it. The first resume frees the thread, then
/// holds its answer until the test releases it (A finished in the secure world, not yet in the mediator).
final class OneThreadSecureWorld: SMCEntry, Sendable {
    let memory: PhysicalMemory
    let owner = Mutex<[UInt64: PA]>([:])
    let resumes = Atomic<Int>(0)
    let firstResumeEntered = DispatchSemaphore(value: 0)
    let releaseFirstResume = DispatchSemaphore(value: 0)
    init(memory: PhysicalMemory) { self.memory = memory }

    func smc(_ f: RegisterFrame) -> RegisterFrame {
        switch f.function {
        case .getThreadCount: return RegisterFrame(a0: 0, a1: 4)
        case .exchangeCapabilities:
            let caps: SecureCapabilities = [.dynamicSHM, .memrefNull, .rpcArg, .haveReservedSHM, .virtualization]
            return RegisterFrame(a0: 0, a1: UInt64(caps.rawValue), a2: 0, a3: 4)
        case .vmCreated, .vmDestroyed, .enableSHMCache: return RegisterFrame(a0: 0)
        case .callsUID:
            let u = OPTEEIdentity.apiUID
            return RegisterFrame(a0: UInt64(u.0), a1: UInt64(u.1), a2: UInt64(u.2), a3: UInt64(u.3))
        case .callWithArg:
            let pa = PA(RegisterFrame.join(f.a1, f.a2))
            let free = owner.withLock { o -> Bool in
                guard o[1] == nil else { return false }
                o[1] = pa
                return true
            }
            guard free else { return RegisterFrame(a0: UInt64(SMCReturn.ethreadLimit.rawValue)) }
            return RegisterFrame(a0: UInt64(SMCReturn.rpc(.foreignInterrupt).rawValue), a3: 1)
        case .returnFromRPC:
            guard let pa = owner.withLock({ $0.removeValue(forKey: f.a3) }) else {
                return RegisterFrame(a0: UInt64(SMCReturn.eresume.rawValue))
            }
            // The call is done here; its thread is free for the next call from now on.
            if let bytes = try? memory.read(pa, count: pageSize, world: .secure), var arg = try? MsgArg.decode(bytes) {
                arg.ret = .success
                arg.retOrigin = .trustedApp
                arg.session = 7
                try? memory.write(pa, arg.encoded(), world: .secure)
            }
            if resumes.wrappingAdd(1, ordering: .relaxed).oldValue == 0 {
                firstResumeEntered.signal()
                _ = releaseFirstResume.wait(timeout: .now() + .seconds(10))
            }
            return RegisterFrame(a0: 0)
        default:
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }
}

@Test func returnFromRPCReachesTheCallNowOnTheThreadNotAFinishingOneThatUsedItBefore() throws {
    let memory = PhysicalMemory()
    let secure = OneThreadSecureWorld(memory: memory)
    let mediator = try Mediator(memory: memory, secureWorld: secure)
    let space = try GuestAddressSpace(memory: memory, id: GuestID(3), pages: 16, layout: .scattered(seed: 3))
    try mediator.addGuest(space)
    let open = MsgArg(cmd: .openSession, params: OpenSessionMeta(ta: TEEUUID(octets: [UInt8](repeating: 1, count: 16)),
                                                                client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)),
                                                                login: .public).params)
    func call(page: Int, vcpu: Int) throws -> RegisterFrame {
        let ipa = space.ramPage(page).address
        try space.write(ipa, open.encoded())
        let (h, l) = RegisterFrame.split(ipa.raw)
        return mediator.handle(RegisterFrame(.callWithArg, a1: h, a2: l, a3: UInt64(OPTEEIdentity.shmCached)), guest: space.id, vcpu: vcpu)
    }
    let rpc = UInt64(SMCReturn.rpc(.foreignInterrupt).rawValue)

    // Call A suspends on thread 1, then resumes on another host thread; the secure world frees
    // thread 1 and holds A's completion.
    let a = try call(page: 0, vcpu: 0)
    try #require(a.a0 == rpc && a.a3 == 1)
    let aDone = Mutex<RegisterFrame?>(nil)
    let group = DispatchGroup()
    group.enter()
    Thread.detachNewThread {
        let out = mediator.handle(RegisterFrame(.returnFromRPC, a3: 1), guest: space.id, vcpu: 0)
        aDone.withLock { $0 = out }
        group.leave()
    }
    defer { secure.releaseFirstResume.signal(); _ = group.wait(timeout: .now() + .seconds(10)) }
    try #require(secure.firstResumeEntered.wait(timeout: .now() + .seconds(10)) == .success)

    // Call B gets thread 1 and suspends in its RPC; its RETURN_FROM_RPC must reach it.
    let b = try call(page: 1, vcpu: 1)
    try #require(b.a0 == rpc && b.a3 == 1)
    let bDone = mediator.handle(RegisterFrame(.returnFromRPC, a3: 1), guest: space.id, vcpu: 1)
    #expect(bDone.a0 == UInt64(SMCReturn.ok.rawValue), "B's resume was answered \(hex(bDone.a0))")

    secure.releaseFirstResume.signal()
    #expect(group.wait(timeout: .now() + .seconds(10)) == .success)
    #expect(aDone.withLock { $0 }?.a0 == UInt64(SMCReturn.ok.rawValue))
}
