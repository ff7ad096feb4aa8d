/// The machine's single physical address space: regions of 4 KiB pages.
import Synchronization
import TEEABI
import CShim
#if canImport(Glibc)
import Glibc
#endif

/// Who owns a region, and so which world may reach it.
public enum RegionKind: Hashable, Sendable, CustomStringConvertible {
    /// Non-secure RAM of one guest (memfd-backed, shareable with another process).
    case guestRAM(GuestID)
    /// Non-secure RAM private to the hypervisor (mediator copies, page lists).
    case hypervisor
    /// Secure RAM: only the secure world reaches it.
    case secure
    /// True for `.secure`.
    public var isSecure: Bool { if case .secure = self { true } else { false } }
    public var description: String {
        switch self {
        case let .guestRAM(g): "guest RAM of \(g)"
        case .hypervisor: "hypervisor RAM"
        case .secure: "secure RAM"
        }
    }
}

/// Which side of the TZASC an access comes from.
public enum World: Sendable {
    /// The secure world: reaches every region.
    case secure
    /// The hypervisor / normal world: never reaches a secure region.
    case nonSecure
}

/// One contiguous mapping of host memory at a PA base.
public final class Region: @unchecked Sendable {
    // @unchecked: immutable after init; the bytes behind `base` are shared memory that
    // vCPUs and worlds access concurrently, as hardware RAM is.
    /// First PA of the region.
    public let basePA: PA
    /// Size in pages.
    public let pages: Int
    /// Who owns it (and so which world reaches it).
    public let kind: RegionKind
    /// memfd backing, when the region can be handed to another process.
    public let fd: Int32?
    @usableFromInline let base: UnsafeMutableRawPointer
    let ownsMapping: Bool

    /// Size in bytes.
    public var byteCount: Int { pages * pageSize }
    /// The PA one past the end.
    public var endPA: PA { PA(basePA.raw + UInt64(byteCount)) }

    init(basePA: PA, pages: Int, kind: RegionKind, memfd: Bool, existingFD: Int32? = nil) throws(MemoryError) {
        let bytes = pages * pageSize
        var fd: Int32? = nil
        if let e = existingFD {
            fd = e
        } else if memfd {
            let f = vtee_memfd_create("vtee-\(kind)")
            guard f >= 0 else { throw .host(errno: errno, what: "memfd_create") }
            guard ftruncate(f, off_t(bytes)) == 0 else { let e = errno; close(f); throw .host(errno: e, what: "ftruncate") }
            fd = f
        }
        let p: UnsafeMutableRawPointer?
        if let f = fd {
            p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0)
        } else {
            p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        }
        guard let p, p != MAP_FAILED else {
            let e = errno
            if let f = fd, existingFD == nil { close(f) }
            throw .host(errno: e, what: "mmap")
        }
        self.base = p; self.basePA = basePA; self.pages = pages; self.kind = kind; self.fd = fd
        self.ownsMapping = true
    }

    deinit {
        // Sound: `base` was returned by mmap for exactly byteCount bytes and nobody holds the
        // region any more (ARC), so no access can follow.
        munmap(base, byteCount)
        if let fd { close(fd) }
    }

    /// Pointer to `count` bytes at `pa`, after checking the range lies inside this region.
    @inlinable @inline(__always)
    func pointer(_ pa: PA, _ count: Int) -> UnsafeMutableRawPointer? {
        guard pa.raw >= basePA.raw, count >= 0 else { return nil }
        let off = pa.raw - basePA.raw
        guard off <= UInt64(byteCount), UInt64(count) <= UInt64(byteCount) - off else { return nil }
        // Sound: off + count <= byteCount, checked above.
        return base + Int(off)
    }
}

/// The physical address space: a set of regions, looked up by PA.
public final class PhysicalMemory: Sendable {
    private struct State {
        var regions: [Region] = []       // sorted by basePA
        var nextBase: UInt64
    }
    private let state: Mutex<State>
    /// Unique id of this address space (keys the per-thread lookup cache).
    private let identity: UInt64
    /// Bumped (under `state`'s lock) whenever a region leaves: cached lookups of older generations miss.
    private let generation = Atomic<UInt64>(0)
    private static let identities = Atomic<UInt64>(1)

