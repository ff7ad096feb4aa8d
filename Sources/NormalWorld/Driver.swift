/// The OP-TEE driver proper: probe, argument buffers, the std-call loop and RPC service.
import Dispatch
import Logging
import Machine
import Synchronization
import TEEABI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counters of what the driver did, for tests and stats.
public struct DriverStatistics: Sendable, Equatable {
    /// Std calls made (each SMC loop counts once).
    public var stdCalls = 0
    /// ETHREAD_LIMIT answers seen.
    public var threadLimitHits = 0
    /// RPC returns by function (ALLOC, FREE, FOREIGN_INTR, CMD or unknown raw value).
    public var rpcFunctions: [UInt32: Int] = [:]
    /// RPC commands served, by OPTEE_RPC_CMD_* value.
    public var rpcCommands: [UInt32: Int] = [:]
    /// Malformed RPC requests answered with an error.
    public var badRPC = 0
    /// Std calls that failed at the SMC level (COMMUNICATION).
    public var failedCalls = 0
    /// Std calls made with CALL_WITH_REGD_ARG.
    public var registeredArgumentCalls = 0
}

/// One guest's OP-TEE driver: probes the secure world, then serves open/invoke/close/cancel and
/// shared-memory requests from any number of threads, each trap on one of the guest's vCPUs.
public final class OPTEEDriver: Sendable {
    /// The guest's address space (only its guest-side accessors are used).
    public let space: GuestAddressSpace
    /// Where traps go.
    public let conduit: any Conduit
    /// Tunables.
    public let configuration: DriverConfiguration
    /// The guest page allocator every buffer comes from.
    public let allocator: GuestPageAllocator
    /// SEC_CAP_* bits from EXCHANGE_CAPABILITIES.
    public let capabilities: SecureCapabilities
    /// Secure threads reported by GET_THREAD_COUNT (nil when not reported).
    public let threadCount: Int?
    /// Params of the pre-allocated RPC argument (0 when CALL_WITH_ARG is used).
    public let rpcParamCount: Int
    /// Highest notification value (EXCHANGE_CAPABILITIES a2).
    public let maxNotificationValue: UInt64
    /// OS revision (GET_OS_REVISION a0.a1).
    public let osRevision: (major: UInt32, minor: UInt32)
    /// Whether ENABLE_ASYNC_NOTIF succeeded.
    public let asyncNotificationsEnabled: Bool
    /// The queue to the supplicant.
    public let supplicant: SupplicantChannel
    /// FIFO admission to secure threads.
    public let callQueue: CallQueue

    struct ShmRecord: Sendable {
        var handle: SharedMemoryHandle
        var backing: GuestBuffer?      // owned pages, freed on release
        var pageList: GuestBuffer?     // list kept alive while the secure world may use it
    }
    private let shms = Mutex<[UInt64: ShmRecord]>([:])
    private let nextCookie = Atomic<UInt64>(1)
    private let argPool = Mutex<[GuestBuffer]>([])
    private let regdPool = Mutex<[(GuestBuffer, UInt64)]>([])
    private let regdPages = Mutex<[(GuestBuffer, UInt64)]>([])
    private let vcpuCounter = Atomic<Int>(0)
    private let vcpuPool: DispatchSemaphore
    private let vcpuBusy: Mutex<[Bool]>
    private let stats = Mutex(DriverStatistics())
    private let shutDown = Atomic<Bool>(false)
    let notifications = NotificationTable()
    private var log: Logger { configuration.logger }

    /// Creates the driver for guest `space` trapping through `conduit`, and probes the secure
    /// world (UID, revision, capabilities, thread count, async notifications).
    public init(space: GuestAddressSpace, conduit: any Conduit, configuration: DriverConfiguration = DriverConfiguration(),
                supplicant: SupplicantChannel = SupplicantChannel()) throws(DriverError) {
        self.space = space; self.conduit = conduit; self.configuration = configuration
        self.allocator = GuestPageAllocator(space: space, range: configuration.ramPages)
        self.supplicant = supplicant
        self.vcpuPool = DispatchSemaphore(value: max(1, configuration.vcpus))
        self.vcpuBusy = Mutex([Bool](repeating: false, count: max(1, configuration.vcpus)))
        func fast(_ f: RegisterFrame) -> RegisterFrame { conduit.trap(f, vcpu: 0) }
        func u32(_ v: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: v) }

