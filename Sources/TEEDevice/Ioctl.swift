/// The TEE ioctls of a context, as Linux's tee_core and the OP-TEE driver answer them: every
/// check tee_core makes happens here, before anything reaches the guest driver (and so the
/// daemon); results and outputs are copied back as params_to_user does.
import CTEEDev
import Machine
import NormalWorld
import TEEABI
import TEEClient
#if canImport(Glibc)
import Glibc
#endif

extension TEEDevice {
    /// ioctl(fd of context `key`, `request`, `argument`): the return value (>= 0) or a Linux errno.
    public func ioctl(_ key: Int64, request: UInt64, argument: UInt64) -> Result<Int32, TEEIoctlError> {
        do throws(TEEIoctlError) { return .success(try dispatch(key, request: request, argument: argument)) }
        catch { return .failure(error) }
    }

    private func dispatch(_ key: Int64, request: UInt64, argument: UInt64) throws(TEEIoctlError) -> Int32 {
        guard let (kind, id) = ObjectKind.split(key) else { throw .invalid }
        guard kind == .context else { throw .invalid }
        let (ctx, guest) = try withState { s throws(TEEIoctlError) -> (Context, GuestConnection) in
            guard let c = s.contexts[id], let g = s.guest else { throw .io }
            return (c, g)
        }
        guard let r = UInt32(exactly: request) else { throw .invalid }
        switch LinuxTEE.Ioctl(rawValue: r) {
        case .version: return try version(privileged: ctx.privileged, argument)
        case .shmAlloc: return try shmAlloc(context: id, privileged: ctx.privileged, guest: guest, argument)
        case .shmRegister:
            guard let b = memory.read(argument, count: LinuxTEE.Layout.shmRegisterDataSize) else { throw .fault }
            _ = b
            throw .invalid   // REG_MEM is not advertised: user memory is not guest RAM
        case .openSession: return try openSession(context: id, guest: guest, argument)
        case .invoke: return try invoke(context: id, guest: guest, argument)
        case .cancel:
            guard let b = memory.read(argument, count: LinuxTEE.Layout.cancelArgSize) else { throw .fault }
            let cancelID = LinuxTEEArgs.u32(b, 0), session = LinuxTEEArgs.u32(b, 4)
            guard ctx.sessions.contains(session) else { throw .invalid }
            _ = try? guest.driver.cancel(cancelID: cancelID, session: session)
            return 0
        case .closeSession:
            guard let b = memory.read(argument, count: LinuxTEE.Layout.closeSessionArgSize) else { throw .fault }
            let session = LinuxTEEArgs.u32(b, 0)
            let owned = try withState { s throws(TEEIoctlError) -> Bool in s.contexts[id]?.sessions.remove(session) != nil }
            guard owned else { throw .invalid }
            _ = try? guest.driver.closeSession(session)
            return 0
        case .supplRecv:
            guard ctx.privileged else { throw .invalid }
            return try supplicantReceive(context: id, guest: guest, argument)
        case .supplSend:
            guard ctx.privileged else { throw .invalid }
            return try supplicantSend(context: id, guest: guest, argument)
        default:
            throw .invalid   // tee_ioctl's default case: unknown TEE ioctl numbers are -EINVAL
        }
    }

    private func version(privileged: Bool, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        var b = [UInt8](repeating: 0, count: LinuxTEE.Layout.versionDataSize)
        LinuxTEEArgs.put32(&b, 0, LinuxTEE.ImplementationID.optee.rawValue)
        LinuxTEEArgs.put32(&b, 4, LinuxTEE.OPTEECapabilities.tz.rawValue)
        LinuxTEEArgs.put32(&b, 8, (privileged ? Self.supplicantCapabilities : Self.clientCapabilities).rawValue)
        guard memory.write(argument, b) else { throw .fault }
        return 0
    }

