/// RPCs from the secure world through the mediator to the guest and back: ALLOC (the guest's
/// reply must be a page-aligned IPA of its RAM: pinned, shadowed in mediator memory), FREE
/// (unpinned before the guest hears of it), CMD (the RPC argument copied both ways, num_params
/// bounded, SHM_ALLOC replies translated, SHM_FREE unpinned), FOREIGN_INTR (passed through).
/// RETURN_FROM_RPC is accepted only for a suspended call of the same guest.
import Machine
import TEEABI

/// Where an RPC goes next: to the guest, or straight back to the secure world (mediator answered it).
enum RPCAction: Sendable {
    case guest(RegisterFrame)
    case secure(RegisterFrame)
}

extension Mediator {
    /// Records the RPC on call `idx` and builds the guest's frame. Runs under the guest's lock.
    func rpcToGuest(_ out: RegisterFrame, _ idx: Int, _ r: inout GuestRecord, guest: GuestID) -> RPCAction {
        let code = SMCReturn(rawValue: UInt32(truncatingIfNeeded: out.a0))
        let fn = code.rpcFunction ?? RPCFunction(rawValue: 0xFFFF)
        counters.rpcs.add(1, ordering: .relaxed)
        r.calls[idx].suspend(out, pending: fn)
        var g = RegisterFrame(a0: UInt64(code.rawValue), a3: out.a3)
        switch fn {
        case .alloc:
            r.rpcCounts.count(fn)
            r.calls[idx].rpcAllocSize = out.a1
            g.a1 = out.a1
            if out.a1 == 0 || out.a1 > UInt64(pageSize) {
                // Only RPC arguments are allocated this way; more than a page is refused here.
                counters.bump(.rpcRejected)
                return refuseRPC(idx, &r, guest: guest)
            }
        case .free:
            r.rpcCounts.count(fn)
            let cookie = RegisterFrame.join(out.a1, out.a2)
            if let b = r.rpcArgs.removeValue(forKey: cookie) { releaseRPCArg(&r, b, deferPages: false) }
            g.a1 = out.a1 & 0xFFFF_FFFF; g.a2 = out.a2 & 0xFFFF_FFFF
        case .cmd:
            let cookie = RegisterFrame.join(out.a1, out.a2)
            guard let b = r.rpcArgs[cookie], let cmd = rpcCommandToGuest(b, &r) else {
                counters.bump(.rpcRejected)
                r.rpcCounts.count(fn, command: nil)
                return refuseRPC(idx, &r, guest: guest)
            }
            r.rpcCounts.count(fn, command: cmd)
            r.calls[idx].rpcCmdCookie = cookie
            g.a1 = out.a1 & 0xFFFF_FFFF; g.a2 = out.a2 & 0xFFFF_FFFF
        default:
            r.rpcCounts.count(fn)
        }
        return .guest(g)
    }

    /// An RPC the mediator refuses on the guest's behalf: call `idx` goes straight back to the
    /// secure world, as if the guest had answered it with nothing.
    private func refuseRPC(_ idx: Int, _ r: inout GuestRecord, guest: GuestID) -> RPCAction {
        .secure(r.calls[idx].unsuspend(clientID: guest.clientID))
    }

    /// num_params an RPC buffer of `b.size` bytes can hold.
    func rpcParamLimit(_ b: RPCArgBuffer) -> Int {
        max(0, min(MsgArg.maxNumParams, (min(b.size, pageSize) - MsgArg.headerSize) / MsgParam.byteSize))
    }

