/// Transport: the daemon's wire. Guest processes attach over a Unix socket (control messages,
/// SCM_RIGHTS hand-over of a RAM memfd and a mailbox memfd, SO_PEERCRED identity) and then
/// trap with SMC register frames through per-vCPU shared-memory mailboxes with a futex doorbell.
///
/// Host side, both ends: `TransportServer` runs in the daemon (hypervisor side, non-secure),
/// `TransportClient` in a guest process. It touches sockets, memfds and the daemon's
/// `PhysicalMemory` (adopting guest RAM); it never imports a world. Everything a peer sends is
/// copied, validated, then used; a bad peer is closed with a logged reason.
///
/// Lifecycle: HELLO + [RAM memfd, mailbox memfd] -> the server checks both are memfds sealed
/// against resizing with the announced sizes, adopts the RAM into `PhysicalMemory`, asks its
/// delegate, starts one thread per vCPU and answers WELCOME (or REJECT and closes). Guest RAM
/// byte `i` is IPA `ramBase + i` on both sides. A guest leaves by BYE, by dying (socket EOF), or
/// by breaking the protocol; its vCPU threads finish their current call, mark their slots closed
/// and end; the last one calls `guestDetached`, then its RAM leaves the address space.
/// Wire formats: `WireProtocol.swift` (control messages), `Mailbox.swift` (doorbell slots).
import CShim
import Machine
#if canImport(Glibc)
import Glibc
#endif

/// Limits and tuning of a transport endpoint.
public struct TransportLimits: Sendable {
    /// Most guests attached at once (connections still in their handshake are bounded apart).
    public var maxGuests: Int
    /// Most guests one user (uid) may have attached at once.
    public var maxGuestsPerUser: Int
    /// Most connections in their handshake (accepted, no HELLO yet) at once; when full, the oldest
    /// handshake of the user holding the most gives way.
    public var maxHandshaking: Int
    /// Most connections of one user in their handshake; the user's oldest gives way.
    public var maxHandshakingPerUser: Int
    /// Most vCPU server threads over all guests (one per guest vCPU).
    public var maxVCPUThreads: Int
    /// Most vCPU server threads one user's guests may hold together.
    public var maxVCPUsPerUser: Int
    /// A guest with no call running and none for this long is detached (BYE "idle"); nil: never.
    public var idleTimeout: Duration?
    /// Most RAM pages one guest may hand over.
    public var maxRAMPages: Int
    /// Fewest RAM pages one guest must hand over.
    public var minRAMPages: Int
    /// Most vCPUs (mailbox slots, server threads) per guest.
    public var maxVCPUs: Int
    /// How long a connection may take to send its HELLO.
    public var handshakeTimeout: Duration
    /// Spin steps (each a CPU pause, every 16th also a sched_yield) before a waiting side sleeps
    /// on the futex. Spinning makes the idle-machine round trip a few hundred nanoseconds; the
    /// yields keep spinners from starving their peer on an oversubscribed host.
    public var spinIterations: Int
    /// The longest single futex sleep of a waiting caller (guest side); it re-checks for daemon
    /// death this often.
    public var futexSlice: Duration
    /// The longest single futex sleep of an idle daemon vCPU thread. Requests and shutdown wake it
    /// at once; the slice only bounds a missed wake-up (a guest that clears its waiting flag).
    public var serverIdleSlice: Duration
    /// How long `stop()` waits for guest threads to end before giving up on them.
    public var stopTimeout: Duration
    /// The lowest guest id handed out. A new guest gets the lowest id no attached guest holds
    /// (ids stay below firstGuestID + maxGuests); an id is free again only after its guest's detach ran.
    public var firstGuestID: UInt32

