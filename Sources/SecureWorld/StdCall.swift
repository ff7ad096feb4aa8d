// A std call: the argument is copied once (exactly its 32 + 32n bytes) into the secure thread's
// own buffer, read and written there only through TEEABI's MsgArgView, and the results are copied
// back into the normal world's argument field by field through the same view. RPC arguments are
// built and read back through the view too.
import Synchronization
import TAAPI
import TEEABI
import Machine

/// Why a std call was refused before it started: the SMC return code and a reason for the log.
struct CallRefusal: Error { let code: SMCReturn; let why: String }

/// Size of the RPC argument (OPTEE_MSG_GET_ARG_SIZE(THREAD_RPC_MAX_NUM_PARAMS)).
let rpcArgSize = MsgArg.size(numParams: Int(OPTEEIdentity.rpcMaxNumParams))

/// Layout of a secure thread's buffer: the argument copy, the RPC argument being built or read
/// back, and a bounce area for copying results into an argument that spans pages.
enum ThreadBuffer {
    /// Largest argument (OPTEE_MSG_GET_ARG_SIZE(OPTEE_MSG_MAX_NUM_PARAMS)).
    static let argBytes = MsgArg.size(numParams: MsgArg.maxNumParams)
    static let rpcOffset = argBytes
    static let bounceOffset = argBytes + rpcArgSize
    static let total = 2 * argBytes + rpcArgSize
}

/// Where the normal world's argument lives, for the copy back.
enum ArgPlace: Sendable {
    case none
    /// CALL_WITH_ARG / CALL_WITH_RPC_ARG: inside one page at this PA.
    case physical(PA)
    /// CALL_WITH_REGD_ARG: a slice of a registered shm (possibly over several pages).
    case registered(NSBuffer)
}

/// Where the RPC argument supplied with the call lives.
enum SuppliedRPCArg: Sendable {
    case none
    case physical(PA)
    case registered(NSBuffer)
}

/// What one call needs besides its copied argument; set by the vCPU that posts the command.
struct CallSetup: Sendable {
    var place: ArgPlace = .none
    var argSize = 0
    var numParams = 0
    var suppliedRPC: SuppliedRPCArg = .none
    var regdCookie: UInt64? = nil
    /// This call allocated an RPC argument with RPC_ALLOC (the end of the call may free it).
    var allocatedRPCArg = false
    /// Names this call for instance ownership.
    var token: UInt64 = 0
    /// The command already ran on the entering vCPU (`runInline`); the task only finishes it.
    var ranInline = false
    /// A call waiting for a TA instance this call released on the entering vCPU: the task
    /// sends its notification (an RPC) before anything else.
    var wake: UInt32? = nil
}

/// The std call record is the secure thread itself (one reusable record per thread).
typealias StdCall = SecureThread

/// The params of an RPC argument as the normal world left them: at most
/// `OPTEEIdentity.rpcMaxNumParams` (4), kept inline, so reading an RPC's answer allocates nothing.
struct RPCParams: RandomAccessCollection, Sendable {
    private var items: InlineArray<4, MsgParam> = InlineArray(repeating: .none)
    private(set) var endIndex = 0
    var startIndex: Int { 0 }
    subscript(i: Int) -> MsgParam { items[i] }
    /// Adds a param; past the fourth it is dropped (the argument holds no more).
    mutating func append(_ p: MsgParam) {
        guard endIndex < items.count else { return }
        items[endIndex] = p
        endIndex += 1
    }
}

extension SecureThread {
    /// The thread running this call (the record and the thread are one object).
    var thread: SecureThread { self }

    /// The copied argument, through the view.
    var arg: MsgArgView? { argView(0, setup.argSize) }

    var numParams: Int { setup.numParams }
    var token: UInt64 { setup.token }

    /// Locates the call's argument, checks where it lies and copies it into this thread's buffer.
    /// Runs on the vCPU that owns the thread, before the command is posted.
    func prepare(_ frame: RegisterFrame) -> Result<Void, CallRefusal> {
        // The world passed on guaranteed (+0; it outlives its threads' calls, see `world`), so
        // its `let`s are reached without a reference count.
        Unmanaged.passUnretained(world)._withUnsafeGuaranteedRef { prepare(frame, world: $0) }
    }

