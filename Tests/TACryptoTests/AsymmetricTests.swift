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

    /// RFC 6979 A.2.6 (P-384, SHA-384) and A.2.7 (P-521, SHA-256): the published signatures of
    /// "sample" verify under the published public keys, and not for another message.
    @Test(arguments: [
        (AsymID.curveP384, true,
         "EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64DEF8F0EA9055866064A254515480BC13",
         "8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1288B231C3AE0D4FE7344FD2533264720",
         "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46"
            + "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8"),
        (AsymID.curveP521, false,
         "01894550D0785932E00EAA23B694F213F8C3121F86DC97A04E5A7167DB4E5BCD371123D46E45DB6B5D5370A7F20FB633155D38FFA16D2BD761DCAC474B9A2F5023A4",
         "00493101C962CD4D2FDDF782285E64584139C2F91B47F87FF82354D6630F746A28A0DB25741B5B34A828008B22ACC23F924FAAFBD4D33F81EA66956DFEAA2BFDFCF5",
         "01511BB4D675114FE266FC4372B87682BAECC01D3CC62CF2303C92B3526012659D16876E25C7C1E57648F23B73564D67F61C6F14D527D54972810421E7D87589E1A7"
            + "004A171143A83163D6DF460AAF61522695F207A58B95C0644D87E52AA1A347916E4F7A72930B1BC06DBE22CE3F58264AFD23704CBB63B29B931F7DE6C9D949A7ECFC"),
    ])
    func ecdsa_verifies_the_rfc6979_signatures_on_p384_and_p521(curve: UInt32, sha384: Bool, ux: String, uy: String, rs: String) throws {
        let key = [AsymID.eccCurve: value(curve), AsymID.eccPublicX: hex(ux), AsymID.eccPublicY: hex(uy)]
        let msg = Array("sample".utf8)
        let digest = sha384 ? Array(SHA384.hash(data: msg)) : Array(SHA256.hash(data: msg))
        let alg: UInt32 = sha384 ? 0x7000_4042 : 0x7000_3042
        try b.verify(algorithm: alg, key: key, params: [:], digest: digest, signature: hex(rs))
        let other = sha384 ? Array(SHA384.hash(data: Array("test".utf8))) : Array(SHA256.hash(data: Array("test".utf8)))
        #expect(throws: TACryptoError.signatureInvalid) { try b.verify(algorithm: alg, key: key, params: [:], digest: other, signature: hex(rs)) }
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
        // Without the attribute the salt is the digest's length on both sides, as GP says.
        let salt20 = try b.sign(algorithm: pss, key: key, params: [AsymID.rsaPSSSaltLength: value(20)], digest: d256)
        try b.verify(algorithm: pss, key: key, params: [AsymID.rsaPSSSaltLength: value(20)], digest: d256, signature: salt20)
        #expect(throws: TACryptoError.signatureInvalid) { try b.verify(algorithm: pss, key: key, params: [:], digest: d256, signature: salt20) }
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

    /// RSAES-OAEP (SHA-1) examples 1.1 and 2.1 of RSA Laboratories' PKCS #1 v2.1 test vectors
    /// (oaep-vect.txt): keys given as n, e, d only; 2.1 has a 1025-bit modulus (k = 129).
    @Test(arguments: [
        ("""
         a8 b3 b2 84 af 8e b5 0b 38 70 34 a8 60 f1 46 c4 91 9f 31 87 63 cd 6c 55 98 c8 ae 48 11 a1 e0 ab
         c4 c7 e0 b0 82 d6 93 a5 e7 fc ed 67 5c f4 66 85 12 77 2c 0c bc 64 a7 42 c6 c6 30 f5 33 c8 cc 72
         f6 2a e8 33 c4 0b f2 58 42 e9 84 bb 78 bd bf 97 c0 10 7d 55 bd b6 62 f5 c4 e0 fa b9 84 5c b5 14
         8e f7 39 2d d3 aa ff 93 ae 1e 6b 66 7b b3 d4 24 76 16 d4 f5 ba 10 d4 cf d2 26 de 88 d3 9f 16 fb
         """, """
         53 33 9c fd b7 9f c8 46 6a 65 5c 73 16 ac a8 5c 55 fd 8f 6d d8 98 fd af 11 95 17 ef 4f 52 e8 fd
         8e 25 8d f9 3f ee 18 0f a0 e4 ab 29 69 3c d8 3b 15 2a 55 3d 4a c4 d1 81 2b 8b 9f a5 af 0e 7f 55
         fe 73 04 df 41 57 09 26 f3 31 1f 15 c4 d6 5a 73 2c 48 31 16 ee 3d 3d 2d 0a f3 54 9a d9 bf 7c bf
         b7 8a d8 84 f8 4d 5b eb 04 72 4d c7 36 9b 31 de f3 7d 0c f5 39 e9 cf cd d3 de 65 37 29 ea d5 d1
         """, "66 28 19 4e 12 07 3d b0 3b a9 4c da 9e f9 53 23 97 d5 0d ba 79 b9 87 00 4a fe fe 34", """
         35 4f e6 7b 4a 12 6d 5d 35 fe 36 c7 77 79 1a 3f 7b a1 3d ef 48 4e 2d 39 08 af f7 22 fa d4 68 fb
         21 69 6d e9 5d 0b e9 11 c2 d3 17 4f 8a fc c2 01 03 5f 7b 6d 8e 69 40 2d e5 45 16 18 c2 1a 53 5f
         a9 d7 bf c5 b8 dd 9f c2 43 f8 cf 92 7d b3 13 22 d6 e8 81 ea a9 1a 99 61 70 e6 57 a0 5a 26 64 26
         d9 8c 88 00 3f 84 77 c1 22 70 94 a0 d9 fa 1e 8c 40 24 30 9c e1 ec cc b5 21 00 35 d4 7a c7 2e 8a
         """),
        ("""
         01 94 7c 7f ce 90 42 5f 47 27 9e 70 85 1f 25 d5 e6 23 16 fe 8a 1d f1 93 71 e3 e6 28 e2 60 54 3e
         49 01 ef 60 81 f6 8c 0b 81 41 19 0d 2a e8 da ba 7d 12 50 ec 6d b6 36 e9 44 ec 37 22 87 7c 7c 1d
         0a 67 f1 4b 16 94 c5 f0 37 94 51 a4 3e 49 a3 2d de 83 67 0b 73 da 91 a1 c9 9b c2 3b 43 6a 60 05
         5c 61 0f 0b af 99 c1 a0 79 56 5b 95 a3 f1 52 66 32 d1 d4 da 60 f2 0e da 25 e6 53 c4 f0 02 76 6f
         45
         """, """
         08 23 f2 0f ad b5 da 89 08 8a 9d 00 89 3e 21 fa 4a 1b 11 fb c9 3c 64 a3 be 0b aa ea 97 fb 3b 93
         c3 ff 71 37 04 c1 9c 96 3c 1d 10 7a ae 99 05 47 39 f7 9e 02 e1 86 de 86 f8 7a 6d de fe a6 d8 cc
         d1 d3 c8 1a 47 bf a7 25 5b e2 06 01 a4 a4 b2 f0 8a 16 7b 5e 27 9d 71 5b 1b 45 5b dd 7e ab 24 59
         41 d9 76 8b 9a ce fb 3c cd a5 95 2d a3 ce e7 25 25 b4 50 16 63 a8 ee 15 c9 e9 92 d9 24 62 fe 39
         """, "8f f0 0c aa 60 5c 70 28 30 63 4d 9a 6c 3d 42 c6 52 b5 8c f1 d9 2f ec 57 0b ee e7", """
         01 81 af 89 22 b9 fc b4 d7 9d 92 eb e1 98 15 99 2f c0 c1 43 9d 8b cd 49 13 98 a0 f4 ad 3a 32 9a
         5b d9 38 55 60 db 53 26 83 c8 b7 da 04 e4 b1 2a ed 6a ac df 47 1c 34 c9 cd a8 91 ad dc c2 df 34
         56 65 3a a6 38 2e 9a e5 9b 54 45 52 57 eb 09 9d 56 2b be 10 45 3f 2b 6d 13 c5 9c 02 e1 0f 1f 8a
         bb 5d a0 d0 57 09 32 da cf 2d 09 01 db 72 9d 0f ef cc 05 4e 70 96 8e a5 40 c8 1b 04 bc ae fe 72
         0e
         """),
    ])
    func rsa_oaep_decrypts_the_pkcs1_v2_1_published_examples(n: String, d: String, message: String, ciphertext: String) throws {
        let key = [AsymID.rsaModulus: hex(n), AsymID.rsaPublicExponent: [1, 0, 1], AsymID.rsaPrivateExponent: hex(d)]
        #expect(try b.decrypt(algorithm: 0x6021_0230, key: key, params: [:], data: hex(ciphertext)) == hex(message))
        // And our own encryption under the published public key decrypts back.
        let c = try b.encrypt(algorithm: 0x6021_0230, key: key, params: [:], data: hex(message))
        #expect(c.count == hex(ciphertext).count)
        #expect(try b.decrypt(algorithm: 0x6021_0230, key: key, params: [:], data: c) == hex(message))
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
