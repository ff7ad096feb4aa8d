/// One tee-supplicant for all of a user's processes (guest user space; docs/SHARED-SUPPLICANT.md).
/// A process whose /dev/teepriv0 is open serves, through the daemon, the supplicant requests of
/// its uid's other processes: the daemon hands each client a socketpair channel to it
/// (`SupplicantChannelWire`); the client's own supplicant forwards what the secure world asked of
/// it, the serving process mirrors each client shm in shared memory its tee-supplicant allocated
/// and queues the request for that tee-supplicant as if its own guest had made it. The secure
/// world only ever sees the calling guest's own RAM. Touches: the daemon socket (through
/// `TransportClient`), channel sockets, this guest's driver.
import Foundation
import Machine
import NormalWorld
import Synchronization
import TEEABI
import Transport
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Channel socket

/// One end of a channel: whole-frame reads and writes. Only its reader thread closes it
/// (`finish`); `shutdown` ends that reader from anywhere.
final class ChannelSocket: Sendable {
    private let fd: Int32
    /// True once closed (writes then fail); held during writes so frames never interleave and the
    /// descriptor is never closed under a writer.
    private let closed = Mutex(false)

    /// Adopts `fd` (a connected stream socket).
    init(fd: Int32) { self.fd = fd }

    /// Writes a whole frame; false (and the channel shut down) when it could not. No time bound:
    /// a write blocks while the peer lives and does not read (a stopped supplicant stalls its
    /// clients, as on Linux; giving up would leave the frames already sent in its hands), and
    /// fails at once when the peer is gone.
    func write(_ frame: ChannelFrame) -> Bool {
        let bytes = frame.encode()
        let ok = closed.withLock { isClosed -> Bool in
            guard !isClosed else { return false }
            var sent = 0
            while sent < bytes.count {
                // Sound: the buffer outlives the call and `sent` stays below its count.
                let n = bytes.withUnsafeBytes { b -> Int in
                    guard let base = b.baseAddress else { return -1 }
                    return Glibc.send(fd, base + sent, b.count - sent, Int32(MSG_NOSIGNAL))
                }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                sent += n
            }
            return true
        }
        if !ok { shutdown() }
        return ok
    }

    /// Reads one frame: nil at end of stream, when `stop` says so, or on a socket error; throws
    /// for bytes that are no frame.
    func read(stop: () -> Bool) throws(ChannelWireError) -> ChannelFrame? {
        guard let h = readExactly(SupplicantChannelWire.headerSize, stop: stop) else { return nil }
        let n = try ChannelFrame.payloadLength(header: h)
        guard let p = readExactly(n, stop: stop) else { return nil }
        return try ChannelFrame.decode(header: h, payload: p)
    }

