// Normal-world memory as the secure world reaches it: buffers named by PA (contiguous or
// through a NONCONTIG page list), checked to lie in non-secure RAM before any access.
import TAAPI
import TEEABI
import Machine

/// Bytes of normal-world memory the secure world may touch: a list of PA segments.
///
/// Every access goes through the non-secure memory view, so a buffer that names secure RAM
/// fails like a TZASC fault would, instead of letting a caller make the core write its own memory.
struct NSBuffer: Sendable {
    /// One contiguous piece of a buffer.
    struct Segment: Sendable { let pa: PA; let count: Int }

    /// A one-piece buffer (an argument, a one-page memref) inline: nothing to allocate, and a
    /// copy counts no reference; otherwise the pieces and their total. (24 bytes: the buffers a
    /// thread's call record keeps stay small for idle guests.)
    fileprivate enum Pieces: Sendable {
        case one(Segment)
        case many([Segment], size: Int)
    }
    private let pieces: Pieces

    /// Total size in bytes.
    var size: Int {
        switch pieces {
        case let .one(s): s.count
        case let .many(_, n): n
        }
    }

    /// (start PA, byte count) pieces in buffer order.
    struct Segments: RandomAccessCollection {
        fileprivate let pieces: Pieces
        var startIndex: Int { 0 }
        var endIndex: Int {
            switch pieces {
            case .one: 1
            case let .many(a, _): a.count
            }
        }
        subscript(i: Int) -> Segment {
            switch pieces {
            case let .one(s): s
            case let .many(a, _): a[i]
            }
        }
    }
    var segments: Segments { Segments(pieces: pieces) }

    /// A buffer of `count` bytes starting at `pa`, in one piece.
    init(pa: PA, count: Int) { pieces = .one(Segment(pa: pa, count: count)) }

    init(segments: [Segment]) {
        if segments.count == 1, let s = segments.first { pieces = .one(s) } else {
            pieces = .many(segments, size: segments.reduce(0) { $0 + $1.count })
        }
    }

    /// Reads `count` bytes at `offset`; BAD_PARAMETERS when out of bounds or unreachable.
    func read(_ memory: MemoryView, offset: Int, count: Int) throws(TEEResult) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else { throw .badParameters }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        try walk(offset: offset, count: count) { (pa, n) throws(TEEResult) in
            do { out += try memory.read(pa, count: n) } catch { throw .badParameters }
        }
        return out
    }

    /// Writes `bytes` at `offset`; BAD_PARAMETERS when out of bounds or unreachable.
    func write(_ memory: MemoryView, offset: Int, _ bytes: [UInt8]) throws(TEEResult) {
        guard offset >= 0, offset <= size, bytes.count <= size - offset else { throw .badParameters }
        var done = 0
        try walk(offset: offset, count: bytes.count) { (pa, n) throws(TEEResult) in
            do { try memory.write(pa, Array(bytes[done..<done + n])) } catch { throw .badParameters }
            done += n
        }
    }

    /// Copies `into.count` bytes at `offset` into `into`; BAD_PARAMETERS when out of bounds or
    /// unreachable.
    func read(_ memory: MemoryView, offset: Int, into: UnsafeMutableRawBufferPointer) throws(TEEResult) {
        guard offset >= 0, offset <= size, into.count <= size - offset else { throw .badParameters }
        var done = 0
        try walk(offset: offset, count: into.count) { (pa, n) throws(TEEResult) in
            // Sound: done + n <= into.count, since the pieces add up to into.count.
            do { try memory.read(pa, into: UnsafeMutableRawBufferPointer(rebasing: into[done..<done + n])) } catch { throw .badParameters }
            done += n
        }
    }

    /// Copies `from` into the buffer at `offset`; BAD_PARAMETERS when out of bounds or unreachable.
    func write(_ memory: MemoryView, offset: Int, from: UnsafeRawBufferPointer) throws(TEEResult) {
        guard offset >= 0, offset <= size, from.count <= size - offset else { throw .badParameters }
        var done = 0
        try walk(offset: offset, count: from.count) { (pa, n) throws(TEEResult) in
            // Sound: done + n <= from.count, since the pieces add up to from.count.
            do { try memory.write(pa, from: UnsafeRawBufferPointer(rebasing: from[done..<done + n])) } catch { throw .badParameters }
            done += n
        }
    }

    /// Calls `body` with (PA, length) for each piece of [offset, offset + count).
    private func walk(offset: Int, count: Int, _ body: (PA, Int) throws(TEEResult) -> Void) throws(TEEResult) {
        var skip = offset, left = count
        for s in segments where left > 0 {
            if skip >= s.count { skip -= s.count; continue }
            let n = min(s.count - skip, left)
            guard let pa = s.pa.adding(UInt64(skip)) else { throw .badParameters }
            try body(pa, n)
            left -= n; skip = 0
        }
    }

    /// The PA of byte `offset` (for RPC params that name a buffer by address).
    func address(at offset: Int) -> PA? {
        var skip = offset
        for s in segments {
            if skip < s.count { return s.pa.adding(UInt64(skip)) }
            skip -= s.count
        }
        return nil
    }

    /// A sub-range of this buffer.
    func slice(offset: Int, count: Int) -> NSBuffer? {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else { return nil }
        var out: [Segment] = []
        var skip = offset, left = count
        for s in segments where left > 0 {
            if skip >= s.count { skip -= s.count; continue }
            let n = min(s.count - skip, left)
            guard let pa = s.pa.adding(UInt64(skip)) else { return nil }
            out.append(Segment(pa: pa, count: n))
            left -= n; skip = 0
        }
        if count == 0, let a = address(at: offset) ?? segments.first?.pa { out = [Segment(pa: a, count: 0)] }
        return NSBuffer(segments: out)
    }
}

