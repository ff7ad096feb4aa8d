/// The supplicant fuzz target's body: a sequence of RPC requests (LOAD_TA, FS with every
/// operation, SHM_ALLOC/FREE, unknown commands) built from the input, with fuzzed file names,
/// handles, offsets and buffer sizes, served by a real Supplicant over a fresh store. After each
/// request: the answer keeps the request's shape, and nothing outside the store was touched.
import FuzzSupport
import Foundation
import Machine
import NormalWorld
import Supplicant
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// A secure world that only answers the driver's probe calls (the supplicant never traps).
final class ProbeOnly: Conduit {
    func trap(_ f: RegisterFrame, vcpu: Int) -> RegisterFrame {
        switch f.function {
        case .callsUID:
            let w = OPTEEIdentity.apiUID
            return RegisterFrame(a0: UInt64(w.0), a1: UInt64(w.1), a2: UInt64(w.2), a3: UInt64(w.3))
        case .callsRevision: return RegisterFrame(a0: 2, a1: 0)
        case .getOSRevision: return RegisterFrame(a0: 4, a1: 10)
        case .exchangeCapabilities:
            let caps: SecureCapabilities = [.dynamicSHM, .rpcArg, .memrefNull]
            return RegisterFrame(a0: 0, a1: UInt64(caps.rawValue), a2: 255, a3: 4)
        case .getThreadCount: return RegisterFrame(a0: 0, a1: 4)
        default: return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }
}

/// Per process: a sandbox with the store and a sibling the store must never reach.
struct Sandbox: Sendable {
    let base: String, store: String, outside: String, taDir: String
    let driver: OPTEEDriver
}
let sandbox: Sandbox? = {
    let base = "/tmp/vtee-supfuzz-\(getpid())"
    let fm = FileManager.default
    try? fm.removeItem(atPath: base)
    guard (try? fm.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)) != nil,
          (try? fm.createDirectory(atPath: base + "/ta", withIntermediateDirectories: true)) != nil,
          fm.createFile(atPath: base + "/outside/secret", contents: Data("secret".utf8)),
          fm.createFile(atPath: base + "/ta/11111111-2222-3333-4444-555555555555.ta", contents: Data(repeating: 0x7A, count: 300)),
          let space = try? GuestAddressSpace(memory: PhysicalMemory(), id: GuestID(0), pages: 64, layout: .scattered(seed: 1)),
          let driver = try? OPTEEDriver(space: space, conduit: ProbeOnly()) else { return nil }
    return Sandbox(base: base, store: base + "/store", outside: base + "/outside", taDir: base + "/ta", driver: driver)
}()

/// Names the secure world tends to use, and the attacks on them.
let names: [String] = ["/ta/0", "/ta/1", "/ta", "/0", "dirf.db", "/ta/dirf.db", "/../x", "/ta/../../outside/secret",
                       "/ta/./0", "//", "/", "", "/ta//0", "/\(FileStore.tempPrefix)x", "/a\\b", "/ta/\u{1}", "/\u{FF}",
                       "/ta/0/1", "/outside/secret", "/ta/" + String(repeating: "n", count: 300)]

/// A path: a known name (NUL-terminated), or raw bytes from the input.
func path(_ c: inout FuzzInput) -> [UInt8] {
    let sel = c.u8()
    if sel & 0x80 == 0 { return Array(names[Int(sel) % names.count].utf8) + (sel & 0x40 == 0 ? [0] : []) }
    return c.take(Int(c.u8() & 0x3F))
}

/// A memref of a fuzzed capacity (nil sometimes), with fuzzed content.
func memref(_ c: inout FuzzInput, _ t: MsgParamType) -> SupplicantParam {
    let sel = c.u8()
    if sel == 0 { return .memref(t, data: nil, size: Int(c.u16())) }
    let n = Int(sel) * 4
    return .memref(t, data: c.take(min(n, 64)) + [UInt8](repeating: 0, count: max(0, n - 64)), size: Int(c.u16()))
}

