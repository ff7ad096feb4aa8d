/// The mediator against a recording fake secure world: what the secure side is given
/// (PAs of mediator memory, never IPAs; the client id in a7), what the guest gets back, and
/// what is refused before the secure world is ever called.
import Machine
import Mediator
import Platform
import Synchronization
import TEEABI
import Testing
import MediatedPlatform

struct Rig {
    let memory = PhysicalMemory()
    let secure: FakeSecureWorld
    let mediator: Mediator
    let platform: Platform

    init(config: MediatorConfig = MediatorConfig()) throws {
        secure = FakeSecureWorld(memory: memory)
        mediator = try Mediator(memory: memory, secureWorld: secure, config: config)
        platform = try makeMediatedPlatform(mediator: mediator)
    }

    func guest(_ id: UInt32, pages: Int = 64) throws -> RawGuest {
        let space = try GuestAddressSpace(memory: memory, id: GuestID(id), pages: pages, layout: .scattered(seed: 7))
        try mediator.addGuest(space)
        return RawGuest(space: space, platform: platform)
    }

    func stdCalls() -> [(pa: PA, kind: RegionKind?, arg: MsgArg)] { secure.args }
}

private let ok = UInt64(SMCReturn.ok.rawValue)

private func openArg() -> MsgArg {
    MsgArg(cmd: .openSession, params: OpenSessionMeta(ta: TEEUUID(octets: [UInt8](repeating: 1, count: 16)),
                                                      client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public).params)
}

private func openSession(_ g: RawGuest, page: Int = 0) -> UInt32 {
    let (out, arg) = g.call(openArg(), page: page)
    #expect(out.a0 == ok)
    return arg?.session ?? 0
}

@Test func addGuestSendsVMCreatedFromTheHypervisor() throws {
    let rig = try Rig()
    _ = try rig.guest(4)
    let created = rig.secure.frames.filter { $0.function == .vmCreated }
    #expect(created.count == 1)
    #expect(created.first?.a1 == 5 && created.first?.a7 == 0)
}

@Test func secureWorldSeesOnlyMediatorPAsAndTheClientID() throws {
    let rig = try Rig()
    let g = try rig.guest(2)
    let s = openSession(g)
    #expect(s == 7)
    let std = rig.secure.frames.filter { $0.function == .callWithArg }
    #expect(std.count == 1)
    #expect(std.first?.a7 == 3)
    let seen = rig.stdCalls()
    #expect(seen.first.map { $0.kind == .hypervisor } == true)
    #expect(seen.first?.pa != PA(g.ipa(0).raw))
}

@Test func guestA7IsOverwrittenEvenWithTheHypervisorClientID() throws {
    let rig = try Rig()
    let g = try rig.guest(0)
    try g.write(openArg(), page: 0)
    _ = g.callWithArg(g.ipa(0), a7: 0)
    #expect(rig.secure.frames.filter { $0.function == .callWithArg }.allSatisfy { $0.a7 == 1 })
}

@Test func onlyRetOriginSessionAndOutputsAreCopiedBack() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    let arg = MsgArg(cmd: .invokeCommand, function: 1, session: s, cancelID: 0x55,
                     params: [.value(.valueInout, a: 10, b: 20, c: 30), .value(.valueInput, a: 1, b: 2, c: 3)])
    let (out, back) = g.call(arg, page: 1)
    #expect(out.a0 == ok)
    #expect(back?.ret == .success && back?.retOrigin == .trustedApp)
    #expect(back?.params[0].a == 11 && back?.params[0].c == 0xC0FFEE)
    #expect(back?.params[1] == .value(.valueInput, a: 1, b: 2, c: 3))
    #expect(back?.cancelID == 0x55)
    #expect(rig.mediator.stats(g.id)?.callsInFlight == 0)
}

