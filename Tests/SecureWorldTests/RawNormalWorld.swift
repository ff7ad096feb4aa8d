// A minimal test-side normal world: a non-secure region, args written by PA, RPCs served by
// hand, so the secure world is driven with nothing but register frames and physical memory.
import Synchronization
import TEEABI
import Machine
@testable import SecureWorld

/// An in-memory file system answering FS RPCs (the supplicant's job).
struct MemFS {
    var files: [String: [UInt8]] = [:]
    var fds: [UInt64: String] = [:]
    var dirs: [UInt64: [String]] = [:]
    var next: UInt64 = 3
}

/// The secure world's clock as a test drives it: every reading advances it by `step` ns (0: it
/// stands still until `advance`), so FOREIGN_INTR ticks and TA time never depend on the wall clock.
final class TestClock: SecureClock {
    let now = Atomic<UInt64>(0)
    let step: UInt64
    init(step: UInt64) { self.step = step }
    func nanoseconds() -> UInt64 { now.wrappingAdd(step, ordering: .relaxed).oldValue }
    func advance(_ ns: UInt64) { now.wrappingAdd(ns, ordering: .relaxed) }
}

/// The test's normal world.
final class RawNormalWorld: @unchecked Sendable {
    let memory: PhysicalMemory
    let region: Region
    let world: SecureWorld
    let lock = Mutex(State())

    struct State {
        var nextPage = 0
        var freePages: [PA] = []
        var rpcShm: [UInt64: (pa: PA, pages: Int)] = [:]
        /// Non-contiguous SHM_ALLOC buffers by cookie: their data pages in order.
        var rpcShmPages: [UInt64: [PA]] = [:]
        /// The LOAD_TA memrefs the secure world sent, in order.
        var loadTAParams: [MsgParam] = []
        var freedCookies: [UInt64] = []
        var rpcArgs: [UInt64: PA] = [:]
        var fs = MemFS()
        var notified: Set<UInt64> = []
        var log: [String] = []
        var rpcCommands: [UInt32] = []
        var rpcFunctions: [UInt32] = []
        var noncontigSHM = false
        /// Attributes of every memref param of the FS RPCs served.
        var fsMemrefAttrs: [MsgAttr] = []
        var allocAnswer: ((Int) -> (pa: UInt64, cookie: UInt64))? = nil
        /// TA images LOAD_TA can deliver, by UUID.
        var taImages: [TEEUUID: [UInt8]] = [:]
    }

    init(config: SecureWorldConfig = .init(), tas: [TADescriptor] = TestTAs.all, pages: Int = 512,
         clock: any SecureClock = TestClock(step: 1_000_000)) throws {
        memory = PhysicalMemory()
        _ = try memory.addRegion(kind: .secure, pages: 16)
        region = try memory.addRegion(kind: .hypervisor, pages: pages)
        world = SecureWorld(memory: memory, config: config, tas: tas, clock: clock)
    }

    // MARK: Memory

    /// Allocates `n` contiguous zeroed pages of normal-world RAM.
    func pages(_ n: Int = 1) -> PA {
        lock.withLock { s in
            if n == 1, let p = s.freePages.popLast() { try? memory.zero(p, count: pageSize, world: .nonSecure); return p }
            let pa = PA(region.basePA.raw + UInt64(s.nextPage * pageSize))
            s.nextPage += n
            precondition(s.nextPage <= region.pages, "test region exhausted")
            return pa
        }
    }
    func write(_ pa: PA, _ b: [UInt8]) { try? memory.write(pa, b, world: .nonSecure) }
    func read(_ pa: PA, _ n: Int) -> [UInt8] { (try? memory.read(pa, count: n, world: .nonSecure)) ?? [] }
    func writeArg(_ pa: PA, _ a: MsgArg) { write(pa, a.encoded()) }
    func readArg(_ pa: PA, params: Int? = nil) -> MsgArg? {
        var head = read(pa, 32)
        let n = params ?? head.withUnsafeMutableBytes { b in (try? MsgArgView(b)).map { Int($0.numParams) } ?? 0 }
        return try? MsgArg.decode(read(pa, MsgArg.size(numParams: min(n, 127))), validateAttributes: false)
    }

