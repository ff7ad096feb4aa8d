// A std call: locate and copy the argument (synchronously, on entry), then run the message
// command as a task on the secure thread's job queue, issuing RPCs as awaited continuations.
import Synchronization
import TAAPI
import TEEABI
import Machine

/// Why a std call was refused before it started: the SMC return code and a reason for the log.
struct CallRefusal: Error { let code: SMCReturn; let why: String }

/// Little-endian field access over copied bytes (the secure world's own copy).
enum Bytes {
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        guard o >= 0, o + 4 <= b.count else { return 0 }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[o + i]) << (8 * UInt32(i)) }
        return v
    }
    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 {
        guard o >= 0, o + 8 <= b.count else { return 0 }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[o + i]) << (8 * UInt64(i)) }
        return v
    }
    static func le(_ v: UInt64, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
    /// The param at index `i` of an encoded optee_msg_arg.
    static func param(_ b: [UInt8], _ i: Int) -> MsgParam {
        let o = MsgArg.headerSize + i * MsgParam.byteSize
        return MsgParam(attr: MsgAttr(rawValue: u64(b, o)), a: u64(b, o + 8), b: u64(b, o + 16), c: u64(b, o + 24))
    }
}

/// Size of the RPC argument (OPTEE_MSG_GET_ARG_SIZE(THREAD_RPC_MAX_NUM_PARAMS)).
let rpcArgSize = MsgArg.size(numParams: Int(OPTEEIdentity.rpcMaxNumParams))

extension SecureWorld {
    /// Locates the call's argument, checks where it lies and copies it into secure memory.
    func prepareCall(_ frame: RegisterFrame, _ p: Partition, _ t: SecureThread) -> Result<StdCall, CallRefusal> {
        let f = frame.function
        switch f {
        case .callWithArg, .callWithRPCArg:
            let withRPC = f == .callWithRPCArg
            let pa = PA(RegisterFrame.join(frame.a1, frame.a2))
            guard pa.raw & 7 == 0 else { return .failure(CallRefusal(code: .ebadaddr, why: "arg \(pa) not 8-byte aligned")) }
            // The argument (and the RPC argument after it) must lie in one page of non-secure RAM.
            let avail = pageSize - pa.pageOffset
            guard ns.isNonSecure(pa, count: min(avail, MsgArg.headerSize)) else {
                return .failure(CallRefusal(code: .ebadaddr, why: "arg \(pa) not in non-secure RAM"))
            }
            let head: [UInt8]
            do { head = try ns.view.read(pa, count: MsgArg.headerSize) } catch {
                return .failure(CallRefusal(code: .ebadaddr, why: "arg \(pa) unreadable"))
            }
            let n = Int(Bytes.u32(head, 28))
            guard n <= MsgArg.maxNumParams else { return .failure(CallRefusal(code: .ebadaddr, why: "num_params \(n)")) }
            let size = MsgArg.size(numParams: n)
            let total = size + (withRPC ? rpcArgSize : 0)
            guard total <= avail, ns.isNonSecure(pa, count: total) else {
                return .failure(CallRefusal(code: .ebadaddr, why: "arg of \(total) bytes at \(pa) crosses its page"))
            }
            var bytes = head
            if size > MsgArg.headerSize {
                guard let rest = try? ns.view.read(PA(pa.raw + UInt64(MsgArg.headerSize)), count: size - MsgArg.headerSize) else {
                    return .failure(CallRefusal(code: .ebadaddr, why: "arg params unreadable"))
                }
                bytes += rest
            }
            let rpc = withRPC ? RPCArgBuffer(buffer: NSBuffer(pa: PA(pa.raw + UInt64(size)), count: rpcArgSize), cookie: 0, supplied: true) : nil
            return .success(StdCall(world: self, partition: p, thread: t, argBuffer: NSBuffer(pa: pa, count: size),
                                    bytes: bytes, suppliedRPCArg: rpc, regdCookie: nil))
        case .callWithRegdArg:
            let cookie = RegisterFrame.join(frame.a1, frame.a2)
            let offset = Int(frame.a3 & 0xFFFF_FFFF)
            guard let shm = p.useSHM(cookie) else {
                return .failure(CallRefusal(code: .ebadaddr, why: "CALL_WITH_REGD_ARG: unknown cookie \(hex(cookie))"))
            }
            func refuse(_ why: String) -> Result<StdCall, CallRefusal> {
                p.unuseSHM(cookie); return .failure(CallRefusal(code: .ebadaddr, why: why))
            }
            guard offset & 7 == 0, let head = try? shm.read(ns.view, offset: offset, count: MsgArg.headerSize) else {
                return refuse("regd arg offset \(offset) bad for shm of \(shm.size) bytes")
            }
            let n = Int(Bytes.u32(head, 28))
            guard n <= MsgArg.maxNumParams else { return refuse("num_params \(n)") }
            let size = MsgArg.size(numParams: n)
            guard offset + size + rpcArgSize <= shm.size, let argBuf = shm.slice(offset: offset, count: size),
                  let rpcBuf = shm.slice(offset: offset + size, count: rpcArgSize) else {
                return refuse("regd arg of \(size) bytes at \(offset) overruns shm of \(shm.size) bytes")
            }
            var bytes = head
            if size > MsgArg.headerSize {
                guard let rest = try? shm.read(ns.view, offset: offset + MsgArg.headerSize, count: size - MsgArg.headerSize) else {
                    return refuse("regd arg params unreadable")
                }
                bytes += rest
            }
            return .success(StdCall(world: self, partition: p, thread: t, argBuffer: argBuf, bytes: bytes,
                                    suppliedRPCArg: RPCArgBuffer(buffer: rpcBuf, cookie: 0, supplied: true), regdCookie: cookie))
        default:
            return .failure(CallRefusal(code: .ebadcmd, why: "unknown std call \(f)"))
        }
    }
}