@Test func noncontiguousTmemIsRebuiltWithGuestPAsInMediatorMemory() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    let ptr = try g.pageList(listPage: 3, entries: g.pages([10, 11]), offset: 0x10)
    let arg = MsgArg(cmd: .invokeCommand, function: 1, session: s,
                     params: [.tmem(.tmemInout, bufPtr: ptr, size: 5000, shmRef: 0x77, noncontig: true)])
    let (out, back) = g.call(arg, page: 1)
    #expect(out.a0 == ok)
    #expect(back?.params[0].bufPtr == ptr)   // the guest's own pointer is untouched
    #expect(back?.params[0].size == 3)       // output size copied back
    guard let seen = rig.stdCalls().last?.arg.params.first else { Issue.record("no call"); return }
    let listPA = PA(seen.bufPtr & ~0xFFF)
    #expect(seen.bufPtr & 0xFFF == 0x10)
    #expect(rig.memory.region(containing: listPA)?.kind == .hypervisor)
    let list = try rig.memory.read(listPA, count: pageSize, world: .secure)
    let decoded = try list.withUnsafeBytes { b throws(ABIError) in try PageList.Page.decode(b, count: 2) }
    let expected = try [10, 11].map { i throws(MemoryError) in try g.space.translate(g.ipa(i)).raw }
    #expect(decoded.entries == expected)
    #expect(rig.mediator.stats(g.id)?.pinnedPages == 0)   // temporary pins released
}

/// The list page the secure world was handed for the last call's first noncontiguous param.
private func lastListPage(_ rig: Rig) throws -> (pa: PA, bytes: [UInt8]) {
    let seen = try #require(rig.stdCalls().last?.arg.params.first)
    let pa = PA(seen.bufPtr & ~0xFFF)
    return (pa, try rig.memory.read(pa, count: pageSize, world: .secure))
}

/// Little-endian u64 `i` of a list page.
private func entry(_ page: [UInt8], _ i: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(page[i * 8 + $1]) << (8 * UInt64($1)) }
}

/// Invokes with a one-page noncontiguous memref (guest page 13) and expects the mediator's list
/// page for it to be the cached page `expected`, holding that one entry and zeroes after it.
private func expectOneEntryListIn(_ expected: PA, _ rig: Rig, _ g: RawGuest, session s: UInt32,
                                  _ stale: Comment) throws {
    let list = try g.pageList(listPage: 4, entries: g.pages([13]))
    let (o, _) = g.call(MsgArg(cmd: .invokeCommand, function: 1, session: s,
                               params: [.tmem(.tmemInout, bufPtr: list, size: 100, shmRef: 2, noncontig: true)]), page: 2)
    #expect(o.a0 == ok)
    let page = try lastListPage(rig)
    #expect(page.pa == expected, "the cached page was not reused: this test proves nothing")
    #expect(entry(page.bytes, 0) == (try g.space.translate(g.ipa(13)).raw))
    #expect(page.bytes[8...].allSatisfy { $0 == 0 }, stale)
}

@Test func aReusedListPageHoldsNoEntryOfTheLongerListBefore() throws {
    // The mediator clears only what it wrote in a cached list page: a stale address of the
    // earlier, longer list must not survive into the shorter one.
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    let long = try g.pageList(listPage: 3, entries: g.pages([10, 11, 12]))
    let (o1, _) = g.call(MsgArg(cmd: .invokeCommand, function: 1, session: s,
                                params: [.tmem(.tmemInout, bufPtr: long, size: 3 * 4096, shmRef: 1, noncontig: true)]), page: 1)
    #expect(o1.a0 == ok)
    let first = try lastListPage(rig)
    #expect(entry(first.bytes, 2) != 0)
    try expectOneEntryListIn(first.pa, rig, g, session: s, "a stale byte survived in the reused list page")
}

@Test func anRPCShadowReusedAsAListPageIsZeroedWhole() throws {
    // A page the secure world wrote (an RPC argument's shadow) is cleared in full before the
    // mediator hands it out again, here as a page list.
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    try g.write(MsgArg(cmd: .invokeCommand, function: fakeRPCFunction, session: s, params: [.value(.valueOutput)]), page: 1)
    #expect(g.serveRPCs(g.callWithArg(g.ipa(1)), allocPage: 30).a0 == ok)
    let shadow = try #require(rig.secure.seen.withLock { $0.rpcShadows.last })
    #expect(try rig.memory.read(shadow.page.address, count: pageSize, world: .secure).contains { $0 != 0 })
    try expectOneEntryListIn(shadow.page.address, rig, g, session: s, "a byte of the RPC argument survived in the list page")
}

