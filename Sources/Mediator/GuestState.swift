/// Per-guest mediator state: calls, sessions, shared buffers, RPC buffers, pins and the
/// mediator pages used for the guest, plus the helpers that acquire and release them.
import Machine
import TEEABI

/// A guest page the mediator pinned, with the IPA it was reached by (for write-back checks).
struct PinnedPage: Sendable, Equatable {
    var ipa: IPAPage
    var pa: PAPage
}

/// A shared buffer whose page list was rebuilt in mediator memory with every page pinned.
struct SharedBuffer: Sendable {
    var cookie: UInt64
    var pages: [PinnedPage]
    var listPages: [PAPage]
    var offset: UInt64
    var size: UInt64
    /// tmem.buf_ptr for the secure world: the first list page's PA | offset in the first data page.
    var securePointer: UInt64 { listPages.first.map { $0.address.raw | offset } ?? 0 }

    /// The guest IPA of secure-side physical address `pa` inside this buffer, if it lies in it.
    func ipa(ofSecure pa: PA) -> IPA? {
        for p in pages where p.pa == pa.page { return IPA(p.ipa.address.raw | UInt64(pa.pageOffset)) }
        return nil
    }
}

/// A buffer the secure world got through RPC_ALLOC: the guest's page (pinned) and the mediator
/// shadow the secure world actually uses; contents are copied both ways at RPC_CMD.
struct RPCArgBuffer: Sendable {
    var cookie: UInt64
    var page: PinnedPage
    var shadow: PAPage
    var size: Int
}

/// Where a call's argument lives in guest memory: a page the call pinned for itself (also for
/// CALL_WITH_REGD_ARG, so an UNREGISTER racing with the call cannot unpin it), and an offset in it.
struct ArgLocation: Sendable {
    var page: PinnedPage
    var offset: Int
    var available: Int
}

/// One std call of a guest, from the first SMC until completion.
struct CallRecord: Sendable {
    let id: UInt64
    var vcpu: Int
    var inFlight: Bool
    var threadID: UInt64?
    var cmd: MsgCommand
    var location: ArgLocation
    var privatePage: PAPage
    var numParams: Int
    /// Param attributes of the validated copy: copy-back follows these, not the guest's memory.
    var paramAttrs: [MsgAttr] = []
    var tempBuffers: [SharedBuffer] = []
    var registering: SharedBuffer?
    var unregistering: UInt64?
    var opening = false
    var closing: UInt32?
    /// The RPC the guest is serving, and the secure registers to restore on resume.
    var pendingRPC: RPCFunction?
    var savedA4: UInt64 = 0, savedA5: UInt64 = 0, savedA6: UInt64 = 0
    var rpcAllocSize: UInt64 = 0
    var rpcCmdCookie: UInt64?
}

/// Everything the mediator holds for one guest. Guarded by the guest's own slot lock.
struct GuestRecord: Sendable {
    let space: GuestAddressSpace
    var dying = false
    var calls: [CallRecord] = []
    var sessions: Set<UInt32> = []
    var openingSessions = 0
    var shm: [UInt64: SharedBuffer] = [:]
    var shmPending: Set<UInt64> = []
    var rpcShm: [UInt64: SharedBuffer] = [:]
    var rpcArgs: [UInt64: RPCArgBuffer] = [:]
    var pinned = 0
    var mediatorPages = 0
    var deferredPages: [PAPage] = []
    /// A few free mediator pages kept per guest, so the call path does not take the shared
    /// allocator's lock (returned to it when the guest is destroyed).
    var pageCache: [PAPage] = []
    var rpcCounts: [String: Int] = [:]
    var refused = 0
    /// Who the guest is, as the host knows it: decides the client identity of every OPEN_SESSION.
    let identity: ClientIdentityPolicy?

    init(space: GuestAddressSpace, identity: ClientIdentityPolicy? = nil) { self.space = space; self.identity = identity }

    /// True when `cookie` already names a buffer of this guest (registered, pending or RPC).
    func cookieInUse(_ cookie: UInt64) -> Bool {
        shm[cookie] != nil || shmPending.contains(cookie) || rpcShm[cookie] != nil || rpcArgs[cookie] != nil
    }

    /// The call suspended in an RPC on secure thread `thread`. Only a suspended call matches: a
    /// call that resumed keeps its last thread id, and the secure world may already have given
    /// that thread to another call while this one completes (issue 13's stale lookup).
    func callIndex(thread: UInt64) -> Int? { calls.firstIndex { $0.threadID == thread && !$0.inFlight && $0.pendingRPC != nil } }
    func callIndex(id: UInt64) -> Int? { calls.firstIndex { $0.id == id } }
}