    /// TEE_IOC_SHM_ALLOC: guest RAM, returned as an fd that mmaps it and an id. A client's is
    /// registered with the secure world (RMEM params); a supplicant's is handed to the secure world
    /// by the SHM_ALLOC RPC reply instead, as Linux's supplicant memory.
    private func shmAlloc(context: Int64, privileged: Bool, guest: GuestConnection, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        guard var b = memory.read(argument, count: LinuxTEE.Layout.shmAllocDataSize) else { throw .fault }
        let size = LinuxTEEArgs.u64(b, 0), flags = LinuxTEEArgs.u32(b, 8)
        guard flags == 0, size > 0 else { throw .invalid }
        guard size <= UInt64(guest.ramBytes) else { throw .noMemory }
        let handle: SharedMemoryHandle
        do { handle = try guest.driver.allocateSharedMemory(size: Int(size), kind: privileged ? .supplicant : .client, register: !privileged) }
        catch { throw error == .outOfMemory ? .noMemory : .invalid }
        let id: Int32 = try withState { s throws(TEEIoctlError) -> Int32 in
            let id = s.nextShm
            s.nextShm = s.nextShm == Int32.max ? 1 : s.nextShm + 1
            s.shms[id] = Shm(context: context, handle: handle, size: Int(size))
            return id
        }
        LinuxTEEArgs.put32(&b, 12, UInt32(bitPattern: id))
        guard memory.write(argument, b) else {
            unref(id) { $0.descriptorOpen = false }
            throw .fault
        }
        let fd = vtee_dev_placeholder("vtee-tee-shm", 1, ObjectKind.sharedMemory.key(Int64(id)))
        guard fd >= 0 else {
            unref(id) { $0.descriptorOpen = false }
            throw fd == -EMFILE ? .noMemory : .noMemory
        }
        return fd
    }

    /// Reads a `tee_ioctl_buf_data` argument and the buffer it points at, checked as tee_core does.
    func bufferArgument(_ kind: TEEBufferedArgument, _ argument: UInt64) throws(TEEIoctlError) -> (pointer: UInt64, bytes: [UInt8]) {
        guard let bd = memory.read(argument, count: LinuxTEE.Layout.bufDataSize) else { throw .fault }
        let (ptr, len) = try LinuxTEEArgs.bufData(bd)
        try LinuxTEEArgs.checkLength(kind, length: len)
        guard let bytes = memory.read(ptr, count: Int(len)) else { throw .fault }
        return (ptr, bytes)
    }

    /// The driver params for client `params` of `context`, taking a use of every shm named.
    /// EINVAL for META, foreign or unknown shm ids and windows outside the object.
    private func driverParams(_ params: [TEEIoctlParam], context: Int64) throws(TEEIoctlError) -> (params: [DriverParam], used: [Int32]) {
        var out: [DriverParam] = []
        out.reserveCapacity(params.count)
        var used: [Int32] = []
        do throws(TEEIoctlError) {
            for p in params {
                guard !p.attribute.isMeta, let type = p.attribute.type else { throw .invalid }
                switch type {
                case .none: out.append(.none)
                case .valueInput: out.append(.value(.input, a: p.a, b: p.b, c: p.c))
                case .valueOutput: out.append(.value(.output))   // Linux does not copy outputs in
                case .valueInout: out.append(.value(.inout, a: p.a, b: p.b, c: p.c))
                case .memrefInput, .memrefOutput, .memrefInout:
                    let dir: ParamDirection = type == .memrefInput ? .input : type == .memrefOutput ? .output : .inout
                    if p.c == LinuxTEE.memrefNull {
                        out.append(.tmem(dir, bytes: []))
                        continue
                    }
                    let shm = try sharedMemory(p.c, context: context)
                    let (end, overflow) = p.a.addingReportingOverflow(p.b)
                    guard !overflow, end <= UInt64(shm.size) else { throw .invalid }
                    guard let i = Int32(exactly: p.c) else { throw .invalid }
                    try withState { s throws(TEEIoctlError) in s.shms[i]?.busy += 1 }
                    used.append(i)
                    out.append(.memref(dir, shm: shm.handle, offset: Int(p.a), size: Int(p.b)))
                }
            }
        } catch {
            for i in used { unref(i) { $0.busy -= 1 } }
            throw error
        }
        return (out, used)
    }

    /// Writes the call's outputs into the params of `bytes` as params_to_user does.
    private func writeBack(_ results: DriverParamResults, params: [TEEIoctlParam], kind: TEEBufferedArgument, into bytes: inout [UInt8]) {
        for (i, p) in params.enumerated() where i < results.count {
            var r = p
            switch results[i] {
            case let .value(a, b, c): r.a = a; r.b = b; r.c = c
            case let .memref(size): r.b = UInt64(size)
            case let .tmem(_, size): r.b = UInt64(size)
            case .none: continue
            }
            LinuxTEEArgs.store(LinuxTEEArgs.writeBack(r, over: p), at: i, kind, into: &bytes)
        }
    }

