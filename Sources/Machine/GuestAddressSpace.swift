/// A guest's stage-2 table: IPA page -> PA page with a type, plus pin counts.
///
/// Lock-free on the call path (issue 10: at most one lock per layer per call): every entry and
/// every pin count is an atomic word, so translations (a vCPU's loads and stores), pins and the
/// mediator's write-back check take no lock; only stage-2 changes (map, unmap, setType) take
/// `writer`, to serialize one another.
import Synchronization
import TEEABI

/// How a guest's RAM pages are laid out in PA.
public enum GuestLayout: Sendable {
    /// IPA page i of RAM maps to a pseudo-random PA page of the guest's region (seeded), so
    /// a missing translation shows as wrong data instead of working by accident.
    case scattered(seed: UInt64)
    /// IPA == PA: the guest's RAM window starts at its region's PA (no hypervisor).
    case identity
    /// IPA page `ramBase + i` maps to region page `i`: RAM handed over by a guest process, whose
    /// own view of its memfd is linear.
    case linear
}

/// One guest's address space. Guest-side accesses (`read`, `write`) obey page types;
/// hypervisor-side calls (`translate`, `pin`) are what a mediator uses.
public final class GuestAddressSpace: @unchecked Sendable {
    // @unchecked: `entries` and `pins` are buffers of atomics, allocated once in init and freed in
    // deinit; every access goes through the atomics.
    /// Whose address space this is.
    public let id: GuestID
    /// The physical memory its RAM lives in.
    public let memory: PhysicalMemory
    /// The guest's RAM in PA.
    public let region: Region
    /// First IPA of the guest's RAM.
    public let ramBase: IPA
    /// Pages of RAM.
    public let ramPages: Int
    /// The IPA window the table covers: [ramBase, ramBase + windowPages pages).
    public let windowPages: Int

    /// entries[i] for IPA page basePage + i: PA page number << 2 | type, or 0 when unmapped.
    private let entries: UnsafeMutablePointer<Atomic<UInt64>>
    /// pins[j] for PA page (region's first page + j): pin count.
    private let pins: UnsafeMutablePointer<Atomic<Int>>
    /// Pins held in total, with multiplicity.
    private let pinnedTotal = Atomic<Int>(0)
    /// Serializes stage-2 changes with one another (readers never take it).
    private let writer = Mutex<Void>(())
    private let basePage: UInt64
    private let regionFirstPage: UInt64

    /// Creates RAM of `pages` pages for guest `id` in `memory` (memfd-backed) and maps it.
    /// The table window is twice the RAM, so the guest has unmapped IPA space to remap into.
    public convenience init(memory: PhysicalMemory, id: GuestID, pages: Int, layout: GuestLayout = .scattered(seed: 0),
                ramBase: IPA = IPA(0x4000_0000)) throws(MemoryError) {
        let region = try memory.addRegion(kind: .guestRAM(id), pages: pages, memfd: true)
        try self.init(memory: memory, id: id, region: region, layout: layout, ramBase: ramBase)
    }

