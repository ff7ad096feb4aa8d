/// Hostile traffic that is not one scripted scenario: racing resumes from two real threads, and
/// seeded random frames and memory. Afterwards the secure world must never have seen a bad
/// resume, and destroying the guests must leave nothing behind.
import Foundation
import Machine
import Mediator
import Platform
import SecureWorld
import Synchronization
import TEEABI
import Testing
import TrustedApps
import MediatedPlatform

private struct Machine2 {
    let memory = PhysicalMemory()
    let secure: SecureWorld
    let mediator: Mediator
    let guests: [RawGuest]
    let free: Int

    init(guests n: Int = 2) throws {
        secure = SecureWorld(memory: memory, config: SecureWorldConfig(threadsPerVM: 4), tas: BuiltinTAs.all)
        var c = MediatorConfig(); c.maxGuests = 4
        mediator = try Mediator(memory: memory, secureWorld: secure, config: c)
        free = mediator.freeMediatorPages
        let platform = try makeMediatedPlatform(mediator: mediator)
        var gs: [RawGuest] = []
        for i in 0..<n {
            let s = try GuestAddressSpace(memory: memory, id: GuestID(UInt32(i)), pages: 64, layout: .scattered(seed: UInt64(i) + 5))
            try mediator.addGuest(s)
            gs.append(RawGuest(space: s, platform: platform))
        }
        guests = gs
    }

