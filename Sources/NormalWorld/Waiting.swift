/// The driver's blocking points, each bounded: the FIFO call queue for secure threads
/// (Linux's optee_call_queue) and the notification table (NOTIFICATION wait/send).
import Dispatch
import Machine
import Synchronization

/// One blocked thread: an event on the host clock, plus the grant ticket handed to it.
final class Waiter: Sendable {
    let event = HostEvent()
    let clock: any HostClock
    let grant = Atomic<UInt64>(0)
    init(clock: any HostClock) { self.clock = clock }

    /// Blocks for at most `seconds` on the host clock; true when signalled.
    func wait(_ seconds: Double) -> Bool { clock.wait(event, seconds: seconds) }
    /// Wakes the waiter.
    func signal() { event.signal() }
}

/// FIFO admission to the secure world's threads. With a limit (GET_THREAD_COUNT), at most that
/// many calls are in the secure world; later callers queue in arrival order and each completion
/// hands its slot to the oldest waiter, so nobody is overtaken. A call that still gets
/// ETHREAD_LIMIT (another guest holds threads) waits for the next completion and retries.
///
/// One lock acquisition per uncontended call: `enter` takes the lock (tickets, FIFO check);
/// `leave` only gives the slot back through an atomic and takes the lock when someone sleeps.
/// Nothing is allocated unless a caller has to wait.
public final class CallQueue: Sendable {
    private struct State {
        var waiters: [Waiter] = []
        var completionWaiters: [Waiter] = []
        var nextArrival: UInt64 = 0
        var nextGrant: UInt64 = 0
        var maxQueued = 0
        /// Waiters done with, reused by the next caller that has to wait (no allocation per wait).
        var spare: [Waiter] = []
    }
    private static let spareLimit = 64
    private let state: CallPathLock<State>
    private let limit: Int?
    private let clock: any HostClock
    /// Calls holding a slot.
    private let activeCount = Atomic<Int>(0)
    /// Callers registered as sleeping (queue and completion waiters); `leave` reads it after giving
    /// its slot back, `enter` raises it before its last look at the slots, so no wake-up is lost.
    private let sleepers = Atomic<Int>(0)

    /// A queue admitting at most `limit` calls at once (nil: no limit), timing waits on `clock`.
    public init(limit: Int?, clock: any HostClock = SystemClock.shared) {
        self.limit = limit.map { max(1, $0) }
        self.clock = clock
        var s = State()
        s.spare.reserveCapacity(Self.spareLimit); s.waiters.reserveCapacity(Self.spareLimit)
        s.completionWaiters.reserveCapacity(Self.spareLimit)
        state = CallPathLock(s)
    }

    /// Calls in the secure world now.
    public var active: Int { activeCount.load(ordering: .sequentiallyConsistent) }
    /// Callers waiting now.
    public var queued: Int { state.withLock { $0.waiters.count } }
    /// Most callers ever waiting at once.
    public var maxQueued: Int { state.withLock { $0.maxQueued } }

    /// Takes a slot when one is free (never waits).
    private func takeSlot() -> Bool {
        guard let limit else { activeCount.wrappingAdd(1, ordering: .sequentiallyConsistent); return true }
        var v = activeCount.load(ordering: .sequentiallyConsistent)
        while v < limit {
            let (done, now) = activeCount.compareExchange(expected: v, desired: v + 1, ordering: .sequentiallyConsistent)
            if done { return true }
            v = now
        }
        return false
    }

    /// Takes a slot, waiting at most `seconds`. Returns (arrival, grant) tickets, or nil on timeout.
    public func enter(timeout seconds: Double) -> (arrival: UInt64, grant: UInt64)? {
        enterTimed(timeout: seconds).map { (arrival: $0.arrival, grant: $0.grant) }
    }