        let uid = fast(RegisterFrame(.callsUID))
        guard TEEUUID(registerWords: (u32(uid.a0), u32(uid.a1), u32(uid.a2), u32(uid.a3))) == .opteeAPI else { throw .notOPTEE }
        let rev = fast(RegisterFrame(.callsRevision))
        guard u32(rev.a0) == OPTEEIdentity.msgRevisionMajor, u32(rev.a1) >= OPTEEIdentity.msgRevisionMinor else {
            throw .unsupportedRevision(major: u32(rev.a0), minor: u32(rev.a1))
        }
        let os = fast(RegisterFrame(.getOSRevision))
        osRevision = (u32(os.a0), u32(os.a1))
        let nsec: NonSecureCapabilities = configuration.vcpus == 1 ? .uniprocessor : []
        let caps = fast(RegisterFrame(.exchangeCapabilities, a1: UInt64(nsec.rawValue)))
        guard SMCReturn(rawValue: u32(caps.a0)) == .ok else { throw .capabilitiesRefused(SMCReturn(rawValue: u32(caps.a0))) }
        capabilities = SecureCapabilities(rawValue: u32(caps.a1))
        guard capabilities.contains(.dynamicSHM) else { throw .noDynamicSharedMemory }
        maxNotificationValue = caps.a2 & 0xFFFF_FFFF
        let rpcParams = Int(caps.a3 & 0xFF)
        rpcParamCount = (configuration.useRPCArg && capabilities.contains(.rpcArg) && rpcParams > 0) ? rpcParams : 0
        let tc = fast(RegisterFrame(.getThreadCount))
        threadCount = (SMCReturn(rawValue: u32(tc.a0)) == .ok && tc.a1 > 0) ? Int(tc.a1 & 0xFFFF_FFFF) : nil
        callQueue = CallQueue(limit: threadCount)
        if capabilities.contains(.asyncNotif) {
            asyncNotificationsEnabled = SMCReturn(rawValue: u32(fast(RegisterFrame(.enableAsyncNotif)).a0)) == .ok
        } else {
            asyncNotificationsEnabled = false
        }
        if configuration.useRegisteredArguments && rpcParamCount > 0 {
            for _ in 0..<min(threadCount ?? 8, 16) {
                guard let page = try? allocator.allocate(pages: 1) else { break }
                let h = SharedMemoryHandle(id: newCookie(), address: page.base, size: pageSize, kind: .kernel, registered: true)
                guard (try? registerWithSecureWorld(h)) != nil else { allocator.free(page); break }
                regdPool.withLock { $0.append((page, h.id)) }
                regdPages.withLock { $0.append((page, h.id)) }
            }
        }
    }

    /// A snapshot of the counters.
    public var statistics: DriverStatistics { stats.withLock { $0 } }
    /// Shared memory objects the driver tracks now (client, kernel and supplicant).
    public var sharedMemoryCount: Int { shms.withLock { $0.count } }
    /// Callers blocked in NOTIFICATION waits now.
    public var notificationWaiters: Int { notifications.waiting }

    private func newCookie() -> UInt64 { nextCookie.wrappingAdd(1, ordering: .relaxed).oldValue }
    /// Runs one trap on a vCPU no other trap is using, as a guest kernel schedules its threads on
    /// vCPUs: a vCPU executes one SMC at a time. Between two traps of one call (while an RPC is
    /// served) the vCPU is free, so the call may resume on another one.
    private func trapOnFreeVCPU(_ frame: RegisterFrame) -> RegisterFrame {
        vcpuPool.wait()
        defer { vcpuPool.signal() }
        let start = vcpuCounter.wrappingAdd(1, ordering: .relaxed).oldValue
        let n = configuration.vcpus
        let v = vcpuBusy.withLock { busy -> Int in
            for k in 0..<n {
                let i = Int(UInt(bitPattern: start &+ k) % UInt(n))
                if !busy[i] { busy[i] = true; return i }
            }
            return 0   // unreachable: the semaphore admits at most n traps
        }
        defer { vcpuBusy.withLock { $0[v] = false } }
        return conduit.trap(frame, vcpu: v)
    }
    private func count(_ body: (inout DriverStatistics) -> Void) { stats.withLock { body(&$0) } }

    // MARK: - Client requests (the tee ioctls)

    /// OPEN_SESSION to TA `uuid` with the given login and client UUID (computed by the caller as
    /// Linux's tee_core does), TA params and cancel id.
    public func openSession(uuid: TEEUUID, login: LoginMethod, clientUUID: TEEUUID, params: [DriverParam],
                            cancelID: UInt32 = 0) throws(DriverError) -> DriverResult {
        // As tee_core: the REE-kernel login range is refused from user space, unknown methods are invalid.
        guard !(0x8000_0000...0xBFFF_FFFF).contains(login.rawValue) else { throw .notPermitted }
        guard login.isDefined else { throw .badParameters }
        let meta = OpenSessionMeta(ta: uuid, client: clientUUID, login: login).params
        return try request(cmd: .openSession, function: 0, session: 0, cancelID: cancelID, meta: meta, params: params)
    }

    /// INVOKE_COMMAND `function` in `session` with TA params and cancel id.
    public func invoke(session: UInt32, function: UInt32, params: [DriverParam], cancelID: UInt32 = 0) throws(DriverError) -> DriverResult {
        try request(cmd: .invokeCommand, function: function, session: session, cancelID: cancelID, meta: [], params: params)
    }

    /// CLOSE_SESSION; returns the secure world's result.
    @discardableResult
    public func closeSession(_ session: UInt32) throws(DriverError) -> TEEResult {
        try request(cmd: .closeSession, function: 0, session: session, cancelID: 0, meta: [], params: []).ret
    }

    /// CANCEL of the call with `cancelID` in `session`. It skips the call queue (the calls it
    /// would cancel may hold every slot) but still honours ETHREAD_LIMIT.
    @discardableResult
    public func cancel(cancelID: UInt32, session: UInt32) throws(DriverError) -> TEEResult {
        let (out, _) = try call(MsgArg(cmd: .cancel, session: session, cancelID: cancelID), queued: false)
        return out?.ret ?? .communication
    }

    /// Allocates `size` bytes of guest RAM as shared memory; with `register`, REGISTER_SHM makes it
    /// usable as RMEM in client params (Linux's dynamic shm). The supplicant passes `false`.
    public func allocateSharedMemory(size: Int, kind: SharedMemoryKind = .client, register: Bool = true) throws(DriverError) -> SharedMemoryHandle {
        guard size >= 0, size <= allocator.range.count * pageSize else { throw .badParameters }
        let buf = try allocator.allocate(bytes: max(size, 1))
        let id = newCookie()
        var handle = SharedMemoryHandle(id: id, address: buf.base, size: size, kind: kind, registered: false)
        if register {
            do throws(DriverError) { try registerWithSecureWorld(handle) } catch { allocator.free(buf); throw error }
            handle = SharedMemoryHandle(id: id, address: buf.base, size: size, kind: kind, registered: true)
        }
        shms.withLock { $0[id] = ShmRecord(handle: handle, backing: buf, pageList: nil) }
        return handle
    }

    /// Registers `size` bytes of guest RAM the caller owns at `address` (REGISTER_SHM with a
    /// NONCONTIG page list). The pages stay the caller's; `release` only unregisters.
    public func registerSharedMemory(address: IPA, size: Int) throws(DriverError) -> SharedMemoryHandle {
        guard size > 0, address.adding(UInt64(size)) != nil else { throw .badParameters }
        for p in PageListBuilder.dataPages(address: address, size: size) {
            guard let e = space.entry(IPA(p).page), e.type == .ramReadWrite else { throw .badParameters }
        }
        let id = newCookie()
        let handle = SharedMemoryHandle(id: id, address: address, size: size, kind: .client, registered: true)
        try registerWithSecureWorld(handle)
        shms.withLock { $0[id] = ShmRecord(handle: handle, backing: nil, pageList: nil) }
        return handle
    }

    /// Releases shared memory: UNREGISTER_SHM when registered, then frees what the driver owns.
    public func release(_ shm: SharedMemoryHandle) throws(DriverError) {
        try release(id: shm.id)
    }

    /// Releases shared memory by id (see `release(_:)`); unknown ids, and the driver's own
    /// memory for the secure world, are `.badParameters`.
    public func release(id: UInt64) throws(DriverError) {
        guard let rec = shms.withLock({ s -> ShmRecord? in
            guard let r = s[id], r.handle.kind != .kernel else { return nil }
            return s.removeValue(forKey: id)
        }) else {
            log.debug("release of unknown shared memory", metadata: ["id": "\(id)"])
            throw .badParameters
        }
        if rec.handle.registered {
            let arg = MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: id)])
            if let out = try? call(arg, queued: true).0, out.ret != .success {
                log.debug("UNREGISTER_SHM refused", metadata: ["id": "\(id)", "ret": "\(out.ret)"])
            }
        }
        if let b = rec.backing { allocator.free(b) }
        if let l = rec.pageList { allocator.free(l) }
    }

    /// The handle of shared memory `id`, if the driver knows it.
    public func sharedMemory(id: UInt64) -> SharedMemoryHandle? { shms.withLock { $0[id]?.handle } }

    /// Reads `count` bytes at `offset` of shared memory `shm` (a client mapping its buffer).
    public func read(_ shm: SharedMemoryHandle, offset: Int = 0, count: Int) throws(DriverError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= shm.size, count <= shm.size - offset,
              let a = shm.address.adding(UInt64(offset)) else { throw .badParameters }
        do { return try space.read(a, count: count) } catch { throw .communication }
    }

    /// Writes `bytes` at `offset` of shared memory `shm`.
    public func write(_ shm: SharedMemoryHandle, offset: Int = 0, _ bytes: [UInt8]) throws(DriverError) {
        guard offset >= 0, offset <= shm.size, bytes.count <= shm.size - offset,
              let a = shm.address.adding(UInt64(offset)) else { throw .badParameters }
        do { try space.write(a, bytes) } catch { throw .communication }
    }

    /// The async-notification interrupt's bottom half: drains GET_ASYNC_NOTIF_VALUE, waking
    /// notification waiters and running DO_BOTTOM_HALF when asked. Returns values handled.
    @discardableResult
    public func handleAsyncNotification() -> Int {
        guard asyncNotificationsEnabled else { return 0 }
        var handled = 0
        for _ in 0..<64 {
            let f = trapOnFreeVCPU(RegisterFrame(.getAsyncNotifValue))
            guard SMCReturn(rawValue: UInt32(truncatingIfNeeded: f.a0)) == .ok else { break }
            let flags = UInt32(truncatingIfNeeded: f.a2)
            guard flags & OPTEEIdentity.asyncNotifValid != 0 else { break }
            let value = f.a1 & 0xFFFF_FFFF
            if value == UInt64(OPTEEIdentity.asyncNotifValueDoBottomHalf) {
                _ = try? call(MsgArg(cmd: .doBottomHalf), queued: true)
            } else {
                notifications.send(key: value)
            }
            handled += 1
            if flags & OPTEEIdentity.asyncNotifPending == 0 { break }
        }
        return handled
    }

    /// Stops the driver: STOP_ASYNC_NOTIF when enabled; later requests fail with `.shutDown`.
    public func shutdown() {
        guard !shutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if asyncNotificationsEnabled { _ = try? call(MsgArg(cmd: .stopAsyncNotif), queued: true, force: true) }
        let pages = regdPages.withLock { p in defer { p = [] }; return p }
        regdPool.withLock { $0 = [] }
        for (page, cookie) in pages {
            let arg = MsgArg(cmd: .unregisterSHM, params: [.rmem(.rmemInput, offset: 0, size: 0, shmRef: cookie)])
            _ = try? call(arg, queued: true, force: true)
            allocator.free(page)
        }
    }

    // MARK: - Building requests

    private struct TempBuffer { var index: Int; var data: GuestBuffer?; var list: GuestBuffer?; var capacity: Int; var direction: ParamDirection }

    private func request(cmd: MsgCommand, function: UInt32, session: UInt32, cancelID: UInt32,
                         meta: [MsgParam], params: [DriverParam]) throws(DriverError) -> DriverResult {
        // The argument (and the RPC argument after it) must fit one page, as OP-TEE requires.
        let rpcArgSize = rpcParamCount > 0 ? MsgArg.size(numParams: rpcParamCount) : 0
        guard MsgArg.size(numParams: meta.count + params.count) + rpcArgSize <= pageSize else { throw .badParameters }
        var msgParams = meta
        msgParams.reserveCapacity(meta.count + params.count)   // one allocation, not one per growth step
        var temps: [TempBuffer] = []
        defer { for t in temps { if let d = t.data { allocator.free(d) }; if let l = t.list { allocator.free(l) } } }
        for (i, p) in params.enumerated() {
            switch p {
            case .none:
                msgParams.append(.none)
            case let .value(dir, a, b, c):
                msgParams.append(.value(dir.valueType, a: a, b: b, c: c))
            case let .tmem(dir, bytes):
                if bytes.isEmpty {
                    msgParams.append(.tmem(dir.tmemType, bufPtr: 0, size: 0, shmRef: 0))
                    temps.append(TempBuffer(index: i, data: nil, list: nil, capacity: 0, direction: dir))
                    continue
                }
                let data = try allocator.allocate(bytes: bytes.count)
                var t = TempBuffer(index: i, data: data, list: nil, capacity: bytes.count, direction: dir)
                temps.append(t)
                if dir.isInput { do { try space.write(data.base, bytes) } catch { throw .communication } }
                let (list, ptr) = try PageListBuilder.build(entries: PageListBuilder.dataPages(address: data.base, size: bytes.count),
                                                            firstOffset: 0, allocator: allocator)
                t.list = list; temps[temps.count - 1] = t
                msgParams.append(.tmem(dir.tmemType, bufPtr: ptr, size: UInt64(bytes.count), shmRef: newCookie(), noncontig: true))
            case let .memref(dir, shm, offset, size):
                guard let rec = shms.withLock({ $0[shm.id] }), offset >= 0, size >= 0,
                      offset <= rec.handle.size, size <= rec.handle.size - offset else { throw .badParameters }
                if rec.handle.registered {
                    msgParams.append(.rmem(dir.rmemType, offset: UInt64(offset), size: UInt64(size), shmRef: shm.id))
                } else {
                    guard let start = rec.handle.address.adding(UInt64(offset)) else { throw .badParameters }
                    let (list, ptr) = try PageListBuilder.build(entries: PageListBuilder.dataPages(address: start, size: size),
                                                                firstOffset: start.pageOffset, allocator: allocator)
                    temps.append(TempBuffer(index: -1, data: nil, list: list, capacity: 0, direction: dir))
                    msgParams.append(.tmem(dir.tmemType, bufPtr: ptr, size: UInt64(size), shmRef: shm.id, noncontig: true))
                }
            }
        }
        let arg = MsgArg(cmd: cmd, function: function, session: session, cancelID: cancelID, params: msgParams)
        let (out, record) = try call(arg, queued: true)
        guard let out else {
            return DriverResult(ret: .communication, origin: .comms, session: 0,
                                params: params.map { _ in .none }, queue: record)
        }
        var results: [DriverParamResult] = []
        results.reserveCapacity(params.count)
        for (i, p) in params.enumerated() {
            let r = out.params[meta.count + i]
            switch p {
            case .none: results.append(.none)
            case let .value(dir, _, _, _):
                results.append(dir.isOutput ? .value(a: r.a, b: r.b, c: r.c) : .none)
            case let .memref(dir, _, _, _):
                results.append(dir.isOutput ? .memref(size: Int(clamping: r.size)) : .none)
            case let .tmem(dir, _):
                guard dir.isOutput else { results.append(.none); continue }
                let size = Int(clamping: r.size)
                var bytes: [UInt8] = []
                if let t = temps.first(where: { $0.index == i }), let d = t.data {
                    bytes = (try? space.read(d.base, count: min(size, t.capacity))) ?? []
                }
                results.append(.tmem(bytes: bytes, size: size))
            }
        }
        return DriverResult(ret: out.ret, origin: out.retOrigin, session: out.session, params: results, queue: record)
    }

    private func registerWithSecureWorld(_ h: SharedMemoryHandle) throws(DriverError) {
        let (list, ptr) = try PageListBuilder.build(entries: PageListBuilder.dataPages(address: h.address, size: max(h.size, 1)),
                                                    firstOffset: h.address.pageOffset, allocator: allocator)
        defer { allocator.free(list) }
        let arg = MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: UInt64(h.size), shmRef: h.id, noncontig: true)])
        let (out, _) = try call(arg, queued: true)
        guard let out else { throw .communication }
        guard out.ret == .success else {
            log.debug("REGISTER_SHM refused", metadata: ["ret": "\(out.ret)"])
            throw out.ret == .outOfMemory ? .outOfMemory : .badParameters
        }
    }

    // MARK: - The std-call loop

    private func takeArgBuffer(bytes: Int) throws(DriverError) -> GuestBuffer {
        if bytes <= pageSize, let b = argPool.withLock({ $0.popLast() }) { return b }
        return try allocator.allocate(bytes: bytes)
    }
    private func returnArgBuffer(_ b: GuestBuffer) {
        if b.pages == 1, argPool.withLock({ p -> Bool in if p.count < 64 { p.append(b); return true }; return false }) { return }
        allocator.free(b)
    }

    private static func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Runs one std call to completion. Returns the argument as the secure world left it, or nil
    /// when the SMC failed (the caller reports COMMUNICATION), plus how it queued.
    func call(_ arg: MsgArg, queued: Bool, force: Bool = false) throws(DriverError) -> (MsgArg?, QueueRecord) {
        guard force || !shutDown.load(ordering: .acquiring) else { throw .shutDown }
        let rpcArgSize = rpcParamCount > 0 ? MsgArg.size(numParams: rpcParamCount) : 0
        let total = arg.byteSize + rpcArgSize
        let regd: (GuestBuffer, UInt64)? = total <= pageSize ? regdPool.withLock { $0.popLast() } : nil
        let buf: GuestBuffer
        if let r = regd { buf = r.0 } else { buf = try takeArgBuffer(bytes: total) }
        defer { if let regd { regdPool.withLock { $0.append(regd) } } else { returnArgBuffer(buf) } }
        // The RPC argument area needs no clearing: the secure world writes it before each RPC.
        // Encoded through one stack buffer straight into guest RAM (no heap byte array per call).
        do { try space.writeArg(arg, at: buf.base) } catch { throw .communication }
        let rpcArgAddress: IPA? = rpcArgSize > 0 ? buf.base.adding(UInt64(arg.byteSize)) : nil

        let start = Self.nowNanos()
        var record = QueueRecord(arrival: 0, grant: 0, waitedNanos: 0, threadLimitRetries: 0)
        if queued {
            guard let t = callQueue.enter(timeout: configuration.threadWait) else {
                log.debug("no secure thread in time")
                throw .busy
            }
            record.arrival = t.arrival; record.grant = t.grant
        }
        defer { if queued { callQueue.leave() } }
        record.waitedNanos = Self.nowNanos() - start
        count { $0.stdCalls += 1 }

        var frame: RegisterFrame
        if let (_, cookie) = regd {
            let (hi, lo) = RegisterFrame.split(cookie)
            frame = RegisterFrame(.callWithRegdArg, a1: hi, a2: lo, a3: 0)
            count { $0.registeredArgumentCalls += 1 }
        } else {
            let (hi, lo) = RegisterFrame.split(buf.base.raw)
            let function: SMCFunctionID = rpcArgAddress != nil ? .callWithRPCArg : .callWithArg
            frame = RegisterFrame(function, a1: hi, a2: lo, a3: UInt64(OPTEEIdentity.shmCached))
        }
        let deadline = start + UInt64(max(0, configuration.threadWait) * 1e9)
        while true {
            let out = trapOnFreeVCPU(frame)
            let ret = SMCReturn(rawValue: UInt32(truncatingIfNeeded: out.a0))
            if ret == .ethreadLimit {
                count { $0.threadLimitHits += 1 }
                record.threadLimitRetries += 1
                let w0 = Self.nowNanos()
                guard w0 < deadline else { throw .busy }
                callQueue.waitForCompletion(timeout: min(0.05, Double(deadline - w0) / 1e9))
                record.waitedNanos += Self.nowNanos() - w0
                continue
            }
            if ret.isRPC {
                frame = handleRPC(out, rpcArgAddress: rpcArgAddress)
                continue
            }
            guard ret == .ok else {
                count { $0.failedCalls += 1 }
                log.debug("std call failed", metadata: ["a0": "\(ret)"])
                return (nil, record)
            }
            break
        }
        // Copied out of guest RAM once, decoded from that copy (no heap byte array per call).
        let decoded: MsgArg?
        do { decoded = try space.readArg(at: buf.base, byteCount: arg.byteSize, maxParams: arg.params.count, validateAttributes: false) }
        catch { if case .memory = error { throw .communication }; decoded = nil }
        guard var result = decoded, result.params.count == arg.params.count else {
            count { $0.badRPC += 1 }
            return (nil, record)
        }
        result.cmd = arg.cmd
        return (result, record)
    }

    // MARK: - RPC

    private func handleRPC(_ out: RegisterFrame, rpcArgAddress: IPA?) -> RegisterFrame {
        var f = out
        f.a0 = UInt64(SMCFunctionID.returnFromRPC.rawValue)
        let fn = UInt32(truncatingIfNeeded: out.a0) & 0xFFFF
        count { $0.rpcFunctions[fn, default: 0] += 1 }
        switch RPCFunction(rawValue: fn) {
        case .alloc:
            let size = Int(out.a1 & 0xFFFF_FFFF)
            if let h = try? allocateKernelMemory(size: size) {
                (f.a1, f.a2) = RegisterFrame.split(h.address.raw)
                (f.a4, f.a5) = RegisterFrame.split(h.id)
            } else {
                f.a1 = 0; f.a2 = 0; f.a4 = 0; f.a5 = 0
            }
        case .free:
            let cookie = RegisterFrame.join(out.a1, out.a2)
            if !freeKernelMemory(cookie) { count { $0.badRPC += 1 }; log.debug("RPC FREE of unknown cookie") }
        case .foreignInterrupt:
            break
        case .cmd:
            handleRPCCommand(cookie: RegisterFrame.join(out.a1, out.a2), rpcArgAddress: rpcArgAddress)
        default:
            count { $0.badRPC += 1 }
            log.debug("unknown RPC function", metadata: ["fn": "\(fn)"])
        }
        return f
    }

    private func allocateKernelMemory(size: Int) throws(DriverError) -> SharedMemoryHandle {
        guard size > 0 else { throw .badParameters }
        return try allocateSharedMemory(size: size, kind: .kernel, register: false)
    }

    private func freeKernelMemory(_ cookie: UInt64) -> Bool {
        guard let rec = shms.withLock({ s -> ShmRecord? in
            guard let r = s[cookie], r.handle.kind == .kernel else { return nil }
            return s.removeValue(forKey: cookie)
        }) else { return false }
        if let b = rec.backing { allocator.free(b) }
        if let l = rec.pageList { allocator.free(l) }
        return true
    }

    private func handleRPCCommand(cookie: UInt64, rpcArgAddress: IPA?) {
        let address: IPA, capacity: Int
        if let a = rpcArgAddress {
            address = a; capacity = MsgArg.size(numParams: rpcParamCount)
        } else if let h = sharedMemory(id: cookie) {
            address = h.address; capacity = h.size
        } else {
            count { $0.badRPC += 1 }; log.debug("RPC CMD with unknown cookie"); return
        }
        guard capacity >= MsgArg.headerSize, let bytes = try? space.read(address, count: capacity) else {
            count { $0.badRPC += 1 }; return
        }
        let maxParams = (capacity - MsgArg.headerSize) / MsgParam.byteSize
        guard var arg = try? MsgArg.decode(bytes, maxParams: maxParams) else {
            count { $0.badRPC += 1 }
            log.debug("malformed RPC argument")
            // Answer BAD_PARAMETERS in the header when the header itself is readable.
            var header = Array(bytes.prefix(MsgArg.headerSize))
            let v = TEEResult.badParameters.rawValue
            header.replaceSubrange(20..<24, with: [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)])
            try? space.write(address, header)
            return
        }
        count { $0.rpcCommands[arg.cmd.rawValue, default: 0] += 1 }
        serve(&arg)
        try? space.writeArg(arg, at: address)
    }

    /// TEE_ERROR_TIMEOUT: a NOTIFICATION wait that ran out of time.
    static let timeoutResult = TEEResult(rawValue: 0xFFFF_3001)

    private func badRPC(_ arg: inout MsgArg, _ why: String) {
        count { $0.badRPC += 1 }
        log.debug("bad RPC", metadata: ["cmd": "\(arg.cmd.rawValue)", "why": "\(why)"])
        arg.ret = .badParameters
    }

    /// Serves one RPC command in place (ret and outputs).
    private func serve(_ arg: inout MsgArg) {
        arg.retOrigin = .comms
        let one = arg.params.count == 1 ? arg.params[0] : nil
        switch RPCCommand(rawValue: arg.cmd.rawValue) {
        case .getTime:
            guard let p = one, p.attr.type == .valueOutput else { return badRPC(&arg, "GET_TIME params") }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            arg.params[0].a = UInt64(ts.tv_sec); arg.params[0].b = UInt64(ts.tv_nsec); arg.params[0].c = 0
            arg.ret = .success
        case .notification:
            guard let p = one, p.attr.type == .valueInput else { return badRPC(&arg, "NOTIFICATION params") }
            guard p.b <= max(maxNotificationValue, 255) else { return badRPC(&arg, "NOTIFICATION key") }
            switch RPCNotification(rawValue: p.a) {
            case .wait:
                // value.c: optional timeout in ms (newer kernels); always bounded by our own limit.
                let bound = p.c == 0 ? configuration.notificationWait : min(Double(p.c) / 1000, configuration.notificationWait)
                arg.ret = notifications.wait(key: p.b, timeout: bound) ? .success : Self.timeoutResult
            case .send:
                notifications.send(key: p.b); arg.ret = .success
            case nil:
                badRPC(&arg, "NOTIFICATION op")
            }
        case .suspend:
            guard let p = one, p.attr.type == .valueInput else { return badRPC(&arg, "SUSPEND params") }
            let secs = min(Double(p.a) / 1000, configuration.maxSuspend)
            if secs > 0 { usleep(UInt32(secs * 1e6)) }
            arg.ret = .success
        case .shmAlloc:
            serveShmAlloc(&arg)
        case .shmFree:
            serveShmFree(&arg)
        case .loadTA, .rpmb, .fs, .gprof, .socket, .ftrace, .suppPlugin, .rpmbProbeReset, .rpmbProbeNext, .rpmbFrames:
            forwardToSupplicant(&arg)
        default:
            arg.ret = .notSupported
        }
    }

    private func serveShmAlloc(_ arg: inout MsgArg) {
        guard let p = arg.params.first, arg.params.count >= 1, p.attr.type == .valueInput,
              let type = RPCShmType(rawValue: p.a), p.b > 0, p.b <= UInt64(allocator.range.count * pageSize) else {
            return badRPC(&arg, "SHM_ALLOC params")
        }
        let handle: SharedMemoryHandle
        switch type {
        case .kernel, .global:
            guard let h = try? allocateSharedMemory(size: Int(p.b), kind: .kernel, register: false) else { arg.ret = .outOfMemory; return }
            handle = h
        case .application:
            let r = supplicant.call(.shmAlloc, [.value(.valueInout, a: p.a, b: p.b, c: 0)],
                                    served: configuration.supplicantWait, absent: configuration.supplicantAbsentWait)
            guard r.result == .success, let id = r.params.first?.values.c, let h = sharedMemory(id: id),
                  h.size >= Int(p.b) else {
                arg.ret = r.result == .success ? .outOfMemory : r.result; return
            }
            handle = h
        }
        // Reply: TMEM_OUTPUT | NONCONTIG with a page list, as Linux does for dynamic shared memory
        // (a guest's pages are contiguous only in IPA; a mediator such as Xen's requires a list).
        let pages = PageListBuilder.dataPages(address: handle.address, size: handle.size)
        guard let (list, ptr) = try? PageListBuilder.build(entries: pages, firstOffset: handle.address.pageOffset, allocator: allocator) else {
            arg.ret = .outOfMemory; return
        }
        shms.withLock { $0[handle.id]?.pageList = list }
        arg.params[0] = .tmem(.tmemOutput, bufPtr: ptr, size: UInt64(handle.size), shmRef: handle.id, noncontig: true)
        arg.ret = .success
    }

    private func serveShmFree(_ arg: inout MsgArg) {
        guard let p = arg.params.first, arg.params.count >= 1, p.attr.type == .valueInput,
              let type = RPCShmType(rawValue: p.a), let h = sharedMemory(id: p.b) else {
            return badRPC(&arg, "SHM_FREE params")
        }
        switch type {
        case .kernel, .global:
            arg.ret = freeKernelMemory(h.id) ? .success : .badParameters
        case .application:
            guard h.kind == .supplicant else { return badRPC(&arg, "SHM_FREE of non-supplicant memory") }
            let r = supplicant.call(.shmFree, [.value(.valueInput, a: p.a, b: p.b, c: 0)],
                                    served: configuration.supplicantWait, absent: configuration.supplicantAbsentWait)
            arg.ret = r.result
        }
    }

    /// Where a tmem/rmem param of an RPC points: the shm, and the byte offset inside it.
    private func locate(_ p: MsgParam) -> (SharedMemoryHandle, Int)? {
        guard let t = p.attr.type, let h = sharedMemory(id: p.shmRef) else { return nil }
        let offset: Int
        if t.isRmem {
            guard p.bufPtr <= UInt64(h.size) else { return nil }
            offset = Int(p.bufPtr)
        } else if p.bufPtr >= h.address.raw, p.bufPtr - h.address.raw <= UInt64(h.size) {
            offset = Int(p.bufPtr - h.address.raw)
        } else {
            offset = 0   // an address the guest cannot map back (translated below us): the buffer's start
        }
        guard p.size <= UInt64(h.size - offset) else { return nil }
        return (h, offset)
    }

    private func forwardToSupplicant(_ arg: inout MsgArg) {
        var params: [SupplicantParam] = []
        var windows: [(SharedMemoryHandle, Int)?] = []
        for p in arg.params {
            guard let t = p.attr.type else { return badRPC(&arg, "param type") }
            if t == .none { params.append(.none); windows.append(nil); continue }
            if t.isValue { params.append(.value(t, a: p.a, b: p.b, c: p.c)); windows.append(nil); continue }
            if p.size == 0 && (p.shmRef == 0 || sharedMemory(id: p.shmRef) == nil) {
                params.append(.memref(t, data: nil, size: 0)); windows.append(nil); continue
            }
            guard let (h, off) = locate(p) else { return badRPC(&arg, "memref outside shared memory") }
            let n = Int(p.size)
            let data: [UInt8]
            if t.isInput { guard let d = try? read(h, offset: off, count: n) else { return badRPC(&arg, "memref read") }; data = d }
            else { data = [UInt8](repeating: 0, count: n) }
            params.append(.memref(t, data: data, size: n)); windows.append((h, off))
        }
        let r = supplicant.call(RPCCommand(rawValue: arg.cmd.rawValue), params,
                                windows: windows.map { $0.map { SupplicantWindow(shm: $0.0.id, offset: $0.1) } },
                                served: configuration.supplicantWait, absent: configuration.supplicantAbsentWait)
        arg.ret = r.result
        guard r.params.count == params.count else { return }
        for (i, p) in r.params.enumerated() {
            guard let t = arg.params[i].attr.type, t.isOutput else { continue }
            switch p {
            case let .value(_, a, b, c) where t.isValue:
                arg.params[i].a = a; arg.params[i].b = b; arg.params[i].c = c
            case let .memref(_, data, size) where t.isMemref:
                let cap = Int(arg.params[i].size)
                if let (h, off) = windows[i] ?? nil, let d = data {
                    let n = min(min(size, cap), d.count)
                    if n > 0 { try? write(h, offset: off, Array(d.prefix(n))) }
                }
                arg.params[i].size = UInt64(max(0, size))
            default: break
            }
        }
    }
}
