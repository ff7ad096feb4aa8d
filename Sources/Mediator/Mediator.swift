/// Mediator: the hypervisor-side OP-TEE mediator between N untrusted guests and one secure
/// world (non-secure, hypervisor privilege), after Xen's xen/arch/arm/tee/optee.c.
///
/// It reaches the secure world only through the `SMCEntry` it is given and guest memory only
/// through each guest's `GuestAddressSpace` (translate, pin, write-back checks). It imports
/// neither SecureWorld nor NormalWorld. Rules: copy once into mediator memory, validate
/// there, translate IPA -> PA with pins, hand the secure world PAs of private copies only,
/// and copy back only ret, ret_origin, session and output values/sizes.
import Logging
import Machine
import Synchronization
import TEEABI

/// Per-guest limits (Xen/OP-TEE-like defaults) and the size of the mediator's own memory.
public struct MediatorConfig: Sendable {
    /// Std calls a guest may have open at once (started, or suspended in an RPC). Capped at
    /// the secure world's thread count read with GET_THREAD_COUNT.
    public var callsInFlight: Int = 16
    /// Shared-memory buffers a guest may have registered (REGISTER_SHM).
    public var shmBuffers: Int = 16
    /// Pages in one shared buffer (Xen: 129, i.e. 512 KiB plus an unaligned start).
    public var pagesPerBuffer: Int = 129
    /// Guest pages the mediator may hold pinned for one guest in total.
    public var pinnedPages: Int = 16384
    /// RPC buffers (RPC_ALLOC arguments, and SHM_ALLOC buffers each) a guest may hold.
    public var rpcBuffers: Int = 32
    /// Open sessions per guest.
    public var sessions: Int = 128
    /// Mediator pages (private copies, rebuilt page lists, RPC shadows) one guest may use.
    public var mediatorPagesPerGuest: Int = 512
    /// Pages of the mediator's private hypervisor region, shared by all guests; nil sizes it
    /// at `maxGuests * mediatorPagesPerGuest`. Each guest reserves its budget when added, so
    /// no guest can starve another of mediator memory (the region is mapped lazily).
    public var mediatorPages: Int? = nil
    /// Guest ids accepted: 0 ..< maxGuests (one lock-free slot each).
    public var maxGuests: Int = 64
    /// Logger (refusals at debug level).
    public var logger = Logger(label: "vtee.mediator")

    /// Defaults.
    public init() {}
}

/// What the mediator holds for one guest right now.
public struct MediatorGuestStats: Sendable, Equatable {
    /// Std calls open (in flight or suspended in an RPC).
    public var callsInFlight: Int
    /// Calls of them currently suspended in an RPC.
    public var callsSuspended: Int
    /// Sessions the guest opened and has not closed.
    public var sessions: Int
    /// Registered shared-memory buffers.
    public var shmBuffers: Int
    /// Buffers allocated through RPC (RPC_ALLOC arguments plus SHM_ALLOC buffers).
    public var rpcBuffers: Int
    /// Guest pages pinned by the mediator for this guest.
    public var pinnedPages: Int
    /// Bytes of mediator memory held for this guest's calls and buffers (the per-call-slot
    /// argument pages, kept for reuse until the guest goes, are not counted).
    public var mediatorBytes: Int
    /// RPCs seen, by kind ("alloc", "free", "foreign_intr", "cmd:get_time", ...).
    public var rpcsByKind: [String: Int]
    /// Requests of this guest refused.
    public var refused: Int
    /// True while the guest is being destroyed (waiting for calls in flight to return).
    public var dying: Bool
    /// True when nothing at all is held (used by invariant checks).
    public var isEmpty: Bool {
        callsInFlight == 0 && sessions == 0 && shmBuffers == 0 && rpcBuffers == 0 && pinnedPages == 0 && mediatorBytes == 0
    }
}

/// Mediator-wide counters of traffic.
public struct MediatorTotals: Sendable, Equatable {
    /// Fast calls, std calls started, std calls completed, RPCs passed to guests, RETURN_FROM_RPCs seen.
    public var fastCalls = 0, stdCalls = 0, completedCalls = 0, rpcs = 0, resumes = 0
    /// Guests added (VM_CREATED) and destroyed (VM_DESTROYED sent).
    public var guestsCreated = 0, guestsDestroyed = 0
}