    /// Builds a NONCONTIG page list for `data` pages, returns buf_ptr (list PA | offset).
    func pageList(_ dataPages: [PA], offset: Int = 0) -> UInt64 {
        let lists = max(1, PageList.listPages(for: dataPages.count))
        let listPAs = (0..<lists).map { _ in pages() }
        for (i, l) in listPAs.enumerated() {
            let chunk = Array(dataPages.dropFirst(i * 511).prefix(511)).map { $0.raw }
            let next = i + 1 < lists ? listPAs[i + 1].raw : 0
            write(l, PageList.Page(entries: chunk, next: next).encoded())
        }
        return listPAs[0].raw | UInt64(offset)
    }

    // MARK: Calls

    /// Frame for CALL_WITH_ARG at `pa` from `client`.
    func callFrame(_ pa: PA, client: UInt64 = 1, rpcArg: Bool = false) -> RegisterFrame {
        let (h, l) = RegisterFrame.split(pa.raw)
        return RegisterFrame(rpcArg ? .callWithRPCArg : .callWithArg, a1: h, a2: l, a3: 1, a7: client)
    }

    /// Runs one std call to completion serving every RPC; returns the final frame and the arg read back.
    @discardableResult
    func call(_ arg: MsgArg, client: UInt64 = 1, rpcArg: Bool = false) -> (frame: RegisterFrame, arg: MsgArg?) {
        let pa = pages()
        writeArg(pa, arg)
        let f = complete(world.smc(callFrame(pa, client: client, rpcArg: rpcArg)), client: client, argPA: pa, rpcArg: rpcArg, params: arg.params.count)
        return (f, readArg(pa, params: arg.params.count))
    }

    /// Serves RPCs until the call returns something that is not an RPC.
    func complete(_ start: RegisterFrame, client: UInt64 = 1, argPA: PA? = nil, rpcArg: Bool = false, params: Int = 0,
                  limit: Int = 10_000) -> RegisterFrame {
        var f = start
        var n = 0
        while SMCReturn(rawValue: UInt32(truncatingIfNeeded: f.a0)).isRPC && n < limit {
            let rpcPA: PA? = rpcArg ? argPA.map { PA($0.raw + UInt64(MsgArg.size(numParams: params))) } : nil
            f = world.smc(serve(f, client: client, rpcArgPA: rpcPA))
            n += 1
        }
        return f
    }

    /// The RETURN_FROM_RPC frame answering RPC frame `f` (default behaviour of a good normal world).
    func serve(_ f: RegisterFrame, client: UInt64 = 1, rpcArgPA: PA? = nil) -> RegisterFrame {
        var r = RegisterFrame(.returnFromRPC, a1: f.a1, a2: f.a2, a3: f.a3, a7: client)
        let fn = UInt32(truncatingIfNeeded: f.a0) & 0xFFFF
        lock.withLock { $0.rpcFunctions.append(fn) }
        switch RPCFunction(rawValue: fn) {
        case .alloc:
            let custom = lock.withLock { $0.allocAnswer }
            if let c = custom {
                let a = c(Int(f.a1))
                (r.a1, r.a2) = RegisterFrame.split(a.pa); (r.a4, r.a5) = RegisterFrame.split(a.cookie)
            } else {
                let pa = pages()
                (r.a1, r.a2) = RegisterFrame.split(pa.raw)
                (r.a4, r.a5) = RegisterFrame.split(pa.raw | 0x1_0000_0000_0000)
                lock.withLock { $0.rpcArgs[pa.raw | 0x1_0000_0000_0000] = pa }
            }
        case .free:
            let c = RegisterFrame.join(f.a1, f.a2)
            lock.withLock { s in s.freedCookies.append(c); if let p = s.rpcArgs.removeValue(forKey: c) { s.freePages.append(p) } }
        case .cmd:
            let cookie = RegisterFrame.join(f.a1, f.a2)
            let pa = rpcArgPA ?? lock.withLock { $0.rpcArgs[cookie] }
            if let pa { serveCommand(pa) }
        default:
            break
        }
        return r
    }

