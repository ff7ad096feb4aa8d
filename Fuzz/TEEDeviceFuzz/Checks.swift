/// The ioctl fuzz target's body (issue 13 (e)): what a process hands /dev/tee0 through ioctl.
/// Half the inputs go to the pure codecs (LinuxTEEArgs): any bytes decode to params or a Linux
/// errno, exactly when a model of Linux's tee_core checks (written here from tee_core.c, not from
/// the codec) says so; decoded params encode back to the same bytes; write-back touches only what
/// params_to_user may touch. The other half drive a real TEEDevice over a fuzzed user memory
/// against an in-process daemon: every ioctl answers a value or an errno of the tee core's set,
/// an argument tee_core refuses never reaches the daemon (the mediator sees no malformed call),
/// and closing the context leaves no session or shared memory behind in the daemon.
import CTEEDev
import Foundation
import FuzzSupport
import Logging
import Mediator
import Synchronization
import TEEABI
import TEEDevice
import TrustedApps
import VTEEDaemon
#if canImport(Glibc)
import Glibc
#endif

/// One input: byte 0 chooses codec-only or the live device.
func teeDeviceFuzzOne(_ input: [UInt8]) {
    var c = FuzzInput(input)
    if c.u8() & 1 == 0 { codec(&c) } else { live(&c) }
}

// MARK: - the codecs against a model of tee_core

let kinds: [TEEBufferedArgument] = [.openSession, .invoke, .supplicantReceive, .supplicantSend]

/// tee_core's verdict on a copied argument of `kind` (tee_ioctl_open_session, _invoke,
/// _supp_recv, _supp_send + params_from_user / params_from_supp): true = -EINVAL.
func teeCoreRefuses(_ kind: TEEBufferedArgument, _ b: [UInt8]) -> Bool {
    let header: Int, numAt: Int
    switch kind {
    case .openSession: (header, numAt) = (56, 52)
    case .invoke: (header, numAt) = (24, 20)
    case .supplicantReceive, .supplicantSend: (header, numAt) = (8, 4)
    }
    if b.count > 1024 || b.count < header { return true }
    var n: UInt64 = 0
    for i in 0..<4 { n |= UInt64(b[numAt + i]) << (8 * UInt64(i)) }
    let need = UInt64(header) + 32 * n
    if kind == .supplicantSend ? need > UInt64(b.count) : need != UInt64(b.count) { return true }
    if kind == .supplicantReceive { return false }   // the offer is not read before supp_recv (Linux 6.1)
    for i in 0..<Int(n) {
        var attr: UInt64 = 0
        for k in 0..<8 { attr |= UInt64(b[header + 32 * i + k]) << (8 * UInt64(k)) }
        if attr & ~UInt64(0x1FF) != 0 { return true }                  // outside TEE_IOCTL_PARAM_ATTR_MASK
        // An undefined type: params_from_user refuses it. (Linux's params_from_supp leaves it to the
        // driver for SUPPL_SEND; our codec refuses it there too, on purpose: stricter, never laxer.)
        if ![0, 1, 2, 3, 5, 6, 7].contains(attr & 0xFF) { return true }
    }
    return false
}

/// An argument cut from the input: raw bytes, or a header + params with fuzzed attrs and counts.
func argumentBytes(_ c: inout FuzzInput, _ kind: TEEBufferedArgument) -> [UInt8] {
    let sel = c.u8()
    if sel & 3 == 0 { return c.take(Int(c.u16() % 1100)) }
    let n = Int(c.u8() % 6)
    var b = c.take(kind.headerSize) + [UInt8](repeating: 0, count: n * 32)
    let claimed: UInt32 = sel & 4 == 0 ? UInt32(n) : (sel & 8 == 0 ? UInt32(n) &+ UInt32(c.u8() % 3) &- 1 : c.u32())
    LinuxTEEArgs.put32(&b, kind.numParamsOffset, claimed)
    let attrs: [UInt64] = [0, 1, 2, 3, 5, 6, 7, 4, 8, 0x101, 0x103, 0x200, 0xFF, 1 << 63]
    for i in 0..<n {
        let attr = c.u8() & 0x80 == 0 ? attrs[Int(c.u8()) % attrs.count] : c.u64()
        LinuxTEEArgs.store(TEEIoctlParam(attr: attr, a: c.u64(), b: c.u64(), c: c.u8() & 1 == 0 ? LinuxTEE.memrefNull : UInt64(c.u8() % 4)),
                           at: i, kind, into: &b)
    }
    if sel & 0x10 != 0 { b += c.take(Int(c.u8() % 40)) }   // trailing bytes
    if sel & 0x20 != 0, !b.isEmpty { b.removeLast(Int(c.u8()) % b.count) }
    return b
}

