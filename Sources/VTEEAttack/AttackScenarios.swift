/// The scenarios of the attack battery. Attackers craft raw frames and raw guest memory;
/// the secure world is the real one with the built-in TAs (vtee.test does the work).
import Foundation
import Machine
import MediatedPlatform
import Mediator
import Synchronization
import TEEABI
import TrustedApps

private func a0(_ r: SMCReturn) -> UInt64 { UInt64(r.rawValue) }
private let getTimeValue: UInt64 = 1_700_000_000

/// Every scenario, in the order the battery runs them.
public let attackScenarios: [AttackScenario] = argumentScenarios + pageListScenarios + paramScenarios
    + resumeScenarios + rpcScenarios + isolationScenarios + quotaScenarios + lifecycleScenarios + concurrencyScenarios

// MARK: - The argument buffer

private let argumentScenarios: [AttackScenario] = [
    AttackScenario("argument-unaligned", tries: "CALL_WITH_ARG with the argument 8 bytes into a page",
                   expected: "EBADADDR, secure world not called") { bed in
        let g = bed.attacker
        try g.write(MsgArg(cmd: .openSession), page: 2, offset: 8)
        let out = g.callWithArg(g.ipa(2, 8))
        return ("smc \(smcName(out.a0))", out.a0 == a0(.ebadaddr))
    },
    AttackScenario("argument-unmapped", tries: "CALL_WITH_ARG naming an IPA with no stage-2 mapping",
                   expected: "EBADADDR") { bed in
        let g = bed.attacker
        g.space.unmap(g.space.ramPage(2))
        let out = g.callWithArg(g.ipa(2))
        return ("smc \(smcName(out.a0))", out.a0 == a0(.ebadaddr))
    },
    AttackScenario("argument-read-only", tries: "CALL_WITH_ARG with the argument in a read-only RAM page (the write-back would fault)",
                   expected: "EBADADDR") { bed in
        let g = bed.attacker
        try g.write(MsgArg(cmd: .openSession, params: OpenSessionMeta(ta: TestTA.uuid, client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public).params), page: 2)
        try g.space.setType(g.space.ramPage(2), .ramReadOnly)
        let out = g.callWithArg(g.ipa(2))
        return ("smc \(smcName(out.a0))", out.a0 == a0(.ebadaddr) && bed.secure.inner.stats(clientID: g.id.clientID)?.sessions == 0)
    },
    AttackScenario("argument-foreign-page", tries: "CALL_WITH_ARG with the argument in a foreign/MMIO page",
                   expected: "EBADADDR") { bed in
        let g = bed.attacker
        try g.space.setType(g.space.ramPage(2), .foreign)
        let out = g.callWithArg(g.ipa(2))
        return ("smc \(smcName(out.a0))", out.a0 == a0(.ebadaddr))
    },
    AttackScenario("argument-outside-guest", tries: "CALL_WITH_ARG naming an IPA beyond the guest's window and a raw PA of the victim's RAM",
                   expected: "EBADADDR for both; the victim's page untouched") { bed in
        let g = bed.attacker
        try bed.victim.space.write(bed.victim.ipa(3), [UInt8](repeating: 0xAB, count: 64))
        let victimPA = try bed.victim.space.translate(bed.victim.ipa(3))
        let o1 = g.callWithArg(IPA(g.ipa(0).raw + UInt64(g.space.windowPages + 4) * UInt64(pageSize)))
        let o2 = g.callWithArg(IPA(victimPA.raw))
        let intact = (try? bed.victim.space.read(bed.victim.ipa(3), count: 64)) == [UInt8](repeating: 0xAB, count: 64)
        return ("smc \(smcName(o1.a0)) / \(smcName(o2.a0)), victim intact \(intact)",
                o1.a0 == a0(.ebadaddr) && o2.a0 == a0(.ebadaddr) && intact)
    },
    AttackScenario("num-params-above-maximum", tries: "num_params 128 and 0xFFFFFFFF in a page-aligned argument",
                   expected: "EBADADDR (the argument cannot fit its page), secure world not called") { bed in
        let g = bed.attacker
        var header = [UInt8](repeating: 0, count: 32)
        header[0] = 1
        header[28] = 128
        try g.space.write(g.ipa(2), header)
        let o1 = g.callWithArg(g.ipa(2))
        header[28] = 0xFF; header[29] = 0xFF; header[30] = 0xFF; header[31] = 0xFF
        try g.space.write(g.ipa(2), header)
        let o2 = g.callWithArg(g.ipa(2))
        return ("smc \(smcName(o1.a0)) / \(smcName(o2.a0))", o1.a0 == a0(.ebadaddr) && o2.a0 == a0(.ebadaddr))
    },
    AttackScenario("command-not-allowed", tries: "DO_BOTTOM_HALF, STOP_ASYNC_NOTIF and LEND_PROTMEM as std-call commands",
                   expected: "EBADCMD for each") { bed in
        let g = bed.attacker
        let outs = [MsgCommand.doBottomHalf, .stopAsyncNotif, .lendProtmem].map { g.call(MsgArg(cmd: $0), page: 2).0.a0 }
        return ("smc \(outs.map(smcName))", outs.allSatisfy { $0 == a0(.ebadcmd) })
    },
    AttackScenario("regd-arg-foreign-cookie", tries: "CALL_WITH_REGD_ARG naming the victim's registered buffer cookie",
                   expected: "EBADADDR; the victim's buffer stays registered") { bed in
        let (_, r) = bed.register(bed.victim, cookie: 0x4444, data: [20], listPage: 21)
        let (h, l) = RegisterFrame.split(0x4444)
        let out = bed.attacker.trap(RegisterFrame(.callWithRegdArg, a1: h, a2: l, a3: 0))
        return ("victim register \(retName(r)), attacker smc \(smcName(out.a0))",
                r == .success && out.a0 == a0(.ebadaddr) && bed.mediator.stats(bed.victim.id)?.shmBuffers == 1)
    },
]

// MARK: - Page lists

private func registerWith(_ bed: AttackBed, _ g: RawGuest, ptr: UInt64, size: UInt64, cookie: UInt64 = 0x10) -> (RegisterFrame, TEEResult?) {
    let (out, a) = g.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: size, shmRef: cookie, noncontig: true)]), page: 0)
    return (out, a?.ret)
}