func supplicantFuzzOne(_ input: [UInt8]) {
    guard let box = sandbox else { require(false, "no sandbox"); return }
    try? FileManager.default.removeItem(atPath: box.store)
    var cfg = SupplicantConfiguration(storageDirectory: box.store, taDirectory: box.taDir)
    cfg.logger.logLevel = .critical
    guard let sup = try? Supplicant(driver: box.driver, configuration: cfg) else { require(false, "no supplicant"); return }
    var c = FuzzInput(input)
    var handles: [UInt64] = [0, 1, 0xFFFF_FFFF_FFFF_FFFF]
    var steps = 0
    while !c.atEnd && steps < 32 {
        steps += 1
        let kind = c.u8()
        var params: [SupplicantParam] = []
        let cmd: RPCCommand
        switch kind % 8 {
        case 0:
            cmd = .loadTA
            let uuid = c.u8() & 1 == 0 ? (UInt64(0x3333_2222_1111_1111).byteSwapped, UInt64(0x5555_5555_5555_4444).byteSwapped) : (UInt64(c.u16()), UInt64(c.u16()))
            params = [.value(.valueInput, a: uuid.0, b: uuid.1, c: 0), memref(&c, .tmemOutput)]
        case 1, 2, 3, 4:
            cmd = .fs
            let op = UInt64(c.u8() % 12)
            let h = handles[Int(c.u8()) % handles.count]
            let off = c.u8() & 0xF0 == 0xF0 ? UInt64.max - UInt64(c.u16()) : UInt64(c.u16())
            params = [.value(.valueInput, a: op, b: h, c: off)]
            switch RPCFSOperation(rawValue: op) {
            case .open, .create, .opendir:
                params += [.memref(.tmemInput, data: path(&c), size: 0), .value(.valueOutput, a: 0, b: 0, c: 0)]
            case .read, .readdir, .write: params.append(memref(&c, op == RPCFSOperation.write.rawValue ? .tmemInput : .tmemOutput))
            case .remove: params.append(.memref(.tmemInput, data: path(&c), size: 0))
            case .rename: params += [.memref(.tmemInput, data: path(&c), size: 0), .memref(.tmemInput, data: path(&c), size: 0)]
            default: break
            }
            if c.u8() == 0xEE { params.removeLast() }   // a request short of a param
        case 5:
            cmd = .shmAlloc
            params = [.value(.valueInput, a: UInt64(c.u8() % 3), b: UInt64(c.u16()) << 4, c: 0)]
        case 6:
            cmd = .shmFree
            params = [.value(.valueInput, a: 0, b: handles[Int(c.u8()) % handles.count], c: 0)]
        default:
            cmd = RPCCommand(rawValue: UInt32(c.u16()))
            params = [memref(&c, .tmemInout)]
        }
        let resp = sup.serve(SupplicantRequest(id: UInt64(steps), command: cmd, params: params))
        require(resp.id == UInt64(steps), "answer to another request")
        require(resp.params.count == params.count, "answer changed the param count of \(cmd)")
        for (p, q) in zip(params, resp.params) {
            if case let .memref(_, d, _) = p, case let .memref(_, e, _) = q {
                require((d == nil) == (e == nil) && (d?.count ?? 0) == (e?.count ?? 0), "answer resized a buffer of \(cmd)")
            }
        }
        if resp.result == .success, case let .value(_, h, _, _)? = resp.params.last, cmd == .fs, params.count == 3 { handles.append(h) }
        if resp.result == .success, cmd == .shmAlloc, case let .value(_, _, _, id)? = resp.params.first { handles.append(id) }
        // Confinement: the sandbox holds exactly the store, the TA directory and the untouched outside.
        let top = (try? FileManager.default.contentsOfDirectory(atPath: box.base))?.sorted() ?? []
        require(top == ["outside", "store", "ta"] || top == ["outside", "ta"], "sandbox now holds \(top)")
        require((try? FileManager.default.contentsOfDirectory(atPath: box.outside)) == ["secret"], "outside changed")
        require(FileManager.default.contents(atPath: box.outside + "/secret") == Data("secret".utf8), "secret changed")
    }
    // Release what the run allocated (the driver outlives the input).
    for h in handles where h > 1 && h != .max { _ = sup.serve(SupplicantRequest(id: 0, command: .shmFree, params: [.value(.valueInput, a: 0, b: h, c: 0)])) }
}
