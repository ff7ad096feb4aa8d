/// The asymmetric algorithms of the GP crypto API (secure world, module TACrypto): the
/// `AsymmetricBackend` the framework calls once it has checked handles, modes, usages and states.
///
/// Pure functions over attribute maps (GP attribute id → big-endian bytes; a value attribute is its
/// `a` as 4 big-endian bytes). Where the primitive lives:
/// - ECDSA and ECDH on P-256/384/521, Ed25519, X25519: swift-crypto (BoringSSL).
/// - RSA: the private operation is BoringSSL's raw RSA (`_RSA.BlindSigning.PrivateKey.blindSignature`,
///   CRT and blinding inside; _CryptoExtras cannot sign a digest the caller computed, so the
///   PKCS#1 v1.5 / PSS / OAEP encodings are glue written here from RFC 8017); the public operation and
///   key sizes BoringSSL refuses go through attaswift/BigInt's modular exponentiation.
/// - DH and DSA: attaswift/BigInt (swift-crypto has neither).
/// - Not available in any library the project may use: P-192 and P-224 (swift-crypto has no such
///   curves), SHA-224 and SHA-3 inside OAEP/PSS/DSA (swift-crypto 3.12.3 has neither digest),
///   Ed25519ctx / Ed25519ph (swift-crypto signs pure Ed25519 only), SM2: NOT_SUPPORTED.
/// Touches no memory and imports no project module.
import BigInt
import Crypto
import _CryptoExtras

/// GP identifiers of the asymmetric algorithms, key types and attributes (OP-TEE's values).
public enum AsymID {
    /// TEE_ALG_RSA_NOPAD.
    public static let rsaNoPad: UInt32 = 0x6000_0030
    /// TEE_ALG_RSAES_PKCS1_V1_5.
    public static let rsaesPKCS1v15: UInt32 = 0x6000_0130
    /// TEE_ALG_DH_DERIVE_SHARED_SECRET.
    public static let dhDerive: UInt32 = 0x8000_0032
    /// TEE_ALG_ECDH_DERIVE_SHARED_SECRET (OP-TEE's per-curve __OPTEE_ALG_ECDH_P* share the low bits).
    public static let ecdhDerive: UInt32 = 0x8000_0042
    /// TEE_ALG_ED25519.
    public static let ed25519: UInt32 = 0x7000_6043
    /// TEE_ALG_X25519.
    public static let x25519: UInt32 = 0x8000_0044

    /// TEE_TYPE_RSA_PUBLIC_KEY / KEYPAIR.
    public static let rsaPublicKey: UInt32 = 0xA000_0030, rsaKeyPair: UInt32 = 0xA100_0030
    /// TEE_TYPE_DSA_PUBLIC_KEY / KEYPAIR.
    public static let dsaPublicKey: UInt32 = 0xA000_0031, dsaKeyPair: UInt32 = 0xA100_0031
    /// TEE_TYPE_DH_KEYPAIR.
    public static let dhKeyPair: UInt32 = 0xA100_0032
    /// TEE_TYPE_ECDSA_PUBLIC_KEY / KEYPAIR.
    public static let ecdsaPublicKey: UInt32 = 0xA000_0041, ecdsaKeyPair: UInt32 = 0xA100_0041
    /// TEE_TYPE_ECDH_PUBLIC_KEY / KEYPAIR.
    public static let ecdhPublicKey: UInt32 = 0xA000_0042, ecdhKeyPair: UInt32 = 0xA100_0042
    /// TEE_TYPE_ED25519_PUBLIC_KEY / KEYPAIR.
    public static let ed25519PublicKey: UInt32 = 0xA000_0043, ed25519KeyPair: UInt32 = 0xA100_0043
    /// TEE_TYPE_X25519_PUBLIC_KEY / KEYPAIR.
    public static let x25519PublicKey: UInt32 = 0xA000_0044, x25519KeyPair: UInt32 = 0xA100_0044

