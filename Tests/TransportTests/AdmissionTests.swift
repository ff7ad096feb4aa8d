// Admission against a hostile local user: connections in their handshake have their own small
// bound (per user, then overall; the oldest gives way), so silent connections cannot lock guests
// out; attached guests and vCPU threads are bounded per user; an idle guest is detached.
// Time is the server's injected clock: no test waits for a deadline to pass.
import CShim
import Dispatch
import Machine
import Synchronization
import TEEABI
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Transport: admission is bounded per user and cannot be starved")
struct AdmissionTests {
    @Test("sixteen connections that never say HELLO do not lock a real guest out")
    func silentConnectionsDoNotLockGuestsOut() throws {
        let path = tempSocketPath("silent")
        let server = try TransportServer(socketPath: path, limits: testLimits(maxGuests: 4), memory: PhysicalMemory(),
                                         delegate: RecordingDelegate())
        defer { server.stop() }
        var silent: [RawGuest] = []
        for _ in 0..<16 { if let r = RawGuest(path: path) { silent.append(r) } }
        #expect(silent.count == 16)
        let guest = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { guest.close() }
        #expect(guest.conduit.trap(RegisterFrame(a0: 41), vcpu: 0).a0 == 42)
        // The silent ones got nowhere: most were pushed out, the rest wait within the small bound.
        #expect(server.stats.handshaking <= TransportLimits().maxHandshakingPerUser)
        #expect(silent.first?.seesHangUp() == true)
        #expect(server.stats.guests == 1)
    }

    @Test("a burst of guests of one user that all said HELLO, accepted at once, all attach (none dropped as silent)")
    func helloBurstOfOneUserAllAttach() throws {
        let path = tempSocketPath("burst")
        let server = try TransportServer(socketPath: path, limits: testLimits(maxGuests: 8), memory: PhysicalMemory(),
                                         delegate: RecordingDelegate())
        defer { server.stop() }
        // Hold the accept thread (as a loaded host does) until every guest has connected and sent
        // its whole HELLO: the server then accepts more handshakes of this user than its bound.
        let release = DispatchSemaphore(value: 0)
        server.beforeAccept.withLock { $0 = { _ = release.wait(timeout: .now() + .seconds(10)) } }
        let n = TransportLimits().maxHandshakingPerUser + 2
        var guests: [RawGuest] = []
        for _ in 0..<n {
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(4096), mb = sealedMemfd(4096)
            #expect(raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mb]))
            close(ram); close(mb)
            guests.append(raw)
        }
        server.beforeAccept.withLock { $0 = nil }
        release.signal()
        for (i, g) in guests.enumerated() {
            let reply = g.receive()
            if case .welcome? = reply {} else { Issue.record("guest \(i) of \(n) got \(String(describing: reply)), not WELCOME") }
        }
        #expect(eventually { server.stats.guests == n })
    }

    @Test("a guest paused between connect and HELLO, pushed out by newer handshakes of its user, retries and attaches")
    func pushedOutHandshakeIsRetried() throws {
        let path = tempSocketPath("retry")
        var limits = testLimits(maxGuests: 4)
        limits.maxHandshakingPerUser = 1
        let server = try TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: RecordingDelegate())
        defer { server.stop() }
        var intruders: [RawGuest] = []
        var pushedOut = false
        let guest = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1, timeout: .seconds(5), tuning: TransportLimits()) { attempt in
            guard attempt == 0 else { return }
            // Paused before HELLO while another connection of this user arrives: with a bound of
            // one handshake per user, this one is the oldest and gives way.
            if let r = RawGuest(path: path) { intruders.append(r) }
            pushedOut = eventually { server.stats.rejected >= 1 }
        }
        defer { guest.close() }
        #expect(pushedOut, "the first attempt was never pushed out: the test proves nothing")
        #expect(guest.conduit.trap(RegisterFrame(a0: 7), vcpu: 0).a0 == 8)
        #expect(server.stats.guests == 1)
        #expect(intruders.count == 1)
    }
}

