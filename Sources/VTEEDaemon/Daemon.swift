/// The daemon: one platform + mediator + secure world serving guest processes that attach over
/// a Unix socket (Transport). Each guest's RAM is its own memfd, mapped behind a stage-2 table
/// here; its vCPUs trap through mailboxes into the platform. An admin socket beside the guest
/// socket answers `stats` and `config` queries with one JSON line.
import VTEEKit
import CShim
import Foundation
import Logging
import Machine
import Mediator
import Platform
import SecureWorld
import Synchronization
import SignedTA
import TEEABI
import TEEClient
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// How to run a daemon.
public struct DaemonConfig: Sendable {
    /// The guests' socket.
    public var socketPath: String
    /// Mode of the socket files (0600 by default: only the owner's processes may attach).
    public var socketMode: UInt32 = 0o600
    /// Storage root advertised to guests: each uid's supplicant stores under `<storage>/uid-<uid>`.
    public var storage: String
    /// The secure world's private state (device key, rollback counters); nil: `<storage>.secure`.
    /// One daemon at a time may use it.
    public var secureState: String? = nil
    /// Secure threads per guest VM.
    public var threads = 8
    /// Most guests at once.
    public var maxGuests = 64
    /// Most guests one user (uid) may have attached at once.
    public var maxGuestsPerUser = 16
    /// Most secure threads one user's guests may hold at once (running or suspended in an RPC);
    /// a std call past it is answered ETHREAD_LIMIT (the guest driver waits and retries).
    public var maxSecureThreadsPerUser = 32
    /// Most connections in their handshake, in all and per user (the oldest gives way).
    public var maxHandshaking = 16, maxHandshakingPerUser = 4
    /// Most vCPU server threads, in all and per user.
    public var maxVCPUThreads = 256, maxVCPUsPerUser = 64
    /// A guest with no call for this long is detached; nil: never.
    public var idleTimeout: Duration?
    /// Logger of every layer.
    public var logger = Logger(label: "vtee.daemon")
    /// The key TA images must be signed with (`--ta-key`); default: the development key.
    public var taKey: TAVerificationKey? = try? TAVerificationKey.development
    /// Runs the ELF of a verified TA image; default: the TA process runner (`defaultTARunner`); nil: loaded TAs cannot run.
    public var taRunner: (@Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor)? = defaultTARunner
    /// A config serving on `socketPath` with storage under `storage`.
    public init(socketPath: String, storage: String) { self.socketPath = socketPath; self.storage = storage }
    /// The admin socket's path: the guest socket's path plus ".admin".
    public var adminPath: String { socketPath + ".admin" }
}

/// One attached guest process.
struct DaemonGuest: Sendable {
    let space: GuestAddressSpace
    let credentials: PeerCredentials
    let budget: UserBudget
    let threads: GuestThreads
}

/// What one user's guests hold together: secure threads in use, and how many of its attached
/// guests hold none (lock-free on the call path). Fairness between the user's guests: every
/// attached guest holding no thread keeps one of the user's threads reserved, so a guest issuing
/// calls back to back can take all but those and never starves another guest's next call.
final class UserBudget: Sendable {
    let secureThreads = Atomic<Int>(0)
    /// Attached guests of this user holding no secure thread (each keeps one reserved).
    let idleGuests = Atomic<Int>(0)

    /// A guest of this user attached (it holds nothing yet).
    func attach() { idleGuests.wrappingAdd(1, ordering: .relaxed) }
    /// A guest that held `held` threads detached: they are free again.
    func detach(held: Int) {
        if held > 0 { secureThreads.wrappingSubtract(held, ordering: .relaxed) } else { idleGuests.wrappingSubtract(1, ordering: .relaxed) }
    }

    /// Takes a secure thread for a guest holding `mine`: when fewer than `limit` are in use, minus
    /// one reserved for each other guest holding none (a guest holding none uses its own reserve).
    func take(limit: Int, mine: Int = 0) -> Bool {
        let reserved = mine == 0 ? 0 : min(max(0, idleGuests.load(ordering: .relaxed)), limit)
        var cur = secureThreads.load(ordering: .relaxed)
        while cur < limit - reserved {
            let (done, now) = secureThreads.compareExchange(expected: cur, desired: cur + 1, ordering: .acquiringAndReleasing)
            if done { return true }
            cur = now
        }
        return false
    }
}