    /// TEE_ATTR_RSA_*.
    public static let rsaModulus: UInt32 = 0xD000_0130, rsaPublicExponent: UInt32 = 0xD000_0230
    public static let rsaPrivateExponent: UInt32 = 0xC000_0330, rsaPrime1: UInt32 = 0xC000_0430, rsaPrime2: UInt32 = 0xC000_0530
    public static let rsaExponent1: UInt32 = 0xC000_0630, rsaExponent2: UInt32 = 0xC000_0730, rsaCoefficient: UInt32 = 0xC000_0830
    public static let rsaOAEPLabel: UInt32 = 0xD000_0930, rsaOAEPMGFHash: UInt32 = 0xD000_0931, rsaPSSSaltLength: UInt32 = 0xF000_0A30
    /// TEE_ATTR_DSA_*.
    public static let dsaPrime: UInt32 = 0xD000_1031, dsaSubprime: UInt32 = 0xD000_1131, dsaBase: UInt32 = 0xD000_1231
    public static let dsaPublicValue: UInt32 = 0xD000_0131, dsaPrivateValue: UInt32 = 0xC000_0231
    /// TEE_ATTR_DH_*.
    public static let dhPrime: UInt32 = 0xD000_1032, dhSubprime: UInt32 = 0xD000_1132, dhBase: UInt32 = 0xD000_1232
    public static let dhXBits: UInt32 = 0xF000_1332, dhPublicValue: UInt32 = 0xD000_0132, dhPrivateValue: UInt32 = 0xC000_0232
    /// TEE_ATTR_ECC_*.
    public static let eccPublicX: UInt32 = 0xD000_0141, eccPublicY: UInt32 = 0xD000_0241
    public static let eccPrivateValue: UInt32 = 0xC000_0341, eccCurve: UInt32 = 0xF000_0441
    /// TEE_ATTR_ED25519_* / EDDSA_*.
    public static let ed25519PublicValue: UInt32 = 0xD000_0743, ed25519PrivateValue: UInt32 = 0xC000_0843
    public static let eddsaCtx: UInt32 = 0xD000_0643, eddsaPrehash: UInt32 = 0xF000_0004
    /// TEE_ATTR_X25519_*.
    public static let x25519PublicValue: UInt32 = 0xD000_0944, x25519PrivateValue: UInt32 = 0xC000_0A44

    /// TEE_ECC_CURVE_NIST_P192 ... P521.
    public static let curveP192: UInt32 = 1, curveP224: UInt32 = 2, curveP256: UInt32 = 3, curveP384: UInt32 = 4, curveP521: UInt32 = 5
    /// TEE_ECC_CURVE_25519.
    public static let curve25519: UInt32 = 0x300
}

/// The asymmetric algorithms the framework plugs in (issue 14 part B).
public struct AsymmetricAlgorithms: AsymmetricBackend {
    /// The backend.
    public init() {}

    /// Whether `algorithm` is implemented here for `element` (the ECC curve; 0 when none applies).
    public func supports(algorithm: UInt32, element: UInt32) -> Bool {
        switch algorithm {
        case AsymID.rsaNoPad, AsymID.rsaesPKCS1v15, AsymID.dhDerive, AsymID.ed25519, AsymID.x25519: return true
        default: break
        }
        if algorithm & 0xFF == 0x42 || algorithm & 0xFF == 0x41 {           // ECDSA / ECDH (GP or OP-TEE ids)
            return element == 0 || ECCurve(gp: element) != nil
        }
        switch algorithm & 0xF000_00FF {
        case 0x7000_0030:                                                   // RSASSA
            guard let h = HashKind(gpID: (algorithm >> 12) & 0xF) else { return false }
            return algorithm & 0x0000_0F00 == 0x800 ? true : h.available    // PKCS#1 v1.5 needs no hash of its own
        case 0x6000_0030:                                                   // RSAES OAEP
            return HashKind(gpID: (algorithm >> 20) & 0xF)?.available ?? false
        case 0x7000_0031:                                                   // DSA
            return (2...4).contains((algorithm >> 12) & 0xF)               // SHA-1/224/256: the digest is the caller's
        default: return false
        }
    }