    /// `enter`, also telling how long the caller slept in the queue (0 when a slot was free: the
    /// clock is read only by callers that wait, so an uncontended call reads no clock).
    public func enterTimed(timeout seconds: Double) -> (arrival: UInt64, grant: UInt64, waitedNanos: UInt64)? {
        enum Step { case granted(UInt64, UInt64), wait(Waiter, UInt64) }
        let step: Step = state.withLock { s in
            let arrival = s.nextArrival; s.nextArrival += 1
            if s.waiters.isEmpty {
                if takeSlot() { s.nextGrant += 1; return .granted(arrival, s.nextGrant - 1) }
                sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                if takeSlot() {   // a slot came back while we announced ourselves
                    sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                    s.nextGrant += 1; return .granted(arrival, s.nextGrant - 1)
                }
            } else {
                sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
            }
            let w = s.spare.popLast() ?? Waiter(clock: clock)
            s.waiters.append(w)
            s.maxQueued = max(s.maxQueued, s.waiters.count)
            return .wait(w, arrival)
        }
        switch step {
        case let .granted(a, g): return (a, g, 0)
        case let .wait(w, arrival):
            let t0 = clock.now()
            if w.wait(seconds) {
                let grant = w.grant.load(ordering: .acquiring)
                recycle(w)
                return (arrival, grant, clock.now() &- t0)
            }
            let gaveUp: Bool = state.withLock { s in
                if let i = s.waiters.firstIndex(where: { $0 === w }) {
                    s.waiters.remove(at: i)
                    sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                    return true
                }
                return false
            }
            if gaveUp { recycle(w); return nil }
            // Granted between the timeout and the lock: the slot is ours, and its wake-up is on
            // its way (the leaver signals right after its lock); take it before reuse.
            _ = w.wait(86_400)
            let grant = w.grant.load(ordering: .acquiring)
            recycle(w)
            return (arrival, grant, clock.now() &- t0)
        }
    }

    /// Keeps a waiter whose event holds no pending signal for the next caller that must wait.
    private func recycle(_ w: Waiter) {
        state.withLock { s in if s.spare.count < Self.spareLimit { s.spare.append(w) } }
    }

    /// Gives the slot back: to the oldest waiter if any, and wakes one ETHREAD_LIMIT waiter.
    public func leave() {
        activeCount.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
        let (next, completion): (Waiter?, Waiter?) = state.withLock { s in
            var handed: Waiter? = nil
            if !s.waiters.isEmpty, takeSlot() {
                let w = s.waiters.removeFirst()
                w.grant.store(s.nextGrant, ordering: .releasing); s.nextGrant += 1
                sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                handed = w
            }
            var c: Waiter? = nil
            if !s.completionWaiters.isEmpty {
                c = s.completionWaiters.removeFirst()
                sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            }
            return (handed, c)
        }
        next?.signal()
        completion?.signal()
    }

    /// After ETHREAD_LIMIT: waits (FIFO) for the next completion, at most `seconds`.
    public func waitForCompletion(timeout seconds: Double) {
        let w: Waiter = state.withLock { s in
            let w = s.spare.popLast() ?? Waiter(clock: clock)
            s.completionWaiters.append(w)
            sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
            return w
        }
        if !w.wait(seconds) {
            let removed: Bool = state.withLock { s in
                if let i = s.completionWaiters.firstIndex(where: { $0 === w }) {
                    s.completionWaiters.remove(at: i)
                    sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                    return true
                }
                return false
            }
            // Woken between the timeout and the lock: take that wake-up before reuse.
            if !removed { _ = w.wait(86_400) }
        }
        recycle(w)
    }
}

/// Up to 64 interchangeable slots (vCPUs, argument pages) claimed and returned through one atomic
/// bitmask: no lock and no allocation unless every slot is busy and the caller chooses to sleep.
final class SlotPool: Sendable {
    /// Number of slots (1...64).
    let count: Int
    private let bits = Atomic<UInt64>(0)
    private let rotor = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let wake = DispatchSemaphore(value: 0)

