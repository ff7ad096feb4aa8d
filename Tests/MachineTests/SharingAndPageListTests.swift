/// Machine: guest RAM is a memfd another mapping can share, and page lists in guest RAM are
/// walked through the guest's stage-2 with typed errors for lists that leave the guest.
#if canImport(Glibc)
import Glibc
#endif
import Testing
import Machine
import TEEABI

@Suite struct SharingAndPageLists {
    @Test func guestRAMIsAMemfdThatASecondMappingSeesByteForByte() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(0), pages: 8)
        guard let fd = g.region.fd else { Issue.record("guest RAM has no memfd"); return }
        let copy = dup(fd)
        #expect(copy >= 0)
        // Another machine (standing in for another process) maps the same memfd.
        let other = PhysicalMemory(firstBase: PA(0x1_0000_0000))
        let r = try other.addRegion(kind: .guestRAM(GuestID(0)), pages: 8, adoptingFD: copy)
        let ipa = IPA(g.ramPage(5).address.raw + 100)
        try g.write(ipa, Array("shared".utf8))
        let offset = try g.translate(ipa).raw - g.region.basePA.raw
        #expect(try other.read(PA(r.basePA.raw + offset), count: 6, world: .nonSecure) == Array("shared".utf8))
        try other.write(PA(r.basePA.raw + offset), Array("SHARED".utf8), world: .nonSecure)
        #expect(try g.read(ipa, count: 6) == Array("SHARED".utf8))
        // Hypervisor and secure regions are anonymous memory: nothing to hand to another process.
        #expect(try mem.addRegion(kind: .secure, pages: 1).fd == nil)
    }

    @Test func aPageListInGuestRAMIsWalkedThroughStage2AndRefusedWhenItLeavesTheGuest() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(0), pages: 16)
        let data = (8..<12).map { g.ramPage($0).address.raw }
        let lists = [g.ramPage(1).address.raw, g.ramPage(2).address.raw]
        // 600 data entries need two list pages; entries repeat the four real pages.
        let entries = (0..<600).map { data[$0 % 4] }
        for (a, page) in zip(lists, try PageList.build(dataPages: entries, listPageAddresses: lists)) {
            try g.write(IPA(a), page)
        }
        let reader = { (a: UInt64) throws(MemoryError) -> [UInt8] in try g.read(IPA(a), count: PageList.pageSize) }
        let walked = try PageList.walk(first: lists[0], pageCount: 600, maxPages: 1024, readListPage: reader)
        #expect(walked == entries)
        // Each data page translates to a PA of the guest's RAM.
        for e in walked.prefix(4) { #expect(try g.translate(IPA(e)).raw >= g.region.basePA.raw) }

        // The guest points the next pointer outside its RAM: the walk fails with the reader's error.
        var first = try g.read(IPA(lists[0]), count: PageList.pageSize)
        let outside: UInt64 = 0x10_0000
        for i in 0..<8 { first[PageList.nextPointerOffset + i] = UInt8(truncatingIfNeeded: outside >> (8 * UInt64(i))) }
        try g.write(IPA(lists[0]), first)
        #expect(throws: PageListWalkError<MemoryError>.read(listPage: outside, .unmapped(IPA(outside)))) {
            try PageList.walk(first: lists[0], pageCount: 600, maxPages: 1024, readListPage: reader)
        }
        // A list page the guest made foreign is refused the same way.
        try g.setType(g.ramPage(1), .foreign)
        #expect(throws: PageListWalkError<MemoryError>.read(listPage: lists[0], .wrongType(IPA(lists[0]), .foreign))) {
            try PageList.walk(first: lists[0], pageCount: 600, maxPages: 1024, readListPage: reader)
        }
    }
}