func codec(_ c: inout FuzzInput) {
    for _ in 0..<4 {
        let kind = kinds[Int(c.u8()) % kinds.count]
        let b = argumentBytes(&c, kind)
        // The length check tee_core makes on buf_len before copying.
        let lengthOK = (try? LinuxTEEArgs.checkLength(kind, length: UInt64(b.count))) != nil
        require(lengthOK == (b.count >= kind.headerSize && b.count <= 1024), "checkLength(\(kind), \(b.count)) = \(lengthOK)")
        let decoded: [TEEIoctlParam]?
        do { decoded = try LinuxTEEArgs.params(kind, b) } catch {
            require(error == .invalid, "params(\(kind)) threw \(error), tee_core only has EINVAL here")
            decoded = nil
        }
        let refused = teeCoreRefuses(kind, b)
        require(refused == (decoded == nil), "\(kind) of \(b.count) bytes: tee_core model refuses=\(refused), codec decoded=\(decoded != nil)")
        if let params = decoded {
            // decode then encode: the header as it was, each param stored back in place.
            var again = Array(b.prefix(kind.headerSize)) + [UInt8](repeating: 0xA5, count: b.count - kind.headerSize)
            for (i, p) in params.enumerated() { LinuxTEEArgs.store(p, at: i, kind, into: &again) }
            let used = kind.headerSize + params.count * 32
            require(Array(again.prefix(used)) == Array(b.prefix(used)), "\(kind): decode then encode changed the bytes")
            require((try? LinuxTEEArgs.params(kind, b)) == params, "\(kind): decoding twice differs")
            // Output write-back touches only what params_to_user copies out.
            for p in params {
                let r = TEEIoctlParam(attr: c.u64(), a: c.u64(), b: c.u64(), c: c.u64())
                let w = LinuxTEEArgs.writeBack(r, over: p)
                require(w.attr == p.attr, "write-back changed attr")
                switch p.attribute.type {
                case .valueOutput?, .valueInout?: require(w.a == r.a && w.b == r.b && w.c == r.c, "value output not written")
                case .memrefOutput?, .memrefInout?: require(w.a == p.a && w.c == p.c && w.b == r.b, "memref output wrote more than its size")
                default: require(w == p, "write-back changed an input param")
                }
            }
        }
        if kind == .openSession, b.count >= 56 {
            let h = LinuxTEEArgs.openSession(b)
            var again = [UInt8](repeating: 0, count: 56)
            for i in 0..<16 { again[i] = h.uuid[i]; again[16 + i] = h.clientUUID[i] }
            LinuxTEEArgs.put32(&again, 32, h.login); LinuxTEEArgs.put32(&again, 36, h.cancelID)
            LinuxTEEArgs.storeOpenSessionResult(&again, session: LinuxTEEArgs.u32(b, 40), ret: LinuxTEEArgs.u32(b, 44), origin: LinuxTEEArgs.u32(b, 48))
            LinuxTEEArgs.put32(&again, 52, LinuxTEEArgs.u32(b, 52))
            require(again == Array(b.prefix(56)), "open-session header decode then encode changed the bytes")
        }
        if kind == .invoke, b.count >= 24 {
            let h = LinuxTEEArgs.invoke(b)
            var again = [UInt8](repeating: 0, count: 24)
            LinuxTEEArgs.put32(&again, 0, h.function); LinuxTEEArgs.put32(&again, 4, h.session); LinuxTEEArgs.put32(&again, 8, h.cancelID)
            LinuxTEEArgs.storeInvokeResult(&again, ret: LinuxTEEArgs.u32(b, 12), origin: LinuxTEEArgs.u32(b, 16))
            LinuxTEEArgs.put32(&again, 20, LinuxTEEArgs.u32(b, 20))
            require(again == Array(b.prefix(24)), "invoke header decode then encode changed the bytes")
        }
        let bd = c.take(Int(c.u8() % 24))
        do {
            let (p, l) = try LinuxTEEArgs.bufData(bd)
            require(bd.count >= 16 && p == LinuxTEEArgs.u64(bd, 0) && l == LinuxTEEArgs.u64(bd, 8), "bufData misread")
        } catch {
            require(bd.count < 16 && error == .fault, "bufData of \(bd.count) bytes threw \(error)")
        }
    }
}

// MARK: - the live device