/// Mediator-wide counters of refused or defused input, by protocol condition.
public struct MediatorErrors: Sendable, Equatable {
    /// Argument not page-aligned, not RAM, not writable, or too large (EBADADDR).
    public var badAddress = 0
    /// Command not allowed (EBADCMD).
    public var badCommand = 0
    /// Parameters refused (ret = BAD_PARAMETERS).
    public var badParameters = 0
    /// A per-guest limit reached (ETHREAD_LIMIT or ret = OUT_OF_MEMORY).
    public var limitReached = 0
    /// RETURN_FROM_RPC refused (ERESUME).
    public var resumeRejected = 0
    /// Fast calls blocked or filtered (VM_CREATED/VM_DESTROYED, static shm, unknown).
    public var blockedFastCalls = 0
    /// Write-backs skipped because the guest page was no longer read-write RAM with the same backing.
    public var copyBackRefused = 0
    /// RPC replies refused (bad ALLOC address, plain tmem, duplicate cookie...).
    public var rpcRejected = 0
    /// Calls from unknown or dying guests.
    public var unknownGuest = 0
}

/// Why a guest could not be added.
public enum MediatorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The guest id is beyond `maxGuests`.
    case guestIDOutOfRange(GuestID)
    /// The guest is already present (or still being destroyed).
    case guestExists(GuestID)
    /// The secure world refused VM_CREATED with this a0.
    case vmCreatedRefused(UInt64)
    /// The mediator's private memory could not be set up.
    case memory(MemoryError)
    public var description: String {
        switch self {
        case let .guestIDOutOfRange(g): "\(g) out of range"
        case let .guestExists(g): "\(g) already exists"
        case let .vmCreatedRefused(a0): "VM_CREATED refused: \(hex(a0))"
        case let .memory(e): "mediator memory: \(e)"
        }
    }
}

/// One guest's slot: its own lock, so no global lock sits on the call path, and whether a live
/// guest is present (read without the lock by fast calls, which need no guest state).
final class GuestSlot: Sendable {
    let state = CallPathLock<GuestRecord?>(nil)
    /// True from the guest's addition until its destruction starts; written under `state`'s lock.
    let live = Atomic<Bool>(false)
    /// One phase word per call slot (see `CallPhase`): how a call's completion is handed from
    /// the vCPU that owns it to the next holder of `state`'s lock without taking that lock.
    let calls: [CallSlotPhase]
    /// The same objects unretained (held by `calls` for the slot's life), for the call path.
    let phases: [Unmanaged<CallSlotPhase>]

    init(callSlots: Int) {
        calls = (0..<max(1, callSlots)).map { _ in CallSlotPhase() }
        phases = calls.map { Unmanaged.passUnretained($0) }
    }
}

/// Phases of one call slot's word. Written under the guest's lock except two transitions the
/// vCPU owning the call makes without it: `inFlight -> completing` (it now owns the slot's
/// argument and private page for copy-back) and `completing -> done` (copy-back is over and
/// the call's guest pins are released; the record waits to be reaped under the lock).
/// Destroy turns `inFlight` into `orphaned` under the lock, so a call still in the secure world
/// completes through the lock and the last one sends VM_DESTROYED.
enum CallPhase {
    static let idle: UInt64 = 0, inFlight: UInt64 = 1, completing: UInt64 = 2, done: UInt64 = 3, orphaned: UInt64 = 4
}

/// The phase word of one call slot.
final class CallSlotPhase: Sendable {
    let word = Atomic<UInt64>(CallPhase.idle)
}

/// Maps the login method of a guest's OPEN_SESSION to the client UUID the secure world sees,
/// from what the host knows of the guest (e.g. a daemon's peer credentials); nil refuses it.
public typealias ClientIdentityPolicy = @Sendable (LoginMethod) -> TEEUUID?

