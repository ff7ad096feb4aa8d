/// AES modes over swift-crypto's AES block (`AES.permute` / `inversePermute`) and its bulk
/// `AES._CBC` / `AES._CTR` / `AES.GCM`: the GP cipher modes (ECB, CBC, CTR, CTS = CBC-CS3, XTS),
/// MACs (CMAC, CBC-MAC NOPAD/PKCS5) and AE (GCM, CCM) as copyable streaming states, so that a
/// SHORT_BUFFER leaves the operation untouched and TEE_CopyOperation is a copy. Secure world.
import Crypto
import Foundation
import _CryptoExtras

let blockSize = 16

/// AES with one key: single blocks and bulk CBC/CTR.
struct AESKey {
    let key: SymmetricKey

    init(_ bytes: [UInt8]) throws(TACryptoError) {
        guard [16, 24, 32].contains(bytes.count) else { throw .badParameters }
        key = SymmetricKey(data: bytes)
    }

    func encryptBlock(_ b: [UInt8]) throws(TACryptoError) -> [UInt8] {
        var x = b
        do { try AES.permute(&x, key: key) } catch { throw .generic }
        return x
    }

    func decryptBlock(_ b: [UInt8]) throws(TACryptoError) -> [UInt8] {
        var x = b
        do { try AES.inversePermute(&x, key: key) } catch { throw .generic }
        return x
    }

    /// CBC without padding over whole blocks; `iv` is the chaining block.
    func cbc(_ data: [UInt8], iv: [UInt8], encrypt: Bool) throws(TACryptoError) -> [UInt8] {
        if data.isEmpty { return [] }
        do {
            let v = try AES._CBC.IV(ivBytes: iv)
            let out = encrypt ? try AES._CBC.encrypt(data, using: key, iv: v, noPadding: true)
                              : try AES._CBC.decrypt(data, using: key, iv: v, noPadding: true)
            return [UInt8](out)
        } catch { throw .generic }
    }

    /// CTR from the 16-byte counter block `counter` (128-bit big-endian increment).
    func ctr(_ data: [UInt8], counter: [UInt8]) throws(TACryptoError) -> [UInt8] {
        if data.isEmpty { return [] }
        do { return [UInt8](try AES._CTR.encrypt(data, using: key, nonce: AES._CTR.Nonce(nonceBytes: counter))) } catch { throw .generic }
    }
}

/// Adds `n` to a big-endian counter held in the last `width` bytes of `block` (wrapping within them).
func addCounter(_ block: inout [UInt8], _ n: Int, width: Int = 16) {
    var carry = UInt64(n)
    var i = block.count - 1
    while carry > 0 && i >= block.count - width {
        let s = UInt64(block[i]) + (carry & 0xFF)
        block[i] = UInt8(s & 0xFF)
        carry = (carry >> 8) + (s >> 8)
        i -= 1
    }
}

func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { zip(a, b).map { $0 ^ $1 } }

/// A streaming CTR keystream (128-bit increment, or 32-bit for GCM).
struct CTRStream {
    let aes: AESKey
    var counter: [UInt8]
    var leftover: [UInt8] = []
    let width: Int

    mutating func apply(_ input: [UInt8]) throws(TACryptoError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        let n0 = min(leftover.count, input.count)
        if n0 > 0 {
            out += xor(Array(input[0..<n0]), leftover)
            leftover.removeFirst(n0)
            i = n0
        }
        while i < input.count {
            var chunk = input.count - i
            if width < 16 {
                // Stop at the point the narrow counter wraps; _CTR carries across all 128 bits.
                let low = counter.suffix(4).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let untilWrap = Int((UInt64(1) << 32) - low) * blockSize
                chunk = min(chunk, untilWrap)
            }
            let part = Array(input[i..<(i + chunk)])
            out += try aes.ctr(part, counter: counter)
            let blocks = (chunk + blockSize - 1) / blockSize
            if chunk % blockSize != 0 {
                var last = counter
                addCounter(&last, blocks - 1, width: width)
                let ks = try aes.encryptBlock(last)
                leftover = Array(ks[(chunk % blockSize)...])
            }
            addCounter(&counter, blocks, width: width)
            i += chunk
        }
        return out
    }
}

