/// The daemon side of the transport: accepts guest processes on a Unix socket, adopts their
/// RAM, and serves each vCPU's mailbox on its own thread through the owner's call handler.
import CShim
import Logging
import Machine
import Synchronization
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// What the daemon's owner learns about a guest that completed its HELLO.
public struct GuestHandle: Sendable {
    /// The id assigned to this guest (its client id in a7 is `id.clientID`).
    public let id: GuestID
    /// The identity of the process that sent HELLO, read from the kernel when HELLO arrived:
    /// its pid (SCM_CREDENTIALS on the HELLO bytes) and its effective uid and gid (/proc), never
    /// the connecting process's (which may have handed the socket on, or exec'd since).
    public let credentials: PeerCredentials
    /// The executable of that process (/proc/PID/exe, read while a pidfd held the process, so a
    /// recycled pid cannot answer for it); nil when the kernel would not say (another user's
    /// process): logins that need it must then be refused, never given a guessable name.
    public let executable: String?
    /// The guest's RAM, adopted from its memfd into the server's `PhysicalMemory`
    /// (kind `.guestRAM(id)`). Guest RAM byte `i` is region byte `i`. Removed after detach.
    public let ram: Region
    /// Pages of RAM (== `ram.pages`).
    public let ramPages: Int
    /// vCPUs (mailbox slots, server threads).
    public let vcpus: Int
}

/// Serves one trap of one vCPU of one guest: takes the frame the guest posted, returns the
/// frame it sees on return. Runs on that vCPU's server thread.
public typealias VCPUCallHandler = @Sendable (_ frame: RegisterFrame, _ vcpu: Int) -> RegisterFrame

/// The owner's answer to a new guest.
public enum AttachDecision: Sendable {
    /// Serve it: RAM byte 0 appears to the guest at IPA `ramBase`; calls go to `handler`.
    case accept(ramBase: IPA, handler: VCPUCallHandler)
    /// Turn it away with a message (sent to the guest in REJECT).
    case refuse(String)
}

/// Why a guest went away.
public enum DetachReason: Equatable, Sendable, CustomStringConvertible {
    /// The guest said BYE.
    case goodbye
    /// The socket closed or failed (the guest process died or closed it).
    case disconnected
    /// The guest broke the protocol (garbage, a second RAM hand-over, stray descriptors).
    case protocolViolation(RejectReason)
    /// The server is stopping.
    case serverStopping
    /// No call for longer than `TransportLimits.idleTimeout`.
    case idle
    /// A host resource failed while serving it.
    case hostFailure
    public var description: String {
        switch self {
        case .goodbye: "goodbye"
        case .disconnected: "disconnected"
        case let .protocolViolation(r): "protocol violation: \(r)"
        case .serverStopping: "server stopping"
        case .idle: "idle"
        case .hostFailure: "host failure"
        }
    }
}

/// The daemon owner's hooks: attach decides and supplies the call handler; detach is called
/// once per accepted guest after all its vCPU threads have ended (no call of it is running).
public protocol TransportServerDelegate: Sendable {
    /// A guest completed a valid HELLO; its RAM is already adopted. Runs on the accept thread: be quick.
    func guestAttached(_ guest: GuestHandle) -> AttachDecision
    /// An accepted guest is gone and none of its calls is running; its RAM region is removed right after.
    func guestDetached(_ id: GuestID, reason: DetachReason)
}

/// A summary of one attached guest, for stats.
public struct GuestSummary: Sendable, Equatable {
    /// Guest id.
    public let id: GuestID
    /// Kernel-reported identity.
    public let credentials: PeerCredentials
    /// vCPUs.
    public let vcpus: Int
    /// RAM pages.
    public let ramPages: Int
    /// Calls served so far.
    public let calls: Int
    /// Calls being served right now (vCPU threads inside the handler).
    public let callsInFlight: Int
}

/// Counters of a server, for stats and tests.
public struct TransportServerStats: Sendable, Equatable {
    /// Guests attached and not yet fully detached.
    public var guests: Int
    /// Connections turned away or thrown out for a protocol or limit reason.
    public var rejected: Int
    /// Guests fully detached so far.
    public var detached: Int
    /// Connections accepted that have not completed their HELLO yet.
    public var handshaking: Int
    /// vCPU server threads of attached guests.
    public var vcpuThreads: Int = 0
}

/// The transport's clock: monotonic nanoseconds (injectable, so tests drive deadlines and idle
/// timeouts without waiting).
public typealias TransportClock = @Sendable () -> Int64

/// The real clock: CLOCK_MONOTONIC in nanoseconds.
public let transportMonotonicClock: TransportClock = { monotonicNanos() }

/// A per-guest record shared by the accept thread and the guest's vCPU threads.
final class AttachedGuest: Sendable {
    let handle: GuestHandle
    let mailbox: MailboxMapping
    let handler: VCPUCallHandler
    let stopping = Atomic<Bool>(false)
    let liveThreads: Atomic<Int>
    let calls = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    /// Clock reading of the last call's end (or of the attach).
    let lastActive: Atomic<Int64>
    let reason = Mutex<DetachReason>(.disconnected)