private func pageListRefused(_ bed: AttackBed, _ out: RegisterFrame, _ ret: TEEResult?, _ want: TEEResult = .badParameters) -> (String, Bool) {
    let g = bed.attacker
    let clean = g.space.pinnedPages == 0 && bed.secure.inner.stats(clientID: g.id.clientID)?.registeredSHM == 0
    return ("smc \(smcName(out.a0)), ret \(retName(ret)), pins \(g.space.pinnedPages)", out.a0 == 0 && ret == want && clean)
}

private let pageListScenarios: [AttackScenario] = [
    AttackScenario("page-list-loops", tries: "a NONCONTIG list page whose next pointer is itself, for a buffer needing two list pages",
                   expected: "BAD_PARAMETERS, no pins left", config: {
        var c = MediatorConfig(); c.pagesPerBuffer = 1024; return c
    }) { bed in
        let g = bed.attacker
        let ptr = try g.pageList(listPage: 5, entries: Array(repeating: g.ipa(20).raw, count: 511), next: g.ipa(5).raw)
        let (out, ret) = registerWith(bed, g, ptr: ptr, size: 600 * 4096)
        return pageListRefused(bed, out, ret)
    },
    AttackScenario("page-list-outside-guest", tries: "a page-list entry beyond the guest's IPA window",
                   expected: "BAD_PARAMETERS, no pins left") { bed in
        let g = bed.attacker
        let beyond = g.ipa(0).raw + UInt64(g.space.windowPages + 1) * UInt64(pageSize)
        let ptr = try g.pageList(listPage: 5, entries: [g.ipa(20).raw, beyond])
        let (out, ret) = registerWith(bed, g, ptr: ptr, size: 2 * 4096)
        return pageListRefused(bed, out, ret)
    },
    AttackScenario("page-list-read-only-page", tries: "a page-list entry naming a read-only RAM page (the secure world would write it)",
                   expected: "BAD_PARAMETERS, no pins left") { bed in
        let g = bed.attacker
        try g.space.setType(g.space.ramPage(21), .ramReadOnly)
        let ptr = try g.pageList(listPage: 5, entries: g.pages([20, 21]))
        let (out, ret) = registerWith(bed, g, ptr: ptr, size: 2 * 4096)
        return pageListRefused(bed, out, ret)
    },
    AttackScenario("page-list-foreign-page", tries: "a page-list entry naming a foreign/MMIO page",
                   expected: "BAD_PARAMETERS, no pins left") { bed in
        let g = bed.attacker
        try g.space.setType(g.space.ramPage(21), .foreign)
        let ptr = try g.pageList(listPage: 5, entries: g.pages([20, 21]))
        let (out, ret) = registerWith(bed, g, ptr: ptr, size: 2 * 4096)
        return pageListRefused(bed, out, ret)
    },
    AttackScenario("page-list-unaligned-entry", tries: "a page-list entry that is not page aligned",
                   expected: "BAD_PARAMETERS, no pins left") { bed in
        let g = bed.attacker
        let ptr = try g.pageList(listPage: 5, entries: [g.ipa(20).raw, g.ipa(21).raw + 0x10])
        let (out, ret) = registerWith(bed, g, ptr: ptr, size: 2 * 4096)
        return pageListRefused(bed, out, ret)
    },
    AttackScenario("page-list-too-long", tries: "a buffer of 130 pages (limit 129 per buffer), then exactly 129",
                   expected: "OUT_OF_MEMORY for 130, success for 129") { bed in
        let g = bed.attacker
        let p130 = try g.pageList(listPage: 5, entries: Array(repeating: g.ipa(20).raw, count: 130))
        let (o1, r1) = registerWith(bed, g, ptr: p130, size: 130 * 4096, cookie: 1)
        let refused = pageListRefused(bed, o1, r1, .outOfMemory)
        let p129 = try g.pageList(listPage: 6, entries: Array(repeating: g.ipa(20).raw, count: 129))
        let (o2, r2) = registerWith(bed, g, ptr: p129, size: 129 * 4096, cookie: 2)
        return ("130: \(refused.0); 129: smc \(smcName(o2.a0)) ret \(retName(r2))", refused.1 && o2.a0 == 0 && r2 == .success)
    },
    AttackScenario("page-list-toctou", tries: "rewriting the page list and the argument's buf_ptr while the call is in flight",
                   expected: "the secure world uses the list validated before the rewrite: the original page is echoed, the substitute untouched") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let text = Array("hello vtee".utf8)
        try g.space.write(g.ipa(10), text)
        try g.space.write(g.ipa(11), Array("untouched!".utf8))
        let ptr = try g.pageList(listPage: 5, entries: g.pages([10]))
        bed.secure.arm { f in
            guard f.function == .callWithArg else { return false }
            _ = try? g.pageList(listPage: 5, entries: g.pages([11]))
            _ = try? g.pageList(listPage: 6, entries: g.pages([11]))
            var evil = MsgArg(cmd: .invokeCommand, function: TestTA.Command.echoMemref.rawValue, session: s,
                              params: [.tmem(.tmemInout, bufPtr: g.ipa(6).raw, size: 10, shmRef: 0x42, noncontig: true)])
            evil.ret = .generic
            try? g.write(evil, page: 1)
            return true
        }
        let (out, arg) = bed.invoke(g, session: s, .echoMemref, [.tmem(.tmemInout, bufPtr: ptr, size: UInt64(text.count), shmRef: 0x42, noncontig: true)])
        let p10 = (try? g.space.read(g.ipa(10), count: text.count)) ?? []
        let p11 = (try? g.space.read(g.ipa(11), count: 10)) ?? []
        bed.close(g, s)
        let held = out.a0 == 0 && arg?.ret == .success && p10 == text.reversed() && p11 == Array("untouched!".utf8)
        return ("ret \(retName(arg?.ret)), page10 \(String(decoding: p10, as: UTF8.self)), page11 \(String(decoding: p11, as: UTF8.self))", held)
    },
]

// MARK: - Params

