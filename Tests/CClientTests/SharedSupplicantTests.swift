/// One tee-supplicant for all of a user's processes (docs/SHARED-SUPPLICANT.md): a C
/// tee-supplicant process (tee_supplicant.c serve) serves the FS and plugin requests of calls made
/// by another C process of the same user; killed mid-call, that call fails and the next is served
/// by the client's own supplicant; a second supplicant of the user is EBUSY; hostile frames on the
/// channel get a defined answer and the supplicant keeps serving.
import Foundation
import Machine
import NormalWorld
import Synchronization
import TEEABI
import Testing
@testable import TEEDevice
@testable import Transport
@testable import VTEEDaemon
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct SharedSupplicantTests {
    struct Setup {
        let dir: String
        let env: [String: String]
        var supplicant: String { dir + "/tee_supplicant" }
        var client: String { dir + "/shared_client" }
    }

    static func prepare() throws -> Setup {
        let dir = CHarness.tempDir()
        #expect(try CHarness.install(prefix: dir).status == 0)
        for (src, out) in [("tee_supplicant.c", "tee_supplicant"), ("shared_client.c", "shared_client")] {
            let cc = try CHarness.compile(src, output: dir + "/" + out, flags: ["-lpthread"])
            #expect(cc.status == 0, "\(cc.output)")
        }
        return Setup(dir: dir, env: ["LD_PRELOAD": dir + "/lib/libvtee-preload.so", "VTEE_SOCKET": dir + "/s",
                                     "VTEE_STORAGE": dir + "/guest-store"])
    }

    /// Starts `tee_supplicant serve` and waits (bounded) until it is attached.
    static func startSupplicant(_ s: Setup, stall: Bool = false) throws -> CHarness.Background {
        let b = try CHarness.start(s.supplicant, stall ? ["serve", "stall"] : ["serve"], environment: s.env)
        #expect(CHarness.eventually(60) { b.lines.contains("value ready") }, "\(b.output)")
        return b
    }

    @Test func aTeeSupplicantProcessServesTheStorageRequestsOfTheUsersOtherProcesses() throws {
        let s = try Self.prepare(); defer { try? FileManager.default.removeItem(atPath: s.dir) }
        var config = DaemonConfig(socketPath: s.dir + "/s", storage: s.dir + "/store")
        config.socketMode = 0o666   // another user's process may attach too
        let d = try Daemon(config: config); defer { d.stop() }
        let sup = try Self.startSupplicant(s)
        // The daemon's stats name the guest that serves as the user's supplicant.
        let rows = d.statsObject()["guests"] as? [[String: Any]] ?? []
        #expect(rows.filter { $0["shared_supplicant"] as? Bool == true }.count == 1, "\(rows)")
        let c = try CHarness.run(s.client, ["storage"], environment: s.env, seconds: 120)
        #expect(c.status == 0 && CHarness.summary(c)?.failed == 0, "\(c.output)")
        #expect(CHarness.passedChecks(c).isSuperset(of: ["client_session", "storage_roundtrip", "plugin_served_by_shared_supplicant",
                                                         "unknown_ta_not_found"]), "\(c.output)")
        // One supplicant per user: another process's open of /dev/teepriv0 is EBUSY, and it still works as a client.
        let second = try CHarness.run(s.client, ["second"], environment: s.env, seconds: 120)
        #expect(CHarness.passedChecks(second).isSuperset(of: ["second_process_supplicant_ebusy", "client_session"]), "\(second.output)")
        if geteuid() == 0 {
            // A process of another user is served by its own supplicant, never by this user's.
            let nobodyStore = s.dir + "/nobody-store"
            try FileManager.default.createDirectory(atPath: nobodyStore, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o777])
            var env = s.env
            env["VTEE_STORAGE"] = nobodyStore
            let other = try CHarness.run(s.client, ["local", "nobody"], environment: env, seconds: 120)
            #expect(CHarness.passedChecks(other).isSuperset(of: ["runs_as_another_user", "client_session", "served_by_own_supplicant"]),
                    "\(other.output)")
        }
        sup.closeInput()
        #expect(sup.finish(seconds: 60) == 0, "\(sup.output)")
        // The supplicant process counted the client process's FS and plugin requests as its own.
        let served = sup.lines.first { $0.hasPrefix("value served ") } ?? ""
        #expect(served.contains("fs=") && !served.contains("fs=0 ") && served.hasSuffix(" plugin=1"), "\(sup.output)")
        #expect(sup.lines.contains("value served_load_ta=1"), "the LOAD_TA of the client's unknown TA: \(sup.output)")
        // It left: the user's processes are served by their own supplicant again.
        let after = try CHarness.run(s.client, ["local"], environment: s.env, seconds: 120)
        #expect(CHarness.passedChecks(after).contains("served_by_own_supplicant"), "\(after.output)")
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
    }

    @Test func killingTheSharedSupplicantMidCallFailsThatCallAndTheNextIsServedByTheClientsOwn() throws {
        let s = try Self.prepare(); defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: s.dir + "/s", storage: s.dir + "/store")); defer { d.stop() }
        let sup = try Self.startSupplicant(s, stall: true)
        let c = try CHarness.start(s.client, ["stall"], environment: s.env)
        // The client's plugin request reached the supplicant, which holds it: kill it there.
        #expect(CHarness.eventually(60) { sup.lines.contains("value stalled") }, "\(sup.output)\n\(c.output)")
        sup.signal(SIGKILL)
        #expect(sup.finish(seconds: 30) != 0)
        #expect(c.finish(seconds: 120) == 0, "\(c.output)")
        #expect(CHarness.passedChecks(CHarness.Run(status: 0, output: c.output)).isSuperset(of: ["call_fails_when_supplicant_dies", "next_call_served_by_own_supplicant"]),
                "\(c.output)")
        #expect(c.output.contains("ret=0xffff000e"), "the stalled call ends with TEE_ERROR_COMMUNICATION: \(c.output)")
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
    }

    @Test func aClientStartedBeforeTheSupplicantIsServedByItOnceItAttaches() throws {
        let s = try Self.prepare(); defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: s.dir + "/s", storage: s.dir + "/store")); defer { d.stop() }
        let c = try CHarness.start(s.client, ["before"], environment: s.env)
        #expect(CHarness.eventually(60) { c.lines.contains("value waiting") }, "\(c.output)")
        let sup = try Self.startSupplicant(s)
        c.input.fileHandleForWriting.write(Data("go\n".utf8))
        #expect(c.finish(seconds: 120) == 0, "\(c.output)")
        let checks = CHarness.passedChecks(CHarness.Run(status: 0, output: c.output))
        #expect(checks.isSuperset(of: ["served_by_own_supplicant", "plugin_served_by_shared_supplicant"]), "\(c.output)")
        sup.closeInput()
        #expect(sup.finish(seconds: 60) == 0, "\(sup.output)")
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
    }

    /// Reads one frame with a bound (nil: the channel ended).
    static func readFrame(_ sock: ChannelSocket) throws -> ChannelFrame? {
        let deadline = DispatchTime.now() + 60
        return try sock.read(stop: { DispatchTime.now() > deadline })
    }

    /// A channel to the user's supplicant, asked for by a guest of this test process.
    static func channel(_ client: TransportClient) throws -> ChannelSocket {
        #expect(client.sendControl(.supplicantConnect))
        let deadline = DispatchTime.now() + 30
        while DispatchTime.now() < deadline {
            guard let got = try client.receiveControl(timeout: .milliseconds(200)) else { continue }
            guard case .supplicantConnected(0) = got.message, let fd = got.descriptor else {
                Issue.record("no channel: \(got.message)"); break
            }
            return ChannelSocket(fd: fd)
        }
        throw TEEResult.communication
    }

    @Test func aRequestIdAlreadyInServiceIsRefusedAndTheHeldRequestEndsWithTheSupplicant() throws {
        let s = try Self.prepare(); defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: s.dir + "/s", storage: s.dir + "/store")); defer { d.stop() }
        let sup = try Self.startSupplicant(s, stall: true)
        defer { sup.signal(SIGKILL); _ = sup.finish(seconds: 30) }
        let guest = try TransportClient.connect(socketPath: s.dir + "/s", ramPages: 64, vcpus: 1); defer { guest.close() }
        let sock = try Self.channel(guest)
        defer { sock.finish() }
        // Request 1 (a plugin request) is held by the stalling supplicant ...
        #expect(sock.write(.request(id: 1, command: 12, params: [.value(.valueInput, a: 0, b: 0, c: 0)], windows: [nil])))
        #expect(CHarness.eventually(60) { sup.lines.contains("value stalled") }, "\(sup.output)")
        // ... so another request with id 1 is refused without being served, and answered at once.
        #expect(sock.write(.request(id: 1, command: 2, params: [.value(.valueInput, a: 2, b: 0, c: 0)], windows: [nil])))
        guard case let .reply(id, result, _)? = try Self.readFrame(sock) else { Issue.record("no reply"); return }
        #expect(id == 1 && result == TEEResult.badParameters.rawValue)
        // The supplicant dies with request 1 in service: the channel ends (its client would see COMMUNICATION).
        sup.signal(SIGKILL)
        #expect(try Self.readFrame(sock) == nil)
        _ = d
    }

    @Test func hostileFramesOnTheChannelGetADefinedAnswerAndTheSupplicantKeepsServing() throws {
        let s = try Self.prepare(); defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: s.dir + "/s", storage: s.dir + "/store")); defer { d.stop() }
        let sup = try Self.startSupplicant(s)
        defer { sup.closeInput(); _ = sup.finish(seconds: 60) }
        let guest = try TransportClient.connect(socketPath: s.dir + "/s", ramPages: 64, vcpus: 1); defer { guest.close() }
        let sock = try Self.channel(guest)
        let bad = TEEResult.badParameters.rawValue
        let open: [SupplicantParam] = [.value(.valueInput, a: 0, b: 0, c: 0), .memref(.tmemInput, data: Array("dirf.db".utf8) + [0], size: 8),
                                       .value(.valueOutput, a: 0, b: 0, c: 0)]
        func reply(to frame: ChannelFrame) throws -> (id: UInt64, result: UInt32)? {
            #expect(sock.write(frame))
            guard case let .reply(id, result, _)? = try Self.readFrame(sock) else { return nil }
            return (id, result)
        }
        // Request id 0 is no request id.
        #expect(try reply(to: .request(id: 0, command: 2, params: open, windows: [nil, ChannelWindow(shm: 5, shmSize: 4096, offset: 0), nil])).map { $0.id == 0 && $0.result == bad } == true)
        // A window past the end of the client's shm.
        #expect(try reply(to: .request(id: 1, command: 2, params: open, windows: [nil, ChannelWindow(shm: 5, shmSize: 4096, offset: 4092), nil])).map { $0.id == 1 && $0.result == bad } == true)
        // A shm larger than any mirror may be.
        let huge = UInt64(SupplicantChannelWire.maxData) + 4096
        #expect(try reply(to: .request(id: 2, command: 2, params: open, windows: [nil, ChannelWindow(shm: 6, shmSize: huge, offset: 0), nil])).map { $0.id == 2 && $0.result == bad } == true)
        // A window on a value param; SHM_ALLOC and SHM_FREE are the client's own business.
        #expect(try reply(to: .request(id: 3, command: 2, params: open, windows: [ChannelWindow(shm: 5, shmSize: 4096, offset: 0), nil, nil])).map { $0.id == 3 && $0.result == bad } == true)
        #expect(try reply(to: .request(id: 4, command: 6, params: [.value(.valueInout, a: 0, b: 4096, c: 0)], windows: [nil])).map { $0.id == 4 && $0.result == bad } == true)
        // A well-formed request is served (and its answer goes back to this channel only).
        let served = try reply(to: .request(id: 5, command: 2, params: open, windows: [nil, ChannelWindow(shm: 5, shmSize: 4096, offset: 0), nil]))
        #expect(served?.id == 5 && served?.result == TEEResult.itemNotFound.rawValue, "\(String(describing: served))")
        // The same client shm with another size is refused.
        #expect(try reply(to: .request(id: 6, command: 2, params: open, windows: [nil, ChannelWindow(shm: 5, shmSize: 8192, offset: 0), nil])).map { $0.id == 6 && $0.result == bad } == true)
        // A client's mirrors are bounded in all (4096 bytes held + 4 MiB more is past the budget).
        let oom = TEEResult.outOfMemory.rawValue
        #expect(try reply(to: .request(id: 7, command: 2, params: open,
                                       windows: [nil, ChannelWindow(shm: 9, shmSize: UInt64(SupplicantChannelWire.maxData), offset: 0), nil]))
            .map { $0.id == 7 && $0.result == oom } == true)
        // A reply sent to the supplicant (answering a request it never made): the channel closes.
        #expect(sock.write(.reply(id: 5, result: 0, params: open)))
        #expect(try Self.readFrame(sock) == nil)
        sock.finish()
        // Garbage on a fresh channel closes that channel too.
        let raw = try Self.channel(guest)
        #expect(raw.write(.free(shm: 1)))
        // Frames past the size limit never get read in.
        var header = ChannelFrame.free(shm: 1).encode()
        header[8] = 0xFF; header[9] = 0xFF; header[10] = 0xFF; header[11] = 0x7F
        #expect(throws: ChannelWireError.tooLarge) { try ChannelFrame.payloadLength(header: Array(header.prefix(16))) }
        raw.finish()
        // On the daemon socket: a forged ACK changes nothing (a channel is still handed out) ...
        #expect(guest.sendControl(.supplicantPeerAck(token: 0xDEAD_BEEF, accepted: true)))
        let again = try Self.channel(guest)
        again.finish()
        // ... and a guest that sends the daemon's own messages is thrown out.
        #expect(guest.sendControl(.supplicantStatus(errno: 0)))
        var thrownOut = false
        let deadline = DispatchTime.now() + 30
        while !thrownOut && DispatchTime.now() < deadline {
            do {
                if case let .reject(reason, _)? = try guest.receiveControl(timeout: .milliseconds(200))?.message {
                    thrownOut = reason == RejectReason.malformed.rawValue
                }
            } catch { thrownOut = true }
        }
        #expect(thrownOut)
        // The supplicant still serves the user's processes.
        let c = try CHarness.run(s.client, ["storage"], environment: s.env, seconds: 120)
        #expect(CHarness.passedChecks(c).isSuperset(of: ["storage_roundtrip", "plugin_served_by_shared_supplicant"]), "\(c.output)")
        _ = d
    }
}

