/// The attack battery: named adversarial scenarios, each run against a fresh platform +
/// mediator + secure world, each followed by invariant checks over the mediator's and the
/// secure world's state (no leaked pins, calls, buffers or sessions), not just the return code.
import Foundation
import Machine
import MediatedPlatform
import Mediator
import Platform
import SecureWorld
import Synchronization
import TEEABI
import TrustedApps

/// The outcome of one scenario.
public struct AttackResult: Sendable, Codable, Equatable {
    /// Scenario name (kebab-case).
    public var name: String
    /// What the attacker tries.
    public var tries: String
    /// What must happen.
    public var expected: String
    /// What happened (including invariant findings).
    public var observed: String
    /// True when the defence held and every invariant was intact afterwards.
    public var held: Bool
}

/// One scenario: a name, what it tries, the expected outcome, and the attack itself.
public struct AttackScenario: Sendable {
    /// Scenario name.
    public let name: String
    /// What the attacker tries.
    public let tries: String
    /// What must happen.
    public let expected: String
    /// Mediator limits for this scenario's bed (defaults unless the scenario probes a limit).
    public let config: @Sendable () -> MediatorConfig
    /// Pages of RAM per guest.
    public let guestPages: Int
    /// Runs the attack; returns what was observed and whether the defence held.
    public let run: @Sendable (AttackBed) throws -> (observed: String, held: Bool)

    /// A scenario.
    public init(_ name: String, tries: String, expected: String, guestPages: Int = 64,
                config: @escaping @Sendable () -> MediatorConfig = { MediatorConfig() },
                run: @escaping @Sendable (AttackBed) throws -> (observed: String, held: Bool)) {
        self.name = name; self.tries = tries; self.expected = expected; self.guestPages = guestPages
        self.config = config; self.run = run
    }
}

/// Runs every scenario, each on a fresh machine, and returns the results in order.
public func runAttackBattery() -> [AttackResult] {
    attackScenarios.map(runAttack)
}

/// Runs one scenario on a fresh machine, then checks invariants and tears the machine down.
public func runAttack(_ s: AttackScenario) -> AttackResult {
    var result = AttackResult(name: s.name, tries: s.tries, expected: s.expected, observed: "", held: false)
    let bed: AttackBed
    do { bed = try AttackBed(config: s.config(), guestPages: s.guestPages) } catch {
        result.observed = "bed could not be built: \(error)"
        return result
    }
    do {
        let (observed, held) = try s.run(bed)
        result.observed = observed
        result.held = held
    } catch {
        result.observed = "scenario threw: \(error)"
    }
    bed.secure.clearHook()
    let problems = bed.checkInvariants() + bed.teardownAndCheck()
    if !problems.isEmpty {
        result.held = false
        result.observed += "; INVARIANTS BROKEN: " + problems.joined(separator: ", ")
    }
    return result
}

/// The secure world as the mediator reaches it, with a one-shot hook an attacker uses to act
/// while a call is in flight (between the mediator's validation and the secure world's answer).
public final class HookedSecureWorld: SMCEntry, Sendable {
    /// The real secure world.
    public let inner: SecureWorld
    private let hook = Mutex<(@Sendable (RegisterFrame) -> Bool)?>(nil)

    init(_ inner: SecureWorld) { self.inner = inner }

    /// Arms `body` for yielding calls; it stays armed until it returns true.
    public func arm(_ body: @escaping @Sendable (RegisterFrame) -> Bool) { hook.withLock { $0 = body } }
    /// Disarms the hook.
    public func clearHook() { hook.withLock { $0 = nil } }

    /// Runs the hook (if armed and the call is yielding), then the real secure world.
    public func smc(_ frame: RegisterFrame) -> RegisterFrame {
        if !frame.function.isFast, let h = hook.withLock({ $0 }) {
            if h(frame) { hook.withLock { $0 = nil } }
        }
        return inner.smc(frame)
    }
}