    /// TEE_GenerateKey for a key pair type.
    public func generate(type: UInt32, bits: Int, params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt32: [UInt8]] {
        switch type {
        case AsymID.rsaKeyPair: return try RSAKey.generate(bits: bits, exponent: params[AsymID.rsaPublicExponent])
        case AsymID.ecdsaKeyPair, AsymID.ecdhKeyPair:
            guard let c = params[AsymID.eccCurve].flatMap(valueAttribute) else { throw .badParameters }
            guard let curve = ECCurve(gp: c) else { throw .notSupported }
            guard bits == curve.bits else { throw .notSupported }
            return curve.generate()
        case AsymID.ed25519KeyPair:
            let k = Curve25519.Signing.PrivateKey()
            return [AsymID.ed25519PrivateValue: Array(k.rawRepresentation), AsymID.ed25519PublicValue: Array(k.publicKey.rawRepresentation)]
        case AsymID.x25519KeyPair:
            let k = Curve25519.KeyAgreement.PrivateKey()
            return [AsymID.x25519PrivateValue: Array(k.rawRepresentation), AsymID.x25519PublicValue: Array(k.publicKey.rawRepresentation)]
        case AsymID.dhKeyPair: return try FiniteField.generateDH(params: params)
        case AsymID.dsaKeyPair: return try FiniteField.generateDSA(params: params)
        default: throw .notSupported
        }
    }