    private func prepare(_ frame: RegisterFrame, world: SecureWorld) -> Result<Void, CallRefusal> {
        ensureBuffer()
        var s = CallSetup()
        s.token = world.nextToken()
        let f = frame.function
        switch f {
        case .callWithArg, .callWithRPCArg:
            let withRPC = f == .callWithRPCArg
            let pa = PA(RegisterFrame.join(frame.a1, frame.a2))
            guard pa.raw & 7 == 0 else { return .failure(CallRefusal(code: .ebadaddr, why: "arg \(pa) not 8-byte aligned")) }
            // The argument (and the RPC argument after it) must lie in one page of non-secure RAM.
            let avail = pageSize - pa.pageOffset
            guard avail >= MsgArg.headerSize, let head = argSlice(0, MsgArg.headerSize),
                  (try? world.memory.read(pa, into: head, world: .nonSecure)) != nil, let hv = argView(0, MsgArg.headerSize) else {
                return .failure(CallRefusal(code: .ebadaddr, why: "arg \(pa) not readable non-secure RAM"))
            }
            let n = Int(hv.numParams)
            guard hv.numParams <= UInt32(MsgArg.maxNumParams) else { return .failure(CallRefusal(code: .ebadaddr, why: "num_params \(n)")) }
            let size = MsgArg.size(numParams: n)
            let total = size + (withRPC ? rpcArgSize : 0)
            guard total <= avail, !withRPC || world.ns.isNonSecure(pa, count: total) else {
                return .failure(CallRefusal(code: .ebadaddr, why: "arg of \(total) bytes at \(pa) crosses its page"))
            }
            if size > MsgArg.headerSize {
                guard let rest = argSlice(MsgArg.headerSize, size - MsgArg.headerSize),
                      (try? world.memory.read(PA(pa.raw + UInt64(MsgArg.headerSize)), into: rest, world: .nonSecure)) != nil else {
                    return .failure(CallRefusal(code: .ebadaddr, why: "arg params unreadable"))
                }
            }
            s.place = .physical(pa); s.argSize = size; s.numParams = n
            if withRPC { s.suppliedRPC = .physical(PA(pa.raw + UInt64(size))) }
        case .callWithRegdArg:
            let cookie = RegisterFrame.join(frame.a1, frame.a2)
            let offset = Int(frame.a3 & 0xFFFF_FFFF)
            guard let shm = partition.useSHM(cookie) else {
                return .failure(CallRefusal(code: .ebadaddr, why: "CALL_WITH_REGD_ARG: unknown cookie \(hex(cookie))"))
            }
            func refuse(_ why: String) -> Result<Void, CallRefusal> {
                partition.unuseSHM(cookie); return .failure(CallRefusal(code: .ebadaddr, why: why))
            }
            guard offset & 7 == 0, let head = argSlice(0, MsgArg.headerSize),
                  (try? shm.read(world.ns.view, offset: offset, into: head)) != nil, let hv = argView(0, MsgArg.headerSize) else {
                return refuse("regd arg offset \(offset) bad for shm of \(shm.size) bytes")
            }
            guard hv.numParams <= UInt32(MsgArg.maxNumParams) else { return refuse("num_params \(hv.numParams)") }
            let n = Int(hv.numParams)
            let size = MsgArg.size(numParams: n)
            guard offset + size + rpcArgSize <= shm.size, let argBuf = shm.slice(offset: offset, count: size),
                  let rpcBuf = shm.slice(offset: offset + size, count: rpcArgSize) else {
                return refuse("regd arg of \(size) bytes at \(offset) overruns shm of \(shm.size) bytes")
            }
            if size > MsgArg.headerSize {
                guard let rest = argSlice(MsgArg.headerSize, size - MsgArg.headerSize),
                      (try? shm.read(world.ns.view, offset: offset + MsgArg.headerSize, into: rest)) != nil else {
                    return refuse("regd arg params unreadable")
                }
            }
            s.place = .registered(argBuf); s.argSize = size; s.numParams = n
            s.suppliedRPC = .registered(rpcBuf); s.regdCookie = cookie
        default:
            return .failure(CallRefusal(code: .ebadcmd, why: "unknown std call \(f)"))
        }
        setup = s
        cancelled.store(false, ordering: .relaxed)
        return .success(())
    }

    /// Runs the command, copies the results back, releases what the call held. Inlined into the
    /// thread's task loop, with `execute` and the INVOKE path: each async call allocates its
    /// callee's frame on the task's allocator (13 per GET_TIME before, ~18 ns each).
    @inline(__always) func run() async -> SMCReturn {
        if let key = setup.wake {
            setup.wake = nil
            await world.wakeInstanceWaiter(key, call: self)
        }
        let r = setup.ranInline ? SMCReturn.ok : await execute()
        if r == .ok { copyBack() }
        // The argument's shm is done with once the results are in it; a waiting UNREGISTER_SHM
        // is woken while this call can still make RPCs.
        if let c = setup.regdCookie {
            let wake = partition.unuseSHM(c)
            if !wake.isEmpty { await wakeUnregister(wake) }
        }
        await endOfCall()
        setup = CallSetup()
        return r
    }