    /// Copies the secure world's RPC argument (shadow) into the guest's RPC buffer field by field
    /// through the view, bounding num_params, translating tmem addresses back to IPAs and
    /// releasing SHM_FREE'd buffers.
    func rpcCommandToGuest(_ b: RPCArgBuffer, _ r: inout GuestRecord) -> RPCCommand? {
        let limit = rpcParamLimit(b)
        let space = r.space
        return withMediatorBytes(b.shadow, count: pageSize) { bytes -> RPCCommand? in
            guard let s = try? MsgArgView(bytes), let n = try? s.paramCount(max: limit) else { return nil }
            let cmd = RPCCommand(rawValue: s.cmd.rawValue)
            if cmd == .shmFree, n >= 1, let p = s.param(0), p.attr.type?.isValue == true,
               let sb = r.rpcShm.removeValue(forKey: p.valueB) {
                releaseBuffer(&r, sb, deferPages: false)
            }
            // A refused write (guest unmapped its RPC page) still lets the RPC proceed: the guest's
            // reply will then be whatever its page holds, validated on the way back.
            writeGuest(space, b.page, offset: 0, count: MsgArg.size(numParams: n)) { g in
                g.cmd = s.cmd; g.function = s.function; g.session = s.session; g.cancelID = s.cancelID
                g.pad = s.pad; g.ret = s.ret; g.retOrigin = s.retOrigin; g.numParams = UInt32(n)
                for i in 0..<n {
                    guard let sp = s.param(i), let gp = g.param(i) else { break }
                    let attr = sp.attr
                    gp.a = sp.a; gp.b = sp.b; gp.c = sp.c
                    guard let t = attr.type, t.isTmem else { gp.attr = attr; continue }
                    let buf = r.rpcShm[sp.shmRef] ?? r.shm[sp.shmRef]
                    if sp.tmemBufPtr != 0, let ipa = buf?.ipa(ofSecure: PA(sp.tmemBufPtr)) {
                        gp.tmemBufPtr = ipa.raw
                    } else {
                        gp.tmemBufPtr = 0   // a PA never reaches the guest
                    }
                    gp.attr = MsgAttr(rawValue: attr.rawValue & ~MsgAttr.noncontigBit)
                }
            }
            return cmd
        } ?? nil
    }

    // MARK: - RETURN_FROM_RPC

    func resume(_ frame: RegisterFrame, slot: GuestSlot, guest: GuestID, vcpu: Int) -> RegisterFrame {
        sendPrepared(slot, guest: guest) { r, sent in
            // `callIndex(thread:)` matches only a suspended call (not in flight, an RPC pending).
            guard let idx = r.calls.callIndex(thread: frame.a3), let fn = r.calls[idx].pendingRPC else {
                counters.bump(.resumeRejected)
                r.refused += 1
                log.debug("RETURN_FROM_RPC refused", metadata: ["guest": "\(guest.raw)", "thread": "\(frame.a3)"])
                return RegisterFrame(a0: UInt64(SMCReturn.eresume.rawValue))
            }
            let phase = slot.phases[r.calls[idx].slot]
            // The record is updated in place and `sent` written from it (a copy of the record
            // costs retains of its buffers).
            let (allocSize, cmdCookie) = r.calls[idx].resume(on: vcpu, clientID: guest.clientID, space: .passUnretained(r.space),
                                                             phase: phase, into: &sent)
            switch fn {
            case .alloc:
                let reply = allocReply(frame, size: allocSize, &r, guest: guest)
                let (pa, cookie) = (RegisterFrame.split(reply?.shadow.raw ?? 0), RegisterFrame.split(reply?.cookie ?? 0))
                sent?.frame.a1 = pa.0; sent?.frame.a2 = pa.1
                sent?.frame.a4 = cookie.0; sent?.frame.a5 = cookie.1
            case .cmd:
                if let cookie = cmdCookie, let b = r.rpcArgs[cookie] { rpcCommandFromGuest(b, &r, guest: guest) }
            default:
                break
            }
            // Sound: the slot's `calls` array holds every phase object for the slot's whole life.
            phase._withUnsafeGuaranteedRef { $0.word.store(CallPhase.inFlight, ordering: .relaxed) }
            return nil
        }
    }

