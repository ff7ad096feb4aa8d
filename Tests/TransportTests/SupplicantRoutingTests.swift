/// The daemon's shared-supplicant messages and routing table: one supplicant per uid, a client is
/// offered only to its own uid's supplicant, and a forged or stale answer changes nothing.
import Machine
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Shared supplicant routing")
struct SupplicantRoutingTests {
    @Test("the SUPP_* messages survive encode then decode")
    func messagesRoundTrip() throws {
        let messages: [ControlMessage] = [
            .supplicantAttach, .supplicantDetach, .supplicantConnect, .supplicantStatus(errno: UInt32(EBUSY)),
            .supplicantPeer(token: 0x1122_3344_5566_7788, pid: 4242, uid: 1000),
            .supplicantPeerAck(token: 9, accepted: true), .supplicantPeerAck(token: 9, accepted: false),
            .supplicantConnected(errno: 0), .supplicantConnected(errno: UInt32(ENOENT)), .supplicantAvailable,
        ]
        for m in messages {
            let bytes = m.encode()
            let decoded = try #require(try ControlMessage.decode(bytes))
            #expect(decoded.message == m)
            #expect(decoded.consumed == bytes.count)
        }
    }

    @Test("SUPP_* payloads of the wrong size or with reserved bits set are malformed")
    func hostileSupplicantMessages() {
        var attach = ControlMessage.supplicantAttach.encode()
        attach[16] = 1   // flags must be zero
        #expect(throws: WireError.reservedNotZero) { try ControlMessage.decode(attach) }
        var ack = ControlMessage.supplicantPeerAck(token: 1, accepted: true).encode()
        ack[24] = 2      // accepted is 0 or 1
        #expect(throws: WireError.badLength(.supplicantPeerAck, 16)) { try ControlMessage.decode(ack) }
        var peer = ControlMessage.supplicantPeer(token: 1, pid: 2, uid: 3).encode()
        peer[8] = 12     // length 12: too short for SUPP_PEER
        #expect(throws: WireError.badLength(.supplicantPeer, 12)) { try ControlMessage.decode(Array(peer.prefix(28))) }
    }

    @Test("a second supplicant of the same uid is refused; the first may repeat its attach")
    func oneSupplicantPerUID() {
        var r = SupplicantRoutes()
        let v1 = r.attach(uid: 1000, fd: 10)
        #expect(v1)
        let v2 = r.attach(uid: 1000, fd: 11)
        #expect(!v2)
        let v3 = r.attach(uid: 1000, fd: 10)
        #expect(v3)
        let v4 = r.attach(uid: 1001, fd: 11)
        #expect(v4)   // another user has their own
        #expect(r.supplicants == [1000: 10, 1001: 11])
    }

    @Test("a client is never routed to another uid's supplicant, nor to itself")
    func routingStaysWithinTheUID() {
        var r = SupplicantRoutes()
        let v5 = r.attach(uid: 1000, fd: 10)
        #expect(v5)
        #expect(r.route(uid: 1001, fd: 20) == nil)
        #expect(r.route(uid: 1000, fd: 10) == nil)
        #expect(r.route(uid: 1000, fd: 20) == 10)
    }

    @Test("only the supplicant an offer went to can take it, once")
    func forgedAndStaleAcknowledgementsChangeNothing() {
        var r = SupplicantRoutes()
        let v6 = r.attach(uid: 1000, fd: 10)
        #expect(v6)
        let v7 = r.attach(uid: 1001, fd: 11)
        #expect(v7)
        let t = r.offer(client: 20, to: 10, clientEnd: 30)
        let v8 = r.acknowledge(token: t, from: 11)
        #expect(v8 == nil)        // another user's supplicant
        let v9 = r.acknowledge(token: t + 100, from: 10)
        #expect(v9 == nil)  // a token never issued
        let v10 = r.acknowledge(token: t, from: 10)
        #expect(v10 == SupplicantRoutes.Offer(client: 20, supplicant: 10, clientEnd: 30, uid: 1000))
        let v11 = r.acknowledge(token: t, from: 10)
        #expect(v11 == nil)        // taken already
    }

    @Test("a supplicant that leaves hands back its outstanding offers and frees the uid")
    func leavingSupplicantReleasesItsOffers() {
        var r = SupplicantRoutes()
        let v12 = r.attach(uid: 1000, fd: 10)
        #expect(v12)
        _ = r.offer(client: 20, to: 10, clientEnd: 30)
        _ = r.offer(client: 21, to: 10, clientEnd: 31)
        let dropped = r.closed(fd: 10)
        #expect(Set(dropped.map(\.client)) == [20, 21] && Set(dropped.map(\.clientEnd)) == [30, 31])
        #expect(r.offers.isEmpty && r.route(uid: 1000, fd: 20) == nil && !r.isSupplicant(10))
        let v13 = r.attach(uid: 1000, fd: 12)
        #expect(v13)   // the next one may attach
    }

    @Test("a client that leaves drops its offers; a supplicant cannot be flooded with offers")
    func clientOffersAreBounded() {
        var r = SupplicantRoutes()
        let v14 = r.attach(uid: 1000, fd: 10)
        #expect(v14)
        _ = r.offer(client: 20, to: 10, clientEnd: 30)
        let gone = r.closed(fd: 20)
        #expect(gone.map(\.clientEnd) == [30])
        for i in 0..<SupplicantRoutes.maxOffersPerSupplicant { _ = r.offer(client: 21, to: 10, clientEnd: Int32(100 + i)) }
        #expect(r.route(uid: 1000, fd: 21) == nil)
    }

