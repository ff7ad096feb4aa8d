/// AES block modes for the aes TA: streaming ECB/CBC/CTR as GP's TEE_CipherUpdate runs them,
/// and one-shot CCM/GCM as TEE_AEEncryptFinal / TEE_AEDecryptFinal do.
///
/// Built on swift-crypto: the single-block `AES.permute` / `AES.inversePermute` of _CryptoExtras
/// for ECB, CBC, CTR and CCM, and `AES.GCM` for GCM.
import Crypto
import _CryptoExtras
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

/// AES block size in bytes.
let aesBlockSize = 16

/// One AES block operation with a fixed key.
struct AESBlockKey {
    let key: SymmetricKey

    init(_ bytes: [UInt8]) { key = SymmetricKey(data: bytes) }

    /// Encrypts one 16-byte block in place.
    func encrypt(_ block: inout [UInt8]) throws(TEEResult) {
        do { try AES.permute(&block, key: key) } catch { throw .generic }
    }

    /// Decrypts one 16-byte block in place.
    func decrypt(_ block: inout [UInt8]) throws(TEEResult) {
        do { try AES.inversePermute(&block, key: key) } catch { throw .generic }
    }
}

/// A streaming ECB / CBC / CTR cipher, as an initialized GP cipher operation: `update` may be
/// called repeatedly and continues the stream (CBC chaining, CTR keystream). ECB and CBC output
/// only whole blocks and keep the remainder for the next update, as libutee buffers them.
struct AESStreamCipher {
    let algorithm: AESAlgorithm
    let encrypting: Bool
    private let block: AESBlockKey
    /// CBC: the previous ciphertext block (the IV first). CTR: the next counter block.
    private var chain: [UInt8]
    /// ECB/CBC: buffered input shorter than a block.
    private var pending: [UInt8] = []
    /// CTR: the unused rest of the current keystream block.
    private var keystream: [UInt8] = []

    /// A cipher for `algorithm` (ECB, CBC or CTR) with `key` and `iv` (16 bytes for CBC/CTR,
    /// none for ECB). Returns nil for an algorithm or IV that `TEE_CipherInit` would refuse.
    init?(algorithm: AESAlgorithm, encrypting: Bool, key: [UInt8], iv: [UInt8]) {
        switch algorithm {
        case .ecb: guard iv.isEmpty else { return nil }
        case .cbc, .ctr: guard iv.count == aesBlockSize else { return nil }
        case .ccm, .gcm: return nil
        }
        guard key.count == 16 || key.count == 24 || key.count == 32 else { return nil }
        self.algorithm = algorithm
        self.encrypting = encrypting
        self.block = AESBlockKey(key)
        self.chain = iv
    }

    /// Bytes an update of `count` input bytes produces (TEE_CipherUpdate's required length).
    func outputCount(forInput count: Int) -> Int {
        switch algorithm {
        case .ctr: return count
        default: return (pending.count + count) / aesBlockSize * aesBlockSize
        }
    }

    /// Ciphers `input`, continuing the stream.
    mutating func update(_ input: [UInt8]) throws(TEEResult) -> [UInt8] {
        switch algorithm {
        case .ctr: return try ctr(input)
        case .ecb, .cbc: return try blocks(input)
        case .ccm, .gcm: throw .badState
        }
    }

