// TEE_BigInt arithmetic as TACrypto computes it for C TAs: mbedtls/OP-TEE semantics for signs,
// truncated division, reductions into [0, n), and the refusals libvteeta turns into panics.
import BigInt
import Testing
@testable import TACrypto

@Suite struct BigIntArithTests {
    func run(_ op: BigIntOperation, _ xs: [BigInt], scalar: UInt64 = 0) throws -> [BigInt] {
        try BigIntArith.compute(op, xs, scalar: scalar).values
    }

    @Test func signed_add_sub_mul_follow_integer_arithmetic() throws {
        #expect(try run(.add, [-5, 3]) == [-2])
        #expect(try run(.sub, [3, 10]) == [-7])
        let big = BigInt(1) << 300
        #expect(try run(.mul, [big, -big]) == [-(BigInt(1) << 600)])
    }

    @Test func division_truncates_toward_zero_and_the_remainder_takes_the_dividend_sign() throws {
        #expect(try run(.div, [-7, 2]) == [-3, -1])
        #expect(try run(.div, [7, -2]) == [-3, 1])
        #expect(throws: BigIntError.divisionByZero) { try run(.div, [7, 0]) }
    }

    @Test func modular_results_are_never_negative() throws {
        #expect(try run(.mod, [-7, 5]) == [3])
        #expect(try run(.subMod, [2, 9, 7]) == [0])
        #expect(try run(.subMod, [2, 10, 7]) == [6])
        #expect(try run(.addMod, [6, 6, 7]) == [5])
        #expect(try run(.mulMod, [-3, 4, 7]) == [2])
        #expect(throws: BigIntError.modulusTooSmall) { try run(.mod, [5, 1]) }
        #expect(throws: BigIntError.negativeValue) { try run(.mulMod, [5, 1, -7]) }
    }

    @Test func inverse_and_exponentiation_match_fermat() throws {
        // p = 2^127 - 1 is a Mersenne prime: a^(p-1) = 1 and a * a^-1 = 1 (mod p).
        let p = (BigInt(1) << 127) - 1
        let a = BigInt(123_456_789)
        #expect(try run(.expMod, [a, p - 1, p]) == [1])
        let inv = try run(.invMod, [a, p])[0]
        #expect((a * inv).modulus(p) == 1)
        #expect(throws: BigIntError.notInvertible) { try run(.invMod, [6, 9]) }
        #expect(throws: BigIntError.evenModulus) { try run(.expMod, [3, 5, 10]) }
        #expect(throws: BigIntError.modulusTooSmall) { try run(.expMod, [3, 5, 2]) }
    }

    @Test func extended_gcd_gives_bezout_coefficients_for_signed_operands() throws {
        for (x, y) in [(BigInt(240), BigInt(46)), (-240, 46), (17, -5), (0, 9), (12, 12)] {
            let r = try run(.extendedGcd, [x, y])
            #expect(r[0] == BigInt(x.magnitude.greatestCommonDivisor(with: y.magnitude)))
            #expect(r[1] * x + r[2] * y == r[0])
        }
        #expect(try BigIntArith.compute(.relativePrime, [35, 64]).scalar == 1)
        #expect(try BigIntArith.compute(.relativePrime, [35, 65]).scalar == 0)
    }

    @Test func primality_and_shift() throws {
        #expect(try BigIntArith.compute(.probablePrime, [(BigInt(1) << 127) - 1], scalar: 80).scalar == 1)
        #expect(try BigIntArith.compute(.probablePrime, [(BigInt(1) << 127) + 1], scalar: 80).scalar == 0)
        #expect(try BigIntArith.compute(.probablePrime, [-7]).scalar == 0)
        #expect(try run(.shiftRight, [-1025], scalar: 3) == [-128])
        #expect(try run(.shiftRight, [-5], scalar: 9) == [0])
    }

    @Test func byte_conversions_round_trip() {
        let n = BigUInt(bigEndian: [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(n.bigEndianBytes == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(n.bigEndianBytes(count: 12) == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(n.bigEndianBytes(count: 8) == nil)
        #expect(BigUInt(bigEndian: []).bigEndianBytes.isEmpty)
    }

    @Test func wrong_operand_count_is_refused() {
        #expect(throws: BigIntError.malformed) { try run(.expMod, [1, 2]) }
    }
}

@Suite struct BigIntWireTests {
    @Test func a_hostile_operand_longer_than_the_largest_tee_bigint_is_refused_before_any_work() {
        let huge = WireBigInt(negative: false, magnitude: [UInt8](repeating: 0xFF, count: BigIntArith.maxOperandBytes + 1))
        #expect(throws: BigIntError.malformed) {
            try BigIntArith.compute(.expMod, wire: [huge, huge, WireBigInt(negative: false, magnitude: [7])], scalar: 0)
        }
    }

    @Test func wire_values_keep_sign_and_never_send_negative_zero() throws {
        let r = try BigIntArith.compute(.sub, wire: [WireBigInt(negative: false, magnitude: [1]), WireBigInt(negative: false, magnitude: [0, 3])], scalar: 0)
        #expect(r.values == [WireBigInt(negative: true, magnitude: [2])])
        let z = try BigIntArith.compute(.mul, wire: [WireBigInt(negative: true, magnitude: [5]), WireBigInt(negative: false, magnitude: [])], scalar: 0)
        #expect(z.values == [WireBigInt(negative: false, magnitude: [])])
    }
}
