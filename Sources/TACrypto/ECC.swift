/// ECDSA and ECDH on the NIST curves for the GP asymmetric API (secure world, module TACrypto),
/// over swift-crypto (BoringSSL). Keys come as GP attributes: TEE_ATTR_ECC_CURVE (value),
/// TEE_ATTR_ECC_PRIVATE_VALUE, TEE_ATTR_ECC_PUBLIC_VALUE_X/Y, big-endian. Signatures are r || s,
/// each the curve's byte size, as GP specifies. P-192 and P-224: NOT_SUPPORTED (swift-crypto has
/// neither curve).
import Crypto

/// A NIST curve swift-crypto implements.
enum ECCurve: Sendable {
    case p256, p384, p521

    /// The curve of GP's TEE_ECC_CURVE_* value; nil for curves swift-crypto lacks.
    init?(gp: UInt32) {
        switch gp {
        case AsymID.curveP256: self = .p256
        case AsymID.curveP384: self = .p384
        case AsymID.curveP521: self = .p521
        default: return nil
        }
    }

    /// The curve named by the key's TEE_ATTR_ECC_CURVE.
    static func of(_ key: [UInt32: [UInt8]]) throws(TACryptoError) -> ECCurve {
        guard let v = key[AsymID.eccCurve].flatMap(valueAttribute) else { throw .badParameters }
        guard let c = ECCurve(gp: v) else { throw .notSupported }
        return c
    }

    /// Key size in bits (GP's object size) and coordinate size in bytes.
    var bits: Int { switch self { case .p256: 256; case .p384: 384; case .p521: 521 } }
    var size: Int { (bits + 7) / 8 }

    /// `b` as exactly `size` bytes (leading zeros added or dropped); nil when too large.
    func fit(_ b: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let t = Array(b.drop(while: { $0 == 0 }))
        guard t.count <= size else { throw .badParameters }
        return [UInt8](repeating: 0, count: size - t.count) + t
    }

    /// A new key pair as GP attributes.
    func generate() -> [UInt32: [UInt8]] {
        let (d, pub): ([UInt8], [UInt8])
        switch self {
        case .p256: let k = P256.Signing.PrivateKey(); (d, pub) = (Array(k.rawRepresentation), Array(k.publicKey.rawRepresentation))
        case .p384: let k = P384.Signing.PrivateKey(); (d, pub) = (Array(k.rawRepresentation), Array(k.publicKey.rawRepresentation))
        case .p521: let k = P521.Signing.PrivateKey(); (d, pub) = (Array(k.rawRepresentation), Array(k.publicKey.rawRepresentation))
        }
        let curveID: UInt32 = self == .p256 ? AsymID.curveP256 : self == .p384 ? AsymID.curveP384 : AsymID.curveP521
        return [AsymID.eccPrivateValue: d, AsymID.eccPublicX: Array(pub.prefix(size)), AsymID.eccPublicY: Array(pub.suffix(size)),
                AsymID.eccCurve: [UInt8(curveID >> 24), UInt8(curveID >> 16 & 0xFF), UInt8(curveID >> 8 & 0xFF), UInt8(curveID & 0xFF)]]
    }

    /// ECDSA signature r || s over the caller's digest.
    func sign(key: [UInt32: [UInt8]], digest: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let d = try fit(try attribute(key, AsymID.eccPrivateValue)), h = RawDigest(bytes: digest)
        do {
            switch self {
            case .p256: return Array(try P256.Signing.PrivateKey(rawRepresentation: d).signature(for: h).rawRepresentation)
            case .p384: return Array(try P384.Signing.PrivateKey(rawRepresentation: d).signature(for: h).rawRepresentation)
            case .p521: return Array(try P521.Signing.PrivateKey(rawRepresentation: d).signature(for: h).rawRepresentation)
            }
        } catch { throw .badParameters }
    }

    /// ECDSA verification; signatureInvalid for a wrong length or a signature that does not verify.
    func verify(key: [UInt32: [UInt8]], digest: [UInt8], signature: [UInt8]) throws(TACryptoError) {
        let pub = try fit(try attribute(key, AsymID.eccPublicX)) + (try fit(try attribute(key, AsymID.eccPublicY)))
        guard signature.count == 2 * size else { throw .signatureInvalid }
        let h = RawDigest(bytes: digest)
        let ok: Bool
        do {
            switch self {
            case .p256: ok = try P256.Signing.PublicKey(rawRepresentation: pub).isValidSignature(.init(rawRepresentation: signature), for: h)
            case .p384: ok = try P384.Signing.PublicKey(rawRepresentation: pub).isValidSignature(.init(rawRepresentation: signature), for: h)
            case .p521: ok = try P521.Signing.PublicKey(rawRepresentation: pub).isValidSignature(.init(rawRepresentation: signature), for: h)
            }
        } catch { throw .badParameters }
        guard ok else { throw .signatureInvalid }
    }

    /// ECDH: the x coordinate of d * peer, `size` bytes (GP's shared secret).
    func derive(key: [UInt32: [UInt8]], peerX: [UInt8], peerY: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let d = try fit(try attribute(key, AsymID.eccPrivateValue)), peer = try fit(peerX) + (try fit(peerY))
        do {
            let s: SharedSecret
            switch self {
            case .p256: s = try P256.KeyAgreement.PrivateKey(rawRepresentation: d).sharedSecretFromKeyAgreement(with: .init(rawRepresentation: peer))
            case .p384: s = try P384.KeyAgreement.PrivateKey(rawRepresentation: d).sharedSecretFromKeyAgreement(with: .init(rawRepresentation: peer))
            case .p521: s = try P521.KeyAgreement.PrivateKey(rawRepresentation: d).sharedSecretFromKeyAgreement(with: .init(rawRepresentation: peer))
            }
            return s.withUnsafeBytes { Array($0) }
        } catch { throw .badParameters }
    }
}
