/// The arithmetic behind GP's TEE_BigInt API (secure world, module TACrypto).
///
/// A C TA's TEE_BigInt lives in its own memory (OP-TEE's layout: a sign word, a 16-bit allocated
/// size and a 16-bit used size, then 32-bit limbs); libvteeta does the layout work (init, compare,
/// bit access, octet-string and s32 conversions) itself and forwards every arithmetic operation over
/// the TAChannel (requests 70..89) to these functions, which compute with attaswift/BigInt. Touches
/// no memory: TAHost decodes the operands from the request area and encodes the results back.
import BigInt

/// One arithmetic operation of the TEE_BigInt API; the raw value is its TAChannel request number.
public enum BigIntOperation: UInt32, Sendable, CaseIterable {
    /// op1 + op2.
    case add = 70
    /// op1 - op2.
    case sub = 71
    /// op1 * op2 (also TEE_BigIntSquare).
    case mul = 72
    /// Truncated division: quotient and remainder (remainder takes op1's sign).
    case div = 73
    /// op mod n, in [0, n).
    case mod = 74
    /// (op1 + op2) mod n.
    case addMod = 75
    /// (op1 - op2) mod n.
    case subMod = 76
    /// (op1 * op2) mod n (also SquareMod and ComputeFMM).
    case mulMod = 77
    /// op^-1 mod n.
    case invMod = 78
    /// op1^op2 mod n (n odd).
    case expMod = 79
    /// gcd(op1, op2) and Bezout coefficients u, v with u*op1 + v*op2 = gcd.
    case extendedGcd = 80
    /// 1 when op is probably prime, else 0 (the scalar result).
    case probablePrime = 81
    /// op >> bits on the magnitude, keeping the sign (bits: the scalar argument).
    case shiftRight = 82
    /// 1 when gcd(op1, op2) == 1, else 0 (the scalar result).
    case relativePrime = 83

    /// How many big-integer operands the operation takes.
    public var operandCount: Int {
        switch self {
        case .add, .sub, .mul, .div, .mod, .invMod, .extendedGcd, .relativePrime: 2
        case .addMod, .subMod, .mulMod, .expMod: 3
        case .probablePrime, .shiftRight: 1
        }
    }
}

/// Why an arithmetic request was refused; libvteeta panics the TA for all but `evenModulus`.
public enum BigIntError: Error, Equatable, Sendable {
    /// The request's operands were malformed (wrong count, too long, cut short).
    case malformed
    /// Division or reduction by zero.
    case divisionByZero
    /// A modulus below 2 (GP requires n >= 2).
    case modulusTooSmall
    /// A negative modulus or exponent.
    case negativeValue
    /// The operand has no inverse modulo n.
    case notInvertible
    /// TEE_BigIntExpMod with an even modulus (TEE_ERROR_NOT_SUPPORTED, as OP-TEE answers).
    case evenModulus
}

/// The TEE_BigInt arithmetic over attaswift/BigInt.
public enum BigIntArith {
    /// Largest operand magnitude accepted, in bytes: a TEE_BigInt of the largest size
    /// TEE_BigIntInit allows (510 limbs) fits; more is a hostile request, refused before any
    /// work (an exponentiation grows with the cube of the size).
    public static let maxOperandBytes = 2048

    /// Computes `op` over `operands` (count checked); `scalar` is the shift width or the primality
    /// confidence. Returns the big-integer results in the API's order and a scalar result.
    public static func compute(_ op: BigIntOperation, _ operands: [BigInt], scalar: UInt64 = 0) throws(BigIntError) -> (values: [BigInt], scalar: UInt64) {
        guard operands.count == op.operandCount else { throw .malformed }
        let a = operands[0]
        switch op {
        case .add: return ([a + operands[1]], 0)
        case .sub: return ([a - operands[1]], 0)
        case .mul: return ([a * operands[1]], 0)
        case .div:
            guard !operands[1].isZero else { throw .divisionByZero }
            let (q, r) = a.quotientAndRemainder(dividingBy: operands[1])
            return ([q, r], 0)
        case .mod:
            return ([try reduce(a, operands[1])], 0)
        case .addMod: return ([try reduce(a + operands[1], operands[2])], 0)
        case .subMod: return ([try reduce(a - operands[1], operands[2])], 0)
        case .mulMod: return ([try reduce(a * operands[1], operands[2])], 0)
        case .invMod:
            let n = operands[1]
            guard n >= 2 else { throw .modulusTooSmall }
            let r = try reduce(a, n)
            guard let inv = r.magnitude.inverse(n.magnitude) else { throw .notInvertible }
            return ([BigInt(inv)], 0)
        case .expMod:
            let (e, n) = (operands[1], operands[2])
            guard n > 2 else { throw .modulusTooSmall }
            guard n.magnitude[bitAt: 0] else { throw .evenModulus }
            guard e.sign == .plus || e.isZero else { throw .negativeValue }
            let base = try reduce(a, n)
            return ([BigInt(base.magnitude.power(e.magnitude, modulus: n.magnitude))], 0)
        case .extendedGcd:
            let (g, u, v) = extendedGcd(a, operands[1])
            return ([g, u, v], 0)
        case .relativePrime:
            return ([], a.magnitude.greatestCommonDivisor(with: operands[1].magnitude) == 1 ? 1 : 0)
        case .probablePrime:
            guard a.sign == .plus, a > 1 else { return ([], 0) }
            return ([], a.magnitude.isPrime(rounds: millerRabinRounds(bits: a.magnitude.bitWidth)) ? 1 : 0)
        case .shiftRight:
            let bits = Int(min(scalar, UInt64(maxOperandBytes * 8 + 1)))
            let m = a.magnitude >> bits
            return ([m.isZero ? 0 : BigInt(sign: a.sign, magnitude: m)], 0)
        }
    }

