// The GP arithmetical API in a C TA built with the exported dev kit (Tests/TASDKTests/CTAs/arith):
// the TA runs TEE_BigInt functions on operands sent by the client; results are checked against
// published facts (the 1024-bit MODP prime of RFC 2409/7296 is a safe prime with generator 2 of
// order q = (p-1)/2) and small values worked by hand; misuse ends the TA as libutee's panics do.
import Foundation
import TEEABI
import TEEClient
import Testing

/// A signed value for the arith TA: sign and big-endian magnitude.
struct ArithValue: Equatable, Sendable, CustomStringConvertible {
    var negative = false
    var magnitude: [UInt8]
    init(_ v: Int64) {
        negative = v < 0
        var m = v.magnitude, out: [UInt8] = []
        while m > 0 { out.insert(UInt8(m & 0xFF), at: 0); m >>= 8 }
        magnitude = out
    }
    init(hex: String, negative: Bool = false) {
        let h = Array(hex.filter { !$0.isWhitespace }.utf8)
        var out: [UInt8] = []
        var i = h.count % 2 == 1 ? -1 : 0
        while i < h.count {
            let hi = i < 0 ? 0 : UInt8(String(UnicodeScalar(h[i])), radix: 16) ?? 0
            let lo = UInt8(String(UnicodeScalar(h[i + 1])), radix: 16) ?? 0
            out.append(hi << 4 | lo); i += 2
        }
        magnitude = Array(out.drop(while: { $0 == 0 }))
        self.negative = negative && !magnitude.isEmpty
    }
    init(negative: Bool, magnitude: [UInt8]) { self.negative = negative; self.magnitude = Array(magnitude.drop(while: { $0 == 0 })) }
    var description: String { (negative ? "-" : "") + magnitude.map { String(format: "%02x", $0) }.joined() }
}

enum ArithFn: UInt32, Sendable {
    case add = 1, sub, mul, square, div, mod, addMod, subMod, mulMod, squareMod, invMod, expMod, egcd, relPrime, prime
    case shiftRight, neg, abs, cmp, bits, fmm, toS32, fromS32, toOctets, setBit, initHuge
}

extension ProcessTATests {
    static let arithUUID = "b16127a0-5a1e-4c0d-9e7f-61a2b3c4d5e6"
    /// RFC 2409 / RFC 7296 appendix B.2: the 1024-bit MODP group's prime (generator 2).
    static let modp1024 = ArithValue(hex: """
        FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22
        514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6
        F44C42E9 A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381
        FFFFFFFF FFFFFFFF
        """)

    /// Runs `fn` in the TA; returns the result values and the two scalars.
    static func arith(_ s: TEESession, _ fn: ArithFn, _ xs: [ArithValue], destBits: UInt32 = 0) throws -> (values: [ArithValue], a: UInt32, b: UInt32) {
        var input: [UInt8] = []
        for x in xs {
            input += [x.negative ? 0xFF : 1, UInt8(x.magnitude.count >> 8), UInt8(x.magnitude.count & 0xFF)] + x.magnitude
        }
        var op = TEEOperation([.valueInput(a: fn.rawValue, b: destBits), .tempInput(input),
                               .tempOutput([UInt8](repeating: 0, count: 2048), size: 2048), .valueOutput()])
        try s.invoke(0, &op)
        let out = Array(op[2].buffer.prefix(op[2].size))
        var values: [ArithValue] = [], i = 0
        while i + 3 <= out.count {
            let n = Int(out[i + 1]) << 8 | Int(out[i + 2])
            // A malformed answer fails this test; it must not trap and take the whole run down.
            guard i + 3 + n <= out.count else {
                Issue.record("\(fn): value at \(i) claims \(n) bytes, \(out.count - i - 3) left"); break
            }
            values.append(ArithValue(negative: out[i] == 0xFF, magnitude: Array(out[(i + 3)..<(i + 3 + n)])))
            i += 3 + n
        }
        return (values, op[3].value.a, op[3].value.b)
    }