    init(handle: GuestHandle, mailbox: MailboxMapping, handler: @escaping VCPUCallHandler, now: Int64) {
        self.handle = handle; self.mailbox = mailbox; self.handler = handler
        self.lastActive = Atomic(now)
        self.liveThreads = Atomic(handle.vcpus)
    }

    /// Asks every vCPU thread to end (after any call it is running) and wakes the sleepers.
    func beginStop(_ why: DetachReason) {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        reason.withLock { $0 = why }
        for i in 0..<mailbox.slots { mailbox.slot(i)?.wake() }
    }
}

/// The daemon's listener. Create it, hand it a delegate, call `stop()` to end it.
public final class TransportServer: Sendable {
    /// The socket file path.
    public let socketPath: String
    /// Limits in force.
    public let limits: TransportLimits
    private let memory: PhysicalMemory
    private let delegate: any TransportServerDelegate
    private let logger: Logger
    private let listenFD: Int32
    private let wakeFD: Int32
    private let stopping = Atomic<Bool>(false)
    private let loopEnded = Atomic<Bool>(false)
    /// Test seam: run on the accept thread when connections wait to be accepted, before it accepts
    /// them (a test holds it to make a burst of connections arrive at once, as on a loaded host).
    let beforeAccept = Mutex<(@Sendable () -> Void)?>(nil)
    private let liveGuests = Atomic<Int>(0)
    private let handshaking = Atomic<Int>(0)
    private let rejectedCount = Atomic<Int>(0)
    private let detachedCount = Atomic<Int>(0)
    private let idsInUse = Mutex<Set<UInt32>>([])
    private let vcpuThreads = Atomic<Int>(0)
    private let clock: TransportClock
    private let guests = Mutex<[UInt32: AttachedGuest]>([:])
    /// The shared tee-supplicants by uid and their outstanding channel offers (accept thread).
    private let routes = Mutex(SupplicantRoutes())
    /// Ids of the guests attached as their uid's shared supplicant (stats).
    private let supplicantGuestIDs = Mutex<Set<UInt32>>([])

    /// Listens on `socketPath` (created with `mode`; a stale socket file there is replaced) and
    /// starts the accept thread. Guest RAM is adopted into `memory`.
    public init(socketPath: String, mode: UInt32 = 0o600, limits: TransportLimits = TransportLimits(),
                memory: PhysicalMemory, delegate: any TransportServerDelegate,
                logger: Logger = Logger(label: "vtee.transport.server"),
                clock: @escaping TransportClock = transportMonotonicClock) throws(TransportError) {
        self.socketPath = socketPath; self.limits = limits; self.memory = memory; self.clock = clock
        self.delegate = delegate; self.logger = logger
        var fd = vtee_unix_listen(socketPath, mode, 64)
        if fd < 0 && errno == EADDRINUSE {
            // Replace the file only when nobody answers on it (a dead daemon's leftover).
            let probe = vtee_unix_connect(socketPath)
            if probe >= 0 { closeFD(probe); throw .host(errno: EADDRINUSE, what: "bind \(socketPath)") }
            var st = stat()
            if lstat(socketPath, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { unlink(socketPath) }
            fd = vtee_unix_listen(socketPath, mode, 64)
        }
        guard fd >= 0 else { throw .host(errno: errno, what: "listen on \(socketPath)") }
        // Accepted sockets inherit SO_PASSCRED: each read names the process that wrote the bytes.
        guard vtee_set_passcred(fd) == 0 else { let e = errno; closeFD(fd); unlink(socketPath); throw .host(errno: e, what: "SO_PASSCRED") }
        let w = vtee_eventfd()
        guard w >= 0 else { let e = errno; closeFD(fd); unlink(socketPath); throw .host(errno: e, what: "eventfd") }
        listenFD = fd; wakeFD = w
        guard spawnThread(name: "vtee-accept", { [self] in runLoop() }) else {
            closeFD(fd); closeFD(w); unlink(socketPath)
            throw .host(errno: EAGAIN, what: "pthread_create")
        }
        logger.info("transport listening", metadata: ["socket": "\(socketPath)", "maxGuests": "\(limits.maxGuests)"])
    }

    /// Stops accepting, tells connected guests (BYE), ends their vCPU threads after their
    /// current call, waits for detaches up to `limits.stopTimeout`, removes the socket file.
    /// Returns true when everything ended in time. Idempotent.
    @discardableResult
    public func stop() -> Bool {
        if !stopping.exchange(true, ordering: .acquiringAndReleasing) { vtee_eventfd_signal(wakeFD) }
        let deadline = monotonicNanos() + limits.stopTimeout.nanoseconds
        while monotonicNanos() < deadline {
            if loopEnded.load(ordering: .acquiring) && liveGuests.load(ordering: .acquiring) == 0 { return true }
            var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&ts, nil)
        }
        logger.warning("transport stop: guests still running after the bound", metadata: ["guests": "\(liveGuests.load(ordering: .relaxed))"])
        return false
    }