    /// Miller-Rabin rounds by size, as mbedtls (OP-TEE's libutee) chooses them for an error
    /// probability below 2^-80 on random candidates (FIPS 186-4 appendix C.3). GP's confidence
    /// level asks for at least 80 bits, which these counts give.
    static func millerRabinRounds(bits: Int) -> Int {
        switch bits {
        case 1300...: 2
        case 850...: 3
        case 650...: 4
        case 350...: 8
        case 250...: 12
        case 150...: 18
        default: 27
        }
    }

    /// x mod n in [0, n) (n >= 2).
    static func reduce(_ x: BigInt, _ n: BigInt) throws(BigIntError) -> BigInt {
        guard !n.isZero else { throw .divisionByZero }
        guard n.sign == .plus else { throw .negativeValue }
        guard n >= 2 else { throw .modulusTooSmall }
        let r = x.modulus(n)
        return r.sign == .minus && !r.isZero ? r + n : r
    }

    /// gcd(|a|, |b|) with Bezout coefficients for the signed a and b (extended Euclid over the
    /// library's division; the gcd itself is non-negative).
    static func extendedGcd(_ a: BigInt, _ b: BigInt) -> (BigInt, BigInt, BigInt) {
        var (r0, r1) = (BigInt(a.magnitude), BigInt(b.magnitude))
        var (s0, s1) = (BigInt(1), BigInt(0))
        var (t0, t1) = (BigInt(0), BigInt(1))
        while !r1.isZero {
            let q = r0 / r1
            (r0, r1) = (r1, r0 - q * r1)
            (s0, s1) = (s1, s0 - q * s1)
            (t0, t1) = (t1, t0 - q * t1)
        }
        if a.sign == .minus { s0.negate() }
        if b.sign == .minus { t0.negate() }
        return (r0, s0, t0)
    }
}

extension BigUInt {
    /// The unsigned integer of big-endian `bytes` (leading zeros allowed; empty = 0).
    public init(bigEndian bytes: [UInt8]) {
        var words: [UInt] = []
        words.reserveCapacity(bytes.count / 8 + 1)
        var i = bytes.count
        while i > 0 {
            var w: UInt = 0
            for j in Swift.max(0, i - 8)..<i { w = w << 8 | UInt(bytes[j]) }
            words.append(w)
            i -= 8
        }
        self.init(words: words)
    }

    /// Big-endian bytes without leading zeros (empty for 0).
    public var bigEndianBytes: [UInt8] {
        var out: [UInt8] = []
        for w in words.reversed() { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt(s))) } }
        return Array(out.drop(while: { $0 == 0 }))
    }

    /// Big-endian bytes left-padded with zeros to `count` (nil when the value needs more).
    public func bigEndianBytes(count: Int) -> [UInt8]? {
        let b = bigEndianBytes
        guard b.count <= count else { return nil }
        return [UInt8](repeating: 0, count: count - b.count) + b
    }
}

/// A signed big integer as it crosses the TAChannel: sign and big-endian magnitude.
public struct WireBigInt: Equatable, Sendable {
    /// True for a value below zero (never set for zero).
    public var negative: Bool
    /// Big-endian magnitude, no leading zeros required.
    public var magnitude: [UInt8]
    /// A wire value.
    public init(negative: Bool, magnitude: [UInt8]) { self.negative = negative; self.magnitude = magnitude }
}

extension BigIntArith {
    /// `compute` over wire values: what TAHost calls for a VTEE_REQ_BIGINT_* request.
    public static func compute(_ op: BigIntOperation, wire operands: [WireBigInt], scalar: UInt64) throws(BigIntError) -> (values: [WireBigInt], scalar: UInt64) {
        var xs: [BigInt] = []
        for o in operands {
            guard o.magnitude.count <= maxOperandBytes else { throw .malformed }
            let m = BigUInt(bigEndian: o.magnitude)
            xs.append(BigInt(sign: o.negative && !m.isZero ? .minus : .plus, magnitude: m))
        }
        let (values, s) = try compute(op, xs, scalar: scalar)
        return (values.map { WireBigInt(negative: $0.sign == .minus && !$0.isZero, magnitude: $0.magnitude.bigEndianBytes) }, s)
    }
}
