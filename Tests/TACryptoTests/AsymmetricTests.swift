// The asymmetric backends TACrypto gives the GP framework, checked against published vectors
// (RFC 8032, RFC 7748, RFC 6979) and, for RSA, against BoringSSL's own RSA in _CryptoExtras
// (each side verifies or decrypts what the other made), plus the refusals GP asks for.
import BigInt
import Crypto
import Foundation
import Testing
import _CryptoExtras
@testable import TACrypto

func hex(_ s: String) -> [UInt8] {
    let h = Array(s.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: h.count - 1, by: 2).map { UInt8(String(decoding: h[$0...$0 + 1], as: UTF8.self), radix: 16) ?? 0 }
}
func value(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

@Suite struct AsymmetricTests {
    let b = AsymmetricAlgorithms()

    @Test func ed25519_signs_rfc8032_test1_exactly_and_rejects_a_flipped_bit() throws {
        let key = try b.derivePublic(type: AsymID.ed25519KeyPair, key: [AsymID.ed25519PrivateValue: hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")])
        #expect(key[AsymID.ed25519PublicValue] == hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        let sig = try b.sign(algorithm: AsymID.ed25519, key: key, params: [:], digest: [])
        #expect(sig == hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"))
        try b.verify(algorithm: AsymID.ed25519, key: key, params: [:], digest: [], signature: sig)
        var bad = sig; bad[5] ^= 1
        #expect(throws: TACryptoError.signatureInvalid) { try b.verify(algorithm: AsymID.ed25519, key: key, params: [:], digest: [], signature: bad) }
        // Ed25519ctx / Ed25519ph: swift-crypto signs pure Ed25519 only.
        #expect(throws: TACryptoError.notSupported) { try b.sign(algorithm: AsymID.ed25519, key: key, params: [AsymID.eddsaCtx: [1]], digest: []) }
        #expect(throws: TACryptoError.notSupported) { try b.sign(algorithm: AsymID.ed25519, key: key, params: [AsymID.eddsaPrehash: value(1)], digest: []) }
    }

    @Test func x25519_reproduces_the_rfc7748_exchange_both_ways() throws {
        let alice = try b.derivePublic(type: AsymID.x25519KeyPair, key: [AsymID.x25519PrivateValue: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")])
        let bob = try b.derivePublic(type: AsymID.x25519KeyPair, key: [AsymID.x25519PrivateValue: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")])
        #expect(alice[AsymID.x25519PublicValue] == hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(bob[AsymID.x25519PublicValue] == hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        #expect(try b.deriveSharedSecret(algorithm: AsymID.x25519, key: alice, params: [AsymID.x25519PublicValue: bob[AsymID.x25519PublicValue] ?? []]) == shared)
        #expect(try b.deriveSharedSecret(algorithm: AsymID.x25519, key: bob, params: [AsymID.x25519PublicValue: alice[AsymID.x25519PublicValue] ?? []]) == shared)
    }

    @Test func ecdsa_p256_verifies_the_rfc6979_sample_signature_and_its_own() throws {
        let key = try b.derivePublic(type: AsymID.ecdsaKeyPair, key: [
            AsymID.eccCurve: value(AsymID.curveP256),
            AsymID.eccPrivateValue: hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")])
        #expect(key[AsymID.eccPublicX] == hex("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"))
        #expect(key[AsymID.eccPublicY] == hex("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"))
        let digest = Array(SHA256.hash(data: Array("sample".utf8)))
        let published = hex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8")
        let alg: UInt32 = 0x7000_3042                               // TEE_ALG_ECDSA_SHA256
        try b.verify(algorithm: alg, key: key, params: [:], digest: digest, signature: published)
        let own = try b.sign(algorithm: alg, key: key, params: [:], digest: digest)
        #expect(own.count == 64)
        try b.verify(algorithm: alg, key: key, params: [:], digest: digest, signature: own)
        var other = digest; other[0] ^= 0x80
        #expect(throws: TACryptoError.signatureInvalid) { try b.verify(algorithm: alg, key: key, params: [:], digest: other, signature: published) }
        #expect(throws: TACryptoError.signatureInvalid) { try b.verify(algorithm: alg, key: key, params: [:], digest: digest, signature: Array(published.dropLast())) }
    }

    @Test(arguments: [(AsymID.curveP256, 256), (AsymID.curveP384, 384), (AsymID.curveP521, 521)])
    func generated_ec_keys_sign_verify_and_agree(curve: UInt32, bits: Int) throws {
        let a = try b.generate(type: AsymID.ecdsaKeyPair, bits: bits, params: [AsymID.eccCurve: value(curve)])
        let digest = randomBytes(64)
        let sig = try b.sign(algorithm: 0x7000_5042, key: a, params: [:], digest: digest)
        try b.verify(algorithm: 0x7000_5042, key: a, params: [:], digest: digest, signature: sig)
        let x = try b.generate(type: AsymID.ecdhKeyPair, bits: bits, params: [AsymID.eccCurve: value(curve)])
        let y = try b.generate(type: AsymID.ecdhKeyPair, bits: bits, params: [AsymID.eccCurve: value(curve)])
        let s1 = try b.deriveSharedSecret(algorithm: AsymID.ecdhDerive, key: x, params: [AsymID.eccPublicX: y[AsymID.eccPublicX] ?? [], AsymID.eccPublicY: y[AsymID.eccPublicY] ?? []])
        let s2 = try b.deriveSharedSecret(algorithm: AsymID.ecdhDerive, key: y, params: [AsymID.eccPublicX: x[AsymID.eccPublicX] ?? [], AsymID.eccPublicY: x[AsymID.eccPublicY] ?? []])
        #expect(s1 == s2 && s1.count == (bits + 7) / 8)
    }

    @Test func p192_and_p224_are_not_supported_by_swift_crypto() {
        #expect(throws: TACryptoError.notSupported) { try b.generate(type: AsymID.ecdsaKeyPair, bits: 192, params: [AsymID.eccCurve: value(AsymID.curveP192)]) }
        #expect(throws: TACryptoError.notSupported) { try b.sign(algorithm: 0x7000_2042, key: [AsymID.eccCurve: value(AsymID.curveP224)], params: [:], digest: randomBytes(28)) }
        #expect(!b.supports(algorithm: 0x7000_1042, element: AsymID.curveP192))
        #expect(b.supports(algorithm: 0x7000_3042, element: AsymID.curveP256))
    }

    /// One 2048-bit key from BoringSSL for the RSA tests (generation is the slow part).
    static let rsa: Result<(attrs: [UInt32: [UInt8]], lib: _RSA.Signing.PrivateKey), any Error> = Result {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let ints = DER.rsaPrivateKeyIntegers(Array(key.derRepresentation)) ?? []
        let ids = [AsymID.rsaModulus, AsymID.rsaPublicExponent, AsymID.rsaPrivateExponent, AsymID.rsaPrime1, AsymID.rsaPrime2]
        return (Dictionary(uniqueKeysWithValues: zip(ids, ints.prefix(5).map { $0.bigEndianBytes })), key)
    }

    @Test func rsa_pkcs1v15_and_pss_signatures_interoperate_with_boringssl() throws {
        let (key, lib) = try Self.rsa.get()
        let msg = Array("vtee".utf8)
        let d256 = Array(SHA256.hash(data: msg))
        // PKCS#1 v1.5, SHA-256: ours verified by BoringSSL, BoringSSL's verified by ours.
        let v15: UInt32 = 0x7000_4830
        let ours = try b.sign(algorithm: v15, key: key, params: [:], digest: d256)
        #expect(lib.publicKey.isValidSignature(.init(rawRepresentation: ours), for: SHA256.hash(data: msg), padding: .insecurePKCS1v1_5))
        let theirs = Array(try lib.signature(for: SHA256.hash(data: msg), padding: .insecurePKCS1v1_5).rawRepresentation)
        #expect(ours == theirs)                                    // PKCS#1 v1.5 is deterministic
        try b.verify(algorithm: v15, key: key, params: [:], digest: d256, signature: theirs)
        // PSS, SHA-256, salt = digest length.
        let pss: UInt32 = 0x7041_4930
        let ourPSS = try b.sign(algorithm: pss, key: key, params: [:], digest: d256)
        #expect(lib.publicKey.isValidSignature(.init(rawRepresentation: ourPSS), for: SHA256.hash(data: msg), padding: .PSS))
        let theirPSS = Array(try lib.signature(for: SHA256.hash(data: msg), padding: .PSS).rawRepresentation)
        try b.verify(algorithm: pss, key: key, params: [:], digest: d256, signature: theirPSS)
        try b.verify(algorithm: pss, key: key, params: [AsymID.rsaPSSSaltLength: value(32)], digest: d256, signature: theirPSS)
        #expect(throws: TACryptoError.signatureInvalid) {
            try b.verify(algorithm: pss, key: key, params: [AsymID.rsaPSSSaltLength: value(20)], digest: d256, signature: theirPSS)
        }
        var bad = theirPSS; bad[100] ^= 4
        #expect(throws: TACryptoError.signatureInvalid) { try b.verify(algorithm: pss, key: key, params: [:], digest: d256, signature: bad) }
    }

    @Test(arguments: [UInt32(1), 2, 3, 4, 5, 6])
    func rsa_signatures_round_trip_with_every_digest(hash: UInt32) throws {
        let (key, _) = try Self.rsa.get()
        let len = [1: 16, 2: 20, 3: 28, 4: 32, 5: 48, 6: 64][Int(hash)] ?? 0
        let digest = randomBytes(len)
        let v15 = 0x7000_0830 | hash << 12
        let s = try b.sign(algorithm: v15, key: key, params: [:], digest: digest)
        try b.verify(algorithm: v15, key: key, params: [:], digest: digest, signature: s)
        #expect(throws: TACryptoError.badParameters) { try b.sign(algorithm: v15, key: key, params: [:], digest: digest + [0]) }
        let pss = 0x7000_0930 | hash << 12 | hash << 20 | 0x10_0000 * 0
        if hash == 3 {                                             // SHA-224: no digest in swift-crypto 3.12.3 for MGF1
            #expect(throws: TACryptoError.notSupported) { try b.sign(algorithm: pss | 0x0001_0000, key: key, params: [:], digest: digest) }
        } else if hash != 1 {
            let p = pss | 0x0001_0000
            let s2 = try b.sign(algorithm: p, key: key, params: [:], digest: digest)
            try b.verify(algorithm: p, key: key, params: [:], digest: digest, signature: s2)
        }
    }

    @Test func rsa_oaep_and_pkcs1v15_encryption_interoperate_with_boringssl() throws {
        let (key, lib) = try Self.rsa.get()
        let encKey = try _RSA.Encryption.PrivateKey(derRepresentation: lib.derRepresentation)
        let msg = Array("attack at dawn".utf8)
        for (alg, pad) in [(UInt32(0x6021_0230), _RSA.Encryption.Padding.PKCS1_OAEP), (0x6041_0230, .PKCS1_OAEP_SHA256)] {
            let c = try b.encrypt(algorithm: alg, key: key, params: [:], data: msg)
            #expect(Array(try encKey.decrypt(c, padding: pad)) == msg)
            let theirs = Array(try encKey.publicKey.encrypt(msg, padding: pad))
            #expect(try b.decrypt(algorithm: alg, key: key, params: [:], data: theirs) == msg)
            var bad = theirs; bad[3] ^= 1
            #expect(throws: TACryptoError.badParameters) { try b.decrypt(algorithm: alg, key: key, params: [:], data: bad) }
        }
        // A label must match.
        let labelled = try b.encrypt(algorithm: 0x6041_0230, key: key, params: [AsymID.rsaOAEPLabel: [1, 2, 3]], data: msg)
        #expect(try b.decrypt(algorithm: 0x6041_0230, key: key, params: [AsymID.rsaOAEPLabel: [1, 2, 3]], data: labelled) == msg)
        #expect(throws: TACryptoError.badParameters) { try b.decrypt(algorithm: 0x6041_0230, key: key, params: [:], data: labelled) }
        // PKCS#1 v1.5 and raw RSA.
        let c15 = try b.encrypt(algorithm: AsymID.rsaesPKCS1v15, key: key, params: [:], data: msg)
        #expect(try b.decrypt(algorithm: AsymID.rsaesPKCS1v15, key: key, params: [:], data: c15) == msg)
        #expect(throws: TACryptoError.badParameters) { try b.encrypt(algorithm: AsymID.rsaesPKCS1v15, key: key, params: [:], data: randomBytes(246)) }
        let raw = try b.encrypt(algorithm: AsymID.rsaNoPad, key: key, params: [:], data: msg)
        #expect(try b.decrypt(algorithm: AsymID.rsaNoPad, key: key, params: [:], data: raw) == msg)
    }

    @Test func rsa_generation_gives_working_keys_from_boringssl_and_from_bigint_primes() throws {
        let big = try b.generate(type: AsymID.rsaKeyPair, bits: 1024, params: [:])
        #expect(BigUInt(bigEndian: big[AsymID.rsaModulus] ?? []).bitWidth == 1024)
        #expect(big.count == 8)
        let small = try b.generate(type: AsymID.rsaKeyPair, bits: 256, params: [:])      // below BoringSSL's 1024
        let n = BigUInt(bigEndian: small[AsymID.rsaModulus] ?? [])
        #expect(n.bitWidth == 256)
        #expect(BigUInt(bigEndian: small[AsymID.rsaPrime1] ?? []) * BigUInt(bigEndian: small[AsymID.rsaPrime2] ?? []) == n)
        for key in [big, small] {
            let c = try b.encrypt(algorithm: AsymID.rsaesPKCS1v15, key: key, params: [:], data: [1, 2, 3])
            #expect(try b.decrypt(algorithm: AsymID.rsaesPKCS1v15, key: key, params: [:], data: c) == [1, 2, 3])
        }
        #expect(throws: TACryptoError.notSupported) { try b.generate(type: AsymID.rsaKeyPair, bits: 8200, params: [:]) }
    }

    /// RFC 5114 section 2.1: 1024-bit MODP group with a 160-bit prime-order subgroup.
    static let p1024 = hex("""
        B10B8F96 A080E01D DE92DE5E AE5D54EC 52C99FBC FB06A3C6 9A6A9DCA 52D23B61 6073E286 75A23D18 9838EF1E 2EE652C0
        13ECB4AE A9061123 24975C3C D49B83BF ACCBDD7D 90C4BD70 98488E9C 219A7372 4EFFD6FA E5644738 FAA31A4F F55BCCC0
        A151AF5F 0DC8B4BD 45BF37DF 365C1A65 E68CFDA7 6D4DA708 DF1FB2BC 2E4A4371
        """)
    static let g1024 = hex("""
        A4D1CBD5 C3FD3412 6765A442 EFB99905 F8104DD2 58AC507F D6406CFF 14266D31 266FEA1E 5C41564B 777E690F 5504F213
        160217B4 B01B886A 5E91547F 9E2749F4 D7FBD7D3 B9A92EE1 909D0D22 63F80A76 A6A24C08 7A091F53 1DBF0A01 69B6A28A
        D662A4D1 8E73AFA3 2D779D59 18D08BC8 858F4DCE F97C2A24 855E6EEB 22B3B2E5
        """)
    static let q160 = hex("F518AA87 81A8DF27 8ABA4E7D 64B7CB9D 49462353")

    @Test func dh_agrees_on_the_textbook_group_and_on_rfc5114s() throws {
        // p = 23, g = 5: x = 6 gives 8, x = 15 gives 19, and both sides reach 2.
        let a = try b.derivePublic(type: AsymID.dhKeyPair, key: [AsymID.dhPrime: [23], AsymID.dhBase: [5], AsymID.dhPrivateValue: [6]])
        let c = try b.derivePublic(type: AsymID.dhKeyPair, key: [AsymID.dhPrime: [23], AsymID.dhBase: [5], AsymID.dhPrivateValue: [15]])
        #expect(a[AsymID.dhPublicValue] == [8] && c[AsymID.dhPublicValue] == [19])
        #expect(try b.deriveSharedSecret(algorithm: AsymID.dhDerive, key: a, params: [AsymID.dhPublicValue: [19]]) == [2])
        #expect(try b.deriveSharedSecret(algorithm: AsymID.dhDerive, key: c, params: [AsymID.dhPublicValue: [8]]) == [2])
        #expect(throws: TACryptoError.badParameters) { try b.deriveSharedSecret(algorithm: AsymID.dhDerive, key: a, params: [AsymID.dhPublicValue: [22]]) }
        let params = [AsymID.dhPrime: Self.p1024, AsymID.dhBase: Self.g1024, AsymID.dhSubprime: Self.q160]
        let x = try b.generate(type: AsymID.dhKeyPair, bits: 1024, params: params)
        let y = try b.generate(type: AsymID.dhKeyPair, bits: 1024, params: params)
        #expect(BigUInt(bigEndian: x[AsymID.dhPrivateValue] ?? []) < BigUInt(bigEndian: Self.q160))
        let s1 = try b.deriveSharedSecret(algorithm: AsymID.dhDerive, key: x, params: [AsymID.dhPublicValue: y[AsymID.dhPublicValue] ?? []])
        let s2 = try b.deriveSharedSecret(algorithm: AsymID.dhDerive, key: y, params: [AsymID.dhPublicValue: x[AsymID.dhPublicValue] ?? []])
        #expect(s1 == s2 && !s1.isEmpty)
    }

    @Test func dsa_over_the_rfc5114_domain_signs_verifies_and_rejects_tampering() throws {
        let key = try b.generate(type: AsymID.dsaKeyPair, bits: 1024, params: [AsymID.dsaPrime: Self.p1024, AsymID.dsaBase: Self.g1024, AsymID.dsaSubprime: Self.q160])
        let alg: UInt32 = 0x7000_2131                              // TEE_ALG_DSA_SHA1
        let digest = Array(Insecure.SHA1.hash(data: Array("vtee".utf8)))
        let sig = try b.sign(algorithm: alg, key: key, params: [:], digest: digest)
        #expect(sig.count == 40)
        try b.verify(algorithm: alg, key: key, params: [:], digest: digest, signature: sig)
        var other = digest; other[19] ^= 1
        #expect(throws: TACryptoError.signatureInvalid) { try b.verify(algorithm: alg, key: key, params: [:], digest: other, signature: sig) }
        #expect(throws: TACryptoError.badParameters) { try b.sign(algorithm: alg, key: key, params: [:], digest: digest + [0]) }
        let pub = try b.derivePublic(type: AsymID.dsaKeyPair, key: key)
        #expect(pub[AsymID.dsaPublicValue] == key[AsymID.dsaPublicValue])
    }
}