    /// The guest's ALLOC reply: a page-aligned IPA of its own read-write RAM and a fresh cookie.
    /// Returns (PA of the mediator shadow, cookie), or nil when refused.
    func allocReply(_ frame: RegisterFrame, size: UInt64, _ r: inout GuestRecord, guest: GuestID) -> (shadow: PA, cookie: UInt64)? {
        let ipa = IPA(RegisterFrame.join(frame.a1, frame.a2))
        let cookie = RegisterFrame.join(frame.a4, frame.a5)
        guard ipa.raw != 0 else { return nil }
        func reject(_ why: String) -> (shadow: PA, cookie: UInt64)? {
            counters.bump(.rpcRejected)
            r.refused += 1
            log.debug("RPC ALLOC reply refused", metadata: ["guest": "\(guest.raw)", "why": "\(why)"])
            return nil
        }
        guard ipa.isPageAligned else { return reject("not page aligned") }
        // Cookie 0 means "no buffer" to the secure world, which would then never free it.
        guard cookie != 0 else { return reject("cookie 0") }
        guard !r.cookieInUse(cookie) else { return reject("duplicate cookie") }
        guard r.rpcArgs.count + r.rpcShm.count < config.rpcBuffers else {
            counters.bump(.limitReached)
            return reject("rpc buffers limit")
        }
        let page: PinnedPage
        do { page = try pin(&r, ipa.page) } catch { return reject("\(error)") }
        let shadow: PAPage
        do { shadow = try allocatePage(&r) } catch {
            unpin(&r, page)
            return reject("\(error)")
        }
        r.rpcArgs[cookie] = RPCArgBuffer(cookie: cookie, page: page, shadow: shadow, size: Int(clamping: size))
        return (shadow.address, cookie)
    }

    /// Copies the guest's answer to an RPC_CMD back into the shadow: ret, then only output values
    /// and sizes by the shadow's own param types; SHM_ALLOC replies are translated and pinned.
    /// Each field of the guest's reply is read once (from the pinned page) and used only as read.
    func rpcCommandFromGuest(_ b: RPCArgBuffer, _ r: inout GuestRecord, guest: GuestID) {
        let limit = rpcParamLimit(b)
        _ = withMediatorBytes(b.shadow, count: pageSize) { bytes in
            guard let out = try? MsgArgView(bytes), let n = try? out.paramCount(max: limit) else { return }
            let cmd = RPCCommand(rawValue: out.cmd.rawValue)
            // The guest's reply: ret, outputs, and for SHM_ALLOC param 0's tmem (read once each).
            var shmReply: (attr: MsgAttr, bufPtr: IPA, cookie: UInt64)?
            let replied: Bool = (try? memory.withBytes(b.page.pa.address, count: MsgArg.size(numParams: n), world: .nonSecure) {
                (gb: UnsafeMutableRawBufferPointer) throws(Never) -> Bool in
                guard let g = try? MsgArgView(gb), g.numParams == UInt32(n) else { return false }
                let ret = g.ret
                out.ret = ret
                for i in 0..<n {
                    guard let op = out.param(i), let gp = g.param(i), let t = op.attr.type, t.isOutput else { continue }
                    if t.isValue {
                        op.valueA = gp.valueA; op.valueB = gp.valueB; op.valueC = gp.valueC
                    } else if t.isMemref {
                        op.memrefSize = gp.memrefSize
                    }
                }
                if cmd == .shmAlloc, ret == .success, n >= 1, let gp = g.param(0) {
                    shmReply = (gp.attr, IPA(gp.tmemBufPtr), gp.shmRef)
                }
                return true
            }) ?? false
            guard replied else {
                counters.bump(.rpcRejected)
                r.refused += 1
                out.ret = .badParameters
                return
            }
            guard cmd == .shmAlloc, let reply = shmReply, let p0 = out.param(0) else { return }
            let requested = p0.valueB
            func refuse(_ why: String) {
                counters.bump(.rpcRejected)
                r.refused += 1
                log.debug("SHM_ALLOC reply refused", metadata: ["guest": "\(guest.raw)", "why": "\(why)"])
                out.ret = .outOfMemory
            }
            guard reply.attr.type == .tmemOutput, reply.attr.isNoncontig, !reply.attr.isMeta else {
                return refuse("plain (contiguous) tmem or wrong type")
            }
            guard reply.bufPtr.raw != 0 else { return refuse("NULL buffer") }
            guard reply.cookie != 0 else { return refuse("cookie 0") }
            guard !r.cookieInUse(reply.cookie) else { return refuse("duplicate cookie") }
            guard r.rpcArgs.count + r.rpcShm.count < config.rpcBuffers else {
                counters.bump(.limitReached)
                return refuse("rpc buffers limit")
            }
            do {
                let sb = try translatePageList(&r, bufPtr: reply.bufPtr, size: requested, cookie: reply.cookie)
                r.rpcShm[reply.cookie] = sb
                p0.store(.tmem(.tmemOutput, bufPtr: sb.securePointer.raw, size: requested, shmRef: reply.cookie, noncontig: true))
            } catch {
                refuse("\(error)")
            }
        }
    }
}