    /// Copies ret, ret_origin, the session of OPEN_SESSION and every output param from the
    /// secure copy into the normal world's argument, field by field through the view.
    func copyBack() {
        guard let secure = arg else { return }
        let n = setup.numParams, size = setup.argSize
        let open = secure.cmd == .openSession
        switch setup.place {
        case .none:
            return
        case let .physical(pa):
            // Sound: the world holds its `memory` for its life, and this thread's world outlives its calls
            // (reached guaranteed: the access takes no reference count).
            Unmanaged.passUnretained(world.memory)._withUnsafeGuaranteedRef { memory in
                _ = try? memory.withBytes(pa, count: size, world: .nonSecure) { (raw: UnsafeMutableRawBufferPointer) throws(ABIError) in
                    try MsgArgView(raw).copyResults(from: secure, count: n, session: open)
                }
            }
        case let .registered(nsBuf):
            // The argument may span pages of the shm: read it into the bounce area, copy the
            // results there through the view, and write it back.
            guard let bounce = argSlice(ThreadBuffer.bounceOffset, size),
                  let dst = argView(ThreadBuffer.bounceOffset, size),
                  (try? nsBuf.read(world.ns.view, offset: 0, into: bounce)) != nil else { return }
            dst.copyResults(from: secure, count: n, session: open)
            try? nsBuf.write(world.ns.view, offset: 0, from: UnsafeRawBufferPointer(bounce))
        }
    }

    /// Frees the cached payload shm, and the RPC argument allocated with RPC_ALLOC unless the
    /// shm cache keeps it. Inlined: a call that holds neither makes no async call here.
    @inline(__always) private func endOfCall() async {
        guard payload != nil || setup.allocatedRPCArg else { return }
        await freeCallBuffers()
    }

    private func freeCallBuffers() async {
        if let p = payload {
            payload = nil
            await freeSharedMemory(type: .application, cookie: p.cookie)
        }
        // Only a call that allocated an RPC argument can have one to free (the cache is switched
        // only while every thread is free), so a call without RPCs takes no lock here.
        guard setup.allocatedRPCArg, !partition.shmCacheEnabled || isAborting else { return }
        let cached = shared.withLock { b -> RPCArgBuffer? in let a = b.rpcArg; b.rpcArg = nil; return a }
        if let a = cached, !a.supplied, a.cookie != 0 {
            let (h, l) = RegisterFrame.split(a.cookie)
            _ = await rpc(SMCReturn.rpc(.free).rawValue, h, l)
        }
    }

    // MARK: RPC

    /// Issues RPC_CMD `cmd` with `params` in the RPC argument; returns `ret`, the params read back
    /// and the num_params the normal world left. Allocates the RPC argument with RPC_ALLOC first
    /// when the call did not supply one and none is cached. The argument is built in this
    /// thread's buffer through the view, copied out once and copied back once.
    func rpcCommand(_ cmd: RPCCommand, _ params: [MsgParam]) async -> (ret: TEEResult, params: RPCParams, numParams: Int) {
        guard params.count <= Int(OPTEEIdentity.rpcMaxNumParams) else { return (.badParameters, RPCParams(), 0) }
        partition.countRPC(cmd)
        guard let rpcArg = await rpcArgument() else { return (.outOfMemory, RPCParams(), 0) }
        let size = MsgArg.size(numParams: params.count)
        guard let scratch = argSlice(ThreadBuffer.rpcOffset, size),
              let v = argView(ThreadBuffer.rpcOffset, size),
              (try? v.reset(cmd: MsgCommand(rawValue: cmd.rawValue), numParams: params.count)) != nil else {
            return (.outOfMemory, RPCParams(), 0)
        }
        v.ret = .generic
        for (i, p) in params.enumerated() { v.param(i)?.store(p) }
        do { try rpcArg.buffer.write(world.ns.view, offset: 0, from: UnsafeRawBufferPointer(scratch)) } catch { return (.outOfMemory, RPCParams(), 0) }
        let (h, l) = RegisterFrame.split(rpcArg.cookie)
        let reply = await rpc(SMCReturn.rpc(.cmd).rawValue, h, l)
        if reply.aborted { return (.communication, RPCParams(), 0) }
        // Copy the answer once, then read the copy through the view.
        guard (try? rpcArg.buffer.read(world.ns.view, offset: 0, into: scratch)) != nil else { return (.communication, RPCParams(), 0) }
        var out = RPCParams()
        for i in 0..<params.count { if let p = v.param(i) { out.append(p.load()) } }
        return (v.ret, out, Int(v.numParams))
    }