    func open(_ g: RawGuest) -> UInt32? {
        let meta = OpenSessionMeta(ta: TestTA.uuid, client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
        let (out, a) = g.call(MsgArg(cmd: .openSession, params: meta.params), page: 0)
        return out.a0 == 0 && a?.ret == .success ? a?.session : nil
    }

    /// Destroys every guest; true when nothing is left anywhere.
    func destroyAllClean() -> Bool {
        for g in guests { mediator.destroyGuest(g.id) }
        return guests.allSatisfy { $0.space.pinnedPages == 0 && mediator.stats($0.id) == nil && secure.stats(clientID: $0.id.clientID) == nil }
            && mediator.freeMediatorPages == free
    }
}

@Test func racingResumesFromTwoThreadsNeverReachTheSecureWorldTwice() throws {
    let m = try Machine2(guests: 1)
    let g = m.guests[0]
    let s = try #require(m.open(g))
    var completed = 0
    for round in 0..<40 {
        try g.write(MsgArg(cmd: .invokeCommand, function: TestTA.Command.getTime.rawValue, session: s, params: [.value(.valueOutput)]), page: 1)
        let first = g.callWithArg(g.ipa(1))
        guard SMCReturn(rawValue: UInt32(truncatingIfNeeded: first.a0)).rpcFunction == .alloc else { continue }
        var reply = RegisterFrame(.returnFromRPC, a3: first.a3)
        (reply.a1, reply.a2) = RegisterFrame.split(g.ipa(40).raw)
        (reply.a4, reply.a5) = RegisterFrame.split(UInt64(0x100 + round))
        let outs = Mutex<[RegisterFrame]>([])
        let go = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        for vcpu in 0..<2 {
            let r = reply
            Thread.detachNewThread {
                go.add(1, ordering: .relaxed)
                var spins = 0
                while go.load(ordering: .relaxed) < 2 && spins < 50_000_000 { spins += 1 }
                let o = g.trap(r, vcpu: vcpu)
                outs.withLock { $0.append(o) }
                done.signal()
            }
        }
        for _ in 0..<2 { #expect(done.wait(timeout: .now() + 20) == .success) }
        // Whichever resume got through continues; a refused one saw ERESUME.
        for o in outs.withLock({ $0 }) where SMCReturn(rawValue: UInt32(truncatingIfNeeded: o.a0)).isRPC {
            if g.serveRPCs(o, allocPage: 40).a0 == 0 { completed += 1 }
        }
    }
    #expect(completed > 0)
    #expect((m.secure.counters.smcErrors[.eresume] ?? 0) == 0)
    #expect(m.mediator.stats(g.id)?.callsInFlight == 0)
    #expect(m.destroyAllClean())
}

@Test func seededRandomHostileTrafficLeavesNothingBehind() throws {
    let m = try Machine2(guests: 2)
    var rng = SplitMix64(seed: 0xA77AC4)
    let ids: [UInt32] = [0x3200_0004, 0x3200_0003, 0x3200_0012, 0x3200_0013, 0xB200_0009, 0xB200_000D, 0xB200_000F, 0xB200_0007]
    let sessions = m.guests.map { m.open($0) }
    var outcomes: [UInt64: Int] = [:]
    for _ in 0..<3000 {
        let g = m.guests[Int(rng.next() % 2)]
        switch rng.next() % 6 {
        case 0:   // random bytes over an argument page
            let bytes = (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            try? g.space.write(g.ipa(Int(rng.next() % 8), Int(rng.next() % 64) * 8), bytes)
        case 1:   // a plausible argument with random attributes and sizes
            let attrs: [UInt64] = [1, 2, 3, 5, 6, 7, 9, 10, 11, 0x209, 0x20A, 0x20B, 0x101, 4]
            let params = (0..<Int(rng.next() % 5)).map { _ in
                MsgParam(attr: MsgAttr(rawValue: attrs[Int(rng.next() % UInt64(attrs.count))]),
                         a: [g.ipa(5).raw, g.ipa(6).raw | 0x10, rng.next(), 0][Int(rng.next() % 4)],
                         b: [0, 16, 4096, rng.next()][Int(rng.next() % 4)], c: rng.next() % 8)
            }
            let cmd = MsgCommand(rawValue: UInt32(rng.next() % 8))
            let fn = [0, 1, 2, 10, 11][Int(rng.next() % 5)]
            try? g.write(MsgArg(cmd: cmd, function: UInt32(fn), session: sessions[Int(g.id.raw)] ?? 0, params: params), page: Int(rng.next() % 4))
        case 2:   // page lists pointing anywhere
            _ = try? g.pageList(listPage: 5, entries: (0..<3).map { _ in [g.ipa(10).raw, g.ipa(11).raw, rng.next(), g.ipa(7).raw + 8][Int(rng.next() % 4)] },
                                next: rng.next() % 3 == 0 ? g.ipa(5).raw : 0)
        case 3:   // stage-2 churn
            let p = g.space.ramPage(Int(rng.next() % 12))
            switch rng.next() % 3 {
            case 0: try? g.space.setType(p, .ramReadOnly)
            case 1: try? g.space.setType(p, .ramReadWrite)
            default: try? g.space.setType(p, .foreign)
            }
        default:  // a trap with random registers, served like a driver if it turns into an RPC
            let id = UInt64(ids[Int(rng.next() % UInt64(ids.count))])
            let f = RegisterFrame(a0: id, a1: rng.next() % 2 == 0 ? 0 : rng.next() >> 32,
                                  a2: [g.ipa(Int(rng.next() % 4)).raw, rng.next() & 0xFFFF_FFFF][Int(rng.next() % 2)],
                                  a3: rng.next() % 8, a4: rng.next() % 3, a5: rng.next() % 3, a7: rng.next() % 3)
            let out = g.serveRPCs(g.trap(f, vcpu: Int(rng.next() % 2)), allocPage: 40, limit: 32)
            outcomes[out.a0, default: 0] += 1
        }
    }
    // Finish anything left suspended by the random resumes, then everything must be reclaimable.
    for g in m.guests { for p in 0..<12 { try? g.space.setType(g.space.ramPage(p), .ramReadWrite) } }
    #expect((outcomes[0] ?? 0) > 0 && (outcomes[UInt64(SMCReturn.ebadaddr.rawValue)] ?? 0) > 0)
    #expect((outcomes[UInt64(SMCReturn.eresume.rawValue)] ?? 0) > 0)
    for g in m.guests {
        let st = m.mediator.stats(g.id)
        #expect(st?.pinnedPages == g.space.pinnedPages)
    }
    #expect(m.destroyAllClean())
}

/// A guest destroyed while its vCPUs are completing invokes without the guest lock (slot
/// phases inFlight -> completing -> done, reaped later under the lock): whichever side of the
/// handshake each call falls on, nothing is left behind and VM_DESTROYED is sent exactly once.
@Test func destroyRacingLockFreeCompletionsLeavesNothingAndSendsVMDestroyedOnce() throws {
    for round in 0..<40 {
        let m = try Machine2(guests: 1)
        let g = m.guests[0]
        let s = try #require(m.open(g))
        let started = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        let wrong = Mutex<[String]>([])
        for vcpu in 0..<2 {
            Thread.detachNewThread {
                var signalled = false
                for i in 0..<2000 {
                    let arg = MsgArg(cmd: .invokeCommand, function: TestTA.Command.nopValues.rawValue, session: s,
                                     params: (0..<4).map { .value(.valueInout, a: UInt64(i + $0), b: 1) })
                    let (out, back) = g.call(arg, page: 1 + vcpu, vcpu: vcpu)
                    if i == 20 && !signalled { started.signal(); signalled = true }
                    guard out.a0 == 0 else { break }   // the guest is gone: ENOTAVAIL
                    if back?.ret != .success || back?.params.first?.a != UInt64(i + 1) {
                        wrong.withLock { $0.append("round \(round) vcpu \(vcpu) call \(i): \(String(describing: back?.ret))") }
                    }
                }
                if !signalled { started.signal() }
                finished.signal()
            }
        }
        // Destroy once both vCPUs are well into their loops, while calls are in flight.
        for _ in 0..<2 { #expect(started.wait(timeout: .now() + 30) == .success) }
        m.mediator.destroyGuest(g.id)
        for _ in 0..<2 { #expect(finished.wait(timeout: .now() + 30) == .success) }
        #expect(wrong.withLock { $0 } == [])
        #expect(m.mediator.totals.guestsDestroyed == 1, "round \(round)")
        #expect(m.mediator.stats(g.id) == nil && g.space.pinnedPages == 0, "round \(round)")
        #expect(m.secure.stats(clientID: g.id.clientID) == nil, "round \(round)")
        #expect(m.mediator.freeMediatorPages == m.free, "round \(round)")
    }
}
