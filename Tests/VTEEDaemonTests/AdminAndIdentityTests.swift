// Issue 13 on the daemon: the admin socket serves clients concurrently and shows a user only
// their own guests (SO_PEERCRED on the admin connection; the daemon's owner and root see all);
// an APPLICATION identity that cannot be resolved is a refused login, never a guessable name;
// the limits in force are shown in `vtee stats`.
import CShim
import Foundation
import TEEABI
import TEEClient
import Testing
import Transport
@testable import VTEEDaemon
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct AdminAndIdentityTests {
    static func tempDir() -> String {
        let d = "/tmp/vtee-a-" + String(UUID().uuidString.prefix(8))
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func aUserAskingTheAdminSocketSeesOnlyTheirOwnGuests() throws {
        try #require(getuid() == 0, "needs root to ask as another user")
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        var cfg = DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")
        cfg.socketMode = 0o666
        let d = try Daemon(config: cfg); defer { d.stop() }
        let guest = try TransportClient.connect(socketPath: cfg.socketPath, ramPages: 16, vcpus: 1)
        defer { guest.close() }
        var buf = [CChar](repeating: 0, count: 65536)
        let n = vtee_test_query_as(cfg.adminPath, 4242, 4242, "stats", &buf, Int32(buf.count))
        try #require(n > 0, "query as uid 4242 failed (\(n))")
        let reply = String(cString: buf)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any])
        let rows = obj["guests"] as? [[String: Any]] ?? []
        #expect(rows.isEmpty, "uid 4242 sees another user's guests: \(rows)")
        #expect(!reply.contains("\"pid\":\(getpid())"))
        // The daemon's owner still sees everything.
        let mine = try JSONSerialization.jsonObject(with: Data(adminQuery(socketPath: cfg.socketPath, command: "stats").utf8)) as? [String: Any]
        #expect((mine?["guests"] as? [[String: Any]])?.count == 1)
    }

    @Test func theAdminSocketAnswersWhileAnotherClientSaysNothing() throws {
        let dir = Self.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg = DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")
        let d = try Daemon(config: cfg); defer { d.stop() }
        let silent = vtee_unix_connect(cfg.adminPath)
        try #require(silent >= 0)
        defer { close(silent) }
        let reply = try adminQuery(socketPath: cfg.socketPath, command: "config")
        #expect(reply.contains("max_guests"))
        // Answered while the silent client is still connected (not after the daemon gave up on it).
        #expect(vtee_socket_hung_up(silent) == 0, "the admin socket served the second client only after dropping the first")
    }

    @Test func anApplicationIdentityThatCannotBeResolvedIsARefusedLogin() {
        // A pid that names no process: its executable cannot be read.
        var dead: Int32 = 4_000_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead -= 1 }
        let policy = Daemon.identityPolicy(PeerCredentials(uid: 1000, gid: 100, pid: dead))
        #expect(policy(LoginMethod.application) == nil)
        #expect(policy(LoginMethod.applicationUser) == nil)
        #expect(policy(LoginMethod.applicationGroup) == nil)
        #expect(policy(LoginMethod.user) == ClientIdentity.uuidV5("uid=3e8"))
    }
}

import Machine
import Platform
import Synchronization