/// GP cipher modes over AES.
public enum CipherMode: Sendable { case ecb, cbc, ctr, cts, xts }

/// A running AES cipher operation (after TEE_CipherInit); also the built-in aes TA's cipher.
public struct AESCipher {
    let mode: CipherMode
    let encrypting: Bool
    let aes: AESKey
    var chain: [UInt8]
    var pending: [UInt8] = []
    var ctrStream: CTRStream?
    /// XTS: the second key's encryption of the IV, advanced per block.
    var tweak: [UInt8] = []

    /// A cipher in `mode` with `key` (and XTS's `key2`) from `iv` (none for ECB, 16 bytes otherwise);
    /// badParameters for a key or IV the mode refuses.
    public init(mode: CipherMode, encrypting: Bool, key: [UInt8], key2: [UInt8], iv: [UInt8]) throws(TACryptoError) {
        self.mode = mode; self.encrypting = encrypting
        aes = try AESKey(key)
        switch mode {
        case .ecb: guard iv.isEmpty else { throw .badParameters }
        case .cbc, .cts, .ctr, .xts: guard iv.count == blockSize else { throw .badParameters }
        }
        chain = iv
        if mode == .ctr { ctrStream = CTRStream(aes: aes, counter: iv, width: 16) }
        if mode == .xts { tweak = try AESKey(key2).encryptBlock(iv) }
    }

    /// How many bytes update must keep back for the final (CTS: the last two blocks; XTS: one block plus a partial).
    private func holdBack(_ total: Int) -> Int {
        switch mode {
        case .ecb, .cbc: return total % blockSize
        case .ctr: return 0
        case .cts, .xts:
            if total <= 2 * blockSize { return total }
            let rem = total % blockSize
            return rem == 0 ? 2 * blockSize : blockSize + rem
        }
    }

    /// Bytes an update of `count` input bytes produces (TEE_CipherUpdate's required length).
    public func outputCount(forInput count: Int) -> Int {
        if mode == .ctr { return count }
        let total = pending.count + count
        return total - holdBack(total)
    }

    /// TEE_CipherUpdate: ciphers `input`, continuing the stream (whole blocks only for the block modes).
    public mutating func update(_ input: [UInt8]) throws(TACryptoError) -> [UInt8] {
        if mode == .ctr, var s = ctrStream {
            let out = try s.apply(input); ctrStream = s; return out
        }
        let data = pending + input
        let keep = holdBack(data.count)
        let whole = Array(data[0..<(data.count - keep)])
        pending = Array(data[(data.count - keep)...])
        return try blocks(whole)
    }

    /// Ciphers whole blocks, continuing the chain.
    private mutating func blocks(_ whole: [UInt8]) throws(TACryptoError) -> [UInt8] {
        if whole.isEmpty { return [] }
        switch mode {
        case .ecb:
            var out: [UInt8] = []
            out.reserveCapacity(whole.count)
            for o in stride(from: 0, to: whole.count, by: blockSize) {
                let b = Array(whole[o..<(o + blockSize)])
                out += encrypting ? try aes.encryptBlock(b) : try aes.decryptBlock(b)
            }
            return out
        case .cbc, .cts:
            let out = try aes.cbc(whole, iv: chain, encrypt: encrypting)
            chain = Array((encrypting ? out : whole).suffix(blockSize))
            return out
        case .xts:
            var out: [UInt8] = []
            for o in stride(from: 0, to: whole.count, by: blockSize) {
                out += try xtsBlock(Array(whole[o..<(o + blockSize)]), tweak)
                tweak = Self.mulAlpha(tweak)
            }
            return out
        case .ctr: return []
        }
    }

    private func xtsBlock(_ b: [UInt8], _ t: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let x = xor(b, t)
        return xor(encrypting ? try aes.encryptBlock(x) : try aes.decryptBlock(x), t)
    }