    /// A pool of `count` slots, clamped to 0...64 (0: `tryClaim` always fails).
    init(count: Int) { self.count = max(0, min(64, count)) }

    /// Claims a free slot, starting the search at a rotating index so claims spread over the slots
    /// (`rotate: false` takes the lowest free slot, keeping the touched set small). nil when all are busy.
    func tryClaim(rotate: Bool = false) -> Int? {
        guard count > 0 else { return nil }
        let start = rotate ? Int(UInt(bitPattern: rotor.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(count)) : 0
        let all: UInt64 = count == 64 ? ~0 : (1 << UInt64(count)) - 1
        var b = bits.load(ordering: .acquiring)
        while true {
            // The first free slot at or after `start`, else the first free one (bit scans, no loop).
            let free = ~b & all
            guard free != 0 else { return nil }
            let fromStart = free & ~((1 << UInt64(start)) - 1)
            let i = fromStart != 0 ? fromStart.trailingZeroBitCount : free.trailingZeroBitCount
            let (done, now) = bits.compareExchange(expected: b, desired: b | (1 << UInt64(i)), ordering: .sequentiallyConsistent)
            if done { return i }
            b = now
        }
    }

    /// Claims a slot, sleeping until one is returned when all are busy (each holder returns its
    /// slot after one bounded operation: a trap).
    func claim(rotate: Bool = true) -> Int {
        if let i = tryClaim(rotate: rotate) { return i }
        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
        defer { sleepers.wrappingSubtract(1, ordering: .sequentiallyConsistent) }
        while true {
            if let i = tryClaim(rotate: rotate) { return i }
            wake.wait()
        }
    }

    /// Returns slot `i`.
    func release(_ i: Int) {
        guard i >= 0, i < count else { return }
        bits.bitwiseAnd(~(1 << UInt64(i)), ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 { wake.signal() }
    }
}

/// OPTEE_RPC_NOTIFICATION wait/send keyed by notification value. A send with no waiter is
/// remembered (once) so that a wait racing behind it does not sleep forever.
final class NotificationTable: Sendable {
    private struct Entry { var pending = false; var waiters: [Waiter] = [] }
    private let table = Mutex<[UInt64: Entry]>([:])
    private let clock: any HostClock
    static let maxKeys = 4096

    /// A table whose waits are timed on `clock`.
    init(clock: any HostClock = SystemClock.shared) { self.clock = clock }

    /// Waits for a send of `key`; false on timeout (or when the table is full).
    func wait(key: UInt64, timeout: Double) -> Bool {
        let w = Waiter(clock: clock)
        let immediate: Bool? = table.withLock { t in
            if t[key]?.pending == true { t[key]?.pending = false; Self.prune(&t, key); return true }
            guard t[key] != nil || t.count < Self.maxKeys else { return false }
            t[key, default: Entry()].waiters.append(w)
            return nil
        }
        if let immediate { return immediate }
        if w.wait(timeout) { return true }
        return table.withLock { t in
            if let i = t[key]?.waiters.firstIndex(where: { $0 === w }) {
                t[key]?.waiters.remove(at: i); Self.prune(&t, key); return false
            }
            return true   // sent between the timeout and the lock
        }
    }

    /// Wakes the oldest waiter of `key`, or remembers the send.
    func send(key: UInt64) {
        let w: Waiter? = table.withLock { t in
            if var e = t[key], !e.waiters.isEmpty {
                let w = e.waiters.removeFirst(); t[key] = e; Self.prune(&t, key); return w
            }
            if t[key] != nil || t.count < Self.maxKeys { t[key, default: Entry()].pending = true }
            return nil
        }
        w?.signal()
    }

    /// Waiters currently blocked on any key.
    var waiting: Int { table.withLock { $0.values.reduce(0) { $0 + $1.waiters.count } } }

    private static func prune(_ t: inout [UInt64: Entry], _ key: UInt64) {
        if let e = t[key], !e.pending, e.waiters.isEmpty { t[key] = nil }
    }
}
