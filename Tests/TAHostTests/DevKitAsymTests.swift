// The GP asymmetric API in a C TA built with the exported dev kit (Tests/TASDKTests/CTAs/asym),
// through crypto's framework into TACrypto's backends: published vectors (RFC 8032, RFC 7748,
// RFC 6979) byte for byte, and for RSA, ECDH, DH and DSA keys the TA generates, each result
// checked by the inverse operation (verify, decrypt, the other side's derivation) and by tampering.
import Foundation
import TEEABI
import TEEClient
import Testing

/// A GP attribute list as the asym TA takes it (u32 LE count, then id, length, bytes).
private func attrList(_ attrs: [(UInt32, [UInt8])]) -> [UInt8] {
    func le(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
    return le(UInt32(attrs.count)) + attrs.flatMap { le($0.0) + le(UInt32($0.1.count)) + $0.1 }
}

private func parseAttrList(_ b: [UInt8]) -> [UInt32: [UInt8]] {
    func le(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24 }
    guard b.count >= 4 else { return [:] }
    var out: [UInt32: [UInt8]] = [:], off = 4
    for _ in 0..<le(0) {
        guard off + 8 <= b.count else { break }
        let id = UInt32(le(off)), n = le(off + 4)
        guard off + 8 + n <= b.count else { break }
        out[id] = Array(b[(off + 8)..<(off + 8 + n)])
        off += 8 + n
    }
    return out
}

private func unhex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.filter { !$0.isWhitespace }.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16) ?? 0) }
    return out
}

private func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

private enum G {
    static let encrypt: UInt32 = 0, decrypt: UInt32 = 1, sign: UInt32 = 2, verify: UInt32 = 3, derive: UInt32 = 6
    static let rsaPub: UInt32 = 0xA000_0030, rsaPair: UInt32 = 0xA100_0030, dsaPub: UInt32 = 0xA000_0031, dsaPair: UInt32 = 0xA100_0031
    static let dhPair: UInt32 = 0xA100_0032, ecdsaPub: UInt32 = 0xA000_0041, ecdsaPair: UInt32 = 0xA100_0041, ecdhPair: UInt32 = 0xA100_0042
    static let edPair: UInt32 = 0xA100_0043, xPair: UInt32 = 0xA100_0044
    static let rsaN: UInt32 = 0xD000_0130, rsaE: UInt32 = 0xD000_0230
    static let eccX: UInt32 = 0xD000_0141, eccY: UInt32 = 0xD000_0241, eccD: UInt32 = 0xC000_0341, eccCurve: UInt32 = 0xF000_0441
    static let edPub: UInt32 = 0xD000_0743, edPriv: UInt32 = 0xC000_0843, xPub: UInt32 = 0xD000_0944, xPriv: UInt32 = 0xC000_0A44
    static let dhPrime: UInt32 = 0xD000_1032, dhBase: UInt32 = 0xD000_1232, dhSub: UInt32 = 0xD000_1132, dhPub: UInt32 = 0xD000_0132
    static let dsaPrime: UInt32 = 0xD000_1031, dsaSub: UInt32 = 0xD000_1131, dsaBase: UInt32 = 0xD000_1231, dsaPubV: UInt32 = 0xD000_0131
    static let signatureInvalid: UInt32 = 0xFFFF_3072
}

extension ProcessTATests {
    static let asymUUID = "a5e7c0de-3c1b-4f2a-8d6e-5b4a39281706"
    private static let asymBuild: Result<String, any Error> = Result { try buildCTA("asym", uuid: asymUUID) }

