/// hotp against RFC 4226 appendix D and optee_examples.tsv.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

@Suite struct HOTPTATests {
    static let rfcKey = Array("12345678901234567890".utf8)
    static let rfcValues: [UInt32] = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489]

    func register(_ h: TAHarness, _ key: [UInt8]) async throws -> TEEResult {
        try await h.invoke(0, params(HOTPTA.registerParamTypes, [mem(key)])).0
    }
    func next(_ h: TAHarness) async throws -> (TEEResult, UInt32) {
        let (r, p) = try await h.invoke(1, params(HOTPTA.getParamTypes, [val(0)]))
        return (r, p.value(0).a)
    }

    @Test func tenCallsReturnTheRFC4226Vectors() async throws {
        let h = try await TAHarness(BuiltinTAs.hotp)
        #expect(h.openResult == .success)
        #expect(try await register(h, Self.rfcKey) == .success)
        var got: [UInt32] = []
        for _ in 0..<10 {
            let (r, v) = try await next(h)
            #expect(r == .success)
            got.append(v)
        }
        #expect(got == Self.rfcValues)
    }

    @Test func counterIsPerSessionAndStartsAtZero() async throws {
        let a = try await TAHarness(BuiltinTAs.hotp)
        let b = try await TAHarness(BuiltinTAs.hotp)
        #expect(try await register(a, Self.rfcKey) == .success)
        #expect(try await register(b, Self.rfcKey) == .success)
        #expect(try await next(a).1 == Self.rfcValues[0])
        #expect(try await next(a).1 == Self.rfcValues[1])
        #expect(try await next(b).1 == Self.rfcValues[0])
    }

    @Test func reregisteringKeepsTheCounter() async throws {
        let h = try await TAHarness(BuiltinTAs.hotp)
        #expect(try await register(h, Self.rfcKey) == .success)
        _ = try await next(h)
        #expect(try await register(h, Self.rfcKey) == .success)
        #expect(try await next(h).1 == Self.rfcValues[1])
    }

    @Test func keyLongerThan64BytesIsRefusedAtRegistration() async throws {
        let h = try await TAHarness(BuiltinTAs.hotp)
        #expect(try await register(h, [UInt8](repeating: 1, count: 65)) == .badParameters)
        #expect(try await register(h, [UInt8](repeating: 1, count: 64)) == .success)
    }

    @Test func missingOrShortKeyFailsGetButStillAdvancesTheCounter() async throws {
        let h = try await TAHarness(BuiltinTAs.hotp)
        #expect(try await next(h).0 == .badParameters)  // no key registered
        #expect(try await register(h, Array("123456789".utf8)) == .success)  // 9 bytes: accepted here
        #expect(try await next(h).0 == .badParameters)  // but the HMAC step refuses it
        #expect(try await register(h, Self.rfcKey) == .success)
        #expect(try await next(h).1 == Self.rfcValues[2])  // two failed calls counted
    }

    @Test func paramTypeMismatchAndUnknownCommandAnswerBadParameters() async throws {
        let h = try await TAHarness(BuiltinTAs.hotp)
        #expect(try await h.invoke(0, params(GPParamTypes(.memrefInout), [mem(Self.rfcKey)])).0 == .badParameters)
        #expect(try await h.invoke(1, params(GPParamTypes(.valueInout), [val(0)])).0 == .badParameters)
        #expect(try await h.invoke(2, params(HOTPTA.getParamTypes, [val(0)])).0 == .badParameters)
        let refused = try await TAHarness(BuiltinTAs.hotp, openParams: params(GPParamTypes(.valueInput), [val(0)]))
        #expect(refused.openResult == .badParameters)
    }

    @Test func standaloneFunctionMatchesTheVectors() {
        for (i, v) in Self.rfcValues.enumerated() {
            #expect(HOTPTA.hotp(key: Self.rfcKey, counter: UInt64(i)) == v)
        }
        #expect(HOTPTA.hotp(key: [1, 2, 3], counter: 0) == nil)
    }
}
