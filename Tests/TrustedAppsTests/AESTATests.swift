/// aes against optee_examples.tsv: the host's round trips, streaming, AUTHENC and every error.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

@Suite struct AESTATests {
    static let key = [UInt8](repeating: 0xA5, count: 16)
    static let clear = [UInt8](repeating: 0x5A, count: 4096)

    func prepare(_ h: TAHarness, _ algo: UInt32, _ keySize: UInt32 = 16, _ mode: UInt32) async throws -> TEEResult {
        try await h.invoke(0, params(AESTA.prepareParamTypes, [val(algo), val(keySize), val(mode)])).0
    }
    func setKey(_ h: TAHarness, _ key: [UInt8]) async throws -> TEEResult {
        try await h.invoke(1, params(AESTA.bufferParamTypes, [mem(key)])).0
    }
    func setIV(_ h: TAHarness, _ iv: [UInt8]) async throws -> TEEResult {
        try await h.invoke(2, params(AESTA.bufferParamTypes, [mem(iv)])).0
    }
    func cipher(_ h: TAHarness, _ input: [UInt8], outSize: Int? = nil) async throws -> (TEEResult, [UInt8], Int) {
        let (r, p) = try await h.invoke(3, params(AESTA.cipherParamTypes, [mem(input), out(outSize ?? input.count)]))
        return (r, p.outBytes(1), p.memref(1)?.size ?? -1)
    }
    func authenc(_ h: TAHarness, _ input: [UInt8], encrypt: Bool, tag: [UInt8], outSize: Int? = nil) async throws -> (TEEResult, TAParams) {
        try await h.invoke(4, params(AESTA.authencParamTypes,
                                     [mem(input), out(outSize ?? input.count + 16), val(encrypt ? 1 : 0), mem(tag)]))
    }

    /// The optee_examples host flow: PREPARE, SET_KEY, SET_IV, CIPHER, then the same to decode.
    func hostRoundTrip(_ algo: AESAlgorithm) async throws -> [UInt8] {
        let h = try await TAHarness(BuiltinTAs.aes)
        let iv: [UInt8] = algo == .ecb ? [] : [UInt8](repeating: 0, count: 16)
        #expect(try await prepare(h, algo.rawValue, 16, 1) == .success)
        #expect(try await setKey(h, Self.key) == .success)
        #expect(try await setIV(h, iv) == .success)
        let (r1, ciph, n1) = try await cipher(h, Self.clear)
        #expect(r1 == .success && n1 == 4096)
        #expect(ciph != Self.clear)
        #expect(try await prepare(h, algo.rawValue, 16, 0) == .success)
        #expect(try await setKey(h, Self.key) == .success)
        #expect(try await setIV(h, iv) == .success)
        let (r2, temp, n2) = try await cipher(h, ciph)
        #expect(r2 == .success && n2 == 4096)
        #expect(temp == Self.clear, "Clear text and decoded text match")
        await h.close()
        return ciph
    }

    @Test func ctrHostFlowRoundTripsAndMatchesReferenceCiphertext() async throws {
        let c = try await hostRoundTrip(.ctr)
        #expect(Array(c.prefix(32)) == hexBytes("e428fef71f33dbb4c4a66d6996466f48a705d6de551767d2f2fc7287b5abb394"))
        #expect(Array(c.suffix(16)) == hexBytes("e2da95d0c3f01e9497487ec9c28a70eb"))
    }

    @Test func cbcHostFlowRoundTripsAndMatchesReferenceCiphertext() async throws {
        let c = try await hostRoundTrip(.cbc)
        #expect(Array(c.prefix(32)) == hexBytes("e950c367228fb9bd93b28eecb4a44c8b609cfeae73d659458a3753850f6dd21b"))
        #expect(Array(c.suffix(16)) == hexBytes("b94021ad39275cc2f4f1b0696bdd1cb5"))
    }

    @Test func ecbHostFlowRoundTripsAndMatchesReferenceCiphertext() async throws {
        let c = try await hostRoundTrip(.ecb)
        #expect(Array(c.prefix(16)) == hexBytes("e950c367228fb9bd93b28eecb4a44c8b"))
        #expect(Array(c[16..<32]) == Array(c.prefix(16)))  // ECB: equal blocks, equal output
    }