/// Std calls answered ETHREAD_LIMIT because their user held its share of secure threads.
final class ThrottleCounter: Sendable { let throttled = Atomic<Int>(0) }

/// Secure threads one guest holds (given back to its user's budget when it detaches).
final class GuestThreads: Sendable { let held = Atomic<Int>(0) }

/// A running daemon. `stop()` stops accepting, detaches every guest (their calls finish or are
/// aborted within the transport's bound), reclaims everything and removes the socket files.
public final class Daemon: Sendable {
    /// How it was started.
    public let config: DaemonConfig
    /// The machine it serves guests from.
    public let stack: VTEEStack
    private let guests = Mutex<[UInt32: DaemonGuest]>([:])
    private let server = Mutex<TransportServer?>(nil)
    private let admin: AdminServer?
    private let detachReasons = Mutex<[String: Int]>([:])
    private let budgets = Mutex<[UInt32: UserBudget]>([:])
    private let throttle = ThrottleCounter()

    /// Builds the machine, listens on the guest socket and the admin socket.
    public init(config: DaemonConfig) throws {
        self.config = config
        var sc = StackConfig()
        sc.secureThreadsPerVM = config.threads
        sc.maxGuests = config.maxGuests
        sc.storageRoot = config.storage
        sc.secureStateDirectory = config.secureState
        sc.logger = config.logger
        sc.taKey = config.taKey
        sc.taRunner = config.taRunner
        sc.mediator.maxGuests = config.maxGuests
        stack = try VTEEStack(config: sc)
        try stack.deviceState.lock()
        try FileManager.default.createDirectory(atPath: config.storage, withIntermediateDirectories: true)
        let delegate = DaemonDelegate()
        var limits = TransportLimits()
        limits.maxGuests = config.maxGuests
        limits.firstGuestID = 0
        limits.maxGuestsPerUser = config.maxGuestsPerUser
        limits.maxHandshaking = config.maxHandshaking
        limits.maxHandshakingPerUser = config.maxHandshakingPerUser
        limits.maxVCPUThreads = config.maxVCPUThreads
        limits.maxVCPUsPerUser = config.maxVCPUsPerUser
        limits.idleTimeout = config.idleTimeout
        let s = try TransportServer(socketPath: config.socketPath, mode: config.socketMode, limits: limits,
                                    memory: stack.memory, delegate: delegate, logger: config.logger)
        server.withLock { $0 = s }
        admin = try AdminServer(path: config.adminPath, mode: config.socketMode, logger: config.logger)
        delegate.daemon.withLock { $0 = self }
        admin?.start { [weak self] command, asker in self?.answer(command, asker: asker) ?? "{\"error\":\"stopping\"}" }
    }

    /// A guest finished its HELLO: map its RAM behind a stage-2 table, register it with the mediator.
    func attach(_ g: GuestHandle) -> AttachDecision {
        let space: GuestAddressSpace
        do { space = try GuestAddressSpace(memory: stack.memory, id: g.id, region: g.ram, layout: .linear) }
        catch { return .refuse("guest RAM: \(error)") }
        // Every guest process of one user shares that user's TA stores (its supplicant serves
        // <storage>/uid-<uid>); the secure world serializes their operations per store.
        stack.setStorageNamespace(g.id, "uid-\(g.credentials.uid)")
        do { try stack.mediator.addGuest(space, identity: Self.identityPolicy(g.credentials, executable: g.executable)) }
        catch { stack.setStorageNamespace(g.id, nil); return .refuse("mediator: \(error)") }
        let budget = budgets.withLock { b in
            if let u = b[g.credentials.uid] { return u }
            let u = UserBudget(); b[g.credentials.uid] = u; return u
        }
        let held = GuestThreads()
        budget.attach()
        guests.withLock { $0[g.id.raw] = DaemonGuest(space: space, credentials: g.credentials, budget: budget, threads: held) }
        config.logger.info("guest attached", metadata: ["guest": "\(g.id.raw)", "peer": "\(g.credentials)",
                                                        "exe": "\(g.executable ?? "-")"])
        let platform = stack.platform, id = g.id, limit = config.maxSecureThreadsPerUser, throttle = self.throttle
        return .accept(ramBase: space.ramBase) { frame, vcpu in
            Self.trap(frame, guest: id, vcpu: vcpu, platform: platform, budget: budget, held: held, limit: limit, throttle: throttle)
        }
    }

