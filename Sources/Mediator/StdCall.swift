/// Std calls: copy the argument once into mediator memory, validate and translate it there,
/// record the call, call the secure world with the private copy, and on completion copy back
/// only ret, ret_origin, session and output values and sizes.
import Machine
import TEEABI

/// A call ready to be sent to the secure world (prepared under the guest's lock).
struct PreparedCall: Sendable {
    var callID: UInt64
    var frame: RegisterFrame
}

/// The outcome of preparing: send a frame to the secure world, or answer the guest directly.
enum Preparation: Sendable {
    case send(PreparedCall)
    case answer(RegisterFrame)
}

extension Mediator {
    /// Commands a guest may issue.
    static let allowedCommands: Set<UInt32> = [
        MsgCommand.openSession.rawValue, MsgCommand.invokeCommand.rawValue, MsgCommand.closeSession.rawValue,
        MsgCommand.cancel.rawValue, MsgCommand.registerSHM.rawValue, MsgCommand.unregisterSHM.rawValue,
    ]

    /// Runs `body` on the guest's record under its lock; a guest that is gone or dying gets
    /// ENOTAVAIL (counted) without `body` running.
    func withLiveGuest(_ slot: GuestSlot, _ body: (inout GuestRecord) -> Preparation) -> Preparation {
        slot.state.withLock { (rec: inout GuestRecord?) -> Preparation in
            guard var r = rec.take() else {
                counters.bump(.unknownGuest)
                return .answer(RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue)))
            }
            defer { rec = r }
            guard !r.dying else {
                counters.bump(.unknownGuest)
                return .answer(RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue)))
            }
            return body(&r)
        }
    }

    func stdCall(_ frame: RegisterFrame, slot: GuestSlot, guest: GuestID, vcpu: Int) -> RegisterFrame {
        let prep = withLiveGuest(slot) { r in prepare(frame, &r, guest: guest, vcpu: vcpu) }
        switch prep {
        case let .answer(f): return f
        case let .send(call):
            let out = secure.smc(call.frame)
            return complete(call.callID, out, slot: slot, guest: guest)
        }
    }

    /// Validates and records one std call. Runs under the guest's lock.
    func prepare(_ frame: RegisterFrame, _ r: inout GuestRecord, guest: GuestID, vcpu: Int) -> Preparation {
        guard r.calls.count < callsInFlightLimit else {
            counters.bump(.limitReached); r.refused += 1
            log.debug("calls in flight limit", metadata: ["guest": "\(guest.raw)"])
            return .answer(RegisterFrame(a0: UInt64(SMCReturn.ethreadLimit.rawValue)))
        }
        // 1. Locate and pin the argument.
        let location: ArgLocation
        switch locateArgument(frame, &r) {
        case let .success(l): location = l
        case let .failure(e): return refuse(e, &r, guest: guest)
        }
        // 2. Copy it once into a private mediator page.
        let priv: PAPage
        do { priv = try allocatePage(&r) } catch {
            unpin(&r, location.page)
            return refuse(.noMemory, &r, guest: guest)
        }
        let copied: Bool = {
            guard let src = location.page.pa.address.adding(UInt64(location.offset)) else { return false }
            return (try? memory.withBytes(priv.address, count: location.available, world: .nonSecure) { (dst) throws(MemoryError) in
                try memory.read(src, into: dst, world: .nonSecure)
            }) != nil
        }()
        var call = CallRecord(id: nextCallID.add(1, ordering: .relaxed).oldValue, vcpu: vcpu, inFlight: true,
                              threadID: nil, cmd: MsgCommand(rawValue: 0), location: location, privatePage: priv, numParams: 0)
        guard copied else {
            releaseCall(&r, call, deferPages: false)
            return refuse(.badAddress("argument unreadable"), &r, guest: guest)
        }
        // 3. Decode the private copy (never the guest's memory again).
        let maxParams = min(MsgArg.maxNumParams, max(0, (location.available - MsgArg.headerSize) / MsgParam.byteSize))
        let decoded: Result<MsgArg, ABIError>
        do {
            decoded = .success(try memory.withBytes(priv.address, count: location.available, world: .nonSecure) { (b) throws(ABIError) in
                try MsgArg.decode(UnsafeRawBufferPointer(b), maxParams: maxParams, validateAttributes: false)
            })
        } catch {
            switch error { case let .body(e): decoded = .failure(e); case .memory: decoded = .failure(.truncated(needed: 0, available: 0)) }
        }
        guard case var .success(arg) = decoded else {
            releaseCall(&r, call, deferPages: false)
            return refuse(.badAddress("argument does not decode (num_params)"), &r, guest: guest)
        }
        call.cmd = arg.cmd
        call.numParams = arg.params.count
        guard Self.allowedCommands.contains(arg.cmd.rawValue) else {
            releaseCall(&r, call, deferPages: false)
            return refuse(.badCommand(arg.cmd.rawValue), &r, guest: guest)
        }
        // 4. Validate and translate; refusals complete the call with a ret code.
        do {
            try validate(&arg, &call, &r)
        } catch {
            counters.bump(error.result == .outOfMemory ? .limitReached : .badParameters)
            r.refused += 1
            log.debug("argument refused", metadata: ["guest": "\(guest.raw)", "why": "\(error)"])
            finishRefused(&r, call, result: error.result)
            releaseCall(&r, call, deferPages: false)
            return .answer(RegisterFrame(a0: UInt64(SMCReturn.ok.rawValue)))
        }
        call.paramAttrs = arg.params.map(\.attr)
        // 5. Write the translated argument into the private page and record the call.
        let encoded: Bool = (try? memory.withBytes(priv.address, count: arg.byteSize, world: .nonSecure) { (b) throws(ABIError) in
            _ = try arg.encode(into: b)
        }) != nil
        guard encoded else {
            releaseCall(&r, call, deferPages: false)
            return refuse(.noMemory, &r, guest: guest)
        }
        r.calls.append(call)
        let (hi, lo) = RegisterFrame.split(priv.address.raw)
        return .send(PreparedCall(callID: call.id, frame: RegisterFrame(.callWithArg, a1: hi, a2: lo,
                                                                      a3: UInt64(OPTEEIdentity.shmCached), a7: guest.clientID)))
    }

    func refuse(_ e: CallRefusal, _ r: inout GuestRecord, guest: GuestID) -> Preparation {
        switch e {
        case .badAddress: counters.bump(.badAddress)
        case .badCommand: counters.bump(.badCommand)
        case .threadLimit, .noMemory: counters.bump(.limitReached)
        case .guestGone: counters.bump(.unknownGuest)
        }
        r.refused += 1
        log.debug("std call refused", metadata: ["guest": "\(guest.raw)", "why": "\(e)"])
        return .answer(RegisterFrame(a0: UInt64(e.code.rawValue)))
    }

    /// Finds the argument: a page-aligned IPA of guest RAM (pinned read-write) for CALL_WITH_ARG
    /// and CALL_WITH_RPC_ARG, or an offset inside a registered buffer for CALL_WITH_REGD_ARG.
    func locateArgument(_ frame: RegisterFrame, _ r: inout GuestRecord) -> Result<ArgLocation, CallRefusal> {
        let v = RegisterFrame.join(frame.a1, frame.a2)
        if frame.function == .callWithRegdArg {
            guard let b = r.shm[v] else { return .failure(.badAddress("unknown registered buffer")) }
            let off = frame.a3 & 0xFFFF_FFFF
            guard off & 7 == 0, off < b.size else { return .failure(.badAddress("offset outside buffer")) }
            let pos = b.offset + off
            let index = Int(pos >> pageShift)
            guard index < b.pages.count else { return .failure(.badAddress("offset outside buffer")) }
            let inPage = Int(pos & UInt64(pageSize - 1))
            let avail = min(pageSize - inPage, Int(clamping: b.size - off))
            guard avail >= MsgArg.headerSize else { return .failure(.badAddress("argument crosses a page")) }
            // The call takes its own pin, so an UNREGISTER_SHM racing with it cannot leave the
            // write-back page unpinned.
            guard r.pinned < config.pinnedPages else { return .failure(.threadLimit) }
            let page = b.pages[index]
            guard let pa = try? r.space.pin(page.ipa, writable: true) else { return .failure(.badAddress("argument page no longer RAM")) }
            guard pa == page.pa else {
                try? r.space.unpin(pa)
                return .failure(.badAddress("argument page remapped"))
            }
            r.pinned += 1
            return .success(ArgLocation(page: page, offset: inPage, available: avail))
        }
        let ipa = IPA(v)
        guard ipa.isPageAligned else { return .failure(.badAddress("argument not page aligned")) }
        guard r.pinned < config.pinnedPages else { return .failure(.threadLimit) }
        do {
            let pa = try r.space.pin(ipa.page, writable: true)
            r.pinned += 1
            return .success(ArgLocation(page: PinnedPage(ipa: ipa.page, pa: pa), offset: 0, available: pageSize))
        } catch {
            return .failure(.badAddress("argument page: \(error)"))
        }
    }

    /// Checks the command's params and translates memory references. Throws on the first refusal;
    /// everything acquired so far stays recorded in `call` for release.
    func validate(_ arg: inout MsgArg, _ call: inout CallRecord, _ r: inout GuestRecord) throws(ArgRefusal) {
        for (i, p) in arg.params.enumerated() where !p.attr.isWellFormed {
            throw .badParameter("param \(i) attr \(hex(p.attr.rawValue))")
        }
        switch arg.cmd {
        case .openSession:
            try applyIdentity(&arg, r)
            guard r.sessions.count + r.openingSessions < config.sessions else { throw .limit("sessions") }
            r.openingSessions += 1
            call.opening = true
        case .invokeCommand, .closeSession:
            guard r.sessions.contains(arg.session) else { throw .badParameter("session \(hex(arg.session)) not this guest's") }
            if arg.cmd == .closeSession { call.closing = arg.session }
        case .cancel:
            guard arg.session == 0 || r.sessions.contains(arg.session) else { throw .badParameter("cancel of a foreign session") }
        case .registerSHM:
            guard arg.params.count == 1, let t = arg.params[0].attr.type, t.isTmem, arg.params[0].attr.isNoncontig else {
                throw .badParameter("REGISTER_SHM needs one non-contiguous tmem")
            }
            let cookie = arg.params[0].shmRef
            guard !r.cookieInUse(cookie) else { throw .badParameter("cookie \(hex(cookie)) already in use") }
            guard r.shm.count + r.shmPending.count < config.shmBuffers else { throw .limit("shm buffers") }
            let b = try translatePageList(&r, bufPtr: arg.params[0].bufPtr, size: arg.params[0].size, cookie: cookie)
            r.shmPending.insert(cookie)
            call.registering = b
            arg.params[0].bufPtr = b.securePointer
            return
        case .unregisterSHM:
            guard arg.params.count == 1, let t = arg.params[0].attr.type, t.isRmem, r.shm[arg.params[0].shmRef] != nil else {
                throw .badParameter("UNREGISTER_SHM of a buffer this guest did not register")
            }
            call.unregistering = arg.params[0].shmRef
            return
        default:
            throw .badParameter("command")
        }
        try translateParams(&arg, &call, &r)
    }

    /// Rewrites the client identity of an OPEN_SESSION (params[1]: client UUID octets and login)
    /// in the private copy, as the guest's identity policy decides: the host, not the guest, says
    /// who the client is. Guests without a policy keep what they sent.
    func applyIdentity(_ arg: inout MsgArg, _ r: GuestRecord) throws(ArgRefusal) {
        guard let policy = r.identity else { return }
        let meta: OpenSessionMeta
        do { meta = try OpenSessionMeta(params: arg.params) } catch { throw .badParameter("OPEN_SESSION meta: \(error)") }
        guard let client = policy(meta.login) else { throw .accessDenied("login \(meta.login) refused for this guest") }
        arg.params[1].setOctets(client.octets)
    }

    /// VALUE params pass; RMEM must lie inside a buffer this guest registered; contiguous TMEM
    /// is refused unless NULL; non-contiguous TMEM is rebuilt with pins for the call.
    func translateParams(_ arg: inout MsgArg, _ call: inout CallRecord, _ r: inout GuestRecord) throws(ArgRefusal) {
        for i in arg.params.indices {
            let p = arg.params[i]
            guard let t = p.attr.type else { throw .badParameter("param \(i) type") }
            if p.attr.isMeta && !(arg.cmd == .openSession && i < 2 && t.isValue) {
                throw .badParameter("param \(i) META outside the OPEN_SESSION header")
            }
            if t.isRmem {
                guard let b = r.shm[p.shmRef] else { throw .badParameter("param \(i) rmem of unknown buffer \(hex(p.shmRef))") }
                let (end, o) = p.bufPtr.addingReportingOverflow(p.size)
                guard !o, end <= b.size else { throw .badParameter("param \(i) rmem outside its buffer") }
            } else if t.isTmem {
                if !p.attr.isNoncontig {
                    guard p.bufPtr == 0 else { throw .badParameter("param \(i) contiguous tmem") }
                    arg.params[i].shmRef = 0
                } else {
                    guard p.bufPtr != 0 else { arg.params[i].shmRef = 0; continue }
                    let b = try translatePageList(&r, bufPtr: p.bufPtr, size: p.size, cookie: p.shmRef)
                    call.tempBuffers.append(b)
                    arg.params[i].bufPtr = b.securePointer
                }
            }
        }
    }

    /// Writes a refusal's ret and origin COMMS into the guest's argument.
    func finishRefused(_ r: inout GuestRecord, _ call: CallRecord, result: TEEResult) {
        writeGuest(&r, call.location.page, offset: call.location.offset + 20, value: result.rawValue)
        writeGuest(&r, call.location.page, offset: call.location.offset + 24, value: TEEOrigin.comms.rawValue)
    }

    /// Takes the secure world's answer for call `callID`: an RPC (translated for the guest) or a
    /// completion (copy-back, bookkeeping, release).
    func complete(_ callID: UInt64, _ out: RegisterFrame, slot: GuestSlot, guest: GuestID) -> RegisterFrame {
        enum After { case answer(RegisterFrame), finalize, resend(RegisterFrame) }
        var current = out
        while true {
            let after = slot.state.withLock { (rec: inout GuestRecord?) -> After in
                guard var r = rec.take() else { return .answer(RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue))) }
                defer { rec = r }
                guard let idx = r.callIndex(id: callID) else {
                    return .answer(RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue)))
                }
                if r.dying {
                    // Destroyed while this call was in the secure world: reclaim it now.
                    let c = r.calls.remove(at: idx)
                    releaseCall(&r, c, deferPages: true)
                    return r.calls.isEmpty ? .finalize : .answer(RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue)))
                }
                let ret = SMCReturn(rawValue: UInt32(truncatingIfNeeded: current.a0))
                if ret.isRPC {
                    let a = rpcToGuest(current, idx, &r, guest: guest)
                    switch a {
                    case let .guest(f): return .answer(f)
                    case let .secure(f): return .resend(f)
                    }
                }
                let c = r.calls.remove(at: idx)
                finishCall(c, ret: ret, &r)
                counters.completedCalls.add(1, ordering: .relaxed)
                return .answer(RegisterFrame(a0: UInt64(ret.rawValue)))
            }
            switch after {
            case let .answer(f): return f
            case .finalize:
                finalizeDestroy(slot, guest)
                return RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue))
            case let .resend(f):
                current = secure.smc(f)
            }
        }
    }

    /// Completion: copy back the allowed fields, update sessions and buffers, release the call.
    func finishCall(_ c: CallRecord, ret: SMCReturn, _ r: inout GuestRecord) {
        var call = c
        if ret == .ok { copyBack(&call, &r) }
        releaseCall(&r, call, deferPages: false)
    }

    /// Copies ret, ret_origin, session and output values/sizes of the private copy to the guest,
    /// and books sessions and registrations. A registration that succeeded moves to the guest's table.
    func copyBack(_ call: inout CallRecord, _ r: inout GuestRecord) {
        let n = call.numParams
        let count = MsgArg.size(numParams: n)
        let result: MsgArg? = try? memory.withBytes(call.privatePage.address, count: count, world: .nonSecure) { (b) throws(ABIError) in
            try MsgArg.decode(UnsafeRawBufferPointer(b), maxParams: n, validateAttributes: false)
        }
        guard let res = result, res.params.count == n else { return }
        let base = call.location.offset
        let page = call.location.page
        writeGuest(&r, page, offset: base + 20, value: res.ret.rawValue)
        writeGuest(&r, page, offset: base + 24, value: res.retOrigin.rawValue)
        if call.cmd == .openSession { writeGuest(&r, page, offset: base + 8, value: res.session) }
        // Output values and sizes, by the types of the validated copy (never the guest's current ones).
        for (i, p) in res.params.enumerated() where i < call.paramAttrs.count {
            let attr = call.paramAttrs[i]
            guard let t = attr.type, t.isOutput, !attr.isMeta else { continue }
            let o = base + MsgArg.headerSize + i * MsgParam.byteSize
            if t.isValue {
                writeGuest(&r, page, offset: o + 8, value: p.a)
                writeGuest(&r, page, offset: o + 16, value: p.b)
                writeGuest(&r, page, offset: o + 24, value: p.c)
            } else if t.isMemref {
                writeGuest(&r, page, offset: o + 16, value: p.size)
            }
        }
        guard res.ret == .success else { return }
        switch call.cmd {
        case .openSession:
            r.sessions.insert(res.session)
        case .closeSession:
            if let s = call.closing { r.sessions.remove(s) }
        case .registerSHM:
            if let b = call.registering {
                r.shmPending.remove(b.cookie)
                r.shm[b.cookie] = b
                call.registering = nil
            }
        case .unregisterSHM:
            if let cookie = call.unregistering, let b = r.shm.removeValue(forKey: cookie) {
                releaseBuffer(&r, b, deferPages: false)
            }
        default:
            break
        }
    }
}
