/// The mediator copies exactly the argument (32 + 32 n bytes) and copies back only what the
/// guest may see: bytes after the argument are never read, never forwarded and never written,
/// and a secure world scribbling over its whole copy changes only ret, ret_origin, output values
/// and output memref sizes in the guest's page.
import Machine
import Mediator
import TEEABI
import Testing
import MediatedPlatform

private let ok = UInt64(SMCReturn.ok.rawValue)
private let poison: UInt8 = 0xAB

private func openSession(_ g: RawGuest) throws -> UInt32 {
    let meta = OpenSessionMeta(ta: TEEUUID(octets: [UInt8](repeating: 1, count: 16)),
                               client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
    let (out, arg) = g.call(MsgArg(cmd: .openSession, params: meta.params), page: 0)
    #expect(out.a0 == ok)
    return try #require(arg?.session)
}

/// Fills guest RAM page `page` with `poison`, then writes `arg` at its start.
private func writePoisoned(_ g: RawGuest, _ arg: MsgArg, page: Int) throws {
    try g.space.write(g.ipa(page), [UInt8](repeating: poison, count: pageSize))
    try g.write(arg, page: page)
}

@Test func poisonAfterTheArgumentNeverReachesTheSecureWorld() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = try openSession(g)
    let arg = MsgArg(cmd: .invokeCommand, function: 1, session: s, params: [.value(.valueInout, a: 1, b: 2, c: 3)])
    try writePoisoned(g, arg, page: 3)
    #expect(g.callWithArg(g.ipa(3)).a0 == ok)
    let raw = try #require(rig.secure.seen.withLock { $0.rawPages.last })
    #expect(raw.count == pageSize)
    #expect(!raw.contains(poison), "a byte after the argument reached the secure world")
    // The argument itself arrived whole, and the answer came back.
    #expect(rig.stdCalls().last?.arg.params == arg.params)
    #expect(g.readArg(page: 3, numParams: 1)?.params[0].a == 2)
}

@Test func anArgumentFillingItsPageWorksWhenTheNextPageIsUnmapped() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = try openSession(g)
    // 127 params: 32 + 127 * 32 = 4096 bytes, the whole page; the page after it is gone.
    let params = (0..<MsgArg.maxNumParams).map { MsgParam.value(.valueInout, a: UInt64($0)) }
    try g.write(MsgArg(cmd: .invokeCommand, function: 1, session: s, params: params), page: 6)
    g.space.unmap(g.space.ramPage(7))
    #expect(g.callWithArg(g.ipa(6)).a0 == ok)
    let back = try #require(g.readArg(page: 6, numParams: MsgArg.maxNumParams))
    #expect(back.ret == .success)
    #expect(back.params[126].a == 127 && back.params[0].a == 1)
}

@Test func anArgumentEndingAtThePageEndOfARegisteredBufferWorksWhenTheNextPageIsForeign() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let ptr = try g.pageList(listPage: 5, entries: g.pages([20]))
    let (o1, b1) = g.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: 4096, shmRef: 0xAB, noncontig: true)]), page: 0)
    #expect(o1.a0 == ok && b1?.ret == .success)
    let s = try openSession(g)
    // One param: 64 bytes, the last 64 of the buffer's only page; the next IPA page is MMIO.
    try g.write(MsgArg(cmd: .invokeCommand, function: 1, session: s, params: [.value(.valueOutput)]), page: 20, offset: pageSize - 64)
    try g.space.setType(g.space.ramPage(21), .foreign)
    let (h, l) = RegisterFrame.split(0xAB)
    #expect(g.trap(RegisterFrame(.callWithRegdArg, a1: h, a2: l, a3: UInt64(pageSize - 64))).a0 == ok)
    #expect(g.readArg(page: 20, numParams: 1, offset: pageSize - 64)?.params[0].c == 0xC0FFEE)
}