    /// One trap, with the user's secure-thread budget: a std call takes a thread (or is answered
    /// ETHREAD_LIMIT when the user's guests hold `limit`); the thread is given back when the call
    /// completes, and kept while it is suspended in an RPC.
    static func trap(_ frame: RegisterFrame, guest: GuestID, vcpu: Int, platform: Platform, budget: UserBudget,
                     held: GuestThreads, limit: Int, throttle: ThrottleCounter) -> RegisterFrame {
        let fn = frame.function
        let std = fn == .callWithArg || fn == .callWithRPCArg || fn == .callWithRegdArg
        if std {
            guard budget.take(limit: limit, mine: held.held.load(ordering: .relaxed)) else {
                throttle.throttled.wrappingAdd(1, ordering: .relaxed)
                return RegisterFrame(a0: UInt64(SMCReturn.ethreadLimit.rawValue))
            }
            if held.held.wrappingAdd(1, ordering: .relaxed).oldValue == 0 { budget.idleGuests.wrappingSubtract(1, ordering: .relaxed) }
        }
        let out = platform.trap(frame, guest: guest, vcpu: vcpu)
        guard std || fn == .returnFromRPC else { return out }
        let ret = SMCReturn(rawValue: UInt32(truncatingIfNeeded: out.a0))
        // Still holding the thread: suspended in an RPC. A refused resume never held one.
        if ret.isRPC || (fn == .returnFromRPC && ret == .eresume) { return out }
        // Give back one thread, never more than this guest holds.
        var cur = held.held.load(ordering: .relaxed)
        while cur > 0 {
            let (done, now) = held.held.compareExchange(expected: cur, desired: cur - 1, ordering: .acquiringAndReleasing)
            if done {
                budget.secureThreads.wrappingSubtract(1, ordering: .relaxed)
                if cur == 1 { budget.idleGuests.wrappingAdd(1, ordering: .relaxed) }
                break
            }
            cur = now
        }
        return out
    }

    /// Client identities from the kernel's view of the process that sent HELLO (the transport
    /// reads them when HELLO arrives), never from what the guest claims: USER is its effective
    /// uid, GROUP its effective gid, APPLICATION its executable, hashed into UUIDv5 names as Linux
    /// does. An executable the kernel would not name makes the APPLICATION logins refused (nil),
    /// never a guessable name. Other logins are refused.
    static func identityPolicy(_ c: PeerCredentials, executable: String?) -> ClientIdentityPolicy {
        let (uid, gid) = (c.uid, c.gid)
        return { login in ClientIdentity.uuid(for: login, uid: uid, gid: gid, application: executable) }
    }

    /// The policy for a live process `c.pid`, its executable read now (tests and tools).
    static func identityPolicy(_ c: PeerCredentials) -> ClientIdentityPolicy {
        identityPolicy(c, executable: executablePath(pid: c.pid))
    }

    /// The executable of `pid` as the kernel reports it (/proc/PID/exe), or nil.
    static func executablePath(pid: Int32) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A guest is gone (BYE, death, protocol violation, shutdown): reclaim everything it held.
    func detach(_ id: GuestID, reason: DetachReason) {
        stack.mediator.destroyGuest(id)
        stack.setStorageNamespace(id, nil)
        if let g = guests.withLock({ $0.removeValue(forKey: id.raw) }) {
            // Its secure threads are free again: give them back to its user.
            g.budget.detach(held: g.threads.held.exchange(0, ordering: .acquiringAndReleasing))
        }
        detachReasons.withLock { $0["\(reason)", default: 0] += 1 }
        config.logger.info("guest detached", metadata: ["guest": "\(id.raw)", "reason": "\(reason)"])
    }

