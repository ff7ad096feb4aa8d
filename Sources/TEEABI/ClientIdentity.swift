/// Client identities of OPEN_SESSION logins, named once for every layer that computes them (the
/// client library and the daemon): UUIDv5 (SHA-1, RFC 4122 section 4.3) of "uid=%x", "gid=%x",
/// "app=<path>" and their combinations in Linux's TEE client namespace, as tee_core.c's
/// tee_session_calc_client_uuid does. Pure computation: no world, no memory.

/// SHA-1 (FIPS 180-4), here only to name UUIDv5 identities (not for security).
public struct SHA1: Sendable {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    private var block: [UInt8] = []
    private var length: UInt64 = 0

    /// A fresh hash.
    public init() { block.reserveCapacity(64) }

    /// Feeds `bytes`.
    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes {
            block.append(b)
            length &+= 1
            if block.count == 64 { compress(); block.removeAll(keepingCapacity: true) }
        }
    }

    /// The 20-byte digest of everything fed (the hash itself is consumed).
    public consuming func finalize() -> [UInt8] {
        let bits = length &* 8
        block.append(0x80)
        if block.count > 56 {
            while block.count < 64 { block.append(0) }
            compress(); block.removeAll(keepingCapacity: true)
        }
        while block.count < 56 { block.append(0) }
        for i in (0..<8).reversed() { block.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        compress()
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for w in [h.0, h.1, h.2, h.3, h.4] {
            out.append(UInt8(w >> 24)); out.append(UInt8(truncatingIfNeeded: w >> 16))
            out.append(UInt8(truncatingIfNeeded: w >> 8)); out.append(UInt8(truncatingIfNeeded: w))
        }
        return out
    }

    /// The digest of `bytes`.
    public static func digest<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var s = SHA1()
        s.update(bytes)
        return s.finalize()
    }

    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }

    /// One 64-byte block (`block` is full).
    private mutating func compress() {
        var w = [UInt32](repeating: 0, count: 80)
        for t in 0..<16 {
            w[t] = UInt32(block[4 * t]) << 24 | UInt32(block[4 * t + 1]) << 16 | UInt32(block[4 * t + 2]) << 8 | UInt32(block[4 * t + 3])
        }
        for t in 16..<80 { w[t] = Self.rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
        var (a, b, c, d, e) = h
        for t in 0..<80 {
            let f: UInt32, k: UInt32
            switch t {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
            default: f = b ^ c ^ d; k = 0xCA62_C1D6
            }
            let temp = Self.rotl(a, 5) &+ f &+ e &+ k &+ w[t]
            e = d; d = c; c = Self.rotl(b, 30); b = a; a = temp
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
    }
}

/// Names and UUIDs of OPEN_SESSION client identities (Linux tee_session_calc_client_uuid; the
/// application variants follow the proposed "app=" extension with the executable's path).
public enum ClientIdentity {
    /// UUIDv5 of `name` in `namespace` (default: Linux's TEE client namespace), as uuid_v5() in tee_core.c.
    public static func uuidV5(_ name: String, namespace: TEEUUID = .clientNamespace) -> TEEUUID {
        var h = SHA1()
        h.update(namespace.octets)
        h.update(name.utf8)
        var b = Array(h.finalize().prefix(16))
        b[6] = (b[6] & 0x0F) | 0x50
        b[8] = (b[8] & 0x3F) | 0x80
        return TEEUUID(octets: b)
    }

    /// The name hashed for `login` of a client with effective `uid`, group `gid` (the group the
    /// login names) and executable `application`: "uid=%x", "gid=%x", "app=<path>",
    /// "uid=%x:app=<path>", "gid=%x:app=<path>". nil for PUBLIC, for methods with no name, and for
    /// the application methods when the executable is unknown (nil): never a guessable name.
    public static func name(for login: LoginMethod, uid: UInt32, gid: UInt32, application: String?) -> String? {
        let u = "uid=" + String(uid, radix: 16), g = "gid=" + String(gid, radix: 16)
        switch login {
        case .user: return u
        case .group: return g
        case .application: return application.map { "app=" + $0 }
        case .applicationUser: return application.map { u + ":app=" + $0 }
        case .applicationGroup: return application.map { g + ":app=" + $0 }
        default: return nil
        }
    }

    /// The client UUID for `login`: the nil UUID for PUBLIC, UUIDv5 of the login's name for the
    /// user/group/application methods, nil for any other method or an application method without
    /// a known executable (the caller refuses it).
    public static func uuid(for login: LoginMethod, uid: UInt32, gid: UInt32, application: String?) -> TEEUUID? {
        if login == .public { return .zero }
        return name(for: login, uid: uid, gid: gid, application: application).map { uuidV5($0) }
    }
}