/// Checks that normal-world memory is what it claims to be.
struct NSMemory: Sendable {
    let memory: PhysicalMemory
    /// The non-secure view every shared-buffer access goes through.
    var view: MemoryView { memory.view(.nonSecure) }

    /// True when [pa, pa + count) lies wholly inside one non-secure region.
    func isNonSecure(_ pa: PA, count: Int) -> Bool {
        guard let kind = memory.kindOfRange(pa, count: count) else { return false }
        return !kind.isSecure
    }

    /// A contiguous buffer after checking it is non-secure RAM.
    func contiguous(_ pa: PA, count: Int) -> NSBuffer? {
        isNonSecure(pa, count: count) ? NSBuffer(pa: pa, count: count) : nil
    }

    /// Walks a NONCONTIG page list: `bufPtr` = list PA | offset in the first data page, `size`
    /// bytes of data. Every list page and data page must be page aligned non-secure RAM; the chain
    /// is followed only as far as `size` needs, and a list page seen twice is a loop.
    /// Errors: BAD_PARAMETERS (OP-TEE's answer for every malformed list), OUT_OF_MEMORY past `maxPages`.
    func walkPageList(bufPtr: UInt64, size: UInt64, maxPages: Int) throws(TEEResult) -> NSBuffer {
        let offset = Int(bufPtr & PageList.offsetMask)
        guard size > 0 else { throw .badParameters }
        let pages: Int
        do { pages = try PageList.pageCount(offset: UInt64(offset), size: size) } catch { throw .badParameters }
        guard pages <= maxPages else { throw .outOfMemory }
        // A one-page buffer is one inline piece; only a longer one makes an array.
        var one: NSBuffer.Segment? = nil
        var segs: [NSBuffer.Segment] = []
        if pages > 1 { segs.reserveCapacity(pages) }
        var left = Int(size)
        let view = self.view
        do {
            // TEEABI walks the list (bounds, loops, alignment); this layer says what is reachable:
            // list and data pages must be non-secure RAM.
            try PageList.walk(first: bufPtr & ~PageList.offsetMask, pageCount: pages, maxPages: maxPages,
                              readListPage: { (address, scratch) throws(TEEResult) in
                                  let pa = PA(address)
                                  guard pa.raw != 0, isNonSecure(pa, count: PageList.pageSize) else { throw .badParameters }
                                  do { try view.read(pa, into: scratch) } catch { throw .badParameters }
                              },
                              visit: { (i, address) throws(TEEResult) in
                                  let p = PA(address)
                                  guard p.raw != 0, isNonSecure(p, count: pageSize) else { throw .badParameters }
                                  let start = i == 0 ? offset : 0
                                  let n = min(pageSize - start, left)
                                  let s = NSBuffer.Segment(pa: PA(p.raw + UInt64(start)), count: n)
                                  if pages == 1 { one = s } else { segs.append(s) }
                                  left -= n
                              })
        } catch {
            if case .tooLong = error { throw .outOfMemory }
            throw .badParameters
        }
        if let one { return NSBuffer(pa: one.pa, count: one.count) }
        return NSBuffer(segments: segs)
    }
}