    /// Multiplies an XTS tweak by α in GF(2^128) (IEEE 1619 little-endian convention).
    static func mulAlpha(_ t: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: blockSize)
        var carry: UInt8 = 0
        for i in 0..<blockSize {
            out[i] = (t[i] << 1) | carry
            carry = t[i] >> 7
        }
        if carry != 0 { out[0] ^= 0x87 }
        return out
    }

    /// TEE_CipherDoFinal: the rest of the stream. BAD_PARAMETERS when a NOPAD mode ends mid-block
    /// or CTS/XTS have less than one block.
    public mutating func final(_ input: [UInt8]) throws(TACryptoError) -> [UInt8] {
        switch mode {
        case .ctr: return try update(input)
        case .ecb, .cbc:
            let out = try update(input)
            guard pending.isEmpty else { throw .badParameters }
            return out
        case .cts, .xts:
            let data = pending + input
            pending = []
            guard data.count >= blockSize else { throw .badParameters }
            if data.count % blockSize == 0 && (mode == .xts || data.count == blockSize) { return try blocks(data) }
            return mode == .cts ? try ctsFinal(data) : try xtsFinal(data)
        }
    }

    /// CBC-CS3 (Kerberos) over the last 17..32 bytes: the last two blocks always swapped.
    private mutating func ctsFinal(_ data: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let d = data.count % blockSize == 0 ? blockSize : data.count % blockSize
        let headCount = data.count - blockSize - d
        var out = try blocks(Array(data[0..<headCount]))
        let pn1 = Array(data[headCount..<(headCount + blockSize)])
        let last = Array(data[(headCount + blockSize)...])
        if encrypting {
            let cn1 = try aes.encryptBlock(xor(pn1, chain))
            let padded = last + [UInt8](repeating: 0, count: blockSize - d)
            let cn = try aes.encryptBlock(xor(padded, cn1))
            out += cn + Array(cn1.prefix(d))
        } else {
            // pn1 holds C_n (full), last holds the first d bytes of C_{n-1}.
            let z = try aes.decryptBlock(pn1)
            let cn1 = last + Array(z[d...])
            let pn = xor(Array(z.prefix(d)), last)
            let p1 = xor(try aes.decryptBlock(cn1), chain)
            out += p1 + pn
        }
        return out
    }

    /// XTS with ciphertext stealing for a final partial block.
    private mutating func xtsFinal(_ data: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let d = data.count % blockSize
        let headCount = data.count - blockSize - d
        var out = try blocks(Array(data[0..<headCount]))
        let full = Array(data[headCount..<(headCount + blockSize)])
        let part = Array(data[(headCount + blockSize)...])
        let t1 = tweak, t2 = Self.mulAlpha(tweak)
        if encrypting {
            let cc = try xtsBlock(full, t1)
            let pp = part + Array(cc[d...])
            out += try xtsBlock(pp, t2) + Array(cc.prefix(d))
        } else {
            let pp = try xtsBlock(full, t2)
            let cc = part + Array(pp[d...])
            out += try xtsBlock(cc, t1) + Array(pp.prefix(d))
        }
        return out
    }
}

/// AES MACs: CMAC (SP 800-38B) and CBC-MAC (NOPAD, or PKCS#5-padded at the final).
struct AESMAC {
    enum Kind { case cmac, cbcNoPad, cbcPKCS5 }
    let kind: Kind
    let aes: AESKey
    var chain: [UInt8]
    var pending: [UInt8] = []

    init(kind: Kind, key: [UInt8], iv: [UInt8]) throws(TACryptoError) {
        self.kind = kind
        aes = try AESKey(key)
        if kind == .cmac { chain = [UInt8](repeating: 0, count: blockSize) } else {
            guard iv.isEmpty || iv.count == blockSize else { throw .badParameters }
            chain = iv.isEmpty ? [UInt8](repeating: 0, count: blockSize) : iv
        }
    }

    mutating func update(_ input: [UInt8]) throws(TACryptoError) {
        let data = pending + input
        // CMAC keeps the last (possibly full) block for the final; CBC-MAC keeps only a partial one.
        var keep = data.count % blockSize
        if kind == .cmac && keep == 0 && !data.isEmpty { keep = blockSize }
        let whole = Array(data[0..<(data.count - keep)])
        pending = Array(data[(data.count - keep)...])
        if !whole.isEmpty { chain = Array(try aes.cbc(whole, iv: chain, encrypt: true).suffix(blockSize)) }
    }