    /// Stops accepting, detaches every guest, removes both sockets. Idempotent.
    public func stop() {
        let s = server.withLock { s -> TransportServer? in defer { s = nil }; return s }
        _ = s?.stop()
        admin?.stop()
        let left = guests.withLock { g -> [UInt32] in Array(g.keys) }
        for id in left { detach(GuestID(id), reason: .serverStopping) }
        unlink(config.socketPath)
        stack.deviceState.unlock()
    }

    /// Whether `asker` may see every guest: the daemon's owner or root.
    func seesAll(_ asker: PeerCredentials?) -> Bool {
        guard let a = asker else { return true }
        return a.uid == 0 || a.uid == getuid()
    }

    /// Answers one admin command from `asker` (SO_PEERCRED of the admin connection; nil: the
    /// daemon itself): others than the owner and root see only their own guests.
    func answer(_ command: String, asker: PeerCredentials? = nil) -> String {
        switch command.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "stats": return jsonString(statsObject(viewer: seesAll(asker) ? nil : asker?.uid))
        case "config": return jsonString(["storage": config.storage, "socket": config.socketPath, "threads": config.threads,
                                          "max_guests": config.maxGuests])
        default: return jsonString(["error": "unknown command; try stats or config"])
        }
    }

    /// Daemon-wide and per-guest figures as the `vtee stats --json` document.
    public func statsJSON() -> String { jsonString(statsObject()) }

    /// The limits in force, for `vtee stats`.
    public func limitsObject() -> [String: Any] {
        var l: [String: Any] = [
            "max_guests": config.maxGuests, "max_guests_per_user": config.maxGuestsPerUser,
            "max_handshaking": config.maxHandshaking, "max_handshaking_per_user": config.maxHandshakingPerUser,
            "max_vcpu_threads": config.maxVCPUThreads, "max_vcpus_per_user": config.maxVCPUsPerUser,
            "max_secure_threads_per_user": config.maxSecureThreadsPerUser, "secure_threads_per_guest": config.threads,
            "secure_threads_reserved_per_idle_guest": 1,
        ]
        if let t = config.idleTimeout { l["idle_timeout_s"] = Double(t.components.seconds) + Double(t.components.attoseconds) / 1e18 }
        return l
    }

    /// The stats document as a dictionary: everything (`viewer` nil), or only the guests of
    /// user `viewer` and no daemon-wide counters.
    public func statsObject(viewer: UInt32? = nil) -> [String: Any] {
        let current = guests.withLock { g in viewer.map { v in g.filter { $0.value.credentials.uid == v } } ?? g }
        var rows: [[String: Any]] = []
        var totals = ["guests": 0, "calls_in_flight": 0, "sessions": 0, "shm_buffers": 0, "pinned_pages": 0]
        var rpcs: [String: Int] = [:]
        var busy = 0
        let suppliers = server.withLock { $0?.sharedSupplicantGuests } ?? []
        for (id, g) in current.sorted(by: { $0.key < $1.key }) {
            let gid = GuestID(id)
            guard let m = stack.mediator.stats(gid) else { continue }
            let sw = stack.secureWorld.stats(clientID: gid.clientID)
            busy += (sw?.threadsBusy ?? 0) + (sw?.threadsSuspended ?? 0)
            rows.append(["id": Int(id), "pid": Int(g.credentials.pid), "uid": Int(g.credentials.uid),
                         "calls_in_flight": m.callsInFlight + m.callsSuspended, "sessions": m.sessions,
                         "shm_buffers": m.shmBuffers, "pinned_pages": m.pinnedPages, "mediator_bytes": m.mediatorBytes,
                         "secure_sessions": sw?.sessions ?? 0, "shared_supplicant": suppliers.contains(id)])
            totals["guests", default: 0] += 1
            totals["calls_in_flight", default: 0] += m.callsInFlight + m.callsSuspended
            totals["sessions", default: 0] += m.sessions
            totals["shm_buffers", default: 0] += m.shmBuffers
            totals["pinned_pages", default: 0] += m.pinnedPages
        }
        let c = stack.secureWorld.counters
        // RPCs since the daemon started, by kind: the secure world's RPC functions (alloc, free,
        // foreign_intr) and, for RPC_CMD, its commands (cmd:get_time, cmd:fs, ...).
        for (f, n) in c.rpcFunctions where f != .cmd {
            rpcs[(f.name.map { String($0.dropFirst("OPTEE_SMC_RPC_FUNC_".count)).lowercased() }) ?? hex(f.rawValue), default: 0] += n
        }
        for (cmd, n) in c.rpcCommands { rpcs["cmd:" + cmd.shortName, default: 0] += n }
        var errors: [String: Int] = [:]
        for (k, v) in c.smcErrors { errors[k.name ?? hex(k.rawValue)] = v }
        for (k, v) in c.teeErrors { errors[k.name ?? hex(k.rawValue), default: 0] += v }
        let e = stack.mediator.errors
        for (k, v) in [("mediator_bad_address", e.badAddress), ("mediator_bad_command", e.badCommand),
                       ("mediator_bad_parameters", e.badParameters), ("mediator_limit_reached", e.limitReached),
                       ("mediator_resume_rejected", e.resumeRejected), ("mediator_rpc_rejected", e.rpcRejected)] where v > 0 {
            errors[k] = v
        }
        if viewer != nil { return ["guests": rows, "totals": totals, "limits": limitsObject()] }
        let t = server.withLock { $0?.stats }
        var admission: [String: Any] = ["secure_threads_throttled": throttle.throttled.load(ordering: .relaxed)]
        if let t {
            admission["handshaking"] = t.handshaking; admission["vcpu_threads"] = t.vcpuThreads; admission["rejected"] = t.rejected
        }
        return ["guests": rows, "totals": totals, "secure_threads_busy": busy, "rpcs": rpcs, "errors": errors,
                "detached": detachReasons.withLock { $0 }, "limits": limitsObject(), "admission": admission]
    }
}

