/// The guest-process side of the transport: attach to a daemon, get a local mapping of the
/// guest's RAM and a `Conduit` that traps through the per-vCPU mailboxes.
import CShim
import Logging
import Machine
import Synchronization
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// A guest process's attachment to a daemon. Keep it alive while the guest runs; `close()` says BYE.
public final class TransportClient: Sendable {
    /// The guest id the daemon assigned.
    public let guestID: GuestID
    /// The IPA at which RAM byte 0 appears to the guest (the daemon's choice).
    public let ramBase: IPA
    /// vCPUs (mailbox slots).
    public let vcpus: Int
    /// This process's physical memory: one region, the guest RAM, placed at PA == `ramBase`,
    /// so an identity `GuestAddressSpace` over `ram` sees IPA exactly as the daemon does.
    public let memory: PhysicalMemory
    /// The guest RAM (memfd shared with the daemon).
    public let ram: Region
    /// The trap path through the mailboxes.
    public let conduit: MailboxConduit
    private let connection: ClientConnection

    private init(guestID: GuestID, ramBase: IPA, vcpus: Int, memory: PhysicalMemory, ram: Region,
                 conduit: MailboxConduit, connection: ClientConnection) {
        self.guestID = guestID; self.ramBase = ramBase; self.vcpus = vcpus; self.memory = memory
        self.ram = ram; self.conduit = conduit; self.connection = connection
    }

    /// Connects to the daemon at `socketPath`, hands over fresh RAM of `ramPages` pages and a
    /// mailbox for `vcpus` vCPUs, and waits (up to `timeout`) for WELCOME. A connection the
    /// daemon pushed out of its handshake (REJECT tooManyHandshakes: this process was paused
    /// between connect and HELLO while newer connections of its user arrived) is retried, at most
    /// `handshakeRetries` more times, each attempt a fresh connection.
    public static func connect(socketPath: String, ramPages: Int, vcpus: Int, timeout: Duration = .seconds(5),
                               tuning: TransportLimits = TransportLimits()) throws(TransportError) -> TransportClient {
        try connect(socketPath: socketPath, ramPages: ramPages, vcpus: vcpus, timeout: timeout, tuning: tuning, beforeHello: nil)
    }

    /// Extra attempts after a REJECT tooManyHandshakes.
    static let handshakeRetries = 4

    /// `connect`, with a test seam run after each attempt connected and before it says HELLO
    /// (its argument: the attempt, from 0).
    static func connect(socketPath: String, ramPages: Int, vcpus: Int, timeout: Duration, tuning: TransportLimits,
                        beforeHello: ((Int) -> Void)?) throws(TransportError) -> TransportClient {
        guard ramPages > 0, ramPages <= 1 << 24 else { throw .invalidArgument("ramPages \(ramPages)") }
        guard vcpus > 0, vcpus <= 1024 else { throw .invalidArgument("vcpus \(vcpus)") }
        var attempt = 0
        while true {
            do {
                return try attach(socketPath: socketPath, ramPages: ramPages, vcpus: vcpus, timeout: timeout, tuning: tuning) {
                    beforeHello?(attempt)
                }
            } catch {
                guard case let .rejected(reason, _) = error, reason == RejectReason.tooManyHandshakes.rawValue,
                      attempt < handshakeRetries else { throw error }
                attempt += 1
                // A short pause, longer each time, so a burst of this user's connections can drain.
                var ts = timespec(tv_sec: 0, tv_nsec: 2_000_000 * attempt)
                _ = nanosleep(&ts, nil)
            }
        }
    }