/// The OP-TEE mediator. `handle` is the Trusted OS service entry for every guest vCPU.
public final class Mediator: Sendable {
    let memory: PhysicalMemory
    let secure: any SMCEntry
    let config: MediatorConfig
    let allocator: PageAllocator
    let slots: [GuestSlot]
    /// The same slots unretained (held by `slots` for the mediator's life), for the trap path.
    let slotRefs: [Unmanaged<GuestSlot>]
    /// Effective calls-in-flight limit (config capped by the secure thread count).
    public let callsInFlightLimit: Int
    /// Secure capabilities reported at start (before masking).
    let secureCapabilities: SecureCapabilities
    let log: Logger
    let nextCallID = Atomic<UInt64>(1)
    /// Mediator pages reserved by the guests present (each reserves `mediatorPagesPerGuest`).
    let reservedPages = Mutex<Int>(0)
    let counters = Counters()

    /// Capabilities a guest may see: dynamic shm and NULL memrefs only (no static shm, no RPC arg,
    /// no async notifications).
    public static let guestCapabilities: SecureCapabilities = [.dynamicSHM, .memrefNull]

    /// A mediator over `memory` reaching `secureWorld`. Reads the secure thread count and
    /// capabilities, and takes a hypervisor region of `config.mediatorPages` pages.
    public init(memory: PhysicalMemory, secureWorld: any SMCEntry, config: MediatorConfig = .init()) throws {
        self.memory = memory; self.secure = secureWorld; self.config = config; self.log = config.logger
        let region: Region
        let pages = config.mediatorPages ?? max(1, config.maxGuests) * max(1, config.mediatorPagesPerGuest)
        do { region = try memory.addRegion(kind: .hypervisor, pages: max(16, pages)) }
        catch { throw MediatorError.memory(error) }
        allocator = PageAllocator(region: region)
        let tc = secureWorld.smc(RegisterFrame(.getThreadCount))
        let limit: Int
        if tc.a0 == 0, tc.a1 > 0 {
            limit = max(1, min(config.callsInFlight, Int(clamping: tc.a1)))
        } else {
            limit = max(1, config.callsInFlight)
        }
        callsInFlightLimit = limit
        slots = (0..<max(1, config.maxGuests)).map { _ in GuestSlot(callSlots: limit) }
        slotRefs = slots.map { Unmanaged.passUnretained($0) }
        let caps = secureWorld.smc(RegisterFrame(.exchangeCapabilities))
        secureCapabilities = caps.a0 == 0 ? SecureCapabilities(rawValue: UInt32(truncatingIfNeeded: caps.a1)) : []
    }

    func slot(_ id: GuestID) -> GuestSlot? {
        Int(id.raw) < slots.count ? slots[Int(id.raw)] : nil
    }

    // MARK: - Guest lifecycle

    /// Adds a guest: tells the secure world with VM_CREATED (a1 = client id, a7 = 0) first.
    /// With `identity`, every OPEN_SESSION of this guest gets the client UUID the policy gives
    /// for its login method (nil refuses the login with ACCESS_DENIED).
    public func addGuest(_ space: GuestAddressSpace, identity: ClientIdentityPolicy? = nil) throws {
        guard let slot = slot(space.id) else { throw MediatorError.guestIDOutOfRange(space.id) }
        let free = slot.state.withLock { $0 == nil }
        guard free else { throw MediatorError.guestExists(space.id) }
        let budget = max(1, config.mediatorPagesPerGuest)
        let reserved = reservedPages.withLock { r -> Bool in
            guard r + budget <= allocator.region.pages else { return false }
            r += budget
            return true
        }
        guard reserved else { throw MediatorError.memory(.exhausted) }
        let r = secure.smc(RegisterFrame(.vmCreated, a1: space.id.clientID, a7: 0))
        guard r.a0 == UInt64(SMCReturn.ok.rawValue) else {
            reservedPages.withLock { $0 -= budget }
            throw MediatorError.vmCreatedRefused(r.a0)
        }
        let added = slot.state.withLock { (rec: inout GuestRecord?) -> Bool in
            guard rec == nil else { return false }
            rec = GuestRecord(space: space, identity: identity, slots: callsInFlightLimit)
            slot.live.store(true, ordering: .releasing)
            return true
        }
        guard added else {
            reservedPages.withLock { $0 -= budget }
            _ = secure.smc(RegisterFrame(.vmDestroyed, a1: space.id.clientID, a7: 0))
            throw MediatorError.guestExists(space.id)
        }
        counters.guestsCreated.add(1, ordering: .relaxed)
    }