@Test func contiguousTmemIsRefusedBeforeTheSecureWorld() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    let before = rig.stdCalls().count
    let arg = MsgArg(cmd: .invokeCommand, session: s, params: [.tmem(.tmemInput, bufPtr: g.ipa(9).raw, size: 16, shmRef: 1)])
    let (out, back) = g.call(arg, page: 1)
    #expect(out.a0 == ok)
    #expect(back?.ret == .badParameters && back?.retOrigin == .comms)
    #expect(rig.stdCalls().count == before)
    #expect(rig.mediator.errors.badParameters == 1)
}

@Test func nullTmemPasses() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    let (_, back) = g.call(MsgArg(cmd: .invokeCommand, session: s, params: [.tmem(.tmemOutput, bufPtr: 0, size: 16, shmRef: 0)]), page: 1)
    #expect(back?.ret == .success)
}

@Test func misalignedForeignAndReadOnlyArgumentsAreBadAddress() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    try g.write(openArg(), page: 2)
    #expect(g.callWithArg(g.ipa(2, 8)).a0 == UInt64(SMCReturn.ebadaddr.rawValue))
    try g.space.setType(g.space.ramPage(2), .ramReadOnly)
    #expect(g.callWithArg(g.ipa(2)).a0 == UInt64(SMCReturn.ebadaddr.rawValue))
    try g.space.setType(g.space.ramPage(2), .foreign)
    #expect(g.callWithArg(g.ipa(2)).a0 == UInt64(SMCReturn.ebadaddr.rawValue))
    #expect(g.callWithArg(IPA(g.ipa(0).raw + UInt64(g.space.windowPages * pageSize) + 0x10000)).a0 == UInt64(SMCReturn.ebadaddr.rawValue))
    #expect(rig.stdCalls().isEmpty)
    #expect(rig.mediator.stats(g.id)?.isEmpty == true)
}

@Test func commandsOutsideTheAllowListAreBadCommand() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let (out, _) = g.call(MsgArg(cmd: .doBottomHalf), page: 0)
    #expect(out.a0 == UInt64(SMCReturn.ebadcmd.rawValue))
}

@Test func registeredBufferIsTrackedUntilUnregistered() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let ptr = try g.pageList(listPage: 5, entries: g.pages([20, 21, 22]))
    let (o1, b1) = g.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: 3 * 4096, shmRef: 0xAB, noncontig: true)]), page: 0)
    #expect(o1.a0 == ok && b1?.ret == .success)
    #expect(rig.mediator.stats(g.id)?.shmBuffers == 1)
    #expect(rig.mediator.stats(g.id)?.pinnedPages == 3)
    let (o2, b2) = g.call(MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: 0xAB)]), page: 0)
    #expect(o2.a0 == ok && b2?.ret == .success)
    #expect(rig.mediator.stats(g.id)?.isEmpty == true)
}

@Test func rpcAllocCmdFreeRoundTripUsesAShadowAndTranslates() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    let arg = MsgArg(cmd: .invokeCommand, function: fakeRPCFunction, session: s, params: [.value(.valueOutput)])
    try g.write(arg, page: 1)
    let first = g.callWithArg(g.ipa(1))
    #expect(first.a0 == UInt64(SMCReturn.rpc(.alloc).rawValue))
    let done = g.serveRPCs(first, allocPage: 30)
    #expect(done.a0 == ok)
    #expect(g.readArg(page: 1, numParams: 1)?.params[0].a == 1 + 1_700_000_000)
    let shadows = rig.secure.seen.withLock { $0.rpcShadows }
    #expect(shadows.count == 1)
    #expect(shadows.allSatisfy { rig.memory.region(containing: $0)?.kind == .hypervisor })
    #expect(rig.mediator.stats(g.id)?.rpcsByKind["cmd:get_time"] == 1)
    #expect(rig.mediator.stats(g.id)?.isEmpty == false)   // the session is still open
    #expect(rig.mediator.stats(g.id)?.pinnedPages == 0)
    #expect(rig.mediator.stats(g.id)?.rpcBuffers == 0)
}

