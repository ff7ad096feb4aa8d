/// The daemon's shared-supplicant messages and routing table: one supplicant per uid, a client is
/// offered only to its own uid's supplicant, and a forged or stale answer changes nothing.
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
