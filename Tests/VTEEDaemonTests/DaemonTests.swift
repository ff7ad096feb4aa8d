import CShim
import Foundation
import NormalWorld
import TEEABI
import TEEClient
import TEEClientRemote
import Testing
import Transport
import TrustedApps
@testable import VTEEDaemon
import VTEEDemo
#if canImport(Glibc)
import Glibc
#endif

/// The daemon serving real guest processes (the `vtee` binary built beside the tests).
@Suite(.serialized) struct DaemonTests {
    static func tempDir() -> String {
        // Unix socket paths are short: keep the directory under /tmp.
        let d = "/tmp/vtee-t-" + String(UUID().uuidString.prefix(8))
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// The `vtee` executable of this build (same directory as the test bundle).
    static var vteeBinary: String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        let me = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("vtee").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug/vtee"
    }

    static func spawn(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: vteeBinary)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Waits for `p` to exit, at most `seconds`; kills it past the bound. Returns its status.
    static func wait(_ p: Process, seconds: Double) -> Int32? {
        let exited = DispatchSemaphore(value: 0)
        Thread.detachNewThread { p.waitUntilExit(); exited.signal() }
        if exited.wait(timeout: .now() + .milliseconds(Int(seconds * 1000))) == .timedOut {
            kill(p.processIdentifier, SIGKILL); _ = exited.wait(timeout: .now() + .seconds(10)); return nil
        }
        return p.terminationStatus
    }

    /// Polls `cond`, yielding the CPU between looks, until true or `seconds` pass (a safety bound).
    static func eventually(_ seconds: Double, _ cond: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        let tick = DispatchSemaphore(value: 0)   // blocks 1 ms between looks: no CPU spun away
        while Date() < deadline { if cond() { return true }; _ = tick.wait(timeout: .now() + .milliseconds(1)) }
        return cond()
    }

    static func totals(_ d: Daemon) -> [String: Int] { d.statsObject()["totals"] as? [String: Int] ?? [:] }