    /// One attempt: a fresh connection, RAM and mailbox, HELLO, and the daemon's answer.
    private static func attach(socketPath: String, ramPages: Int, vcpus: Int, timeout: Duration, tuning: TransportLimits,
                               beforeHello: () -> Void) throws(TransportError) -> TransportClient {
        let ramFD = vtee_memfd_create_sealed("vtee-guest-ram", UInt64(ramPages) * UInt64(pageSize))
        guard ramFD >= 0 else { throw .host(errno: errno, what: "memfd_create (RAM)") }
        var ramOwned = true
        defer { if ramOwned { closeFD(ramFD) } }
        let mbFD = vtee_memfd_create_sealed("vtee-guest-mailbox", UInt64(MailboxLayout.byteCount(vcpus: vcpus)))
        guard mbFD >= 0 else { throw .host(errno: errno, what: "memfd_create (mailbox)") }
        guard let mailbox = MailboxMapping(fd: mbFD, slots: vcpus) else {
            let e = errno; closeFD(mbFD); throw .host(errno: e, what: "mmap (mailbox)")
        }
        let sock = vtee_unix_connect_timeout(socketPath, Int32(clamping: timeout.nanoseconds / 1_000_000))
        guard sock >= 0 else { throw .host(errno: errno, what: "connect \(socketPath)") }
        let connection = ClientConnection(fd: sock)
        beforeHello()

        let hello = ControlMessage.hello(version: UInt32(Wire.version), ramPages: UInt32(ramPages), vcpus: UInt32(vcpus)).encode()
        let fds: [Int32] = [ramFD, mbFD]
        let sent = hello.withUnsafeBytes { b in fds.withUnsafeBufferPointer { f in
            vtee_send_with_fds(sock, b.baseAddress, b.count, f.baseAddress, Int32(f.count), 0)
        } }
        if sent != hello.count {
            // The daemon may have turned us away at accept (too many guests) and hung up:
            // its REJECT is still queued on our side.
            let e = errno
            if case let .reject(reason, message)? = try? connection.receive(timeout: .milliseconds(200)) {
                throw .rejected(reason: reason, message: message)
            }
            throw .host(errno: e, what: "sendmsg HELLO")
        }

        let reply = try connection.receive(timeout: timeout)
        switch reply {
        case let .welcome(id, grantedVCPUs, base):
            guard grantedVCPUs == UInt32(vcpus) else { throw .protocolViolation("WELCOME for \(grantedVCPUs) vCPUs") }
            let ramBase = IPA(base)
            guard ramBase.isPageAligned, base.addingReportingOverflow(UInt64(ramPages) * UInt64(pageSize)).overflow == false else {
                throw .protocolViolation("WELCOME ramBase \(ramBase)")
            }
            let memory = PhysicalMemory(firstBase: PA(base))
            let region: Region
            do { region = try memory.addRegion(kind: .guestRAM(GuestID(id)), pages: ramPages, adoptingFD: ramFD) } catch {
                throw .protocolViolation("cannot place RAM at the daemon's ramBase \(ramBase): \(error)")
            }
            ramOwned = false
            let conduit = MailboxConduit(mailbox: mailbox, connection: connection, tuning: tuning)
            return TransportClient(guestID: GuestID(id), ramBase: ramBase, vcpus: vcpus, memory: memory, ram: region,
                                   conduit: conduit, connection: connection)
        case let .reject(reason, message):
            throw .rejected(reason: reason, message: message)
        case let .bye(reason):
            throw .rejected(reason: reason, message: "BYE during handshake")
        case .hello:
            throw .protocolViolation("HELLO from the daemon")
        default:
            throw .protocolViolation("\(reply.type) during the handshake")
        }
    }

    /// Says BYE and closes the socket; later traps fail fast. Idempotent. Call it when no trap is in flight.
    public func close() { connection.close(sayBye: true) }

    /// False once the daemon hung up or `close()` was called (checks the socket: not for the call path).
    public var isConnected: Bool { !connection.isClosed && !connection.checkHungUp() }

    /// The kernel's view of the daemon process (SO_PEERCRED).
    public var daemonCredentials: PeerCredentials? { connection.peerCredentials }

    /// Sends a control message after the handshake (the shared-supplicant messages); false when
    /// the socket is closed or would not take it whole.
    public func sendControl(_ m: ControlMessage) -> Bool { connection.send(m) }