/// Forwards transport events to the daemon (set once the daemon exists).
final class DaemonDelegate: TransportServerDelegate {
    let daemon = Mutex<Daemon?>(nil)
    func guestAttached(_ guest: GuestHandle) -> AttachDecision {
        guard let d = daemon.withLock({ $0 }) else { return .refuse("daemon starting") }
        return d.attach(guest)
    }
    func guestDetached(_ id: GuestID, reason: DetachReason) { daemon.withLock { $0 }?.detach(id, reason: reason) }
}

/// Renders a stats JSON line as a table for people.
public func renderStats(_ line: String) -> String {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return line }
    var out: [String] = []
    let t = obj["totals"] as? [String: Any] ?? [:]
    out.append("guests \(t["guests"] ?? 0)  calls in flight \(t["calls_in_flight"] ?? 0)  sessions \(t["sessions"] ?? 0)  "
               + "shm \(t["shm_buffers"] ?? 0)  pinned pages \(t["pinned_pages"] ?? 0)  secure threads busy \(obj["secure_threads_busy"] ?? 0)")
    out.append("")
    out.append("guest     pid  calls  sessions  shm  pinned  mediator bytes")
    for g in obj["guests"] as? [[String: Any]] ?? [] {
        func f(_ k: String, _ w: Int) -> String { let s = "\(g[k] ?? 0)"; return String(repeating: " ", count: max(0, w - s.count)) + s }
        out.append(f("id", 5) + f("pid", 8) + f("calls_in_flight", 7) + f("sessions", 10) + f("shm_buffers", 5) + f("pinned_pages", 8) + f("mediator_bytes", 16))
    }
    if let r = obj["rpcs"] as? [String: Int], !r.isEmpty {
        out.append(""); out.append("rpcs: " + r.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
    if let l = obj["limits"] as? [String: Any], !l.isEmpty {
        out.append("limits: " + l.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
    if let a = obj["admission"] as? [String: Any], !a.isEmpty {
        out.append("admission: " + a.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
    if let e = obj["errors"] as? [String: Int], !e.isEmpty {
        out.append("errors: " + e.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
    return out.joined(separator: "\n")
}
