/// Std calls: copy the argument once into mediator memory, validate and translate it there,
/// record the call, call the secure world with the private copy, and on completion copy back
/// only ret, ret_origin, session and output values and sizes.
import Machine
import TEEABI

/// A call ready to be sent to the secure world (prepared under the guest's lock).
struct PreparedCall: Sendable {
    var callID: UInt64
    var frame: RegisterFrame
    /// What completion needs to finish the call without the guest's lock; nil for commands
    /// whose completion books sessions or buffers (they complete under the lock).
    var unlocked: UnlockedCompletion?
}

/// A copy, taken under the guest's lock when the call is sent, of what copy-back reads: the
/// vCPU in flight owns the call slot (its argument pin and private page) until it marks the
/// slot done, so it needs nothing from the guest's record to complete an INVOKE or CANCEL.
struct UnlockedCompletion: Sendable {
    // Unretained: the guest's record holds `space` strongly until this call is reaped, and a
    // call is reaped only after its vCPU marks it done, after its last use of `space`.
    let space: Unmanaged<GuestAddressSpace>
    // Unretained: the mediator owns its guest slots' phase objects for its whole life, and the
    // completing vCPU is inside a call of that mediator.
    let phase: Unmanaged<CallSlotPhase>
    var location: ArgLocation
    var privatePage: PAPage
    var argBytes: Int
    var numParams: Int
    var valueOutputs: ParamSet
    var sizeOutputs: ParamSet
    /// The call's temporary buffers (nil when it has none, as a NOP invoke: no array to retain).
    var tempBuffers: [SharedBuffer]?

    /// The part of `c` copy-back reads, when `c`'s completion books nothing in the guest's record;
    /// `phase` is the word of `c`'s slot, which the caller already looked up (one read of the
    /// slot's phase array per call).
    /// `space` comes unretained (an initializer's class parameter is taken at +1: a retain in the
    /// caller and a release here, per call).
    init?(_ c: borrowing CallRecord, space: Unmanaged<GuestAddressSpace>, phase: Unmanaged<CallSlotPhase>) {
        guard c.cmd == .invokeCommand || c.cmd == .cancel, c.registering == nil, c.unregistering == nil,
              !c.opening, c.closing == nil, c.argumentPinned else { return nil }
        self.space = space; self.phase = phase; location = c.location; privatePage = c.privatePage
        argBytes = c.argBytes; numParams = c.numParams; valueOutputs = c.valueOutputs; sizeOutputs = c.sizeOutputs
        if c.tempBuffers.isEmpty { tempBuffers = nil } else { tempBuffers = c.tempBuffers }
    }
}


