/// Machine: secure RAM is reachable only from the secure world; no guest-facing API and
/// no `.nonSecure` access reaches it.
import Testing
import Machine
import TEEABI

@Suite struct SecureBoundary {
    @Test func secureRegionIsUnreachableFromTheNonSecureWorld() throws {
        let mem = PhysicalMemory()
        let secure = try mem.addRegion(kind: .secure, pages: 2)
        let pa = secure.basePA
        try mem.write(pa, Array("secret".utf8), world: .secure)
        #expect(try mem.read(pa, count: 6, world: .secure) == Array("secret".utf8))
        #expect(throws: MemoryError.secureAccessDenied(pa)) { try mem.read(pa, count: 6, world: .nonSecure) }
        #expect(throws: MemoryError.secureAccessDenied(pa)) { try mem.write(pa, [0], world: .nonSecure) }
        #expect(throws: MemoryError.secureAccessDenied(pa)) { try mem.zero(pa, count: 6, world: .nonSecure) }
        let ns = mem.view(.nonSecure)
        #expect(throws: MemoryError.secureAccessDenied(PA(pa.raw + 100))) { try ns.read(PA(pa.raw + 100), count: 1) }
        #expect(throws: MemoryError.secureAccessDenied(pa)) { try ns.write(pa, [1]) }
        // In-place access from the non-secure side fails before the body runs.
        var ran = false
        do {
            try mem.withBytes(pa, count: 6, world: .nonSecure) { (_: UnsafeMutableRawBufferPointer) throws(MemoryError) in ran = true }
            Issue.record("withBytes reached secure memory")
        } catch {
            if case .memory(.secureAccessDenied) = error {} else { Issue.record("unexpected \(error)") }
        }
        #expect(!ran)
        #expect(try mem.read(pa, count: 6, world: .secure) == Array("secret".utf8))
    }

    @Test func noGuestFacingAPIReachesSecureRAM() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(0), pages: 8)
        let secure = try mem.addRegion(kind: .secure, pages: 8)
        try mem.write(secure.basePA, [0xAA], world: .secure)
        // Mapping a secure page into the guest is refused.
        #expect(throws: MemoryError.notGuestRAM(secure.basePA.page)) { try g.map(g.ramPage(0), to: secure.basePA.page) }
        // Every IPA in the guest's window translates outside the secure region, whatever the guest does.
        for i in 0..<g.windowPages {
            if let e = g.entry(g.ramPage(i)) { #expect(mem.region(containing: e.pa.address)?.kind.isSecure == false) }
        }
        // Guest reads scanning the whole window never see secure bytes.
        for i in 0..<g.windowPages {
            if let b = try? g.read(g.ramPage(i).address, count: 1) { #expect(b == [0]) }
        }
        // A guest-side read at an IPA numerically equal to the secure PA is just unmapped.
        #expect(throws: MemoryError.self) { try g.read(IPA(secure.basePA.raw), count: 1) }
    }

    @Test func allocatorHandsOutZeroedPagesOfItsRegionUntilExhausted() throws {
        let mem = PhysicalMemory()
        let r = try mem.addRegion(kind: .secure, pages: 3)
        let alloc = PageAllocator(region: r)
        var got: [PAPage] = []
        for _ in 0..<3 { got.append(try alloc.allocate()) }
        #expect(Set(got).count == 3 && alloc.freePages == 0)
        #expect(throws: MemoryError.exhausted) { try alloc.allocate() }
        try mem.write(got[0].address, [1, 2, 3], world: .secure)
        alloc.release(got[0])
        let again = try alloc.allocate()
        #expect(again == got[0])
        #expect(try mem.read(again.address, count: 3, world: .secure) == [0, 0, 0])
        alloc.release(PAPage(1))   // not of this region: ignored
        #expect(alloc.freePages == 0)
    }
}