/// One user's guests together hold at most `maxSecureThreadsPerUser` secure threads: a std call
/// past it is answered ETHREAD_LIMIT before it reaches the platform; a thread held across an RPC
/// stays taken until its call completes.
@Test func aUsersGuestsCannotHoldMoreSecureThreadsThanTheirShare() throws {
    // A platform whose Trusted OS suspends every std call in an RPC and completes it on resume.
    let reached = Atomic<Int>(0)
    var b = PlatformBuilder()
    try b.register(FunctionService(name: "scripted OS", range: .trustedOS) { f, _ in
        reached.wrappingAdd(1, ordering: .relaxed)
        if f.function == .returnFromRPC { return .frame(RegisterFrame(a0: UInt64(SMCReturn.ok.rawValue))) }
        return .frame(RegisterFrame(a0: UInt64(SMCReturn.rpc(.foreignInterrupt).rawValue), a3: 1))
    })
    let platform = b.build()
    let budget = UserBudget(), throttle = ThrottleCounter()
    let g1 = GuestThreads(), g2 = GuestThreads()
    func trap(_ f: RegisterFrame, _ g: GuestThreads, _ id: UInt32) -> UInt64 {
        Daemon.trap(f, guest: GuestID(id), vcpu: 0, platform: platform, budget: budget, held: g, limit: 2, throttle: throttle).a0
    }
    let call = RegisterFrame(.callWithArg, a2: 0x1000), resume = RegisterFrame(.returnFromRPC, a3: 1)
    let rpc = UInt64(SMCReturn.rpc(.foreignInterrupt).rawValue)
    #expect(trap(call, g1, 1) == rpc)                                        // guest 1 holds one
    #expect(trap(call, g2, 2) == rpc)                                        // guest 2 (same user) holds one
    #expect(trap(call, g1, 1) == UInt64(SMCReturn.ethreadLimit.rawValue))    // the user's share is used up
    #expect(reached.load(ordering: .relaxed) == 2)
    #expect(trap(resume, g2, 2) == UInt64(SMCReturn.ok.rawValue))           // one completes
    #expect(trap(call, g1, 1) == rpc)                                        // and its thread is free again
    #expect(budget.secureThreads.load(ordering: .relaxed) == 2 && throttle.throttled.load(ordering: .relaxed) == 1)
}

/// Fairness between one user's guests: a guest issuing std calls back to back takes all of its
/// user's secure threads but the one kept for each other attached guest holding none, so that
/// guest's call is admitted and completes while the flood goes on (before: the flood took the
/// user's whole share and the second guest was answered ETHREAD_LIMIT until the flood ended).
@Test func aGuestFloodingCallsCannotStarveAnotherGuestOfItsUser() throws {
    let reached = Atomic<Int>(0)
    var b = PlatformBuilder()
    try b.register(FunctionService(name: "scripted OS", range: .trustedOS) { f, _ in
        reached.wrappingAdd(1, ordering: .relaxed)
        if f.function == .returnFromRPC { return .frame(RegisterFrame(a0: UInt64(SMCReturn.ok.rawValue))) }
        return .frame(RegisterFrame(a0: UInt64(SMCReturn.rpc(.foreignInterrupt).rawValue), a3: 1))
    })
    let platform = b.build()
    let budget = UserBudget(), throttle = ThrottleCounter()
    let flooder = GuestThreads(), other = GuestThreads()
    budget.attach(); budget.attach()                                          // two guests of one user, idle
    func trap(_ f: RegisterFrame, _ g: GuestThreads, _ id: UInt32) -> UInt64 {
        Daemon.trap(f, guest: GuestID(id), vcpu: 0, platform: platform, budget: budget, held: g, limit: 4, throttle: throttle).a0
    }
    let call = RegisterFrame(.callWithArg, a2: 0x1000), resume = RegisterFrame(.returnFromRPC, a3: 1)
    let rpc = UInt64(SMCReturn.rpc(.foreignInterrupt).rawValue), ok = UInt64(SMCReturn.ok.rawValue)
    let limited = UInt64(SMCReturn.ethreadLimit.rawValue)
    // The flood: every call suspends in an RPC and keeps its thread; 3 of the 4 are admitted.
    let flood = (0..<10).map { _ in trap(call, flooder, 1) }
    #expect(flood.filter { $0 == rpc }.count == 3 && flood.filter { $0 == limited }.count == 7)
    // The other guest's call gets the reserved thread and completes, the flood still going on.
    for round in 0..<3 {
        #expect(trap(call, other, 2) == rpc, "round \(round): the second guest was starved")
        #expect(trap(call, flooder, 1) == limited)                            // the flood cannot take it meanwhile
        #expect(trap(resume, other, 2) == ok)
        #expect(trap(call, flooder, 1) == limited)                            // nor once it is free again
    }
    // When a flooding call completes, the flood may use that thread again (nothing is lost).
    #expect(trap(resume, flooder, 1) == ok)
    #expect(trap(call, flooder, 1) == rpc)
    #expect(budget.secureThreads.load(ordering: .relaxed) == 3 && budget.idleGuests.load(ordering: .relaxed) == 1)
}
