/// AES block modes for the aes TA: streaming ECB/CBC/CTR as GP's TEE_CipherUpdate runs them,
/// and one-shot CCM/GCM as TEE_AEEncryptFinal / TEE_AEDecryptFinal do.
///
/// The modes are TACrypto's (the engines behind C TAs' GP crypto, over swift-crypto's AES block
/// and AES.GCM): this file only adapts them to the aes TA's shapes and result codes.
import TACrypto
import TAAPI
import TEEABI

/// The AES algorithms the aes TA offers (TA_AES_ALGO_*).
public enum AESAlgorithm: UInt32, Sendable, CaseIterable {
    /// TEE_ALG_AES_ECB_NOPAD.
    case ecb = 0
    /// TEE_ALG_AES_CBC_NOPAD.
    case cbc = 1
    /// TEE_ALG_AES_CTR (128-bit big-endian counter).
    case ctr = 2
    /// TEE_ALG_AES_CCM (authenticated, AUTHENC only).
    case ccm = 3
    /// TEE_ALG_AES_GCM (authenticated, AUTHENC only).
    case gcm = 4

    /// Authenticated-encryption algorithms are used through AUTHENC, not SET_IV/CIPHER.
    public var isAuthenticated: Bool { self == .ccm || self == .gcm }
}

/// A streaming ECB / CBC / CTR cipher, as an initialized GP cipher operation: `update` may be
/// called repeatedly and continues the stream (CBC chaining, CTR keystream). ECB and CBC output
/// only whole blocks and keep the remainder for the next update, as libutee buffers them.
struct AESStreamCipher {
    let algorithm: AESAlgorithm
    private var cipher: AESCipher

    /// A cipher for `algorithm` (ECB, CBC or CTR) with `key` and `iv` (16 bytes for CBC/CTR,
    /// none for ECB). Returns nil for an algorithm or IV that `TEE_CipherInit` would refuse.
    init?(algorithm: AESAlgorithm, encrypting: Bool, key: [UInt8], iv: [UInt8]) {
        let mode: CipherMode
        switch algorithm {
        case .ecb: mode = .ecb
        case .cbc: mode = .cbc
        case .ctr: mode = .ctr
        case .ccm, .gcm: return nil
        }
        guard let c = try? AESCipher(mode: mode, encrypting: encrypting, key: key, key2: [], iv: iv) else { return nil }
        self.algorithm = algorithm
        cipher = c
    }

    /// Bytes an update of `count` input bytes produces (TEE_CipherUpdate's required length).
    func outputCount(forInput count: Int) -> Int { cipher.outputCount(forInput: count) }

    /// Ciphers `input`, continuing the stream.
    mutating func update(_ input: [UInt8]) throws(TEEResult) -> [UInt8] {
        do { return try cipher.update(input) } catch { throw TEEResult(rawValue: error.code) }
    }
}

/// One-shot authenticated encryption (AES-CCM and AES-GCM) with a caller-chosen tag length.
enum AESAuthenticatedCipher {
    /// Whether `algorithm` accepts a tag of `length` bytes (GP: GCM 96..128 bits; CCM 4..16 even).
    static func isValidTagLength(_ length: Int, for algorithm: AESAlgorithm) -> Bool {
        switch algorithm {
        case .gcm: return length >= 12 && length <= 16
        case .ccm: return length >= 4 && length <= 16 && length % 2 == 0
        default: return false
        }
    }

    /// Whether `algorithm` accepts a nonce of `length` bytes (CCM 7..13; GCM at least 12 here).
    static func isValidNonceLength(_ length: Int, for algorithm: AESAlgorithm) -> Bool {
        switch algorithm {
        case .gcm: return length >= 12
        case .ccm: return length >= 7 && length <= 13
        default: return false
        }
    }

    private static func engine(_ algorithm: AESAlgorithm, encrypting: Bool, key: [UInt8], nonce: [UInt8], tagLength: Int,
                               aad: [UInt8], payload: Int) throws(TEEResult) -> AESAE {
        guard isValidTagLength(tagLength, for: algorithm), isValidNonceLength(nonce.count, for: algorithm) else { throw .notSupported }
        do {
            var ae = try AESAE(kind: algorithm == .gcm ? .gcm : .ccm, encrypting: encrypting, key: key, nonce: nonce,
                               tagBits: tagLength * 8, aadLength: aad.count, payloadLength: payload)
            try ae.updateAAD(aad)
            return ae
        } catch { throw TEEResult(rawValue: error.code) }
    }

    /// Encrypts and returns (ciphertext, tag of `tagLength` bytes).
    static func seal(_ algorithm: AESAlgorithm, key: [UInt8], nonce: [UInt8], aad: [UInt8] = [],
                     plaintext: [UInt8], tagLength: Int) throws(TEEResult) -> (ciphertext: [UInt8], tag: [UInt8]) {
        var ae = try engine(algorithm, encrypting: true, key: key, nonce: nonce, tagLength: tagLength, aad: aad, payload: plaintext.count)
        do { return try ae.encryptFinal(plaintext) } catch { throw TEEResult(rawValue: error.code) }
    }

    /// Decrypts and verifies `tag` (its length is the tag length); `.macInvalid` on mismatch.
    static func open(_ algorithm: AESAlgorithm, key: [UInt8], nonce: [UInt8], aad: [UInt8] = [],
                     ciphertext: [UInt8], tag: [UInt8]) throws(TEEResult) -> [UInt8] {
        var ae = try engine(algorithm, encrypting: false, key: key, nonce: nonce, tagLength: tag.count, aad: aad, payload: ciphertext.count)
        do { return try ae.decryptFinal(ciphertext, tag: tag) } catch { throw TEEResult(rawValue: error.code) }
    }
}