/// The client end of a channel on its own (a socketpair, no daemon): answers go to the request
/// that owns their id; a reply to a request never made closes the channel and every waiting call
/// ends with COMMUNICATION.
@Suite struct SupplicantChannelTests {
    @Test func framesSurviveEncodeThenDecode() throws {
        let frames: [ChannelFrame] = [
            .request(id: 7, command: 2, params: [.value(.valueInput, a: 1, b: 2, c: 3), .memref(.tmemInout, data: [1, 2, 3], size: 3),
                                                 .memref(.tmemOutput, data: nil, size: 0), .none],
                     windows: [nil, ChannelWindow(shm: 9, shmSize: 4096, offset: 16), nil, nil]),
            .reply(id: 7, result: 0xFFFF_0008, params: [.value(.valueOutput, a: 4, b: 5, c: 6), .memref(.tmemOutput, data: [9], size: 1)]),
            .free(shm: 42),
        ]
        for f in frames {
            let b = f.encode()
            let n = try ChannelFrame.payloadLength(header: Array(b.prefix(16)))
            #expect(try ChannelFrame.decode(header: Array(b.prefix(16)), payload: Array(b.dropFirst(16))) == f && n == b.count - 16)
        }
    }

    @Test func anyBytesDecodeToAFrameOrATypedError() {
        // A fixed-seed generator: mutations of valid frames and random headers, never a crash.
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
        let seeds = [ChannelFrame.request(id: 3, command: 2, params: [.value(.valueInput, a: 1, b: 2, c: 3), .memref(.tmemInout, data: [1, 2, 3, 4], size: 4)],
                                          windows: [nil, ChannelWindow(shm: 2, shmSize: 64, offset: 8)]).encode(),
                     ChannelFrame.reply(id: 3, result: 0, params: [.memref(.tmemOutput, data: nil, size: 0)]).encode(),
                     ChannelFrame.free(shm: 7).encode()]
        var decoded = 0
        for i in 0..<20_000 {
            var b = seeds[i % seeds.count]
            for _ in 0..<(1 + Int(next() % 4)) { b[Int(next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: next()) }
            let h = Array(b.prefix(16)), p = Array(b.dropFirst(16))
            if let f = try? ChannelFrame.decode(header: h, payload: p) {
                decoded += 1
                let again = f.encode()   // whatever decodes encodes back to a frame that decodes the same
                #expect((try? ChannelFrame.decode(header: Array(again.prefix(16)), payload: Array(again.dropFirst(16)))) == f)
            }
        }
        #expect(decoded > 0)
    }

    @Test func malformedFramesAreTypedErrors() {
        let ok = ChannelFrame.request(id: 1, command: 2, params: [.memref(.tmemInput, data: [1, 2], size: 2)],
                                      windows: [ChannelWindow(shm: 1, shmSize: 8, offset: 0)]).encode()
        let h = Array(ok.prefix(16)), p = Array(ok.dropFirst(16))
        var many = p; many[12] = 9                       // nine params
        #expect(throws: ChannelWireError.tooManyParams) { try ChannelFrame.decode(header: h, payload: many) }
        var kind = p; kind[20] = 1                        // a value record with a memref type
        #expect(throws: ChannelWireError.badParam) { try ChannelFrame.decode(header: h, payload: kind) }
        var length = p; length[16 + 56] = 200            // more data than the frame has
        #expect(throws: ChannelWireError.badLength) { try ChannelFrame.decode(header: h, payload: length) }
        var magic = h; magic[0] = 0
        #expect(throws: ChannelWireError.badMagic) { try ChannelFrame.payloadLength(header: magic) }
        #expect(throws: ChannelWireError.truncated) { try ChannelFrame.decode(header: h, payload: Array(p.dropLast())) }
    }

    /// Runs `body` on its own thread; its result, waiting at most 30 s.
    static func background<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T? {
        let box = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { let v = body(); box.withLock { $0 = v }; done.signal() }
        _ = done.wait(timeout: .now() + 30)
        return box.withLock { $0 }
    }

    /// A client channel on one end of a socketpair (its reader running) and the supplicant's end.
    static func pair(clock: any HostClock = SystemClock.shared) -> (ClientChannel, ChannelSocket) {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let ch = ClientChannel(socket: ChannelSocket(fd: fds[0]), clock: clock)
        Thread.detachNewThread { ch.run() }
        return (ch, ChannelSocket(fd: fds[1]))
    }

    /// `ch.call(2, params)` running on its own thread: `answer` is nil until it returns.
    final class PendingCall: Sendable {
        let answer = Mutex<ChannelFrame??>(nil)
        let done = DispatchSemaphore(value: 0)
        init(_ ch: ClientChannel, _ params: [SupplicantParam]) {
            Thread.detachNewThread { [self] in
                let r = ch.call(2, params, [nil])
                answer.withLock { $0 = .some(r) }
                done.signal()
            }
        }
    }

    /// The next request the supplicant's end reads (bounded).
    static func request(_ peer: ChannelSocket) -> UInt64? {
        let deadline = DispatchTime.now() + 30
        guard case let .request(id, _, _, _)? = try? peer.read(stop: { DispatchTime.now() > deadline }) else { return nil }
        return id
    }

    @Test func aRequestTheSupplicantHoldsIsWaitedForUntilItAnswersHoweverLongAndAForeignReplyChangesNothing() throws {
        let clock = ManualClock()
        let (ch, peer) = Self.pair(clock: clock)
        defer { peer.finish() }
        let params: [SupplicantParam] = [.value(.valueInout, a: 1, b: 0, c: 0)]
        let pending = PendingCall(ch, params)
        let id = try #require(Self.request(peer))
        // An hour passes while the supplicant holds the request: the client still waits (giving up
        // would let the supplicant run it after the secure world moved on).
        #expect(clock.waitForSleepers(1))
        clock.advance(seconds: 3600)
        #expect(clock.waitForSleepers(1))
        #expect(pending.answer.withLock { $0 } == nil)
        // A reply to a request it never made: no new request goes to this supplicant, the held one
        // is still waited for ...
        #expect(peer.write(.reply(id: id + 100, result: 0, params: params)))
        #expect(CHarness.eventually(10) { !ch.isOpen })
        #expect(ch.call(2, params, [nil]) == nil)   // nothing sent: served locally
        #expect(pending.answer.withLock { $0 } == nil)
        // ... and gets its own answer.
        #expect(peer.write(.reply(id: id, result: 0, params: [.value(.valueOutput, a: 77, b: 0, c: 0)])))
        #expect(pending.done.wait(timeout: .now() + 30) == .success)
        guard case let .reply(rid, result, got)?? = pending.answer.withLock({ $0 }) else { Issue.record("no answer"); return }
        #expect(rid == id && result == 0 && SharedSupplicantClient.merge(params, got) == [.value(.valueInout, a: 77, b: 0, c: 0)])
        // A reply whose shape differs from the request is not merged.
        #expect(SharedSupplicantClient.merge(params, [.memref(.tmemOutput, data: [], size: 0)]) == nil)
    }

    @Test func aSupplicantThatLeavesEndsTheRequestsItHeldWithCommunication() throws {
        let (ch, peer) = Self.pair()
        let params: [SupplicantParam] = [.value(.valueInput, a: 1, b: 0, c: 0)]
        let pending = PendingCall(ch, params)
        #expect(Self.request(peer) != nil)
        peer.finish()   // the supplicant process is gone
        #expect(pending.done.wait(timeout: .now() + 30) == .success)
        guard case let .reply(_, result, _)?? = pending.answer.withLock({ $0 }) else { Issue.record("no answer"); return }
        #expect(result == TEEResult.communication.rawValue)
        #expect(!ch.isOpen)
    }
}