    /// Handles the RPC optee_msg_arg at `pa` in place.
    func serveCommand(_ pa: PA) {
        guard var a = readArg(pa) else { return }
        lock.withLock { $0.rpcCommands.append(a.cmd.rawValue) }
        a.ret = .success
        switch RPCCommand(rawValue: a.cmd.rawValue) {
        case .getTime:
            a.params[0].a = 1_700_000_000; a.params[0].b = 123_456_789
        case .suspend:
            break
        case .notification:
            if a.params[0].a == 1 { _ = lock.withLock { $0.notified.insert(a.params[0].b) } }
        case .shmAlloc:
            let size = Int(a.params[0].b)
            let n = (size + pageSize - 1) / pageSize
            let nc = lock.withLock { $0.noncontigSHM } && n > 1
            if nc {
                // Pages in descending order: never one piece, so only the page list reaches them.
                let ps = Array((0..<n).map { _ in pages() }.reversed())
                let bp = pageList(ps)
                let cookie = 0x5000 + UInt64(ps[0].raw >> 12)
                lock.withLock { $0.rpcShmPages[cookie] = ps }
                a.params[0] = .tmem(.tmemOutput, bufPtr: bp, size: UInt64(size), shmRef: cookie, noncontig: true)
            } else {
                let p = pages(n)
                let cookie = 0x5000 + UInt64(p.raw >> 12)
                lock.withLock { $0.rpcShm[cookie] = (p, n) }
                a.params[0] = .tmem(.tmemOutput, bufPtr: p.raw, size: UInt64(size), shmRef: cookie)
            }
        case .shmFree:
            let c = a.params[0].b
            lock.withLock { s in s.freedCookies.append(c); _ = s.rpcShm.removeValue(forKey: c) }
        case .loadTA:
            let uuid = TEEUUID(octets: a.params[0].octets)
            guard let image = lock.withLock({ $0.taImages[uuid] }) else { a.ret = .itemNotFound; break }
            let m = a.params[1]
            lock.withLock { $0.loadTAParams.append(m) }
            let isRmem = m.attr.type?.isRmem ?? false
            if m.size < UInt64(image.count) || (!isRmem && m.bufPtr == 0) {
                a.params[1].size = UInt64(image.count)
                a.ret = .shortBuffer
            } else if isRmem {
                // RMEM(cookie, offset) into a non-contiguous SHM_ALLOC buffer: write page by page.
                let ps = lock.withLock { $0.rpcShmPages[m.shmRef] } ?? []
                var off = Int(m.a)
                var rest = image[...]
                while !rest.isEmpty, off / pageSize < ps.count {
                    let n = min(pageSize - off % pageSize, rest.count)
                    write(PA(ps[off / pageSize].raw + UInt64(off % pageSize)), Array(rest.prefix(n)))
                    rest = rest.dropFirst(n); off += n
                }
                a.params[1].size = UInt64(image.count)
            } else {
                write(PA(a.params[1].bufPtr), image)
                a.params[1].size = UInt64(image.count)
            }
        case .fs:
            a.ret = serveFS(&a)
        default:
            a.ret = .notSupported
        }
        write(pa, a.encoded())
    }