/// A refusal of an argument's content: the call completes with this ret and origin COMMS
/// without reaching the secure world.
enum ArgRefusal: Error, Sendable, CustomStringConvertible {
    /// A parameter is malformed (bad attribute, plain tmem, overflow, bad page list, unknown cookie or session).
    case badParameter(String)
    /// A per-guest limit was reached.
    case limit(String)
    /// The mediator's own memory ran out.
    case noMemory(String)
    /// The host refuses this login for this guest.
    case accessDenied(String)

    var result: TEEResult {
        switch self {
        case .badParameter: .badParameters
        case .limit, .noMemory: .outOfMemory
        case .accessDenied: .accessDenied
        }
    }
    var description: String {
        switch self {
        case let .badParameter(s): "bad parameter: \(s)"
        case let .limit(s): "limit: \(s)"
        case let .noMemory(s): "mediator memory: \(s)"
        case let .accessDenied(s): "access denied: \(s)"
        }
    }
}

/// A refusal of the SMC itself, answered with an OPTEE_SMC_RETURN_* code.
enum CallRefusal: Error, Sendable, CustomStringConvertible {
    case badAddress(String)
    case badCommand(UInt32)
    case threadLimit
    case guestGone
    case noMemory

    var code: SMCReturn {
        switch self {
        case .badAddress: .ebadaddr
        case .badCommand: .ebadcmd
        case .threadLimit: .ethreadLimit
        case .guestGone: .enotavail
        case .noMemory: .enomem
        }
    }
    var description: String {
        switch self {
        case let .badAddress(s): "bad address: \(s)"
        case let .badCommand(c): "command not allowed: \(c)"
        case .threadLimit: "calls in flight limit"
        case .guestGone: "guest gone"
        case .noMemory: "mediator memory exhausted"
        }
    }
}

extension Mediator {
    /// Free pages a guest keeps for its next calls.
    static let pageCacheSize = 4

    // MARK: - Mediator pages

    /// One zeroed mediator page charged to the guest.
    func allocatePage(_ r: inout GuestRecord) throws(ArgRefusal) -> PAPage {
        guard r.mediatorPages < config.mediatorPagesPerGuest else { throw .limit("mediator pages") }
        if let p = r.pageCache.popLast() {
            guard (try? memory.zero(p.address, count: pageSize, world: .nonSecure)) != nil else {
                allocator.release(p)
                throw .noMemory("page cache")
            }
            r.mediatorPages += 1
            return p
        }
        // Pages in use, cached and awaiting VM_DESTROYED all count against the guest's reservation.
        guard r.mediatorPages + r.pageCache.count + r.deferredPages.count < config.mediatorPagesPerGuest else {
            throw .limit("mediator pages")
        }
        do {
            let p = try allocator.allocate()
            r.mediatorPages += 1
            return p
        } catch { throw .noMemory("allocator exhausted") }
    }

    /// Returns a mediator page; with `deferPages` it is kept until VM_DESTROYED has been sent.
    func freePage(_ r: inout GuestRecord, _ p: PAPage, deferPages: Bool) {
        r.mediatorPages -= 1
        if deferPages { r.deferredPages.append(p) }
        else if r.pageCache.count < Self.pageCacheSize && !r.dying { r.pageCache.append(p) }
        else { allocator.release(p) }
    }

    // MARK: - Pins

    /// Pins a guest page read-write RAM, charged to the guest's pin limit.
    func pin(_ r: inout GuestRecord, _ page: IPAPage) throws(ArgRefusal) -> PinnedPage {
        guard r.pinned < config.pinnedPages else { throw .limit("pinned pages") }
        do {
            let pa = try r.space.pin(page, writable: true)
            r.pinned += 1
            return PinnedPage(ipa: page, pa: pa)
        } catch { throw .badParameter("page \(page): \(error)") }
    }

    func unpin(_ r: inout GuestRecord, _ p: PinnedPage) {
        do { try r.space.unpin(p.pa); r.pinned -= 1 } catch {
            log.debug("unpin of an unpinned page", metadata: ["page": "\(p.pa)"])
        }
    }

    // MARK: - Release

    func releaseBuffer(_ r: inout GuestRecord, _ b: SharedBuffer, deferPages: Bool) {
        for p in b.pages { unpin(&r, p) }
        for l in b.listPages { freePage(&r, l, deferPages: deferPages) }
    }

    func releaseRPCArg(_ r: inout GuestRecord, _ b: RPCArgBuffer, deferPages: Bool) {
        unpin(&r, b.page)
        freePage(&r, b.shadow, deferPages: deferPages)
    }

    /// Releases what a call holds: its temporary buffers, a registration that did not complete,
    /// its argument pin and its private copy.
    func releaseCall(_ r: inout GuestRecord, _ c: CallRecord, deferPages: Bool) {
        for b in c.tempBuffers { releaseBuffer(&r, b, deferPages: deferPages) }
        if let b = c.registering {
            releaseBuffer(&r, b, deferPages: deferPages)
            r.shmPending.remove(b.cookie)
        }
        if c.opening { r.openingSessions -= 1 }
        unpin(&r, c.location.page)
        freePage(&r, c.privatePage, deferPages: deferPages)
    }

