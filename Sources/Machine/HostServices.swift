/// Host services: what the host machine offers every world besides memory and traps — a clock,
/// waits and sleeps bounded by a deadline on that clock, and the identity of the host process.
/// A world takes them as one `HostServices` value, so tests can drive time (`ManualClock`)
/// instead of sleeping. Touches only the host's clocks and process credentials.
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The services handed to a world: its clock and the identity of the process it runs in.
public struct HostServices: Sendable {
    /// Time, waits and sleeps.
    public var clock: any HostClock
    /// Who the host process is (uid, gid, groups, executable).
    public var identity: ProcessIdentity

    /// Services over `clock` for a process with `identity`.
    public init(clock: any HostClock, identity: ProcessIdentity) { self.clock = clock; self.identity = identity }

    /// The real host: the monotonic and real-time clocks, and this process's credentials.
    public static var system: HostServices { HostServices(clock: SystemClock.shared, identity: .current) }
}

/// A clock with deadline-bounded waits. Times are nanoseconds on the clock's monotonic scale.
public protocol HostClock: Sendable {
    /// Monotonic nanoseconds (only differences and deadlines mean anything).
    func now() -> UInt64
    /// Real (REE) time: seconds and nanoseconds since the Unix epoch.
    func wallTime() -> (seconds: UInt64, nanoseconds: UInt64)
    /// Blocks until `event` is signalled (consuming one signal: true) or the clock reaches
    /// `deadline` (false).
    func wait(_ event: HostEvent, until deadline: UInt64) -> Bool
    /// Blocks until the clock reaches `deadline`.
    func sleep(until deadline: UInt64)
}

extension HostClock {
    /// The deadline `seconds` from now (saturating; negative counts as zero).
    public func deadline(after seconds: Double) -> UInt64 {
        let ns = seconds <= 0 ? 0 : (seconds >= 1e9 ? UInt64(1e18) : UInt64(seconds * 1e9))
        let (d, o) = now().addingReportingOverflow(ns)
        return o ? UInt64.max : d
    }
    /// Waits for `event` at most `seconds`; true when signalled.
    public func wait(_ event: HostEvent, seconds: Double) -> Bool { wait(event, until: deadline(after: seconds)) }
}

/// A counting event one thread signals and another waits for through a `HostClock`.
public final class HostEvent: Sendable {
    private let signals = Atomic<Int>(0)
    /// Wakes a waiter: a real signal or a clock's nudge (the waiter tells them apart by `signals`).
    let semaphore = DispatchSemaphore(value: 0)

    /// An event with no signal pending.
    public init() {}

    /// Records one signal and wakes a waiter.
    public func signal() {
        signals.wrappingAdd(1, ordering: .releasing)
        semaphore.signal()
    }

    /// Consumes one pending signal, if any.
    func tryConsume() -> Bool {
        var v = signals.load(ordering: .acquiring)
        while v > 0 {
            let (done, now) = signals.compareExchange(expected: v, desired: v - 1, ordering: .acquiringAndReleasing)
            if done { return true }
            v = now
        }
        return false
    }
}

/// The host's own clocks: CLOCK_MONOTONIC (through Dispatch) and CLOCK_REALTIME.
public struct SystemClock: HostClock {
    /// The one system clock.
    public static let shared = SystemClock()

    /// Monotonic nanoseconds.
    public func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// CLOCK_REALTIME.
    public func wallTime() -> (seconds: UInt64, nanoseconds: UInt64) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (UInt64(max(0, ts.tv_sec)), UInt64(max(0, ts.tv_nsec)))
    }

    /// Waits on the event's semaphore until the deadline.
    public func wait(_ event: HostEvent, until deadline: UInt64) -> Bool {
        while true {
            if event.tryConsume() { return true }
            guard now() < deadline else { return false }
            _ = event.semaphore.wait(timeout: DispatchTime(uptimeNanoseconds: deadline))
        }
    }

    /// Sleeps until the deadline.
    public func sleep(until deadline: UInt64) {
        let event = HostEvent()
        _ = wait(event, until: deadline)
    }
}

