import ArgumentParser
import Dispatch
import Foundation
import SignedTA
import TEEABI
import VTEEDaemon
import VTEEDemo

/// `vtee serve`: the daemon. Runs until SIGTERM or SIGINT, then shuts down cleanly.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve guest processes on a Unix socket.")
    @Option(help: "Guest socket path.") var socket: String
    @Option(help: "Storage root advertised to guests (each uid stores under <storage>/uid-<uid>).") var storage: String?
    @Option(help: "Secure threads per guest VM.") var threads: Int = 8
    @Option(name: .customLong("max-guests"), help: "Most guests at once.") var maxGuests: Int = 64
    @Option(name: .customLong("socket-mode"), help: "Octal mode of the socket files.") var socketMode: String = "600"
    @Option(help: "Serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9464).") var metrics: String?
    @Option(name: .customLong("max-guests-per-user"), help: "Most guests one uid may attach.") var maxGuestsPerUser: Int = 16
    @Option(name: .customLong("max-secure-threads-per-user"), help: "Most secure threads one uid's guests may hold.") var maxSecureThreadsPerUser: Int = 32
    @Option(name: .customLong("idle-timeout"), help: "Detach a guest after this many seconds without a call (0: never).") var idleTimeout: Int = 0
    @Option(name: .customLong("ta-key"), help: "PEM public key loaded TAs must be signed with (default: vtee's development key, development only).")
    var taKey: String?
    @Flag(help: "Log at debug level.") var verbose = false

    func validate() throws {
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1...64") }
        guard (1...4096).contains(maxGuests) else { throw ValidationError("--max-guests must be 1...4096") }
        guard maxGuestsPerUser >= 1, maxSecureThreadsPerUser >= 1, idleTimeout >= 0 else {
            throw ValidationError("--max-guests-per-user and --max-secure-threads-per-user must be at least 1, --idle-timeout not negative")
        }
        guard UInt32(socketMode, radix: 8) != nil else { throw ValidationError("--socket-mode must be octal, e.g. 600") }
        if let m = metrics { guard Self.hostPort(m) != nil else { throw ValidationError("--metrics must be HOST:PORT") } }
    }

    static func hostPort(_ s: String) -> (String, UInt16)? {
        guard let i = s.lastIndex(of: ":"), let p = UInt16(s[s.index(after: i)...]) else { return nil }
        return (String(s[..<i]), p)
    }

    func run() throws {
        var cfg = DaemonConfig(socketPath: socket, storage: storage ?? DemoDefaults.daemonStorageDirectory)
        cfg.threads = threads
        cfg.maxGuests = maxGuests
        cfg.maxGuestsPerUser = maxGuestsPerUser
        cfg.maxSecureThreadsPerUser = maxSecureThreadsPerUser
        cfg.idleTimeout = idleTimeout > 0 ? .seconds(idleTimeout) : nil
        cfg.socketMode = UInt32(socketMode, radix: 8) ?? 0o600
        cfg.logger.logLevel = verbose ? .debug : .info
        cfg.taKey = try loadTAKey(taKey)
        if cfg.taKey?.isDevelopmentKey == true {
            cfg.logger.warning("TA signing: trusting vtee's DEVELOPMENT key (public, DEVELOPMENT ONLY): any TA signed with keys/default_ta.pem loads; pass --ta-key with your own public key")
        }
        if cfg.taRunner == nil {
            cfg.logger.warning("vtee-ta-host not found (VTEE_TA_HOST or beside vtee): loaded C TAs cannot run")
        }
        let daemon = try Daemon(config: cfg)
        var http: MetricsHTTPServer?
        if let m = metrics, let (host, port) = Self.hostPort(m) {
            http = try MetricsHTTPServer(host: host, port: port, metrics: DaemonMetrics(daemon: daemon), logger: cfg.logger)
        }
        let done = DispatchSemaphore(value: 0)
        signal(SIGTERM, SIG_IGN); signal(SIGINT, SIG_IGN); signal(SIGPIPE, SIG_IGN)
        let q = DispatchQueue(label: "vtee.signals")
        let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: q)
            s.setEventHandler { done.signal() }
            s.resume()
            return s
        }
        print("vtee serve: listening on \(socket) (admin \(cfg.adminPath)), storage \(cfg.storage), \(threads) secure threads per guest")
        fflush(nil)
        done.wait()
        print("vtee serve: shutting down")
        http?.stop()
        daemon.stop()
        withExtendedLifetime(sources) {}
        print("vtee serve: stopped")
    }
}

