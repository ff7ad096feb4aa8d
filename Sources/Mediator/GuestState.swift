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
    var securePointer: PA { listPages.first?.address.adding(offset) ?? PA(0) }

    /// What the mediator wrote in list page `j` of this buffer (entries for `pages`, and the next
    /// pointer): what must be cleared before the page is handed out again.
    func listPageContent(_ j: Int) -> CachedPage.Content {
        .list(entries: max(0, min(PageList.entriesPerPage, pages.count - j * PageList.entriesPerPage)))
    }

    /// The guest IPA of secure-side physical address `pa` inside this buffer, if it lies in it.
    func ipa(ofSecure pa: PA) -> IPA? {
        for p in pages where p.pa == pa.page { return IPA(p.ipa.address.raw | UInt64(pa.pageOffset)) }
        return nil
    }
}

/// A free mediator page a guest keeps for its next calls, with what may be left in it.
struct CachedPage: Sendable {
    /// Bytes a page may hold from its last use (the rest is zero).
    enum Content: Sendable {
        /// Anything (the secure world wrote it, or its use is not tracked).
        case whole
        /// A page list the mediator wrote: `entries` addresses from the start, and the next pointer.
        case list(entries: Int)
    }
    var page: PAPage
    var content: Content
}

/// The emptied arrays of temporary buffers (a call's list of buffers, a buffer's pinned pages and
/// list pages), kept by the guest's record after a call is reaped so the next call's memrefs
/// reuse their storage instead of allocating three arrays each. Only storage is reused: every
/// array handed out is empty. A few of each are kept.
struct SpareArrays: Sendable {
    private var temps: [[SharedBuffer]] = []
    private var pages: [[PinnedPage]] = []
    private var lists: [[PAPage]] = []
    /// Most arrays of each kind kept.
    static let limit = 8

    /// An empty array for a call's temporary buffers.
    mutating func takeTemps() -> [SharedBuffer] { temps.popLast() ?? [] }
    /// An empty array for a buffer's pinned pages.
    mutating func takePages() -> [PinnedPage] { pages.popLast() ?? [] }
    /// An empty array for a buffer's list pages.
    mutating func takeLists() -> [PAPage] { lists.popLast() ?? [] }

