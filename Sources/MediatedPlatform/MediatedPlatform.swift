/// MediatedPlatform: the hypervisor's trap entry with the OP-TEE mediator wired onto the Trusted OS
/// range (and the Arm TRNG), as the composition root builds it, plus `RawGuest`: a guest that
/// crafts register frames and writes `optee_msg_arg` bytes and page lists straight into its RAM
/// (guest-side writes through its stage-2), with no driver in between. Runs in the hypervisor;
/// touches only Mediator, Platform and Machine, so the mediator tests and the attack battery link
/// the hypervisor layer without the rest of the stack.
import Machine
import Mediator
import Platform
import TEEABI

/// The platform service that routes the Trusted OS range to a mediator: the trap entry calls
/// `Mediator.handle` directly (no closure, no existential copy). The mediator answers every
/// frame itself, so it never fails or asks for a retry; the codes below are for completeness.
public final class MediatorService: PlatformService {
    /// The mediator served.
    public let mediator: Mediator
    /// Name for logs.
    public let name = "OP-TEE mediator"
    /// The Trusted OS owners 50...63.
    public let range = SMCServiceRange.trustedOS

    /// The service of `mediator`.
    public init(_ mediator: Mediator) { self.mediator = mediator }

    /// Hands the frame to the mediator.
    public func handle(_ frame: RegisterFrame, caller: CallerIdentity) -> ServiceOutcome {
        .frame(mediator.handle(frame, guest: caller.guest, vcpu: caller.vcpu))
    }
    /// ENOTAVAIL.
    public func errorCode(for failure: ServiceFailure, function: SMCFunctionID) -> UInt64 { UInt64(SMCReturn.enotavail.rawValue) }
    /// ETHREAD_LIMIT.
    public func busyCode(function: SMCFunctionID) -> UInt64 { UInt64(SMCReturn.ethreadLimit.rawValue) }
}

/// The platform service that routes the Trusted OS range to a mediator.
public func mediatorService(_ mediator: Mediator) -> MediatorService { MediatorService(mediator) }

/// A platform with the mediator on the Trusted OS range and the Arm TRNG.
public func makeMediatedPlatform(mediator: Mediator) throws -> Platform {
    var b = PlatformBuilder()
    try b.register(mediatorService(mediator))
    try b.register(TRNGService())
    return b.build()
}

/// A hostile (or merely raw) guest: it owns an address space and traps through a platform.
public struct RawGuest: Sendable {
    /// The guest's stage-2 and RAM.
    public let space: GuestAddressSpace
    /// Where it traps.
    public let platform: Platform
    /// Its id.
    public var id: GuestID { space.id }

    /// A raw guest over `space` trapping into `platform`.
    public init(space: GuestAddressSpace, platform: Platform) { self.space = space; self.platform = platform }

    /// Traps `frame` from vCPU `vcpu`.
    public func trap(_ frame: RegisterFrame, vcpu: Int = 0) -> RegisterFrame { platform.trap(frame, guest: id, vcpu: vcpu) }

    /// IPA of RAM page `page` plus `offset`.
    public func ipa(_ page: Int, _ offset: Int = 0) -> IPA { IPA(space.ramPage(page).address.raw + UInt64(offset)) }

    /// Writes `arg` at RAM page `page` (+ offset).
    public func write(_ arg: MsgArg, page: Int, offset: Int = 0) throws(MemoryError) {
        try space.write(ipa(page, offset), arg.encoded())
    }

    /// Reads back the argument at RAM page `page` as `numParams` params (by position).
    public func readArg(page: Int, numParams: Int, offset: Int = 0) -> MsgArg? {
        guard var b = try? space.read(ipa(page, offset), count: MsgArg.size(numParams: numParams)) else { return nil }
        // Read by position: num_params is the caller's, whatever the guest's page now says.
        withUnsafeBytes(of: UInt32(numParams).littleEndian) { b.replaceSubrange(28..<32, with: $0) }
        return try? MsgArg.decode(b, maxParams: numParams, validateAttributes: false)
    }