/// A process's memory as the device sees it: `size` bytes at `base`, EFAULT everywhere else.
final class FuzzMemory: UserMemory {
    static let base: UInt64 = 0x10_0000
    static let size = 8192
    let bytes = Mutex([UInt8](repeating: 0, count: FuzzMemory.size))
    func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, address >= Self.base, address - Self.base <= UInt64(Self.size),
              UInt64(count) <= UInt64(Self.size) - (address - Self.base) else { return nil }
        let o = Int(address - Self.base)
        return bytes.withLock { Array($0[o..<o + count]) }
    }
    func write(_ address: UInt64, _ data: [UInt8]) -> Bool {
        guard address >= Self.base, address - Self.base <= UInt64(Self.size),
              UInt64(data.count) <= UInt64(Self.size) - (address - Self.base) else { return false }
        let o = Int(address - Self.base)
        bytes.withLock { for (i, v) in data.enumerated() { $0[o + i] = v } }
        return true
    }
}

/// The daemon and the device every live input talks to (started on first use), with one
/// context held open for the whole run so the process stays attached between inputs.
struct LiveDevice: Sendable {
    let daemon: Daemon
    let device: TEEDevice
    let memory: FuzzMemory
}
let liveDevice: LiveDevice? = {
    let dir = "/tmp/vtee-devfuzz-\(getpid())"
    try? FileManager.default.removeItem(atPath: dir)
    setenv("VTEE_STORAGE", dir + "/guest-store", 1)
    setenv("VTEE_GUEST_PAGES", "256", 1)
    var cfg = DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")
    cfg.logger.logLevel = .critical
    guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil,
          let d = try? Daemon(config: cfg) else { return nil }
    let memory = FuzzMemory()
    let device = TEEDevice(memory: memory, socket: dir + "/s")
    guard (try? device.openContext(privileged: false)) != nil else { return nil }
    return LiveDevice(daemon: d, device: device, memory: memory)
}()

/// The errno values Linux's tee core and the OP-TEE driver answer an ioctl with.
let teeErrnos: Set<Int32> = [EINVAL, EFAULT, ENOMEM, EPERM, EBUSY, EINTR, ENOENT, EIO]
let requests: [LinuxTEE.Ioctl] = [.version, .shmAlloc, .openSession, .invoke, .cancel, .closeSession, .supplRecv, .supplSend,
                                  .shmRegisterFD, .shmRegister]
/// TestTA commands that return at once (no waits, panics or long runs).
let quickCommands: [UInt32] = [TestTA.Command.nopValues, .getTime, .shmRoundTrip, .echoMemref, .clientIdentity].map(\.rawValue)

/// Mediator counters that mean a malformed call reached the hypervisor.
func malformed(_ e: MediatorErrors) -> Int { e.badAddress + e.badCommand + e.badParameters + e.resumeRejected + e.rpcRejected }