/// `vtee client`: runs the demo's workloads as a separate guest process of a daemon.
struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "client", abstract: "Run a workload as a guest process of a daemon.")
    @Option(help: "Daemon socket (default $VTEE_SOCKET).") var socket: String?
    @Option(help: "Workload: \(clientWorkloads.joined(separator: ", ")).") var workload: String = "all"
    @Option(help: "Rounds.") var count: Int = 1
    @Option(name: .customLong("ta-dir"), help: "Directory this guest's supplicant loads <uuid>.ta from (default $VTEE_TA_DIR or <data>/vtee/ta).")
    var taDir: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard clientWorkloads.contains(workload) else { throw ValidationError("unknown workload \(workload); one of \(clientWorkloads.joined(separator: ", "))") }
        guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1...100000") }
    }

    func run() throws {
        guard let path = socket ?? ProcessInfo.processInfo.environment["VTEE_SOCKET"] else { throw ValidationError("--socket or VTEE_SOCKET is required") }
        if let d = taDir { setenv("VTEE_TA_DIR", d, 1) }
        let r = try runClient(socket: path, workload: workload, count: count)
        if json { print(r.json) } else {
            for (i, round) in r.guestSteps.enumerated() {
                for s in round { print("round \(i + 1)  \(s.ok ? "ok    " : "FAILED")  \(s.name)  \(s.detail)") }
            }
            let slow = r.supplicantWithdrawn + r.supplicantOverdue > 0
                ? " (supplicant: \(r.supplicantWithdrawn) request(s) withdrawn unserved, \(r.supplicantOverdue) served past the bound)" : ""
            print("\(r.calls) std calls, \(r.rpcs) RPCs: \(r.ok ? "all steps ok" : "FAILED")\(slow)")
        }
        if !r.ok { throw ExitCode.failure }
    }
}

/// `vtee invoke`: one call for scripting.
struct InvokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "invoke", abstract: "Invoke one TA command through a daemon.")
    @Option(help: "Daemon socket (default $VTEE_SOCKET).") var socket: String?
    @Option(help: "TA UUID.") var uuid: String
    @Option(help: "Command id.") var cmd: UInt32
    @Option(help: "Up to four params in order: none, value-in:A,B, value-out, value-inout:A,B, in:HEX, out:SIZE, inout:HEX.")
    var param: [String] = []
    @Option(name: .customLong("ta-dir"), help: "Directory this guest's supplicant loads <uuid>.ta from (default $VTEE_TA_DIR or <data>/vtee/ta).")
    var taDir: String?

    func run() throws {
        guard let path = socket ?? ProcessInfo.processInfo.environment["VTEE_SOCKET"] else { throw ValidationError("--socket or VTEE_SOCKET is required") }
        guard param.count <= 4 else { throw ValidationError("at most four --param") }
        if let d = taDir { setenv("VTEE_TA_DIR", d, 1) }
        let ps = try param.map { s throws -> InvokeParam in
            guard let p = InvokeParam(s) else { throw ValidationError("bad --param \(s)") }
            return p
        }
        let id: TEEUUID
        do { id = try TEEUUID(uuid) } catch { throw ValidationError("bad --uuid: \(error)") }
        print(try invokeOnce(socket: path, uuid: id, command: cmd, params: ps))
    }
}

/// `vtee stats`: daemon-wide and per-guest figures.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show a daemon's guests, calls, memory and errors.")
    @Option(help: "Daemon socket (default $VTEE_SOCKET).") var socket: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Redraw every second until interrupted.") var watch = false

    func run() throws {
        guard let path = socket ?? ProcessInfo.processInfo.environment["VTEE_SOCKET"] else { throw ValidationError("--socket or VTEE_SOCKET is required") }
        repeat {
            let line = try adminQuery(socketPath: path, command: "stats")
            if json { print(line) } else {
                if watch { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                print(renderStats(line))
            }
            fflush(nil)
            if watch { sleep(1) }
        } while watch
    }
}

/// Reads `--ta-key` (a PEM public key, or a private key whose public half is used); nil: the development key.
func loadTAKey(_ path: String?) throws -> TAVerificationKey {
    guard let path else { return try TAVerificationKey.development }
    guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read --ta-key \(path)") }
    return try TAVerificationKey(pem: pem)
}