    /// Destroys a guest at any instant: reclaims every call, RPC buffer, registered buffer and pin
    /// it holds, then sends VM_DESTROYED. Calls in flight in the secure world finish the
    /// reclaim when they return (the last one sends VM_DESTROYED).
    public func destroyGuest(_ id: GuestID) {
        guard let slot = slot(id) else { return }
        let finalize = slot.state.withLock { (rec: inout GuestRecord?) -> Bool in
            // Taken out of the slot while mutated, so its collections are uniquely referenced.
            guard var r = rec.take() else { return false }
            defer { rec = r }
            guard !r.dying else { return false }
            reap(&r, slot)
            r.dying = true
            // Sequentially consistent with a completing call's `completing -> done` and its load
            // of `live`: either this scan sees `done`, or that call sees `live` false and comes
            // to the lock to reap itself (and sends VM_DESTROYED if it is the last).
            slot.live.store(false, ordering: .sequentiallyConsistent)
            var keep: [CallRecord] = []
            for c in r.calls {
                guard c.inFlight else { releaseCall(&r, c, deferPages: true); continue }
                let phase = slot.calls[c.slot]
                let (orphaned, now) = phase.word.compareExchange(expected: CallPhase.inFlight, desired: CallPhase.orphaned,
                                                             ordering: .sequentiallyConsistent)
                if !orphaned, now == CallPhase.done {
                    reapDone(&r, c, deferPages: true)
                } else {
                    keep.append(c)   // orphaned (completes through the lock) or completing (reaps itself)
                }
            }
            r.calls = keep
            for (_, b) in r.shm { releaseBuffer(&r, b, deferPages: true) }
            for (_, b) in r.rpcShm { releaseBuffer(&r, b, deferPages: true) }
            for b in r.rpcArgs.buffers { releaseRPCArg(&r, b, deferPages: true) }
            r.shm = [:]; r.rpcShm = [:]; r.rpcArgs.removeAll(); r.shmPending = []
            r.sessions = []; r.openingSessions = 0
            return keep.isEmpty
        }
        if finalize { finalizeDestroy(slot, id) }
    }

    /// Sends VM_DESTROYED, then returns the mediator pages the guest's calls used and frees the slot.
    func finalizeDestroy(_ slot: GuestSlot, _ id: GuestID) {
        _ = secure.smc(RegisterFrame(.vmDestroyed, a1: id.clientID, a7: 0))
        let pages = slot.state.withLock { (rec: inout GuestRecord?) -> [PAPage] in
            let p = (rec?.deferredPages ?? []) + (rec?.pageCache.map(\.page) ?? []) + (rec?.argPages.compactMap { $0 } ?? [])
            rec = nil
            slot.live.store(false, ordering: .releasing)
            return p
        }
        for p in pages { allocator.release(p) }
        reservedPages.withLock { $0 -= max(1, config.mediatorPagesPerGuest) }
        counters.guestsDestroyed.add(1, ordering: .relaxed)
    }

    // MARK: - Stats

    /// What the mediator holds for guest `id`, or nil when the guest is unknown.
    public func stats(_ id: GuestID) -> MediatorGuestStats? {
        guard let slot = slot(id) else { return nil }
        return slot.state.withLock { rec -> MediatorGuestStats? in
            guard var r = rec.take() else { return nil }
            defer { rec = r }
            reap(&r, slot)
            let kinds = r.rpcCounts.byName
            return MediatorGuestStats(callsInFlight: r.calls.count, callsSuspended: r.calls.filter { !$0.inFlight }.count,
                                      sessions: r.sessions.count, shmBuffers: r.shm.count,
                                      rpcBuffers: r.rpcArgs.count + r.rpcShm.count, pinnedPages: r.pinned,
                                      mediatorBytes: r.mediatorPages * pageSize, rpcsByKind: kinds,
                                      refused: r.refused, dying: r.dying)
        }
    }

    /// Traffic counters.
    public var totals: MediatorTotals { counters.totals }
    /// Refusal counters.
    public var errors: MediatorErrors { counters.errors }
    /// Pages of mediator memory not in use.
    public var freeMediatorPages: Int { allocator.freePages }