    mutating func final(_ input: [UInt8]) throws(TACryptoError) -> [UInt8] {
        try update(input)
        switch kind {
        case .cbcNoPad:
            guard pending.isEmpty else { throw .badParameters }
            return chain
        case .cbcPKCS5:
            let pad = blockSize - pending.count
            return try aes.encryptBlock(xor(pending + [UInt8](repeating: UInt8(pad), count: pad), chain))
        case .cmac:
            let l = try aes.encryptBlock([UInt8](repeating: 0, count: blockSize))
            let k1 = Self.double(l), k2 = Self.double(k1)
            let last: [UInt8]
            if pending.count == blockSize { last = xor(pending, k1) } else {
                last = xor(pending + [0x80] + [UInt8](repeating: 0, count: blockSize - pending.count - 1), k2)
            }
            return try aes.encryptBlock(xor(last, chain))
        }
    }

    /// Doubling in GF(2^128) for CMAC subkeys (big-endian, R = 0x87).
    static func double(_ b: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: blockSize)
        for i in 0..<blockSize { out[i] = b[i] << 1 | (i + 1 < blockSize ? b[i + 1] >> 7 : 0) }
        if b[0] & 0x80 != 0 { out[blockSize - 1] ^= 0x87 }
        return out
    }
}

/// Authenticated encryption: AES-GCM (tag from swift-crypto's AES.GCM over the whole message,
/// payload streamed with the GCM counter) and AES-CCM (SP 800-38C over the AES block); also the
/// built-in aes TA's.
public struct AESAE {
    /// The AE algorithm.
    public enum Kind: Sendable { case gcm, ccm }
    let kind: Kind
    let encrypting: Bool
    let keyBytes: [UInt8]
    let aes: AESKey
    let nonce: [UInt8]
    let tagLength: Int
    /// CCM: the lengths AEInit announced.
    let aadLength: Int, payloadLength: Int
    var aad: [UInt8] = []
    /// The plaintext seen so far (input when encrypting, output when decrypting).
    var plaintext: [UInt8] = []
    var stream: CTRStream?
    var started = false
    /// Most AAD plus payload one AE operation keeps for its tag (OUT_OF_MEMORY beyond).
    static let messageLimit = 64 << 20

    /// TEE_AEInit: notSupported for a tag length or GCM nonce GP/swift-crypto refuse, badParameters for a CCM
    /// nonce outside 7...13 bytes or a payload its length field cannot carry.
    public init(kind: Kind, encrypting: Bool, key: [UInt8], nonce: [UInt8], tagBits: Int, aadLength: Int, payloadLength: Int) throws(TACryptoError) {
        self.kind = kind; self.encrypting = encrypting; keyBytes = key
        aes = try AESKey(key)
        self.nonce = nonce
        self.aadLength = aadLength; self.payloadLength = payloadLength
        guard tagBits % 8 == 0 else { throw .notSupported }
        tagLength = tagBits / 8
        switch kind {
        case .gcm:
            guard [12, 13, 14, 15, 16, 8, 4].contains(tagLength) else { throw .notSupported }
            // swift-crypto's AES.GCM takes nonces of 12 bytes or more.
            guard nonce.count >= 12 else { throw .notSupported }
        case .ccm:
            guard tagLength >= 4, tagLength <= 16, tagLength % 2 == 0 else { throw .notSupported }
            guard nonce.count >= 7, nonce.count <= 13 else { throw .badParameters }
            let q = 15 - nonce.count
            guard q >= 8 || UInt64(payloadLength) >> UInt64(8 * q) == 0, aadLength >= 0, aadLength < 0xFFFF_FFFF else { throw .badParameters }
        }
    }

    /// The counter block of the first payload byte.
    private func firstCounter() throws(TACryptoError) -> [UInt8] {
        switch kind {
        case .gcm:
            if nonce.count == 12 { return nonce + [0, 0, 0, 2] }
            // inc32(J0) is the block whose encryption is the first keystream block: recover it
            // from swift-crypto's GCM (encrypting 16 zero bytes yields E(inc32(J0))).
            let ks = try gcmSeal([UInt8](repeating: 0, count: blockSize), aad: []).0
            return try aes.decryptBlock(ks)
        case .ccm:
            return [UInt8(14 - nonce.count)] + nonce + [UInt8](repeating: 0, count: 15 - nonce.count - 1) + [1]
        }
    }

