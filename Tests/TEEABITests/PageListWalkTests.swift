/// The NONCONTIG page-list walker against lists that loop, run past a page, point at
/// misaligned or unreadable pages, or claim more pages than allowed.
import Testing
import TEEABI

/// A fake physical memory of list pages; reading anything else fails with `.outside`.
struct ListMemory {
    enum ReadError: Error, Equatable { case outside(UInt64) }
    var pages: [UInt64: [UInt8]] = [:]
    var reads: [UInt64] = []

    mutating func read(_ a: UInt64) throws(ReadError) -> [UInt8] {
        reads.append(a)
        guard let p = pages[a] else { throw .outside(a) }
        return p
    }
}

func dataPages(_ n: Int, base: UInt64 = 0x4000_0000) -> [UInt64] { (0..<UInt64(n)).map { base + $0 * 0x3000 } }

@Suite struct PageListWalk {
    @Test func aShortListIsReadFromOnePage() throws {
        var m = ListMemory()
        m.pages[0x9000] = PageList.Page(entries: dataPages(3), next: 0xDEAD_0000).encoded()
        let got = try PageList.walk(first: 0x9000, pageCount: 3, maxPages: 16) { a throws(ListMemory.ReadError) in try m.read(a) }
        #expect(got == dataPages(3))
        #expect(m.reads == [0x9000])   // the next pointer is not followed when no entries remain
    }

    @Test func aListLongerThan511EntriesFollowsTheNextPointerAndNeverReadsItAsData() throws {
        let data = dataPages(1100)
        let lists: [UInt64] = [0x9000, 0x2_0000, 0x7000]
        var m = ListMemory()
        for (a, p) in zip(lists, try PageList.build(dataPages: data, listPageAddresses: lists)) { m.pages[a] = p }
        let got = try PageList.walk(first: 0x9000, pageCount: 1100, maxPages: 2048) { a throws(ListMemory.ReadError) in try m.read(a) }
        #expect(got == data)
        #expect(m.reads == lists)
        #expect(!got.contains(0x2_0000) && !got.contains(0x7000))
        // Exactly 511 entries fit one page; the next pointer slot is not data.
        m.reads = []
        let one = try PageList.walk(first: 0x9000, pageCount: 511, maxPages: 2048) { a throws(ListMemory.ReadError) in try m.read(a) }
        #expect(one == Array(data[..<511]) && m.reads == [0x9000])
        let twoPages = try PageList.walk(first: 0x9000, pageCount: 512, maxPages: 2048) { a throws(ListMemory.ReadError) in try m.read(a) }
        #expect(twoPages.last == data[511])
    }

    @Test func aListWhoseNextPointerLoopsIsRejected() {
        var m = ListMemory()
        m.pages[0x9000] = PageList.Page(entries: dataPages(511), next: 0x9000).encoded()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.loop(listPage: 0x9000)) {
            try PageList.walk(first: 0x9000, pageCount: 600, maxPages: 100_000) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
        // A -> B -> A.
        m.pages[0x9000] = PageList.Page(entries: dataPages(511), next: 0xA000).encoded()
        m.pages[0xA000] = PageList.Page(entries: dataPages(511), next: 0x9000).encoded()
        m.reads = []
        #expect(throws: PageListWalkError<ListMemory.ReadError>.loop(listPage: 0x9000)) {
            try PageList.walk(first: 0x9000, pageCount: 2000, maxPages: 100_000) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
        #expect(m.reads == [0x9000, 0xA000])   // each list page read once
    }

    @Test func aListRunningPastItsLastPageEndsInATypedError() {
        var m = ListMemory()
        // Claims 600 pages but the first list page has next = 0.
        m.pages[0x9000] = PageList.Page(entries: dataPages(511), next: 0).encoded()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.missingNext(afterEntries: 511)) {
            try PageList.walk(first: 0x9000, pageCount: 600, maxPages: 1000) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
        // Next pointer to memory the caller cannot read (outside the guest).
        m.pages[0x9000] = PageList.Page(entries: dataPages(511), next: 0xFFFF_F000).encoded()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.read(listPage: 0xFFFF_F000, .outside(0xFFFF_F000))) {
            try PageList.walk(first: 0x9000, pageCount: 600, maxPages: 1000) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
        // Misaligned next pointer.
        m.pages[0x9000] = PageList.Page(entries: dataPages(511), next: 0xA008).encoded()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.misalignedListPage(0xA008)) {
            try PageList.walk(first: 0x9000, pageCount: 600, maxPages: 1000) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
    }

