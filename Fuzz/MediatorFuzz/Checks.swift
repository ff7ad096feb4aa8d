/// The mediator fuzz target's body, structure-aware: the input is a program of steps for two raw
/// guests against a real secure world (built-in TAs) behind the real mediator and platform:
/// writes of fuzzed bytes or of well-formed arguments into their RAM, CALL_WITH_ARG,
/// RETURN_FROM_RPC with fuzzed registers, raw fast/yielding frames, full calls served like a
/// driver, and guest destruction. After EVERY step: the secure world answers a probe, no word the
/// step changed in a guest's RAM is a mediator or secure PA, and a destroyed guest has left
/// nothing behind; at the end, teardown leaves no pin, state or mediator page.
import FuzzSupport
import Machine
import MediatedPlatform
import Mediator
import SecureWorld
import TEEABI
import TrustedApps
import VTEEAttack
#if canImport(Glibc)
import Glibc
#endif

let pages = 32
/// Commands step 5 runs to completion like a driver. Left out: NOTIFY_WAIT (waits for a send that
/// may never come) and LONG_RUN (works for [0].a milliseconds, a guest-chosen time up to 2^64 ms,
/// yielding at each checkpoint; a driver that serves every yield serves the whole run: a 136 s
/// libFuzzer timeout in round 5 was this, not a hang). Both stay reachable through raw calls.
let safeCommands = TestTA.Command.allCases.filter { $0 != .notifyWait && $0 != .longRun && $0.rawValue != 5 }
let fids: [SMCFunctionID] = [.callWithArg, .callWithRPCArg, .callWithRegdArg, .returnFromRPC, .callsUID, .getThreadCount,
                             .exchangeCapabilities, .getSHMConfig, .vmCreated, .vmDestroyed, .enableSHMCache, .disableSHMCache]

/// A value the guest may put in a param: one of its own IPAs, a page list IPA, or raw.
func address(_ c: inout FuzzInput, _ g: RawGuest) -> UInt64 {
    let s = c.u8()
    switch s % 4 {
    case 0: return g.ipa(Int(c.u8()) % pages).raw | UInt64(c.u8() & 0x7) << 3
    case 1: return g.ipa(Int(c.u8()) % pages).raw
    case 2: return UInt64(c.u32())
    default: return c.u64()
    }
}

/// A well-formed-looking argument: a command, and params with fuzzed attrs pointing into RAM.
func argument(_ c: inout FuzzInput, _ g: RawGuest, sessions: [UInt32]) -> MsgArg {
    let cmd = MsgCommand(rawValue: UInt32(c.u8() % 8))
    var params: [MsgParam] = []
    if cmd == .openSession {
        params = OpenSessionMeta(ta: c.u8() & 1 == 0 ? TestTA.uuid : TEEUUID(octets: (0..<16).map { _ in c.u8() }),
                                 client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: LoginMethod(rawValue: UInt32(c.u8() % 8))).params
    }
    for _ in 0..<Int(c.u8() % 5) {
        let attrs: [UInt64] = [1, 2, 3, 9, 10, 11, 0x209, 0x20A, 0x20B, 5, 6, 7, UInt64(c.u8())]
        let attr = attrs[Int(c.u8()) % attrs.count]
        params.append(MsgParam(attr: MsgAttr(rawValue: attr), a: address(&c, g), b: UInt64(c.u8()) << UInt64(c.u8() % 13),
                               c: c.u8() & 1 == 0 ? UInt64(c.u8()) : c.u64()))
    }
    let session = sessions.isEmpty || c.u8() & 3 == 0 ? c.u32() : sessions[Int(c.u8()) % sessions.count]
    return MsgArg(cmd: cmd, function: UInt32(c.u8() % 16), session: session, cancelID: UInt32(c.u8()), params: params)
}

/// RAM of a guest, page by page (for the "no PA written" check).
func snapshot(_ g: RawGuest) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(pages * pageSize)
    for p in 0..<pages { out += (try? g.space.read(g.ipa(p), count: pageSize)) ?? [UInt8](repeating: 0, count: pageSize) }
    return out
}

/// Words that changed between two snapshots and name mediator or secure memory.
func leakedPAs(_ before: [UInt8], _ after: [UInt8], memory: PhysicalMemory) -> [UInt64] {
    var found: [UInt64] = []
    var i = 0
    while i + 8 <= after.count {
        var same = true
        for k in 0..<8 where before[i + k] != after[i + k] { same = false; break }
        if !same {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(after[i + k]) << (8 * UInt64(k)) }
            if v != 0, let r = memory.region(containing: PA(v & ~0xFFF)) {
                if case .guestRAM = r.kind {} else { found.append(v) }
            }
        }
        i += 8
    }
    return found
}

/// Once per process: the leak check reports a changed word that names hypervisor or secure
/// memory and passes one that names guest RAM, so a clean run means something.
let leakCheckSelfTest: Void = {
    guard let bed = try? AttackBed(guestPages: pages) else { require(false, "no bed"); return }
    var hidden: UInt64 = 0
    var pa: UInt64 = 0x8000_0000
    while hidden == 0 && pa < 0x8000_0000 + (1 << 30) {
        if let r = bed.memory.region(containing: PA(pa)), r.kind == .hypervisor || r.kind == .secure { hidden = pa + 0x28 }
        pa += 0x1_0000
    }
    require(hidden != 0, "self-test: no hypervisor or secure region found")
    let before = [UInt8](repeating: 0, count: 32)
    var after = before
    for k in 0..<8 { after[8 + k] = UInt8(truncatingIfNeeded: hidden >> (8 * UInt64(k))) }
    require(leakedPAs(before, after, memory: bed.memory) == [hidden], "self-test: a secure/hypervisor PA was not reported")
    require(leakedPAs(after, after, memory: bed.memory).isEmpty, "self-test: an unchanged word was reported")
    _ = bed.teardownAndCheck()
}()