private let paramScenarios: [AttackScenario] = [
    AttackScenario("argument-toctou", tries: "a second vCPU rewrites command, function, values and num_params while the call is in flight",
                   expected: "the secure world acts on the validated copy: NOP_VALUES results, no TA panic") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let panics = bed.secure.inner.counters.taPanics
        bed.secure.arm { f in
            guard f.function == .callWithArg else { return false }
            var evil = MsgArg(cmd: .invokeCommand, function: TestTA.Command.panic.rawValue, session: s,
                              params: (0..<4).map { _ in .value(.valueInout, a: 1000, b: 1000) })
            evil.cancelID = 99
            try? g.write(evil, page: 1)
            try? g.space.write(g.ipa(1, 28), [127, 0, 0, 0])
            return true
        }
        let (out, arg) = bed.invoke(g, session: s, .nopValues, AttackBed.nopParams(1))
        let vals = arg?.params.map(\.a) ?? []
        let held = out.a0 == 0 && arg?.ret == .success && vals == [2, 3, 4, 5] && bed.secure.inner.counters.taPanics == panics
        bed.close(g, s)
        return ("smc \(smcName(out.a0)), ret \(retName(arg?.ret)), values \(vals), panics \(bed.secure.inner.counters.taPanics - panics)", held)
    },
    AttackScenario("contiguous-tmem", tries: "a plain (contiguous) TMEM naming a guest address in INVOKE",
                   expected: "BAD_PARAMETERS from the mediator, secure world not called") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let (out, arg) = bed.invoke(g, session: s, .echoMemref, [.tmem(.tmemInout, bufPtr: g.ipa(10).raw, size: 16, shmRef: 1)])
        bed.close(g, s)
        return ("smc \(smcName(out.a0)), ret \(retName(arg?.ret)) origin \(arg?.retOrigin.rawValue ?? 0)",
                out.a0 == 0 && arg?.ret == .badParameters && arg?.retOrigin == .comms)
    },
    AttackScenario("offset-size-overflow", tries: "NONCONTIG tmem with offset 0xFFF and size near 2^64; rmem with offset near 2^64",
                   expected: "BAD_PARAMETERS for both, no pins") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let ptr = try g.pageList(listPage: 5, entries: g.pages([10]), offset: 0xFFF)
        let (_, a1) = bed.invoke(g, session: s, .echoMemref, [.tmem(.tmemInout, bufPtr: ptr, size: UInt64.max - 0x10, shmRef: 1, noncontig: true)])
        _ = bed.register(g, cookie: 5, data: [20], listPage: 21, page: 2)
        let (_, a2) = bed.invoke(g, session: s, .echoMemref, [.rmem(.rmemInout, offset: UInt64.max - 4, size: 16, shmRef: 5)])
        bed.close(g, s)
        return ("tmem \(retName(a1?.ret)), rmem \(retName(a2?.ret)), pins \(g.space.pinnedPages)",
                a1?.ret == .badParameters && a2?.ret == .badParameters && g.space.pinnedPages == 1)
    },
    AttackScenario("rmem-outside-buffer", tries: "RMEM offset 4000 size 200 in a one-page registered buffer",
                   expected: "BAD_PARAMETERS") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        _ = bed.register(g, cookie: 5, data: [20], listPage: 21, page: 2)
        let (_, a) = bed.invoke(g, session: s, .echoMemref, [.rmem(.rmemInout, offset: 4000, size: 200, shmRef: 5)])
        bed.close(g, s)
        return ("ret \(retName(a?.ret))", a?.ret == .badParameters)
    },
    AttackScenario("invalid-attributes", tries: "param types 4 and 8, stray attr bits, NONCONTIG on a value, META outside OPEN_SESSION",
                   expected: "BAD_PARAMETERS for each") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let attrs: [UInt64] = [4, 8, 0x1_0000_0001, 0x201, 0x101]
        var rets: [TEEResult?] = []
        for at in attrs {
            rets.append(bed.invoke(g, session: s, .nopValues, [MsgParam(attr: MsgAttr(rawValue: at), a: 1)]).1?.ret)
        }
        bed.close(g, s)
        return ("rets \(rets.map(retName))", rets.allSatisfy { $0 == .badParameters })
    },
    AttackScenario("hypervisor-client-id", tries: "a std call with a7 = 0 (the hypervisor's client id)",
                   expected: "a7 is replaced by the guest's client id: the session belongs to the guest, not the hypervisor") { bed in
        let g = bed.attacker
        let meta = OpenSessionMeta(ta: TestTA.uuid, client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
        try g.write(MsgArg(cmd: .openSession, params: meta.params), page: 2)
        let out = g.callWithArg(g.ipa(2), a7: 0)
        let a = g.readArg(page: 2, numParams: 2)
        let sessions = bed.secure.inner.stats(clientID: g.id.clientID)?.sessions ?? -1
        if let s = a?.session, a?.ret == .success { bed.close(g, s) }
        return ("smc \(smcName(out.a0)), ret \(retName(a?.ret)), guest sessions \(sessions)",
                out.a0 == 0 && a?.ret == .success && sessions == 1)
    },
]

// MARK: - RETURN_FROM_RPC

private func startGetTime(_ bed: AttackBed, _ g: RawGuest, _ s: UInt32, page: Int = 1, vcpu: Int = 0) -> RegisterFrame {
    _ = try? g.write(MsgArg(cmd: .invokeCommand, function: TestTA.Command.getTime.rawValue, session: s, params: [.value(.valueOutput)]), page: page)
    return g.callWithArg(g.ipa(page), vcpu: vcpu)
}

private func isRPC(_ f: RegisterFrame, _ fn: RPCFunction? = nil) -> Bool {
    let r = SMCReturn(rawValue: UInt32(truncatingIfNeeded: f.a0))
    return r.isRPC && (fn == nil || r.rpcFunction == fn)
}