@Test func shmAllocReplyIsTranslatedAndReleasedOnShmFree() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    try g.write(MsgArg(cmd: .invokeCommand, function: fakeShmFunction, session: s, params: [.value(.valueOutput)]), page: 1)
    let done = g.serveRPCs(g.callWithArg(g.ipa(1)), allocPage: 30, shmListPage: 31, shmPages: [32, 33])
    #expect(done.a0 == ok)
    let shm = rig.secure.seen.withLock { $0.allocatedShm }
    #expect(shm.count == 1)
    if let p = shm.first {
        #expect(p.attr == MsgAttr(.tmemOutput, noncontig: true))
        #expect(rig.memory.region(containing: PA(p.bufPtr & ~0xFFF))?.kind == .hypervisor)
    }
    #expect(rig.mediator.stats(g.id)?.pinnedPages == 0)
}

@Test func plainTmemInShmAllocReplyIsRefused() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = openSession(g)
    try g.write(MsgArg(cmd: .invokeCommand, function: fakeShmFunction, session: s, params: [.value(.valueOutput)]), page: 1)
    let done = g.serveRPCs(g.callWithArg(g.ipa(1)), allocPage: 30) { out, _ in
        guard SMCReturn(rawValue: UInt32(truncatingIfNeeded: out.a0)).rpcFunction == .cmd,
              var a = g.readArg(page: 30, numParams: 1), RPCCommand(rawValue: a.cmd.rawValue) == .shmAlloc else { return }
        a.params[0] = .tmem(.tmemOutput, bufPtr: g.ipa(40).raw, size: 8192, shmRef: 0x99)
        a.ret = .success
        try? g.write(a, page: 30)
    }
    #expect(done.a0 == ok)
    let replies = rig.secure.seen.withLock { $0.rpcReplies }
    #expect(replies.first?.ret == .outOfMemory)
    #expect(rig.secure.seen.withLock { $0.allocatedShm }.isEmpty)
    #expect(rig.mediator.errors.rpcRejected >= 1)
}

@Test func destroyReclaimsAndSendsVMDestroyed() throws {
    let rig = try Rig()
    let g = try rig.guest(3)
    _ = openSession(g)
    let ptr = try g.pageList(listPage: 5, entries: g.pages([20]))
    _ = g.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: 4096, shmRef: 1, noncontig: true)]), page: 0)
    try g.write(MsgArg(cmd: .invokeCommand, function: fakeRPCFunction, session: 7, params: [.value(.valueOutput)]), page: 1)
    let rpc = g.callWithArg(g.ipa(1))
    #expect(SMCReturn(rawValue: UInt32(truncatingIfNeeded: rpc.a0)).isRPC)
    #expect(g.space.pinnedPages > 0)
    let free = rig.mediator.freeMediatorPages
    rig.mediator.destroyGuest(g.id)
    #expect(rig.mediator.stats(g.id) == nil)
    #expect(g.space.pinnedPages == 0)
    #expect(rig.secure.frames.last?.function == .vmDestroyed && rig.secure.frames.last?.a1 == 4)
    #expect(rig.mediator.freeMediatorPages > free)
    // A resume after destruction is refused without reaching the secure world.
    let n = rig.secure.frames.count
    #expect(g.trap(RegisterFrame(.returnFromRPC, a3: rpc.a3)).a0 != ok)
    #expect(rig.secure.frames.count == n)
}