    /// The next control message from the daemon after the handshake and the descriptor that came
    /// with it (SUPP_PEER, SUPP_CONNECTED 0), waiting up to `timeout`: nil when none came in time.
    /// One reader at a time; the caller owns a descriptor returned (see `controlInputWaiting`).
    public func receiveControl(timeout: Duration) throws(TransportError) -> (message: ControlMessage, descriptor: Int32?)? {
        try connection.receiveAfterHandshake(timeout: timeout)
    }

    /// True when the daemon sent something `receiveControl` has not returned yet.
    public var controlInputWaiting: Bool { connection.inputWaiting() }
}

/// The guest's socket to the daemon: handshake reads, liveness checks, BYE.
final class ClientConnection: Sendable {
    let fd: Int32
    /// A pidfd of the daemon process (readable once it exited), or -1 when unavailable.
    let daemonPidFD: Int32
    private let closed = Atomic<Bool>(false)
    private let fdClosed = Atomic<Bool>(false)

    init(fd: Int32) {
        self.fd = fd
        var uid: UInt32 = 0, gid: UInt32 = 0, pid: Int32 = 0
        daemonPidFD = vtee_peer_credentials(fd, &uid, &gid, &pid) == 0 ? vtee_pidfd_open(pid) : -1
    }

    deinit {
        for f in pending.withLock({ $0.fds }) { closeFD(f) }
        if !fdClosed.load(ordering: .relaxed) { closeFD(fd) }
        closeFD(daemonPidFD)
    }

    /// Whether a call still pending in the mailbox can no longer be answered: the daemon process
    /// exited (or, without a pidfd, the socket hung up). A live daemon that hung up still finishes
    /// or closes every pending call itself (its vCPU threads mark the slot closed).
    func daemonGone() -> Bool {
        if daemonPidFD >= 0 { return vtee_fd_readable(daemonPidFD) != 0 }
        return checkHungUp()
    }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    var peerCredentials: PeerCredentials? {
        var uid: UInt32 = 0, gid: UInt32 = 0, pid: Int32 = 0
        guard !fdClosed.load(ordering: .acquiring), vtee_peer_credentials(fd, &uid, &gid, &pid) == 0 else { return nil }
        return PeerCredentials(uid: uid, gid: gid, pid: pid)
    }