private let resumeScenarios: [AttackScenario] = [
    AttackScenario("double-resume-two-vcpus", tries: "while vCPU 0's RETURN_FROM_RPC is in the secure world, vCPU 1 resumes the same thread",
                   expected: "ERESUME for the second; the call completes once with the right result") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let first = startGetTime(bed, g, s)
        guard isRPC(first, .alloc) else { return ("no RPC: \(smcName(first.a0))", false) }
        let second = Mutex<UInt64?>(nil)
        let t = first.a3
        bed.secure.arm { f in
            guard f.function == .returnFromRPC else { return false }
            let (h, l) = RegisterFrame.split(g.ipa(44).raw)
            let r = g.trap(RegisterFrame(.returnFromRPC, a1: h, a2: l, a3: t, a5: 0x999), vcpu: 1)
            second.withLock { $0 = r.a0 }
            return true
        }
        let done = g.serveRPCs(first, allocPage: 40)
        let a = g.readArg(page: 1, numParams: 1)
        bed.close(g, s)
        let sec = second.withLock { $0 }
        return ("second resume \(sec.map(smcName) ?? "none"), call \(smcName(done.a0)) ret \(retName(a?.ret)) a \(a?.params.first?.a ?? 0)",
                sec == a0(.eresume) && done.a0 == 0 && a?.ret == .success && a?.params.first?.a == getTimeValue)
    },
    AttackScenario("resume-from-another-vcpu", tries: "start a call on vCPU 0 and serve its RPCs from vCPU 1 (allowed)",
                   expected: "the call completes normally") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let first = startGetTime(bed, g, s, vcpu: 0)
        let done = g.serveRPCs(first, allocPage: 40, vcpu: 1)
        let a = g.readArg(page: 1, numParams: 1)
        bed.close(g, s)
        return ("call \(smcName(done.a0)) ret \(retName(a?.ret))", done.a0 == 0 && a?.ret == .success)
    },
    AttackScenario("resume-other-guests-thread", tries: "RETURN_FROM_RPC naming the victim's suspended thread id (and every other id)",
                   expected: "ERESUME for all; the victim's call then completes") { bed in
        let v = bed.victim
        guard let s = bed.open(v).session else { return ("open failed", false) }
        let first = startGetTime(bed, v, s)
        guard isRPC(first) else { return ("no RPC", false) }
        let outs = (0..<8).map { bed.attacker.trap(RegisterFrame(.returnFromRPC, a3: UInt64($0))).a0 }
        let done = v.serveRPCs(first, allocPage: 40)
        let a = v.readArg(page: 1, numParams: 1)
        bed.close(v, s)
        return ("attacker \(Set(outs.map(smcName))), victim \(retName(a?.ret))",
                outs.allSatisfy { $0 == a0(.eresume) } && done.a0 == 0 && a?.ret == .success)
    },
    AttackScenario("resume-finished-call", tries: "RETURN_FROM_RPC for a thread whose call already completed",
                   expected: "ERESUME from the mediator; the secure world never sees it") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let first = startGetTime(bed, g, s)
        let done = g.serveRPCs(first, allocPage: 40)
        let before = bed.secure.inner.counters.smcErrors[.eresume] ?? 0
        let out = g.trap(RegisterFrame(.returnFromRPC, a3: first.a3))
        let after = bed.secure.inner.counters.smcErrors[.eresume] ?? 0
        bed.close(g, s)
        return ("call \(smcName(done.a0)), stale resume \(smcName(out.a0)), secure ERESUME +\(after - before)",
                done.a0 == 0 && out.a0 == a0(.eresume) && after == before)
    },
]

// MARK: - RPC replies