@Test func capabilitiesAreMaskedAndStaticShmIsNotOffered() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let caps = g.trap(RegisterFrame(.exchangeCapabilities, a1: 0xFF))
    #expect(caps.a0 == ok)
    #expect(SecureCapabilities(rawValue: UInt32(caps.a1)) == [.dynamicSHM, .memrefNull])
    #expect(rig.secure.frames.last?.a1 == 1)   // only NSEC_CAP_UNIPROCESSOR passes
    #expect(g.trap(RegisterFrame(.getSHMConfig)).a0 == UInt64(SMCReturn.enotavail.rawValue))
    #expect(g.trap(RegisterFrame(.vmCreated, a1: 9)).a0 == UInt64(SMCReturn.unknownFunction.rawValue))
    #expect(g.trap(RegisterFrame(.vmDestroyed, a1: 2)).a0 == UInt64(SMCReturn.unknownFunction.rawValue))
    #expect(rig.secure.frames.filter { $0.function == .vmDestroyed }.isEmpty)
}

@Test func callsInFlightLimitIsCappedByTheSecureThreadCount() throws {
    var c = MediatorConfig()
    c.callsInFlight = 100
    let rig = try Rig(config: c)
    #expect(rig.mediator.callsInFlightLimit == 4)
    let g = try rig.guest(1)
    let s = openSession(g)
    for i in 0..<4 {
        try g.write(MsgArg(cmd: .invokeCommand, function: fakeRPCFunction, session: s, params: [.value(.valueOutput)]), page: 1 + i)
        #expect(SMCReturn(rawValue: UInt32(truncatingIfNeeded: g.callWithArg(g.ipa(1 + i)).a0)).isRPC)
    }
    try g.write(MsgArg(cmd: .invokeCommand, function: 1, session: s), page: 9)
    #expect(g.callWithArg(g.ipa(9)).a0 == UInt64(SMCReturn.ethreadLimit.rawValue))
    let other = try rig.guest(2)
    #expect(openSession(other) == 7)   // another guest is unaffected
}

@Test func regdArgIsCopiedFromTheRegisteredBufferAndAnsweredThere() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let ptr = try g.pageList(listPage: 5, entries: g.pages([20]))
    let (o1, b1) = g.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: 4096, shmRef: 0xAB, noncontig: true)]), page: 0)
    #expect(o1.a0 == ok && b1?.ret == .success)
    try g.write(openArg(), page: 20, offset: 64)
    let (h, l) = RegisterFrame.split(0xAB)
    let out = g.trap(RegisterFrame(.callWithRegdArg, a1: h, a2: l, a3: 64))
    #expect(out.a0 == ok)
    #expect(g.readArg(page: 20, numParams: 2, offset: 64)?.session == 7)
    #expect(rig.stdCalls().last?.kind == .hypervisor)
    #expect(rig.mediator.stats(g.id)?.pinnedPages == 1)   // only the registration's pin remains
    #expect(g.trap(RegisterFrame(.callWithRegdArg, a1: h, a2: l, a3: 4096)).a0 == UInt64(SMCReturn.ebadaddr.rawValue))
    #expect(g.trap(RegisterFrame(.callWithRegdArg, a1: h, a2: l, a3: 12)).a0 == UInt64(SMCReturn.ebadaddr.rawValue))
}

@Test func eachGuestReservesItsMediatorPagesSoNoneCanStarveAnother() throws {
    var c = MediatorConfig()
    c.mediatorPagesPerGuest = 100
    c.mediatorPages = 150
    let rig = try Rig(config: c)
    let g = try rig.guest(1)
    #expect(throws: MediatorError.self) { _ = try rig.guest(2) }
    rig.mediator.destroyGuest(g.id)
    _ = try rig.guest(2)
}

@Test func mediatorPagesAreReturnedWhenTheGuestGoes() throws {
    let rig = try Rig()
    let free = rig.mediator.freeMediatorPages
    let g = try rig.guest(1)
    for _ in 0..<3 { _ = openSession(g) }
    #expect(rig.mediator.stats(g.id)?.mediatorBytes == 0)
    rig.mediator.destroyGuest(g.id)
    #expect(rig.mediator.freeMediatorPages == free)
}