    /// Reads one control message, waiting up to `timeout`.
    func receive(timeout: Duration) throws(TransportError) -> ControlMessage {
        let deadline = monotonicNanos() + timeout.nanoseconds
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: Wire.headerSize + Wire.maxPayload)
        while true {
            do {
                if let (m, _) = try ControlMessage.decode(buffer) { return m }
            } catch { throw .protocolViolation("\(error)") }
            guard buffer.count < Wire.headerSize + Wire.maxPayload else { throw .protocolViolation("oversized message") }
            let left = deadline - monotonicNanos()
            guard left > 0 else { throw .timeout }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(left / 1_000_000 + 1, 1_000)))
            if r < 0 { if errno == EINTR { continue }; throw .host(errno: errno, what: "poll") }
            if r == 0 { continue }
            var fds: [Int32] = [-1, -1]
            var nfds: Int32 = 0, trunc: Int32 = 0
            let want = Wire.headerSize + Wire.maxPayload - buffer.count
            let n = chunk.withUnsafeMutableBytes { vtee_recv_with_fds(fd, $0.baseAddress, want, &fds, 2, &nfds, &trunc, 1) }
            for f in fds.prefix(Int(max(0, nfds))) { closeFD(f) }   // the daemon sends none
            if n == 0 { throw .disconnected }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw .host(errno: errno, what: "recvmsg")
            }
            buffer += chunk.prefix(n)
        }
    }

    /// Bytes and descriptors read after the handshake and not yet decoded.
    private let pending = Mutex<(bytes: [UInt8], fds: [Int32])>(([], []))

    /// One whole message (and its descriptor) read after the handshake; nil on timeout.
    func receiveAfterHandshake(timeout: Duration) throws(TransportError) -> (message: ControlMessage, descriptor: Int32?)? {
        let deadline = monotonicNanos() + timeout.nanoseconds
        var chunk = [UInt8](repeating: 0, count: Wire.headerSize + Wire.maxPayload)
        while true {
            let decoded = try pending.withLock { p throws(TransportError) -> (message: ControlMessage, descriptor: Int32?)? in
                let got: (message: ControlMessage, consumed: Int)?
                do { got = try ControlMessage.decode(p.bytes) } catch { throw .protocolViolation("\(error)") }
                guard let (m, used) = got else {
                    guard p.bytes.count < Wire.headerSize + Wire.maxPayload else { throw .protocolViolation("oversized message") }
                    return nil
                }
                p.bytes.removeFirst(used)
                var fd: Int32? = nil
                switch m {
                case .supplicantPeer, .supplicantConnected(errno: 0):
                    if !p.fds.isEmpty { fd = p.fds.removeFirst() }
                default: break
                }
                return (m, fd)
            }
            if let d = decoded { return d }
            guard !fdClosed.load(ordering: .acquiring) else { throw .disconnected }
            let left = deadline - monotonicNanos()
            guard left > 0 else { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(left / 1_000_000 + 1, 100)))
            if r < 0 { if errno == EINTR { continue }; throw .host(errno: errno, what: "poll") }
            if r == 0 { continue }
            var fds: [Int32] = [-1, -1]
            var nfds: Int32 = 0, trunc: Int32 = 0
            let n = chunk.withUnsafeMutableBytes { vtee_recv_with_fds(fd, $0.baseAddress, $0.count, &fds, 2, &nfds, &trunc, 1) }
            let got = Array(fds.prefix(Int(max(0, nfds))))
            if n == 0 { for f in got { closeFD(f) }; throw .disconnected }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw .host(errno: errno, what: "recvmsg")
            }
            pending.withLock { $0.bytes += chunk.prefix(n); $0.fds += got }
        }
    }

    /// Bytes buffered or readable on the socket (not consumed).
    func inputWaiting() -> Bool {
        if pending.withLock({ !$0.bytes.isEmpty }) { return true }
        guard !fdClosed.load(ordering: .acquiring) else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0 && p.revents & Int16(POLLIN) != 0
    }

    /// Sends one whole message (no descriptors); false when closed or cut short.
    func send(_ m: ControlMessage) -> Bool {
        guard !fdClosed.load(ordering: .acquiring) else { return false }
        let bytes = m.encode()
        return bytes.withUnsafeBytes { vtee_send_with_fds(fd, $0.baseAddress, $0.count, nil, 0, 0) } == bytes.count
    }

    /// True (and remembered) when the daemon hung up.
    func checkHungUp() -> Bool {
        if closed.load(ordering: .acquiring) { return true }
        guard vtee_socket_hung_up(fd) != 0 else { return false }
        closed.store(true, ordering: .releasing)
        return true
    }

    func close(sayBye: Bool) {
        closed.store(true, ordering: .releasing)
        guard !fdClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if sayBye {
            let bye = ControlMessage.bye(reason: RejectReason.goodbye.rawValue).encode()
            _ = bye.withUnsafeBytes { vtee_send_with_fds(fd, $0.baseAddress, $0.count, nil, 0, 1) }
        }
        closeFD(fd)
    }
}