    /// TEE_AsymmetricEncrypt.
    public func encrypt(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], data: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let k = try RSAKey(key, needPrivate: false)
        switch algorithm {
        case AsymID.rsaNoPad: return stripLeadingZeros(try k.publicOp(data))
        case AsymID.rsaesPKCS1v15: return try k.publicOp(try RSAPadding.pkcs1v15EncryptEncode(data, k: k.k))
        default:
            let (h, mgf) = try oaepHashes(algorithm, params)
            return try k.publicOp(try RSAPadding.oaepEncode(data, label: params[AsymID.rsaOAEPLabel] ?? [], k: k.k, hash: h, mgf: mgf))
        }
    }

    /// TEE_AsymmetricDecrypt.
    public func decrypt(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], data: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let k = try RSAKey(key, needPrivate: true)
        switch algorithm {
        case AsymID.rsaNoPad: return stripLeadingZeros(try k.privateOp(data))
        case AsymID.rsaesPKCS1v15: return try RSAPadding.pkcs1v15EncryptDecode(try k.privateOp(data))
        default:
            let (h, mgf) = try oaepHashes(algorithm, params)
            return try RSAPadding.oaepDecode(try k.privateOp(data), label: params[AsymID.rsaOAEPLabel] ?? [], hash: h, mgf: mgf)
        }
    }

    /// TEE_AsymmetricSignDigest (Ed25519: the message itself).
    public func sign(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], digest: [UInt8]) throws(TACryptoError) -> [UInt8] {
        switch algorithm {
        case AsymID.ed25519:
            try checkPureEdDSA(params)
            let seed = try attribute(key, AsymID.ed25519PrivateValue)
            do {
                return Array(try Curve25519.Signing.PrivateKey(rawRepresentation: seed).signature(for: digest))
            } catch { throw .badParameters }
        default: break
        }
        switch algorithm & 0xF000_00FF {
        case 0x7000_0030:
            let k = try RSAKey(key, needPrivate: true)
            let h = try rsassaHash(algorithm)
            if algorithm & 0x0000_0F00 == 0x800 {
                return try k.privateOp(try RSAPadding.pkcs1v15SignEncode(digest: digest, hash: h, k: k.k))
            }
            var salt = h.length
            if let b = params[AsymID.rsaPSSSaltLength] {
                guard let v = valueAttribute(b) else { throw .badParameters }
                salt = Int(v)
            }
            return try k.privateOp(try RSAPadding.pssEncode(digest: digest, saltLength: salt, modBits: k.bits, hash: h))
        case 0x7000_0031: return try FiniteField.dsaSign(key: key, digest: digest, hashID: (algorithm >> 12) & 0xF)
        case 0x7000_0041, 0x7000_0042: return try ECCurve.of(key).sign(key: key, digest: digest)
        default: throw .notSupported
        }
    }

    /// TEE_AsymmetricVerifyDigest: returns when the signature verifies, else signatureInvalid.
    public func verify(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], digest: [UInt8], signature: [UInt8]) throws(TACryptoError) {
        switch algorithm {
        case AsymID.ed25519:
            try checkPureEdDSA(params)
            let pub = try attribute(key, AsymID.ed25519PublicValue)
            guard let pk = try? Curve25519.Signing.PublicKey(rawRepresentation: pub) else { throw .badParameters }
            guard pk.isValidSignature(signature, for: digest) else { throw .signatureInvalid }
            return
        default: break
        }
        switch algorithm & 0xF000_00FF {
        case 0x7000_0030:
            let k = try RSAKey(key, needPrivate: false)
            let h = try rsassaHash(algorithm)
            guard signature.count == k.k, let em = try? k.publicOp(signature) else { throw .signatureInvalid }
            if algorithm & 0x0000_0F00 == 0x800 {
                guard em == (try RSAPadding.pkcs1v15SignEncode(digest: digest, hash: h, k: k.k)) else { throw .signatureInvalid }
                return
            }
            // GP: the salt length is TEE_ATTR_RSA_PSS_SALT_LENGTH, else the digest's length (both ways).
            let salt = params[AsymID.rsaPSSSaltLength].flatMap(valueAttribute).map(Int.init) ?? h.length
            let emLen = (k.bits - 1 + 7) / 8
            guard RSAPadding.pssVerify(digest: digest, em: Array(em.suffix(emLen)), leading: Array(em.dropLast(emLen)),
                                       saltLength: salt, modBits: k.bits, hash: h) else { throw .signatureInvalid }
        case 0x7000_0031: try FiniteField.dsaVerify(key: key, digest: digest, signature: signature, hashID: (algorithm >> 12) & 0xF)
        case 0x7000_0041, 0x7000_0042: try ECCurve.of(key).verify(key: key, digest: digest, signature: signature)
        default: throw .notSupported
        }
    }

    /// TEE_DeriveKey's shared secret for DH, ECDH and X25519.
    public func deriveSharedSecret(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt8] {
        switch algorithm {
        case AsymID.dhDerive: return try FiniteField.dhDerive(key: key, peer: try attribute(params, AsymID.dhPublicValue))
        case AsymID.x25519:
            do {
                let priv = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: try attribute(key, AsymID.x25519PrivateValue))
                let peer = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: try attribute(params, AsymID.x25519PublicValue))
                return try priv.sharedSecretFromKeyAgreement(with: peer).withUnsafeBytes { Array($0) }
            } catch let e as TACryptoError { throw e } catch { throw .badParameters }
        default:
            guard algorithm & 0xF000_00FF == 0x8000_0042 else { throw .notSupported }
            return try ECCurve.of(key).derive(key: key, peerX: try attribute(params, AsymID.eccPublicX), peerY: try attribute(params, AsymID.eccPublicY))
        }
    }

    private func checkPureEdDSA(_ params: [UInt32: [UInt8]]) throws(TACryptoError) {
        if let ph = params[AsymID.eddsaPrehash].flatMap(valueAttribute), ph != 0 { throw .notSupported }   // Ed25519ph
        if let ctx = params[AsymID.eddsaCtx], !ctx.isEmpty { throw .notSupported }                       // Ed25519ctx
    }

    private func rsassaHash(_ algorithm: UInt32) throws(TACryptoError) -> HashKind {
        guard let h = HashKind(gpID: (algorithm >> 12) & 0xF) else { throw .notSupported }
        return h
    }

    private func oaepHashes(_ algorithm: UInt32, _ params: [UInt32: [UInt8]]) throws(TACryptoError) -> (HashKind, HashKind) {
        guard algorithm & 0xF000_FFFF == 0x6000_0230, let h = HashKind(gpID: (algorithm >> 20) & 0xF), h.available else { throw .notSupported }
        guard let m = params[AsymID.rsaOAEPMGFHash] else { return (h, h) }
        // TEE_ATTR_RSA_OAEP_MGF_HASH names a digest algorithm (TEE_ALG_SHA*: 0x5000000N).
        guard let v = valueAttribute(m), v & 0xFFFF_FFF0 == 0x5000_0000, let mgf = HashKind(gpID: v & 0xF), mgf.available else { throw .notSupported }
        return (h, mgf)
    }
}