    @Test("clients told there is no supplicant learn of the next one of their uid only, once")
    func clientsToldAbsentLearnOfTheNextSupplicant() {
        var r = SupplicantRoutes()
        r.noteAbsent(uid: 1000, fd: 20)
        r.noteAbsent(uid: 1000, fd: 21)
        r.noteAbsent(uid: 1001, fd: 22)
        let gone = r.closed(fd: 21)                      // a client that left is not told
        #expect(gone.isEmpty)
        let ok = r.attach(uid: 1000, fd: 10)
        #expect(ok)
        let told = r.takeToldAbsent(uid: 1000)
        #expect(told == [20])
        let again = r.takeToldAbsent(uid: 1000)
        #expect(again.isEmpty)
        #expect(r.toldAbsent == [1001: [22]])             // another user's client waits for its own
    }
}

/// The routing on a live server: guests of this process (one uid) attach, connect and hang up.
@Suite("Shared supplicant routing on a live server", .serialized)
struct SupplicantServerRoutingTests {
    /// The next control message within `seconds` (nil: none).
    static func next(_ c: TransportClient, seconds: Double = 5) -> (message: ControlMessage, descriptor: Int32?)? {
        let deadline = monotonicNanos() + Int64(seconds * 1e9)
        while monotonicNanos() < deadline {
            if let m = try? c.receiveControl(timeout: .milliseconds(50)) { return m }
        }
        return nil
    }

    @Test("one supplicant per uid, a channel that joins client and supplicant, no idling, and ENOENT then SUPP_AVAILABLE")
    func attachConnectLeaveAndAttachAgain() throws {
        let path = tempSocketPath("supp")
        let clock = AdmissionLimitTests.FakeClock()
        var limits = testLimits()
        limits.idleTimeout = .seconds(60)
        let delegate = RecordingDelegate()
        let server = try TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: delegate, clock: clock.clock)
        defer { server.stop() }
        let s = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { s.close() }
        let c = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { c.close() }
        #expect(s.sendControl(.supplicantAttach))
        #expect(Self.next(s)?.message == .supplicantStatus(errno: 0))
        #expect(c.sendControl(.supplicantAttach))
        #expect(Self.next(c)?.message == .supplicantStatus(errno: UInt32(EBUSY)))
        #expect(server.sharedSupplicantGuests.count == 1)

        // CONNECT: the supplicant gets an end with the client's pid, ACKs, the client gets the other.
        #expect(c.sendControl(.supplicantConnect))
        let peer = try #require(Self.next(s))
        guard case let .supplicantPeer(token, pid, uid) = peer.message, let sEnd = peer.descriptor else {
            Issue.record("expected SUPP_PEER with a descriptor, got \(peer)"); return
        }
        defer { close(sEnd) }
        #expect(pid == UInt32(getpid()) && uid == geteuid())
        #expect(s.sendControl(.supplicantPeerAck(token: token, accepted: true)))
        let answer = try #require(Self.next(c))
        guard case .supplicantConnected(0) = answer.message, let cEnd = answer.descriptor else {
            Issue.record("expected SUPP_CONNECTED 0 with a descriptor, got \(answer)"); return
        }
        defer { close(cEnd) }
        var byte: UInt8 = 0x5A
        #expect(write(cEnd, &byte, 1) == 1)
        var got: UInt8 = 0
        #expect(read(sEnd, &got, 1) == 1 && got == 0x5A)

        // Past the idle timeout the client is detached, the supplicant (which makes no calls) is not.
        let clientID = try #require(delegate.handles.last?.id)
        clock.advance(.seconds(70))
        server.poke()
        #expect(eventually { delegate.reason(of: clientID) == .idle })
        #expect(s.isConnected && server.sharedSupplicantGuests.count == 1)

        // The supplicant leaves: a client is told ENOENT, and SUPP_AVAILABLE when the next attaches.
        s.close()
        #expect(eventually { server.sharedSupplicantGuests.isEmpty })
        let c2 = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { c2.close() }
        #expect(c2.sendControl(.supplicantConnect))
        #expect(Self.next(c2)?.message == .supplicantConnected(errno: UInt32(ENOENT)))
        let s2 = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { s2.close() }
        #expect(s2.sendControl(.supplicantAttach))
        #expect(Self.next(c2)?.message == .supplicantAvailable)
        #expect(Self.next(s2)?.message == .supplicantStatus(errno: 0))
        // A refused channel: the client is told to serve this request itself.
        #expect(c2.sendControl(.supplicantConnect))
        let offer = try #require(Self.next(s2))
        guard case let .supplicantPeer(t2, _, _) = offer.message else { Issue.record("\(offer)"); return }
        if let f = offer.descriptor { close(f) }
        #expect(s2.sendControl(.supplicantPeerAck(token: t2, accepted: false)))
        #expect(Self.next(c2)?.message == .supplicantConnected(errno: UInt32(EAGAIN)))
    }
}