    /// Runs one operation in the TA; returns the invoke's result code and the output.
    private static func operate(_ s: TEESession, alg: UInt32, mode: UInt32, type: UInt32, bits: UInt32, key: [(UInt32, [UInt8])],
                                data: [UInt8], out: [UInt8] = [UInt8](repeating: 0, count: 1024)) -> (UInt32, [UInt8]) {
        func le(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        var op = TEEOperation([.valueInput(a: alg, b: mode), .tempInput(le(type) + le(bits) + attrList(key)), .tempInput(data),
                               .tempInout(out, size: out.count)])
        do { try s.invoke(0, &op) } catch { return (error.result.rawValue, []) }
        return (0, Array(op[3].buffer.prefix(op[3].size)))
    }

    private static func generate(_ s: TEESession, type: UInt32, bits: UInt32, params: [(UInt32, [UInt8])] = []) throws -> [UInt32: [UInt8]] {
        var op = TEEOperation([.valueInput(a: type, b: bits), .tempInput(attrList(params)), .tempOutput([UInt8](repeating: 0, count: 8192), size: 8192)])
        try s.invoke(1, &op)
        return parseAttrList(Array(op[2].buffer.prefix(op[2].size)))
    }

    @Test func aDevKitBuiltTASignsVerifiesEncryptsAndDerivesWithTheAsymmetricAPI() throws {
        let (stack, guest, runner) = try Self.machine(taDir: try Self.asymBuild.get())
        defer { stack.removeGuest(guest) }
        let s = try guest.context.openSession(try TEEUUID(Self.asymUUID))

        // Ed25519, RFC 8032 section 7.1 test 1: the signature of the empty message, byte for byte.
        let edKey: [(UInt32, [UInt8])] = [(G.edPub, unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")),
                                          (G.edPriv, unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))]
        let edSig = Self.operate(s, alg: 0x7000_6043, mode: G.sign, type: G.edPair, bits: 256, key: edKey, data: [])
        #expect(edSig.0 == 0)
        #expect(edSig.1 == unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"))
        #expect(Self.operate(s, alg: 0x7000_6043, mode: G.verify, type: G.edPair, bits: 256, key: edKey, data: [1], out: edSig.1).0 == G.signatureInvalid)

        // X25519, RFC 7748 section 6.1: Alice's private key with Bob's public key.
        let x = Self.operate(s, alg: 0x8000_0044, mode: G.derive, type: G.xPair, bits: 256,
                             key: [(G.xPriv, unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")),
                                   (G.xPub, unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))],
                             data: attrList([(G.xPub, unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))]))
        #expect(x.0 == 0 && x.1 == unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"))

        // ECDSA P-256, RFC 6979 A.2.5: the published signature of SHA-256("sample") verifies with a
        // public-key object; a flipped digest bit does not; the TA's own signature verifies.
        let pub: [(UInt32, [UInt8])] = [(G.eccX, unhex("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6")),
                                        (G.eccY, unhex("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299")), (G.eccCurve, be(3))]
        let digest = unhex("af2bdbe1aa9b6ec1e2ade1d694f41fc71a831d0268e9891562113d8a62add1bf")   // SHA-256("sample")
        let published = unhex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8")
        #expect(Self.operate(s, alg: 0x7000_3042, mode: G.verify, type: G.ecdsaPub, bits: 256, key: pub, data: digest, out: published).0 == 0)
        var flipped = digest; flipped[0] ^= 1
        #expect(Self.operate(s, alg: 0x7000_3042, mode: G.verify, type: G.ecdsaPub, bits: 256, key: pub, data: flipped, out: published).0 == G.signatureInvalid)
        let pair = pub + [(G.eccD, unhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"))]
        let own = Self.operate(s, alg: 0x7000_3042, mode: G.sign, type: G.ecdsaPair, bits: 256, key: pair, data: digest)
        #expect(own.0 == 0 && own.1.count == 64)
        #expect(Self.operate(s, alg: 0x7000_3042, mode: G.verify, type: G.ecdsaPub, bits: 256, key: pub, data: digest, out: own.1).0 == 0)

        // ECDH P-384 between two keys the TA generated: both sides derive the same 48 bytes.
        let a = try Self.generate(s, type: G.ecdhPair, bits: 384, params: [(G.eccCurve, be(4))])
        let b = try Self.generate(s, type: G.ecdhPair, bits: 384, params: [(G.eccCurve, be(4))])
        func ecdh(_ k: [UInt32: [UInt8]], _ peer: [UInt32: [UInt8]]) -> (UInt32, [UInt8]) {
            Self.operate(s, alg: 0x8000_0042, mode: G.derive, type: G.ecdhPair, bits: 384, key: k.map { ($0.key, $0.value) },
                         data: attrList([(G.eccX, peer[G.eccX] ?? []), (G.eccY, peer[G.eccY] ?? [])]))
        }
        let ab = ecdh(a, b), ba = ecdh(b, a)
        #expect(ab.0 == 0 && ab.1.count == 48 && ab.1 == ba.1)

        // RSA 2048 generated in the TA: PKCS#1 v1.5 and PSS signatures verify with the public key
        // alone and fail for another digest; OAEP-SHA256 encryption with the public key decrypts.
        let rsa = try Self.generate(s, type: G.rsaPair, bits: 2048)
        #expect(rsa.count == 8)
        let rsaPair = rsa.map { ($0.key, $0.value) }, rsaPub = [(G.rsaN, rsa[G.rsaN] ?? []), (G.rsaE, rsa[G.rsaE] ?? [])]
        let d256 = [UInt8](repeating: 0x5A, count: 32)
        for alg: UInt32 in [0x7000_4830, 0x7041_4930] {
            let sig = Self.operate(s, alg: alg, mode: G.sign, type: G.rsaPair, bits: 2048, key: rsaPair, data: d256)
            #expect(sig.0 == 0 && sig.1.count == 256)
            #expect(Self.operate(s, alg: alg, mode: G.verify, type: G.rsaPub, bits: 2048, key: rsaPub, data: d256, out: sig.1).0 == 0)
            #expect(Self.operate(s, alg: alg, mode: G.verify, type: G.rsaPub, bits: 2048, key: rsaPub, data: [UInt8](repeating: 0x5B, count: 32), out: sig.1).0 == G.signatureInvalid)
        }
        let secret = Array("the GP asymmetric API".utf8)
        let c = Self.operate(s, alg: 0x6041_0230, mode: G.encrypt, type: G.rsaPub, bits: 2048, key: rsaPub, data: secret)
        #expect(c.0 == 0 && c.1.count == 256)
        #expect(Self.operate(s, alg: 0x6041_0230, mode: G.decrypt, type: G.rsaPair, bits: 2048, key: rsaPair, data: c.1).1 == secret)

        // DH and DSA over RFC 5114's 1024-bit group with its 160-bit subgroup.
        let p = unhex("""
            B10B8F96 A080E01D DE92DE5E AE5D54EC 52C99FBC FB06A3C6 9A6A9DCA 52D23B61 6073E286 75A23D18 9838EF1E 2EE652C0
            13ECB4AE A9061123 24975C3C D49B83BF ACCBDD7D 90C4BD70 98488E9C 219A7372 4EFFD6FA E5644738 FAA31A4F F55BCCC0
            A151AF5F 0DC8B4BD 45BF37DF 365C1A65 E68CFDA7 6D4DA708 DF1FB2BC 2E4A4371
            """)
        let g = unhex("""
            A4D1CBD5 C3FD3412 6765A442 EFB99905 F8104DD2 58AC507F D6406CFF 14266D31 266FEA1E 5C41564B 777E690F 5504F213
            160217B4 B01B886A 5E91547F 9E2749F4 D7FBD7D3 B9A92EE1 909D0D22 63F80A76 A6A24C08 7A091F53 1DBF0A01 69B6A28A
            D662A4D1 8E73AFA3 2D779D59 18D08BC8 858F4DCE F97C2A24 855E6EEB 22B3B2E5
            """)
        let q = unhex("F518AA87 81A8DF27 8ABA4E7D 64B7CB9D 49462353")
        let dh1 = try Self.generate(s, type: G.dhPair, bits: 1024, params: [(G.dhPrime, p), (G.dhBase, g), (G.dhSub, q)])
        let dh2 = try Self.generate(s, type: G.dhPair, bits: 1024, params: [(G.dhPrime, p), (G.dhBase, g), (G.dhSub, q)])
        func dh(_ k: [UInt32: [UInt8]], _ peer: [UInt32: [UInt8]]) -> (UInt32, [UInt8]) {
            Self.operate(s, alg: 0x8000_0032, mode: G.derive, type: G.dhPair, bits: 1024, key: k.map { ($0.key, $0.value) },
                         data: attrList([(G.dhPub, peer[G.dhPub] ?? [])]))
        }
        let s12 = dh(dh1, dh2), s21 = dh(dh2, dh1)
        #expect(s12.0 == 0 && !s12.1.isEmpty && s12.1 == s21.1)
        let dsa = try Self.generate(s, type: G.dsaPair, bits: 1024, params: [(G.dsaPrime, p), (G.dsaBase, g), (G.dsaSub, q)])
        let sha1 = [UInt8](repeating: 0x11, count: 20)
        let dsaSig = Self.operate(s, alg: 0x7000_2131, mode: G.sign, type: G.dsaPair, bits: 1024, key: dsa.map { ($0.key, $0.value) }, data: sha1)
        #expect(dsaSig.0 == 0 && dsaSig.1.count == 40)
        let dsaPub = [(G.dsaPrime, p), (G.dsaSub, q), (G.dsaBase, g), (G.dsaPubV, dsa[G.dsaPubV] ?? [])]
        #expect(Self.operate(s, alg: 0x7000_2131, mode: G.verify, type: G.dsaPub, bits: 1024, key: dsaPub, data: sha1, out: dsaSig.1).0 == 0)
        var badSig = dsaSig.1; badSig[39] ^= 1
        #expect(Self.operate(s, alg: 0x7000_2131, mode: G.verify, type: G.dsaPub, bits: 1024, key: dsaPub, data: sha1, out: badSig).0 == G.signatureInvalid)
        // What no library here provides is refused up front (TEE_IsAlgorithmSupported).
        func supported(_ alg: UInt32, _ element: UInt32) -> UInt32 {
            var op = TEEOperation([.valueInput(a: alg, b: element)])
            do { try s.invoke(2, &op) } catch { return error.result.rawValue }
            return 0
        }
        let notSupported: UInt32 = 0xFFFF_000A
        #expect(supported(0x7000_6043, 0x300) == 0)                 // Ed25519 on curve 25519
        #expect(supported(0x7000_3042, 3) == 0)                     // ECDSA on P-256
        #expect(supported(0x7000_1042, 1) == notSupported)          // ECDSA on P-192: swift-crypto has no P-192
        #expect(supported(0x8000_0042, 2) == notSupported)          // ECDH on P-224
        #expect(supported(0x6031_0230, 0) == notSupported)          // OAEP with SHA-224
        #expect(supported(0x7000_6045, 0) == notSupported)          // SM2 DSA
        s.close()
        #expect(runner.processCount == 0)
    }
}
