/// TEE UUIDs: conversions between the RFC 4122 string, GP `TEEC_UUID` fields and OP-TEE octets.

/// A UUID kept as its 16 RFC 4122 octets (big-endian fields), as OP-TEE's tee_uuid_from_octets reads them.
public struct TEEUUID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 16 octets, most significant first.
    public let octets: [UInt8]

    /// The nil UUID.
    public static let zero = TEEUUID(octets: [UInt8](repeating: 0, count: 16))

    /// From 16 octets; shorter input is zero-padded, longer truncated.
    public init(octets: [UInt8]) {
        var o = Array(octets.prefix(16))
        o += [UInt8](repeating: 0, count: 16 - o.count)
        self.octets = o
    }

    /// From GP TEEC_UUID fields.
    public init(timeLow: UInt32, timeMid: UInt16, timeHiAndVersion: UInt16, clockSeqAndNode: [UInt8]) {
        var o: [UInt8] = []
        o += [UInt8(timeLow >> 24), UInt8((timeLow >> 16) & 0xFF), UInt8((timeLow >> 8) & 0xFF), UInt8(timeLow & 0xFF)]
        o += [UInt8(timeMid >> 8), UInt8(timeMid & 0xFF), UInt8(timeHiAndVersion >> 8), UInt8(timeHiAndVersion & 0xFF)]
        o += Array(clockSeqAndNode.prefix(8)) + [UInt8](repeating: 0, count: max(0, 8 - clockSeqAndNode.count))
        self.init(octets: o)
    }

    /// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (case-insensitive).
    public init(_ string: String) throws(ABIError) {
        let s = Array(string.utf8)
        guard s.count == 36, s[8] == 0x2D, s[13] == 0x2D, s[18] == 0x2D, s[23] == 0x2D else { throw .badUUID(string) }
        var o: [UInt8] = []
        var i = 0
        while i < 36 {
            if s[i] == 0x2D { i += 1; continue }
            guard i + 1 < 36, let hi = Self.nibble(s[i]), let lo = Self.nibble(s[i + 1]) else { throw .badUUID(string) }
            o.append(hi << 4 | lo); i += 2
        }
        guard o.count == 16 else { throw .badUUID(string) }
        self.octets = o
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }

    /// GP TEEC_UUID.timeLow.
    public var timeLow: UInt32 { octets[0..<4].reduce(0) { $0 << 8 | UInt32($1) } }
    /// GP TEEC_UUID.timeMid.
    public var timeMid: UInt16 { UInt16(octets[4]) << 8 | UInt16(octets[5]) }
    /// GP TEEC_UUID.timeHiAndVersion.
    public var timeHiAndVersion: UInt16 { UInt16(octets[6]) << 8 | UInt16(octets[7]) }
    /// GP TEEC_UUID.clockSeqAndNode.
    public var clockSeqAndNode: [UInt8] { Array(octets[8..<16]) }

    /// The 16 bytes of a C `TEEC_UUID` in host (little-endian) memory order.
    public var teecUUIDBytes: [UInt8] {
        let tl = timeLow, tm = timeMid, th = timeHiAndVersion
        return [UInt8(tl & 0xFF), UInt8((tl >> 8) & 0xFF), UInt8((tl >> 16) & 0xFF), UInt8(tl >> 24),
                UInt8(tm & 0xFF), UInt8(tm >> 8), UInt8(th & 0xFF), UInt8(th >> 8)] + clockSeqAndNode
    }
    /// From the 16 bytes of a C `TEEC_UUID` in host (little-endian) memory order.
    public init(teecUUIDBytes b: [UInt8]) {
        let b = b.count >= 16 ? b : b + [UInt8](repeating: 0, count: 16 - b.count)
        self.init(timeLow: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24,
                  timeMid: UInt16(b[4]) | UInt16(b[5]) << 8, timeHiAndVersion: UInt16(b[6]) | UInt16(b[7]) << 8,
                  clockSeqAndNode: Array(b[8..<16]))
    }

    /// The four 32-bit words as OP-TEE returns a UUID in a0..a3 (GET_OS_UUID / CALLS_UID).
    public var registerWords: (UInt32, UInt32, UInt32, UInt32) {
        func w(_ i: Int) -> UInt32 { octets[i..<i + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        return (w(0), w(4), w(8), w(12))
    }
    /// From four words in a0..a3, as OP-TEE returns UUIDs from fast calls.
    public init(registerWords w: (UInt32, UInt32, UInt32, UInt32)) {
        var o: [UInt8] = []
        for x in [w.0, w.1, w.2, w.3] { o += [UInt8(x >> 24), UInt8((x >> 16) & 0xFF), UInt8((x >> 8) & 0xFF), UInt8(x & 0xFF)] }
        self.init(octets: o)
    }

    /// Lower-case RFC 4122 form.
    public var description: String {
        let h = octets.map { b -> String in let s = String(b, radix: 16); return s.count == 1 ? "0" + s : s }
        return h[0..<4].joined() + "-" + h[4..<6].joined() + "-" + h[6..<8].joined() + "-" + h[8..<10].joined() + "-" + h[10..<16].joined()
    }

    /// Orders UUIDs by their octets.
    public static func < (l: TEEUUID, r: TEEUUID) -> Bool { l.octets.lexicographicallyPrecedes(r.octets) }

    /// Linux's namespace for client UUIDv5 (58ac9ca0-2086-4683-a1b8-ec4bc08e01b6).
    public static let clientNamespace = TEEUUID(octets: [0x58, 0xAC, 0x9C, 0xA0, 0x20, 0x86, 0x46, 0x83, 0xA1, 0xB8, 0xEC, 0x4B, 0xC0, 0x8E, 0x01, 0xB6])
    /// OP-TEE API UID (CALLS_UID).
    public static let opteeAPI = TEEUUID(registerWords: OPTEEIdentity.apiUID)
    /// OP-TEE OS UUID (GET_OS_UUID).
    public static let opteeOS = TEEUUID(registerWords: OPTEEIdentity.osUUID)
}