/// One std call in flight: the copied argument, where to write results, and the secure thread
/// it runs on. Also the execution context TA services use to issue RPCs.
final class StdCall: Sendable {
    let world: SecureWorld
    let partition: Partition
    let thread: SecureThread
    /// Where the argument lives in normal-world memory (results are written back there).
    let argBuffer: NSBuffer
    /// The secure copy of the argument; everything is decoded from this.
    let bytes: [UInt8]
    let suppliedRPCArg: RPCArgBuffer?
    let regdCookie: UInt64?
    /// Names this call for instance ownership.
    let token: UInt64
    /// Set by CANCEL.
    let cancelled = Mutex(false)
    /// Application shm kept for FS payloads until the call ends (OP-TEE's per-thread shm cache).
    let payload = Mutex<(buffer: NSBuffer, cookie: UInt64)?>(nil)

    init(world: SecureWorld, partition: Partition, thread: SecureThread, argBuffer: NSBuffer, bytes: [UInt8],
         suppliedRPCArg: RPCArgBuffer?, regdCookie: UInt64?) {
        self.world = world; self.partition = partition; self.thread = thread; self.argBuffer = argBuffer
        self.bytes = bytes; self.suppliedRPCArg = suppliedRPCArg; self.regdCookie = regdCookie
        self.token = world.nextToken()
    }

    var numParams: Int { Int(Bytes.u32(bytes, 28)) }
    var command: MsgCommand { MsgCommand(rawValue: Bytes.u32(bytes, 0)) }
    var function: UInt32 { Bytes.u32(bytes, 4) }
    var session: UInt32 { Bytes.u32(bytes, 8) }
    var cancelID: UInt32 { Bytes.u32(bytes, 12) }
    func param(_ i: Int) -> MsgParam { Bytes.param(bytes, i) }