private let rpcScenarios: [AttackScenario] = [
    AttackScenario("rpc-alloc-reply-physical-address", tries: "answering RPC ALLOC with raw PAs (the victim's RAM, the guest's own backing) instead of an IPA",
                   expected: "refused (the secure world gets 0); the victim's page is untouched") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        try bed.victim.space.write(bed.victim.ipa(5), [UInt8](repeating: 0x5C, count: 256))
        let victimPA = try bed.victim.space.translate(bed.victim.ipa(5)).raw
        let ownPA = try g.space.translate(g.ipa(40)).raw
        var rets: [TEEResult?] = []
        for pa in [victimPA, ownPA] {
            let (_, a) = bed.invokeServing(g, session: s, .getTime, [.value(.valueOutput)]) { out, f in
                if isRPC(out, .alloc) { (f.a1, f.a2) = RegisterFrame.split(pa) }
            }
            rets.append(a?.ret)
        }
        let intact = (try? bed.victim.space.read(bed.victim.ipa(5), count: 256)) == [UInt8](repeating: 0x5C, count: 256)
        bed.close(g, s)
        return ("rets \(rets.map(retName)), victim intact \(intact), rejected \(bed.mediator.errors.rpcRejected)",
                rets.allSatisfy { $0 != nil && $0 != .success } && intact && bed.mediator.errors.rpcRejected >= 2)
    },
    AttackScenario("rpc-alloc-reply-unaligned", tries: "answering RPC ALLOC with an IPA 8 bytes into a page",
                   expected: "refused; the call fails cleanly") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let (_, a) = bed.invokeServing(g, session: s, .getTime, [.value(.valueOutput)]) { out, f in
            if isRPC(out, .alloc) { (f.a1, f.a2) = RegisterFrame.split(g.ipa(40, 8).raw) }
        }
        bed.close(g, s)
        return ("ret \(retName(a?.ret))", a?.ret != nil && a?.ret != .success)
    },
    AttackScenario("plain-tmem-in-shm-alloc-reply", tries: "answering RPC SHM_ALLOC with a plain contiguous TMEM (a guest-chosen address)",
                   expected: "refused (OUT_OF_MEMORY to the TA); an honest NONCONTIG reply works") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let (_, honest) = bed.invokeServing(g, session: s, .shmRoundTrip, [.value(.valueInput, a: 4096, b: 1)])
        let (_, evil) = bed.invokeServing(g, session: s, .shmRoundTrip, [.value(.valueInput, a: 4096, b: 1)]) { out, _ in
            guard isRPC(out, .cmd), var r = g.readArg(page: 40, numParams: 1), RPCCommand(rawValue: r.cmd.rawValue) == .shmAlloc else { return }
            r.params[0] = .tmem(.tmemOutput, bufPtr: g.ipa(50).raw, size: 4096, shmRef: 0x31)
            r.ret = .success
            try? g.write(r, page: 40)
        }
        bed.close(g, s)
        return ("honest \(retName(honest?.ret)), plain tmem \(retName(evil?.ret))", honest?.ret == .success && evil?.ret != nil && evil?.ret != .success)
    },
    AttackScenario("forged-rpc-cookie", tries: "answering RPC ALLOC with the cookie of the guest's own registered buffer",
                   expected: "refused as a duplicate; the registered buffer is intact") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let (_, r) = bed.register(g, cookie: 0x77, data: [20], listPage: 21, page: 2)
        let (_, a) = bed.invokeServing(g, session: s, .getTime, [.value(.valueOutput)]) { out, f in
            if isRPC(out, .alloc) { (f.a4, f.a5) = RegisterFrame.split(0x77) }
        }
        let st = bed.mediator.stats(g.id)
        bed.close(g, s)
        return ("register \(retName(r)), call \(retName(a?.ret)), shm \(st?.shmBuffers ?? -1), pins \(st?.pinnedPages ?? -1)",
                r == .success && a?.ret != .success && st?.shmBuffers == 1 && st?.pinnedPages == 1)
    },
    AttackScenario("rpc-alloc-cookie-zero", tries: "answering RPC ALLOC with cookie 0 (the secure world's 'no buffer', never freed)",
                   expected: "refused; no RPC buffer or pin is left behind") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let (_, a) = bed.invokeServing(g, session: s, .getTime, [.value(.valueOutput)]) { out, f in
            if isRPC(out, .alloc) { f.a4 = 0; f.a5 = 0 }
        }
        let st = bed.mediator.stats(g.id)
        bed.close(g, s)
        return ("call \(retName(a?.ret)), rpc buffers \(st?.rpcBuffers ?? -1), pins \(st?.pinnedPages ?? -1)",
                a?.ret != nil && a?.ret != .success && st?.rpcBuffers == 0 && st?.pinnedPages == 0)
    },
    AttackScenario("duplicate-rpc-cookie", tries: "two calls in flight, both RPC ALLOCs answered with the same cookie",
                   expected: "the second is refused; the first completes") { bed in
        let g = bed.attacker
        guard let s1 = bed.open(g).session, let s2 = bed.open(g).session else { return ("open failed", false) }
        let a = startGetTime(bed, g, s1, page: 1)
        var fa = RegisterFrame(.returnFromRPC, a3: a.a3)
        (fa.a1, fa.a2) = RegisterFrame.split(g.ipa(40).raw); (fa.a4, fa.a5) = RegisterFrame.split(0x900)
        let aCmd = g.trap(fa)
        let b = startGetTime(bed, g, s2, page: 2)
        var fb = RegisterFrame(.returnFromRPC, a3: b.a3)
        (fb.a1, fb.a2) = RegisterFrame.split(g.ipa(44).raw); (fb.a4, fb.a5) = RegisterFrame.split(0x900)
        let bDone = g.serveRPCs(g.trap(fb), allocPage: 48)
        let aDone = g.serveRPCs(aCmd, allocPage: 40)
        let ra = g.readArg(page: 1, numParams: 1)?.ret, rb = g.readArg(page: 2, numParams: 1)?.ret
        bed.close(g, s1); bed.close(g, s2)
        return ("first \(smcName(aDone.a0))/\(retName(ra)), second \(smcName(bDone.a0))/\(retName(rb))",
                ra == .success && rb != nil && rb != .success)
    },
]

// MARK: - Other guests' objects

private let isolationScenarios: [AttackScenario] = [
    AttackScenario("other-guests-shm-cookie", tries: "RMEM, UNREGISTER_SHM and REGISTER_SHM with the victim's shm cookie",
                   expected: "BAD_PARAMETERS for RMEM and UNREGISTER; the victim's buffer stays registered and usable") { bed in
        let (_, vr) = bed.register(bed.victim, cookie: 0x1234, data: [20], listPage: 21)
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        let (_, r1) = bed.invoke(g, session: s, .echoMemref, [.rmem(.rmemInout, offset: 0, size: 16, shmRef: 0x1234)])
        let (_, r2) = g.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 0x1234)]), page: 2)
        bed.close(g, s)
        let vstats = bed.mediator.stats(bed.victim.id)
        let (_, vu) = bed.victim.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 0x1234)]), page: 2)
        return ("victim register \(retName(vr)), rmem \(retName(r1?.ret)), unregister \(retName(r2?.ret)), victim unregister \(retName(vu?.ret))",
                vr == .success && r1?.ret == .badParameters && r2?.ret == .badParameters && vstats?.shmBuffers == 1 && vu?.ret == .success)
    },
    AttackScenario("other-guests-session", tries: "INVOKE, CLOSE and CANCEL on the victim's session id",
                   expected: "BAD_PARAMETERS; the victim's session keeps working") { bed in
        guard let vs = bed.open(bed.victim).session else { return ("open failed", false) }
        let g = bed.attacker
        let (_, i) = bed.invoke(g, session: vs, .nopValues, AttackBed.nopParams())
        let c = bed.close(g, vs)
        let (_, k) = g.call(MsgArg(cmd: .cancel, session: vs, cancelID: 1), page: 2)
        let (_, v) = bed.invoke(bed.victim, session: vs, .nopValues, AttackBed.nopParams())
        bed.close(bed.victim, vs)
        return ("invoke \(retName(i?.ret)), close \(retName(c)), cancel \(retName(k?.ret)), victim \(retName(v?.ret))",
                i?.ret == .badParameters && c == .badParameters && k?.ret == .badParameters && v?.ret == .success)
    },
    AttackScenario("vm-created-from-guest", tries: "VM_CREATED and VM_DESTROYED (for the victim's client id) issued by a guest",
                   expected: "UNKNOWN_FUNCTION; the secure world's VM set is unchanged; the victim keeps working") { bed in
        let g = bed.attacker
        let before = bed.secure.inner.clients
        let c = g.trap(RegisterFrame(.vmCreated, a1: 9, a7: 0))
        let d = g.trap(RegisterFrame(.vmDestroyed, a1: bed.victim.id.clientID, a7: 0))
        let after = bed.secure.inner.clients
        let v = bed.open(bed.victim)
        if let s = v.session { bed.close(bed.victim, s) }
        return ("created \(smcName(c.a0)), destroyed \(smcName(d.a0)), clients \(after), victim \(v.detail)",
                c.a0 == a0(.unknownFunction) && d.a0 == a0(.unknownFunction) && before == after && v.session != nil)
    },
    AttackScenario("static-shm-and-capabilities", tries: "GET_SHM_CONFIG and EXCHANGE_CAPABILITIES with every non-secure bit set",
                   expected: "ENOTAVAIL for static shm; capabilities masked to dynamic shm + NULL memref") { bed in
        let g = bed.attacker
        let cfg = g.trap(RegisterFrame(.getSHMConfig))
        let caps = g.trap(RegisterFrame(.exchangeCapabilities, a1: 0xFFFF_FFFF))
        let c = SecureCapabilities(rawValue: UInt32(truncatingIfNeeded: caps.a1))
        return ("shm config \(smcName(cfg.a0)), caps \(smcName(caps.a0)) \(hex(c.rawValue))",
                cfg.a0 == a0(.enotavail) && caps.a0 == 0 && c == Mediator.guestCapabilities)
    },
    AttackScenario("unknown-function-ids", tries: "SMC64 and unassigned Trusted OS ids, a yielding id with bits 63:32 set",
                   expected: "UNKNOWN_FUNCTION / NOT_SUPPORTED; the secure world is not reached") { bed in
        let g = bed.attacker
        let outs = [g.trap(RegisterFrame(a0: 0xF200_0004)).a0, g.trap(RegisterFrame(a0: 0xB200_00FF)).a0,
                    g.trap(RegisterFrame(a0: 0x1_3200_0004)).a0, g.trap(RegisterFrame(a0: 0x3200_0099)).a0]
        return ("\(outs.map { hex($0) })", outs.allSatisfy { $0 == 0xFFFF_FFFF || $0 == UInt64.max })
    },
]