    /// Regions are placed from `firstBase` upward with a guard gap between them.
    public init(firstBase: PA = PA(0x8000_0000)) {
        state = Mutex(State(nextBase: firstBase.raw))
        identity = Self.identities.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Adds a region of `pages` pages; `memfd` makes it shareable. Returns it.
    @discardableResult
    public func addRegion(kind: RegionKind, pages: Int, memfd: Bool = false) throws(MemoryError) -> Region {
        try addRegion(kind: kind, pages: pages, memfd: memfd, fd: nil)
    }

    /// Adds a region over an existing memfd of `pages` pages (a guest's RAM handed over by another process).
    @discardableResult
    public func addRegion(kind: RegionKind, pages: Int, adoptingFD fd: Int32) throws(MemoryError) -> Region {
        try addRegion(kind: kind, pages: pages, memfd: true, fd: fd)
    }

    private func addRegion(kind: RegionKind, pages: Int, memfd: Bool, fd: Int32?) throws(MemoryError) -> Region {
        guard pages > 0, pages <= 1 << 24 else { throw .exhausted }
        let base: UInt64 = state.withLock { s in
            let b = s.nextBase
            // Guard gap of 16 pages, rounded to 64 KiB, so that regions never touch.
            s.nextBase = (b + UInt64(pages + 16) * UInt64(pageSize) + 0xFFFF) & ~0xFFFF
            return b
        }
        let r = try Region(basePA: PA(base), pages: pages, kind: kind, memfd: memfd, existingFD: fd)
        state.withLock { s in
            let i = s.regions.firstIndex { $0.basePA > r.basePA } ?? s.regions.count
            s.regions.insert(r, at: i)
        }
        return r
    }

    /// Removes a region from the address space; accesses already under way finish on the old mapping.
    public func removeRegion(_ r: Region) {
        state.withLock { s in
            s.regions.removeAll { $0 === r }
            generation.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// The region covering `pa`, if any. Every memory access starts here, from every vCPU at once, so
    /// a hit in this thread's small cache of recent regions answers without the shared lock (a
    /// contended lock on this path convoys every call once threads outnumber cores). The cache is
    /// valid only for the current generation: a removed region is never found again afterwards.
    public func region(containing pa: PA) -> Region? {
        guard let (r, _) = unretainedRegion(containing: pa) else { return nil }
        return r.takeUnretainedValue()
    }

    /// The kind of the region holding all of [pa, pa + count), or nil when no one region does:
    /// `region(containing:)`'s check without handing out (and counting) a reference.
    public func kindOfRange(_ pa: PA, count: Int) -> RegionKind? {
        guard count >= 0, let end = pa.adding(UInt64(count)), let (r, _) = unretainedRegion(containing: pa) else { return nil }
        // Sound: this thread's cache holds the region until its next insert, after this read.
        return r._withUnsafeGuaranteedRef { end <= $0.endPA ? $0.kind : nil }
    }

    /// `region(containing:)` without reference counting, for the accesses of this file: the
    /// region, and this thread's cache, whose entry holds the region strongly. The entry stays
    /// until this thread inserts into its cache again, which never happens while an access
    /// holds the cache (`RegionCache.holds`), so the region outlives the access even when it
    /// is removed from the address space meanwhile.
    @usableFromInline
    func unretainedRegion(containing pa: PA) -> (Unmanaged<Region>, Unmanaged<RegionCache>)? {
        let gen = generation.load(ordering: .acquiring)
        let cache = RegionCache.currentUnretained
        if let r = cache._withUnsafeGuaranteedRef({ $0.lookup(identity, gen, pa) }) { return (r, cache) }
        guard let r = lockedRegion(containing: pa) else { return nil }
        cache._withUnsafeGuaranteedRef { $0.insert(identity, gen, r) }
        return (Unmanaged.passUnretained(r), cache)
    }

    private func lockedRegion(containing pa: PA) -> Region? {
        state.withLock { s in
            var lo = 0, hi = s.regions.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if s.regions[mid].basePA <= pa { lo = mid + 1 } else { hi = mid }
            }
            guard lo > 0 else { return nil }
            let r = s.regions[lo - 1]
            return pa < r.endPA ? r : nil
        }
    }

    /// Number of regions (for tests and stats).
    public var regionCount: Int { state.withLock { $0.regions.count } }

    /// Resolves `count` bytes at `pa` for `world` to a pointer into its region, and the cache
    /// entry that keeps the region alive (see `unretainedRegion`): valid until this thread's next
    /// lookup, or for longer while the caller holds the cache (`RegionCache.holds`).
    @inlinable @inline(__always)
    func resolve(_ pa: PA, _ count: Int, _ world: World) throws(MemoryError) -> (UnsafeMutableRawPointer, Unmanaged<RegionCache>) {
        guard count >= 0, pa.adding(UInt64(count)) != nil else { throw .overflow }
        guard let (ur, cache) = unretainedRegion(containing: pa) else { throw .outOfRange(pa, count: count) }
        // Sound: the cache entry holds the region (see unretainedRegion).
        let (secure, p) = ur._withUnsafeGuaranteedRef { r in (r.kind.isSecure, r.pointer(pa, count)) }
        if world == .nonSecure && secure { throw .secureAccessDenied(pa) }
        guard let p else { throw .outOfRange(pa, count: count) }
        return (p, cache)
    }

    /// Copies `buffer.count` bytes at `pa` into `buffer`.
    public func read(_ pa: PA, into buffer: UnsafeMutableRawBufferPointer, world: World) throws(MemoryError) {
        let (p, _) = try resolve(pa, buffer.count, world)
        // Sound: p..p+count lies in the region's mapping (resolve checked), which this thread's
        // cache keeps alive: nothing between the lookup and the copy looks a region up.
        if let dst = buffer.baseAddress { dst.copyMemory(from: p, byteCount: buffer.count) }
    }

    /// Reads `count` bytes at `pa`.
    public func read(_ pa: PA, count: Int, world: World) throws(MemoryError) -> [UInt8] {
        guard count >= 0 else { throw .overflow }
        var out = [UInt8](repeating: 0, count: count)
        let res: Result<Void, MemoryError> = out.withUnsafeMutableBytes { b in
            do throws(MemoryError) { try read(pa, into: b, world: world); return .success(()) } catch { return .failure(error) }
        }
        try res.get()
        return out
    }

    /// Copies `bytes` to `pa`.
    public func write(_ pa: PA, from bytes: UnsafeRawBufferPointer, world: World) throws(MemoryError) {
        let (p, _) = try resolve(pa, bytes.count, world)
        // Sound: p..p+count lies in the region's mapping (resolve checked), which this thread's
        // cache keeps alive: nothing between the lookup and the copy looks a region up.
        if let src = bytes.baseAddress { p.copyMemory(from: src, byteCount: bytes.count) }
    }

    /// Writes `bytes` at `pa`.
    public func write(_ pa: PA, _ bytes: [UInt8], world: World) throws(MemoryError) {
        let res: Result<Void, MemoryError> = bytes.withUnsafeBytes { b in
            do throws(MemoryError) { try write(pa, from: b, world: world); return .success(()) } catch { return .failure(error) }
        }
        try res.get()
    }

    /// Fills `count` bytes at `pa` with zero.
    public func zero(_ pa: PA, count: Int, world: World) throws(MemoryError) {
        let (p, _) = try resolve(pa, count, world)
        // Sound: range checked by resolve; this thread's cache keeps the region alive (no lookup before the memset).
        _ = memset(p, 0, count)
    }

    /// Runs `body` over `count` bytes at `pa` in place (no copy), for codecs that decode or
    /// encode directly in memory. The pointer must not escape `body`. Inlinable, so every caller
    /// gets a specialized copy (no generic metadata lookup per access).
    @inlinable
    public func withBytes<R, E: Error>(_ pa: PA, count: Int, world: World,
                                      _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(PhysicalAccessError<E>) -> R {
        let p: UnsafeMutableRawPointer, cache: Unmanaged<RegionCache>
        do { (p, cache) = try resolve(pa, count, world) } catch { throw .memory(error) }
        // Sound: range checked by resolve; the cache holds the region while body runs (body may
        // look other regions up: the hold keeps every entry until it ends); body must not escape
        // the pointer.
        cache._withUnsafeGuaranteedRef { $0.holds += 1 }
        defer { cache._withUnsafeGuaranteedRef { $0.holds -= 1 } }
        do { return try body(UnsafeMutableRawBufferPointer(start: p, count: count)) } catch { throw .body(error) }
    }

    /// A view of this memory from one world.
    public func view(_ world: World) -> MemoryView { MemoryView(memory: self, world: world) }
}

/// A thread's few most recently used regions, tagged with the address space and its generation.
/// Only its own thread touches it (pthread-specific data), so it needs no lock. Its entries are
/// what keeps a region alive during an access (the accesses take no reference of their own), so
/// no entry leaves while an access on this thread holds the cache (`holds` > 0).
@usableFromInline
final class RegionCache: @unchecked Sendable {
    // @unchecked: reached only through the calling thread's pthread-specific slot.
    private struct Entry {
        var base: UInt64, end: UInt64, memory: UInt64, generation: UInt64
        var region: Region
    }
    // Unchecked exclusivity: sound because the cache is reached only by its own thread (its
    // pthread-specific slot) and every access to it is one read or one modify with no callback inside.
    @exclusivity(unchecked) private var entries: [Entry] = []
    private static let capacity = 4
    /// Accesses on this thread under way that run a body (`withBytes`): while above 0, `insert`
    /// adds without dropping anything, so every region an access resolved stays alive.
    @usableFromInline @exclusivity(unchecked) var holds = 0

    /// The region of `memory` at `generation` covering `pa`, unretained (the entry holds it).
    /// Entries stay where they are: a call alternates between a few regions (guest RAM,
    /// mediator pages, secure RAM).
    @inline(__always)
    func lookup(_ memory: UInt64, _ generation: UInt64, _ pa: PA) -> Unmanaged<Region>? {
        let a = pa.raw
        return entries.withUnsafeBufferPointer { e -> Unmanaged<Region>? in
            for i in e.indices where e[i].base <= a && a < e[i].end && e[i].memory == memory && e[i].generation == generation {
                return Unmanaged.passUnretained(e[i].region)
            }
            return nil
        }
    }

    /// Remembers `region` in front, dropping the least recently used entry when full (stale
    /// generations of `memory` go first); drops nothing while an access holds the cache.
    func insert(_ memory: UInt64, _ generation: UInt64, _ region: Region) {
        if holds == 0 {
            entries.removeAll { $0.memory == memory && $0.generation != generation }
            while entries.count >= Self.capacity { entries.removeLast() }
        }
        entries.insert(Entry(base: region.basePA.raw, end: region.endPA.raw, memory: memory, generation: generation, region: region), at: 0)
    }

    /// The key whose destructor releases the thread's cache at thread exit (and clears the
    /// thread-local slot the call path reads, so nothing reaches the released cache after it).
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        // Sound: the key's value is only ever a retained RegionCache (see `makeCurrent`).
        _ = pthread_key_create(&k) { p in
            vtee_region_cache_set(nil)
            if let p { Unmanaged<RegionCache>.fromOpaque(p).release() }
        }
        return k
    }()

    /// This thread's cache, created on first use; unretained (the thread's key holds it until
    /// the thread exits). Read from a C11 thread-local slot: one TLS load per memory access.
    @inline(__always)
    static var currentUnretained: Unmanaged<RegionCache> {
        // Sound: the slot holds nil or the retained RegionCache `makeCurrent` stored, cleared
        // before the key's destructor releases it.
        if let p = vtee_region_cache_get() { return Unmanaged<RegionCache>.fromOpaque(p) }
        return makeCurrent()
    }

    /// Makes this thread's cache: retained by the thread's key, named by its thread-local slot.
    @inline(never)
    private static func makeCurrent() -> Unmanaged<RegionCache> {
        let c = Unmanaged.passRetained(RegionCache())
        _ = pthread_setspecific(key, c.toOpaque())
        vtee_region_cache_set(c.toOpaque())
        return c
    }
}

/// Failure of `withBytes`: the memory access or the body.
public enum PhysicalAccessError<E: Error>: Error {
    case memory(MemoryError)
    case body(E)
}

/// Physical memory as seen from one world: the secure world gets `.secure`, the hypervisor `.nonSecure`.
public struct MemoryView: Sendable {
    /// The memory viewed.
    public let memory: PhysicalMemory
    /// The world the accesses come from.
    public let world: World
    /// Reads `count` bytes at `pa`.
    public func read(_ pa: PA, count: Int) throws(MemoryError) -> [UInt8] { try memory.read(pa, count: count, world: world) }
    /// Copies into `buffer` from `pa`.
    public func read(_ pa: PA, into buffer: UnsafeMutableRawBufferPointer) throws(MemoryError) { try memory.read(pa, into: buffer, world: world) }
    /// Writes `bytes` at `pa`.
    public func write(_ pa: PA, _ bytes: [UInt8]) throws(MemoryError) { try memory.write(pa, bytes, world: world) }
    /// Copies `bytes` to `pa`.
    public func write(_ pa: PA, from bytes: UnsafeRawBufferPointer) throws(MemoryError) { try memory.write(pa, from: bytes, world: world) }
    /// Zeroes `count` bytes at `pa`.
    public func zero(_ pa: PA, count: Int) throws(MemoryError) { try memory.zero(pa, count: count, world: world) }
}

/// Hands out whole pages of one region (hypervisor or secure RAM).
public final class PageAllocator: Sendable {
    /// The region whose pages it hands out.
    public let region: Region
    private let free: Mutex<[UInt64]>   // page numbers, LIFO

    /// An allocator over every page of `region`.
    public init(region: Region) {
        self.region = region
        let first = region.basePA.page.number
        free = Mutex((0..<UInt64(region.pages)).reversed().map { first + $0 })
    }

    /// One zeroed page, or `.exhausted`.
    public func allocate() throws(MemoryError) -> PAPage {
        guard let n = free.withLock({ $0.popLast() }) else { throw .exhausted }
        let pg = PAPage(n)
        // Sound: the page is inside `region` (it came from its free list).
        if let p = region.pointer(pg.address, pageSize) { memset(p, 0, pageSize) }
        return pg
    }

    /// Returns a page; pages not of this region are ignored.
    public func release(_ page: PAPage) {
        guard region.pointer(page.address, pageSize) != nil else { return }
        free.withLock { $0.append(page.number) }
    }

    /// Pages still free.
    public var freePages: Int { free.withLock { $0.count } }
}