    @Test func nistSP80038AFirstBlocks() async throws {
        let key = hexBytes("2b7e151628aed2a6abf7158809cf4f3c")
        let p = hexBytes("6bc1bee22e409f96e93d7e117393172a")
        let cases: [(AESAlgorithm, [UInt8], String)] = [
            (.ecb, [], "3ad77bb40d7a3660a89ecaf32466ef97"),
            (.cbc, hexBytes("000102030405060708090a0b0c0d0e0f"), "7649abac8119b246cee98e9b12e9197d"),
            (.ctr, hexBytes("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), "874d6191b620e3261bef6864990db6ce"),
        ]
        for (algo, iv, expected) in cases {
            let h = try await TAHarness(BuiltinTAs.aes)
            #expect(try await prepare(h, algo.rawValue, 16, 1) == .success)
            #expect(try await setKey(h, key) == .success)
            #expect(try await setIV(h, iv) == .success)
            let (r, c, _) = try await cipher(h, p)
            #expect(r == .success)
            #expect(c == hexBytes(expected), "\(algo)")
        }
    }

    @Test func cbcWith256BitKeyDecryptsTheNISTVector() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        #expect(try await prepare(h, 1, 32, 0) == .success)
        #expect(try await setKey(h, hexBytes("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")) == .success)
        #expect(try await setIV(h, Array(0..<16)) == .success)
        let (r, p, n) = try await cipher(h, hexBytes("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"))
        #expect(r == .success && n == 32)
        #expect(p == hexBytes("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"))
    }

    @Test func ecbAcceptsANullIV() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(h, 0, 16, 1)
        let (r, _) = try await h.invoke(2, params(AESTA.bufferParamTypes, [.memref(TAMemref(bytes: [], isNull: true))]))
        #expect(r == .success)
        #expect(try await cipher(h, Self.clear).0 == .success)
    }

    @Test func streamingCipherCallsContinueTheCTRKeystreamAndCBCChain() async throws {
        for algo in [AESAlgorithm.ctr, .cbc] {
            let whole = try await hostRoundTrip(algo)
            let h = try await TAHarness(BuiltinTAs.aes)
            #expect(try await prepare(h, algo.rawValue, 16, 1) == .success)
            #expect(try await setKey(h, Self.key) == .success)
            #expect(try await setIV(h, [UInt8](repeating: 0, count: 16)) == .success)
            var pieces: [UInt8] = []
            for chunk in stride(from: 0, to: 4096, by: 1024) {
                let (r, c, _) = try await cipher(h, Array(Self.clear[chunk..<chunk + 1024]))
                #expect(r == .success)
                pieces += c
            }
            #expect(pieces == whole, "\(algo)")
        }
    }

    @Test func ctrStreamsOddSizesAndCBCBuffersPartialBlocks() async throws {
        let whole = try await hostRoundTrip(.ctr)
        let h = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(h, 2, 16, 1); _ = try await setKey(h, Self.key); _ = try await setIV(h, [UInt8](repeating: 0, count: 16))
        var got: [UInt8] = []
        var off = 0
        for n in [1, 15, 17, 100, 3963] {
            let (r, c, size) = try await cipher(h, Array(Self.clear[off..<off + n]))
            #expect(r == .success && size == n)
            got += c; off += n
        }
        #expect(got == whole)

        let cbc = try await hostRoundTrip(.cbc)
        let b = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(b, 1, 16, 1); _ = try await setKey(b, Self.key); _ = try await setIV(b, [UInt8](repeating: 0, count: 16))
        var (r, c, size) = try await cipher(b, Array(Self.clear[0..<20]))
        #expect(r == .success && size == 16 && c == Array(cbc[0..<16]))  // 4 bytes held back
        // 4 held + 12 new = one block, more than the 12-byte output: SHORT_BUFFER with the size.
        (r, c, size) = try await cipher(b, Array(Self.clear[20..<32]))
        #expect(r == .shortBuffer && size == 16)
        (r, c, size) = try await cipher(b, Array(Self.clear[20..<32]), outSize: 16)
        #expect(r == .success && size == 16 && c == Array(cbc[16..<32]))
        (r, c, size) = try await cipher(b, Array(Self.clear[32..<40]))
        #expect(r == .success && size == 0 && c.isEmpty)
    }