    /// Defaults fit a daemon on a small host.
    public init(maxGuests: Int = 64, maxRAMPages: Int = 1 << 16, minRAMPages: Int = 1, maxVCPUs: Int = 16,
                handshakeTimeout: Duration = .seconds(5), spinIterations: Int = 4_096,
                futexSlice: Duration = .milliseconds(50), serverIdleSlice: Duration = .milliseconds(250),
                stopTimeout: Duration = .seconds(5), firstGuestID: UInt32 = 1,
                maxGuestsPerUser: Int = 16, maxHandshaking: Int = 16, maxHandshakingPerUser: Int = 4,
                maxVCPUThreads: Int = 256, maxVCPUsPerUser: Int = 64, idleTimeout: Duration? = nil) {
        self.maxGuests = maxGuests; self.maxRAMPages = maxRAMPages; self.minRAMPages = minRAMPages
        self.maxVCPUs = maxVCPUs; self.handshakeTimeout = handshakeTimeout; self.spinIterations = spinIterations
        self.futexSlice = futexSlice; self.serverIdleSlice = serverIdleSlice
        self.stopTimeout = stopTimeout; self.firstGuestID = firstGuestID
        self.maxGuestsPerUser = maxGuestsPerUser; self.maxHandshaking = maxHandshaking
        self.maxHandshakingPerUser = maxHandshakingPerUser; self.maxVCPUThreads = maxVCPUThreads
        self.maxVCPUsPerUser = maxVCPUsPerUser; self.idleTimeout = idleTimeout
    }
}

/// A peer process's identity as the kernel reports it (for a guest: the process that sent HELLO).
public struct PeerCredentials: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Effective user id.
    public let uid: UInt32
    /// Effective group id.
    public let gid: UInt32
    /// Process id (at connect time).
    public let pid: Int32
    /// Credentials from raw values.
    public init(uid: UInt32, gid: UInt32, pid: Int32) { self.uid = uid; self.gid = gid; self.pid = pid }
    public var description: String { "uid \(uid) gid \(gid) pid \(pid)" }
}

/// Failures of transport setup (not of calls: a failed call is a frame with an error code).
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A host call failed.
    case host(errno: Int32, what: String)
    /// The daemon refused the guest.
    case rejected(reason: UInt32, message: String)
    /// The peer sent something that is not the protocol.
    case protocolViolation(String)
    /// The peer closed the connection.
    case disconnected
    /// No answer in time.
    case timeout
    /// An argument outside what the protocol allows (pages, vCPUs, path).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .host(e, w): "\(w) failed: \(String(cString: strerror(e)))"
        case let .rejected(r, m): "rejected (\(RejectReason(rawValue: r)?.description ?? "reason \(r)")): \(m)"
        case let .protocolViolation(m): "protocol violation: \(m)"
        case .disconnected: "disconnected"
        case .timeout: "timed out"
        case let .invalidArgument(m): "invalid argument: \(m)"
        }
    }
}

/// Closes a descriptor we own; returns close's result.
@discardableResult
func closeFD(_ fd: Int32) -> Int32 { fd >= 0 ? close(fd) : 0 }

extension Duration {
    /// Whole nanoseconds (saturating at Int64.max).
    var nanoseconds: Int64 {
        let (s, a) = components
        let (m, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return .max }
        let (t, o2) = m.addingReportingOverflow(a / 1_000_000_000)
        return o2 ? .max : t
    }
}

/// Starts a detached OS thread running `body` (vCPU mailbox threads and the accept loop must
/// not be Swift tasks: they block in futex/poll). Returns false when the host refuses.
func spawnThread(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box: @unchecked Sendable {
        // @unchecked: written once before the thread starts, read once by it.
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
    }
    let box = Unmanaged.passRetained(Box(body, name))
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { raw in
        guard let raw else { return nil }
        let b = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
        vtee_set_thread_name(b.name)
        b.body()
        return nil
    }, box.toOpaque())
    guard rc == 0 else { box.release(); return false }
    pthread_detach(tid)
    return true
}

/// The monotonic clock in nanoseconds.
@inline(__always)
func monotonicNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