// MARK: - Quotas

private let quotaScenarios: [AttackScenario] = [
    AttackScenario("quota-calls-in-flight", tries: "suspending as many calls as there are secure threads, then one more",
                   expected: "ETHREAD_LIMIT for the extra call; the victim is unaffected; all calls then complete") { bed in
        let g = bed.attacker
        let n = bed.mediator.callsInFlightLimit
        var sessions: [UInt32] = []
        for _ in 0...n { guard let s = bed.open(g).session else { return ("open failed", false) }; sessions.append(s) }
        var firsts: [RegisterFrame] = []
        for i in 0..<n { firsts.append(startGetTime(bed, g, sessions[i], page: 1 + i)) }
        let (extra, _) = bed.invoke(g, session: sessions[n], .nopValues, AttackBed.nopParams(), page: 30)
        let v = bed.open(bed.victim)
        if let s = v.session { bed.close(bed.victim, s) }
        var completed = 0
        for (i, f) in firsts.enumerated() where g.serveRPCs(f, allocPage: 32 + (i % 4) * 4).a0 == 0 { completed += 1 }
        for s in sessions { bed.close(g, s) }
        return ("\(n) suspended, extra \(smcName(extra.a0)), victim \(v.detail), completed \(completed)",
                firsts.allSatisfy { isRPC($0) } && extra.a0 == a0(.ethreadLimit) && v.session != nil && completed == n)
    },
    AttackScenario("quota-shm-buffers", tries: "registering 17 buffers (limit 16)",
                   expected: "16 succeed, the 17th gets OUT_OF_MEMORY; the victim can still register") { bed in
        let g = bed.attacker
        var rets: [TEEResult?] = []
        for i in 0..<17 { rets.append(bed.register(g, cookie: UInt64(100 + i), data: [20 + i], listPage: 40 + i).1) }
        let (_, v) = bed.register(bed.victim, cookie: 100, data: [20], listPage: 40)
        return ("ok \(rets.prefix(16).filter { $0 == .success }.count), 17th \(retName(rets.last ?? nil)), victim \(retName(v))",
                rets.prefix(16).allSatisfy { $0 == .success } && rets.last == .outOfMemory && v == .success)
    },
    AttackScenario("quota-pinned-pages", tries: "pinning past the per-guest total (limit 8 pages here)",
                   expected: "OUT_OF_MEMORY once the total would pass 8; the victim's own quota is untouched", config: {
        var c = MediatorConfig(); c.pinnedPages = 8; return c
    }) { bed in
        let g = bed.attacker
        let (_, r1) = bed.register(g, cookie: 1, data: Array(10..<16), listPage: 5)
        let (_, r2) = bed.register(g, cookie: 2, data: Array(20..<24), listPage: 6)
        let (_, v) = bed.register(bed.victim, cookie: 1, data: Array(10..<16), listPage: 5)
        return ("6 pages \(retName(r1)), 4 more \(retName(r2)), victim \(retName(v)), attacker pins \(g.space.pinnedPages)",
                r1 == .success && r2 == .outOfMemory && v == .success && g.space.pinnedPages == 6)
    },
    AttackScenario("quota-sessions", tries: "opening 5 sessions with a limit of 4",
                   expected: "OUT_OF_MEMORY for the 5th; the victim opens its own 4", config: {
        var c = MediatorConfig(); c.sessions = 4; return c
    }) { bed in
        let opened = (0..<5).map { _ in bed.open(bed.attacker) }
        let victim = (0..<4).map { _ in bed.open(bed.victim) }
        for o in opened { if let s = o.session { bed.close(bed.attacker, s) } }
        for o in victim { if let s = o.session { bed.close(bed.victim, s) } }
        return ("attacker \(opened.map(\.detail)), victim \(victim.filter { $0.session != nil }.count)/4",
                opened.prefix(4).allSatisfy { $0.session != nil } && opened[4].ret == .outOfMemory && victim.allSatisfy { $0.session != nil })
    },
    AttackScenario("quota-mediator-pages", tries: "making the mediator hold page lists until its per-guest page budget (3 here) runs out",
                   expected: "OUT_OF_MEMORY for the registration that would pass the budget; the victim's budget is its own", config: {
        var c = MediatorConfig(); c.mediatorPagesPerGuest = 3; return c
    }) { bed in
        let g = bed.attacker
        let rets = (0..<3).map { bed.register(g, cookie: UInt64(10 + $0), data: [20 + $0], listPage: 30 + $0).1 }
        let (_, v) = bed.register(bed.victim, cookie: 10, data: [20], listPage: 30)
        let bytes = bed.mediator.stats(g.id)?.mediatorBytes ?? -1
        return ("attacker \(rets.map(retName)), victim \(retName(v)), attacker mediator bytes \(bytes)",
                rets[0] == .success && rets[1] == .success && rets[2] == .outOfMemory && v == .success && bytes == 2 * 4096)
    },
    AttackScenario("quota-rpc-buffers", tries: "holding RPC buffers in several suspended calls past the limit (2 here)",
                   expected: "the third ALLOC is refused and that call fails; the others complete", config: {
        var c = MediatorConfig(); c.rpcBuffers = 2; return c
    }) { bed in
        let g = bed.attacker
        var sessions: [UInt32] = []
        for _ in 0..<3 { guard let s = bed.open(g).session else { return ("open failed", false) }; sessions.append(s) }
        var held: [RegisterFrame] = []
        for i in 0..<3 {
            let f = startGetTime(bed, g, sessions[i], page: 1 + i)
            var r = RegisterFrame(.returnFromRPC, a3: f.a3)
            (r.a1, r.a2) = RegisterFrame.split(g.ipa(40 + i * 4).raw); (r.a4, r.a5) = RegisterFrame.split(UInt64(0xA00 + i))
            held.append(g.trap(r))
        }
        let done = held.enumerated().map { g.serveRPCs($0.element, allocPage: 40 + $0.offset * 4).a0 }
        let rets = (0..<3).map { g.readArg(page: 1 + $0, numParams: 1)?.ret }
        for s in sessions { bed.close(g, s) }
        return ("smc \(done.map(smcName)), rets \(rets.map(retName))",
                rets[0] == .success && rets[1] == .success && rets[2] != nil && rets[2] != .success)
    },
]