/// A guest's trap path: each vCPU posts its frame in its mailbox slot, rings the doorbell and
/// waits (spin, then futex) for the daemon's answer. A vCPU index may be used by one thread at
/// a time; a second concurrent caller, a bad index, or a dead daemon gets `failureFrame`.
public final class MailboxConduit: Conduit, Sendable {
    /// What a trap returns when the transport cannot deliver it: a0 = OPTEE_SMC_RETURN_UNKNOWN_FUNCTION
    /// (0xFFFFFFFF, also SMCCC NOT_SUPPORTED), which a driver reports as a communication error.
    public static let failureFrame = RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))

    private final class VCPU: Sendable {
        let busy = Atomic<Bool>(false)
    }
    private let mailbox: MailboxMapping
    private let connection: ClientConnection
    private let vcpuState: [VCPU]
    private let spinLimit: Int
    private let slice: Int64
    private let failures = Atomic<Int>(0)
    private let checks = Atomic<Int>(0)

    init(mailbox: MailboxMapping, connection: ClientConnection, tuning: TransportLimits) {
        self.mailbox = mailbox; self.connection = connection
        self.vcpuState = (0..<mailbox.slots).map { _ in VCPU() }
        self.spinLimit = tuning.spinIterations
        self.slice = tuning.futexSlice.nanoseconds
    }

    /// Traps through vCPU `vcpu`'s mailbox; returns the daemon's answer or `failureFrame`.
    public func trap(_ frame: RegisterFrame, vcpu: Int) -> RegisterFrame {
        guard vcpu >= 0, vcpu < vcpuState.count, let slot = mailbox.slot(vcpu) else { return fail() }
        let v = vcpuState[vcpu]
        guard v.busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return fail() }
        defer { v.busy.store(false, ordering: .releasing) }
        guard !connection.isClosed else { return fail() }
        // A daemon that dropped this guest marks idle slots closed, so no per-trap socket check is needed.

        slot.writeFrame(frame)
        guard vtee_cas_u32(slot.state, MailboxState.idle.rawValue, MailboxState.request.rawValue) != 0 else {
            // Closed by the daemon (or left in a bad state): nothing was delivered.
            return fail()
        }
        if vtee_load_seqcst_u32(slot.serverWaiting) != 0 { slot.wake() }
        vtee_publish_cpu(slot.clientCPU)

        let request = MailboxState.request.rawValue, busy = MailboxState.busy.rawValue
        var spins = 0
        var s = vtee_load_acquire_u32(slot.state)
        while (s == request || s == busy) && spins < spinLimit {
            spins += Int(vtee_spin_wait_step(UInt32(truncatingIfNeeded: spins), slot.clientCPU, slot.serverCPU))
            s = vtee_load_acquire_u32(slot.state)
        }
        while s == request || s == busy {
            vtee_store_seqcst_u32(slot.clientWaiting, 1)
            let seen = vtee_load_seqcst_u32(slot.state)
            if seen == request || seen == busy { _ = vtee_futex_wait(slot.state, seen, slice) }
            vtee_store_release_u32(slot.clientWaiting, 0)
            s = vtee_load_acquire_u32(slot.state)
            guard s == request || s == busy else { break }
            // Still pending after a futex slice: is anyone left to answer?
            checks.wrappingAdd(1, ordering: .relaxed)
            if connection.daemonGone() { return fail() }
            if s == request && connection.checkHungUp() {
                // The daemon dropped this guest and no vCPU thread took the request: withdraw it.
                // (A thread that took it first turned it busy, and will answer.)
                if vtee_cas_u32(slot.state, request, MailboxState.idle.rawValue) != 0 { return fail() }
                s = vtee_load_acquire_u32(slot.state)
            }
        }
        guard s == MailboxState.response.rawValue else { return fail() }
        let answer = slot.readFrame()
        vtee_store_release_u32(slot.state, MailboxState.idle.rawValue)
        return answer
    }

    /// Times a pending trap checked, after a futex slice, whether the daemon is still there.
    public var livenessChecks: Int { checks.load(ordering: .relaxed) }

    /// Traps that could not be delivered or answered.
    public var failedTraps: Int { failures.load(ordering: .relaxed) }

    private func fail() -> RegisterFrame {
        failures.wrappingAdd(1, ordering: .relaxed)
        return Self.failureFrame
    }
}
