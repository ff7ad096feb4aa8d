/// Conformance: every struct offset and size the Swift codecs implement, checked against
/// Fixtures/layouts.tsv by encoding distinct values and finding where their bytes land.
import Testing
import TEEABI

/// Little-endian bytes of `v`, `size` bytes long.
func le(_ v: UInt64, _ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

/// Asserts that `bytes` holds `expected` at the offset and size the fixture gives for `structName.field`.
func expectField(_ bytes: [UInt8], _ structName: String, _ field: String, _ expected: [UInt8],
                 base: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let row = Fixture.layout(structName, field), let off = row.offset, let size = row.size else {
        Issue.record("no layout row \(structName).\(field)", sourceLocation: sourceLocation); return
    }
    #expect(size == expected.count, "\(structName).\(field) size", sourceLocation: sourceLocation)
    let start = base + off
    guard start + expected.count <= bytes.count else {
        Issue.record("\(structName).\(field) beyond the encoding", sourceLocation: sourceLocation); return
    }
    #expect(Array(bytes[start..<start + expected.count]) == expected, "\(structName).\(field) at \(off)", sourceLocation: sourceLocation)
}

func sizeof(_ structName: String) -> Int? { Fixture.layout(structName, "(sizeof)")?.size }

@Suite struct LayoutConformance {
    @Test func msgArgHeaderFieldsLandAtTheirOffsets() throws {
        let arg = MsgArg(cmd: MsgCommand(rawValue: 0x1111_1101), function: 0x2222_2202, session: 0x3333_3303,
                         cancelID: 0x4444_4404, pad: 0x5555_5505, ret: TEEResult(rawValue: 0x6666_6606),
                         retOrigin: TEEOrigin(rawValue: 0x7777_7707), params: [.value(.valueInput, a: 1, b: 2, c: 3)])
        let b = arg.encoded()
        let s = "struct optee_msg_arg"
        expectField(b, s, "cmd", le(0x1111_1101, 4)); expectField(b, s, "func", le(0x2222_2202, 4))
        expectField(b, s, "session", le(0x3333_3303, 4)); expectField(b, s, "cancel_id", le(0x4444_4404, 4))
        expectField(b, s, "pad", le(0x5555_5505, 4)); expectField(b, s, "ret", le(0x6666_6606, 4))
        expectField(b, s, "ret_origin", le(0x7777_7707, 4)); expectField(b, s, "num_params", le(1, 4))
        #expect(sizeof(s) == MsgArg.headerSize)
        #expect(Fixture.layout(s, "params")?.offset == MsgArg.headerSize)
        #expect(Fixture.layout(s, "params")?.size == MsgParam.byteSize)
        #expect(b.count == MsgArg.size(numParams: 1))
        #expect(try MsgArg.decode(b) == arg)
    }

    @Test func argSizeFollowsGetArgSizeAndMaxParamsFitsOnePage() {
        for row in Fixture.constants where row.name.hasPrefix("OPTEE_MSG_GET_ARG_SIZE(") {
            let n = Int(row.name.dropFirst("OPTEE_MSG_GET_ARG_SIZE(".count).dropLast()) ?? -1
            #expect(UInt64(MsgArg.size(numParams: n)) == row.value)
        }
        #expect(MsgArg.size(numParams: MsgArg.maxNumParams) <= PageList.pageSize)
        #expect(MsgArg.size(numParams: MsgArg.maxNumParams + 1) > PageList.pageSize)
    }

    @Test func paramUnionViewsLandAtTheirOffsets() throws {
        let s = "struct optee_msg_param"
        #expect(sizeof(s) == MsgParam.byteSize)
        for view in ["tmem", "rmem", "fmem", "value"] {
            #expect(sizeof("struct optee_msg_param_\(view)") == 24)
            #expect(Fixture.layout(s, "u.\(view)")?.offset == 8)
        }
        // tmem
        let tmem = MsgParam.tmem(.tmemInout, bufPtr: 0x1111_2222_3333_4444, size: 0x5555_6666, shmRef: 0x7777_8888_9999_AAAA)
        var b = MsgArg(cmd: .invokeCommand, params: [tmem]).encoded()
        let p0 = MsgArg.headerSize
        expectField(b, s, "attr", le(UInt64(MsgParamType.tmemInout.rawValue), 8), base: p0)
        expectField(b, s, "u.tmem.buf_ptr", le(0x1111_2222_3333_4444, 8), base: p0)
        expectField(b, s, "u.tmem.size", le(0x5555_6666, 8), base: p0)
        expectField(b, s, "u.tmem.shm_ref", le(0x7777_8888_9999_AAAA, 8), base: p0)
        // rmem
        let rmem = MsgParam.rmem(.rmemOutput, offset: 0x0102_0304, size: 0x0A0B, shmRef: 0xFEED)
        b = MsgArg(cmd: .invokeCommand, params: [.none, rmem]).encoded()
        let p1 = MsgArg.headerSize + MsgParam.byteSize
        expectField(b, s, "u.rmem.offs", le(0x0102_0304, 8), base: p1)
        expectField(b, s, "u.rmem.size", le(0x0A0B, 8), base: p1)
        expectField(b, s, "u.rmem.shm_ref", le(0xFEED, 8), base: p1)
        // value
        let value = MsgParam.value(.valueOutput, a: 0xA1, b: 0xB2, c: 0xC3)
        b = MsgArg(cmd: .invokeCommand, params: [value]).encoded()
        expectField(b, s, "u.value.a", le(0xA1, 8), base: p0)
        expectField(b, s, "u.value.b", le(0xB2, 8), base: p0)
        expectField(b, s, "u.value.c", le(0xC3, 8), base: p0)
        // fmem: the Swift view reads offs_low (4), offs_high (2), internal_offs (2) out of word a.
        var bytes = [UInt8](repeating: 0, count: MsgArg.size(numParams: 1))
        bytes[28] = 1
        let put: (Int, [UInt8]) -> Void = { off, v in for (i, x) in v.enumerated() { bytes[p0 + off + i] = x } }
        guard let lo = Fixture.layout(s, "u.fmem.offs_low")?.offset, let hi = Fixture.layout(s, "u.fmem.offs_high")?.offset,
              let io = Fixture.layout(s, "u.fmem.internal_offs")?.offset, let sz = Fixture.layout(s, "u.fmem.size")?.offset,
              let gid = Fixture.layout(s, "u.fmem.global_id")?.offset else { Issue.record("fmem rows"); return }
        put(0, le(UInt64(MsgParamType.fmemInput.rawValue), 8))
        put(lo, le(0xDEAD_BEEF, 4)); put(hi, le(0x1234, 2)); put(io, le(0x0ABC, 2))
        put(sz, le(0x9999, 8)); put(gid, le(MsgParam.fmemInvalidGlobalID, 8))
        let fm = try MsgArg.decode(bytes).params[0]
        #expect(fm.fmemOffset == 0x1234_DEAD_BEEF)
        #expect(fm.fmemInternalOffset == 0x0ABC)
        #expect(fm.size == 0x9999)
        #expect(fm.shmRef == MsgParam.fmemInvalidGlobalID)
        #expect(Fixture.layout(s, "u.octets")?.offset == 8 && Fixture.layout(s, "u.octets")?.size == 24)
    }

    @Test func openSessionMetaLayoutPutsUUIDOctetsAndLoginWhereOPTEEReadsThem() throws {
        let ta = try TEEUUID("8aaaf200-2450-11e4-abe2-0002a5d5c51b")
        let client = try TEEUUID("00112233-4455-6677-8899-aabbccddeeff")
        let meta = OpenSessionMeta(ta: ta, client: client, login: .applicationGroup)
        let user = MsgParam.value(.valueInput, a: 0xAB, b: 0xCD, c: 0xEF)
        let arg = MsgArg(cmd: .openSession, cancelID: 9, params: meta.params + [user])
        let b = arg.encoded()
        let s = "optee_msg_arg[OPEN_SESSION]"
        expectField(b, s, "cmd", le(0, 4))
        expectField(b, s, "cancel_id", le(9, 4))
        expectField(b, s, "num_params", le(3, 4))
        expectField(b, s, "params[0].attr", le(OpenSessionMeta.metaAttr.rawValue, 8))
        expectField(b, s, "params[0].u.octets[0..15] (value.a,value.b)", ta.octets)
        expectField(b, s, "params[1].attr", le(0x101, 8))
        expectField(b, s, "params[1].u.octets[0..15] (value.a,value.b)", client.octets)
        expectField(b, s, "params[1].u.value.c", le(UInt64(LoginMethod.applicationGroup.rawValue), 8))
        #expect(Array(b[96..<104]) == le(UInt64(MsgParamType.valueInput.rawValue), 8))   // params[2+0] at 96
        #expect(Fixture.layout(s, "params[2+i]")?.offset == nil)   // "96+32*i" is an expression
        #expect(Fixture.layouts.first { $0.structName == s && $0.field == "params[2+i]" } != nil)
        #expect(OpenSessionMeta.metaAttr.rawValue == Fixture.constants.first { $0.name == "OPEN_SESSION meta attr" }?.value)
        let back = try OpenSessionMeta(params: try MsgArg.decode(b).params)
        #expect(back == meta)
    }

    @Test func pageListPageHas511EntriesThenTheNextPointer() throws {
        let s = "optee_msg_noncontig_page (page_data)"
        #expect(sizeof(s) == PageList.pageSize)
        #expect(Fixture.layout(s, "pages_array")?.size == PageList.entriesPerPage * 8)
        #expect(Fixture.layout(s, "next_page_data")?.offset == PageList.nextPointerOffset)
        let entries = (0..<UInt64(PageList.entriesPerPage)).map { 0x10_0000_0000 + $0 * 0x1000 }
        let page = PageList.Page(entries: entries, next: 0xABCD_E000)
        let b = page.encoded()
        #expect(b.count == PageList.pageSize)
        expectField(b, s, "pages_array", entries.flatMap { le($0, 8) })
        expectField(b, s, "next_page_data", le(0xABCD_E000, 8))
        let back = try b.withUnsafeBytes { try PageList.Page.decode($0, count: 511) }
        #expect(back == page)
        for (name, value) in [("NONCONTIG_ENTRIES_PER_PAGE", PageList.entriesPerPage), ("NONCONTIG_NEXT_PTR_OFFSET", PageList.nextPointerOffset),
                              ("NONCONTIG_PAGE_OFFSET_MASK", Int(PageList.offsetMask))] {
            #expect(Fixture.constants.first { $0.name == name }?.value == UInt64(value))
        }
        let attr = MsgAttr(.tmemOutput, noncontig: true)
        #expect(attr.rawValue == Fixture.constants.first { $0.name == "NONCONTIG tmem attr (RPC SHM_ALLOC reply)" }?.value)
        #expect(MsgAttr(.tmemInput, noncontig: true).rawValue == Fixture.constants.first { $0.name == "REGISTER_SHM attr" }?.value)
    }

    @Test func rpcArgumentStartsRightAfterTheCallArgument() throws {
        guard let row = Fixture.layouts.first(where: { $0.structName.hasPrefix("optee_msg_arg[+RPC arg]") }) else {
            Issue.record("no RPC arg row"); return
        }
        #expect(row.size == MsgArg.rpcArgSize)
        #expect(MsgArg.rpcArgSize == 160)
        for n in [0, 1, 4, 6] {
            #expect(MsgArg.rpcArgOffset(callParams: n) == 32 + 32 * n)
            // A call argument followed by its RPC argument in one buffer: each decodes from its place.
            let call = MsgArg(cmd: .invokeCommand, function: 7, params: Array(repeating: .value(.valueInput, a: 5), count: n))
            let rpc = MsgArg(cmd: MsgCommand(rawValue: RPCCommand.getTime.rawValue),
                             params: Array(repeating: .value(.valueOutput), count: Int(OPTEEIdentity.rpcMaxNumParams)))
            let buf = call.encoded() + rpc.encoded()
            #expect(buf.count == MsgArg.rpcArgOffset(callParams: n) + MsgArg.rpcArgSize)
            let rpcBack = try MsgArg.decode(Array(buf[MsgArg.rpcArgOffset(callParams: n)...]))
            #expect(rpcBack == rpc)
            let callBack = try MsgArg.decode(Array(buf[..<MsgArg.rpcArgOffset(callParams: n)]))
            #expect(callBack == call)
        }
    }

    @Test func teecUUIDFieldsAreHostEndianInMemoryAndBigEndianAsOctets() throws {
        let u = try TEEUUID("01234567-89ab-cdef-0011-223344556677")
        let b = u.teecUUIDBytes
        let s = "TEEC_UUID"
        #expect(sizeof(s) == 16)
        expectField(b, s, "timeLow", le(0x0123_4567, 4))
        expectField(b, s, "timeMid", le(0x89AB, 2))
        expectField(b, s, "timeHiAndVersion", le(0xCDEF, 2))
        expectField(b, s, "clockSeqAndNode", [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])
        #expect(TEEUUID(teecUUIDBytes: b) == u)
        #expect(u.octets == [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])
        #expect(u.timeLow == 0x0123_4567 && u.timeMid == 0x89AB && u.timeHiAndVersion == 0xCDEF)
        #expect(u.description == "01234567-89ab-cdef-0011-223344556677")
        let w = u.registerWords
        #expect(w.0 == 0x0123_4567 && w.1 == 0x89AB_CDEF && w.2 == 0x0011_2233 && w.3 == 0x4455_6677)
        #expect(TEEUUID(registerWords: w) == u)
    }

    @Test func registerFrameBytesPutRegisterNAtByte8N() throws {
        let f = RegisterFrame(a0: 0x10, a1: 0x21, a2: 0x32, a3: 0x43, a4: 0x54, a5: 0x65, a6: 0x76, a7: 0x87)
        let b = f.bytes
        #expect(b.count == 64)
        for i in 0..<8 { #expect(Array(b[(8 * i)..<(8 * i + 8)]) == le(f[i], 8)) }
        #expect(try RegisterFrame(bytes: b) == f)
    }

    @Test func linuxUapiStructSizesMatchTheLayoutsTheCodecsUse() {
        let sizes: [(String, Int)] = [
            ("struct tee_ioctl_version_data", LinuxTEE.Layout.versionDataSize),
            ("struct tee_ioctl_buf_data", LinuxTEE.Layout.bufDataSize),
            ("struct tee_ioctl_shm_alloc_data", LinuxTEE.Layout.shmAllocDataSize),
            ("struct tee_ioctl_shm_register_data", LinuxTEE.Layout.shmRegisterDataSize),
            ("struct tee_ioctl_shm_register_fd_data", LinuxTEE.Layout.shmRegisterFDDataSize),
            ("struct tee_ioctl_param", LinuxTEE.Layout.paramSize),
            ("struct tee_ioctl_open_session_arg", LinuxTEE.Layout.openSessionArgSize),
            ("struct tee_ioctl_invoke_arg", LinuxTEE.Layout.invokeArgSize),
            ("struct tee_ioctl_cancel_arg", LinuxTEE.Layout.cancelArgSize),
            ("struct tee_ioctl_close_session_arg", LinuxTEE.Layout.closeSessionArgSize),
            ("struct tee_iocl_supp_recv_arg", LinuxTEE.Layout.supplArgSize),
            ("struct tee_iocl_supp_send_arg", LinuxTEE.Layout.supplArgSize),
        ]
        for (s, n) in sizes { #expect(sizeof(s) == n, "\(s)") }
        #expect(Fixture.layout("struct tee_ioctl_open_session_arg", "params")?.offset == LinuxTEE.Layout.openSessionArgSize)
        #expect(Fixture.layout("struct tee_ioctl_invoke_arg", "params")?.offset == LinuxTEE.Layout.invokeArgSize)
        #expect(LinuxTEE.Layout.bufLength(header: LinuxTEE.Layout.openSessionArgSize, numParams: 4) == 184)
        #expect(LinuxTEE.Layout.bufLength(header: LinuxTEE.Layout.invokeArgSize, numParams: 4) == 152)
        #expect(LinuxTEE.Layout.bufLength(header: LinuxTEE.Layout.supplArgSize, numParams: 5) == 168)
        #expect(LinuxTEE.Layout.bufLength(header: 8, numParams: Int.max) == nil)
        #expect(LinuxTEE.Layout.bufLength(header: 8, numParams: -1) == nil)
    }
}