    // MARK: - Entry

    /// One trapped OP-TEE call from `guest`'s vCPU `vcpu`; returns the frame the guest sees.
    /// The guest's a7 is always replaced by its client id.
    public func handle(_ frame: RegisterFrame, guest: GuestID, vcpu: Int) -> RegisterFrame {
        let i = Int(guest.raw)
        guard i < slotRefs.count else {
            counters.bump(.unknownGuest)
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
        return slotRefs[i]._withUnsafeGuaranteedRef { handle(frame, slot: $0, guest: guest, vcpu: vcpu) }
    }

    @inline(__always)
    func handle(_ frame: RegisterFrame, slot: GuestSlot, guest: GuestID, vcpu: Int) -> RegisterFrame {
        let f = frame.function
        guard frame.a0 >> 32 == 0, !f.isSMC64 else {
            counters.bump(.blockedFastCalls)
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
        if f.isFast { return fastCall(frame, slot: slot, guest: guest) }
        return stdEntry(frame, slot: slot, guest: guest, vcpu: vcpu)
    }

    /// A yielding call: a std call started or an RPC returned from.
    @inline(never)
    func stdEntry(_ frame: RegisterFrame, slot: GuestSlot, guest: GuestID, vcpu: Int) -> RegisterFrame {
        switch frame.function {
        case .callWithArg, .callWithRPCArg, .callWithRegdArg:
            counters.stdCalls.add(1, ordering: .relaxed)
            return stdCall(frame, slot: slot, guest: guest, vcpu: vcpu)
        case .returnFromRPC:
            counters.resumes.add(1, ordering: .relaxed)
            return resume(frame, slot: slot, guest: guest, vcpu: vcpu)
        default:
            counters.bump(.blockedFastCalls)
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }

    // MARK: - Fast calls

    /// A fast call. The identity calls (the hot ones: a driver's probe, `fast_call_ns`) are
    /// forwarded inline with their arguments cleared; the rest go to `fastCallOther`.
    @inline(__always)
    func fastCall(_ frame: RegisterFrame, slot: GuestSlot, guest: GuestID) -> RegisterFrame {
        counters.fastCalls.increment(0)
        // No guest state is needed to forward a fast call: an atomic says whether the guest is live.
        guard slot.live.load(ordering: .acquiring) else {
            counters.bump(.unknownGuest)
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
        switch frame.function {
        case .getOSRevision, .callsCount, .callsUID, .callsRevision, .getOSUUID:
            let r = secure.smc(RegisterFrame(a0: frame.a0, a7: guest.clientID))
            return RegisterFrame(a0: r.a0, a1: r.a1, a2: r.a2, a3: r.a3)
        default:
            return fastCallOther(frame, slot: slot, guest: guest)
        }
    }

    /// Fast calls other than the identity calls: capabilities, thread count, the shm cache, and
    /// every id the mediator blocks.
    @inline(never)
    func fastCallOther(_ frame: RegisterFrame, slot: GuestSlot, guest: GuestID) -> RegisterFrame {
        switch frame.function {
        case .getThreadCount:
            let r = secure.smc(RegisterFrame(.getThreadCount, a7: guest.clientID))
            guard r.a0 == 0 else { return RegisterFrame(a0: r.a0) }
            return RegisterFrame(a0: 0, a1: UInt64(min(Int(clamping: r.a1), callsInFlightLimit)))
        case .exchangeCapabilities:
            let nsec = frame.a1 & UInt64(NonSecureCapabilities.uniprocessor.rawValue)
            let r = secure.smc(RegisterFrame(.exchangeCapabilities, a1: nsec, a7: guest.clientID))
            guard r.a0 == 0 else { return RegisterFrame(a0: r.a0) }
            let caps = SecureCapabilities(rawValue: UInt32(truncatingIfNeeded: r.a1))
            guard caps.contains(.dynamicSHM) else { return RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue)) }
            let masked = caps.intersection(Self.guestCapabilities)
            return RegisterFrame(a0: 0, a1: UInt64(masked.rawValue), a2: 0, a3: r.a3 & 0xFF)
        case .enableSHMCache:
            let r = secure.smc(RegisterFrame(.enableSHMCache, a7: guest.clientID))
            return RegisterFrame(a0: r.a0)
        case .disableSHMCache:
            let r = secure.smc(RegisterFrame(.disableSHMCache, a7: guest.clientID))
            if r.a0 == 0 {
                let cookie = RegisterFrame.join(r.a1, r.a2)
                slot.state.withLock { rec in
                    guard var g = rec.take() else { return }
                    defer { rec = g }
                    if let b = g.rpcArgs.removeValue(forKey: cookie) { releaseRPCArg(&g, b, deferPages: false) }
                }
            }
            return RegisterFrame(a0: r.a0, a1: r.a1, a2: r.a2)
        case .getSHMConfig:
            counters.bump(.blockedFastCalls)
            return RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue))
        default:
            // VM_CREATED / VM_DESTROYED are the hypervisor's; boot, L2CC, async notifications and
            // protected memory are not offered to guests.
            counters.bump(.blockedFastCalls)
            log.debug("fast call blocked", metadata: ["guest": "\(guest.raw)", "id": "\(frame.function)"])
            _ = slot.state.withLock { rec in rec?.refused += 1 }
            return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }
}

/// Atomic counters (no lock; one cache line bounce per update at worst).
final class Counters: Sendable {
    /// Fast calls, counted per calling thread (no locked add on the fast path; summed on read).
    let fastCalls = ThreadCounters()
    let stdCalls = Atomic<Int>(0), completedCalls = Atomic<Int>(0)
    let rpcs = Atomic<Int>(0), resumes = Atomic<Int>(0), guestsCreated = Atomic<Int>(0), guestsDestroyed = Atomic<Int>(0)
    let badAddress = Atomic<Int>(0), badCommand = Atomic<Int>(0), badParameters = Atomic<Int>(0)
    let limitReached = Atomic<Int>(0), resumeRejected = Atomic<Int>(0), blockedFastCalls = Atomic<Int>(0)
    let copyBackRefused = Atomic<Int>(0), rpcRejected = Atomic<Int>(0), unknownGuest = Atomic<Int>(0)