// MARK: helpers

/// The attribute `id` of `m`; badParameters when the key lacks it.
func attribute(_ m: [UInt32: [UInt8]], _ id: UInt32) throws(TACryptoError) -> [UInt8] {
    guard let v = m[id] else { throw .badParameters }
    return v
}

/// A value attribute's `a` (4 big-endian bytes); nil for any other length.
func valueAttribute(_ b: [UInt8]) -> UInt32? {
    guard b.count == 4 else { return nil }
    return b.reduce(0) { $0 << 8 | UInt32($1) }
}

/// `b` without leading zero bytes (one zero kept for an all-zero value), as OP-TEE returns RSA_NOPAD.
func stripLeadingZeros(_ b: [UInt8]) -> [UInt8] {
    let r = Array(b.drop(while: { $0 == 0 }))
    return r.isEmpty && !b.isEmpty ? [0] : r
}

/// The digests the RSA and DSA encodings name (GP's hash index in the algorithm id).
enum HashKind: Sendable {
    case md5, sha1, sha224, sha256, sha384, sha512, md5sha1

    /// GP's index: 1 MD5, 2 SHA-1, 3 SHA-224, 4 SHA-256, 5 SHA-384, 6 SHA-512, 0xF MD5+SHA-1.
    init?(gpID: UInt32) {
        switch gpID {
        case 1: self = .md5
        case 2: self = .sha1
        case 3: self = .sha224
        case 4: self = .sha256
        case 5: self = .sha384
        case 6: self = .sha512
        case 0xF: self = .md5sha1
        default: return nil
        }
    }

    /// Digest length in bytes.
    var length: Int {
        switch self {
        case .md5: 16
        case .sha1: 20
        case .sha224: 28
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        case .md5sha1: 36
        }
    }

    /// Whether a library here computes this digest (swift-crypto 3.12.3 has no SHA-224).
    var available: Bool { self != .sha224 }

    /// The digest of `data`.
    func hash(_ data: [UInt8]) throws(TACryptoError) -> [UInt8] {
        switch self {
        case .md5: return Array(Insecure.MD5.hash(data: data))
        case .sha1: return Array(Insecure.SHA1.hash(data: data))
        case .sha224: throw .notSupported
        case .sha256: return Array(SHA256.hash(data: data))
        case .sha384: return Array(SHA384.hash(data: data))
        case .sha512: return Array(SHA512.hash(data: data))
        case .md5sha1: return Array(Insecure.MD5.hash(data: data)) + Array(Insecure.SHA1.hash(data: data))
        }
    }

    /// The DER DigestInfo prefix of EMSA-PKCS1-v1_5 (RFC 8017 section 9.2, note 1); none for MD5+SHA-1.
    var digestInfoPrefix: [UInt8] {
        func sha2(_ len: UInt8, _ n: UInt8, _ hlen: UInt8) -> [UInt8] {
            [0x30, len, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n, 0x05, 0x00, 0x04, hlen]
        }
        switch self {
        case .md5: return [0x30, 0x20, 0x30, 0x0C, 0x06, 0x08, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10]
        case .sha1: return [0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14]
        case .sha224: return sha2(0x2D, 0x04, 0x1C)
        case .sha256: return sha2(0x31, 0x01, 0x20)
        case .sha384: return sha2(0x41, 0x02, 0x30)
        case .sha512: return sha2(0x51, 0x03, 0x40)
        case .md5sha1: return []
        }
    }