    // MARK: - Guest memory

    /// Writes `bytes` to a pinned guest page at `offset`, only if the page is still mapped
    /// read-write RAM with the same backing. Returns false (and counts) otherwise.
    @discardableResult
    func writeGuest(_ r: inout GuestRecord, _ page: PinnedPage, offset: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard offset >= 0, offset + bytes.count <= pageSize, r.space.isWritable(page.ipa, backedBy: page.pa),
              let pa = page.pa.address.adding(UInt64(offset)) else {
            counters.bump(.copyBackRefused)
            return false
        }
        do { try memory.write(pa, from: bytes, world: .nonSecure); return true } catch {
            counters.bump(.copyBackRefused)
            return false
        }
    }

    /// Writes a little-endian integer to a pinned guest page (see `writeGuest`).
    @discardableResult
    func writeGuest<T: FixedWidthInteger>(_ r: inout GuestRecord, _ page: PinnedPage, offset: Int, value: T) -> Bool {
        withUnsafeBytes(of: value.littleEndian) { writeGuest(&r, page, offset: offset, $0) }
    }

    // MARK: - Page lists

    /// Translates a guest non-contiguous buffer (tmem.buf_ptr = IPA of the first list page |
    /// offset) into a page list rebuilt in mediator memory, pinning every data page read-write.
    /// Each list page is copied once; the walk is bounded by the page count the size implies,
    /// and a list that revisits a page is refused.
    func translatePageList(_ r: inout GuestRecord, bufPtr: UInt64, size: UInt64, cookie: UInt64) throws(ArgRefusal) -> SharedBuffer {
        let offset = bufPtr & PageList.offsetMask
        let count: Int
        do { count = try PageList.pageCount(offset: offset, size: size) } catch { throw .badParameter("size overflow") }
        guard size > 0, count > 0 else { throw .badParameter("empty non-contiguous buffer") }
        guard count <= config.pagesPerBuffer else { throw .limit("\(count) pages > \(config.pagesPerBuffer) per buffer") }
        guard r.pinned + count <= config.pinnedPages else { throw .limit("pinned pages") }
        var buffer = SharedBuffer(cookie: cookie, pages: [], listPages: [], offset: offset, size: size)
        buffer.pages.reserveCapacity(count)
        do throws(ArgRefusal) {
            var listIPA = IPA(bufPtr & ~PageList.offsetMask)
            var visited: Set<UInt64> = []
            var remaining = count
            var listBytes = [UInt8](repeating: 0, count: PageList.pageSize)
            while remaining > 0 {
                guard listIPA.isPageAligned else { throw ArgRefusal.badParameter("list page not aligned") }
                guard visited.insert(listIPA.raw).inserted else { throw ArgRefusal.badParameter("page list loops") }
                let listPA: PA
                do { listPA = try r.space.translate(listIPA) } catch { throw ArgRefusal.badParameter("list page: \(error)") }
                // Copy the list page once; only the copy is used.
                let readOK: Bool = listBytes.withUnsafeMutableBytes { b in
                    (try? memory.read(listPA, into: b, world: .nonSecure)) != nil
                }
                guard readOK else { throw ArgRefusal.badParameter("list page unreadable") }
                let n = min(remaining, PageList.entriesPerPage)
                let decoded: PageList.Page? = listBytes.withUnsafeBytes { try? PageList.Page.decode($0, count: n) }
                guard let page = decoded else { throw ArgRefusal.badParameter("list page") }
                for e in page.entries {
                    let ipa = IPA(e)
                    guard ipa.isPageAligned else { throw ArgRefusal.badParameter("data page not aligned") }
                    buffer.pages.append(try pin(&r, ipa.page))
                }
                remaining -= n
                listIPA = IPA(page.next)
            }
            // Rebuild the list in mediator pages, with PAs.
            let lists = PageList.listPages(for: count)
            for _ in 0..<lists { buffer.listPages.append(try allocatePage(&r)) }
            for j in 0..<lists {
                let lo = j * PageList.entriesPerPage
                let hi = min(count, lo + PageList.entriesPerPage)
                let entries = buffer.pages[lo..<hi].map { $0.pa.address.raw }
                let next = j + 1 < lists ? buffer.listPages[j + 1].address.raw : 0
                let bytes = PageList.Page(entries: entries, next: next).encoded()
                do { try memory.write(buffer.listPages[j].address, bytes, world: .nonSecure) }
                catch { throw ArgRefusal.noMemory("list write") }
            }
            return buffer
        } catch {
            releaseBuffer(&r, buffer, deferPages: false)
            throw error
        }
    }
}