extension Mediator {
    /// Runs `body` on the guest's record under its lock; a guest that is gone or dying gets
    /// ENOTAVAIL (counted) without `body` running. The record is reached in place (optional
    /// chaining on the slot's storage), never copied out and back.
    /// Calls that completed without the lock since the last holder are reaped first.
    ///
    /// `body` answers the guest with a frame, or writes the call to send into `sent` (once, in
    /// place) and answers nil. (Returned through the lock's and the record's generic closures
    /// instead, the ~180-byte prepared call was moved by memmove at every layer: 4% of a NOP invoke.)
    func withLiveGuest(_ slot: GuestSlot, sending sent: inout PreparedCall?,
                       _ body: (inout GuestRecord, inout PreparedCall?) -> RegisterFrame?) -> RegisterFrame? {
        let gate = slot.state.withLock { (rec: inout GuestRecord?) -> Gate? in
            rec?.inPlace { (r: inout GuestRecord) -> Gate? in
                guard !r.dying else { return nil }
                reap(&r, slot)
                if let f = body(&r, &sent) { return .answer(f) }
                return .send
            } ?? nil
        }
        switch gate {
        case let .answer(f)?: return f
        case .send?: return nil
        case nil:
            counters.bump(.unknownGuest)
            return RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue))
        }
    }

    /// What the body of `withLiveGuest` decided: answer the guest, or send the prepared call.
    enum Gate { case answer(RegisterFrame), send }

    /// Runs `body` on the live guest's record under its lock (`withLiveGuest`); a call it
    /// prepared goes to the secure world and is completed.
    func sendPrepared(_ slot: GuestSlot, guest: GuestID, _ body: (inout GuestRecord, inout PreparedCall?) -> RegisterFrame?) -> RegisterFrame {
        var sent: PreparedCall? = nil
        if let f = withLiveGuest(slot, sending: &sent, body) { return f }
        guard let call = sent else { return RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue)) }
        let out = secure.smc(call.frame)
        return complete(call, out, slot: slot, guest: guest)
    }

    func stdCall(_ frame: RegisterFrame, slot: GuestSlot, guest: GuestID, vcpu: Int) -> RegisterFrame {
        sendPrepared(slot, guest: guest) { r, sent in prepare(frame, &r, guest: guest, vcpu: vcpu, slot: slot, sending: &sent) }
    }

    /// Validates and records one std call. Runs under the guest's lock. Returns the frame that
    /// answers the guest directly, or nil with the call to send written into `sent`.
    ///
    /// The argument is copied exactly: its 32-byte header, then the 32 n bytes of params that
    /// the copy's own num_params names (checked against what is left of the page or registered
    /// buffer), into the call slot's private page. Nothing past the argument is read, and the
    /// guest's memory is not read again: validation and translation work in place on the copy
    /// through `MsgArgView`.
    func prepare(_ frame: RegisterFrame, _ r: inout GuestRecord, guest: GuestID, vcpu: Int, slot guestSlot: GuestSlot,
                 sending sent: inout PreparedCall?) -> RegisterFrame? {
        guard r.calls.count < callsInFlightLimit, let slot = r.freeSlots.popLast() else {
            counters.bump(.limitReached); r.refused += 1
            log.debug("calls in flight limit", metadata: ["guest": "\(guest.raw)"])
            return RegisterFrame(a0: UInt64(SMCReturn.ethreadLimit.rawValue))
        }
        // 1. Locate and pin the argument.
        let location: ArgLocation
        switch locateArgument(frame, &r) {
        case let .success(l): location = l
        case let .failure(e):
            r.freeSlots.append(slot)
            return refuse(e, &r, guest: guest)
        }
        // 2. Copy it, exactly, into the slot's private page.
        let priv: PAPage
        do { priv = try argPage(&r, slot: slot) } catch {
            r.freeSlots.append(slot)
            unpin(&r, location.page)
            return refuse(.noMemory, &r, guest: guest)
        }
        var call = CallRecord(id: nextCallID.add(1, ordering: .relaxed).oldValue, vcpu: vcpu, inFlight: true,
                              threadID: nil, cmd: MsgCommand(rawValue: 0), location: location, slot: slot,
                              privatePage: priv, numParams: 0, argBytes: MsgArg.headerSize)
        enum Verdict { case forward, unreadable, badCommand(UInt32), refused(ArgRefusal) }
        let verdict: Verdict = withCopiedArgument(location, into: priv) { arg -> Verdict in
            // 3. Validate and translate in place, through the view over exactly the copied bytes.
            let n = Int(arg.numParams)   // bounded by the copy
            call.numParams = n
            call.argBytes = arg.byteCount
            call.cmd = arg.cmd
            guard Self.isAllowed(arg.cmd) else { return .badCommand(arg.cmd.rawValue) }
            do throws(ArgRefusal) { try validate(arg, n, &call, &r) } catch { return .refused(error) }
            return .forward
        } ?? .unreadable
        switch verdict {
        case .forward:
            break
        case .unreadable:
            releaseCall(&r, call, deferPages: false)
            return refuse(.badAddress("argument unreadable, or num_params past its page"), &r, guest: guest)
        case let .badCommand(c):
            releaseCall(&r, call, deferPages: false)
            return refuse(.badCommand(c), &r, guest: guest)
        case let .refused(error):
            // Refusals complete the call with a ret code, without the secure world.
            counters.bump(error.result == .outOfMemory ? .limitReached : .badParameters)
            r.refused += 1
            log.debug("argument refused", metadata: ["guest": "\(guest.raw)", "why": "\(error)"])
            finishRefused(&r, call, result: error.result)
            releaseCall(&r, call, deferPages: false)
            return RegisterFrame(a0: UInt64(SMCReturn.ok.rawValue))
        }
        // 4. Record the call, give its slot to this vCPU, and hand the secure world the private copy.
        // `slot` came from the record's free list: an index of the slot's phase array.
        let phase = guestSlot.phases[slot]
        let unlocked = UnlockedCompletion(call, space: .passUnretained(r.space), phase: phase)
        let callID = call.id
        r.calls.append(consume call)
        // Sound: the slot's `calls` array holds every phase object for the slot's whole life.
        phase._withUnsafeGuaranteedRef { $0.word.store(CallPhase.inFlight, ordering: .relaxed) }
        let (hi, lo) = RegisterFrame.split(priv.address.raw)
        sent = PreparedCall(callID: callID, frame: RegisterFrame(.callWithArg, a1: hi, a2: lo,
                                                                 a3: UInt64(OPTEEIdentity.shmCached), a7: guest.clientID),
                            unlocked: unlocked)
        return nil
    }

    /// True for the commands a guest may issue.
    static func isAllowed(_ cmd: MsgCommand) -> Bool {
        switch cmd {
        case .openSession, .invokeCommand, .closeSession, .cancel, .registerSHM, .unregisterSHM: true
        default: false
        }
    }

    /// Copies the argument at `location` exactly into the private page `priv` (TEEABI's
    /// `MsgArgView.copyExact`: the header, then the params the copied num_params names, which
    /// must fit in `location.available`) and runs `body` on the view of the copy. nil when the
    /// guest page is unreadable or num_params does not fit; `body` never sees guest memory.
    func withCopiedArgument<R>(_ location: ArgLocation, into priv: PAPage, _ body: (MsgArgView) -> R) -> R? {
        guard let src = location.page.pa.address.adding(UInt64(location.offset)) else { return nil }
        do {
            return try memory.withBytes(src, count: location.available, world: .nonSecure) { (guest: UnsafeMutableRawBufferPointer) throws(Never) -> R? in
                withMediatorBytes(priv, count: location.available) { copy -> R? in
                    guard let arg = try? MsgArgView.copyExact(from: UnsafeRawBufferPointer(guest), into: copy) else { return nil }
                    return body(arg)
                } ?? nil
            }
        } catch { return nil }
    }

    func refuse(_ e: CallRefusal, _ r: inout GuestRecord, guest: GuestID) -> RegisterFrame {
        switch e {
        case .badAddress: counters.bump(.badAddress)
        case .badCommand: counters.bump(.badCommand)
        case .threadLimit, .noMemory: counters.bump(.limitReached)
        case .guestGone: counters.bump(.unknownGuest)
        }
        r.refused += 1
        log.debug("std call refused", metadata: ["guest": "\(guest.raw)", "why": "\(e)"])
        return RegisterFrame(a0: UInt64(e.code.rawValue))
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

    /// Checks the command's params and translates memory references in the private copy `arg`
    /// (`n` params, already bounded). Throws on the first refusal; everything acquired so far
    /// stays recorded in `call` for release. Records which outputs copy-back may return.
    func validate(_ arg: MsgArgView, _ n: Int, _ call: inout CallRecord, _ r: inout GuestRecord) throws(ArgRefusal) {
        for i in 0..<n {
            guard let p = arg.param(i) else { throw .badParameter("param \(i) past the argument") }
            let attr = p.attr
            guard attr.isWellFormed else { throw .badParameter("param \(i) attr \(hex(attr.rawValue))") }
            // What copy-back returns is decided here, on the validated copy.
            guard let t = attr.type, t.isOutput, !attr.isMeta else { continue }
            if t.isValue { call.valueOutputs.insert(i) } else if t.isMemref { call.sizeOutputs.insert(i) }
        }
        switch arg.cmd {
        case .openSession:
            try applyIdentity(arg, n, r)
            guard r.sessions.count + r.openingSessions < config.sessions else { throw .limit("sessions") }
            r.openingSessions += 1
            call.opening = true
        case .invokeCommand, .closeSession:
            guard r.sessions.contains(arg.session) else { throw .badParameter("session \(hex(arg.session)) not this guest's") }
            if arg.cmd == .closeSession { call.closing = arg.session }
        case .cancel:
            guard arg.session == 0 || r.sessions.contains(arg.session) else { throw .badParameter("cancel of a foreign session") }
        case .registerSHM:
            guard n == 1, let p = arg.param(0), let t = p.attr.type, t.isTmem, p.attr.isNoncontig else {
                throw .badParameter("REGISTER_SHM needs one non-contiguous tmem")
            }
            let cookie = p.shmRef
            guard !r.cookieInUse(cookie) else { throw .badParameter("cookie \(hex(cookie)) already in use") }
            guard r.shm.count + r.shmPending.count < config.shmBuffers else { throw .limit("shm buffers") }
            let b = try translatePageList(&r, bufPtr: IPA(p.tmemBufPtr), size: p.memrefSize, cookie: cookie)
            r.shmPending.insert(cookie)
            call.registering = b
            p.tmemBufPtr = b.securePointer.raw
            return
        case .unregisterSHM:
            guard n == 1, let p = arg.param(0), let t = p.attr.type, t.isRmem, r.shm[p.shmRef] != nil else {
                throw .badParameter("UNREGISTER_SHM of a buffer this guest did not register")
            }
            call.unregistering = p.shmRef
            return
        default:
            throw .badParameter("command")
        }
        try translateParams(arg, n, &call, &r)
    }

    /// Rewrites the client identity of an OPEN_SESSION (params[1]: client UUID octets and login)
    /// in the private copy, as the guest's identity policy decides: the host, not the guest, says
    /// who the client is. Guests without a policy keep what they sent.
    func applyIdentity(_ arg: MsgArgView, _ n: Int, _ r: GuestRecord) throws(ArgRefusal) {
        guard let policy = r.identity else { return }
        let meta: OpenSessionMeta
        do { meta = try OpenSessionMeta(view: arg, count: n) } catch { throw .badParameter("OPEN_SESSION meta: \(error)") }
        guard let client = policy(meta.login) else { throw .accessDenied("login \(meta.login) refused for this guest") }
        arg.param(1)?.setUUID(client)
    }

    /// VALUE params pass; RMEM must lie inside a buffer this guest registered; contiguous TMEM
    /// is refused unless NULL; non-contiguous TMEM is rebuilt with pins for the call.
    func translateParams(_ arg: MsgArgView, _ n: Int, _ call: inout CallRecord, _ r: inout GuestRecord) throws(ArgRefusal) {
        for i in 0..<n {
            guard let p = arg.param(i) else { throw .badParameter("param \(i) past the argument") }
            let attr = p.attr
            guard let t = attr.type else { throw .badParameter("param \(i) type") }
            if attr.isMeta && !(arg.cmd == .openSession && i < 2 && t.isValue) {
                throw .badParameter("param \(i) META outside the OPEN_SESSION header")
            }
            if t.isRmem {
                guard let b = r.shm[p.shmRef] else { throw .badParameter("param \(i) rmem of unknown buffer \(hex(p.shmRef))") }
                let (end, o) = p.rmemOffset.addingReportingOverflow(p.memrefSize)
                guard !o, end <= b.size else { throw .badParameter("param \(i) rmem outside its buffer") }
            } else if t.isTmem {
                if !attr.isNoncontig {
                    guard p.tmemBufPtr == 0 else { throw .badParameter("param \(i) contiguous tmem") }
                    p.shmRef = 0
                } else {
                    guard p.tmemBufPtr != 0 else { p.shmRef = 0; continue }
                    let b = try translatePageList(&r, bufPtr: IPA(p.tmemBufPtr), size: p.memrefSize, cookie: p.shmRef)
                    if call.tempBuffers.capacity == 0 { call.tempBuffers = r.spare.takeTemps() }
                    call.tempBuffers.append(b)
                    p.tmemBufPtr = b.securePointer.raw
                }
            }
        }
    }

    /// Writes a refusal's ret and origin COMMS into the guest's argument header (one stage-2
    /// check for both fields).
    func finishRefused(_ r: inout GuestRecord, _ call: CallRecord, result: TEEResult) {
        writeGuest(r.space, call.location.page, offset: call.location.offset, count: MsgArg.headerSize) { g in
            g.ret = result
            g.retOrigin = .comms
        }
    }

    /// Takes the secure world's answer for call `callID`: an RPC (translated for the guest) or a
    /// completion (copy-back, bookkeeping, release).
    /// An INVOKE or CANCEL that completes (no RPC) takes no lock: see `completeUnlocked`.
    func complete(_ call: PreparedCall, _ out: RegisterFrame, slot: GuestSlot, guest: GuestID) -> RegisterFrame {
        let callID = call.callID
        var current = out
        while true {
            if let u = call.unlocked, !SMCReturn(rawValue: UInt32(truncatingIfNeeded: current.a0)).isRPC,
               let f = completeUnlocked(callID, current, u, slot: slot, guest: guest) {
                return f
            }
            let after = slot.state.withLock { (rec: inout GuestRecord?) -> After in
                rec?.inPlace { (r: inout GuestRecord) -> After in completeLocked(callID, current, &r, guest: guest) }
                    ?? .answer(RegisterFrame(a0: UInt64(SMCReturn.enotavail.rawValue)))
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

    /// What follows the secure world's answer for a call.
    enum After { case answer(RegisterFrame), finalize, resend(RegisterFrame) }

    /// `complete`'s work under the guest's lock, on the record in place.
    func completeLocked(_ callID: UInt64, _ current: RegisterFrame, _ r: inout GuestRecord, guest: GuestID) -> After {
        guard let idx = r.calls.callIndex(id: callID) else {
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

    /// Completes call `callID` without the guest's lock: takes the slot (`inFlight ->
    /// completing`), copies back, releases the argument's and temporary buffers' guest pins,
    /// and marks the slot done; the next holder of the lock reaps the record (`reap`). nil when
    /// destroy orphaned the call first: it then completes through the lock.
    func completeUnlocked(_ callID: UInt64, _ current: RegisterFrame, _ u: UnlockedCompletion, slot: GuestSlot, guest: GuestID) -> RegisterFrame? {
        u.phase._withUnsafeGuaranteedRef { phase in
            u.space._withUnsafeGuaranteedRef { space in
                completeUnlocked(callID, current, u, phase: phase, space: space, slot: slot, guest: guest)
            }
        }
    }

    func completeUnlocked(_ callID: UInt64, _ current: RegisterFrame, _ u: UnlockedCompletion, phase: CallSlotPhase,
                          space: GuestAddressSpace, slot: GuestSlot, guest: GuestID) -> RegisterFrame? {
        guard phase.word.compareExchange(expected: CallPhase.inFlight, desired: CallPhase.completing, ordering: .acquiring).exchanged else {
            return nil
        }
        let ret = SMCReturn(rawValue: UInt32(truncatingIfNeeded: current.a0))
        let page = u.location.page
        let wrote = ret == .ok
            && writeBack(space, page, offset: u.location.offset, bytes: u.argBytes, numParams: u.numParams, opening: false,
                         values: u.valueOutputs, sizes: u.sizeOutputs, privatePage: u.privatePage) != nil
        if !wrote { unpinUnlocked(space, page) }
        if let temps = u.tempBuffers { for b in temps { for p in b.pages { unpinUnlocked(space, p) } } }
        counters.completedCalls.add(1, ordering: .relaxed)
        // Sequentially consistent with destroy's store of `live` and its scan of the phases.
        phase.word.store(CallPhase.done, ordering: .sequentiallyConsistent)
        if !slot.live.load(ordering: .sequentiallyConsistent) {
            // Destroy began and may not have seen `done`: reap this call under the lock; the
            // last call of a dying guest sends VM_DESTROYED.
            let last = slot.state.withLock { (rec: inout GuestRecord?) -> Bool in
                rec?.inPlace { (r: inout GuestRecord) -> Bool in
                    guard let idx = r.calls.callIndex(id: callID) else { return false }
                    let c = r.calls.remove(at: idx)
                    reapDone(&r, consume c, deferPages: r.dying)
                    return r.dying && r.calls.isEmpty
                } ?? false
            }
            if last { finalizeDestroy(slot, guest) }
        }
        return RegisterFrame(a0: UInt64(ret.rawValue))
    }

    func unpinUnlocked(_ space: GuestAddressSpace, _ p: PinnedPage) {
        do { try space.unpin(p.pa) } catch {
            log.debug("unpin of an unpinned page", metadata: ["page": "\(p.pa)"])
        }
    }

    /// Reaps, under the guest's lock, every call whose vCPU marked it done without the lock:
    /// books its released pins, frees its temporary list pages and gives its slot back. A dying
    /// guest's calls are reaped by destroy or by their own completion, never here.
    func reap(_ r: inout GuestRecord, _ slot: GuestSlot) {
        guard !r.dying else { return }
        var i = 0
        while i < r.calls.count {
            let k = r.calls[i].slot
            if r.calls[i].inFlight, k < slot.calls.count, slot.calls[k].word.load(ordering: .acquiring) == CallPhase.done {
                let c = r.calls.remove(at: i)
                reapDone(&r, consume c, deferPages: false)
            } else {
                i += 1
            }
        }
    }

    /// The record side of a call completed by `completeUnlocked` (its guest pins already released).
    func reapDone(_ r: inout GuestRecord, _ c: consuming CallRecord, deferPages: Bool) {
        r.pinned -= 1
        // The pins went with the completion (unpinned without the lock); what is left is the count.
        recycleTempBuffers(&r, &c) { r, b in
            r.pinned -= b.pages.count
            freeListPages(&r, b, deferPages: deferPages)
        }
        r.freeSlots.append(c.slot)
    }

    /// Completion: copy back the allowed fields, update sessions and buffers, release the call.
    func finishCall(_ c: CallRecord, ret: SMCReturn, _ r: inout GuestRecord) {
        var call = c
        if ret == .ok { copyBack(&call, &r) }
        releaseCall(&r, call, deferPages: false)
    }

    /// Copies back to the guest, field by field through the view as Xen's copy_std_request_back
    /// does, only what the guest may see: ret, ret_origin, the session of an OPEN_SESSION, and
    /// the output values and memref sizes the validated copy named. One stage-2 check, held
    /// across the whole write. Then books sessions and registrations: a registration that
    /// succeeded moves to the guest's table.
    func copyBack(_ call: inout CallRecord, _ r: inout GuestRecord) {
        let header = writeBack(r.space, call.location.page, offset: call.location.offset, bytes: call.argBytes,
                               numParams: call.numParams, opening: call.cmd == .openSession,
                               values: call.valueOutputs, sizes: call.sizeOutputs, privatePage: call.privatePage)
        if header != nil {
            call.argumentPinned = false
            r.pinned -= 1
        }
        guard let res = header, res.ret == .success else { return }
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

    /// The guest-visible half of copy-back (needs no guest record): writes the allowed fields
    /// from the private copy into the guest's argument and releases the argument's pin in the
    /// same stage-2 check. Returns the copy's ret and session; nil when the private copy was
    /// unreadable (then the guest page was not touched and stays pinned).
    func writeBack(_ space: GuestAddressSpace, _ page: PinnedPage, offset: Int, bytes: Int, numParams n: Int, opening: Bool,
                   values: ParamSet, sizes: ParamSet, privatePage: PAPage) -> (ret: TEEResult, session: UInt32)? {
        withMediatorBytes(privatePage, count: bytes) { b -> (TEEResult, UInt32)? in
            guard let priv = try? MsgArgView(b) else { return nil }
            // The call's last touch of its argument page: the pin goes in the same stage-2 lock hold.
            writeGuest(space, page, offset: offset, count: bytes, unpinning: true) { guest in
                guest.ret = priv.ret
                guest.retOrigin = priv.retOrigin
                if opening { guest.session = priv.session }
                guard !(values.isEmpty && sizes.isEmpty) else { return }
                for i in 0..<n {
                    guard let g = guest.param(i), let p = priv.param(i) else { break }
                    if values.contains(i) {
                        g.valueA = p.valueA; g.valueB = p.valueB; g.valueC = p.valueC
                    } else if sizes.contains(i) {
                        g.memrefSize = p.memrefSize
                    }
                }
            }
            return (priv.ret, priv.session)
        } ?? nil
    }
}