    /// MGF1 (RFC 8017 appendix B.2.1) of `seed`, `count` bytes.
    func mgf1(_ seed: [UInt8], _ count: Int) throws(TACryptoError) -> [UInt8] {
        var out: [UInt8] = []
        var counter: UInt32 = 0
        while out.count < count {
            out += try hash(seed + [UInt8(counter >> 24), UInt8(counter >> 16 & 0xFF), UInt8(counter >> 8 & 0xFF), UInt8(counter & 0xFF)])
            counter += 1
        }
        return Array(out.prefix(count))
    }
}

/// A caller-made digest handed to swift-crypto's ECDSA, which signs the bytes it is given.
struct RawDigest: Crypto.Digest {
    static var byteCount: Int { 64 }
    let bytes: [UInt8]
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try bytes.withUnsafeBytes(body) }
    func makeIterator() -> IndexingIterator<[UInt8]> { bytes.makeIterator() }
    var description: String { "RawDigest(\(bytes.count) bytes)" }
}

/// Random bytes from the system generator (getrandom).
func randomBytes(_ n: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// A uniformly random integer in [low, high] (high >= low).
func randomInteger(in low: BigUInt, _ high: BigUInt) -> BigUInt {
    let span = high - low + 1
    var g = SystemRandomNumberGenerator()
    return low + BigUInt.randomInteger(lessThan: span, using: &g)
}

extension AsymmetricAlgorithms {
    /// The public attributes that follow from a key pair's private ones (Ed25519 and X25519 from
    /// the private value, ECC from d, DH and DSA y = g^x mod p), added to `key`; RSA keys carry
    /// theirs already. badParameters when the private part is missing or malformed.
    public func derivePublic(type: UInt32, key: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt32: [UInt8]] {
        var out = key
        do {
            switch type {
            case AsymID.ed25519KeyPair:
                out[AsymID.ed25519PublicValue] = Array(try Curve25519.Signing.PrivateKey(rawRepresentation: try attribute(key, AsymID.ed25519PrivateValue)).publicKey.rawRepresentation)
            case AsymID.x25519KeyPair:
                out[AsymID.x25519PublicValue] = Array(try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: try attribute(key, AsymID.x25519PrivateValue)).publicKey.rawRepresentation)
            case AsymID.ecdsaKeyPair, AsymID.ecdhKeyPair:
                let c = try ECCurve.of(key)
                let d = try c.fit(try attribute(key, AsymID.eccPrivateValue))
                let pub: [UInt8]
                switch c {
                case .p256: pub = Array(try P256.Signing.PrivateKey(rawRepresentation: d).publicKey.rawRepresentation)
                case .p384: pub = Array(try P384.Signing.PrivateKey(rawRepresentation: d).publicKey.rawRepresentation)
                case .p521: pub = Array(try P521.Signing.PrivateKey(rawRepresentation: d).publicKey.rawRepresentation)
                }
                out[AsymID.eccPublicX] = Array(pub.prefix(c.size)); out[AsymID.eccPublicY] = Array(pub.suffix(c.size))
            case AsymID.dhKeyPair:
                let p = BigUInt(bigEndian: try attribute(key, AsymID.dhPrime)), g = BigUInt(bigEndian: try attribute(key, AsymID.dhBase))
                guard p > 3 else { throw TACryptoError.badParameters }
                out[AsymID.dhPublicValue] = g.power(BigUInt(bigEndian: try attribute(key, AsymID.dhPrivateValue)), modulus: p).bigEndianBytes
            case AsymID.dsaKeyPair:
                let (p, _, g) = try FiniteField.domain(key)
                out[AsymID.dsaPublicValue] = g.power(BigUInt(bigEndian: try attribute(key, AsymID.dsaPrivateValue)), modulus: p).bigEndianBytes
            case AsymID.rsaKeyPair: _ = try RSAKey(key, needPrivate: true)
            default: throw TACryptoError.notSupported
            }
        } catch let e as TACryptoError { throw e } catch { throw .badParameters }
        return out
    }
}