    /// Current counters.
    public var stats: TransportServerStats {
        TransportServerStats(guests: liveGuests.load(ordering: .relaxed), rejected: rejectedCount.load(ordering: .relaxed),
                             detached: detachedCount.load(ordering: .relaxed), handshaking: handshaking.load(ordering: .relaxed),
                             vcpuThreads: vcpuThreads.load(ordering: .relaxed))
    }

    /// Wakes the accept thread so it checks deadlines and idle guests now (after a test moved
    /// the injected clock).
    public func poke() { if !stopping.load(ordering: .acquiring) { vtee_eventfd_signal(wakeFD) } }

    /// Ids of the guests serving as their uid's shared tee-supplicant.
    public var sharedSupplicantGuests: Set<UInt32> { supplicantGuestIDs.withLock { $0 } }

    /// The attached guests, by id.
    public var attachedGuests: [GuestSummary] {
        guests.withLock { g in
            g.values.map { GuestSummary(id: $0.handle.id, credentials: $0.handle.credentials, vcpus: $0.handle.vcpus,
                                        ramPages: $0.handle.ramPages, calls: $0.calls.load(ordering: .relaxed),
                                        callsInFlight: $0.inFlight.load(ordering: .relaxed)) }
        }.sorted { $0.id < $1.id }
    }

    // MARK: - Accept loop (one thread)

    /// A connection as the accept thread sees it.
    private struct Connection {
        let fd: Int32
        let credentials: PeerCredentials
        let deadline: Int64
        /// Accept order (the oldest handshake gives way first).
        let serial: UInt64
        /// The process whose bytes are buffered before HELLO (all must come from one sender).
        var sender: vtee_sender_t?
        var buffer: [UInt8] = []
        var fds: [Int32] = []
        var guest: AttachedGuest?
        /// The writer of the bytes read last (SCM_CREDENTIALS).
        var lastSender: vtee_sender_t?
    }