    /// Runs the command, writes the results back, releases what the call held.
    func run() async -> SMCReturn {
        var out = ArgPatch()
        let r = await execute(&out)
        if r == .ok { out.write(to: argBuffer, world.ns.view) }
        await endOfCall()
        if let c = regdCookie { partition.unuseSHM(c) }
        return r
    }

    /// Frees the cached payload shm, and the RPC argument allocated with RPC_ALLOC unless the
    /// shm cache keeps it.
    private func endOfCall() async {
        if let p = payload.withLock({ v -> (buffer: NSBuffer, cookie: UInt64)? in let p = v; v = nil; return p }) {
            await freeSharedMemory(type: .application, cookie: p.cookie)
        }
        guard !partition.shmCacheEnabled || thread.isAborting else { return }
        let cached = thread.box.withLock { b -> RPCArgBuffer? in let a = b.rpcArg; b.rpcArg = nil; return a }
        if let a = cached, !a.supplied, a.cookie != 0 {
            let (h, l) = RegisterFrame.split(a.cookie)
            _ = await thread.rpc(SMCReturn.rpc(.free).rawValue, h, l)
        }
    }

    // MARK: RPC

    /// Issues RPC_CMD `cmd` with `params` in the RPC argument; returns `ret`, the params read back
    /// and the num_params the normal world left. Allocates the RPC argument with RPC_ALLOC first
    /// when the call did not supply one and none is cached.
    func rpcCommand(_ cmd: RPCCommand, _ params: [MsgParam]) async -> (ret: TEEResult, params: [MsgParam], numParams: Int) {
        guard params.count <= Int(OPTEEIdentity.rpcMaxNumParams) else { return (.badParameters, [], 0) }
        partition.countRPC(cmd)
        guard let arg = await rpcArgument() else { return (.outOfMemory, [], 0) }
        let msg = MsgArg(cmd: MsgCommand(rawValue: cmd.rawValue), ret: .generic, params: params)
        do { try arg.buffer.write(world.ns.view, offset: 0, msg.encoded()) } catch { return (.outOfMemory, [], 0) }
        let (h, l) = RegisterFrame.split(arg.cookie)
        let reply = await thread.rpc(SMCReturn.rpc(.cmd).rawValue, h, l)
        if reply.aborted { return (.communication, [], 0) }
        // Copy the answer once, then decode the copy.
        guard let back = try? arg.buffer.read(world.ns.view, offset: 0, count: msg.byteSize) else { return (.communication, [], 0) }
        let out = (0..<params.count).map { Bytes.param(back, $0) }
        return (TEEResult(rawValue: Bytes.u32(back, 20)), out, Int(Bytes.u32(back, 28)))
    }

    private func rpcArgument() async -> RPCArgBuffer? {
        if let s = suppliedRPCArg { return s }
        if let c = thread.box.withLock({ $0.rpcArg }) { return c }
        let reply = await thread.rpc(SMCReturn.rpc(.alloc).rawValue, UInt64(rpcArgSize), 0)
        if reply.aborted { return nil }
        let pa = RegisterFrame.join(reply.a1, reply.a2)
        let cookie = RegisterFrame.join(reply.a4, reply.a5)
        guard pa != 0, pa & 7 == 0, let buf = world.ns.contiguous(PA(pa), count: rpcArgSize) else {
            world.log.debug("RPC_ALLOC answered bad address \(hex(pa))")
            if cookie != 0 {
                let (h, l) = RegisterFrame.split(cookie)
                _ = await thread.rpc(SMCReturn.rpc(.free).rawValue, h, l)
            }
            return nil
        }
        let a = RPCArgBuffer(buffer: buf, cookie: cookie, supplied: false)
        thread.box.withLock { $0.rpcArg = a }
        return a
    }

