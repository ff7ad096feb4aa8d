/// The SMC register frame a0..a7 that crosses every world boundary.
///
/// SMC32 calls use the low 32 bits of each register; SMC64 calls (such as
/// TRNG_RND64) use all 64. `a7` carries the client (VM) id on OP-TEE calls.
public struct RegisterFrame: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Argument/result registers a0..a3.
    public var a0: UInt64, a1: UInt64, a2: UInt64, a3: UInt64
    /// Registers a4..a7 (a7: client id).
    public var a4: UInt64, a5: UInt64, a6: UInt64, a7: UInt64

    /// A frame with the given registers; unspecified ones are zero.
    @inlinable
    public init(a0: UInt64 = 0, a1: UInt64 = 0, a2: UInt64 = 0, a3: UInt64 = 0,
                a4: UInt64 = 0, a5: UInt64 = 0, a6: UInt64 = 0, a7: UInt64 = 0) {
        self.a0 = a0; self.a1 = a1; self.a2 = a2; self.a3 = a3
        self.a4 = a4; self.a5 = a5; self.a6 = a6; self.a7 = a7
    }

    /// A frame calling `function` with the given argument registers.
    @inlinable
    public init(_ function: SMCFunctionID, a1: UInt64 = 0, a2: UInt64 = 0, a3: UInt64 = 0,
                a4: UInt64 = 0, a5: UInt64 = 0, a6: UInt64 = 0, a7: UInt64 = 0) {
        self.init(a0: UInt64(function.rawValue), a1: a1, a2: a2, a3: a3, a4: a4, a5: a5, a6: a6, a7: a7)
    }

    /// Register `i` (0...7); out-of-range indices read as zero.
    public subscript(i: Int) -> UInt64 {
        get {
            switch i {
            case 0: a0; case 1: a1; case 2: a2; case 3: a3
            case 4: a4; case 5: a5; case 6: a6; case 7: a7
            default: 0
            }
        }
        set {
            switch i {
            case 0: a0 = newValue; case 1: a1 = newValue; case 2: a2 = newValue; case 3: a3 = newValue
            case 4: a4 = newValue; case 5: a5 = newValue; case 6: a6 = newValue; case 7: a7 = newValue
            default: break
            }
        }
    }

    /// The function id in a0 (low 32 bits, as SMC32 reads it).
    @inlinable public var function: SMCFunctionID { SMCFunctionID(rawValue: UInt32(truncatingIfNeeded: a0)) }

    /// Joins two 32-bit registers (high, low) into a 64-bit value, as OP-TEE's reg_pair_to_64.
    @inlinable public static func join(_ high: UInt64, _ low: UInt64) -> UInt64 {
        (UInt64(UInt32(truncatingIfNeeded: high)) << 32) | UInt64(UInt32(truncatingIfNeeded: low))
    }
    /// Splits a 64-bit value into (high, low) 32-bit registers, as OP-TEE's reg_pair_from_64.
    @inlinable public static func split(_ v: UInt64) -> (high: UInt64, low: UInt64) {
        (v >> 32, v & 0xFFFF_FFFF)
    }

    /// Puts a UUID's four 32-bit words in a0..a3, as OP-TEE answers CALLS_UID and GET_OS_UUID.
    public mutating func setUUIDWords(_ w: (UInt32, UInt32, UInt32, UInt32)) {
        a0 = UInt64(w.0); a1 = UInt64(w.1); a2 = UInt64(w.2); a3 = UInt64(w.3)
    }

    /// The frame as 64 little-endian bytes (a0 first), for mailboxes and traces.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        out.withUnsafeMutableBytes { b in for i in 0..<8 { LE.put(b, i * 8, self[i]) } }
        return out
    }
    /// Decodes 64 little-endian bytes; fewer bytes is `ABIError.truncated`.
    public init(bytes: some Collection<UInt8>) throws(ABIError) {
        let arr = Array(bytes)
        guard arr.count >= 64 else { throw .truncated(needed: 64, available: arr.count) }
        var f = RegisterFrame()
        arr.withUnsafeBytes { b in for i in 0..<8 { f[i] = LE.u64(b, i * 8) } }
        self = f
    }

    public var description: String {
        (0..<8).map { "a\($0)=\(hex(self[$0]))" }.joined(separator: " ")
    }
}