    private func gcmSeal(_ p: [UInt8], aad: [UInt8]) throws(TACryptoError) -> ([UInt8], [UInt8]) {
        do {
            let box = try AES.GCM.seal(p, using: SymmetricKey(data: keyBytes), nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
            return ([UInt8](box.ciphertext), [UInt8](box.tag))
        } catch { throw .generic }
    }

    /// TEE_AEUpdateAAD (only before the first payload byte).
    public mutating func updateAAD(_ d: [UInt8]) throws(TACryptoError) {
        guard !started else { throw .badState }
        if kind == .ccm { guard aad.count + d.count <= aadLength else { throw .badParameters } }
        guard aad.count + d.count + plaintext.count <= Self.messageLimit else { throw .outOfMemory }
        aad += d
    }

    /// TEE_AEUpdate: the payload's output so far.
    public mutating func update(_ input: [UInt8]) throws(TACryptoError) -> [UInt8] {
        if kind == .ccm {
            guard aad.count == aadLength, plaintext.count + input.count <= payloadLength else { throw .badParameters }
        }
        guard aad.count + plaintext.count + input.count <= Self.messageLimit else { throw .outOfMemory }
        if !started { started = true; stream = CTRStream(aes: aes, counter: try firstCounter(), width: kind == .gcm ? 4 : 16) }
        guard var s = stream else { throw .badState }
        let out = try s.apply(input)
        stream = s
        plaintext += encrypting ? input : out
        return out
    }

    /// The full-length tag over everything seen.
    private func fullTag() throws(TACryptoError) -> [UInt8] {
        switch kind {
        case .gcm:
            return try gcmSeal(plaintext, aad: aad).1
        case .ccm:
            guard plaintext.count == payloadLength, aad.count == aadLength else { throw .badParameters }
            let q = 15 - nonce.count
            var b0 = [UInt8((aad.isEmpty ? 0 : 64) | ((tagLength - 2) / 2) << 3 | (q - 1))] + nonce
            for i in (0..<q).reversed() { b0.append(UInt8(truncatingIfNeeded: payloadLength >> (8 * i))) }
            var formatted = b0
            if !aad.isEmpty {
                if aad.count < 0xFF00 { formatted += [UInt8(aad.count >> 8), UInt8(aad.count & 0xFF)] } else {
                    formatted += [0xFF, 0xFE] + (0..<4).reversed().map { UInt8(truncatingIfNeeded: aad.count >> (8 * $0)) }
                }
                formatted += aad
                formatted += [UInt8](repeating: 0, count: (blockSize - formatted.count % blockSize) % blockSize)
            }
            formatted += plaintext
            formatted += [UInt8](repeating: 0, count: (blockSize - formatted.count % blockSize) % blockSize)
            let t = Array(try aes.cbc(formatted, iv: [UInt8](repeating: 0, count: blockSize), encrypt: true).suffix(blockSize))
            let a0 = [UInt8(q - 1)] + nonce + [UInt8](repeating: 0, count: q)
            return xor(t, try aes.encryptBlock(a0))
        }
    }

    /// TEE_AEEncryptFinal: the rest of the ciphertext and the tag.
    public mutating func encryptFinal(_ input: [UInt8]) throws(TACryptoError) -> ([UInt8], [UInt8]) {
        if kind == .gcm && !started {
            // One call through swift-crypto for a message given whole.
            let (c, t) = try gcmSeal(input, aad: aad)
            return (c, Array(t.prefix(tagLength)))
        }
        let out = try update(input)
        return (out, Array(try fullTag().prefix(tagLength)))
    }

    /// TEE_AEDecryptFinal: the rest of the plaintext; macInvalid when `tag` does not verify.
    public mutating func decryptFinal(_ input: [UInt8], tag: [UInt8]) throws(TACryptoError) -> [UInt8] {
        guard tag.count == tagLength else { throw .macInvalid }
        let out = try update(input)
        let expected = Array(try fullTag().prefix(tagLength))
        guard constantTimeEqual(expected, tag) else { throw .macInvalid }
        return out
    }
}

/// Compares two byte strings without an early exit.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var d: UInt8 = 0
    for i in 0..<a.count { d |= a[i] ^ b[i] }
    return d == 0
}