    /// The RPC argument buffer of this call: supplied with it, cached, or allocated with
    /// RPC_ALLOC (inlined: only the allocation is an async call).
    @inline(__always) private func rpcArgument() async -> RPCArgBuffer? {
        switch setup.suppliedRPC {
        case let .physical(pa): return RPCArgBuffer(buffer: NSBuffer(pa: pa, count: rpcArgSize), cookie: 0, supplied: true)
        case let .registered(b): return RPCArgBuffer(buffer: b, cookie: 0, supplied: true)
        case .none: break
        }
        if let c = shared.withLock({ $0.rpcArg }) { return c }
        return await allocateRPCArgument()
    }

    private func allocateRPCArgument() async -> RPCArgBuffer? {
        let reply = await rpc(SMCReturn.rpc(.alloc).rawValue, UInt64(rpcArgSize), 0)
        if reply.aborted { return nil }
        let pa = RegisterFrame.join(reply.a1, reply.a2)
        let cookie = RegisterFrame.join(reply.a4, reply.a5)
        guard pa != 0, pa & 7 == 0, let buf = world.ns.contiguous(PA(pa), count: rpcArgSize) else {
            world.log.debug("RPC_ALLOC answered bad address \(hex(pa))")
            if cookie != 0 {
                let (h, l) = RegisterFrame.split(cookie)
                _ = await rpc(SMCReturn.rpc(.free).rawValue, h, l)
            }
            return nil
        }
        let a = RPCArgBuffer(buffer: buf, cookie: cookie, supplied: false)
        setup.allocatedRPCArg = true
        shared.withLock { $0.rpcArg = a }
        return a
    }

    /// RPC SHM_ALLOC: normal-world shared memory of at least `size` bytes, by PA or page list.
    func allocSharedMemory(type: RPCShmType, size: Int) async throws(TEEResult) -> (buffer: NSBuffer, cookie: UInt64) {
        guard size > 0, size <= world.maxMemrefBytes else { throw .outOfMemory }
        let (ret, params, n) = await rpcCommand(.shmAlloc, [.value(.valueInput, a: type.rawValue, b: UInt64(size), c: 8)])
        guard ret == .success, n == 1, let p = params.first else { throw ret == .success ? .outOfMemory : ret }
        let cookie = p.shmRef
        let contig = MsgAttr(.tmemOutput), noncontig = MsgAttr(.tmemOutput, noncontig: true)
        var buffer: NSBuffer? = nil
        if p.size >= UInt64(size) {
            if p.attr == contig, p.bufPtr != 0 {
                buffer = world.ns.contiguous(PA(p.bufPtr), count: size)
            } else if p.attr == noncontig {
                buffer = try? world.ns.walkPageList(bufPtr: p.bufPtr, size: UInt64(size), maxPages: world.maxSHMPages)
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
        if let p = payload, p.buffer.size >= size { return p }
        if let old = payload {
            payload = nil
            await freeSharedMemory(type: .application, cookie: old.cookie)
        }
        let p = try await allocSharedMemory(type: .application, size: max(size, pageSize))
        payload = p
        return p
    }

    /// The RPC param naming `size` bytes at `offset` of a buffer from `allocSharedMemory`: a TMEM
    /// by physical address when the buffer is one piece, else RMEM(cookie, offset) as OP-TEE
    /// sends memrefs into non-contiguous shm (a TMEM address would name only one page).
    func rpcMemref(_ type: MsgParamType, buffer: NSBuffer, cookie: UInt64, offset: Int = 0, size: UInt64) -> MsgParam {
        if buffer.segments.count <= 1 {
            return .tmem(type, bufPtr: buffer.address(at: offset)?.raw ?? 0, size: size, shmRef: cookie)
        }
        let rmem = MsgParamType(rawValue: type.rawValue - 4) ?? .rmemInout
        return .rmem(rmem, offset: UInt64(offset), size: size, shmRef: cookie)
    }

    /// RPC SHM_FREE of a buffer from `allocSharedMemory`.
    func freeSharedMemory(type: RPCShmType, cookie: UInt64) async {
        _ = await rpcCommand(.shmFree, [.value(.valueInput, a: type.rawValue, b: cookie)])
    }

    /// Yields to the normal world with RPC FOREIGN_INTR; false when the VM is going away.
    func foreignInterrupt() async -> Bool {
        !(await rpc(SMCReturn.rpc(.foreignInterrupt).rawValue)).aborted
    }
}