    /// Keeps the storage of a reaped call's temporary buffers (their pins and pages already
    /// released); arrays with no storage or beyond the limit are dropped.
    mutating func give(_ buffers: consuming [SharedBuffer]) {
        var all = consume buffers
        for i in all.indices {
            var p: [PinnedPage] = []; swap(&p, &all[i].pages)
            if p.capacity > 0 && pages.count < Self.limit { p.removeAll(keepingCapacity: true); pages.append(p) }
            var l: [PAPage] = []; swap(&l, &all[i].listPages)
            if l.capacity > 0 && lists.count < Self.limit { l.removeAll(keepingCapacity: true); lists.append(l) }
        }
        if all.capacity > 0 && temps.count < Self.limit { all.removeAll(keepingCapacity: true); temps.append(all) }
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

/// A set of param indices (0..<128, OPTEE_MSG_MAX_NUM_PARAMS is 127), stored inline so a call
/// record allocates nothing.
struct ParamSet: Sendable, Equatable {
    private var low: UInt64 = 0, high: UInt64 = 0
    /// Adds index `i`.
    mutating func insert(_ i: Int) {
        if i < 64 { low |= 1 << UInt64(i) } else if i < 128 { high |= 1 << UInt64(i - 64) }
    }
    /// True when `i` is in the set.
    func contains(_ i: Int) -> Bool {
        i < 64 ? low & (1 << UInt64(i)) != 0 : (i < 128 && high & (1 << UInt64(i - 64)) != 0)
    }
    /// True when no index is in the set.
    var isEmpty: Bool { low == 0 && high == 0 }
}

/// One std call of a guest, from the first SMC until completion.
struct CallRecord: Sendable {
    let id: UInt64
    var vcpu: Int
    var inFlight: Bool
    var threadID: UInt64?
    var cmd: MsgCommand
    var location: ArgLocation
    /// False once copy-back released the argument page's pin (in its stage-2 lock hold).
    var argumentPinned = true
    /// The guest's call slot this call holds, and the slot's private argument page.
    var slot: Int
    var privatePage: PAPage
    /// num_params of the private copy, and its exact size (32 + 32 n bytes).
    var numParams: Int
    var argBytes: Int
    /// Params of the validated copy whose outputs go back to the guest: values (a, b, c) and
    /// memref sizes. Decided before the secure world sees the copy; copy-back follows these,
    /// never the guest's memory.
    var valueOutputs = ParamSet()
    var sizeOutputs = ParamSet()
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

    // The call path reaches a record in its guest's `calls` array through these mutating
    // methods: one in-place access each, where passing the element to a function or reading
    // several fields one by one copied the whole record (its buffers retained and released).

    /// Records the secure world's RPC exit `out` of function `fn`: the call is suspended, with
    /// the secure thread and the registers a RETURN_FROM_RPC must restore.
    mutating func suspend(_ out: RegisterFrame, pending fn: RPCFunction) {
        inFlight = false
        threadID = out.a3
        savedA4 = out.a4; savedA5 = out.a5; savedA6 = out.a6
        pendingRPC = fn
    }

    /// RETURN_FROM_RPC toward the secure world for this call, with the secure registers it saved.
    func resumeFrame(clientID: UInt64) -> RegisterFrame {
        RegisterFrame(.returnFromRPC, a1: 0, a2: 0, a3: threadID ?? 0, a4: savedA4, a5: savedA5, a6: savedA6, a7: clientID)
    }

    /// An RPC the mediator answers itself: the call is in flight again; the frame that resumes it.
    mutating func unsuspend(clientID: UInt64) -> RegisterFrame {
        inFlight = true; pendingRPC = nil
        return resumeFrame(clientID: clientID)
    }

    /// The guest's RETURN_FROM_RPC on `vcpu`: the call is in flight again, and `sent` gets the
    /// frame that resumes it (before any reply of the RPC is folded in) and what completes it
    /// without the lock. Returns the ALLOC size the secure world asked for and the RPC_CMD
    /// argument's cookie (taken: the next RPC_CMD sets its own).
    mutating func resume(on vcpu: Int, clientID: UInt64, space: Unmanaged<GuestAddressSpace>,
                         phase: Unmanaged<CallSlotPhase>, into sent: inout PreparedCall?) -> (allocSize: UInt64, cmdCookie: UInt64?) {
        inFlight = true
        self.vcpu = vcpu
        pendingRPC = nil
        let cookie = rpcCmdCookie
        rpcCmdCookie = nil
        sent = PreparedCall(callID: id, frame: resumeFrame(clientID: clientID),
                            unlocked: UnlockedCompletion(self, space: space, phase: phase))
        return (rpcAllocSize, cookie)
    }
}

/// The RPC argument buffers of one guest (RPC_ALLOC replies), by cookie. At most
/// `MediatorConfig.rpcBuffers` of them, usually one per secure thread: a short array searched
/// in order costs less per RPC_CMD than hashing the cookie.
struct RPCArgTable: Sendable {
    /// The buffers, in no particular order.
    private(set) var buffers: [RPCArgBuffer] = []
    /// How many buffers there are.
    var count: Int { buffers.count }

    /// The buffer of `cookie`, if any; setting replaces it (nil removes it).
    subscript(cookie: UInt64) -> RPCArgBuffer? {
        get { index(of: cookie).map { buffers[$0] } }
        set {
            if let i = index(of: cookie) {
                if let newValue { buffers[i] = newValue } else { remove(at: i) }
            } else if let newValue {
                buffers.append(newValue)
            }
        }
    }

    /// Removes and returns the buffer of `cookie`, if any (one search).
    mutating func removeValue(forKey cookie: UInt64) -> RPCArgBuffer? {
        guard let i = index(of: cookie) else { return nil }
        let b = buffers[i]
        remove(at: i)
        return b
    }

    /// Where `cookie`'s buffer is. A plain loop, as `callIndex` (no generic search frame).
    private func index(of cookie: UInt64) -> Int? {
        for i in 0..<buffers.count where buffers[i].cookie == cookie { return i }
        return nil
    }

    private mutating func remove(at i: Int) {
        buffers.swapAt(i, buffers.count - 1)
        buffers.removeLast()
    }

    /// Forgets every buffer.
    mutating func removeAll() { buffers = [] }
}

/// RPCs a guest was sent, counted by kind without hashing a string on the call path: the usual
/// kinds in fixed slots, anything else (unknown functions, commands past the table) by name.
struct RPCTally: Sendable {
    /// alloc, free, foreign_intr, cmd:unknown_buffer, then cmd:<command> for commands 0 ..< 28.
    private var fixed: InlineArray<32, Int> = InlineArray(repeating: 0)
    private var other: [String: Int] = [:]
    private static let named = ["alloc", "free", "foreign_intr", "cmd:unknown_buffer"]
    private static let firstCommand = 4

    /// One RPC of function `fn` (RPC_CMD: of command `cmd`; nil when its buffer was refused).
    mutating func count(_ fn: RPCFunction, command cmd: RPCCommand? = nil) {
        switch fn {
        case .alloc: fixed[0] += 1
        case .free: fixed[1] += 1
        case .foreignInterrupt: fixed[2] += 1
        case .cmd:
            guard let cmd else { fixed[3] += 1; return }
            let i = Self.firstCommand + Int(cmd.rawValue)
            if cmd.rawValue < UInt32(32 - Self.firstCommand) { fixed[i] += 1 } else { other["cmd:" + cmd.shortName, default: 0] += 1 }
        default: other["rpc_\(fn.rawValue)", default: 0] += 1
        }
    }

    /// The counts by kind name ("alloc", "cmd:get_time", ...), kinds never seen left out.
    var byName: [String: Int] {
        var d = other
        for i in 0..<32 where fixed[i] > 0 {
            let name = i < Self.firstCommand ? Self.named[i] : "cmd:" + RPCCommand(rawValue: UInt32(i - Self.firstCommand)).shortName
            d[name, default: 0] += fixed[i]
        }
        return d
    }
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
    var rpcArgs = RPCArgTable()
    var pinned = 0
    var mediatorPages = 0
    var deferredPages: [PAPage] = []
    /// A few free mediator pages kept per guest, so the call path does not take the shared
    /// allocator's lock (returned to it when the guest is destroyed).
    var pageCache: [CachedPage] = []
    /// One private argument page per call slot, allocated on the slot's first call and kept
    /// until the guest is destroyed (after VM_DESTROYED): a call copies into its slot's page
    /// without allocating or zeroing.
    var argPages: [PAPage?]
    /// Call slots not in use (a stack: the most recently freed slot, whose page is warm, goes first).
    var freeSlots: [Int]
    /// Mediator pages held as argument pages of call slots.
    var argPageCount = 0
    /// RPCs sent to this guest, by kind (stats).
    var rpcCounts = RPCTally()
    var refused = 0
    /// Emptied arrays of reaped temporary buffers, reused by the next calls' buffers.
    var spare = SpareArrays()
    /// Who the guest is, as the host knows it: decides the client identity of every OPEN_SESSION.
    let identity: ClientIdentityPolicy?

    /// A guest with `slots` call slots (the calls-in-flight limit).
    init(space: GuestAddressSpace, identity: ClientIdentityPolicy? = nil, slots: Int) {
        self.space = space; self.identity = identity
        argPages = Array(repeating: nil, count: max(1, slots))
        freeSlots = Array((0..<max(1, slots)).reversed())
    }



    /// True when `cookie` already names a buffer of this guest (registered, pending or RPC).
    func cookieInUse(_ cookie: UInt64) -> Bool {
        shm[cookie] != nil || shmPending.contains(cookie) || rpcShm[cookie] != nil || rpcArgs[cookie] != nil
    }

    /// Runs `body` on this record in place: reached through `slot?.inPlace { ... }`, a record
    /// held in an optional is mutated where it lies instead of being copied out and back.
    mutating func inPlace<R>(_ body: (inout GuestRecord) -> R) -> R { body(&self) }
}

// On the calls array, not the record: a method of the record, called on the record a lock hands
// over `inout`, made a bitwise copy of the whole record (440 bytes) per lookup.
// Plain loops rather than `firstIndex(where:)`: an unspecialized generic search allocates
// its coroutine frame per call in debug builds.
extension Array where Element == CallRecord {
    /// The index of the call suspended in an RPC on secure thread `thread`. Only a suspended call
    /// matches a thread: a call that resumed keeps its last thread id, and the secure world may
    /// already have given that thread to another call while this one completes (issue 13's
    /// stale lookup).
    func callIndex(thread: UInt64) -> Int? {
        for i in 0..<count where self[i].threadID == thread && !self[i].inFlight && self[i].pendingRPC != nil { return i }
        return nil
    }
    /// The index of call `id`.
    func callIndex(id: UInt64) -> Int? {
        for i in 0..<count where self[i].id == id { return i }
        return nil
    }
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

    /// One zeroed mediator page charged to the guest. A cached page is cleared where its last use
    /// may have left bytes: a page list's entries and next pointer only (a one-page list: 16
    /// bytes instead of a 4 KiB memset per temporary memref call).
    func allocatePage(_ r: inout GuestRecord) throws(ArgRefusal) -> PAPage {
        guard r.mediatorPages < config.mediatorPagesPerGuest else { throw .limit("mediator pages") }
        if let c = r.pageCache.popLast() {
            guard clear(c) else {
                allocator.release(c.page)
                throw .noMemory("page cache")
            }
            r.mediatorPages += 1
            return c.page
        }
        // Pages in use, cached, held by call slots and awaiting VM_DESTROYED all count against
        // the guest's reservation.
        guard r.mediatorPages + r.pageCache.count + r.deferredPages.count + r.argPageCount < config.mediatorPagesPerGuest else {
            throw .limit("mediator pages")
        }
        do {
            let p = try allocator.allocate()
            r.mediatorPages += 1
            return p
        } catch { throw .noMemory("allocator exhausted") }
    }

    /// Returns a mediator page; with `deferPages` it is kept until VM_DESTROYED has been sent.
    /// The private argument page of call slot `slot`: allocated (zeroed, charged to the guest's
    /// reservation) on the slot's first call, then reused as is. A call copies exactly its
    /// argument over it, so what lies past the argument is an older argument of the same guest.
    func argPage(_ r: inout GuestRecord, slot: Int) throws(ArgRefusal) -> PAPage {
        guard slot >= 0, slot < r.argPages.count else { throw .limit("call slot") }
        if let p = r.argPages[slot] { return p }
        guard r.mediatorPages + r.pageCache.count + r.deferredPages.count + r.argPageCount < config.mediatorPagesPerGuest else {
            throw .limit("mediator pages")
        }
        let p: PAPage
        if let c = r.pageCache.popLast() {
            // An argument page is not cleared: a call copies exactly its argument over it and
            // nothing past it is read (what lies there is older data of the same guest).
            p = c.page
        } else {
            do { p = try allocator.allocate() } catch { throw .noMemory("allocator exhausted") }
        }
        r.argPages[slot] = p
        r.argPageCount += 1
        return p
    }

    /// `content`: what the page may hold now (cleared before the page is handed out again).
    func freePage(_ r: inout GuestRecord, _ p: PAPage, deferPages: Bool, content: CachedPage.Content = .whole) {
        r.mediatorPages -= 1
        if deferPages { r.deferredPages.append(p) }
        else if r.pageCache.count < Self.pageCacheSize && !r.dying { r.pageCache.append(CachedPage(page: p, content: content)) }
        else { allocator.release(p) }
    }

    /// Frees buffer `b`'s list pages, each with what the mediator wrote in it.
    func freeListPages(_ r: inout GuestRecord, _ b: SharedBuffer, deferPages: Bool) {
        for (j, l) in b.listPages.enumerated() { freePage(&r, l, deferPages: deferPages, content: b.listPageContent(j)) }
    }

    /// Zeroes what a cached page may still hold from its last use; false when unreachable.
    private func clear(_ c: CachedPage) -> Bool {
        let a = c.page.address
        switch c.content {
        case .whole:
            return (try? memory.zero(a, count: pageSize, world: .nonSecure)) != nil
        case let .list(n):
            guard let next = a.adding(UInt64(PageList.nextPointerOffset)) else { return false }
            return (n == 0 || (try? memory.zero(a, count: n * 8, world: .nonSecure)) != nil)
                && (try? memory.zero(next, count: 8, world: .nonSecure)) != nil
        }
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
        freeListPages(&r, b, deferPages: deferPages)
    }

    func releaseRPCArg(_ r: inout GuestRecord, _ b: RPCArgBuffer, deferPages: Bool) {
        unpin(&r, b.page)
        freePage(&r, b.shadow, deferPages: deferPages)
    }

    /// Releases what a call holds: its temporary buffers, a registration that did not complete,
    /// its argument pin and its private copy.
    func releaseCall(_ r: inout GuestRecord, _ c: consuming CallRecord, deferPages: Bool) {
        recycleTempBuffers(&r, &c) { r, b in releaseBuffer(&r, b, deferPages: deferPages) }
        if let b = c.registering {
            releaseBuffer(&r, b, deferPages: deferPages)
            r.shmPending.remove(b.cookie)
        }
        if c.opening { r.openingSessions -= 1 }
        if c.argumentPinned { unpin(&r, c.location.page) }
        // The slot's page stays with the slot; a dying guest's slot pages go back after VM_DESTROYED.
        r.freeSlots.append(c.slot)
    }

    /// Takes call `c`'s temporary buffers out, lets `each` release every one, and keeps the
    /// emptied arrays for the next calls' buffers (`SpareArrays`).
    func recycleTempBuffers(_ r: inout GuestRecord, _ c: inout CallRecord, _ each: (inout GuestRecord, SharedBuffer) -> Void) {
        guard c.tempBuffers.capacity > 0 else { return }
        // Moved out, so the spare arrays are uniquely held (emptied in place, not copied).
        var temps: [SharedBuffer] = []
        swap(&temps, &c.tempBuffers)
        for b in temps { each(&r, b) }
        r.spare.give(consume temps)
    }

    // MARK: - Memory

    /// Runs `body` over `count` bytes of mediator memory at `page` (a private copy, a rebuilt
    /// list page, an RPC shadow); nil when the range is not mediator-reachable memory.
    func withMediatorBytes<R>(_ page: PAPage, count: Int, _ body: (UnsafeMutableRawBufferPointer) -> R) -> R? {
        do {
            return try memory.withBytes(page.address, count: count, world: .nonSecure) { (b: UnsafeMutableRawBufferPointer) throws(Never) -> R in body(b) }
        } catch { return nil }
    }

    /// Writes into the guest's pinned page through a view of `count` bytes at `offset`, under
    /// one stage-2 check held across the write (RAM read-write, same backing). Counts and
    /// answers false when the page no longer qualifies.
    @discardableResult
    func writeGuest(_ space: GuestAddressSpace, _ page: PinnedPage, offset: Int, count: Int, unpinning: Bool = false,
                    _ body: (MsgArgView) -> Void) -> Bool {
        let ok = space.withWritablePage(page.ipa, backedBy: page.pa, offset: offset, count: count, unpinning: unpinning) { b in
            if let v = try? MsgArgView(b) { body(v) }
        }
        if !ok { counters.bump(.copyBackRefused) }
        return ok
    }

    // MARK: - Page lists

    /// Translates a guest non-contiguous buffer (tmem.buf_ptr = IPA of the first list page |
    /// offset) into a page list rebuilt in mediator memory, pinning every data page read-write.
    /// The walk is TEEABI's `PageList.walk`: each list page is copied once into its scratch page,
    /// the walk is bounded by the page count the size implies, and a list that revisits a page
    /// is refused; the mediator supplies the IPA -> PA translation and the pins.
    func translatePageList(_ r: inout GuestRecord, bufPtr: IPA, size: UInt64, cookie: UInt64) throws(ArgRefusal) -> SharedBuffer {
        let offset = UInt64(bufPtr.pageOffset)
        let count: Int
        do { count = try PageList.pageCount(offset: offset, size: size) } catch { throw .badParameter("size overflow") }
        guard size > 0, count > 0 else { throw .badParameter("empty non-contiguous buffer") }
        guard count <= config.pagesPerBuffer else { throw .limit("\(count) pages > \(config.pagesPerBuffer) per buffer") }
        guard r.pinned + count <= config.pinnedPages else { throw .limit("pinned pages") }
        var buffer = SharedBuffer(cookie: cookie, pages: r.spare.takePages(), listPages: r.spare.takeLists(), offset: offset, size: size)
        buffer.pages.reserveCapacity(count)
        let space = r.space
        do throws(ArgRefusal) {
            do throws(PageListWalkError<ArgRefusal>) {
                try PageList.walk(first: bufPtr.page.address.raw, pageCount: count, maxPages: config.pagesPerBuffer,
                                  readListPage: { (address, scratch) throws(ArgRefusal) in
                                      let pa: PA
                                      do { pa = try space.translate(IPA(address)) } catch { throw .badParameter("list page: \(error)") }
                                      do { try memory.read(pa, into: scratch, world: .nonSecure) } catch { throw .badParameter("list page unreadable") }
                                  },
                                  visit: { (_, address) throws(ArgRefusal) in
                                      buffer.pages.append(try pin(&r, IPA(address).page))
                                  })
            } catch {
                switch error {
                case let .read(_, e), let .visit(_, e): throw e
                case .loop: throw .badParameter("page list loops")
                case .tooLong: throw .limit("pages per buffer")
                default: throw .badParameter("page list: \(error)")
                }
            }
            // Rebuild the list in mediator pages, with PAs, through the list-page view.
            let lists = PageList.listPages(for: count)
            for _ in 0..<lists { buffer.listPages.append(try allocatePage(&r)) }
            for j in 0..<lists {
                let next = j + 1 < lists ? buffer.listPages[j + 1].address : PA(0)
                let first = j * PageList.entriesPerPage
                let written: Bool = withMediatorBytes(buffer.listPages[j], count: PageList.pageSize) { b -> Bool in
                    guard let page = try? PageList.PageView(b) else { return false }
                    for k in first..<min(count, first + PageList.entriesPerPage) {
                        page.setEntry(k - first, buffer.pages[k].pa.address.raw)
                    }
                    page.next = next.raw
                    return true
                } ?? false
                guard written else { throw ArgRefusal.noMemory("list write") }
            }
            return buffer
        } catch {
            releaseBuffer(&r, buffer, deferPages: false)
            throw error
        }
    }
}