func mediatorFuzzOne(_ input: [UInt8]) {
    leakCheckSelfTest
    guard let bed = try? AttackBed(guestPages: pages) else { require(false, "no bed"); return }
    let guests = [bed.attacker, bed.victim]
    var alive = [true, true]
    var sessions: [[UInt32]] = [[], []]
    var c = FuzzInput(input)
    var steps = 0
    while !c.atEnd && steps < 40 {
        steps += 1
        let op = c.u8()
        let gi = Int(op >> 7)
        let g = guests[gi]
        var before = alive[gi] ? snapshot(g) : []
        let vcpu = Int(c.u8() % 2)
        switch op % 8 {
        case 0:   // fuzzed bytes into RAM
            let at = g.ipa(Int(c.u8()) % pages, Int(c.u8()) * 16)
            let n = Int(c.u8() % 64)
            try? g.space.write(at, (0..<n).map { _ in c.u8() })
        case 1:   // a well-formed-looking argument into RAM
            try? g.write(argument(&c, g, sessions: sessions[gi]), page: Int(c.u8()) % pages, offset: Int(c.u8() % 8) * 8)
        case 2:   // CALL_WITH_ARG on a page (+ offset)
            _ = g.callWithArg(g.ipa(Int(c.u8()) % pages, Int(c.u8() % 16) * 8), vcpu: vcpu)
        case 3:   // RETURN_FROM_RPC with fuzzed registers
            var f = RegisterFrame(.returnFromRPC, a3: UInt64(c.u8() % 8))
            (f.a1, f.a2) = RegisterFrame.split(address(&c, g))
            (f.a4, f.a5) = RegisterFrame.split(UInt64(c.u8()))
            _ = g.trap(f, vcpu: vcpu)
        case 4:   // a raw frame of a known or fuzzed function
            var f = RegisterFrame()
            let sel = c.u8()
            f.a0 = sel & 0x80 == 0 ? UInt64(fids[Int(sel) % fids.count].rawValue) : UInt64(c.u32())
            for r in 1..<8 { f[r] = c.u8() & 1 == 0 ? UInt64(c.u8()) : c.u64() }
            if SMCFunctionID(rawValue: UInt32(truncatingIfNeeded: f.a0)) == .vmDestroyed || SMCFunctionID(rawValue: UInt32(truncatingIfNeeded: f.a0)) == .vmCreated {
                f.a1 = UInt64(c.u8() % 4)
            }
            _ = g.trap(f, vcpu: vcpu)
        case 5:   // a whole call served like a driver
            if sessions[gi].isEmpty {
                if let s = bed.open(g, page: Int(c.u8()) % 8).session { sessions[gi].append(s) }
            } else {
                let cmd = safeCommands[Int(c.u8()) % safeCommands.count]
                let params = c.u8() & 1 == 0 ? AttackBed.nopParams() : [argument(&c, g, sessions: []).params.first ?? .value(.valueOutput)]
                let session = sessions[gi][Int(c.u8()) % sessions[gi].count]
                let page = 8 + Int(c.u8() % 4)
                // The argument is the guest's own bytes (a fuzzed param may hold any value, PA-looking
                // or not): snapshot after writing it, so only what the call writes back is checked.
                guard (try? g.write(MsgArg(cmd: .invokeCommand, function: cmd.rawValue, session: session, params: params), page: page)) != nil else { break }
                before = snapshot(g)
                _ = g.serveRPCs(g.callWithArg(g.ipa(page), vcpu: vcpu), allocPage: 20, shmListPage: 21, shmPages: [22, 23], vcpu: vcpu)
            }
        case 6:   // close a session
            if let s = sessions[gi].popLast() { bed.close(g, s, page: Int(c.u8()) % 8) }
        default:  // the host destroys the attacker (the victim stays: it is the bystander)
            guard gi == 0, alive[0] else { break }
            bed.mediator.destroyGuest(g.id)
            alive[0] = false
            require(g.space.pinnedPages == 0, "destroyed guest keeps \(g.space.pinnedPages) pins")
            require(bed.mediator.stats(g.id) == nil, "destroyed guest left mediator state")
            require(bed.secure.inner.stats(clientID: g.id.clientID) == nil, "destroyed guest left secure-world state")
        }
        // After every step: the secure world answers, and no PA reached the guest. Steps 0 and 1
        // are the guest writing its own RAM (no trap): whatever it wrote, PA-looking or not, came
        // from the guest, so only the steps that trap are checked for leaks.
        let probe = bed.victim.trap(RegisterFrame(.callsUID))
        let uid = OPTEEIdentity.apiUID
        require(probe.a0 == UInt64(uid.0) && probe.a1 == UInt64(uid.1), "secure world stopped answering: \(probe)")
        if alive[gi] && op % 8 > 1 {
            let leaks = leakedPAs(before, snapshot(g), memory: bed.memory)
            require(leaks.isEmpty, "step \(op % 8) wrote PAs into guest RAM: \(leaks.map { hex($0) })")
        }
    }
    let problems = bed.teardownAndCheck()
    require(problems.isEmpty, "teardown: \(problems)")
}
