/// Every attack-battery scenario as its own test: each runs on a fresh platform + mediator +
/// secure world and must hold, including the invariant checks that follow it.
import Testing
import MediatedPlatform
import TEEABI
import TrustedApps
import VTEEAttack

@Test(arguments: attackScenarios.map(\.name))
func attackScenarioHolds(_ name: String) {
    guard let s = attackScenarios.first(where: { $0.name == name }) else { Issue.record("no scenario \(name)"); return }
    let r = runAttack(s)
    #expect(r.held, "\(r.name): expected \(r.expected); observed \(r.observed)")
}

@Test func batteryCoversTheIssueList() {
    let names = Set(attackScenarios.map(\.name))
    #expect(names.count == attackScenarios.count)
    #expect(attackScenarios.count >= 30)
    for required in ["argument-toctou", "page-list-toctou", "toctou-concurrent-writer", "double-resume-two-vcpus",
                     "resume-other-guests-thread", "resume-finished-call", "forged-rpc-cookie", "duplicate-rpc-cookie",
                     "plain-tmem-in-shm-alloc-reply", "rpc-alloc-reply-physical-address", "argument-unaligned",
                     "argument-unmapped", "argument-read-only", "argument-foreign-page", "page-list-loops",
                     "page-list-outside-guest", "page-list-read-only-page", "page-list-too-long", "num-params-above-maximum",
                     "offset-size-overflow", "rmem-outside-buffer", "other-guests-shm-cookie", "other-guests-session",
                     "quota-calls-in-flight", "quota-shm-buffers", "quota-pinned-pages", "quota-sessions", "quota-rpc-buffers", "quota-mediator-pages",
                     "unmap-pinned-page-mid-call", "destroy-mid-call", "destroy-mid-rpc", "hypervisor-client-id",
                     "vm-created-from-guest", "flood-while-victim-measured"] {
        #expect(names.contains(required), "missing \(required)")
    }
}

@Test func invariantChecksCatchAPlantedLeak() {
    let leaky = AttackScenario("planted-leak", tries: "leave a call suspended in an RPC", expected: "the invariant check reports it") { bed in
        let meta = OpenSessionMeta(ta: TestTA.uuid, client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
        let (_, a) = bed.attacker.call(MsgArg(cmd: .openSession, params: meta.params), page: 0)
        try bed.attacker.write(MsgArg(cmd: .invokeCommand, function: TestTA.Command.getTime.rawValue, session: a?.session ?? 0,
                                      params: [.value(.valueOutput)]), page: 1)
        _ = bed.attacker.callWithArg(bed.attacker.ipa(1))
        return ("left suspended", true)
    }
    let r = runAttack(leaky)
    #expect(!r.held)
    #expect(r.observed.contains("INVARIANTS BROKEN"))
}
