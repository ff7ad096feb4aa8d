/// The in-place argument view: every field it reads or writes lands at the fixture's offset, it
/// agrees with the value codec byte for byte, and hostile counts or indices answer errors, not traps.
import Testing
import TEEABI

/// Runs `body` over a zeroed, 8-byte aligned scratch buffer of `count` bytes.
func withScratch<R>(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
    let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
    raw.initializeMemory(as: UInt8.self, repeating: 0)
    defer { raw.deallocate() }
    return try body(raw)
}

@Suite struct MsgArgViewConformance {
    @Test func headerFieldsWrittenThroughTheViewLandAtTheFixtureOffsets() throws {
        let bytes: [UInt8] = try withScratch(64) { b in
            let v = try MsgArgView(b)
            v.cmd = MsgCommand(rawValue: 0x1111_1101); v.function = 0x2222_2202; v.session = 0x3333_3303
            v.cancelID = 0x4444_4404; v.pad = 0x5555_5505; v.ret = TEEResult(rawValue: 0x6666_6606)
            v.retOrigin = TEEOrigin(rawValue: 0x7777_7707); v.numParams = 1
            let p = try #require(v.param(0))
            p.attr = MsgAttr(.tmemInout); p.tmemBufPtr = 0x1111_2222_3333_4444; p.memrefSize = 0x5555_6666; p.shmRef = 0x7777_8888_9999_AAAA
            return Array(b)
        }
        let s = "struct optee_msg_arg"
        expectField(bytes, s, "cmd", le(0x1111_1101, 4)); expectField(bytes, s, "func", le(0x2222_2202, 4))
        expectField(bytes, s, "session", le(0x3333_3303, 4)); expectField(bytes, s, "cancel_id", le(0x4444_4404, 4))
        expectField(bytes, s, "pad", le(0x5555_5505, 4)); expectField(bytes, s, "ret", le(0x6666_6606, 4))
        expectField(bytes, s, "ret_origin", le(0x7777_7707, 4)); expectField(bytes, s, "num_params", le(1, 4))
        let t = "struct optee_msg_param_tmem"
        expectField(bytes, t, "buf_ptr", le(0x1111_2222_3333_4444, 8), base: 40)
        expectField(bytes, t, "size", le(0x5555_6666, 8), base: 40)
        expectField(bytes, t, "shm_ref", le(0x7777_8888_9999_AAAA, 8), base: 40)
        // The value codec reads back exactly what the view wrote.
        let arg = try MsgArg.decode(bytes)
        #expect(arg.session == 0x3333_3303 && arg.params == [.tmem(.tmemInout, bufPtr: 0x1111_2222_3333_4444, size: 0x5555_6666, shmRef: 0x7777_8888_9999_AAAA)])
    }

