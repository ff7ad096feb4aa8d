/// The wire fuzz target's body. Half the inputs go to the control-message codec alone (decode of
/// any bytes is a message, a request for more, or a WireError; a decoded message encodes back to
/// its bytes). The other half are sent, with or without RAM/mailbox memfds, to a real server on a
/// Unix socket: it must answer or hang up, keep serving, and leak no handshake slot or guest.
import FuzzSupport
import CShim
import Logging
import Machine
import Synchronization
import TEEABI
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// One input: byte 0 chooses codec-only or live server; the rest is the material.
func wireFuzzOne(_ input: [UInt8]) {
    guard let mode = input.first else { return }
    let rest = Array(input.dropFirst())
    if mode & 1 == 0 { codec(rest) } else { live(flags: mode, rest) }
}

/// The codec on its own.
func codec(_ bytes: [UInt8]) {
    var buf = bytes
    var rounds = 0
    while rounds < 64 {
        rounds += 1
        let decoded: (message: ControlMessage, consumed: Int)?
        do { decoded = try ControlMessage.decode(buf) } catch { _ = error.description; _ = error.rejectReason; return }
        guard let (m, used) = decoded else { return }
        require(used >= Wire.headerSize && used <= buf.count, "consumed \(used) of \(buf.count)")
        let again = m.encode()
        require(again == Array(buf.prefix(used)), "decode then encode changed \(m)")
        buf.removeFirst(used)
    }
}

/// Accepts every guest; answers each trap by echoing a0 + 1.
final class FuzzDelegate: TransportServerDelegate {
    let attached = Atomic<Int>(0)
    let detached = Atomic<Int>(0)
    func guestAttached(_ guest: GuestHandle) -> AttachDecision {
        attached.wrappingAdd(1, ordering: .relaxed)
        return .accept(ramBase: IPA(0x4000_0000)) { f, _ in var r = f; r.a0 &+= 1; return r }
    }
    func guestDetached(_ id: GuestID, reason: DetachReason) { detached.wrappingAdd(1, ordering: .relaxed) }
}

/// The one server every live input talks to (started on first use).
struct LiveServer: Sendable {
    let server: TransportServer
    let delegate: FuzzDelegate
    let path: String
}
let liveServer: LiveServer? = {
    let path = "/tmp/vtee-wirefuzz-\(getpid()).sock"
    let delegate = FuzzDelegate()
    let limits = TransportLimits(maxGuests: 8, maxRAMPages: 16, maxVCPUs: 4, handshakeTimeout: .milliseconds(500),
                                 spinIterations: 0, futexSlice: .milliseconds(5), serverIdleSlice: .milliseconds(5),
                                 stopTimeout: .seconds(2))
    // Logging off: a log line a vCPU thread writes after the guest count dropped would still be
    // allocating when the input ends, which LeakSanitizer reports as a leak (a harness race).
    var quiet = Logger(label: "vtee.wirefuzz")
    quiet.logLevel = .critical
    guard let s = try? TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: delegate,
                                       logger: quiet) else { return nil }
    return LiveServer(server: s, delegate: delegate, path: path)
}()

/// Sends the bytes in up to three chunks (descriptors on the first), shuts the write side, and
/// reads until the server hangs up; then the server must be back to no guests and no handshakes.
func live(flags: UInt8, _ bytes: [UInt8]) {
    guard let live = liveServer else { require(false, "no server"); return }
    let fd = vtee_unix_connect(live.path)
    require(fd >= 0, "connect failed: errno \(errno)")
    var fds: [Int32] = []
    if flags & 2 != 0 {
        let pages = Int((flags >> 2) & 3) + 1
        fds.append(vtee_memfd_create_sealed("fuzz-ram", UInt64(pages * 4096)))
        let mbPages = (flags & 0x10 != 0) ? 2 : 1
        fds.append(flags & 0x20 != 0 ? vtee_memfd_create("fuzz-unsealed") : vtee_memfd_create_sealed("fuzz-mb", UInt64(mbPages * 4096)))
        if flags & 0x40 != 0 { fds.append(vtee_memfd_create_sealed("fuzz-extra", 4096)) }
    }
    let cut1 = bytes.count / 3, cut2 = 2 * bytes.count / 3
    let chunks = (flags & 0x80 != 0) ? [Array(bytes[..<cut1]), Array(bytes[cut1..<cut2]), Array(bytes[cut2...])] : [bytes]
    for (k, chunk) in chunks.enumerated() where !chunk.isEmpty || k == 0 {
        let sendFDs = k == 0 ? fds : []
        let n = chunk.withUnsafeBytes { b in sendFDs.withUnsafeBufferPointer { f in
            vtee_send_with_fds(fd, b.baseAddress, b.count, f.baseAddress, Int32(f.count), 0)
        } }
        if n < 0 { break }
    }
    for f in fds { close(f) }
    shutdown(fd, Int32(SHUT_WR))
    // The server answers (WELCOME/REJECT) or hangs up; a WELCOMEd guest stays until it leaves, and
    // it leaves on our EOF. Bounded: the handshake deadline ends a silent connection.
    var tv = timeval(tv_sec: 3, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var buf = [UInt8](repeating: 0, count: 1024)
    var got = 0
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }   // libFuzzer's timer signal
        // EOF, or ECONNRESET: the server closed with our later bytes unread (it faulted early).
        if n <= 0 { require(n == 0 || errno == ECONNRESET, "server neither answered nor hung up (errno \(errno))"); break }
        got += n
    }
    close(fd)
    _ = got
    // Every connection ends: no handshake slot and no guest may stay behind.
    var spins = 0
    while live.server.stats.handshaking != 0 || live.server.stats.guests != 0 {
        spins += 1
        require(spins < 3_000, "server kept state: \(live.server.stats)")
        usleep(1_000)
    }
}