    /// The client UUID for `login` as tee_session_calc_client_uuid: EPERM for kernel logins and
    /// groups the caller is not in, EINVAL for application logins and unknown methods.
    static func clientUUID(login: UInt32, connection: [UInt8]) throws(TEEIoctlError) -> (LoginMethod, TEEUUID) {
        if LinuxTEE.Login.reeKernelRange.contains(login) { throw .notPermitted }
        switch LoginMethod(rawValue: login) {
        case .public: return (.public, .zero)
        case .user: return (.user, ClientIdentity.uuidV5("uid=" + String(geteuid(), radix: 16)))
        case .group:
            let gid = LinuxTEEArgs.u32(connection, 0)
            do { return (.group, try TEELogin.group(gid: gid).clientUUID(ProcessIdentity.current)) } catch { throw .notPermitted }
        default: throw .invalid
        }
    }

    private func openSession(context: Int64, guest: GuestConnection, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        var (ptr, bytes) = try bufferArgument(.openSession, argument)
        let params = try LinuxTEEArgs.params(.openSession, bytes)
        let head = LinuxTEEArgs.openSession(bytes)
        let (dp, used) = try driverParams(params, context: context)
        defer { for i in used { unref(i) { $0.busy -= 1 } } }
        let (login, client) = try Self.clientUUID(login: head.login, connection: head.clientUUID)
        let r: DriverResult
        do { r = try guest.driver.openSession(uuid: TEEUUID(octets: head.uuid), login: login, clientUUID: client, params: dp, cancelID: head.cancelID) }
        catch { return try failedCall(error, kind: .openSession, bytes: &bytes, pointer: ptr) }
        writeBack(r.params, params: params, kind: .openSession, into: &bytes)
        LinuxTEEArgs.storeOpenSessionResult(&bytes, session: r.session, ret: r.ret.rawValue, origin: r.origin.rawValue)
        if r.ret == .success {
            let kept = try withState { s throws(TEEIoctlError) -> Bool in
                guard s.contexts[context] != nil else { return false }
                s.contexts[context]?.sessions.insert(r.session)
                return true
            }
            guard kept, memory.write(ptr, bytes) else {
                // As Linux: a session the caller cannot learn about is closed again.
                _ = try withState { s throws(TEEIoctlError) in s.contexts[context]?.sessions.remove(r.session) }
                _ = try? guest.driver.closeSession(r.session)
                throw .fault
            }
            return 0
        }
        guard memory.write(ptr, bytes) else { throw .fault }
        return 0
    }

    private func invoke(context: Int64, guest: GuestConnection, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        var (ptr, bytes) = try bufferArgument(.invoke, argument)
        let params = try LinuxTEEArgs.params(.invoke, bytes)
        let head = LinuxTEEArgs.invoke(bytes)
        let owned = try withState { s throws(TEEIoctlError) -> Bool in s.contexts[context]?.sessions.contains(head.session) ?? false }
        guard owned else { throw .invalid }
        let (dp, used) = try driverParams(params, context: context)
        defer { for i in used { unref(i) { $0.busy -= 1 } } }
        let r: DriverResult
        do { r = try guest.driver.invoke(session: head.session, function: head.function, params: dp, cancelID: head.cancelID) }
        catch { return try failedCall(error, kind: .invoke, bytes: &bytes, pointer: ptr) }
        writeBack(r.params, params: params, kind: .invoke, into: &bytes)
        LinuxTEEArgs.storeInvokeResult(&bytes, ret: r.ret.rawValue, origin: r.origin.rawValue)
        guard memory.write(ptr, bytes) else { throw .fault }
        return 0
    }

    /// A driver failure: argument errors become errno values; a failed SMC is reported in the
    /// argument as TEEC_ERROR_COMMUNICATION from COMMS with ioctl success, as the OP-TEE driver does.
    private func failedCall(_ e: DriverError, kind: TEEBufferedArgument, bytes: inout [UInt8], pointer: UInt64) throws(TEEIoctlError) -> Int32 {
        switch e {
        case .badParameters: throw .invalid
        case .outOfMemory: throw .noMemory
        case .notPermitted: throw .notPermitted
        default:
            if kind == .openSession {
                LinuxTEEArgs.storeOpenSessionResult(&bytes, session: 0, ret: TEEResult.communication.rawValue, origin: TEEOrigin.comms.rawValue)
            } else {
                LinuxTEEArgs.storeInvokeResult(&bytes, ret: TEEResult.communication.rawValue, origin: TEEOrigin.comms.rawValue)
            }
            guard memory.write(pointer, bytes) else { throw .fault }
            return 0
        }
    }
}