    @Test func ctrCounterCarriesAcross128Bits() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(h, 2, 16, 1); _ = try await setKey(h, Self.key)
        #expect(try await setIV(h, [UInt8](repeating: 0xFF, count: 16)) == .success)
        let (r, c, _) = try await cipher(h, [UInt8](repeating: 0, count: 48))
        #expect(r == .success)
        #expect(c == hexBytes("1de57dd70679f875fd93eaa7de1b08fcbe72a4ad456981ee9efc3733cc1c3512fd5f8c840f4d3d88a8a628ddeff1e9ce"))
    }

    @Test func aes256KeysWork() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        #expect(try await prepare(h, 4, 32, 1) == .success)
        #expect(try await setKey(h, Array(0..<32)) == .success)
        let (r, p) = try await authenc(h, Array(0..<40), encrypt: true, tag: [UInt8](repeating: 0, count: 16))
        #expect(r == .success)
        #expect(p.outBytes(1) + p.outBytes(3) == hexBytes("4703d418c1e0c41c85489d80bde4766293c79527e46e496b207eff9e01741ead21318cdf8be434bfa5a15cb7d628273c9c7e945deb95eb41"))
    }

    // MARK: AUTHENC

    func authencRoundTrip(_ algo: AESAlgorithm, expected: String) async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        let message = Array("TestCCMMessage".utf8)
        #expect(try await prepare(h, algo.rawValue, 16, 1) == .success)
        #expect(try await setKey(h, Self.key) == .success)
        let (r1, p1) = try await authenc(h, message, encrypt: true, tag: [UInt8](repeating: 0, count: 16))
        #expect(r1 == .success)
        let ct = p1.outBytes(1), tag = p1.outBytes(3)
        #expect(ct.count == message.count && tag.count == 16)
        #expect(ct + tag == hexBytes(expected), "\(algo)")
        #expect(try await prepare(h, algo.rawValue, 16, 0) == .success)
        #expect(try await setKey(h, Self.key) == .success)
        let (r2, p2) = try await authenc(h, ct, encrypt: false, tag: tag)
        #expect(r2 == .success)
        #expect(p2.outBytes(1) == message)
        var bad = tag; bad[0] ^= 1
        let (r3, _) = try await authenc(h, ct, encrypt: false, tag: bad)
        #expect(r3 == .macInvalid)
        var badCT = ct; badCT[3] ^= 0x80
        let (r4, _) = try await authenc(h, badCT, encrypt: false, tag: tag)
        #expect(r4 == .macInvalid)
    }

    @Test func gcmAuthencRoundTripsWithFixedNonceAndRejectsABadTag() async throws {
        try await authencRoundTrip(.gcm, expected: "cca57be3d9fe7df1ea494235b3b09c4cd340a272b625954debbd02993ce6")
    }

    @Test func ccmAuthencRoundTripsWithFixedNonceAndRejectsABadTag() async throws {
        try await authencRoundTrip(.ccm, expected: "038676ba8a1b208d53989c96e29f28f646ba4d0f218c05c7170326eb77e3")
    }

    @Test func ccmMatchesRFC3610PacketVector1() throws {
        let (c, t) = try AESAuthenticatedCipher.seal(.ccm, key: hexBytes("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"),
                                                     nonce: hexBytes("00000003020100A0A1A2A3A4A5"),
                                                     aad: hexBytes("0001020304050607"),
                                                     plaintext: hexBytes("08090A0B0C0D0E0F101112131415161718191A1B1C1D1E"), tagLength: 8)
        #expect(c + t == hexBytes("588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"))
        let p = try AESAuthenticatedCipher.open(.ccm, key: hexBytes("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"),
                                                nonce: hexBytes("00000003020100A0A1A2A3A4A5"), aad: hexBytes("0001020304050607"),
                                                ciphertext: c, tag: t)
        #expect(p == hexBytes("08090A0B0C0D0E0F101112131415161718191A1B1C1D1E"))
    }

    @Test func gcmTruncatedTagsVerifyAndMismatchesAnswerMacInvalid() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(h, 4, 16, 1)
        let (r, p) = try await authenc(h, Array(0..<33), encrypt: true, tag: [UInt8](repeating: 0, count: 12))
        #expect(r == .success && p.outBytes(3).count == 12)
        _ = try await prepare(h, 4, 16, 0)
        #expect(try await authenc(h, p.outBytes(1), encrypt: false, tag: p.outBytes(3)).0 == .success)
        var bad = p.outBytes(3); bad[11] ^= 0x40
        #expect(try await authenc(h, p.outBytes(1), encrypt: false, tag: bad).0 == .macInvalid)
        // Unsupported tag lengths: GCM below 96 bits.
        #expect(try await authenc(h, p.outBytes(1), encrypt: false, tag: Array(p.outBytes(3).prefix(8))).0 == .notSupported)
    }

    @Test func authencWithSmallOutputAnswersShortBufferAndLeavesTheSizeAsTheCTADoes() async throws {
        // Issue 12 item 9: the C TA finals into its own buffer, so params[1].size stays as the
        // client sent it (this test asserted the opposite before).
        let h = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(h, 4, 16, 1)
        let (r, p) = try await authenc(h, Array(0..<40), encrypt: true, tag: [UInt8](repeating: 0, count: 16), outSize: 39)
        #expect(r == .shortBuffer)
        #expect(p.memref(1)?.size == 39)
    }

    @Test func authencWithoutPrepareOnAStreamCipherOrInTheWrongDirectionPanicsAsLibuteeDoes() async throws {
        // Issue 12 item 9: TEE_AEInit on a null or non-AE operation and TEE_AEEncryptFinal on a
        // decrypt operation panic in libutee (these answered BAD_STATE before).
        let tag = [UInt8](repeating: 0, count: 16)
        let none = try await TAHarness(BuiltinTAs.aes)
        await #expect(throws: TAPanic.self) { _ = try await authenc(none, [1], encrypt: true, tag: tag) }
        let ctr = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(ctr, 2, 16, 1)
        await #expect(throws: TAPanic.self) { _ = try await authenc(ctr, [1], encrypt: true, tag: tag) }
        let dec = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(dec, 4, 16, 0)
        await #expect(throws: TAPanic.self) { _ = try await authenc(dec, [1], encrypt: true, tag: tag) }
        let enc = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(enc, 3, 16, 1)
        await #expect(throws: TAPanic.self) { _ = try await authenc(enc, [1], encrypt: false, tag: tag) }
    }

    @Test func setIVOnAnAuthenticatedOperationPanicsAsLibuteeDoes() async throws {
        // TEE_CipherInit on a CCM/GCM operation panics (SET_IV was accepted and ignored before).
        for algo: UInt32 in [3, 4] {
            let h = try await TAHarness(BuiltinTAs.aes)
            _ = try await prepare(h, algo, 16, 1)
            await #expect(throws: TAPanic.self) { _ = try await setIV(h, [UInt8](repeating: 0, count: 12)) }
        }
    }

    // MARK: errors

    @Test func cipherWithoutPrepareAnswersBadState() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        #expect(try await cipher(h, Self.clear).0 == .badState)
    }

    @Test func cipherWithSmallerOutputAnswersBadParameters() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        #expect(try await cipher(h, Self.clear, outSize: 4095).0 == .badParameters)
    }

    @Test(arguments: [(UInt32(5), UInt32(16), UInt32(1)), (2, 24, 1), (2, 16, 2), (2, 0, 0), (UInt32.max, 16, 1)])
    func prepareRejectsUnknownAlgoKeySizeOrMode(algo: UInt32, size: UInt32, mode: UInt32) async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        #expect(try await prepare(h, algo, size, mode) == .badParameters)
    }

    @Test func failedPrepareKeepsThePreviousOperation() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(h, 2, 16, 1); _ = try await setKey(h, Self.key); _ = try await setIV(h, [UInt8](repeating: 0, count: 16))
        #expect(try await prepare(h, 9, 16, 1) == .badParameters)
        let (r, c, _) = try await cipher(h, Self.clear)
        #expect(r == .success)
        #expect(Array(c.prefix(32)) == hexBytes("e428fef71f33dbb4c4a66d6996466f48a705d6de551767d2f2fc7287b5abb394"))
    }

    @Test func setKeyChecksTheSizeAgainstPrepare() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        #expect(try await setKey(h, Self.key) == .badParameters)  // no PREPARE: key size 0
        _ = try await prepare(h, 2, 32, 1)
        #expect(try await setKey(h, Self.key) == .badParameters)
        #expect(try await setKey(h, [UInt8](repeating: 1, count: 32)) == .success)
    }

    @Test func paramTypeMismatchAnswersBadParametersAndUnknownCommandNotSupported() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        #expect(try await h.invoke(0, params(GPParamTypes(.valueInput, .valueInput), [val(2), val(16)])).0 == .badParameters)
        #expect(try await h.invoke(1, params(GPParamTypes(.memrefInout), [mem(Self.key)])).0 == .badParameters)
        #expect(try await h.invoke(2, params(GPParamTypes(.valueInput), [val(0)])).0 == .badParameters)
        #expect(try await h.invoke(3, params(GPParamTypes(.memrefInput, .memrefInout), [mem([1]), out(1)])).0 == .badParameters)
        #expect(try await h.invoke(4, params(AESTA.cipherParamTypes, [mem([1]), out(1)])).0 == .badParameters)
        #expect(try await h.invoke(5, .empty).0 == .notSupported)
    }

    @Test func setIVWithoutPrepareOrWithABadIVPanicsAsLibuteeDoes() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        await #expect(throws: TAPanic.self) { _ = try await setIV(h, [UInt8](repeating: 0, count: 16)) }
        _ = try await prepare(h, 1, 16, 1)
        await #expect(throws: TAPanic.self) { _ = try await setIV(h, [UInt8](repeating: 0, count: 8)) }
        _ = try await prepare(h, 0, 16, 1)
        await #expect(throws: TAPanic.self) { _ = try await setIV(h, [UInt8](repeating: 0, count: 16)) }
    }

    @Test func cipherBeforeSetIVPanicsAsLibuteeDoes() async throws {
        let h = try await TAHarness(BuiltinTAs.aes)
        _ = try await prepare(h, 2, 16, 1)
        await #expect(throws: TAPanic.self) { _ = try await cipher(h, [1, 2, 3]) }
        // SET_KEY resets the operation: SET_IV is needed again.
        _ = try await setIV(h, [UInt8](repeating: 0, count: 16))
        _ = try await setKey(h, Self.key)
        await #expect(throws: TAPanic.self) { _ = try await cipher(h, [1, 2, 3]) }
    }
}
