/// The daemon's table of shared tee-supplicants (docs/SHARED-SUPPLICANT.md): at most one per uid,
/// and the client channels offered to one and not yet taken. A value the accept thread owns;
/// connections are named by their socket descriptor. No I/O here: the server acts on the answers.

/// Who serves which uid, and which channel offers are outstanding.
public struct SupplicantRoutes: Sendable {
    /// A channel offered to a supplicant: the client that asked and the supplicant it went to.
    public struct Offer: Sendable, Equatable {
        /// The client connection waiting for SUPP_CONNECTED.
        public let client: Int32
        /// The supplicant connection that got SUPP_PEER.
        public let supplicant: Int32
        /// The client's end of the channel, held by the daemon until the supplicant takes its end.
        public let clientEnd: Int32
        /// The uid of both.
        public var uid: UInt32 = 0
    }
    /// Supplicant connection by uid.
    public private(set) var supplicants: [UInt32: Int32] = [:]
    /// uid of each supplicant connection.
    private var uidOf: [Int32: UInt32] = [:]
    /// Outstanding offers by token.
    public private(set) var offers: [UInt64: Offer] = [:]
    private var nextToken: UInt64 = 1
    /// Client connections told ENOENT, by uid: they serve locally without asking again until
    /// SUPP_AVAILABLE, which they get when a supplicant of their uid attaches.
    public private(set) var toldAbsent: [UInt32: Set<Int32>] = [:]
    /// Most offers one supplicant may have outstanding (a supplicant that never answers cannot
    /// make the table grow).
    public static let maxOffersPerSupplicant = 64

    /// An empty table.
    public init() {}

    /// Connection `fd` of `uid` offers to serve: false (EBUSY) when the uid already has a supplicant
    /// (another connection; the same one attaching twice is fine).
    public mutating func attach(uid: UInt32, fd: Int32) -> Bool {
        if let s = supplicants[uid] { return s == fd }
        supplicants[uid] = fd; uidOf[fd] = uid
        return true
    }

    /// The connections of `uid` to tell SUPP_AVAILABLE now that it has a supplicant (taken: they
    /// will ask again).
    public mutating func takeToldAbsent(uid: UInt32) -> [Int32] {
        Array(toldAbsent.removeValue(forKey: uid) ?? []).sorted()
    }

    /// Client `fd` of `uid` was answered ENOENT: it learns of the next supplicant of its uid.
    public mutating func noteAbsent(uid: UInt32, fd: Int32) {
        toldAbsent[uid, default: []].insert(fd)
    }

    /// Connection `fd` stops serving (SUPP_DETACH or it closed): the offers it held, whose clients
    /// are to be answered ENOENT. Nothing for a connection that was not a supplicant.
    public mutating func detach(fd: Int32) -> [Offer] {
        var dropped: [Offer] = []
        if let uid = uidOf.removeValue(forKey: fd), supplicants[uid] == fd { supplicants[uid] = nil }
        for (token, o) in offers where o.supplicant == fd {
            offers[token] = nil
            dropped.append(o)
        }
        return dropped
    }

    /// A connection closed: the offers made for it or to it, all dropped (the caller closes their
    /// client ends and answers ENOENT to the clients still connected: those other than `fd`).
    public mutating func closed(fd: Int32) -> [Offer] {
        var dropped: [Offer] = []
        for uid in Array(toldAbsent.keys) {
            toldAbsent[uid]?.remove(fd)
            if toldAbsent[uid]?.isEmpty == true { toldAbsent[uid] = nil }
        }
        for (token, o) in offers where o.client == fd { offers[token] = nil; dropped.append(o) }
        return dropped + detach(fd: fd)
    }

    /// The supplicant a client connection `fd` of `uid` may be offered to: nil (ENOENT) when its uid
    /// has none, the client is that supplicant itself, or the supplicant has too many offers
    /// outstanding. Never another uid's supplicant.
    public func route(uid: UInt32, fd: Int32) -> Int32? {
        guard let s = supplicants[uid], s != fd else { return nil }
        guard offers.values.filter({ $0.supplicant == s }).count < Self.maxOffersPerSupplicant else { return nil }
        return s
    }

    /// Records an offer to the supplicant `route` named; returns its token.
    public mutating func offer(client fd: Int32, to supplicant: Int32, clientEnd: Int32) -> UInt64 {
        let token = nextToken
        nextToken &+= 1
        offers[token] = Offer(client: fd, supplicant: supplicant, clientEnd: clientEnd, uid: uidOf[supplicant] ?? 0)
        return token
    }

    /// Supplicant `fd` answered offer `token`: the offer, or nil when the token is unknown or was
    /// offered to another connection (a forged or stale ACK changes nothing).
    public mutating func acknowledge(token: UInt64, from fd: Int32) -> Offer? {
        guard let o = offers[token], o.supplicant == fd else { return nil }
        offers[token] = nil
        return o
    }

    /// True when `fd` is an attached supplicant (exempt from the idle timeout: it serves others).
    public func isSupplicant(_ fd: Int32) -> Bool { uidOf[fd] != nil }
}
