/// The mediator with the real secure world: RPC kinds passing through, what the guest may see
/// in returned registers, and the battery's own invariant checks catching a planted leak.
import Machine
import Mediator
import Platform
import SecureWorld
import Synchronization
import TEEABI
import Testing
import TrustedApps
import MediatedPlatform

private func machine(_ config: SecureWorldConfig = SecureWorldConfig()) throws -> (PhysicalMemory, SecureWorld, Mediator, RawGuest) {
    let memory = PhysicalMemory()
    let secure = SecureWorld(memory: memory, config: config, tas: BuiltinTAs.all)
    let mediator = try Mediator(memory: memory, secureWorld: secure)
    let platform = try makeMediatedPlatform(mediator: mediator)
    let space = try GuestAddressSpace(memory: memory, id: GuestID(2), pages: 64, layout: .scattered(seed: 3))
    try mediator.addGuest(space)
    return (memory, secure, mediator, RawGuest(space: space, platform: platform))
}

private func openTest(_ g: RawGuest) -> UInt32? {
    let meta = OpenSessionMeta(ta: TestTA.uuid, client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
    let (out, a) = g.call(MsgArg(cmd: .openSession, params: meta.params), page: 0)
    return out.a0 == 0 && a?.ret == .success ? a?.session : nil
}

@Test func foreignInterruptsPassThroughToTheGuest() throws {
    let (_, _, mediator, g) = try machine(SecureWorldConfig(interruptTick: .microseconds(200)))
    let s = try #require(openTest(g))
    try g.write(MsgArg(cmd: .invokeCommand, function: TestTA.Command.longRun.rawValue, session: s, params: [.value(.valueInout, a: 20)]), page: 1)
    let done = g.serveRPCs(g.callWithArg(g.ipa(1)), allocPage: 40, limit: 100_000)
    #expect(done.a0 == 0)
    #expect(g.readArg(page: 1, numParams: 1)?.ret == .success)
    #expect((mediator.stats(g.id)?.rpcsByKind["foreign_intr"] ?? 0) > 0)
}

@Test func registersReturnedToTheGuestNeverHoldAMachineAddress() throws {
    let (memory, _, _, g) = try machine()
    let s = try #require(openTest(g))
    try g.write(MsgArg(cmd: .invokeCommand, function: TestTA.Command.shmRoundTrip.rawValue, session: s, params: [.value(.valueInput, a: 8192, b: 1)]), page: 1)
    var frames: [RegisterFrame] = []
    let first = g.callWithArg(g.ipa(1))
    let done = g.serveRPCs(first, allocPage: 40, shmListPage: 41, shmPages: [42, 43]) { out, _ in frames.append(out) }
    frames.append(first); frames.append(done)
    #expect(g.readArg(page: 1, numParams: 1)?.ret == .success)
    for f in frames {
        for v in [f.a1, f.a2, f.a4, f.a5, f.a6, RegisterFrame.join(f.a1, f.a2)] where v != 0 {
            #expect(memory.region(containing: PA(v)) == nil, "register value \(hex(v)) is a machine address")
        }
    }
    // The RPC argument the guest read holds no PA either.
    let rpc = try g.space.read(g.ipa(40), count: 160)
    for i in stride(from: 0, to: 160, by: 8) {
        let v = rpc[i..<i + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        if let r = memory.region(containing: PA(v)) { Issue.record("PA \(hex(v)) of \(r.kind) leaked in the RPC argument") }
    }
}

@Test func guestSeesItsCallsInFlightLimitAsTheThreadCount() throws {
    let (_, _, mediator, g) = try machine(SecureWorldConfig(threadsPerVM: 3))
    let r = g.trap(RegisterFrame(.getThreadCount))
    #expect(r.a0 == 0 && r.a1 == 3 && mediator.callsInFlightLimit == 3)
}
