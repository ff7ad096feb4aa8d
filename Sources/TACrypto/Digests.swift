/// Message digests and HMAC over swift-crypto, as copyable values (TEE_CopyOperation copies
/// them), and the KDFs built on them (HKDF and PBKDF2 from swift-crypto, NIST concat KDF as the
/// counter construction over the library digest). Secure world.
import Crypto
import _CryptoExtras

/// The digests swift-crypto 3.12 provides (GP's index: TEE_ALG_<digest> & 0xF).
enum DigestKind: UInt32, Sendable {
    case md5 = 1, sha1 = 2, sha256 = 4, sha384 = 5, sha512 = 6

    /// The kind for GP's digest index; nil for SHA-224, SM3 and SHA3 (not in swift-crypto 3.12).
    init?(index: UInt32) { self.init(rawValue: index) }

    /// Output length in bytes.
    var length: Int {
        switch self { case .md5: 16; case .sha1: 20; case .sha256: 32; case .sha384: 48; case .sha512: 64 }
    }
}

/// A running hash computation (a digest or an HMAC): absorbs bytes, then gives its output.
/// A value: copying it copies the state, as TEE_CopyOperation needs.
protocol RunningHash {
    mutating func update(_ d: [UInt8])
    func finalize() -> [UInt8]
}

/// swift-crypto's hash function `H` as a running digest.
private struct RunningDigest<H: HashFunction>: RunningHash {
    var h = H()
    mutating func update(_ d: [UInt8]) { h.update(data: d) }
    func finalize() -> [UInt8] { Array(h.finalize()) }
}

/// swift-crypto's HMAC over `H` as a running MAC.
private struct RunningHMAC<H: HashFunction>: RunningHash {
    var h: HMAC<H>
    mutating func update(_ d: [UInt8]) { h.update(data: d) }
    func finalize() -> [UInt8] { Array(h.finalize()) }
}

/// A running digest.
struct Digest {
    private var state: any RunningHash
    let kind: DigestKind

    init(_ kind: DigestKind) {
        self.kind = kind
        switch kind {
        case .md5: state = RunningDigest<Insecure.MD5>()
        case .sha1: state = RunningDigest<Insecure.SHA1>()
        case .sha256: state = RunningDigest<SHA256>()
        case .sha384: state = RunningDigest<SHA384>()
        case .sha512: state = RunningDigest<SHA512>()
        }
    }

    mutating func update(_ d: [UInt8]) { state.update(d) }
    func finalize() -> [UInt8] { state.finalize() }

    static func hash(_ kind: DigestKind, _ d: [UInt8]) -> [UInt8] {
        var h = Digest(kind); h.update(d); return h.finalize()
    }
}

/// A running HMAC.
struct HMACState {
    private var state: any RunningHash

    init(_ kind: DigestKind, key: [UInt8]) {
        let k = SymmetricKey(data: key)
        switch kind {
        case .md5: state = RunningHMAC<Insecure.MD5>(h: .init(key: k))
        case .sha1: state = RunningHMAC<Insecure.SHA1>(h: .init(key: k))
        case .sha256: state = RunningHMAC<SHA256>(h: .init(key: k))
        case .sha384: state = RunningHMAC<SHA384>(h: .init(key: k))
        case .sha512: state = RunningHMAC<SHA512>(h: .init(key: k))
        }
    }

    mutating func update(_ d: [UInt8]) { state.update(d) }
    func finalize() -> [UInt8] { state.finalize() }
}

/// The key-derivation functions of OP-TEE's extensions.
enum KDF {
    /// RFC 5869 HKDF (swift-crypto's HKDF<H>); an absent salt is HashLen zeros, as the RFC says.
    static func hkdf(_ kind: DigestKind, ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int) throws(TACryptoError) -> [UInt8] {
        guard length > 0, length <= 255 * kind.length else { throw .badParameters }
        let k = SymmetricKey(data: ikm)
        let out: SymmetricKey
        switch kind {
        case .md5: out = HKDF<Insecure.MD5>.deriveKey(inputKeyMaterial: k, salt: salt, info: info, outputByteCount: length)
        case .sha1: out = HKDF<Insecure.SHA1>.deriveKey(inputKeyMaterial: k, salt: salt, info: info, outputByteCount: length)
        case .sha256: out = HKDF<SHA256>.deriveKey(inputKeyMaterial: k, salt: salt, info: info, outputByteCount: length)
        case .sha384: out = HKDF<SHA384>.deriveKey(inputKeyMaterial: k, salt: salt, info: info, outputByteCount: length)
        case .sha512: out = HKDF<SHA512>.deriveKey(inputKeyMaterial: k, salt: salt, info: info, outputByteCount: length)
        }
        return out.withUnsafeBytes { Array($0) }
    }

    /// Most PBKDF2 iterations one call may ask for (2^24, RFC 6070's largest vector): the secure
    /// thread that runs the derivation cannot be interrupted, so a TA may not hold it for minutes.
    static let maxPBKDF2Iterations = 1 << 24

    /// PKCS #5 PBKDF2 with HMAC-SHA1 (swift-crypto's KDF.Insecure.PBKDF2; 1 ... 2^24 iterations).
    static func pbkdf2SHA1(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws(TACryptoError) -> [UInt8] {
        guard iterations > 0, iterations <= maxPBKDF2Iterations, length > 0 else { throw .badParameters }
        do {
            let k = try KDF_PBKDF2.deriveKey(from: password, salt: salt, using: .insecureSHA1, outputByteCount: length,
                                             unsafeUncheckedRounds: iterations)
            return k.withUnsafeBytes { Array($0) }
        } catch { throw .generic }
    }

    /// NIST SP 800-56A concatenation KDF: Hash(counter_32be || Z || OtherInfo) for counter 1, 2, ...
    static func concat(_ kind: DigestKind, z: [UInt8], otherInfo: [UInt8], length: Int) throws(TACryptoError) -> [UInt8] {
        guard length > 0, length <= 0xFFFF * kind.length else { throw .badParameters }
        var out: [UInt8] = []
        var counter: UInt32 = 1
        while out.count < length {
            var h = Digest(kind)
            h.update([UInt8(counter >> 24), UInt8(counter >> 16 & 0xFF), UInt8(counter >> 8 & 0xFF), UInt8(counter & 0xFF)])
            h.update(z); h.update(otherInfo)
            out += h.finalize()
            counter += 1
        }
        return Array(out.prefix(length))
    }
}

/// swift-crypto's PBKDF2 (in _CryptoExtras as KDF.Insecure.PBKDF2).
typealias KDF_PBKDF2 = _CryptoExtras.KDF.Insecure.PBKDF2