@Suite("Transport: per-user limits, idle timeout and handshake deadline on an injected clock")
struct AdmissionLimitTests {
    /// A clock tests move by hand.
    final class FakeClock: Sendable {
        let now = Atomic<Int64>(1_000_000_000)
        func advance(_ d: Duration) { now.wrappingAdd(d.nanoseconds, ordering: .relaxed) }
        var clock: TransportClock { { [self] in now.load(ordering: .relaxed) } }
    }

    @Test("one user may attach maxGuestsPerUser guests; the next is refused, the first still work")
    func perUserGuestLimit() throws {
        let path = tempSocketPath("peruser")
        var limits = testLimits(maxGuests: 8)
        limits.maxGuestsPerUser = 2
        let server = try TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: RecordingDelegate())
        defer { server.stop() }
        let a = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { a.close() }
        let b = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { b.close() }
        #expect {
            _ = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        } throws: { e in
            guard case let .rejected(r, _)? = e as? TransportError else { return false }
            return r == RejectReason.tooManyGuests.rawValue
        }
        #expect(a.conduit.trap(RegisterFrame(a0: 1), vcpu: 0).a0 == 2)
        #expect(b.conduit.trap(RegisterFrame(a0: 2), vcpu: 0).a0 == 3)
    }

    @Test("one user's guests together may hold maxVCPUsPerUser vCPU threads, not the daemon's all")
    func perUserVCPULimit() throws {
        let path = tempSocketPath("vcpus")
        var limits = testLimits(maxGuests: 8)
        limits.maxVCPUsPerUser = 3
        let server = try TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: RecordingDelegate())
        defer { server.stop() }
        let a = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 2)
        defer { a.close() }
        #expect {
            _ = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 2)
        } throws: { e in
            guard case let .rejected(r, _)? = e as? TransportError else { return false }
            return r == RejectReason.limits.rawValue
        }
        let b = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { b.close() }
        #expect(server.stats.vcpuThreads == 3)
    }

    @Test("a guest idle past the idle timeout is detached with BYE; a busy one is not")
    func idleGuestIsDetached() throws {
        let path = tempSocketPath("idle")
        let clock = FakeClock()
        var limits = testLimits()
        limits.idleTimeout = .seconds(60)
        let delegate = RecordingDelegate()
        let server = try TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: delegate,
                                         clock: clock.clock)
        defer { server.stop() }
        let busy = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { busy.close() }
        let idle = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { idle.close() }
        let idleID = try #require(delegate.handles.last?.id)
        clock.advance(.seconds(40))
        #expect(busy.conduit.trap(RegisterFrame(a0: 1), vcpu: 0).a0 == 2)   // active at t+40
        server.poke()
        clock.advance(.seconds(30))                                          // t+70: idle 70 s, busy 30 s
        server.poke()
        #expect(eventually { delegate.reason(of: idleID) == .idle })
        // The BYE reaches the guest before the server counts the detach done (its vCPU threads end
        // after): wait for each state that is asserted, not for either one.
        #expect(eventually { !idle.isConnected })
        #expect(eventually { server.stats.guests == 1 })
        #expect(busy.conduit.trap(RegisterFrame(a0: 5), vcpu: 0).a0 == 6)
    }

    @Test("a connection without HELLO is dropped when the injected clock passes its deadline")
    func handshakeDeadlineOnInjectedClock() throws {
        let path = tempSocketPath("deadline")
        let clock = FakeClock()
        var limits = testLimits()
        limits.handshakeTimeout = .seconds(3600)   // the wall clock never gets there during the test
        let server = try TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: RecordingDelegate(),
                                         clock: clock.clock)
        defer { server.stop() }
        let raw = try #require(RawGuest(path: path))
        #expect(eventually { server.stats.handshaking == 1 })
        clock.advance(.seconds(3601))
        server.poke()
        let m = raw.receive()
        guard case let .reject(r, _)? = m else { Issue.record("expected REJECT, got \(String(describing: m))"); return }
        #expect(r == RejectReason.handshakeTimeout.rawValue)
        #expect(eventually { server.stats.handshaking == 0 })
    }
}
