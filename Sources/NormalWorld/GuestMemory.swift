/// Guest RAM as the driver manages it: a page allocator over the guest's RAM pages,
/// contiguous IPA buffers, shared-memory handles and the page lists that describe them.
import Machine
import Synchronization
import TEEABI

/// A run of contiguous guest pages, by IPA.
public struct GuestBuffer: Hashable, Sendable {
    /// First byte (page aligned).
    public let base: IPA
    /// Number of pages.
    public let pages: Int
    /// Size in bytes.
    public var byteCount: Int { pages * pageSize }
    /// IPA of page `i` of the run.
    public func page(_ i: Int) -> IPAPage { IPAPage(base.page.number + UInt64(i)) }
}

/// First-fit allocator of contiguous pages from a guest's RAM (the guest kernel's page allocator).
public final class GuestPageAllocator: Sendable {
    /// The guest whose RAM this allocates.
    public let space: GuestAddressSpace
    /// RAM page indices handed out.
    public let range: Range<Int>
    private struct State { var used: [Bool]; var hint = 0; var free: Int }
    private let state: Mutex<State>

    /// An allocator over RAM pages `range` (default: all of the guest's RAM).
    public init(space: GuestAddressSpace, range: Range<Int>? = nil) {
        let r = (range ?? 0..<space.ramPages).clamped(to: 0..<space.ramPages)
        self.space = space; self.range = r
        state = Mutex(State(used: [Bool](repeating: false, count: r.count), free: r.count))
    }

    /// Pages still free.
    public var freePages: Int { state.withLock { $0.free } }

    /// `n` contiguous pages, zeroed unless `zeroed` is false (pages the caller overwrites before
    /// anyone reads them), or `.outOfMemory`.
    public func allocate(pages n: Int, zeroed: Bool = true) throws(DriverError) -> GuestBuffer {
        guard n > 0, n <= range.count else { throw .outOfMemory }
        let start: Int? = state.withLock { s in
            guard s.free >= n else { return nil }
            let total = s.used.count
            var tried = 0, i = s.hint % max(total, 1)
            while tried < total {
                if i + n > total { tried += total - i; i = 0; continue }
                if let busy = (i..<i + n).last(where: { s.used[$0] }) {
                    tried += busy + 1 - i; i = busy + 1; continue
                }
                for j in i..<i + n { s.used[j] = true }
                s.free -= n; s.hint = i + n
                return i
            }
            return nil
        }
        guard let start else { throw .outOfMemory }
        let buf = GuestBuffer(base: space.ramPage(range.lowerBound + start).address, pages: n)
        if zeroed {
            for k in 0..<n {
                do { try space.withBytes(buf.page(k).address, count: pageSize) { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
                catch { free(buf); throw .outOfMemory }
            }
        }
        return buf
    }

    /// Enough pages for `bytes` bytes (at least one).
    public func allocate(bytes: Int) throws(DriverError) -> GuestBuffer {
        try allocate(pages: max(1, (max(bytes, 0) + pageSize - 1) / pageSize))
    }

    /// Returns a run; pages outside this allocator or already free are ignored.
    public func free(_ b: GuestBuffer) {
        let first = Int(truncatingIfNeeded: b.base.page.number &- space.ramPage(range.lowerBound).number)
        state.withLock { s in
            for j in first..<first + b.pages where j >= 0 && j < s.used.count && s.used[j] {
                s.used[j] = false; s.free += 1
            }
        }
    }
}

/// Who a piece of shared memory belongs to, as Linux's tee_shm flags tell.
public enum SharedMemoryKind: Sendable, Hashable {
    /// A client's buffer (allocated or registered through TEEClient), registered with the secure world.
    case client
    /// Driver memory for the secure world (RPC ALLOC, SHM_ALLOC of kernel/global type).
    case kernel
    /// Supplicant memory (SHM_ALLOC of application type), not registered.
    case supplicant
}

/// A piece of shared memory the driver knows, named by its id (also its cookie / shm_ref).
public struct SharedMemoryHandle: Hashable, Sendable {
    /// Id and cookie (`shm_ref`) of the memory.
    public let id: UInt64
    /// First byte, by IPA.
    public let address: IPA
    /// Usable size in bytes.
    public let size: Int
    /// Owner.
    public let kind: SharedMemoryKind
    /// Whether the secure world knows it through REGISTER_SHM (client params then go as RMEM).
    public let registered: Bool
}

/// Builds OPTEE_MSG_ATTR_NONCONTIG page lists in guest RAM, in place through `PageList.PageView`.
enum PageListBuilder {
    /// Data pages `size` bytes at `address` span (at least one).
    static func pageCount(address: IPA, size: Int) -> Int {
        max(1, (address.pageOffset + max(size, 0) + pageSize - 1) / pageSize)
    }

    /// Writes the list naming every data page of `size` bytes at `address` into fresh pages;
    /// returns the list run and the tmem buf_ptr (list IPA | offset of the data in its first page).
    static func build(address: IPA, size: Int, allocator: GuestPageAllocator) throws(DriverError) -> (GuestBuffer, UInt64) {
        let entries = pageCount(address: address, size: size)
        let listPages = max(1, PageList.listPages(for: entries))
        let run = try allocator.allocate(pages: listPages, zeroed: false)
        let first = address.page.address.raw
        for p in 0..<listPages {
            let next: UInt64 = p + 1 < listPages ? run.page(p + 1).address.raw : 0
            let from = p * PageList.entriesPerPage, to = min(entries, from + PageList.entriesPerPage)
            do {
                try allocator.space.withBytes(run.page(p).address, count: pageSize) { (b) throws(ABIError) in
                    let view = try PageList.PageView(b)
                    for i in 0..<PageList.entriesPerPage {
                        view.setEntry(i, from + i < to ? first + UInt64((from + i) * pageSize) : 0)
                    }
                    view.next = next
                }
            } catch {
                allocator.free(run); throw .communication
            }
        }
        return (run, run.base.raw | (UInt64(address.pageOffset) & PageList.offsetMask))
    }
}
