/// The handover between vtee's own supplicant and an external one on /dev/teepriv0, driven
/// in process through TEEDevice's ioctls (the seam libvtee-preload.so calls) so each step happens
/// in a chosen order: no request of a call made after open(teepriv0) reaches vtee's own supplicant
/// (the round-2 defect: the first RECV attached, so a call racing the supplicant's first RECV was
/// split between two supplicants and failed), a request in service at detach fails alone, and
/// vtee's own supplicant serves the next call.
import Foundation
import Synchronization
import TEEABI
import Testing
@testable import TEEDevice
@testable import VTEEDaemon

/// Process memory the device reads and writes by address (what an ioctl argument points at).
final class UserBuffer: @unchecked Sendable {
    let count: Int
    let base: UnsafeMutableRawPointer
    /// `count` zeroed bytes at a stable address.
    init(_ count: Int) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }
    deinit { base.deallocate() }
    var address: UInt64 { UInt64(UInt(bitPattern: base)) }
    func put32(_ o: Int, _ v: UInt32) { base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self) }
    func put64(_ o: Int, _ v: UInt64) { base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt64.self) }
    func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
}

/// Raw tee ioctls on a TEEDevice, as a C program issues them (struct layouts of linux/tee.h).
struct RawTEE {
    let dev: TEEDevice

    /// An ioctl whose argument is a tee_ioctl_buf_data naming `buf`.
    func buffered(_ key: Int64, _ ioctl: LinuxTEE.Ioctl, _ buf: UserBuffer, length: Int? = nil) -> Result<Int32, TEEIoctlError> {
        let bd = UserBuffer(16)
        bd.put64(0, buf.address); bd.put64(8, UInt64(length ?? buf.count))
        return dev.ioctl(key, request: UInt64(ioctl.rawValue), argument: bd.address)
    }

    /// OPEN_SESSION with a PUBLIC login and no params: (rc ok, ret, session).
    func openSession(_ key: Int64, uuid: [UInt8]) -> (ok: Bool, ret: UInt32, session: UInt32) {
        let a = UserBuffer(56 + 4 * 32)
        uuid.withUnsafeBytes { a.base.copyMemory(from: $0.baseAddress!, byteCount: 16) }
        a.put32(52, 4)
        let ok = (try? buffered(key, .openSession, a).get()) != nil
        return (ok, a.u32(44), a.u32(40))
    }

    /// INVOKE with params[0] VALUE_INPUT (a, b): (rc ok, ret).
    func invokeValue(_ key: Int64, session: UInt32, function: UInt32, a: UInt64, b: UInt64 = 0) -> (ok: Bool, ret: UInt32) {
        let x = UserBuffer(24 + 4 * 32)
        x.put32(0, function); x.put32(4, session); x.put32(20, 4)
        x.put64(24, 1); x.put64(32, a); x.put64(40, b)   // VALUE_INPUT
        let ok = (try? buffered(key, .invoke, x).get()) != nil
        return (ok, x.u32(12))
    }

    /// SUPPL_RECV offering a META param and four more: the request (func, params) or the errno.
    func receive(_ key: Int64) -> Result<(function: UInt32, params: [TEEIoctlParam]), TEEIoctlError> {
        let r = UserBuffer(8 + 5 * 32)
        r.put32(4, 5); r.put64(8, LinuxTEE.ParamAttr.metaBit)
        return buffered(key, .supplRecv, r).map { _ in
            let n = Int(r.u32(4))
            let params = (0..<min(n, 5)).map { i in
                TEEIoctlParam(attr: r.u64(8 + 32 * i), a: r.u64(16 + 32 * i), b: r.u64(24 + 32 * i), c: r.u64(32 + 32 * i))
            }
            return (r.u32(0), params)
        }
    }

    /// SUPPL_SEND of `ret` with the request's params echoed (META first).
    func send(_ key: Int64, ret: UInt32, params: [TEEIoctlParam]) -> Result<Int32, TEEIoctlError> {
        let s = UserBuffer(8 + 32 * params.count)
        s.put32(0, ret); s.put32(4, UInt32(params.count))
        for (i, p) in params.enumerated() {
            s.put64(8 + 32 * i, p.attr); s.put64(16 + 32 * i, p.a); s.put64(24 + 32 * i, p.b); s.put64(32 + 32 * i, p.c)
        }
        return buffered(key, .supplSend, s)
    }
}