    /// Maps an existing region (a memfd handed over by a guest process) as the guest's RAM.
    public init(memory: PhysicalMemory, id: GuestID, region: Region, layout: GuestLayout = .scattered(seed: 0),
                ramBase: IPA = IPA(0x4000_0000)) throws(MemoryError) {
        self.id = id; self.memory = memory; self.region = region
        let base: IPA
        if case .identity = layout { base = IPA(region.basePA.raw) } else { base = ramBase }
        guard base.isPageAligned else { throw .overflow }
        self.ramBase = base
        self.ramPages = region.pages
        self.windowPages = region.pages * 2
        self.basePage = base.page.number
        var order = Array(0..<UInt64(region.pages))
        if case let .scattered(seed) = layout {
            var rng = SplitMix64(seed: seed ^ (UInt64(id.raw) &* 0x9E37_79B9_7F4A_7C15))
            order.shuffle(using: &rng)
        }
        let first = region.basePA.page.number
        regionFirstPage = first
        // Sound: both buffers are allocated here for exactly windowPages / region.pages words,
        // every word is initialized before use, and they are freed only in deinit.
        entries = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: region.pages * 2)
        for i in 0..<region.pages * 2 {
            (entries + i).initialize(to: Atomic<UInt64>(i < region.pages ? (first + order[i]) << 2 | UInt64(PageType.ramReadWrite.rawValue) : 0))
        }
        pins = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: max(1, region.pages))
        for j in 0..<max(1, region.pages) { (pins + j).initialize(to: Atomic<Int>(0)) }
    }

    deinit {
        // Sound: allocated and initialized in init for these counts; nobody holds the space any more.
        entries.deinitialize(count: windowPages)
        entries.deallocate()
        pins.deinitialize(count: max(1, ramPages))
        pins.deallocate()
    }

    /// The pin counter of PA page `pa` (a page of this guest's region), or nil.
    @inline(__always)
    private func pinIndex(_ pa: PAPage) -> Int? {
        guard pa.number >= regionFirstPage, pa.number - regionFirstPage < UInt64(ramPages) else { return nil }
        return Int(pa.number - regionFirstPage)
    }

    /// Drops the guest's RAM from the physical address space (guest destroyed).
    public func removeRAM() { memory.removeRegion(region) }

    // MARK: - Table lookups

    @inline(__always)
    private func index(_ page: IPAPage) -> Int? {
        guard page.number >= basePage, page.number - basePage < UInt64(windowPages) else { return nil }
        return Int(page.number - basePage)
    }

    @inline(__always)
    private static func decode(_ e: UInt64) -> (PAPage, PageType)? {
        guard e != 0, let t = PageType(rawValue: UInt8(e & 3)) else { return nil }
        return (PAPage(e >> 2), t)
    }

    /// The mapping of one page, if any.
    public func entry(_ page: IPAPage) -> (pa: PAPage, type: PageType)? {
        guard let i = index(page) else { return nil }
        return Self.decode(entries[i].load(ordering: .acquiring)).map { (pa: $0.0, type: $0.1) }
    }

    /// Translates for the hypervisor: the page must be mapped RAM (writable when `write`).
    public func translate(_ ipa: IPA, write: Bool = false) throws(MemoryError) -> PA {
        guard let (pa, type) = entry(ipa.page) else { throw .unmapped(ipa) }
        switch type {
        case .foreign: throw .wrongType(ipa, type)
        case .ramReadOnly where write: throw .wrongType(ipa, type)
        default: return PA(pa.address.raw | UInt64(ipa.pageOffset))
        }
    }

    // MARK: - Guest-side access (a vCPU's loads and stores)

    /// Reads `count` bytes at `ipa`, page by page; fails on unmapped or foreign pages.
    public func read(_ ipa: IPA, count: Int) throws(MemoryError) -> [UInt8] {
        guard count >= 0 else { throw .overflow }
        // Filled straight from guest memory, no zero fill first; on a failed read the array is
        // dropped with count 0 (nothing uninitialized is ever read).
        var failure: MemoryError? = nil
        let out = [UInt8](unsafeUninitializedCapacity: count) { b, initialized in
            do throws(MemoryError) {
                try read(ipa, into: UnsafeMutableRawBufferPointer(b))
                initialized = count
            } catch { failure = error; initialized = 0 }
        }
        if let failure { throw failure }
        return out
    }

    /// Reads into `buffer` from `ipa`, page by page.
    public func read(_ ipa: IPA, into buffer: UnsafeMutableRawBufferPointer) throws(MemoryError) {
        try forEachChunk(ipa, buffer.count, write: false) { (pa, off, n) throws(MemoryError) in
            try memory.read(pa, into: UnsafeMutableRawBufferPointer(rebasing: buffer[off..<off + n]), world: .nonSecure)
        }
    }

    /// Writes `bytes` at `ipa`; fails on unmapped, read-only or foreign pages (nothing written then).
    public func write(_ ipa: IPA, _ bytes: [UInt8]) throws(MemoryError) {
        let r: Result<Void, MemoryError> = bytes.withUnsafeBytes { b in
            do throws(MemoryError) { try write(ipa, from: b); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
    }

    /// Writes from `bytes` at `ipa`, page by page (all pages checked before the first byte is written).
    public func write(_ ipa: IPA, from bytes: UnsafeRawBufferPointer) throws(MemoryError) {
        try forEachChunk(ipa, bytes.count, write: true) { _, _, _ in }   // check every page first
        try forEachChunk(ipa, bytes.count, write: true) { (pa, off, n) throws(MemoryError) in
            try memory.write(pa, from: UnsafeRawBufferPointer(rebasing: bytes[off..<off + n]), world: .nonSecure)
        }
    }

    /// Runs `body` over `count` bytes at `ipa` in place (a vCPU's loads and stores, no copy), for
    /// building or reading an argument where it lives. The range must lie in one page (guest RAM
    /// of one page is contiguous in the region); the page must be mapped RAM, read-write when
    /// `write`. The pointer must not escape `body`. Inlinable: callers get a specialized copy.
    @inlinable
    public func withBytes<R, E: Error>(_ ipa: IPA, count: Int, write: Bool = true,
                                      _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(PhysicalAccessError<E>) -> R {
        guard count >= 0, ipa.pageOffset + count <= pageSize else { throw .memory(.overflow) }
        let pa: PA
        do { pa = try translate(ipa, write: write) } catch { throw .memory(error) }
        // Sound: one page of guest RAM is contiguous in its region; PhysicalMemory checks the range
        // and keeps the region alive while body runs.
        return try memory.withBytes(pa, count: count, world: .nonSecure, body)
    }

    private func forEachChunk(_ ipa: IPA, _ count: Int, write: Bool,
                              _ body: (PA, Int, Int) throws(MemoryError) -> Void) throws(MemoryError) {
        guard count >= 0, ipa.adding(UInt64(count)) != nil else { throw .overflow }
        var done = 0
        while done < count {
            guard let cur = ipa.adding(UInt64(done)) else { throw .overflow }
            let n = min(count - done, pageSize - cur.pageOffset)
            let pa = try translate(cur, write: write)
            try body(pa, done, n)
            done += n
        }
    }

    // MARK: - Pinning (hypervisor side)

    /// Pins the page behind `page` and returns its PA page. It must be RAM, and read-write when
    /// `writable`. The PA page stays pinned (and so keeps its backing for the pin holder) even if
    /// the guest later unmaps or remaps the IPA page.
    /// A pin taken while the guest remaps the page concurrently holds the backing it read, as if
    /// it came just before the remap.
    public func pin(_ page: IPAPage, writable: Bool) throws(MemoryError) -> PAPage {
        guard let i = index(page) else { throw .unmapped(page.address) }
        guard let (pa, type) = Self.decode(entries[i].load(ordering: .acquiring)) else { throw .unmapped(page.address) }
        if type == .foreign || (writable && type == .ramReadOnly) { throw .wrongType(page.address, type) }
        guard let j = pinIndex(pa) else { throw .notGuestRAM(pa) }
        pins[j].wrappingAdd(1, ordering: .acquiringAndReleasing)
        pinnedTotal.wrappingAdd(1, ordering: .relaxed)
        return pa
    }

    /// Releases one pin on `page`.
    public func unpin(_ page: PAPage) throws(MemoryError) {
        guard let j = pinIndex(page) else { throw .notPinned(page) }
        var c = pins[j].load(ordering: .relaxed)
        while true {
            guard c > 0 else { throw .notPinned(page) }
            let (done, now) = pins[j].compareExchange(expected: c, desired: c - 1, ordering: .acquiringAndReleasing)
            if done { break }
            c = now
        }
        pinnedTotal.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Pins currently held on this guest's pages (counted with multiplicity).
    public var pinnedPages: Int { pinnedTotal.load(ordering: .relaxed) }
    /// Pin count of one PA page.
    public func pinCount(_ page: PAPage) -> Int { pinIndex(page).map { pins[$0].load(ordering: .acquiring) } ?? 0 }

    /// True when `page` is still mapped read-write RAM and backed by `expected` (checked before writing back).
    public func isWritable(_ page: IPAPage, backedBy expected: PAPage) -> Bool {
        guard let e = entry(page) else { return false }
        return e.type == .ramReadWrite && e.pa == expected
    }

    /// Runs `body` over `count` bytes at `offset` of guest page `page` only if the page is mapped
    /// read-write RAM backed by `expected` (a page the caller pinned), checked right before
    /// `body` runs. No lock: the write takes effect as of the check (Xen's copy-back also checks
    /// the p2m type when it maps the page and then writes); `expected` stays pinned meanwhile, so
    /// its backing is the guest's own RAM throughout. False (nothing run) otherwise.
    /// With `unpinning`, one pin on `expected` is released afterwards, written or not
    /// (a caller's last touch of a page it pinned for one call).
    public func withWritablePage(_ page: IPAPage, backedBy expected: PAPage, offset: Int, count: Int, unpinning: Bool = false,
                                 _ body: (UnsafeMutableRawBufferPointer) -> Void) -> Bool {
        guard let i = index(page), offset >= 0, count >= 0, offset <= pageSize - count,
              let pa = expected.address.adding(UInt64(offset)) else {
            if unpinning { try? unpin(expected) }
            return false
        }
        defer { if unpinning { try? unpin(expected) } }
        guard let (backing, type) = Self.decode(entries[i].load(ordering: .acquiring)), type == .ramReadWrite, backing == expected else { return false }
        do {
            try memory.withBytes(pa, count: count, world: .nonSecure) { (b: UnsafeMutableRawBufferPointer) throws(Never) in body(b) }
            return true
        } catch { return false }
    }

    // MARK: - Stage-2 changes (the guest balloons, remaps, or maps MMIO)

    /// Removes the mapping of `page`.
    public func unmap(_ page: IPAPage) {
        guard let i = index(page) else { return }
        writer.withLock { _ in entries[i].store(0, ordering: .releasing) }
    }

    /// Changes the type of a mapped page (RAM rw <-> ro, or foreign).
    public func setType(_ page: IPAPage, _ type: PageType) throws(MemoryError) {
        guard let i = index(page) else { throw .unmapped(page.address) }
        try writer.withLock { (_) throws(MemoryError) in
            guard let (pa, _) = Self.decode(entries[i].load(ordering: .acquiring)) else { throw .unmapped(page.address) }
            entries[i].store(pa.number << 2 | UInt64(type.rawValue), ordering: .releasing)
        }
    }

    /// Maps `page` to `pa` with `type`; `pa` must be a page of this guest's RAM region.
    public func map(_ page: IPAPage, to pa: PAPage, type: PageType = .ramReadWrite) throws(MemoryError) {
        guard let i = index(page) else { throw .unmapped(page.address) }
        guard pa.number >= region.basePA.page.number, pa.number < region.basePA.page.number + UInt64(region.pages) else {
            throw .notGuestRAM(pa)
        }
        writer.withLock { _ in entries[i].store(pa.number << 2 | UInt64(type.rawValue), ordering: .releasing) }
    }

    /// Makes `page` point at the same backing as `source` (the guest remaps its RAM).
    public func remap(_ page: IPAPage, toBackingOf source: IPAPage) throws(MemoryError) {
        guard let e = entry(source) else { throw .unmapped(source.address) }
        try map(page, to: e.pa, type: e.type)
    }

    /// IPA of RAM page `i` (0 ..< ramPages).
    @inlinable public func ramPage(_ i: Int) -> IPAPage { IPAPage(ramBase.page.number + UInt64(i)) }
}

/// Small deterministic PRNG for page scattering (not for secrets).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// Seeded generator.
    public init(seed: UInt64) { state = seed }
    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