    enum Kind { case badAddress, badCommand, badParameters, limitReached, resumeRejected, blockedFastCalls, copyBackRefused, rpcRejected, unknownGuest }

    func bump(_ k: Kind) {
        switch k {
        case .badAddress: badAddress.add(1, ordering: .relaxed)
        case .badCommand: badCommand.add(1, ordering: .relaxed)
        case .badParameters: badParameters.add(1, ordering: .relaxed)
        case .limitReached: limitReached.add(1, ordering: .relaxed)
        case .resumeRejected: resumeRejected.add(1, ordering: .relaxed)
        case .blockedFastCalls: blockedFastCalls.add(1, ordering: .relaxed)
        case .copyBackRefused: copyBackRefused.add(1, ordering: .relaxed)
        case .rpcRejected: rpcRejected.add(1, ordering: .relaxed)
        case .unknownGuest: unknownGuest.add(1, ordering: .relaxed)
        }
    }

    var totals: MediatorTotals {
        MediatorTotals(fastCalls: fastCalls.value(0), stdCalls: stdCalls.load(ordering: .relaxed),
                       completedCalls: completedCalls.load(ordering: .relaxed), rpcs: rpcs.load(ordering: .relaxed),
                       resumes: resumes.load(ordering: .relaxed), guestsCreated: guestsCreated.load(ordering: .relaxed),
                       guestsDestroyed: guestsDestroyed.load(ordering: .relaxed))
    }
    var errors: MediatorErrors {
        MediatorErrors(badAddress: badAddress.load(ordering: .relaxed), badCommand: badCommand.load(ordering: .relaxed),
                       badParameters: badParameters.load(ordering: .relaxed), limitReached: limitReached.load(ordering: .relaxed),
                       resumeRejected: resumeRejected.load(ordering: .relaxed), blockedFastCalls: blockedFastCalls.load(ordering: .relaxed),
                       copyBackRefused: copyBackRefused.load(ordering: .relaxed), rpcRejected: rpcRejected.load(ordering: .relaxed),
                       unknownGuest: unknownGuest.load(ordering: .relaxed))
    }
}