    /// CALL_WITH_ARG with the argument at `address`.
    public func callWithArg(_ address: IPA, vcpu: Int = 0, a7: UInt64 = 0) -> RegisterFrame {
        let (h, l) = RegisterFrame.split(address.raw)
        return trap(RegisterFrame(.callWithArg, a1: h, a2: l, a3: UInt64(OPTEEIdentity.shmCached), a7: a7), vcpu: vcpu)
    }

    /// Writes `arg` at page `page` and calls with it, following no RPC. Returns the SMC result and the argument after.
    public func call(_ arg: MsgArg, page: Int, vcpu: Int = 0) -> (RegisterFrame, MsgArg?) {
        guard (try? write(arg, page: page)) != nil else { return (RegisterFrame(a0: .max), nil) }
        let out = callWithArg(ipa(page), vcpu: vcpu)
        return (out, readArg(page: page, numParams: arg.params.count))
    }

    /// Writes a page list at RAM page `listPage` naming `dataPages` (IPAs given raw) and returns
    /// tmem.buf_ptr (list IPA | `offset`). `next` overrides the next-page pointer of the list page.
    public func pageList(listPage: Int, entries: [UInt64], offset: Int = 0, next: UInt64 = 0) throws(MemoryError) -> UInt64 {
        let page = PageList.Page(entries: entries, next: next)
        try space.write(ipa(listPage), page.encoded())
        return ipa(listPage).raw | UInt64(offset & 0xFFF)
    }

    /// IPAs (raw) of RAM pages.
    public func pages(_ p: [Int]) -> [UInt64] { p.map { ipa($0).raw } }

    /// Serves RPCs the simple way a driver would, until the call completes: ALLOC with RAM page
    /// `allocPage`, FREE and FOREIGN_INTR by resuming, CMD by answering GET_TIME and SHM_ALLOC
    /// (with a one-page non-contiguous buffer at `shmPages`). `onRPC` may interfere before each resume.
    public func serveRPCs(_ first: RegisterFrame, allocPage: Int, shmListPage: Int = 0, shmPages: [Int] = [],
                          vcpu: Int = 0, limit: Int = 64,
                          onRPC: (RegisterFrame, inout RegisterFrame) -> Void = { _, _ in }) -> RegisterFrame {
        var out = first
        var steps = 0
        var nextCookie: UInt64 = 0x5000 + UInt64(id.raw) << 32
        while SMCReturn(rawValue: UInt32(truncatingIfNeeded: out.a0)).isRPC && steps < limit {
            steps += 1
            let fn = SMCReturn(rawValue: UInt32(truncatingIfNeeded: out.a0)).rpcFunction
            var f = RegisterFrame(.returnFromRPC, a3: out.a3)
            switch fn {
            case .alloc:
                (f.a1, f.a2) = RegisterFrame.split(ipa(allocPage).raw)
                nextCookie += 1
                (f.a4, f.a5) = RegisterFrame.split(nextCookie)
            case .cmd:
                serveCommand(page: allocPage, shmListPage: shmListPage, shmPages: shmPages, cookie: &nextCookie)
            default:
                break
            }
            onRPC(out, &f)
            out = trap(f, vcpu: vcpu)
        }
        return out
    }

    /// Answers the RPC argument at RAM page `page` in place (GET_TIME, SHM_ALLOC, SHM_FREE, else NOT_SUPPORTED).
    public func serveCommand(page: Int, shmListPage: Int, shmPages: [Int], cookie: inout UInt64) {
        guard let bytes = try? space.read(ipa(page), count: pageSize),
              var arg = try? MsgArg.decode(bytes, validateAttributes: false) else { return }
        switch RPCCommand(rawValue: arg.cmd.rawValue) {
        case .getTime where arg.params.count == 1:
            arg.params[0].a = 1_700_000_000; arg.params[0].b = 5; arg.ret = .success
        case .shmAlloc where arg.params.count >= 1 && !shmPages.isEmpty:
            cookie += 1
            guard let ptr = try? pageList(listPage: shmListPage, entries: pages(shmPages)) else { arg.ret = .outOfMemory; break }
            arg.params[0] = .tmem(.tmemOutput, bufPtr: ptr, size: arg.params[0].b, shmRef: cookie, noncontig: true)
            arg.ret = .success
        case .shmFree:
            arg.ret = .success
        default:
            arg.ret = .notSupported
        }
        try? space.write(ipa(page), arg.encoded())
    }
}