/// A clock that moves only when told (`advance`): waits end when a signal comes or when the
/// clock is advanced past their deadline, never because real time passed.
public final class ManualClock: HostClock {
    private struct Sleeper { var event: HostEvent; var deadline: UInt64 }
    private struct State { var now: UInt64; var wall: UInt64; var sleepers: [ObjectIdentifier: Sleeper] = [:] }
    private let state: Mutex<State>
    private let changed = DispatchSemaphore(value: 0)

    /// A clock at monotonic time `start` and real time `wallStart` (nanoseconds since the epoch).
    public init(start: UInt64 = 1_000_000_000, wallStart: UInt64 = 1_700_000_000_000_000_000) {
        state = Mutex(State(now: start, wall: wallStart))
    }

    /// The current monotonic time.
    public func now() -> UInt64 { state.withLock { $0.now } }
    /// The current real time.
    public func wallTime() -> (seconds: UInt64, nanoseconds: UInt64) {
        let w = state.withLock { $0.wall }
        return (w / 1_000_000_000, w % 1_000_000_000)
    }

    /// Waits for a signal or for the clock to be advanced to `deadline`.
    public func wait(_ event: HostEvent, until deadline: UInt64) -> Bool {
        let key = ObjectIdentifier(event)
        defer { state.withLock { _ = $0.sleepers.removeValue(forKey: key) } }
        while true {
            if event.tryConsume() { return true }
            let expired: Bool = state.withLock { s in
                if s.now >= deadline { return true }
                s.sleepers[key] = Sleeper(event: event, deadline: deadline)
                return false
            }
            if expired { return false }
            changed.signal()
            event.semaphore.wait()
        }
    }

    /// Sleeps until the clock is advanced to `deadline`.
    public func sleep(until deadline: UInt64) { _ = wait(HostEvent(), until: deadline) }

    /// Threads blocked in `wait` or `sleep` now.
    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    /// Moves both clocks forward by `nanoseconds` and wakes every sleeper whose deadline passed.
    public func advance(by nanoseconds: UInt64) {
        let due: [HostEvent] = state.withLock { s in
            s.now &+= nanoseconds; s.wall &+= nanoseconds
            let now = s.now
            return s.sleepers.values.filter { $0.deadline <= now }.map(\.event)
        }
        for e in due { e.semaphore.signal() }
    }

    /// Moves the clocks forward by `seconds`.
    public func advance(seconds: Double) { advance(by: UInt64(max(0, seconds) * 1e9)) }

    /// Blocks until at least `count` threads sleep on this clock, for at most `realSeconds` of
    /// real time (a safety bound for tests; false when it ran out).
    @discardableResult
    public func waitForSleepers(_ count: Int, realSeconds: Double = 10) -> Bool {
        let limit = DispatchTime.now() + .nanoseconds(Int(max(0, min(realSeconds, 86_400)) * 1e9))
        while sleepers < count {
            if changed.wait(timeout: limit) == .timedOut { return sleepers >= count }
        }
        return true
    }
}

/// The credentials and executable of a host process (what login methods name).
public struct ProcessIdentity: Sendable, Hashable {
    /// Effective user id.
    public var uid: UInt32
    /// Effective group id.
    public var gid: UInt32
    /// Supplementary groups.
    public var groups: [UInt32]
    /// Path of the executable (the application id of APPLICATION logins).
    public var executable: String

    /// An identity (tests name one; `current` reads the process's own).
    public init(uid: UInt32, gid: UInt32, groups: [UInt32] = [], executable: String) {
        self.uid = uid; self.gid = gid; self.groups = groups; self.executable = executable
    }

    /// True when the process is in group `gid` (effective or supplementary).
    public func isMember(of gid: UInt32) -> Bool { self.gid == gid || groups.contains(gid) }

    /// This process: geteuid, getegid, getgroups and /proc/self/exe.
    public static var current: ProcessIdentity {
        var groups: [UInt32] = []
        let n = getgroups(0, nil)
        if n > 0 {
            var g = [gid_t](repeating: 0, count: Int(n))
            let m = getgroups(n, &g)
            if m > 0 { groups = g.prefix(Int(m)).map { UInt32($0) } }
        }
        return ProcessIdentity(uid: UInt32(geteuid()), gid: UInt32(getegid()), groups: groups, executable: executablePath())
    }

    private static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return "unknown" }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