/// A fresh machine for one scenario: secure world with the built-in TAs, mediator, platform,
/// an attacker guest (id 0) and a victim guest (id 1), both raw.
public final class AttackBed: Sendable {
    /// Physical memory.
    public let memory = PhysicalMemory()
    /// The secure world behind its hook.
    public let secure: HookedSecureWorld
    /// The mediator under attack.
    public let mediator: Mediator
    /// The platform both guests trap into.
    public let platform: Platform
    /// The attacking guest.
    public let attacker: RawGuest
    /// The guest that must stay unaffected.
    public let victim: RawGuest
    let initialFreePages: Int
    let extraGuests = Mutex<[RawGuest]>([])

    /// A fresh machine with two raw guests of `guestPages` pages each (fuzz targets build their own).
    public init(config: MediatorConfig = MediatorConfig(), guestPages: Int = 64) throws {
        var c = config
        c.maxGuests = 4
        secure = HookedSecureWorld(SecureWorld(memory: memory, config: SecureWorldConfig(), tas: BuiltinTAs.all))
        mediator = try Mediator(memory: memory, secureWorld: secure, config: c)
        platform = try makeMediatedPlatform(mediator: mediator)
        initialFreePages = mediator.freeMediatorPages
        let a = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: guestPages, layout: .scattered(seed: 11))
        let v = try GuestAddressSpace(memory: memory, id: GuestID(1), pages: guestPages, layout: .scattered(seed: 12))
        try mediator.addGuest(a)
        try mediator.addGuest(v)
        attacker = RawGuest(space: a, platform: platform)
        victim = RawGuest(space: v, platform: platform)
    }

    /// Adds another raw guest (for scenarios that need more than two).
    public func addGuest(_ id: UInt32, pages: Int = 64) throws -> RawGuest {
        let s = try GuestAddressSpace(memory: memory, id: GuestID(id), pages: pages, layout: .scattered(seed: UInt64(id) + 20))
        try mediator.addGuest(s)
        let g = RawGuest(space: s, platform: platform)
        extraGuests.withLock { $0.append(g) }
        return g
    }

    var allGuests: [RawGuest] { [attacker, victim] + extraGuests.withLock { $0 } }

    // MARK: - Client-side helpers (raw frames, as a hostile kernel would write them)

    /// OPEN_SESSION on vtee.test (public login); the session id, or nil with the SMC/ret seen.
    public func open(_ g: RawGuest, page: Int = 0, ta: TEEUUID = TestTA.uuid) -> (session: UInt32?, ret: TEEResult?, detail: String) {
        let meta = OpenSessionMeta(ta: ta, client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
        let (out, arg) = g.call(MsgArg(cmd: .openSession, params: meta.params), page: page)
        guard out.a0 == 0, let a = arg else { return (nil, nil, "smc \(smcName(out.a0))") }
        return a.ret == .success ? (a.session, a.ret, "ok") : (nil, a.ret, "ret \(retName(a.ret))")
    }

    /// INVOKE of a vtee.test command with raw params, no RPC served.
    public func invoke(_ g: RawGuest, session: UInt32, _ cmd: TestTA.Command, _ params: [MsgParam], page: Int = 1) -> (RegisterFrame, MsgArg?) {
        g.call(MsgArg(cmd: .invokeCommand, function: cmd.rawValue, session: session, params: params), page: page)
    }

    /// INVOKE that serves RPCs like a driver (ALLOC from `allocPage`).
    public func invokeServing(_ g: RawGuest, session: UInt32, _ cmd: TestTA.Command, _ params: [MsgParam], page: Int = 1,
                              allocPage: Int = 40, vcpu: Int = 0,
                              onRPC: (RegisterFrame, inout RegisterFrame) -> Void = { _, _ in }) -> (RegisterFrame, MsgArg?) {
        let arg = MsgArg(cmd: .invokeCommand, function: cmd.rawValue, session: session, params: params)
        guard (try? g.write(arg, page: page)) != nil else { return (RegisterFrame(a0: .max), nil) }
        let out = g.serveRPCs(g.callWithArg(g.ipa(page), vcpu: vcpu), allocPage: allocPage, shmListPage: allocPage + 1,
                              shmPages: [allocPage + 2, allocPage + 3], vcpu: vcpu, onRPC: onRPC)
        return (out, g.readArg(page: page, numParams: params.count))
    }

    /// CLOSE_SESSION; the ret.
    @discardableResult
    public func close(_ g: RawGuest, _ session: UInt32, page: Int = 0) -> TEEResult? {
        g.call(MsgArg(cmd: .closeSession, session: session), page: page).1?.ret
    }

    /// REGISTER_SHM of RAM pages `data` (list at `listPage`) under `cookie`; the ret.
    public func register(_ g: RawGuest, cookie: UInt64, data: [Int], listPage: Int, page: Int = 0) -> (RegisterFrame, TEEResult?) {
        guard let ptr = try? g.pageList(listPage: listPage, entries: g.pages(data)) else { return (RegisterFrame(a0: .max), nil) }
        let (out, a) = g.call(MsgArg(cmd: .registerSHM, params: [.tmem(.tmemOutput, bufPtr: ptr, size: UInt64(data.count * pageSize),
                                                                      shmRef: cookie, noncontig: true)]), page: page)
        return (out, a?.ret)
    }

    /// The NOP_VALUES params (4 x VALUE_INOUT).
    public static func nopParams(_ base: UInt64 = 1) -> [MsgParam] {
        (0..<4).map { .value(.valueInout, a: base + UInt64($0), b: 100) }
    }

    // MARK: - Invariants

    /// Live-state invariants: no call left open, pins only where the mediator accounts for them,
    /// and mediator and secure world agree on sessions, buffers and busy threads.
    public func checkInvariants() -> [String] {
        var problems: [String] = []
        for g in allGuests {
            guard let m = mediator.stats(g.id) else { continue }
            let s = secure.inner.stats(clientID: g.id.clientID)
            if m.callsInFlight != 0 { problems.append("\(g.id): \(m.callsInFlight) calls left in mediator") }
            if g.space.pinnedPages != m.pinnedPages { problems.append("\(g.id): \(g.space.pinnedPages) pins vs \(m.pinnedPages) accounted") }
            guard let s else { problems.append("\(g.id): secure world lost the client"); continue }
            if s.threadsBusy != 0 || s.threadsSuspended != 0 { problems.append("\(g.id): \(s.threadsBusy) secure threads busy") }
            if s.sessions != m.sessions { problems.append("\(g.id): sessions mediator \(m.sessions) secure \(s.sessions)") }
            if s.registeredSHM != m.shmBuffers { problems.append("\(g.id): shm mediator \(m.shmBuffers) secure \(s.registeredSHM)") }
            if m.rpcBuffers != 0 { problems.append("\(g.id): \(m.rpcBuffers) RPC buffers left") }
        }
        return problems
    }

    /// Destroys every guest and checks nothing at all is left: pins, mediator state and pages,
    /// secure-world clients.
    public func teardownAndCheck() -> [String] {
        var problems: [String] = []
        for g in allGuests { mediator.destroyGuest(g.id) }
        for g in allGuests {
            if g.space.pinnedPages != 0 { problems.append("\(g.id): \(g.space.pinnedPages) pins after destroy") }
            if mediator.stats(g.id) != nil { problems.append("\(g.id): mediator state after destroy") }
            if secure.inner.stats(clientID: g.id.clientID) != nil { problems.append("\(g.id): secure client after destroy") }
        }
        if mediator.freeMediatorPages != initialFreePages {
            problems.append("mediator pages leaked: \(initialFreePages - mediator.freeMediatorPages)")
        }
        return problems
    }
}

/// Runs `bodies` on their own threads and waits at most `timeout` for all of them.
func runConcurrently(_ bodies: [@Sendable () -> Void], timeout: Double = 20) -> Bool {
    let done = DispatchSemaphore(value: 0)
    for b in bodies {
        Thread.detachNewThread { b(); done.signal() }
    }
    for _ in bodies {
        guard done.wait(timeout: .now() + timeout) == .success else { return false }
    }
    return true
}

/// Short text for an SMC return in a0.
func smcName(_ a0: UInt64) -> String {
    let r = SMCReturn(rawValue: UInt32(truncatingIfNeeded: a0))
    return (r.name ?? hex(a0)).replacingOccurrences(of: "OPTEE_SMC_RETURN_", with: "")
}

/// Short text for a TEE result.
func retName(_ r: TEEResult?) -> String {
    guard let r else { return "no arg" }
    return (r.name ?? hex(r.rawValue)).replacingOccurrences(of: "TEE_ERROR_", with: "").replacingOccurrences(of: "TEE_", with: "")
}