    /// RPC SHM_ALLOC: normal-world shared memory of at least `size` bytes, by PA or page list.
    func allocSharedMemory(type: RPCShmType, size: Int) async throws(TEEResult) -> (buffer: NSBuffer, cookie: UInt64) {
        guard size > 0, size <= world.config.maxMemrefBytes else { throw .outOfMemory }
        let (ret, params, n) = await rpcCommand(.shmAlloc, [.value(.valueInput, a: type.rawValue, b: UInt64(size), c: 8)])
        guard ret == .success, n == 1, let p = params.first else { throw ret == .success ? .outOfMemory : ret }
        let cookie = p.shmRef
        let contig = MsgAttr(.tmemOutput), noncontig = MsgAttr(.tmemOutput, noncontig: true)
        var buffer: NSBuffer? = nil
        if p.size >= UInt64(size) {
            if p.attr == contig, p.bufPtr != 0 {
                buffer = world.ns.contiguous(PA(p.bufPtr), count: size)
            } else if p.attr == noncontig {
                buffer = try? world.ns.walkPageList(bufPtr: p.bufPtr, size: UInt64(size), maxPages: world.config.maxSHMPages)
            }
        }
        guard let b = buffer else {
            world.log.debug("SHM_ALLOC answered an unusable buffer \(p)")
            if cookie != 0 { await freeSharedMemory(type: type, cookie: cookie) }
            throw .outOfMemory
        }
        return (b, cookie)
    }

    /// Application shm of at least `size` bytes for an FS payload, reused across the RPCs of this
    /// call and freed when it ends.
    func payloadBuffer(size: Int) async throws(TEEResult) -> (buffer: NSBuffer, cookie: UInt64) {
        if let p = payload.withLock({ $0 }), p.buffer.size >= size { return p }
        if let old = payload.withLock({ v -> (buffer: NSBuffer, cookie: UInt64)? in let p = v; v = nil; return p }) {
            await freeSharedMemory(type: .application, cookie: old.cookie)
        }
        let p = try await allocSharedMemory(type: .application, size: max(size, pageSize))
        payload.withLock { $0 = p }
        return p
    }

    /// RPC SHM_FREE of a buffer from `allocSharedMemory`.
    func freeSharedMemory(type: RPCShmType, cookie: UInt64) async {
        _ = await rpcCommand(.shmFree, [.value(.valueInput, a: type.rawValue, b: cookie)])
    }

    /// Yields to the normal world with RPC FOREIGN_INTR; false when the VM is going away.
    func foreignInterrupt() async -> Bool {
        !(await thread.rpc(SMCReturn.rpc(.foreignInterrupt).rawValue)).aborted
    }
}

/// Results to write into the caller's argument at the end: (offset, value, width) in order.
struct ArgPatch {
    var items: [(offset: Int, value: UInt64, width: Int)] = []
    mutating func u32(_ o: Int, _ v: UInt32) { items.append((o, UInt64(v), 4)) }
    mutating func u64(_ o: Int, _ v: UInt64) { items.append((o, v, 8)) }
    mutating func result(_ r: TEEResult, _ origin: TEEOrigin) { u32(20, r.rawValue); u32(24, origin.rawValue) }
    /// Writes the fields, merging adjacent ones into one write each.
    func write(to buffer: NSBuffer, _ view: MemoryView) {
        var runs: [(offset: Int, bytes: [UInt8])] = []
        for i in items {
            let b = Bytes.le(i.value, i.width)
            if let last = runs.last, last.offset + last.bytes.count == i.offset {
                runs[runs.count - 1].bytes += b
            } else if let k = runs.lastIndex(where: { $0.offset <= i.offset && i.offset + i.width <= $0.offset + $0.bytes.count }) {
                runs[k].bytes.replaceSubrange((i.offset - runs[k].offset)..<(i.offset - runs[k].offset + i.width), with: b)
            } else {
                runs.append((i.offset, b))
            }
        }
        for r in runs { try? buffer.write(view, offset: r.offset, r.bytes) }
    }
}