// MARK: - Guest lifecycle

private func destroyedClean(_ bed: AttackBed, _ g: RawGuest) -> (String, Bool) {
    let m = bed.mediator.stats(g.id), s = bed.secure.inner.stats(clientID: g.id.clientID)
    let pins = g.space.pinnedPages
    return ("mediator \(m == nil ? "clean" : "left state"), secure \(s == nil ? "clean" : "left state"), pins \(pins)",
            m == nil && s == nil && pins == 0)
}

private let lifecycleScenarios: [AttackScenario] = [
    AttackScenario("destroy-mid-call", tries: "the guest is destroyed while its call (with a temporary NONCONTIG buffer) is in the secure world",
                   expected: "the call is reclaimed when it returns; zero pins, calls, shm and sessions in mediator and secure world") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        _ = bed.register(g, cookie: 9, data: [20, 21], listPage: 22, page: 2)
        let ptr = try g.pageList(listPage: 5, entries: g.pages([10]))
        bed.secure.arm { f in
            guard f.function == .callWithArg else { return false }
            bed.mediator.destroyGuest(g.id)
            return true
        }
        let (out, _) = bed.invoke(g, session: s, .echoMemref, [.tmem(.tmemInout, bufPtr: ptr, size: 8, shmRef: 3, noncontig: true)])
        let (text, ok) = destroyedClean(bed, g)
        return ("call \(smcName(out.a0)); \(text)", ok)
    },
    AttackScenario("destroy-mid-rpc", tries: "the guest is destroyed while a call is suspended in RPC CMD (its RPC buffer pinned), with a session and a registered buffer",
                   expected: "everything reclaimed, VM_DESTROYED sent: zero pins, calls, shm and sessions in mediator and secure world") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        _ = bed.register(g, cookie: 9, data: [20, 21], listPage: 22, page: 2)
        let first = startGetTime(bed, g, s)
        var f = RegisterFrame(.returnFromRPC, a3: first.a3)
        (f.a1, f.a2) = RegisterFrame.split(g.ipa(40).raw); (f.a4, f.a5) = RegisterFrame.split(0xC0)
        let cmd = g.trap(f)
        let suspended = bed.mediator.stats(g.id)?.callsSuspended ?? 0
        bed.mediator.destroyGuest(g.id)
        let late = g.trap(RegisterFrame(.returnFromRPC, a3: first.a3))
        let (text, ok) = destroyedClean(bed, g)
        return ("suspended \(suspended) at \(smcName(cmd.a0)), late resume \(smcName(late.a0)); \(text)",
                isRPC(cmd, .cmd) && suspended == 1 && late.a0 != 0 && ok)
    },
    AttackScenario("unmap-pinned-page-mid-call", tries: "unmapping the argument page and mapping another page there while the call is in flight",
                   expected: "no write-back through the stale mapping: neither the old nor the new backing is written; pins released") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        var arg = MsgArg(cmd: .invokeCommand, function: TestTA.Command.nopValues.rawValue, session: s, params: AttackBed.nopParams())
        arg.ret = TEEResult(rawValue: 0xDEAD_BEEF)
        try g.write(arg, page: 1)
        try g.space.write(g.ipa(7), [UInt8](repeating: 0x77, count: 64))
        guard let old = g.space.entry(g.space.ramPage(1))?.pa, let other = g.space.entry(g.space.ramPage(7))?.pa else { return ("no mapping", false) }
        let refusedBefore = bed.mediator.errors.copyBackRefused
        bed.secure.arm { f in
            guard f.function == .callWithArg else { return false }
            g.space.unmap(g.space.ramPage(1))
            try? g.space.map(g.space.ramPage(1), to: other)
            return true
        }
        let out = g.callWithArg(g.ipa(1))
        let oldRet = (try? bed.memory.read(PA(old.address.raw + 20), count: 4, world: .nonSecure)) ?? []
        let newBytes = (try? bed.memory.read(other.address, count: 64, world: .nonSecure)) ?? []
        let refused = bed.mediator.errors.copyBackRefused - refusedBefore
        bed.close(g, s, page: 2)
        return ("call \(smcName(out.a0)), write-backs refused \(refused), old ret bytes \(oldRet.map { hex($0, width: 2) }.joined()), pins \(g.space.pinnedPages)",
                out.a0 == 0 && refused > 0 && oldRet == [0xEF, 0xBE, 0xAD, 0xDE] && newBytes == [UInt8](repeating: 0x77, count: 64)
                && g.space.pinnedPages == 0)
    },
]