    private func readExactly(_ count: Int, stop: () -> Bool) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            if stop() { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, 200)
            if r < 0 { if errno == EINTR { continue }; return nil }
            if r == 0 { continue }
            // Sound: `got` < count, so the range written lies inside `out`.
            let n = out.withUnsafeMutableBytes { b -> Int in
                guard let base = b.baseAddress else { return -1 }
                return recv(fd, base + got, count - got, 0)
            }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; return nil }
            if n == 0 { return nil }
            got += n
        }
        return out
    }

    /// Ends the channel: the peer sees end of stream, our reader wakes and finishes.
    func shutdown() {
        closed.withLock { if !$0 { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    /// Closes the descriptor (the reader thread, once it ended).
    func finish() {
        closed.withLock { c in
            guard !c else { return }
            c = true
            _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
            _ = Glibc.close(fd)
        }
    }
}

// MARK: - Daemon link

/// This process's supplicant conversation with the daemon (SUPP_* messages on the guest socket):
/// one reader thread, started at first use, answers SUPP_PEER and hands out the answers to
/// SUPP_ATTACH and SUPP_CONNECT.
final class DaemonLink: Sendable {
    private struct State {
        var started = false
        var stopping = false
        var gone = false
        var attachAnswer: UInt32?
        var connectAnswer: (errno: UInt32, fd: Int32?)?
        /// The daemon said the uid has no supplicant and has not said SUPP_AVAILABLE since: serve
        /// locally without asking (no round trip per request while nobody serves the uid).
        var knownAbsent = false
    }
    private let client: TransportClient
    private let server: SharedSupplicantServer
    private let state = Mutex(State())
    /// One exchange (attach or connect) at a time.
    private let exchange = Mutex(0)
    private let answered = HostEvent()
    /// Signalled after each message the reader handled.
    private let progress = HostEvent()
    private let ended = HostEvent()
    /// Bound of one exchange with the daemon (it answers at once; a supplicant's ACK is one hop more).
    static let exchangeSeconds = 5.0

    init(client: TransportClient, server: SharedSupplicantServer) { self.client = client; self.server = server }

    private func ensureReader() -> Bool {
        let start = state.withLock { s -> Bool? in
            if s.gone || s.stopping { return nil }
            if s.started { return false }
            s.started = true
            return true
        }
        guard let start else { return false }
        if start { Thread.detachNewThread { [self] in run() } }
        return true
    }

    private func run() {
        while !state.withLock({ $0.stopping }) {
            let got: (message: ControlMessage, descriptor: Int32?)?
            do { got = try client.receiveControl(timeout: .milliseconds(200)) } catch { break }
            guard let (m, fd) = got else { continue }
            switch m {
            case let .supplicantStatus(e):
                state.withLock { $0.attachAnswer = e }
                answered.signal()
            case let .supplicantConnected(e):
                let stale = state.withLock { s -> Int32? in
                    let old = s.connectAnswer?.fd
                    s.connectAnswer = (e, fd)
                    if e == UInt32(ENOENT) { s.knownAbsent = true }
                    return old
                }
                if let f = stale { _ = Glibc.close(f) }
                answered.signal()
            case let .supplicantPeer(token, pid, uid):
                var taken = false
                if let f = fd {
                    // Defence in depth: the daemon routes by uid; the channel must be our user's.
                    taken = uid == geteuid() && server.adopt(fd: f, clientPID: Int32(bitPattern: pid))
                    if !taken { _ = Glibc.close(f) }
                }
                _ = client.sendControl(.supplicantPeerAck(token: token, accepted: taken))
            case .supplicantAvailable:
                state.withLock { $0.knownAbsent = false }
            case .bye, .reject:
                state.withLock { $0.stopping = true }
            default:
                break
            }
            progress.signal()
        }
        let stale = state.withLock { s -> Int32? in
            s.gone = true
            defer { s.connectAnswer = nil }
            return s.connectAnswer?.fd
        }
        if let f = stale { _ = Glibc.close(f) }
        server.stop()
        answered.signal()
        ended.signal()
    }

    /// Waits for `pick` to find an answer, at most `exchangeSeconds`.
    private func awaitAnswer<T>(_ pick: (inout State) -> T?) -> T? {
        let deadline = SystemClock.shared.deadline(after: Self.exchangeSeconds)
        while true {
            if let v = state.withLock({ s in pick(&s) }) { return v }
            if state.withLock({ $0.gone }) { return nil }
            if !SystemClock.shared.wait(answered, until: deadline) { return state.withLock { s in pick(&s) } }
        }
    }

    /// SUPP_ATTACH: this process serves its uid's other processes from now on. nil, `.busy` (the
    /// uid has a supplicant in another process) or `.io` (no answer).
    func attach() -> TEEIoctlError? {
        guard ensureReader() else { return .io }
        return exchange.withLock { _ -> TEEIoctlError? in
            state.withLock { $0.attachAnswer = nil }
            server.start()
            guard client.sendControl(.supplicantAttach) else { server.stop(); return .io }
            let e = awaitAnswer { (s: inout State) -> UInt32? in defer { s.attachAnswer = nil }; return s.attachAnswer } ?? UInt32(EIO)
            if e == 0 { return nil }
            server.stop()
            return e == UInt32(EBUSY) ? .busy : .io
        }
    }

    /// SUPP_DETACH: stop serving; open channels close (their clients fall back).
    func detach() {
        server.stop()
        guard state.withLock({ $0.started && !$0.gone }) else { return }
        _ = client.sendControl(.supplicantDetach)
    }

    /// SUPP_CONNECT: a channel to the uid's supplicant, or nil when there is none (known without
    /// asking after an ENOENT, until the daemon says SUPP_AVAILABLE).
    func connect() -> Int32? {
        if state.withLock({ $0.knownAbsent }) {
            // A SUPP_AVAILABLE may be in the socket already (the daemon sends it before the new
            // supplicant's open returns): let the reader take what is there first.
            let deadline = SystemClock.shared.deadline(after: 1)
            while state.withLock({ $0.knownAbsent && !$0.gone }) && client.controlInputWaiting {
                if !SystemClock.shared.wait(progress, until: deadline) { break }
            }
            if state.withLock({ $0.knownAbsent }) { return nil }
        }
        guard ensureReader() else { return nil }
        return exchange.withLock { _ -> Int32? in
            let stale = state.withLock { s -> Int32? in defer { s.connectAnswer = nil }; return s.connectAnswer?.fd }
            if let f = stale { _ = Glibc.close(f) }
            guard client.sendControl(.supplicantConnect) else { return nil }
            let got = awaitAnswer { (s: inout State) -> (errno: UInt32, fd: Int32?)? in defer { s.connectAnswer = nil }; return s.connectAnswer }
            guard let (e, fd) = got else { return nil }
            guard e == 0, let f = fd else { if let f = fd { _ = Glibc.close(f) }; return nil }
            return f
        }
    }

    /// Ends the reader thread (before the socket closes), at most one second.
    func stop() {
        let running = state.withLock { s -> Bool in s.stopping = true; return s.started && !s.gone }
        server.stop()
        if running { _ = SystemClock.shared.wait(ended, seconds: 1) }
    }
}

// MARK: - Serving side

/// The serving process's side: the channels of its uid's clients, each request queued for this
/// process's tee-supplicant (`SupplicantChannel.submit`) with its buffers mirrored in shared
/// memory that tee-supplicant allocated.
final class SharedSupplicantServer: Sendable {
    private let driver: OPTEEDriver
    private let state = Mutex<(serving: Bool, channels: [ObjectIdentifier: ServedChannel])>((false, [:]))
    /// Requests and FS bytes served for other processes (tests, stats).
    let served = Atomic<Int>(0)

    init(driver: OPTEEDriver) { self.driver = driver }

    /// Accepts channels from now on.
    func start() { state.withLock { $0.serving = true } }

    /// Stops: every open channel closes (requests in service end with COMMUNICATION from the
    /// local detach; the clients see end of stream).
    func stop() {
        let all = state.withLock { s -> [ServedChannel] in
            s.serving = false
            return Array(s.channels.values)
        }
        for c in all { c.socket.shutdown() }
    }

    /// Takes a client channel (false when not serving).
    func adopt(fd: Int32, clientPID: Int32) -> Bool {
        let ch = ServedChannel(socket: ChannelSocket(fd: fd), clientPID: clientPID, driver: driver, server: self)
        let ok = state.withLock { s -> Bool in
            guard s.serving else { return false }
            s.channels[ObjectIdentifier(ch)] = ch
            return true
        }
        guard ok else { return false }
        Thread.detachNewThread { [self] in
            ch.run()
            state.withLock { _ = $0.channels.removeValue(forKey: ObjectIdentifier(ch)) }
        }
        return true
    }

    /// Channels open now (tests).
    var channelCount: Int { state.withLock { $0.channels.count } }
}

/// One client's channel on the serving side: its requests in service and its mirrors.
final class ServedChannel: Sendable {
    struct Mirror { var id: UInt64; var size: UInt64 }
    let socket: ChannelSocket
    let clientPID: Int32
    private let driver: OPTEEDriver
    private let server: SharedSupplicantServer
    private let inService = Mutex<Set<UInt64>>([])
    /// Client shm id -> the mirror this process's tee-supplicant allocated. Held while a mirror is made.
    private let mirrors = Mutex<[UInt64: Mirror]>([:])
    private let ended = Atomic<Bool>(false)
    /// Most requests of one client in service at once.
    static let maxInService = 16
    /// Most mirrors one client may hold.
    static let maxMirrors = 64
    /// Most bytes of mirrors one client may hold (one RPC buffer's limit: a LOAD_TA of the largest
    /// TA the channel carries still fits).
    static let maxMirrorBytes = UInt64(SupplicantChannelWire.maxData)

    init(socket: ChannelSocket, clientPID: Int32, driver: OPTEEDriver, server: SharedSupplicantServer) {
        self.socket = socket; self.clientPID = clientPID; self.driver = driver; self.server = server
    }

    /// Reads frames until the client leaves or breaks the protocol; then frees its mirrors.
    func run() {
        while true {
            let frame: ChannelFrame?
            do { frame = try socket.read(stop: { ended.load(ordering: .relaxed) }) } catch {
                SharedSupplicantLog.note("channel of pid \(clientPID) closed: \(error)")
                break
            }
            guard let f = frame else { break }
            switch f {
            case let .request(id, command, params, windows):
                // Ownership: the id names this client's request, once, while in service.
                let admitted = inService.withLock { s -> TEEResult? in
                    guard id != 0, !s.contains(id) else { return .badParameters }
                    guard s.count < Self.maxInService else { return .busy }
                    s.insert(id)
                    return nil
                }
                if let refusal = admitted {
                    // Id 0 or one in service: BAD_PARAMETERS; past the in-service bound: BUSY. Not served.
                    _ = socket.write(.reply(id: id, result: refusal.rawValue, params: params.map(Self.stripped)))
                    continue
                }
                Thread.detachNewThread { [self] in
                    let r = serve(command: RPCCommand(rawValue: command), params, windows)
                    inService.withLock { _ = $0.remove(id) }
                    _ = socket.write(.reply(id: id, result: r.result.rawValue, params: r.params))
                }
            case let .free(shm):
                if let m = mirrors.withLock({ $0.removeValue(forKey: shm) }) { freeMirror(m) }
            case .reply:
                SharedSupplicantLog.note("channel of pid \(clientPID): a reply from a client, closed")
                ended.store(true, ordering: .relaxed)
            }
            if ended.load(ordering: .relaxed) { break }
        }
        ended.store(true, ordering: .relaxed)
        socket.finish()
        let left = mirrors.withLock { m -> [Mirror] in defer { m = [:] }; return Array(m.values) }
        for m in left { freeMirror(m) }
    }

    /// A param as sent back: input-only memrefs without their data (the client has it).
    static func stripped(_ p: SupplicantParam) -> SupplicantParam {
        if case let .memref(t, d, size) = p, !t.isOutput { return .memref(t, data: d == nil ? nil : [], size: size) }
        return p
    }

    /// Serves one request: checks every window, mirrors the client's shm, copies the data in,
    /// queues it for this process's tee-supplicant; the answer with output data read back.
    func serve(command: RPCCommand, _ params: [SupplicantParam], _ windows: [ChannelWindow?]) -> (result: TEEResult, params: [SupplicantParam]) {
        let bad = (TEEResult.badParameters, params.map(Self.stripped))
        guard command != .shmAlloc, command != .shmFree else { return bad }   // the client serves those itself
        var local: [SupplicantWindow?] = []
        for (i, p) in params.enumerated() {
            let w = i < windows.count ? windows[i] : nil
            guard let w, case let .memref(_, data?, _) = p else {
                if w != nil { return bad }
                local.append(nil); continue
            }
            // The window must lie inside the client's shm, and that shm inside the channel's limit.
            guard w.shm != 0, w.shmSize > 0, w.shmSize <= UInt64(SupplicantChannelWire.maxData),
                  w.offset <= w.shmSize, UInt64(data.count) <= w.shmSize - w.offset else { return bad }
            let m: Mirror
            switch mirror(of: w) {
            case let .success(x): m = x
            case let .failure(e): return (e.result, params.map(Self.stripped))
            }
            guard let h = driver.sharedMemory(id: m.id), (try? driver.write(h, offset: Int(w.offset), data)) != nil else {
                return (.communication, params.map(Self.stripped))
            }
            local.append(SupplicantWindow(shm: m.id, offset: Int(w.offset)))
        }
        let r = driver.supplicant.submit(command, params, windows: local, served: driver.configuration.supplicantWait,
                                         absent: driver.configuration.supplicantAbsentWait)
        server.served.wrappingAdd(1, ordering: .relaxed)
        guard r.params.count == params.count else { return (r.result, params.map(Self.stripped)) }
        return (r.result, r.params.map(Self.stripped))
    }

    struct MirrorFailure: Error { let result: TEEResult }

    /// The mirror of the client's shm `w.shm`, made now (SHM_ALLOC through this process's
    /// tee-supplicant) when there is none yet. A size that differs from the mirror's is
    /// BAD_PARAMETERS (one client shm has one size).
    private func mirror(of w: ChannelWindow) -> Result<Mirror, MirrorFailure> {
        mirrors.withLock { m -> Result<Mirror, MirrorFailure> in
            if let x = m[w.shm] { return x.size == w.shmSize ? .success(x) : .failure(MirrorFailure(result: .badParameters)) }
            // One client cannot take the serving guest's RAM from the others: a bounded count and size.
            let held = m.values.reduce(UInt64(0)) { $0 + $1.size }
            guard m.count < Self.maxMirrors, held + w.shmSize <= Self.maxMirrorBytes else {
                return .failure(MirrorFailure(result: .outOfMemory))
            }
            let r = driver.supplicant.submit(.shmAlloc, [.value(.valueInout, a: RPCShmType.application.rawValue, b: w.shmSize, c: 0)],
                                             windows: [nil], served: driver.configuration.supplicantWait,
                                             absent: driver.configuration.supplicantAbsentWait)
            guard r.result == .success, let id = r.params.first?.values.c, let h = driver.sharedMemory(id: id),
                  UInt64(h.size) >= w.shmSize else {
                return .failure(MirrorFailure(result: r.result == .success ? .outOfMemory : r.result))
            }
            let x = Mirror(id: id, size: w.shmSize)
            m[w.shm] = x
            return .success(x)
        }
    }

    /// SHM_FREE of a mirror through this process's tee-supplicant.
    private func freeMirror(_ m: Mirror) {
        _ = driver.supplicant.submit(.shmFree, [.value(.valueInput, a: RPCShmType.application.rawValue, b: m.id, c: 0)],
                                     windows: [nil], served: driver.configuration.supplicantWait,
                                     absent: driver.configuration.supplicantAbsentWait)
    }
}

// MARK: - Client side

/// The client process's side: forwards its supplicant requests to its uid's shared supplicant
/// while there is one; `forward` returns nil when the request is to be served here.
final class SharedSupplicantClient: Sendable {
    private let link: DaemonLink
    private let driver: OPTEEDriver
    private let channel = Mutex<ClientChannel?>(nil)
    /// Requests answered by the shared supplicant (tests).
    let forwarded = Atomic<Int>(0)

    init(link: DaemonLink, driver: OPTEEDriver) { self.link = link; self.driver = driver }

    /// Held while a channel is asked for, so concurrent requests share one channel.
    private let connecting = Mutex(0)

    /// The open channel, or a new one when the uid has a supplicant.
    private func current() -> ClientChannel? {
        if let c = channel.withLock({ $0 }), c.isOpen { return c }
        return connecting.withLock { _ -> ClientChannel? in
            if let c = channel.withLock({ $0 }), c.isOpen { return c }
            guard let fd = link.connect() else { return nil }
            let c = ClientChannel(socket: ChannelSocket(fd: fd))
            channel.withLock { $0 = c }
            Thread.detachNewThread { c.run() }
            return c
        }
    }

    /// Serves `req` through the shared supplicant: its answer, or nil to serve it here (SHM_ALLOC:
    /// this guest's memory is made here; SHM_FREE: here, after the mirror is dropped; anything
    /// when the uid has no supplicant or the request could not be sent at all).
    func forward(_ req: SupplicantRequest) -> SupplicantResponse? {
        if req.command == .shmAlloc { return nil }
        if req.command == .shmFree {
            if let c = channel.withLock({ $0 }), c.isOpen, let id = req.params.first?.values.b { _ = c.socket.write(.free(shm: id)) }
            return nil
        }
        guard let c = current() else { return nil }
        var windows: [ChannelWindow?] = []
        for (i, p) in req.params.enumerated() {
            guard case let .memref(_, data?, _) = p, i < req.windows.count, let w = req.windows[i],
                  let h = driver.sharedMemory(id: w.shm) else { windows.append(nil); continue }
            guard h.size <= SupplicantChannelWire.maxData, data.count <= SupplicantChannelWire.maxData else {
                return SupplicantResponse(id: req.id, result: .outOfMemory, params: req.params)
            }
            windows.append(ChannelWindow(shm: w.shm, shmSize: UInt64(h.size), offset: UInt64(w.offset)))
        }
        guard let answer = c.call(req.command.rawValue, req.params, windows) else {
            return nil   // nothing reached the supplicant: served here
        }
        forwarded.wrappingAdd(1, ordering: .relaxed)
        guard case let .reply(_, result, got) = answer, let params = Self.merge(req.params, got) else {
            return SupplicantResponse(id: req.id, result: .communication, params: req.params)
        }
        return SupplicantResponse(id: req.id, result: TEEResult(rawValue: result), params: params)
    }

    /// The request's params with the reply's outputs: output values, output memref sizes and
    /// data (cut or zero-filled to the buffer). nil when the reply does not have the request's shape.
    static func merge(_ sent: [SupplicantParam], _ got: [SupplicantParam]) -> [SupplicantParam]? {
        guard sent.count == got.count else { return nil }
        var out = sent
        for (i, (s, g)) in zip(sent, got).enumerated() {
            switch (s, g) {
            case (.none, .none): break
            case let (.value(t, _, _, _), .value(_, a, b, c)):
                if t.isOutput { out[i] = .value(t, a: a, b: b, c: c) }
            case let (.memref(t, d, _), .memref(_, gd, size)):
                guard t.isOutput else { break }
                var data = d
                if let cap = d?.count, let back = gd {
                    data = Array(back.prefix(cap)) + [UInt8](repeating: 0, count: max(0, cap - back.count))
                }
                out[i] = .memref(t, data: data, size: size)
            default:
                return nil
            }
        }
        return out
    }

    /// Closes the channel (the process detaches from the daemon).
    func close() { channel.withLock { $0 }?.socket.shutdown() }
}

/// A client's channel: requests sent and not yet answered, by id.
final class ClientChannel: Sendable {
    final class Slot: Sendable {
        let event = HostEvent()
        let answer = Mutex<ChannelFrame?>(nil)
    }
    let socket: ChannelSocket
    private let clock: any HostClock
    private let state = Mutex<(slots: [UInt64: Slot], nextID: UInt64, open: Bool)>(([:], 1, true))

    /// A channel over `socket`, timing its looks at the channel on `clock`.
    init(socket: ChannelSocket, clock: any HostClock = SystemClock.shared) { self.socket = socket; self.clock = clock }

    var isOpen: Bool { state.withLock { $0.open } }

    /// Sends a request and waits for its answer: the reply; a COMMUNICATION reply when the channel
    /// died first; nil when it could not be sent (nothing reached the supplicant). As the driver
    /// does for a request its own supplicant took (Linux's optee_supp_thread_req), a request the
    /// supplicant has is never abandoned while the channel lives: the serving side answers
    /// COMMUNICATION itself when its tee-supplicant did not take it within the driver's bound, and
    /// giving up earlier would let an FS write or rename still run after the secure world moved on.
    func call(_ command: UInt32, _ params: [SupplicantParam], _ windows: [ChannelWindow?], checkEvery: Double = 1) -> ChannelFrame? {
        let slot = Slot()
        let id: UInt64? = state.withLock { s in
            guard s.open else { return nil }
            let id = s.nextID
            s.nextID += 1
            s.slots[id] = slot
            return id
        }
        guard let id else { return nil }
        let communication = ChannelFrame.reply(id: id, result: TEEResult.communication.rawValue, params: params)
        guard socket.write(.request(id: id, command: command, params: params, windows: windows)) else {
            state.withLock { _ = $0.slots.removeValue(forKey: id) }
            return nil
        }
        // Only the answer or the end of the channel ends the wait: the reader signals every slot
        // it removes, answered or left behind at the end. `checkEvery` only paces the looks.
        while !clock.wait(slot.event, seconds: checkEvery) {}
        state.withLock { _ = $0.slots.removeValue(forKey: id) }
        return slot.answer.withLock { $0 } ?? communication
    }

    /// Reads replies until the supplicant leaves; then every request still waiting ends with
    /// COMMUNICATION. A supplicant that breaks the protocol with well-formed frames (a reply to a
    /// request never made, a request) gets no new requests (`isOpen` turns false, the next request
    /// opens a new channel), but the requests it holds are still waited for until it answers them
    /// or leaves: it may still run them. Bytes that are no frame end the channel at once.
    func run() {
        while true {
            let frame: ChannelFrame?
            do { frame = try socket.read(stop: { false }) } catch {
                SharedSupplicantLog.note("supplicant channel closed: \(error)")
                break
            }
            guard let f = frame else { break }
            guard case let .reply(id, _, _) = f else {
                if brokenAndDrained("a supplicant sent a request") { break }
                continue
            }
            let slot = state.withLock { s in s.slots.removeValue(forKey: id) }
            if let slot {
                slot.answer.withLock { $0 = f }
                slot.event.signal()
                if state.withLock({ !$0.open && $0.slots.isEmpty }) { break }
            } else if brokenAndDrained("reply to request \(id), which it does not hold") {
                break
            }
        }
        let waiting = state.withLock { s -> [Slot] in
            s.open = false
            defer { s.slots = [:] }
            return Array(s.slots.values)
        }
        socket.finish()
        for w in waiting { w.event.signal() }   // no answer: COMMUNICATION
    }

    /// Marks the channel broken (no new requests); true when no request is held any more.
    private func brokenAndDrained(_ why: String) -> Bool {
        SharedSupplicantLog.note("supplicant channel broken: \(why)")
        return state.withLock { s in s.open = false; return s.slots.isEmpty }
    }
}

/// Diagnostics of the shared supplicant, on stderr when VTEE_DEBUG is set (C programs own stdout).
enum SharedSupplicantLog {
    static let enabled = ProcessInfo.processInfo.environment["VTEE_DEBUG"].map { !$0.isEmpty } ?? false
    static func note(_ s: @autoclosure () -> String) {
        if enabled { FileHandle.standardError.write(Data(("vtee: " + s() + "\n").utf8)) }
    }
}
