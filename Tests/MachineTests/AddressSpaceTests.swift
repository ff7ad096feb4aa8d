/// Machine: stage-2 translation across scattered pages, accesses that straddle pages,
/// page types, pinning across unmap/remap, and the edges where addresses overflow.
import Testing
import Machine
import TEEABI

/// A machine with one guest of `pages` scattered pages.
func makeGuest(pages: Int = 16, id: UInt32 = 0, seed: UInt64 = 42) throws -> (PhysicalMemory, GuestAddressSpace) {
    let mem = PhysicalMemory()
    let g = try GuestAddressSpace(memory: mem, id: GuestID(id), pages: pages, layout: .scattered(seed: seed))
    return (mem, g)
}

func pattern(_ n: Int, seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

@Suite struct AddressSpace {
    @Test func scatteredPagesTranslateToDistinctPagesOfTheGuestRegionOutOfOrder() throws {
        let (mem, g) = try makeGuest(pages: 32)
        var seen = Set<UInt64>()
        var inOrder = true
        var previous: UInt64?
        for i in 0..<g.ramPages {
            let ipa = g.ramPage(i).address
            let pa = try g.translate(ipa)
            #expect(pa.isPageAligned)
            #expect(pa >= g.region.basePA && pa < g.region.endPA)
            #expect(seen.insert(pa.raw).inserted)
            if let p = previous, pa.raw != p + UInt64(pageSize) { inOrder = false }
            previous = pa.raw
            // The offset inside the page carries over.
            #expect(try g.translate(IPA(ipa.raw + 0x123)) == PA(pa.raw + 0x123))
            #expect(mem.region(containing: pa) === g.region)
        }
        #expect(!inOrder, "scattered layout should not be identity-ordered")
        // Data written by IPA is found at the translated PA, and only there.
        for i in 0..<g.ramPages {
            try g.write(g.ramPage(i).address, pattern(64, seed: UInt8(i)))
        }
        for i in 0..<g.ramPages {
            let pa = try g.translate(g.ramPage(i).address)
            #expect(try mem.read(pa, count: 64, world: .nonSecure) == pattern(64, seed: UInt8(i)))
        }
    }

    @Test func identityLayoutMapsIPAToTheSamePA() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(3), pages: 4, layout: .identity)
        for i in 0..<4 {
            let ipa = g.ramPage(i).address
            #expect(try g.translate(ipa).raw == ipa.raw)
        }
    }

    @Test func readsAndWritesThatStraddlePagesLandInBothScatteredPages() throws {
        let (mem, g) = try makeGuest()
        let start = IPA(g.ramPage(3).address.raw + UInt64(pageSize) - 50)
        let data = pattern(100, seed: 9)
        try g.write(start, data)
        #expect(try g.read(start, count: 100) == data)
        let pa0 = try g.translate(start), pa1 = try g.translate(g.ramPage(4).address)
        #expect(try mem.read(pa0, count: 50, world: .nonSecure) == Array(data[..<50]))
        #expect(try mem.read(pa1, count: 50, world: .nonSecure) == Array(data[50...]))
        // A write spanning many pages round-trips too.
        let big = pattern(5 * pageSize + 17, seed: 1)
        let s2 = IPA(g.ramPage(6).address.raw + 9)
        try g.write(s2, big)
        #expect(try g.read(s2, count: big.count) == big)
    }

    @Test func aWriteThatReachesAnUnmappedOrReadOnlyPageWritesNothing() throws {
        let (_, g) = try makeGuest()
        let start = IPA(g.ramPage(g.ramPages - 1).address.raw + UInt64(pageSize) - 10)
        let before = try g.read(start, count: 10)
        // The page after the last RAM page is unmapped.
        #expect(throws: MemoryError.unmapped(g.ramPage(g.ramPages).address)) { try g.write(start, pattern(20, seed: 3)) }
        #expect(try g.read(start, count: 10) == before)
        try g.setType(g.ramPage(2), .ramReadOnly)
        let s = IPA(g.ramPage(1).address.raw + UInt64(pageSize) - 4)
        let before2 = try g.read(s, count: 4)
        #expect(throws: MemoryError.wrongType(g.ramPage(2).address, .ramReadOnly)) { try g.write(s, [1, 2, 3, 4, 5, 6, 7, 8]) }
        #expect(try g.read(s, count: 4) == before2)
    }

    @Test func readOnlyAndForeignPagesRefuseWhatTheirTypeForbids() throws {
        let (_, g) = try makeGuest()
        let ro = g.ramPage(5), fo = g.ramPage(6)
        try g.setType(ro, .ramReadOnly)
        try g.setType(fo, .foreign)
        _ = try g.read(ro.address, count: 8)
        #expect(throws: MemoryError.wrongType(ro.address, .ramReadOnly)) { try g.write(ro.address, [1]) }
        #expect(throws: MemoryError.wrongType(ro.address, .ramReadOnly)) { try g.translate(ro.address, write: true) }
        #expect(throws: MemoryError.wrongType(ro.address, .ramReadOnly)) { try g.pin(ro, writable: true) }
        let p = try g.pin(ro, writable: false)
        try g.unpin(p)
        #expect(throws: MemoryError.wrongType(fo.address, .foreign)) { try g.read(fo.address, count: 1) }
        #expect(throws: MemoryError.wrongType(fo.address, .foreign)) { try g.write(fo.address, [1]) }
        #expect(throws: MemoryError.wrongType(fo.address, .foreign)) { try g.translate(fo.address) }
        #expect(throws: MemoryError.wrongType(fo.address, .foreign)) { try g.pin(fo, writable: false) }
        #expect(g.pinnedPages == 0)
        #expect(!g.isWritable(ro, backedBy: p))
    }

    @Test func unmappingAPinnedPageLeavesThePinHolderTheOldPageAndTheGuestTheNewMapping() throws {
        let (mem, g) = try makeGuest()
        let page = g.ramPage(2)
        try g.write(page.address, Array("old data".utf8))
        let pinned = try g.pin(page, writable: true)
        #expect(g.pinCount(pinned) == 1 && g.pinnedPages == 1)
        #expect(g.isWritable(page, backedBy: pinned))

        g.unmap(page)
        #expect(throws: MemoryError.unmapped(page.address)) { try g.read(page.address, count: 1) }
        #expect(!g.isWritable(page, backedBy: pinned))
        // The guest maps the IPA page over the backing of another page and writes there.
        try g.remap(page, toBackingOf: g.ramPage(9))
        try g.write(page.address, Array("new data".utf8))
        #expect(try g.read(g.ramPage(9).address, count: 8) == Array("new data".utf8))
        #expect(try g.read(page.address, count: 8) == Array("new data".utf8))
        // The pin holder still has the old page with the old bytes.
        #expect(try mem.read(pinned.address, count: 8, world: .nonSecure) == Array("old data".utf8))
        #expect(g.pinCount(pinned) == 1)
        #expect(!g.isWritable(page, backedBy: pinned))
        try g.unpin(pinned)
        #expect(g.pinCount(pinned) == 0 && g.pinnedPages == 0)
        #expect(throws: MemoryError.notPinned(pinned)) { try g.unpin(pinned) }
    }

    @Test func pinsCountWithMultiplicity() throws {
        let (_, g) = try makeGuest()
        let a = try g.pin(g.ramPage(1), writable: false)
        let b = try g.pin(g.ramPage(1), writable: true)
        #expect(a == b && g.pinCount(a) == 2 && g.pinnedPages == 2)
        try g.unpin(a)
        #expect(g.pinCount(a) == 1)
        try g.unpin(a)
        #expect(g.pinnedPages == 0)
        #expect(throws: MemoryError.unmapped(g.ramPage(g.ramPages).address)) { try g.pin(g.ramPage(g.ramPages), writable: false) }
        #expect(throws: MemoryError.unmapped(IPA(0))) { try g.pin(IPAPage(0), writable: false) }
    }

    @Test func aGuestCannotMapPagesThatAreNotItsOwnRAM() throws {
        let mem = PhysicalMemory()
        let g0 = try GuestAddressSpace(memory: mem, id: GuestID(0), pages: 4)
        let g1 = try GuestAddressSpace(memory: mem, id: GuestID(1), pages: 4)
        let secure = try mem.addRegion(kind: .secure, pages: 4)
        let hyp = try mem.addRegion(kind: .hypervisor, pages: 4)
        let other = try g1.translate(g1.ramPage(0).address).page
        for pa in [other, secure.basePA.page, hyp.basePA.page, PAPage(0), PAPage(UInt64.max >> 12)] {
            #expect(throws: MemoryError.notGuestRAM(pa)) { try g0.map(g0.ramPage(0), to: pa) }
        }
        // Outside the table's window.
        #expect(throws: MemoryError.unmapped(IPAPage(1).address)) { try g0.map(IPAPage(1), to: try g0.translate(g0.ramPage(1).address).page) }
        #expect(throws: MemoryError.unmapped(IPAPage(1).address)) { try g0.setType(IPAPage(1), .ramReadOnly) }
        g0.unmap(IPAPage(1))   // no-op, no trap
    }

    @Test func overflowingAndOutOfRangeAccessesAreTypedErrors() throws {
        let (mem, g) = try makeGuest()
        #expect(throws: MemoryError.overflow) { try g.read(IPA(UInt64.max - 10), count: 100) }
        #expect(throws: MemoryError.overflow) { try g.write(IPA(UInt64.max - 3), [1, 2, 3, 4, 5, 6, 7, 8]) }
        #expect(throws: MemoryError.overflow) { try g.read(g.ramBase, count: -1) }
        #expect(throws: MemoryError.unmapped(IPA(0x10))) { try g.read(IPA(0x10), count: 1) }
        #expect(try g.read(g.ramBase, count: 0) == [])
        #expect(throws: MemoryError.overflow) { try mem.read(PA(UInt64.max - 3), count: 8, world: .secure) }
        #expect(throws: MemoryError.overflow) { try mem.read(g.region.basePA, count: -5, world: .secure) }
        let end = g.region.endPA
        #expect(throws: MemoryError.outOfRange(end, count: 1)) { try mem.read(end, count: 1, world: .secure) }
        let last = PA(end.raw - 4)
        #expect(throws: MemoryError.outOfRange(last, count: 8)) { try mem.read(last, count: 8, world: .secure) }
        #expect(throws: MemoryError.outOfRange(PA(0), count: 1)) { try mem.write(PA(0), [1], world: .secure) }
        // Regions never touch: a range from one region into the next is out of range.
        let next = try mem.addRegion(kind: .hypervisor, pages: 1)
        #expect(next.basePA > end)
        #expect(throws: MemoryError.exhausted) { try mem.addRegion(kind: .hypervisor, pages: 0) }
        #expect(throws: MemoryError.exhausted) { try mem.addRegion(kind: .hypervisor, pages: -3) }
        // Removed RAM is unreachable.
        let pa = try g.translate(g.ramBase)
        g.removeRAM()
        #expect(throws: MemoryError.outOfRange(pa, count: 1)) { try g.read(g.ramBase, count: 1) }
    }

    @Test func typedAddressesSplitIntoPagesAndOffsets() {
        let ipa = IPA(0x4000_1234)
        #expect(ipa.page == IPAPage(0x4_0001) && ipa.pageOffset == 0x234 && !ipa.isPageAligned)
        #expect(ipa.page.address == IPA(0x4000_1000) && ipa.page.next == IPAPage(0x4_0002))
        #expect(IPA(UInt64.max).adding(1) == nil && IPA(1).adding(1) == IPA(2))
        let pa = PA(0x8000_0FFF)
        #expect(pa.page.address == PA(0x8000_0000) && pa.pageOffset == 0xFFF)
        #expect(PA(UInt64.max).adding(1) == nil)
        #expect(GuestID(0).clientID == 1 && GuestID(UInt32.max).clientID == UInt64(UInt32.max) + 1)
    }
}