    private func runLoop() {
        var conns: [Int32: Connection] = [:]
        var pfds: [pollfd] = []
        var serial: UInt64 = 0
        while !stopping.load(ordering: .acquiring) {
            pfds.removeAll(keepingCapacity: true)
            pfds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            pfds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0))
            let now = clock()
            var timeoutMs: Int64 = 100
            for c in conns.values {
                pfds.append(pollfd(fd: c.fd, events: Int16(POLLIN) | Int16(VTEE_POLLRDHUP), revents: 0))
                if c.guest == nil { timeoutMs = min(timeoutMs, max(0, (c.deadline - now) / 1_000_000 + 1)) }
            }
            let n = poll(&pfds, nfds_t(pfds.count), Int32(timeoutMs))
            if n < 0 {
                // EINTR, or a transient ENOMEM: keep serving (stop() is the only way out of this loop).
                if errno != EINTR { logger.error("transport poll failed", metadata: ["errno": "\(errno)"]); usleep(10_000) }
                continue
            }
            if pfds[0].revents != 0 { vtee_eventfd_drain(wakeFD) }
            if stopping.load(ordering: .acquiring) { break }
            if pfds[1].revents != 0 {
                if let gate = beforeAccept.withLock({ $0 }) { gate() }
                acceptAll(&conns, &serial)
            }
            for p in pfds.dropFirst(2) where p.revents != 0 {
                if var c = conns[p.fd] {
                    let keep = service(&c)
                    if keep { conns[p.fd] = c } else { conns[p.fd] = nil }
                }
            }
            // Handshake deadlines.
            let t = clock()
            for (fd, c) in conns where c.guest == nil && c.deadline <= t {
                logger.debug("transport: handshake timeout", metadata: ["pid": "\(c.credentials.pid)"])
                drop(c, reject: .handshakeTimeout, message: "no HELLO in time")
                conns[fd] = nil
            }
            // Idle guests: no call running and none for longer than the idle timeout.
            if let idle = limits.idleTimeout?.nanoseconds {
                for (fd, c) in conns where !routes.withLock({ $0.isSupplicant(fd) }) {
                    guard let g = c.guest, g.inFlight.load(ordering: .acquiring) == 0,
                          t - g.lastActive.load(ordering: .acquiring) >= idle else { continue }
                    logger.info("transport: idle guest detached", metadata: ["guest": "\(g.handle.id.raw)"])
                    send(c.fd, .bye(reason: RejectReason.idle.rawValue))
                    closeConnection(c)
                    g.beginStop(.idle)
                    conns[fd] = nil
                }
            }
        }
        // Shutdown: tell everyone, close everything, remove the socket.
        for c in conns.values {
            if let g = c.guest {
                send(c.fd, .bye(reason: RejectReason.shuttingDown.rawValue))
                closeConnection(c)
                g.beginStop(.serverStopping)
            } else {
                send(c.fd, .reject(reason: RejectReason.shuttingDown.rawValue, message: "daemon stopping"))
                closeConnection(c)
            }
        }
        closeFD(listenFD)
        unlink(socketPath)
        closeFD(wakeFD)
        loopEnded.store(true, ordering: .releasing)
        logger.info("transport stopped accepting", metadata: ["socket": "\(socketPath)"])
    }

    private func acceptAll(_ conns: inout [Int32: Connection], _ serial: inout UInt64) {
        while true {
            var uid: UInt32 = 0, gid: UInt32 = 0, pid: Int32 = 0
            let fd = vtee_unix_accept(listenFD, &uid, &gid, &pid)
            if fd < 0 {
                if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED {
                    logger.debug("transport accept failed", metadata: ["errno": "\(errno)"])
                }
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let creds = PeerCredentials(uid: uid, gid: gid, pid: pid)
            // Every message read from this socket names its sender (inherited from the listener;
            // set again in case this kernel does not pass the flag on).
            _ = vtee_set_passcred(fd)
            serial += 1
            let c = Connection(fd: fd, credentials: creds, deadline: clock() + limits.handshakeTimeout.nanoseconds, serial: serial)
            // Handshakes have their own small bound, apart from the guest limit: per user, then
            // overall. When full, the OLDEST handshake of the user holding the most gives way, so
            // silent connections of one user cannot keep anyone else from saying HELLO.
            // A burst accepted in one go (a loaded host wakes this thread late) may hold HELLOs
            // already waiting in their sockets: read them before anyone is made to give way, so a
            // guest that did say HELLO is never dropped as silent.
            var mine = conns.values.filter { $0.guest == nil && $0.credentials.uid == uid }
            if mine.count >= limits.maxHandshakingPerUser {
                serviceHandshakes(&conns) { $0.credentials.uid == uid }
                mine = conns.values.filter { $0.guest == nil && $0.credentials.uid == uid }
            }
            if mine.count >= limits.maxHandshakingPerUser, let oldest = mine.min(by: { $0.serial < $1.serial }) {
                drop(oldest, reject: .tooManyHandshakes, message: "uid \(uid) has \(mine.count) connections without HELLO")
                conns[oldest.fd] = nil
            }
            var waiting = conns.values.filter { $0.guest == nil }
            if waiting.count >= limits.maxHandshaking {
                serviceHandshakes(&conns) { _ in true }
                waiting = conns.values.filter { $0.guest == nil }
            }
            if waiting.count >= limits.maxHandshaking {
                let byUser = Dictionary(grouping: waiting, by: { $0.credentials.uid })
                if let most = byUser.values.max(by: { $0.count < $1.count }), let oldest = most.min(by: { $0.serial < $1.serial }) {
                    drop(oldest, reject: .tooManyHandshakes, message: "\(waiting.count) connections without HELLO")
                    conns[oldest.fd] = nil
                }
            }
            handshaking.wrappingAdd(1, ordering: .relaxed)
            conns[fd] = c
        }
    }

    /// Reads what the handshaking connections chosen by `which` have sent (non-blocking), so a
    /// HELLO already in a socket attaches its guest before the handshake bound is applied.
    private func serviceHandshakes(_ conns: inout [Int32: Connection], _ which: (Connection) -> Bool) {
        for fd in conns.keys {
            guard var c = conns[fd], c.guest == nil, which(c) else { continue }
            conns[fd] = service(&c) ? c : nil
        }
    }

    /// Reads what the connection has; returns false when it was closed.
    private func service(_ c: inout Connection) -> Bool {
        var chunk = [UInt8](repeating: 0, count: Wire.headerSize + Wire.maxPayload)
        while true {
            var fds = [Int32](repeating: -1, count: Wire.helloDescriptorCount)
            var nfds: Int32 = 0, truncated: Int32 = 0
            var from = vtee_sender_t()
            let room = Wire.headerSize + Wire.maxPayload - c.buffer.count
            let n = chunk.withUnsafeMutableBytes { b in
                vtee_recv_with_fds_creds(c.fd, b.baseAddress, max(room, 1), &fds, Int32(fds.count), &nfds, &truncated, 1, &from)
            }
            let received = Array(fds.prefix(Int(max(0, nfds))))
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { return true }
                logger.debug("transport: recv failed", metadata: ["errno": "\(errno)"])
                return leave(c, .disconnected)
            }
            if n == 0 {
                for f in received { closeFD(f) }
                return leave(c, .disconnected)
            }
            c.lastSender = from
            // Before HELLO every byte must come from one process, the one the guest will be.
            if c.guest == nil {
                guard from.present != 0, from.pid > 0 else {
                    for f in received { closeFD(f) }
                    return fault(c, .unidentified, "bytes without a sender the kernel can name")
                }
                if let first = c.sender, first.pid != from.pid || first.uid != from.uid || first.gid != from.gid {
                    for f in received { closeFD(f) }
                    return fault(c, .unidentified, "HELLO bytes from two processes (pid \(first.pid) and \(from.pid))")
                }
                c.sender = from
            }
            // Descriptors: only a handshaking connection may send them, two at most, with the HELLO.
            if !received.isEmpty || truncated != 0 {
                if c.guest != nil || truncated != 0 || c.fds.count + received.count > Wire.helloDescriptorCount {
                    for f in received { closeFD(f) }
                    let why: RejectReason = c.guest != nil ? .duplicateHello : .unexpectedDescriptors
                    return fault(c, why, "descriptors out of place")
                }
                c.fds += received
            }
            c.buffer += chunk.prefix(n)
            // Decode every whole message buffered.
            while true {
                let decoded: (message: ControlMessage, consumed: Int)?
                do { decoded = try ControlMessage.decode(c.buffer) } catch {
                    return fault(c, error.rejectReason, "\(error)")
                }
                guard let (msg, used) = decoded else {
                    if c.buffer.count >= Wire.headerSize + Wire.maxPayload { return fault(c, .malformed, "oversized") }
                    break
                }
                c.buffer.removeFirst(used)
                switch msg {
                case let .hello(version, pages, vcpus):
                    if c.guest != nil { return fault(c, .duplicateHello, "second HELLO") }
                    guard attach(&c, version: version, pages: pages, vcpus: vcpus) else { return false }
                case let .bye(reason):
                    logger.debug("transport: guest said goodbye", metadata: ["reason": "\(reason)"])
                    return leave(c, .goodbye)
                case .welcome, .reject, .supplicantStatus, .supplicantPeer, .supplicantConnected, .supplicantAvailable:
                    return fault(c, .malformed, "\(msg.type) is daemon-to-guest")
                case .supplicantAttach, .supplicantDetach, .supplicantConnect, .supplicantPeerAck:
                    guard let g = c.guest else { return fault(c, .malformed, "\(msg.type) before HELLO") }
                    // SO_PASSCRED names the writer of these bytes: it must still be the guest's user.
                    if let from = c.lastSender, from.present != 0, from.uid != g.handle.credentials.uid {
                        return fault(c, .unidentified, "\(msg.type) from uid \(from.uid), the guest is uid \(g.handle.credentials.uid)")
                    }
                    supplicantMessage(msg, from: c.fd, guest: g.handle.id.raw, uid: g.handle.credentials.uid, pid: g.handle.credentials.pid)
                }
            }
        }
    }

    /// Validates a HELLO and the descriptors it brought; attaches. False when the connection was closed.
    private func attach(_ c: inout Connection, version: UInt32, pages: UInt32, vcpus: UInt32) -> Bool {
        let fds = c.fds
        c.fds = []
        func refuse(_ why: RejectReason, _ text: String) -> Bool {
            for f in fds { closeFD(f) }
            return fault(c, why, text)
        }
        guard version == UInt32(Wire.version) else { return refuse(.unsupportedVersion, "HELLO version \(version)") }
        guard pages >= UInt32(limits.minRAMPages), pages <= UInt32(limits.maxRAMPages) else {
            return refuse(.limits, "ramPages \(pages) outside \(limits.minRAMPages)...\(limits.maxRAMPages)")
        }
        guard vcpus >= 1, vcpus <= UInt32(limits.maxVCPUs) else { return refuse(.limits, "vcpus \(vcpus) outside 1...\(limits.maxVCPUs)") }
        // Admission of an identified guest: the daemon's and this user's share of guests and threads.
        if liveGuests.load(ordering: .relaxed) >= limits.maxGuests {
            return refuse(.tooManyGuests, "the daemon serves \(limits.maxGuests) guests at most")
        }
        let uid = c.credentials.uid
        let (userGuests, userVCPUs) = guests.withLock { g in
            g.values.reduce((0, 0)) { acc, x in x.handle.credentials.uid == uid ? (acc.0 + 1, acc.1 + x.handle.vcpus) : acc }
        }
        if userGuests >= limits.maxGuestsPerUser {
            return refuse(.tooManyGuests, "uid \(uid) has \(userGuests) guests attached, the most one user may")
        }
        if userVCPUs + Int(vcpus) > limits.maxVCPUsPerUser {
            return refuse(.limits, "uid \(uid) would hold \(userVCPUs + Int(vcpus)) vCPU threads, the most is \(limits.maxVCPUsPerUser)")
        }
        if vcpuThreads.load(ordering: .relaxed) + Int(vcpus) > limits.maxVCPUThreads {
            return refuse(.limits, "the daemon runs \(limits.maxVCPUThreads) vCPU threads at most")
        }
        guard fds.count == Wire.helloDescriptorCount else { return refuse(.badRAM, "HELLO needs RAM and mailbox memfds, got \(fds.count)") }
        let ramFD = fds[0], mailboxFD = fds[1]
        let ramBytes = UInt64(pages) * UInt64(pageSize)
        if let problem = Self.checkFrozenMemfd(ramFD, bytes: ramBytes) { return refuse(.badRAM, "RAM: \(problem)") }
        let mailboxBytes = UInt64(MailboxLayout.byteCount(vcpus: Int(vcpus)))
        if let problem = Self.checkFrozenMemfd(mailboxFD, bytes: mailboxBytes) { return refuse(.badMailbox, "mailbox: \(problem)") }
        guard !Self.sameFile(ramFD, mailboxFD) else { return refuse(.badMailbox, "mailbox is the RAM memfd") }
        let speaker: PeerCredentials, executable: String?
        switch Self.identify(c.sender, connector: c.credentials) {
        case let .success(who): (speaker, executable) = who
        case let .failure(why): return refuse(.unidentified, why.text)
        }

        guard let mailbox = MailboxMapping(fd: mailboxFD, slots: Int(vcpus)) else {
            closeFD(ramFD)
            closeFD(mailboxFD)   // a failed init does not take ownership
            return fault(c, .hostFailure, "mailbox mmap failed")
        }
        // The lowest id no attached guest holds, so ids stay below firstGuestID + maxGuests however
        // many guests came and went (the owner may size per-guest tables by it).
        let id = GuestID(idsInUse.withLock { used -> UInt32 in
            var i = limits.firstGuestID
            while used.contains(i) { i += 1 }
            used.insert(i)
            return i
        })
        let region: Region
        do { region = try memory.addRegion(kind: .guestRAM(id), pages: Int(pages), adoptingFD: ramFD) } catch {
            closeFD(ramFD)
            idsInUse.withLock { _ = $0.remove(id.raw) }
            return fault(c, .hostFailure, "RAM: \(error)")
        }
        let handle = GuestHandle(id: id, credentials: speaker, executable: executable, ram: region,
                                 ramPages: Int(pages), vcpus: Int(vcpus))
        let decision = delegate.guestAttached(handle)
        guard case let .accept(ramBase, handler) = decision else {
            memory.removeRegion(region)
            idsInUse.withLock { _ = $0.remove(id.raw) }
            if case let .refuse(text) = decision { return fault(c, .refused, text) }
            return fault(c, .refused, "refused")
        }
        let g = AttachedGuest(handle: handle, mailbox: mailbox, handler: handler, now: clock())
        handshaking.wrappingSubtract(1, ordering: .relaxed)
        liveGuests.wrappingAdd(1, ordering: .relaxed)
        vcpuThreads.wrappingAdd(Int(vcpus), ordering: .relaxed)
        guests.withLock { $0[id.raw] = g }
        c.guest = g
        for v in 0..<Int(vcpus) {
            let ok = spawnThread(name: "vtee-g\(id.raw)v\(v)") { [self] in serveVCPU(g, v) }
            if !ok { g.beginStop(.hostFailure); vcpuEnded(g) }
        }
        guard send(c.fd, .welcome(guestID: id.raw, vcpus: vcpus, ramBase: ramBase.raw)) else {
            return leave(c, .disconnected)
        }
        logger.info("transport: guest attached", metadata: [
            "guest": "\(id.raw)", "pid": "\(speaker.pid)", "uid": "\(speaker.uid)", "exe": "\(executable ?? "-")",
            "pages": "\(pages)", "vcpus": "\(vcpus)"])
        return true
    }

    /// Why the sender of a HELLO has no identity.
    struct Unidentified: Error { let text: String }

    /// The identity of the process that sent the HELLO bytes: its pid from SCM_CREDENTIALS, and,
    /// read while a pidfd pins that process (so a recycled pid cannot answer), its effective uid
    /// and gid and its executable. The sender must be the connecting user. Fails when the kernel
    /// cannot name the sender or it has already exited.
    static func identify(_ sender: vtee_sender_t?, connector: PeerCredentials)
        -> Result<(PeerCredentials, String?), Unidentified> {
        guard let s = sender, s.present != 0, s.pid > 0 else { return .failure(Unidentified(text: "HELLO without sender credentials")) }
        let pidfd = vtee_pidfd_open(s.pid)
        guard pidfd >= 0 else { return .failure(Unidentified(text: "HELLO sender \(s.pid) is gone")) }
        defer { closeFD(pidfd) }
        var euid: UInt32 = 0, egid: UInt32 = 0
        guard vtee_process_effective_ids(s.pid, &euid, &egid) == 0 else {
            return .failure(Unidentified(text: "HELLO sender \(s.pid): credentials unreadable"))
        }
        let exe = executablePath(pid: s.pid)
        // Still the same process: had it exited, its pid could now name another one.
        guard vtee_fd_readable(pidfd) == 0 else { return .failure(Unidentified(text: "HELLO sender \(s.pid) exited during the handshake")) }
        guard euid == connector.uid else {
            return .failure(Unidentified(text: "HELLO sender runs as uid \(euid), the connection was made by uid \(connector.uid)"))
        }
        return .success((PeerCredentials(uid: euid, gid: egid, pid: s.pid), exe))
    }

    /// The executable of `pid` (/proc/PID/exe), or nil when the kernel does not say.
    static func executablePath(pid: Int32) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// nil when `fd` is a regular file (memfd) of exactly `bytes` bytes whose size is sealed.
    static func checkFrozenMemfd(_ fd: Int32, bytes: UInt64) -> String? {
        let seals = vtee_memfd_freeze_size(fd)
        guard seals >= 0, seals & Int32(VTEE_SEALS_SIZE) == Int32(VTEE_SEALS_SIZE) else {
            return "not a memfd sealed against resizing"
        }
        var size: UInt64 = 0, regular: Int32 = 0
        guard vtee_fd_size(fd, &size, &regular) == 0, regular != 0 else { return "not a regular file" }
        guard size == bytes else { return "size \(size) bytes, expected \(bytes)" }
        return nil
    }

    /// Whether two descriptors name the same file (device and inode).
    static func sameFile(_ a: Int32, _ b: Int32) -> Bool {
        var sa = stat(), sb = stat()
        guard fstat(a, &sa) == 0, fstat(b, &sb) == 0 else { return true }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    // MARK: - Leaving

    /// Closes a connection for a protocol fault: REJECT with the reason, log, count.
    private func fault(_ c: Connection, _ why: RejectReason, _ text: String) -> Bool {
        logger.debug("transport: closing connection", metadata: [
            "pid": "\(c.credentials.pid)", "reason": "\(why)", "detail": "\(text)"])
        drop(c, reject: why, message: text)
        return false
    }

    /// Sends REJECT, closes the socket, stops the guest if attached.
    private func drop(_ c: Connection, reject why: RejectReason, message: String, counted: Bool = true) {
        rejectedCount.wrappingAdd(1, ordering: .relaxed)
        send(c.fd, .reject(reason: why.rawValue, message: message))
        if counted && c.guest == nil { handshaking.wrappingSubtract(1, ordering: .relaxed) }
        closeConnection(c)
        c.guest?.beginStop(.protocolViolation(why))
    }

    /// A connection ends without fault (EOF, BYE).
    private func leave(_ c: Connection, _ why: DetachReason) -> Bool {
        if c.guest == nil { handshaking.wrappingSubtract(1, ordering: .relaxed) }
        closeConnection(c)
        c.guest?.beginStop(why)
        return false
    }

    private func closeConnection(_ c: Connection) {
        // Before the descriptor number can be reused: its offers go, and a supplicant's waiting
        // clients learn there is none.
        if let g = c.guest { supplicantGuestIDs.withLock { _ = $0.remove(g.handle.id.raw) } }
        for o in routes.withLock({ $0.closed(fd: c.fd) }) {
            closeFD(o.clientEnd)
            if o.client != c.fd { answerNone(o.client, uid: o.uid) }
        }
        for f in c.fds { closeFD(f) }
        closeFD(c.fd)
    }

    @discardableResult
    private func send(_ fd: Int32, _ m: ControlMessage, descriptor: Int32? = nil) -> Bool {
        let bytes = m.encode()
        let fds: [Int32] = descriptor.map { [$0] } ?? []
        let n = bytes.withUnsafeBytes { b in fds.withUnsafeBufferPointer { f in
            vtee_send_with_fds(fd, b.baseAddress, b.count, f.baseAddress, Int32(f.count), 1)
        } }
        return n == bytes.count
    }

    // MARK: - Shared tee-supplicant routing

    /// One supplicant message of attached connection `fd` (uid and pid as the kernel named them
    /// at HELLO). Answers go out at once; no call waits here.
    private func supplicantMessage(_ m: ControlMessage, from fd: Int32, guest: UInt32, uid: UInt32, pid: Int32) {
        switch m {
        case .supplicantAttach:
            let ok = routes.withLock { $0.attach(uid: uid, fd: fd) }
            if ok { supplicantGuestIDs.withLock { _ = $0.insert(guest) } }
            logger.info("transport: shared supplicant attach", metadata: ["uid": "\(uid)", "pid": "\(pid)", "ok": "\(ok)"])
            // The uid's processes that were told there is none ask again from their next request:
            // told before the supplicant's open returns, so a call made after it is routed.
            if ok { for c in routes.withLock({ $0.takeToldAbsent(uid: uid) }) where c != fd { send(c, .supplicantAvailable) } }
            send(fd, .supplicantStatus(errno: ok ? 0 : UInt32(EBUSY)))
        case .supplicantDetach:
            supplicantGuestIDs.withLock { _ = $0.remove(guest) }
            for o in routes.withLock({ $0.detach(fd: fd) }) {
                closeFD(o.clientEnd)
                answerNone(o.client, uid: uid)
            }
            logger.info("transport: shared supplicant detach", metadata: ["uid": "\(uid)", "pid": "\(pid)"])
        case .supplicantConnect:
            guard let s = routes.withLock({ $0.route(uid: uid, fd: fd) }) else {
                // None (ENOENT, remembered by the client until SUPP_AVAILABLE), or one with too
                // many offers outstanding (EAGAIN: this request is served locally, the next asks again).
                if routes.withLock({ $0.supplicants[uid] }) == nil { answerNone(fd, uid: uid) }
                else { send(fd, .supplicantConnected(errno: UInt32(EAGAIN))) }
                return
            }
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                send(fd, .supplicantConnected(errno: UInt32(errno))); return
            }
            let token = routes.withLock { $0.offer(client: fd, to: s, clientEnd: pair[0]) }
            let sent = send(s, .supplicantPeer(token: token, pid: UInt32(bitPattern: pid), uid: uid), descriptor: pair[1])
            closeFD(pair[1])
            if !sent, let o = routes.withLock({ $0.acknowledge(token: token, from: s) }) {
                // The supplicant cannot be reached (gone, or not reading): the client falls back.
                closeFD(o.clientEnd)
                send(fd, .supplicantConnected(errno: UInt32(EAGAIN)))
            }
        case let .supplicantPeerAck(token, accepted):
            guard let o = routes.withLock({ $0.acknowledge(token: token, from: fd) }) else {
                logger.debug("transport: stray supplicant ack", metadata: ["token": "\(token)", "pid": "\(pid)"]); return
            }
            if accepted { send(o.client, .supplicantConnected(errno: 0), descriptor: o.clientEnd) }
            else { send(o.client, .supplicantConnected(errno: UInt32(EAGAIN))) }
            closeFD(o.clientEnd)
        default:
            break
        }
    }

    /// SUPP_CONNECTED ENOENT to client `fd` of `uid`, which then serves locally without asking
    /// until SUPP_AVAILABLE.
    private func answerNone(_ fd: Int32, uid: UInt32) {
        routes.withLock { $0.noteAbsent(uid: uid, fd: fd) }
        send(fd, .supplicantConnected(errno: UInt32(ENOENT)))
    }

    // MARK: - vCPU threads

    private func serveVCPU(_ g: AttachedGuest, _ vcpu: Int) {
        guard let slot = g.mailbox.slot(vcpu) else { vcpuEnded(g); return }
        let spinLimit = limits.spinIterations
        let slice = limits.serverIdleSlice.nanoseconds
        // lastActive only feeds the idle timeout: without one, no clock read per call.
        let tracksIdle = limits.idleTimeout != nil
        // Spin only right after a call (the next one tends to follow at once); an idle vCPU
        // sleeps on the futex and stays asleep across timeouts, so idle guests cost no CPU.
        var idle = spinLimit
        while !g.stopping.load(ordering: .relaxed) {
            let s = vtee_load_acquire_u32(slot.state)
            if s == MailboxState.request.rawValue
                && vtee_cas_u32(slot.state, MailboxState.request.rawValue, MailboxState.busy.rawValue) != 0 {
                g.inFlight.wrappingAdd(1, ordering: .relaxed)
                let request = slot.readFrame()
                vtee_publish_cpu(slot.serverCPU)
                let response = g.handler(request, vcpu)
                slot.writeFrame(response)
                vtee_store_seqcst_u32(slot.state, MailboxState.response.rawValue)
                if vtee_load_seqcst_u32(slot.clientWaiting) != 0 { slot.wake() }
                if tracksIdle { g.lastActive.store(clock(), ordering: .releasing) }
                g.inFlight.wrappingSubtract(1, ordering: .releasing)
                g.calls.wrappingAdd(1, ordering: .relaxed)
                idle = 0
                continue
            }
            if idle < spinLimit {
                idle += Int(vtee_spin_wait_step(UInt32(truncatingIfNeeded: idle), slot.serverCPU, slot.clientCPU)); continue
            }
            vtee_store_seqcst_u32(slot.serverWaiting, 1)
            let again = vtee_load_seqcst_u32(slot.state)
            if again != MailboxState.request.rawValue && !g.stopping.load(ordering: .acquiring) {
                _ = vtee_futex_wait(slot.state, again, slice)
            }
            vtee_store_release_u32(slot.serverWaiting, 0)
        }
        // Closed: a caller waiting on this slot sees it at once. An unread RESPONSE stays for its
        // caller; that caller's next trap then finds the socket hung up.
        if vtee_cas_u32(slot.state, MailboxState.idle.rawValue, MailboxState.closed.rawValue) == 0 {
            _ = vtee_cas_u32(slot.state, MailboxState.request.rawValue, MailboxState.closed.rawValue)
        }
        slot.wake()
        vcpuEnded(g)
    }

    /// The last vCPU thread of a guest to end detaches it.
    private func vcpuEnded(_ g: AttachedGuest) {
        guard g.liveThreads.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
        let why = g.reason.withLock { $0 }
        delegate.guestDetached(g.handle.id, reason: why)
        memory.removeRegion(g.handle.ram)
        guests.withLock { if $0[g.handle.id.raw] === g { $0[g.handle.id.raw] = nil } }
        // The id is free before the guest count drops, so a guest admitted in its place finds an
        // id below firstGuestID + maxGuests.
        idsInUse.withLock { _ = $0.remove(g.handle.id.raw) }
        detachedCount.wrappingAdd(1, ordering: .relaxed)
        vcpuThreads.wrappingSubtract(g.handle.vcpus, ordering: .relaxed)
        liveGuests.wrappingSubtract(1, ordering: .releasing)
        logger.info("transport: guest detached", metadata: ["guest": "\(g.handle.id.raw)", "reason": "\(why)"])
    }
}