/// Runs `body` on its own thread; `wait` gives its result, or nil past the bound.
final class Background<T: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let value = Mutex<T?>(nil)
    init(_ body: @escaping @Sendable () -> T) {
        Thread.detachNewThread { [self] in
            let v = body()
            value.withLock { $0 = v }
            done.signal()
        }
    }
    /// The result, waiting at most `seconds` for it.
    func wait(_ seconds: Double) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        done.signal()
        return value.withLock { $0 }
    }
}

@Suite(.serialized) struct SupplicantHandoverTests {
    /// vtee.test (TestTA) and its commands.
    static let testTA: [UInt8] = [0x7e, 0x57, 0xc0, 0xde, 0x00, 0x00, 0x40, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 1]
    static let shmRoundTrip: UInt32 = 2
    static let rpcShmAlloc: UInt32 = 6
    static let outOfMemory: UInt32 = 0xFFFF_000C, communication: UInt32 = 0xFFFF_000E

    @Test func aCallMadeAfterTeepriv0OpensWaitsForThatSupplicantEvenBeforeItsFirstReceive() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let dev = TEEDevice(memory: ProcessMemory(), socket: dir + "/s", storage: dir + "/own-store")
        let raw = RawTEE(dev: dev)

        // open(teepriv0) makes the context the supplicant at once (Linux's optee_open), and a
        // second open is EBUSY. Before the fix this context became the supplicant only at its
        // first SUPPL_RECV, and vtee's own supplicant kept serving until then.
        let priv = try dev.openContext(privileged: true)
        #expect(dev.supplicantContext == priv, "the open teepriv0 context is not the supplicant before its first RECV")
        #expect(throws: TEEIoctlError.busy) { _ = try dev.openContext(privileged: true) }

        let client = try dev.openContext(privileged: false)
        let s = raw.openSession(client, uuid: Self.testTA)
        try #require(s.ok && s.ret == 0, "open session: \(s)")

        // The client's call starts before the supplicant has ever received: its SHM_ALLOC must
        // wait for this supplicant (before the fix vtee's own supplicant served it).
        let call = Background { raw.invokeValue(client, session: s.session, function: Self.shmRoundTrip, a: 4096) }
        // Seam: the call's SHM_ALLOC sits in the driver's supplicant queue (or, before the fix, the
        // call already ended, served by vtee's own supplicant); only then does the supplicant receive.
        let channel = try #require(dev.state.withLock { $0.guest?.driver.supplicant })
        #expect(CHarness.eventually(30) { channel.waitingRequests > 0 || call.wait(0) != nil })
        #expect(call.wait(0) == nil, "the call ended before the teepriv0 supplicant received: \(String(describing: call.wait(0)))")
        let first = Background { raw.receive(priv) }
        let got = try #require(first.wait(30), "no request reached the teepriv0 supplicant")
        let req = try got.get()
        #expect(req.function == Self.rpcShmAlloc, "\(req)")
        // This supplicant refuses the allocation: the call reports exactly that, so it was served here.
        #expect((try? raw.send(priv, ret: Self.outOfMemory, params: req.params).get()) == 0)
        let r = try #require(call.wait(30), "the call did not end")
        #expect(r.ok && r.ret == Self.outOfMemory, "the call was not served by the teepriv0 supplicant: \(r)")

        // A request in service when the supplicant closes fails alone (COMMUNICATION) ...
        let inFlight = Background { raw.invokeValue(client, session: s.session, function: Self.shmRoundTrip, a: 4096) }
        let second = try #require(Background { raw.receive(priv) }.wait(30), "no second request")
        #expect((try? second.get().function) == Self.rpcShmAlloc)
        dev.releaseContext(priv)
        #expect(dev.supplicantContext == nil)
        let cut = try #require(inFlight.wait(30), "the call in service at detach did not end")
        #expect(cut.ok && cut.ret == Self.communication, "\(cut)")

        // ... and vtee's own supplicant serves the next call at once.
        let after = raw.invokeValue(client, session: s.session, function: Self.shmRoundTrip, a: 4096)
        #expect(after.ok && after.ret == 0, "after detach: \(after)")

        // The supplicant device can be opened again now that its context is gone.
        let again = try dev.openContext(privileged: true)
        #expect(dev.supplicantContext == again)
        dev.releaseContext(again)
        dev.releaseContext(client)
        #expect(!dev.isAttached)
    }
}