    @Test func misalignedFirstPagesAndEntriesAreRejected() {
        var m = ListMemory()
        m.pages[0x9000] = PageList.Page(entries: [0x1000, 0x2010, 0x3000], next: 0).encoded()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.misalignedListPage(0x9010)) {
            try PageList.walk(first: 0x9010, pageCount: 1, maxPages: 10) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
        #expect(throws: PageListWalkError<ListMemory.ReadError>.misalignedEntry(index: 1, address: 0x2010)) {
            try PageList.walk(first: 0x9000, pageCount: 3, maxPages: 10) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
    }

    @Test func longerThanAllowedOrNegativeCountsAreRejectedWithoutReading() {
        var m = ListMemory()
        #expect(throws: PageListWalkError<ListMemory.ReadError>.tooLong(pages: 11, maximum: 10)) {
            try PageList.walk(first: 0x9000, pageCount: 11, maxPages: 10) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
        #expect(throws: PageListWalkError<ListMemory.ReadError>.tooLong(pages: -1, maximum: 10)) {
            try PageList.walk(first: 0x9000, pageCount: -1, maxPages: 10) { a throws(ListMemory.ReadError) in try m.read(a) }
        }
        #expect(m.reads.isEmpty)
        let none = try? PageList.walk(first: 0x9000, pageCount: 0, maxPages: 10) { a throws(ListMemory.ReadError) in try m.read(a) }
        #expect(none == [] && m.reads.isEmpty)
    }

    @Test func aReaderReturningLessThanAPageIsTruncated() {
        #expect(throws: PageListWalkError<Never>.truncated(listPage: 0x9000, bytes: 100)) {
            try PageList.walk(first: 0x9000, pageCount: 1, maxPages: 10) { _ in [UInt8](repeating: 0, count: 100) }
        }
    }

    @Test func randomListGraphsAlwaysEndAndReadEachListPageAtMostOnce() {
        var g = SplitMix(seed: 11)
        for _ in 0..<300 {
            var m = ListMemory()
            let addrs = (0..<Int.random(in: 1...6, using: &g)).map { _ in UInt64.random(in: 1...64, using: &g) << 12 }
            for a in addrs {
                let entries = (0..<511).map { _ in UInt64.random(in: 0...3, using: &g) == 0 ? UInt64.random(in: 0...UInt64.max, using: &g) : UInt64.random(in: 0...0xFFFF, using: &g) << 12 }
                let next: UInt64 = [addrs.randomElement(using: &g) ?? 0, 0, UInt64.random(in: 0...UInt64.max, using: &g)].randomElement(using: &g) ?? 0
                m.pages[a] = PageList.Page(entries: entries, next: next).encoded()
            }
            let count = Int.random(in: 0...4000, using: &g)
            let first = addrs[0]
            let r = Result { () throws(PageListWalkError<ListMemory.ReadError>) -> [UInt64] in
                try PageList.walk(first: first, pageCount: count, maxPages: 3000) { a throws(ListMemory.ReadError) in try m.read(a) }
            }
            if case let .success(pages) = r { #expect(pages.count == count) }
            #expect(Set(m.reads).count == m.reads.count)
            #expect(m.reads.count <= PageList.listPages(for: min(count, 3000)))
        }
    }

    @Test func buildRejectsTheWrongNumberOfListPages() {
        #expect(throws: ABIError.self) { try PageList.build(dataPages: dataPages(600), listPageAddresses: [0x9000]) }
        #expect((try? PageList.build(dataPages: [], listPageAddresses: []))?.isEmpty == true)
    }
}
