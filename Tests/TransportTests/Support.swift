/// Helpers for the transport tests: temp sockets, a recording delegate, bounded waits, and a
/// raw guest that speaks the wire protocol by hand (so tests can send what a real client never would).
import CShim
import Dispatch
import Machine
import Synchronization
import TEEABI
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp for one test's socket.
func tempSocketPath(_ tag: String) -> String {
    var template = Array("/tmp/vtee-t-XXXXXX".utf8CString)
    let dir = template.withUnsafeMutableBufferPointer { b -> String in
        guard let base = b.baseAddress, let p = mkdtemp(base) else { return "/tmp" }
        return String(cString: p)
    }
    return dir + "/\(tag).sock"
}

/// Polls `condition` for up to `seconds` (a safety bound, not a timing assumption); true once it
/// holds. After a few quick looks it blocks 1 ms between looks instead of spinning, so a waiting
/// test leaves the CPU (and libdispatch's worker pool) to the threads it is waiting for.
func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicNanos() + Int64(seconds * 1e9)
    let tick = DispatchSemaphore(value: 0)
    var looks = 0
    while monotonicNanos() < deadline {
        if condition() { return true }
        looks += 1
        if looks < 64 { sched_yield() } else { _ = tick.wait(timeout: .now() + .milliseconds(1)) }
    }
    return condition()
}

/// Records every attach and detach; answers each trap with a0+1, a1 = vcpu, the rest echoed.
final class RecordingDelegate: TransportServerDelegate {
    let attached = Mutex<[GuestHandle]>([])
    let attachedIDs = Mutex<[GuestID]>([])
    let detached = Mutex<[(GuestID, DetachReason)]>([])
    let refuseAll: Bool
    let retainHandles: Bool
    let handler: VCPUCallHandler
    init(refuseAll: Bool = false, retainHandles: Bool = true, handler: VCPUCallHandler? = nil) {
        self.refuseAll = refuseAll
        self.retainHandles = retainHandles
        self.handler = handler ?? { f, vcpu in
            var r = f; r.a0 = f.a0 &+ 1; r.a1 = UInt64(vcpu); return r
        }
    }
    func guestAttached(_ guest: GuestHandle) -> AttachDecision {
        if retainHandles { attached.withLock { $0.append(guest) } }
        attachedIDs.withLock { $0.append(guest.id) }
        return refuseAll ? .refuse("not today") : .accept(ramBase: IPA(0x4000_0000), handler: handler)
    }
    func guestDetached(_ id: GuestID, reason: DetachReason) {
        detached.withLock { $0.append((id, reason)) }
    }
    func reason(of id: GuestID) -> DetachReason? { detached.withLock { d in d.first { $0.0 == id }?.1 } }
    var handles: [GuestHandle] { attached.withLock { $0 } }
}

/// Test limits: short handshake timeout and quick futex slices so failures show fast.
func testLimits(maxGuests: Int = 8, firstGuestID: UInt32 = 1) -> TransportLimits {
    TransportLimits(maxGuests: maxGuests, maxRAMPages: 256, maxVCPUs: 8, handshakeTimeout: .milliseconds(300),
                    spinIterations: 2_000, futexSlice: .milliseconds(20), stopTimeout: .seconds(5), firstGuestID: firstGuestID)
}

/// Threads of this process whose name starts with `prefix` (from /proc/self/task/*/comm).
func threads(named prefix: String) -> Int {
    guard let dir = opendir("/proc/self/task") else { return -1 }
    defer { closedir(dir) }
    var n = 0
    while let e = readdir(dir) {
        let tid = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard Int(tid) != nil else { continue }
        let f = open("/proc/self/task/\(tid)/comm", O_RDONLY)
        guard f >= 0 else { continue }
        var buf = [UInt8](repeating: 0, count: 32)
        let k = read(f, &buf, 32)
        close(f)
        if k > 0, String(decoding: buf.prefix(k), as: UTF8.self).hasPrefix(prefix) { n += 1 }
    }
    return n
}

/// A guest speaking the protocol by hand.
final class RawGuest {
    let fd: Int32
    private var open = true
    init?(path: String) {
        fd = vtee_unix_connect(path)
        if fd < 0 { return nil }
    }
    deinit { hangUp() }

    /// Closes the socket (once: a second close could hit another test's descriptor).
    func hangUp() {
        if open { close(fd); open = false }
    }

    /// Sends bytes with optional descriptors.
    @discardableResult
    func send(_ bytes: [UInt8], fds: [Int32] = []) -> Bool {
        let n = bytes.withUnsafeBytes { b in fds.withUnsafeBufferPointer { f in
            vtee_send_with_fds(fd, b.baseAddress, b.count, f.baseAddress, Int32(f.count), 0)
        } }
        return n == bytes.count
    }

    /// Reads one control message (bounded); nil on EOF, timeout or garbage.
    func receive(seconds: Double = 5) -> ControlMessage? {
        let c = ClientConnection(fd: dup(fd))
        defer { c.close(sayBye: false) }
        return try? c.receive(timeout: .milliseconds(Int64(seconds * 1000)))
    }

    /// True once the daemon has closed the connection (bounded wait).
    func seesHangUp(seconds: Double = 5) -> Bool {
        eventually(seconds: seconds) { vtee_socket_hung_up(fd) != 0 }
    }
}

/// A sealed memfd of `bytes` bytes (what a well-behaved guest hands over).
func sealedMemfd(_ bytes: Int) -> Int32 { vtee_memfd_create_sealed("test", UInt64(bytes)) }

/// An unsealed memfd of `bytes` bytes (a guest that could still shrink it under the daemon).
func unsealedMemfd(_ bytes: Int) -> Int32 {
    let f = vtee_memfd_create("test-unsealed")
    _ = ftruncate(f, off_t(bytes))
    return f
}

/// HELLO bytes.
func helloBytes(pages: Int, vcpus: Int, version: UInt32 = 1) -> [UInt8] {
    ControlMessage.hello(version: version, ramPages: UInt32(pages), vcpus: UInt32(vcpus)).encode()
}