    private func cstr(_ p: MsgParam, _ pages: [PA]?) -> String {
        let b = readMemref(p, Int(p.size), pages)
        return String(decoding: b.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The pieces (address, length) of `n` bytes of an RPC memref: TMEM by address in one piece,
    /// RMEM(cookie, offset) page by page through `pages`, the page list of the SHM_ALLOC buffer
    /// the cookie names.
    private func memrefPieces(_ p: MsgParam, _ n: Int, _ pages: [PA]?) -> [(PA, Int)] {
        guard p.attr.type?.isRmem ?? false else { return [(PA(p.bufPtr), n)] }
        let ps = pages ?? []
        var out: [(PA, Int)] = []
        var off = Int(p.a), left = n
        while left > 0, off / pageSize < ps.count {
            let k = min(left, pageSize - off % pageSize)
            out.append((PA(ps[off / pageSize].raw + UInt64(off % pageSize)), k))
            off += k; left -= k
        }
        return out
    }

    private func readMemref(_ p: MsgParam, _ n: Int, _ pages: [PA]?) -> [UInt8] {
        memrefPieces(p, n, pages).flatMap { read($0.0, $0.1) }
    }

    private func writeMemref(_ p: MsgParam, _ b: [UInt8], _ pages: [PA]?) {
        var rest = b[...]
        for (pa, k) in memrefPieces(p, b.count, pages) { write(pa, Array(rest.prefix(k))); rest = rest.dropFirst(k) }
    }

    /// The supplicant's file operations over `MemFS`.
    func serveFS(_ a: inout MsgArg) -> TEEResult {
        guard let op = RPCFSOperation(rawValue: a.params[0].a) else { return .badParameters }
        let attrs = a.params.dropFirst().map(\.attr).filter { $0.type?.isValue == false }
        let refs = a.params.map(\.shmRef)
        let pl: [[PA]?] = lock.withLock { s in s.fsMemrefAttrs += attrs; return refs.map { s.rpcShmPages[$0] } }
        return lock.withLock { s -> TEEResult in
            switch op {
            case .open, .create:
                let path = cstr(a.params[1], pl[1])
                if op == .open && s.fs.files[path] == nil { return .itemNotFound }
                if op == .create { s.fs.files[path] = [] }
                let fd = s.fs.next; s.fs.next += 1
                s.fs.fds[fd] = path
                a.params[2].a = fd
            case .close:
                s.fs.fds[a.params[0].b] = nil
            case .read:
                guard let p = s.fs.fds[a.params[0].b], let f = s.fs.files[p] else { return .badParameters }
                let off = Int(a.params[0].c), want = Int(a.params[1].size)
                let data = off < f.count ? Array(f[off..<min(f.count, off + want)]) : []
                writeMemref(a.params[1], data, pl[1])
                a.params[1].size = UInt64(data.count)
            case .write:
                guard let p = s.fs.fds[a.params[0].b], var f = s.fs.files[p] else { return .badParameters }
                let off = Int(a.params[0].c)
                let data = readMemref(a.params[1], Int(a.params[1].size), pl[1])
                if f.count < off + data.count { f += [UInt8](repeating: 0, count: off + data.count - f.count) }
                f.replaceSubrange(off..<off + data.count, with: data)
                s.fs.files[p] = f
            case .truncate:
                guard let p = s.fs.fds[a.params[0].b], let f = s.fs.files[p] else { return .badParameters }
                s.fs.files[p] = Array(f.prefix(Int(a.params[0].c)))
            case .remove:
                if s.fs.files.removeValue(forKey: cstr(a.params[1], pl[1])) == nil { return .itemNotFound }
            case .rename:
                let old = cstr(a.params[1], pl[1]), new = cstr(a.params[2], pl[2])
                guard let f = s.fs.files[old] else { return .itemNotFound }
                if a.params[0].b == 0 && s.fs.files[new] != nil { return .accessConflict }
                s.fs.files[new] = f; s.fs.files[old] = nil
            case .opendir:
                let dir = cstr(a.params[1], pl[1]) + "/"
                let names = s.fs.files.keys.filter { $0.hasPrefix(dir) }.map { String($0.dropFirst(dir.count)) }.sorted()
                if names.isEmpty { return .itemNotFound }
                let id = s.fs.next; s.fs.next += 1
                s.fs.dirs[id] = names
                a.params[2].a = id
            case .closedir:
                s.fs.dirs[a.params[0].b] = nil
            case .readdir:
                guard var names = s.fs.dirs[a.params[0].b] else { return .badParameters }
                guard !names.isEmpty else { return .itemNotFound }
                let n = names.removeFirst()
                s.fs.dirs[a.params[0].b] = names
                let b = Array(n.utf8) + [0]
                writeMemref(a.params[1], b, pl[1])
                a.params[1].size = UInt64(b.count)
            }
            return .success
        }
    }

    // MARK: Helpers for commands

    /// VM_CREATED for `client` (from the hypervisor).
    func createVM(_ client: UInt64) -> SMCReturn {
        SMCReturn(rawValue: UInt32(world.smc(RegisterFrame(.vmCreated, a1: client, a7: 0)).a0))
    }

    /// Opens a session on `ta`; returns (ret, origin, session id).
    func open(_ ta: TEEUUID, client: UInt64 = 1, params: [MsgParam] = [], login: LoginMethod = .public) -> (TEEResult, UInt32, UInt32) {
        let meta = OpenSessionMeta(ta: ta, client: .zero, login: login)
        let (_, a) = call(MsgArg(cmd: .openSession, params: meta.params + params), client: client)
        return (a?.ret ?? .generic, a?.retOrigin.rawValue ?? 0, a?.session ?? 0)
    }

    /// Invokes `cmd`; returns the arg read back.
    func invoke(_ session: UInt32, _ cmd: UInt32, client: UInt64 = 1, params: [MsgParam] = [], rpcArg: Bool = false) -> MsgArg? {
        call(MsgArg(cmd: .invokeCommand, function: cmd, session: session, params: params), client: client, rpcArg: rpcArg).arg
    }

    func close(_ session: UInt32, client: UInt64 = 1) -> TEEResult {
        call(MsgArg(cmd: .closeSession, session: session), client: client).arg?.ret ?? .generic
    }
}

extension RegisterFrame {
    /// a0 as an SMC return code.
    var ret: SMCReturn { SMCReturn(rawValue: UInt32(truncatingIfNeeded: a0)) }
}
