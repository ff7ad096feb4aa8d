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
}

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
        let s = try TransportServer(socketPath: config.socketPath, mode: config.socketMode, limits: limits,
                                    memory: stack.memory, delegate: delegate, logger: config.logger)
        server.withLock { $0 = s }
        admin = try AdminServer(path: config.adminPath, mode: config.socketMode, logger: config.logger)
        delegate.daemon.withLock { $0 = self }
        admin?.start { [weak self] command in self?.answer(command) ?? "{\"error\":\"stopping\"}" }
    }

    /// A guest finished its HELLO: map its RAM behind a stage-2 table, register it with the mediator.
    func attach(_ g: GuestHandle) -> AttachDecision {
        let space: GuestAddressSpace
        do { space = try GuestAddressSpace(memory: stack.memory, id: g.id, region: g.ram, layout: .linear) }
        catch { return .refuse("guest RAM: \(error)") }
        // Every guest process of one user shares that user's TA stores (its supplicant serves
        // <storage>/uid-<uid>); the secure world serializes their operations per store.
        stack.setStorageNamespace(g.id, "uid-\(g.credentials.uid)")
        do { try stack.mediator.addGuest(space, identity: Self.identityPolicy(g.credentials)) }
        catch { stack.setStorageNamespace(g.id, nil); return .refuse("mediator: \(error)") }
        guests.withLock { $0[g.id.raw] = DaemonGuest(space: space, credentials: g.credentials) }
        config.logger.info("guest attached", metadata: ["guest": "\(g.id.raw)", "peer": "\(g.credentials)"])
        let platform = stack.platform, id = g.id
        return .accept(ramBase: space.ramBase) { frame, vcpu in platform.trap(frame, guest: id, vcpu: vcpu) }
    }

    /// Client identities from the kernel's view of the guest process (SO_PEERCRED at accept), never
    /// from what the guest claims: USER is the peer's uid, GROUP its primary gid, APPLICATION the
    /// executable of its pid, hashed into UUIDv5 names as Linux does. Other logins are refused.
    static func identityPolicy(_ c: PeerCredentials) -> ClientIdentityPolicy {
        let (uid, gid, app) = (c.uid, c.gid, executablePath(pid: c.pid))
        return { login in ClientIdentity.uuid(for: login, uid: uid, gid: gid, application: app) }
    }

    /// The executable of `pid` as the kernel reports it (/proc/PID/exe), or "pid=<pid>".
    static func executablePath(pid: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        guard n > 0 else { return "pid=\(pid)" }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A guest is gone (BYE, death, protocol violation, shutdown): reclaim everything it held.
    func detach(_ id: GuestID, reason: DetachReason) {
        stack.mediator.destroyGuest(id)
        stack.setStorageNamespace(id, nil)
        guests.withLock { _ = $0.removeValue(forKey: id.raw) }
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

    /// Answers one admin command.
    func answer(_ command: String) -> String {
        switch command.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "stats": return statsJSON()
        case "config": return jsonString(["storage": config.storage, "socket": config.socketPath, "threads": config.threads,
                                          "max_guests": config.maxGuests])
        default: return jsonString(["error": "unknown command; try stats or config"])
        }
    }

    /// Daemon-wide and per-guest figures as the `vtee stats --json` document.
    public func statsJSON() -> String { jsonString(statsObject()) }

    /// The stats document as a dictionary.
    public func statsObject() -> [String: Any] {
        let current = guests.withLock { $0 }
        var rows: [[String: Any]] = []
        var totals = ["guests": 0, "calls_in_flight": 0, "sessions": 0, "shm_buffers": 0, "pinned_pages": 0]
        var rpcs: [String: Int] = [:]
        var busy = 0
        for (id, g) in current.sorted(by: { $0.key < $1.key }) {
            let gid = GuestID(id)
            guard let m = stack.mediator.stats(gid) else { continue }
            let sw = stack.secureWorld.stats(clientID: gid.clientID)
            busy += (sw?.threadsBusy ?? 0) + (sw?.threadsSuspended ?? 0)
            rows.append(["id": Int(id), "pid": Int(g.credentials.pid), "uid": Int(g.credentials.uid),
                         "calls_in_flight": m.callsInFlight + m.callsSuspended, "sessions": m.sessions,
                         "shm_buffers": m.shmBuffers, "pinned_pages": m.pinnedPages, "mediator_bytes": m.mediatorBytes,
                         "secure_sessions": sw?.sessions ?? 0])
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
        return ["guests": rows, "totals": totals, "secure_threads_busy": busy, "rpcs": rpcs, "errors": errors,
                "detached": detachReasons.withLock { $0 }]
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
    if let e = obj["errors"] as? [String: Int], !e.isEmpty {
        out.append("errors: " + e.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
    return out.joined(separator: "\n")
}