    private mutating func ctr(_ input: [UInt8]) throws(TEEResult) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            if keystream.isEmpty {
                var ks = chain
                try block.encrypt(&ks)
                keystream = ks
                Self.increment(&chain)
            }
            let n = Swift.min(keystream.count, input.count - i)
            for j in 0..<n { out.append(input[i + j] ^ keystream[j]) }
            keystream.removeFirst(n)
            i += n
        }
        return out
    }

    private mutating func blocks(_ input: [UInt8]) throws(TEEResult) -> [UInt8] {
        var data = pending + input
        let whole = data.count / aesBlockSize * aesBlockSize
        pending = Array(data[whole...])
        data.removeSubrange(whole...)
        var out = [UInt8]()
        out.reserveCapacity(whole)
        var offset = 0
        while offset < whole {
            var b = Array(data[offset..<offset + aesBlockSize])
            switch (algorithm, encrypting) {
            case (.ecb, true):
                try block.encrypt(&b)
            case (.ecb, false):
                try block.decrypt(&b)
            case (.cbc, true):
                for j in 0..<aesBlockSize { b[j] ^= chain[j] }
                try block.encrypt(&b)
                chain = b
            default: // CBC decrypt
                let c = b
                try block.decrypt(&b)
                for j in 0..<aesBlockSize { b[j] ^= chain[j] }
                chain = c
            }
            out += b
            offset += aesBlockSize
        }
        return out
    }

    /// Adds 1 to a 128-bit big-endian counter (wraps).
    static func increment(_ counter: inout [UInt8]) {
        var i = counter.count - 1
        while i >= 0 {
            counter[i] &+= 1
            if counter[i] != 0 { return }
            i -= 1
        }
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

    /// Encrypts and returns (ciphertext, tag of `tagLength` bytes).
    static func seal(_ algorithm: AESAlgorithm, key: [UInt8], nonce: [UInt8], aad: [UInt8] = [],
                     plaintext: [UInt8], tagLength: Int) throws(TEEResult) -> (ciphertext: [UInt8], tag: [UInt8]) {
        guard isValidTagLength(tagLength, for: algorithm), isValidNonceLength(nonce.count, for: algorithm) else {
            throw .notSupported
        }
        switch algorithm {
        case .gcm:
            let (c, t) = try gcmSeal(key: key, nonce: nonce, aad: aad, plaintext: plaintext)
            return (c, Array(t.prefix(tagLength)))
        case .ccm:
            return try CCM(key: key, nonce: nonce, tagLength: tagLength).seal(plaintext, aad: aad)
        default:
            throw .badState
        }
    }

    /// Decrypts and verifies `tag` (its length is the tag length); `.macInvalid` on mismatch.
    static func open(_ algorithm: AESAlgorithm, key: [UInt8], nonce: [UInt8], aad: [UInt8] = [],
                     ciphertext: [UInt8], tag: [UInt8]) throws(TEEResult) -> [UInt8] {
        guard isValidTagLength(tag.count, for: algorithm), isValidNonceLength(nonce.count, for: algorithm) else {
            throw .notSupported
        }
        switch algorithm {
        case .gcm:
            // GCM's payload is CTR-mode: sealing the ciphertext under the same nonce yields the
            // plaintext; sealing that plaintext yields the expected tag (also for truncated tags).
            let (plaintext, _) = try gcmSeal(key: key, nonce: nonce, aad: aad, plaintext: ciphertext)
            let (_, expected) = try gcmSeal(key: key, nonce: nonce, aad: aad, plaintext: plaintext)
            guard constantTimeEqual(Array(expected.prefix(tag.count)), tag) else { throw .macInvalid }
            return plaintext
        case .ccm:
            return try CCM(key: key, nonce: nonce, tagLength: tag.count).open(ciphertext, tag: tag, aad: aad)
        default:
            throw .badState
        }
    }

    private static func gcmSeal(key: [UInt8], nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(TEEResult) -> ([UInt8], [UInt8]) {
        do {
            let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: key),
                                       nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
            return (Array(box.ciphertext), Array(box.tag))
        } catch {
            throw .generic
        }
    }

    /// Compares without an early exit.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// AES-CCM (NIST SP 800-38C, RFC 3610) over single-block AES.
    struct CCM {
        let block: AESBlockKey
        let nonce: [UInt8]
        let tagLength: Int
        /// Bytes of the length field (L = 15 - nonce length).
        var lengthSize: Int { 15 - nonce.count }

        init(key: [UInt8], nonce: [UInt8], tagLength: Int) {
            block = AESBlockKey(key); self.nonce = nonce; self.tagLength = tagLength
        }

        func seal(_ plaintext: [UInt8], aad: [UInt8]) throws(TEEResult) -> (ciphertext: [UInt8], tag: [UInt8]) {
            let t = try mac(plaintext, aad: aad)
            let (s0, ciphertext) = try ctr(plaintext)
            var tag = [UInt8](repeating: 0, count: tagLength)
            for i in 0..<tagLength { tag[i] = t[i] ^ s0[i] }
            return (ciphertext, tag)
        }

        func open(_ ciphertext: [UInt8], tag: [UInt8], aad: [UInt8]) throws(TEEResult) -> [UInt8] {
            let (s0, plaintext) = try ctr(ciphertext)
            let t = try mac(plaintext, aad: aad)
            var expected = [UInt8](repeating: 0, count: tagLength)
            for i in 0..<tagLength { expected[i] = t[i] ^ s0[i] }
            guard AESAuthenticatedCipher.constantTimeEqual(expected, tag) else { throw .macInvalid }
            return plaintext
        }

        /// The payload must fit the L-byte length field.
        private func checkLength(_ count: Int) throws(TEEResult) {
            if lengthSize < 8 && UInt64(count) >> UInt64(8 * lengthSize) != 0 { throw .badParameters }
        }

        /// CBC-MAC over B0, the encoded AAD and the payload; returns the full 16-byte value.
        private func mac(_ payload: [UInt8], aad: [UInt8]) throws(TEEResult) -> [UInt8] {
            try checkLength(payload.count)
            var b0 = [UInt8](repeating: 0, count: aesBlockSize)
            b0[0] = (aad.isEmpty ? 0 : 0x40) | UInt8(((tagLength - 2) / 2) << 3) | UInt8(lengthSize - 1)
            for i in 0..<nonce.count { b0[1 + i] = nonce[i] }
            var len = UInt64(payload.count)
            var i = aesBlockSize - 1
            while i > nonce.count { b0[i] = UInt8(truncatingIfNeeded: len); len >>= 8; i -= 1 }

            var x = b0
            try block.encrypt(&x)
            var stream: [UInt8] = []
            if !aad.isEmpty {
                let a = UInt64(aad.count)
                if a < 0xFF00 {
                    stream = [UInt8(a >> 8), UInt8(a & 0xFF)]
                } else if a <= 0xFFFF_FFFF {
                    stream = [0xFF, 0xFE] + (0..<4).map { UInt8(truncatingIfNeeded: a >> (24 - 8 * UInt64($0))) }
                } else {
                    stream = [0xFF, 0xFF] + (0..<8).map { UInt8(truncatingIfNeeded: a >> (56 - 8 * UInt64($0))) }
                }
                stream += aad
                try absorb(&x, stream)
            }
            try absorb(&x, payload)
            return x
        }

        /// CBC-MAC absorption of `data`, zero-padded to whole blocks.
        private func absorb(_ x: inout [UInt8], _ data: [UInt8]) throws(TEEResult) {
            var offset = 0
            while offset < data.count {
                for j in 0..<aesBlockSize where offset + j < data.count { x[j] ^= data[offset + j] }
                try block.encrypt(&x)
                offset += aesBlockSize
            }
        }

        /// CTR with A_i = flags(L-1) | nonce | i; returns (S_0, payload XOR S_1, S_2, ...).
        private func ctr(_ payload: [UInt8]) throws(TEEResult) -> ([UInt8], [UInt8]) {
            try checkLength(payload.count)
            var a = [UInt8](repeating: 0, count: aesBlockSize)
            a[0] = UInt8(lengthSize - 1)
            for i in 0..<nonce.count { a[1 + i] = nonce[i] }
            var s0 = a
            try block.encrypt(&s0)
            var out = [UInt8](repeating: 0, count: payload.count)
            var offset = 0
            while offset < payload.count {
                AESStreamCipher.increment(&a)
                var s = a
                try block.encrypt(&s)
                let n = Swift.min(aesBlockSize, payload.count - offset)
                for j in 0..<n { out[offset + j] = payload[offset + j] ^ s[j] }
                offset += n
            }
            return (s0, out)
        }
    }
}