@Test func numParamsRunningPastThePageIsBadAddressBeforeTheSecureWorld() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = try openSession(g)
    // Two params at 64 bytes before the end of a registered page: the second would cross it.
    let ptr = try g.pageList(listPage: 5, entries: g.pages([20]))
    _ = g.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: 4096, shmRef: 0xAC, noncontig: true)]), page: 0)
    try g.write(MsgArg(cmd: .invokeCommand, function: 1, session: s, params: [.value(.valueOutput), .value(.valueOutput)]),
                page: 20, offset: pageSize - 64)
    let before = rig.stdCalls().count
    let (h, l) = RegisterFrame.split(0xAC)
    #expect(g.trap(RegisterFrame(.callWithRegdArg, a1: h, a2: l, a3: UInt64(pageSize - 64))).a0 == UInt64(SMCReturn.ebadaddr.rawValue))
    #expect(rig.stdCalls().count == before)
    #expect(rig.mediator.stats(g.id)?.callsInFlight == 0)
}

@Test func copyBackNeverWritesFieldsTheGuestMayNotSee() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = try openSession(g)
    let arg = MsgArg(cmd: .invokeCommand, function: fakeScribbleFunction, session: s, cancelID: 0x1234, pad: 0x5678,
                     params: [.value(.valueInput, a: 1, b: 2, c: 3),
                              .value(.valueOutput, a: 4, b: 5, c: 6),
                              .tmem(.tmemOutput, bufPtr: 0, size: 9, shmRef: 0x77),
                              .value(.valueInout, a: 7, b: 8, c: 9),
                              .tmem(.tmemInput, bufPtr: 0, size: 10, shmRef: 0x88)])
    try writePoisoned(g, arg, page: 4)
    let before = try g.space.read(g.ipa(4), count: pageSize)
    #expect(g.callWithArg(g.ipa(4)).a0 == ok)
    let after = try g.space.read(g.ipa(4), count: pageSize)
    let w = UInt64(scribble) * 0x0101_0101_0101_0101
    // What the guest may see: ret, ret_origin, output values, output memref sizes.
    let got = try #require(g.readArg(page: 4, numParams: 5))
    #expect(got.ret.rawValue == UInt32(truncatingIfNeeded: w) && got.retOrigin.rawValue == UInt32(truncatingIfNeeded: w))
    #expect(got.params[1] == MsgParam(attr: MsgAttr(.valueOutput), a: w, b: w, c: w))
    #expect(got.params[3] == MsgParam(attr: MsgAttr(.valueInout), a: w, b: w, c: w))
    #expect(got.params[2] == MsgParam(attr: MsgAttr(.tmemOutput), a: 0, b: w, c: 0x77))
    // Every other byte of the page, inside the argument or after it, is as the guest left it.
    var allowed = Set<Int>()
    allowed.formUnion(20..<28)                                          // ret, ret_origin
    for i in [1, 3] { allowed.formUnion((32 + 32 * i + 8)..<(32 + 32 * i + 32)) }   // value a, b, c
    allowed.formUnion((32 + 32 * 2 + 16)..<(32 + 32 * 2 + 24))          // tmem size
    let changed = (0..<pageSize).filter { before[$0] != after[$0] && !allowed.contains($0) }
    #expect(changed.isEmpty, "copy-back wrote bytes the guest may not see: \(changed.prefix(8))")
}

@Test func copyBackIsRefusedWholeWhenTheArgumentPageTurnsReadOnlyMidCall() throws {
    let rig = try Rig()
    let g = try rig.guest(1)
    let s = try openSession(g)
    try g.write(MsgArg(cmd: .invokeCommand, function: fakeRPCFunction, session: s, params: [.value(.valueOutput, a: 41)]), page: 2)
    let first = g.callWithArg(g.ipa(2))
    #expect(SMCReturn(rawValue: UInt32(truncatingIfNeeded: first.a0)).isRPC)
    try g.space.setType(g.space.ramPage(2), .ramReadOnly)
    let refusedBefore = rig.mediator.errors.copyBackRefused
    let out = g.serveRPCs(first, allocPage: 10)
    #expect(out.a0 == ok)
    #expect(rig.mediator.errors.copyBackRefused == refusedBefore + 1)
    // Not a single field landed: the guest still sees what it wrote.
    #expect(g.readArg(page: 2, numParams: 1)?.params[0].a == 41)
}