func live(_ c: inout FuzzInput) {
    guard let live = liveDevice else { require(false, "no daemon/device"); return }
    let dev = live.device, mem = live.memory
    let ctx: Int64
    do { ctx = try dev.openContext(privileged: false) } catch { require(false, "open context: \(error)"); return }
    let errorsBefore = malformed(live.daemon.stack.mediator.errors)
    var sessions: [UInt32] = []
    var shms: [(fd: Int32, id: UInt32)] = []
    var steps = 0
    let base = FuzzMemory.base
    while !c.atEnd && steps < 24 {
        steps += 1
        let op = c.u8()
        var request: UInt64
        var argument = base
        var model: (TEEBufferedArgument, [UInt8])?
        switch op % 6 {
        case 0:   // fuzzed bytes into user memory, then a raw ioctl
            let at = Int(c.u16()) % FuzzMemory.size
            _ = mem.write(base + UInt64(at), c.take(min(Int(c.u8()), FuzzMemory.size - at)))
            request = c.u8() & 1 == 0 ? UInt64(requests[Int(c.u8()) % requests.count].rawValue) : (c.u8() & 1 == 0 ? UInt64(c.u32()) : c.u64())
            argument = c.u8() & 3 == 0 ? c.u64() : base + UInt64(c.u16() % UInt16(FuzzMemory.size + 64))
        case 1, 2:   // open session / invoke with a built argument behind buf_data
            let kind: TEEBufferedArgument = op % 6 == 1 ? .openSession : .invoke
            var b = argumentBytes(&c, kind)
            if kind == .openSession, b.count >= 56, c.u8() & 1 == 0 {
                for (i, v) in TestTA.uuid.octets.enumerated() { b[i] = v }
                LinuxTEEArgs.put32(&b, 32, UInt32(c.u8() % 8))
            }
            if kind == .invoke, b.count >= 24 {
                if c.u8() & 3 != 0, !sessions.isEmpty { LinuxTEEArgs.put32(&b, 4, sessions[Int(c.u8()) % sessions.count]) }
                let f = c.u8()
                LinuxTEEArgs.put32(&b, 0, f & 0x80 == 0 ? quickCommands[Int(f) % quickCommands.count] : 0x100 + UInt32(f))
            }
            // memref params name this context's shm (or not), with fuzzed windows.
            if !shms.isEmpty, let ps = try? LinuxTEEArgs.params(kind, b) {
                for (i, p) in ps.enumerated() where (p.attr & 0xFF) >= 5 && c.u8() & 1 == 0 {
                    var q = p
                    q.c = UInt64(shms[Int(c.u8()) % shms.count].id)
                    q.a = UInt64(c.u8() % 64); q.b = UInt64(c.u16() % 8192)
                    LinuxTEEArgs.store(q, at: i, kind, into: &b)
                }
            }
            let ptr = base + 1024
            _ = mem.write(ptr, Array(b.prefix(FuzzMemory.size - 1024)))
            var bd = [UInt8](repeating: 0, count: 16)
            LinuxTEEArgs.put64(&bd, 0, c.u8() == 0xFF ? c.u64() : ptr)
            LinuxTEEArgs.put64(&bd, 8, UInt64(b.count))
            _ = mem.write(base, bd)
            request = UInt64((kind == .openSession ? LinuxTEE.Ioctl.openSession : .invoke).rawValue)
            if LinuxTEEArgs.u64(bd, 0) == ptr { model = (kind, b) }
        case 3:   // shared memory
            var a = [UInt8](repeating: 0, count: 16)
            LinuxTEEArgs.put64(&a, 0, c.u8() & 0x80 == 0 ? UInt64(c.u16()) : c.u64())
            LinuxTEEArgs.put32(&a, 8, c.u8() & 0x7 == 0 ? UInt32(c.u8()) : 0)
            _ = mem.write(base, a)
            request = UInt64(LinuxTEE.Ioctl.shmAlloc.rawValue)
        case 4:   // close or cancel a session (known or not)
            let s = c.u8() & 1 == 0 && !sessions.isEmpty ? sessions[Int(c.u8()) % sessions.count] : c.u32()
            var a = [UInt8](repeating: 0, count: 8)
            let close = c.u8() & 1 == 0
            LinuxTEEArgs.put32(&a, close ? 0 : 4, s)
            if !close { LinuxTEEArgs.put32(&a, 0, c.u32()) }
            _ = mem.write(base, a)
            request = UInt64((close ? LinuxTEE.Ioctl.closeSession : .cancel).rawValue)
            if close { sessions.removeAll { $0 == s } }
        default:  // VERSION, or a foreign ioctl number
            request = c.u8() & 1 == 0 ? UInt64(LinuxTEE.Ioctl.version.rawValue) : UInt64(c.u32())
            argument = c.u8() & 1 == 0 ? base : c.u64()
        }
        let result = dev.ioctl(ctx, request: request, argument: argument)
        switch result {
        case .success(let v):
            require(v >= 0, "ioctl succeeded with \(v)")
            if request == UInt64(LinuxTEE.Ioctl.shmAlloc.rawValue) {
                let id = LinuxTEEArgs.u32(mem.read(base, count: 16) ?? [], 12)
                shms.append((v, id))
            }
            if request == UInt64(LinuxTEE.Ioctl.openSession.rawValue), let (_, b) = model,
               let out = mem.read(base + 1024, count: 56), LinuxTEEArgs.u32(out, 44) == 0 {
                sessions.append(LinuxTEEArgs.u32(out, 40))
                _ = b
            }
        case .failure(let e):
            require(teeErrnos.contains(e.errno), "ioctl answered errno \(e.errno), not one of the tee core's")
        }
        // tee_core's verdict on the argument: a refused one fails with EINVAL and reaches no one.
        if let (kind, b) = model, teeCoreRefuses(kind, b) {
            guard case .failure(let e) = result, e == .invalid else {
                require(false, "\(kind) argument tee_core refuses was answered \(result)"); return
            }
        }
        let errs = malformed(live.daemon.stack.mediator.errors)
        require(errs == errorsBefore, "a malformed call reached the mediator: \(live.daemon.stack.mediator.errors)")
    }
    // Closing every descriptor leaves nothing behind in the daemon.
    for s in shms {
        let key = vtee_dev_key_of_fd(s.fd)
        _ = vtee_sys_close(s.fd)
        if key >= 0, vtee_dev_key_still_open(key) == 0 { dev.releaseSharedMemoryDescriptor(key); vtee_dev_forget_key(key) }
    }
    dev.releaseContext(ctx)
    require(dev.contexts == 1 && dev.sharedMemoryObjects == 0, "device kept \(dev.contexts) contexts, \(dev.sharedMemoryObjects) shm")
    let totals = live.daemon.statsObject()["totals"] as? [String: Int] ?? [:]
    require(totals["sessions"] == 0 && totals["shm_buffers"] == 0 && totals["guests"] == 1, "daemon kept \(totals)")
}