    @Test func aDevKitBuiltTAComputesWithTheArithmeticalAPI() throws {
        let (stack, guest, runner) = try Self.machine(taDir: try Self.arithTAs())
        defer { stack.removeGuest(guest) }
        let s = try guest.context.openSession(try TEEUUID(Self.arithUUID))
        func v(_ x: Int64) -> ArithValue { ArithValue(x) }
        func run(_ fn: ArithFn, _ xs: [ArithValue]) throws -> [ArithValue] { try Self.arith(s, fn, xs).values }

        // Signed arithmetic with mbedtls/OP-TEE's conventions (truncated division).
        #expect(try run(.add, [v(-5), v(3)]) == [v(-2)])
        #expect(try run(.sub, [v(3), v(10)]) == [v(-7)])
        #expect(try run(.mul, [v(-0x1_0000_0001), v(0x1_0000_0001)]) == [ArithValue(hex: "10000000200000001", negative: true)])
        #expect(try run(.square, [v(-12345)]) == [v(152_399_025)])
        #expect(try run(.div, [v(-7), v(2)]) == [v(-3), v(-1)])
        #expect(try run(.mod, [v(-7), v(5)]) == [v(3)])
        #expect(try run(.addMod, [v(6), v(6), v(7)]) == [v(5)])
        #expect(try run(.subMod, [v(2), v(10), v(7)]) == [v(6)])
        #expect(try run(.mulMod, [v(-3), v(4), v(7)]) == [v(2)])
        #expect(try run(.squareMod, [v(10), v(7)]) == [v(2)])
        #expect(try run(.invMod, [v(3), v(7)]) == [v(5)])
        #expect(try run(.fmm, [v(1_000_003), v(999_983), v(65_537)]) == [v(1_000_003 * 999_983 % 65_537)])
        let egcd = try run(.egcd, [v(240), v(46)])
        #expect(egcd[0] == v(2))
        #expect(try Self.arith(s, .relPrime, [v(35), v(64)]).a == 1)
        #expect(try Self.arith(s, .relPrime, [v(35), v(65)]).a == 0)
        #expect(try run(.shiftRight, [v(-1025), v(3)]) == [v(-128)])
        #expect(try run(.neg, [v(42)]) == [v(-42)])
        #expect(try run(.abs, [v(-42)]) == [v(42)])
        #expect(try Self.arith(s, .cmp, [v(-5), v(3)]).a == UInt32(bitPattern: -1))
        #expect(try Self.arith(s, .cmp, [v(0x1_0000_0000), v(0xFFFF_FFFF)]).a == 1)
        // Bit access: 0x80000001 has 32 bits, bit 0 and bit 31 set, nothing past the top.
        let bits = try Self.arith(s, .bits, [v(0x8000_0001)])
        #expect(bits.a == 32 && bits.b == 0b011)
        // s32 conversions: the edges of int32_t and one past them.
        #expect(try Self.arith(s, .toS32, [v(-2_147_483_648)]).b == UInt32(bitPattern: Int32.min))
        #expect(try Self.arith(s, .toS32, [v(2_147_483_648)]).a == TEEResult.overflow.rawValue)
        #expect(try Self.arith(s, .fromS32, [v(-77)]).values == [v(-77)])
        // Octet strings: SHORT_BUFFER with the size needed.
        let short = try Self.arith(s, .toOctets, [Self.modp1024, v(100)])
        #expect(short.a == TEEResult.shortBuffer.rawValue && short.b == 128)
        // SetBit past the destination's room is OVERFLOW (a 64-bit destination holds bits 0..63).
        #expect(try Self.arith(s, .setBit, [v(1), v(63)], destBits: 64).values == [ArithValue(hex: "8000000000000001")])
        #expect(try Self.arith(s, .setBit, [v(1), v(64)], destBits: 64).a == TEEResult.overflow.rawValue)

        // RFC 2409's 1024-bit MODP prime is a safe prime, and 2 has order q = (p-1)/2.
        let p = Self.modp1024
        #expect(try Self.arith(s, .prime, [p]).a == 1)
        let q = try run(.shiftRight, [try run(.sub, [p, v(1)])[0], v(1)])[0]
        #expect(try Self.arith(s, .prime, [q]).a == 1)
        #expect(try Self.arith(s, .prime, [try run(.add, [q, v(2)])[0]]).a == 0)
        #expect(try run(.expMod, [v(2), q, p]) == [v(1)])
        #expect(try run(.expMod, [v(2), v(10), p]) == [v(1024)])
        let inv = try run(.invMod, [v(2), p])[0]
        #expect(try run(.mulMod, [inv, v(2), p]) == [v(1)])
        // An even modulus is NOT_SUPPORTED for ExpMod, as OP-TEE answers.
        #expect(try Self.arith(s, .expMod, [v(3), v(5), v(10)]).a == TEEResult.notSupported.rawValue)
        s.close()
        #expect(runner.processCount == 0)
    }

    /// Misuses of the arithmetical API that libutee answers with a panic.
    enum Misuse: CaseIterable, Sendable {
        case resultTooSmall, divisionByZero, modulusBelowTwo, noInverse, invertingZero, negativeExponent, tooLargeInit
        var call: (ArithFn, [ArithValue], UInt32) {
            switch self {
            case .resultTooSmall: (.mul, [ArithValue(hex: "FFFFFFFFFFFFFFFF"), ArithValue(hex: "FFFFFFFFFFFFFFFF")], 64)
            case .divisionByZero: (.div, [ArithValue(7), ArithValue(0)], 0)
            case .modulusBelowTwo: (.mod, [ArithValue(7), ArithValue(1)], 0)
            case .noInverse: (.invMod, [ArithValue(6), ArithValue(9)], 0)
            case .invertingZero: (.invMod, [ArithValue(0), ArithValue(9)], 0)
            case .negativeExponent: (.expMod, [ArithValue(3), ArithValue(-1), ArithValue(7)], 0)
            case .tooLargeInit: (.initHuge, [], 0)
            }
        }
    }

    @Test(arguments: Misuse.allCases)
    func anArithmeticMisuseEndsTheTAAsLibuteePanics(_ misuse: Misuse) throws {
        let (stack, guest, runner) = try Self.machine(taDir: try Self.arithTAs())
        defer { stack.removeGuest(guest) }
        let s = try guest.context.openSession(try TEEUUID(Self.arithUUID))
        let (fn, xs, destBits) = misuse.call
        #expect(throws: TEEError(.targetDead, origin: .tee)) { _ = try Self.arith(s, fn, xs, destBits: destBits) }
        s.close()
        #expect(runner.processCount == 0)
    }

    /// The arith TA, built once for all the tests that need it.
    static func arithTAs() throws -> String { try arithBuild.get() }
    private static let arithBuild: Result<String, any Error> = Result { try buildCTA("arith", uuid: arithUUID) }
}