// MARK: - Concurrency

private let concurrencyScenarios: [AttackScenario] = [
    AttackScenario("toctou-concurrent-writer", tries: "a second guest thread keeps corrupting the argument and page list of a vCPU issuing 150 calls",
                   expected: "every call returns a defined code; no foreign or victim memory is written; invariants hold") { bed in
        let g = bed.attacker
        guard let s = bed.open(g).session else { return ("open failed", false) }
        try g.space.setType(g.space.ramPage(12), .foreign)
        guard let foreign = g.space.entry(g.space.ramPage(12))?.pa else { return ("no mapping", false) }
        let foreignBefore = try bed.memory.read(foreign.address, count: 64, world: .nonSecure)
        let stop = Atomic<Bool>(false)
        let codes = Mutex<[UInt64: Int]>([:])
        let beyond = g.ipa(0).raw + UInt64(g.space.windowPages + 3) * UInt64(pageSize)
        let writer: @Sendable () -> Void = {
            var rng = SplitMix64(seed: 42)
            var n = 0
            while !stop.load(ordering: .relaxed) && n < 2_000_000 {
                n += 1
                switch rng.next() % 4 {
                case 0: try? g.space.write(g.ipa(2, 28), [UInt8(truncatingIfNeeded: rng.next() % 130), 0, 0, 0])
                case 1: try? g.space.write(g.ipa(2, 32), withUnsafeBytes(of: ([4, 9, 0x209, 0x1_0000_020B] as [UInt64])[Int(rng.next() % 4)].littleEndian) { Array($0) })
                case 2: _ = try? g.pageList(listPage: 5, entries: [[g.ipa(12).raw, beyond, g.ipa(10).raw + 8, g.ipa(10).raw][Int(rng.next() % 4)]])
                default: try? g.space.write(g.ipa(2, 40), withUnsafeBytes(of: rng.next().littleEndian) { Array($0) })
                }
            }
        }
        let caller: @Sendable () -> Void = {
            defer { stop.store(true, ordering: .relaxed) }
            for _ in 0..<150 {
                guard let ptr = try? g.pageList(listPage: 5, entries: g.pages([10])) else { continue }
                let arg = MsgArg(cmd: .invokeCommand, function: TestTA.Command.echoMemref.rawValue, session: s,
                                 params: [.tmem(.tmemInout, bufPtr: ptr, size: 8, shmRef: 1, noncontig: true)])
                guard (try? g.write(arg, page: 2)) != nil else { continue }
                let out = g.serveRPCs(g.callWithArg(g.ipa(2), vcpu: 1), allocPage: 40, vcpu: 1)
                codes.withLock { $0[out.a0, default: 0] += 1 }
            }
        }
        let finished = runConcurrently([writer, caller])
        let foreignAfter = try bed.memory.read(foreign.address, count: 64, world: .nonSecure)
        bed.close(g, s)
        let seen = codes.withLock { $0 }
        let defined = seen.keys.allSatisfy { [0, a0(.ebadaddr), a0(.ebadcmd)].contains($0) }
        return ("finished \(finished), codes \(seen.map { "\(smcName($0.key)):\($0.value)" }.sorted()), foreign intact \(foreignBefore == foreignAfter)",
                finished && defined && seen.values.reduce(0, +) == 150 && foreignBefore == foreignAfter)
    },
    AttackScenario("flood-while-victim-measured", tries: "two attacker vCPUs flood valid and invalid calls while the victim makes 200 calls",
                   expected: "all 200 victim calls complete correctly (latency reported, not asserted)") { bed in
        let g = bed.attacker, v = bed.victim
        guard let vs = bed.open(v).session, let s1 = bed.open(g).session, let s2 = bed.open(g).session else { return ("open failed", false) }
        let stop = Atomic<Bool>(false)
        let attackCalls = Atomic<Int>(0)
        let victimOK = Atomic<Int>(0)
        let latencies = Mutex<[Duration]>([])
        func flooder(_ s: UInt32, page: Int, vcpu: Int) -> @Sendable () -> Void {
            {
                var n = 0
                while !stop.load(ordering: .relaxed) && n < 200_000 {
                    n += 1
                    if n % 4 == 0 { _ = g.callWithArg(g.ipa(page, 8), vcpu: vcpu) } else {
                        let arg = MsgArg(cmd: .invokeCommand, function: TestTA.Command.nopValues.rawValue, session: s, params: AttackBed.nopParams())
                        _ = try? g.write(arg, page: page)
                        _ = g.callWithArg(g.ipa(page), vcpu: vcpu)
                    }
                    attackCalls.add(1, ordering: .relaxed)
                }
            }
        }
        let victim: @Sendable () -> Void = {
            defer { stop.store(true, ordering: .relaxed) }
            let clock = ContinuousClock()
            for i in 0..<200 {
                let t0 = clock.now
                let (out, a) = v.call(MsgArg(cmd: .invokeCommand, function: TestTA.Command.nopValues.rawValue, session: vs,
                                             params: AttackBed.nopParams(UInt64(i))), page: 1)
                latencies.withLock { $0.append(clock.now - t0) }
                if out.a0 == 0, a?.ret == .success, a?.params.first?.a == UInt64(i) + 1 { victimOK.add(1, ordering: .relaxed) }
            }
        }
        let finished = runConcurrently([flooder(s1, page: 10, vcpu: 1), flooder(s2, page: 11, vcpu: 2), victim], timeout: 60)
        bed.close(v, vs); bed.close(g, s1); bed.close(g, s2)
        let l = latencies.withLock { $0.sorted() }
        let us: (Duration) -> Int = { Int($0.components.seconds * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000) }
        let median = l.isEmpty ? 0 : us(l[l.count / 2]), maxL = l.last.map(us) ?? 0
        return ("victim \(victimOK.load(ordering: .relaxed))/200 ok, median \(median) us, max \(maxL) us, attacker calls \(attackCalls.load(ordering: .relaxed))",
                finished && victimOK.load(ordering: .relaxed) == 200)
    },
]