    @Test func eightGuestProcessesRunWorkloadsConcurrently() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.vteeBinary), "build the vtee executable first (swift build)")
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let workloads = ["hello_world", "random", "hotp", "aes", "secure_storage", "rpc", "hello_world", "aes"]
        // Each process's output is kept, so a failure names what the failing guest printed.
        let procs = try workloads.enumerated().map { i, w in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.vteeBinary)
            p.arguments = ["client", "--socket", dir + "/s", "--workload", w, "--count", "2"]
            FileManager.default.createFile(atPath: dir + "/out-\(i)", contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: dir + "/out-\(i)")
            p.standardError = p.standardOutput
            try p.run()
            return p
        }
        let codes = procs.map { Self.wait($0, seconds: 120) }
        let failed = codes.indices.filter { codes[$0] != 0 }.map { i in
            "\(workloads[i]) (exit \(codes[i].map(String.init) ?? "killed")): " +
                ((try? String(contentsOfFile: dir + "/out-\(i)", encoding: .utf8)) ?? "").suffix(600)
        }
        #expect(failed.isEmpty, "exit codes \(codes); failed guests printed: \(failed)")
        #expect(Self.eventually(10) { Self.totals(d)["guests"] == 0 })
        let t = Self.totals(d)
        #expect(t["sessions"] == 0 && t["pinned_pages"] == 0 && t["shm_buffers"] == 0 && t["calls_in_flight"] == 0, "\(t)")
    }

    @Test func eightGuestProcessesOfOneUserStoreConcurrentlyAndAllSucceed() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        // Every process is this user's: one namespace, one store per TA, shared by all eight.
        let procs = try (0..<8).map { i in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.vteeBinary)
            p.arguments = ["client", "--socket", dir + "/s", "--workload", "secure_storage", "--count", "4"]
            FileManager.default.createFile(atPath: dir + "/out-\(i)", contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: dir + "/out-\(i)")
            p.standardError = p.standardOutput
            try p.run()
            return p
        }
        let codes = procs.map { Self.wait($0, seconds: 180) }
        let outputs = (0..<8).map { (try? String(contentsOfFile: dir + "/out-\($0)", encoding: .utf8)) ?? "" }
        #expect(codes.allSatisfy { $0 == 0 }, "exit codes \(codes); failed steps: \(outputs.flatMap { $0.split(separator: "\n").filter { $0.contains("FAIL") || $0.contains("error") || $0.contains("TEE_ERROR") } }.prefix(8))")
        // What they stored is ciphertext only: no object id in a file name, no plain run counter.
        let files = FileManager.default.subpaths(atPath: dir + "/store") ?? []
        #expect(!files.contains { $0.contains("6f626a656374") }, "\(files)")     // hex of "object"
        #expect(files.contains { $0.hasSuffix("/dirf.db") })
        #expect(Self.eventually(10) { Self.totals(d)["guests"] == 0 })
    }

    @Test func guestProcessesKilledMidStorageOperationsNeverBreakTheirUsersStore() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        // A bystander of the same user stores all along; ten victims are SIGKILLed while storing.
        let bystander = try Self.spawn(["client", "--socket", dir + "/s", "--workload", "secure_storage", "--count", "40"])
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<10 {
            let victim = try Self.spawn(["client", "--socket", dir + "/s", "--workload", "secure_storage", "--count", "100000"])
            // Wait until it has done some storage work (FS RPCs counted), plus a random number more.
            func fsRPCs() -> Int { d.stack.secureWorld.counters.rpcCommands[.fs] ?? 0 }
            let target = fsRPCs() + 20 + Int.random(in: 1...40, using: &rng)
            _ = Self.eventually(30) { fsRPCs() >= target }
            kill(victim.processIdentifier, SIGKILL)
            victim.waitUntilExit()
        }
        #expect(Self.wait(bystander, seconds: 180) == 0, "a guest of the same user failed while others were killed mid-write")
        let after = try Self.spawn(["client", "--socket", dir + "/s", "--workload", "secure_storage", "--count", "2"])
        #expect(Self.wait(after, seconds: 60) == 0, "the user's store is unusable after the kills")
        #expect(Self.eventually(10) { Self.totals(d)["guests"] == 0 })
    }

    @Test func aSecondDaemonOnTheSameSecureStateIsRefused() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        do {
            let second = try Daemon(config: DaemonConfig(socketPath: dir + "/t", storage: dir + "/store"))
            second.stop()
            Issue.record("a second daemon started on secure state in use")
        } catch { #expect("\(error)".contains("in use"), "\(error)") }
    }

    @Test func aGuestKilledMidCallIsTornDownAndTheOthersDoNotNotice() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let victim = try Self.spawn(["client", "--socket", dir + "/s", "--workload", "rpc", "--count", "100000"])
        let bystander = try Self.spawn(["client", "--socket", dir + "/s", "--workload", "hello_world", "--count", "30"])
        // Wait until the victim holds something in the mediator (a session or a call), then kill it.
        let busy = Self.eventually(30) {
            let guests = d.statsObject()["guests"] as? [[String: Any]] ?? []
            return guests.contains { ($0["pid"] as? Int) == Int(victim.processIdentifier)
                && (($0["sessions"] as? Int ?? 0) > 0 || ($0["calls_in_flight"] as? Int ?? 0) > 0) }
        }
        #expect(busy)
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        #expect(Self.wait(bystander, seconds: 120) == 0)
        #expect(Self.eventually(10) { Self.totals(d)["guests"] == 0 })
        let t = Self.totals(d)
        #expect(t["sessions"] == 0 && t["pinned_pages"] == 0 && t["shm_buffers"] == 0 && t["calls_in_flight"] == 0, "\(t)")
        #expect((d.statsObject()["secure_threads_busy"] as? Int) == 0)
        let reasons = d.statsObject()["detached"] as? [String: Int] ?? [:]
        #expect(reasons["disconnected", default: 0] >= 1, "\(reasons)")
    }

    @Test func garbageAndTruncatedControlMessagesCloseOnlyThatConnection() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        for junk in [[UInt8](repeating: 0xFF, count: 64), [0x01, 0x00], Array("GET / HTTP/1.0\r\n\r\n".utf8)] {
            let c = vtee_unix_connect(dir + "/s")
            #expect(c >= 0)
            _ = junk.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            shutdown(c, Int32(SHUT_WR))
            var tv = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 512)
            var closed = false
            for _ in 0..<16 {
                let n = buf.withUnsafeMutableBytes { read(c, $0.baseAddress, $0.count) }
                if n <= 0 { closed = n == 0; break }
            }
            close(c)
            #expect(closed, "the daemon closes a connection that sends \(junk.count) bytes of junk")
        }
        // The daemon still serves a real guest.
        let p = try Self.spawn(["client", "--socket", dir + "/s", "--workload", "hello_world"])
        #expect(Self.wait(p, seconds: 60) == 0)
    }

    @Test func shutdownAndRestartOnTheSameStorageServeTheStoredObjects() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg = DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")
        let first = try Daemon(config: cfg)
        let r1 = try runClient(socket: cfg.socketPath, workload: "secure_storage", count: 1)
        first.stop()
        #expect(!FileManager.default.fileExists(atPath: cfg.socketPath), "socket removed on shutdown")
        #expect(!FileManager.default.fileExists(atPath: cfg.adminPath))
        let second = try Daemon(config: cfg); defer { second.stop() }
        let r2 = try runClient(socket: cfg.socketPath, workload: "secure_storage", count: 1)
        #expect(r1.ok && r2.ok)
        let p1 = r1.guestSteps[0].first { $0.name == "secure_storage.persist" }?.detail
        let p2 = r2.guestSteps[0].first { $0.name == "secure_storage.persist" }?.detail
        #expect(p1 == "first run on this storage")
        #expect(p2?.hasPrefix("run 2 on this storage") == true, "\(p2 ?? "nil")")
    }

    @Test func loginIdentityComesFromPeerCredentialsNotFromTheGuest() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        var options = RemoteGuestOptions()
        options.storage = dir + "/guest"
        let ctx = try TEEContext.connect(socket: d.config.socketPath, options: options)
        defer { ctx.finalize() }
        let want = ClientIdentity.uuidV5("uid=" + String(getuid(), radix: 16))
        // The guest lies: it claims to be uid 12345.
        let forged = ClientIdentity.uuidV5("uid=" + String(12345, radix: 16))
        let open = try ctx.driver.openSession(uuid: TestTA.uuid, login: .user, clientUUID: forged, params: [])
        #expect(open.ret == .success)
        let r = try ctx.driver.invoke(session: open.session, function: TestTA.Command.clientIdentity.rawValue,
                                      params: [.value(.output), .tmem(.output, bytes: [UInt8](repeating: 0, count: 16))])
        #expect(r.ret == .success)
        guard r.params.count >= 2, case let .value(login, _, _) = r.params[0], case let .tmem(bytes, _) = r.params[1] else {
            Issue.record("unexpected result params \(r.params)"); return
        }
        #expect(login == UInt64(LoginMethod.user.rawValue))
        #expect(TEEUUID(octets: bytes) == want, "the TA sees the uid the kernel reported, not the forged one")
        #expect(TEEUUID(octets: bytes) != forged)
        _ = try ctx.driver.closeSession(open.session)
    }

    @Test func aContextFromVTEESocketWorksLikeAnInProcessOne() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        setenv("VTEE_SOCKET", d.config.socketPath, 1); defer { unsetenv("VTEE_SOCKET") }
        var options = RemoteGuestOptions(); options.storage = dir + "/guest"
        let ctx = try TEEContext(socket: nil, options: options)
        let s = try ctx.openSession(HelloWorldTA.uuid)
        var op = TEEOperation([.valueInout(a: 41, b: 0)])
        try s.invoke(HelloWorldTA.Command.increment.rawValue, &op)
        #expect(op.params[0].value.a == 42)
        #expect((d.statsObject()["totals"] as? [String: Int])?["sessions"] == 1)
        s.close()
        ctx.finalize()
        #expect(Self.eventually(10) { Self.totals(d)["guests"] == 0 }, "finalize detaches the guest")
    }

    @Test func theIdentityPolicyHashesKernelCredentialsAndRefusesKernelLogins() {
        let policy = Daemon.identityPolicy(PeerCredentials(uid: 1000, gid: 100, pid: getpid()))
        #expect(policy(LoginMethod.`public`) == .zero)
        #expect(policy(LoginMethod.user) == ClientIdentity.uuidV5("uid=3e8"))
        #expect(policy(LoginMethod.group) == ClientIdentity.uuidV5("gid=64"))
        #expect(policy(LoginMethod.application) == ClientIdentity.uuidV5("app=" + (Daemon.executablePath(pid: getpid()) ?? "?")))
        #expect(policy(LoginMethod.reeKernel) == nil)
        #expect(policy(LoginMethod(rawValue: 3)) == nil)
    }
}