    @Test func viewAndValueCodecAgreeOnRandomArguments() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let n = Int.random(in: 0...6, using: &rng)
            let params = (0..<n).map { _ in MsgParam(attr: MsgAttr(rawValue: UInt64.random(in: 0...0x2FF, using: &rng)),
                                                     a: rng.next(), b: rng.next(), c: rng.next()) }
            let arg = MsgArg(cmd: MsgCommand(rawValue: rng.next()), function: rng.next(), session: rng.next(),
                             cancelID: rng.next(), pad: rng.next(), ret: TEEResult(rawValue: rng.next()),
                             retOrigin: TEEOrigin(rawValue: rng.next()), params: params)
            try withScratch(arg.byteSize) { b in
                let v = try MsgArgView(b)
                try v.store(arg)
                #expect(Array(b) == arg.encoded())
                #expect(try v.paramCount() == n)
                #expect(v.load(count: n) == arg)
            }
        }
    }

    @Test func aLyingNumParamsIsATypedErrorAndParamsPastTheBufferAreNil() throws {
        try withScratch(MsgArg.size(numParams: 2)) { b in
            let v = try MsgArgView(b)
            #expect(v.paramCapacity == 2)
            v.numParams = 3
            #expect(throws: ABIError.truncated(needed: MsgArg.size(numParams: 3), available: b.count)) { try v.paramCount() }
            v.numParams = 500
            #expect(throws: ABIError.tooManyParams(count: 500, maximum: MsgArg.maxNumParams)) { try v.paramCount() }
            v.numParams = UInt32.max
            #expect(throws: ABIError.self) { try v.paramCount() }
            v.numParams = 2
            #expect(throws: ABIError.tooManyParams(count: 2, maximum: 1)) { try v.paramCount(max: 1) }
            #expect(v.param(2) == nil && v.param(-1) == nil && v.param(Int.max) == nil)
            #expect(v.param(1) != nil)
        }
        try withScratch(31) { b in #expect(throws: ABIError.truncated(needed: 32, available: 31)) { try MsgArgView(b) } }
    }

    @Test func resetZeroesOnlyTheArgumentAndValidateAttributesNamesTheBadParam() throws {
        try withScratch(MsgArg.size(numParams: 4)) { b in
            b.initializeMemory(as: UInt8.self, repeating: 0xEE)
            let v = try MsgArgView(b)
            try v.reset(cmd: .invokeCommand, numParams: 2)
            #expect(v.cmd == .invokeCommand && v.numParams == 2 && v.session == 0)
            #expect(b[MsgArg.size(numParams: 2)] == 0xEE)   // past the argument: untouched
            v.param(1)?.attr = MsgAttr(rawValue: 0x4)          // type 4 is undefined
            #expect(throws: ABIError.unknownAttribute(index: 1, attr: 4)) { try v.validateAttributes(count: 2) }
            #expect(throws: ABIError.self) { try v.reset(cmd: .openSession, numParams: 5) }
        }
    }

    @Test func openSessionMetaRoundTripsThroughTheView() throws {
        let meta = OpenSessionMeta(ta: try TEEUUID("8aaaf200-2450-11e4-abe2-0002a5d5c51b"),
                                   client: try TEEUUID("58ac9ca0-2086-4683-a1b8-ec4bc08e01b6"), login: .user)
        try withScratch(MsgArg.size(numParams: 2)) { b in
            let v = try MsgArgView(b)
            try v.reset(cmd: .openSession, numParams: 2)
            try meta.store(into: v)
            #expect(try OpenSessionMeta(view: v, count: 2) == meta)
            #expect(try OpenSessionMeta(params: MsgArg.decode(Array(b)).params) == meta)
            v.param(1)?.attr = MsgAttr(.valueInput)
            #expect(throws: ABIError.badMeta(index: 1)) { try OpenSessionMeta(view: v, count: 2) }
        }
    }

    @Test func theRPCArgumentSitsRightAfterTheCallArgument() throws {
        try withScratch(MsgArg.size(numParams: 2) + MsgArg.size(numParams: 4)) { b in
            let v = try MsgArgView(b)
            let rpc = try #require(v.rpcArgument(numParams: 2, rpcParams: 4))
            rpc.cmd = MsgCommand(rawValue: 0xABCD)
            #expect(b.load(fromByteOffset: MsgArg.size(numParams: 2), as: UInt32.self) == 0xABCD)
            #expect(v.rpcArgument(numParams: 3, rpcParams: 4) == nil)
        }
    }
}

@Suite struct PageListInPlaceWalk {
    @Test func theVisitingWalkTranslatesEachEntryWithTheWalkersOwnFunction() throws {
        let data = dataPages(600)
        let lists: [UInt64] = [0x9000, 0x2_0000]
        var pages: [UInt64: [UInt8]] = [:]
        for (a, p) in zip(lists, try PageList.build(dataPages: data, listPageAddresses: lists)) { pages[a] = p }
        var seen: [UInt64] = []
        try PageList.walk(first: 0x9000, pageCount: 600, maxPages: 1024,
                          readListPage: { (a, scratch) throws(ListMemory.ReadError) in
                              guard let p = pages[a] else { throw .outside(a) }
                              scratch.copyBytes(from: p.prefix(scratch.count))
                          },
                          visit: { (i, a) throws(ListMemory.ReadError) in
                              #expect(i == seen.count)
                              seen.append(a)
                          })
        #expect(seen == data)
    }

    @Test func aVisitorRefusalNamesTheEntryAndALoopIsCaught() throws {
        var page = PageList.Page(entries: dataPages(511), next: 0x9000).encoded()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.visit(index: 3, .outside(0x4000_9000))) {
            try PageList.walk(first: 0x9000, pageCount: 5, maxPages: 16,
                              readListPage: { (_, s) throws(ListMemory.ReadError) in s.copyBytes(from: page.prefix(s.count)) },
                              visit: { (i, a) throws(ListMemory.ReadError) in if i == 3 { throw .outside(a) } })
        }
        page = PageList.Page(entries: dataPages(511), next: 0x9000).encoded()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.loop(listPage: 0x9000)) {
            try PageList.walk(first: 0x9000, pageCount: 1000, maxPages: 2048,
                              readListPage: { (_, s) throws(ListMemory.ReadError) in s.copyBytes(from: page.prefix(s.count)) },
                              visit: { (_, _) throws(ListMemory.ReadError) in })
        }
    }
}
