/// RSA for the GP asymmetric API (secure world, module TACrypto): the key from GP attributes, the
/// raw operations (private: BoringSSL's raw RSA through _CryptoExtras; public: attaswift/BigInt),
/// the RFC 8017 encodings (PKCS#1 v1.5 encryption and signature, OAEP, PSS) as glue, and key
/// generation (BoringSSL from 1024 bits; below that BigInt primes, as GP allows 256-bit keys).
import BigInt
import Crypto
import Foundation
import _CryptoExtras

/// An RSA key taken from GP attributes.
struct RSAKey {
    let n: BigUInt, e: BigUInt
    let d: BigUInt?, p: BigUInt?, q: BigUInt?
    /// Modulus length in bytes and bits.
    let k: Int, bits: Int

    /// The key of `attrs`; `needPrivate` requires the private exponent.
    init(_ attrs: [UInt32: [UInt8]], needPrivate: Bool) throws(TACryptoError) {
        n = BigUInt(bigEndian: try attribute(attrs, AsymID.rsaModulus))
        e = BigUInt(bigEndian: try attribute(attrs, AsymID.rsaPublicExponent))
        d = attrs[AsymID.rsaPrivateExponent].map { BigUInt(bigEndian: $0) }
        p = attrs[AsymID.rsaPrime1].map { BigUInt(bigEndian: $0) }
        q = attrs[AsymID.rsaPrime2].map { BigUInt(bigEndian: $0) }
        guard n > 1, !e.isZero, n.bitWidth <= 8192 else { throw .badParameters }
        if needPrivate, d == nil || d?.isZero == true { throw .badParameters }
        bits = n.bitWidth
        k = (bits + 7) / 8
    }

    /// RSAEP / RSAVP1: `input` (at most k bytes, as an integer below n) to the e-th power, k bytes.
    func publicOp(_ input: [UInt8]) throws(TACryptoError) -> [UInt8] {
        guard input.count <= k else { throw .badParameters }
        let m = BigUInt(bigEndian: input)
        guard m < n else { throw .badParameters }
        guard let out = m.power(e, modulus: n).bigEndianBytes(count: k) else { throw .generic }
        return out
    }

    /// RSADP / RSASP1: `input` to the d-th power, k bytes. BoringSSL computes it (CRT, blinding,
    /// constant time) when it accepts the key; otherwise BigInt with base blinding.
    func privateOp(_ input: [UInt8]) throws(TACryptoError) -> [UInt8] {
        guard input.count <= k, let d else { throw .badParameters }
        let c = BigUInt(bigEndian: input)
        guard c < n, let block = c.bigEndianBytes(count: k) else { throw .badParameters }
        let nb = n.bigEndianBytes, eb = e.bigEndianBytes, db = d.bigEndianBytes
        let params = _RSA.BlindSigning.Parameters<SHA384>.RSABSSA_SHA384_PSS_Deterministic
        if let key = try? (p != nil && q != nil
                ? _RSA.BlindSigning.PrivateKey(n: nb, e: eb, d: db, p: p?.bigEndianBytes ?? [], q: q?.bigEndianBytes ?? [], parameters: params)
                : _RSA.BlindSigning.PrivateKey._createFromNumbers(n: nb, e: eb, d: db, parameters: params)),
           let s = try? key.blindSignature(for: block) {
            return Array(s.rawRepresentation)
        }
        // Fallback (keys BoringSSL refuses, e.g. below its minimum size): blinded c^d mod n.
        let r = randomInteger(in: 2, n - 1)
        guard let rInv = r.inverse(n) else { throw .generic }
        let blinded = (c * r.power(e, modulus: n)) % n
        let m = (blinded.power(d, modulus: n) * rInv) % n
        guard let out = m.bigEndianBytes(count: k) else { throw .generic }
        return out
    }

    /// A new key pair of `bits` as GP attributes (exponent 65537 unless `exponent` names another).
    static func generate(bits: Int, exponent: [UInt8]?) throws(TACryptoError) -> [UInt32: [UInt8]] {
        guard bits >= 256, bits <= 4096, bits % 8 == 0 else { throw .notSupported }
        let e = exponent.map { BigUInt(bigEndian: $0) } ?? 65537
        guard e >= 3, e[bitAt: 0] else { throw .badParameters }
        if bits >= 1024, e == 65537,
           let key = try? _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: bits)),
           let ints = DER.rsaPrivateKeyIntegers(Array(key.derRepresentation)), ints.count >= 8 {
            let ids = [AsymID.rsaModulus, AsymID.rsaPublicExponent, AsymID.rsaPrivateExponent, AsymID.rsaPrime1,
                       AsymID.rsaPrime2, AsymID.rsaExponent1, AsymID.rsaExponent2, AsymID.rsaCoefficient]
            return Dictionary(uniqueKeysWithValues: zip(ids, ints.prefix(8).map { $0.bigEndianBytes }))
        }
        // BigInt primes: p and q of bits/2 with the top two bits set, so that n has exactly `bits`.
        while true {
            let p = prime(bits: bits / 2, coprimeTo: e), q = prime(bits: bits - bits / 2, coprimeTo: e)
            guard p != q else { continue }
            let n = p * q
            guard n.bitWidth == bits, let d = e.inverse((p - 1) * (q - 1)), let qInv = q.inverse(p) else { continue }
            return [AsymID.rsaModulus: n.bigEndianBytes, AsymID.rsaPublicExponent: e.bigEndianBytes,
                    AsymID.rsaPrivateExponent: d.bigEndianBytes, AsymID.rsaPrime1: p.bigEndianBytes, AsymID.rsaPrime2: q.bigEndianBytes,
                    AsymID.rsaExponent1: (d % (p - 1)).bigEndianBytes, AsymID.rsaExponent2: (d % (q - 1)).bigEndianBytes,
                    AsymID.rsaCoefficient: qInv.bigEndianBytes]
        }
    }

    /// A random prime of exactly `bits` bits (top two set) with gcd(p - 1, e) = 1.
    static func prime(bits: Int, coprimeTo e: BigUInt) -> BigUInt {
        while true {
            var c = BigUInt(bigEndian: randomBytes((bits + 7) / 8)) & ((BigUInt(1) << bits) - 1)
            c |= BigUInt(3) << (bits - 2)
            c |= 1
            if c.isPrime(rounds: BigIntArith.millerRabinRounds(bits: bits)), (c - 1).greatestCommonDivisor(with: e) == 1 { return c }
        }
    }
}

/// The RFC 8017 encodings.
enum RSAPadding {
    /// EME-PKCS1-v1_5 encoding: 00 02 PS 00 M with PS at least 8 non-zero random bytes.
    static func pkcs1v15EncryptEncode(_ m: [UInt8], k: Int) throws(TACryptoError) -> [UInt8] {
        guard k >= 11, m.count <= k - 11 else { throw .badParameters }
        var ps: [UInt8] = []
        while ps.count < k - m.count - 3 { ps += randomBytes(k - m.count - 3 - ps.count).filter { $0 != 0 } }
        return [0, 2] + ps + [0] + m
    }

    /// EME-PKCS1-v1_5 decoding; badParameters for any malformed block.
    static func pkcs1v15EncryptDecode(_ em: [UInt8]) throws(TACryptoError) -> [UInt8] {
        guard em.count >= 11, em[0] == 0, em[1] == 2, let sep = em[2...].firstIndex(of: 0), sep >= 10 else { throw .badParameters }
        return Array(em[(sep + 1)...])
    }

    /// EME-OAEP encoding with `hash` (label digest) and `mgf` (MGF1's digest).
    static func oaepEncode(_ m: [UInt8], label: [UInt8], k: Int, hash: HashKind, mgf: HashKind) throws(TACryptoError) -> [UInt8] {
        let h = hash.length
        guard k >= 2 * h + 2, m.count <= k - 2 * h - 2 else { throw .badParameters }
        let db = try hash.hash(label) + [UInt8](repeating: 0, count: k - m.count - 2 * h - 2) + [1] + m
        let seed = randomBytes(h)
        let maskedDB = zip(db, try mgf.mgf1(seed, k - h - 1)).map { $0 ^ $1 }
        let maskedSeed = zip(seed, try mgf.mgf1(maskedDB, h)).map { $0 ^ $1 }
        return [0] + maskedSeed + maskedDB
    }

    /// EME-OAEP decoding; badParameters for any malformed block (one answer for every failure).
    static func oaepDecode(_ em: [UInt8], label: [UInt8], hash: HashKind, mgf: HashKind) throws(TACryptoError) -> [UInt8] {
        let h = hash.length, k = em.count
        guard k >= 2 * h + 2 else { throw .badParameters }
        let maskedSeed = Array(em[1...h]), maskedDB = Array(em[(h + 1)...])
        let seed = zip(maskedSeed, try mgf.mgf1(maskedDB, h)).map { $0 ^ $1 }
        let db = zip(maskedDB, try mgf.mgf1(seed, k - h - 1)).map { $0 ^ $1 }
        let lHash = try hash.hash(label)
        let bad = em[0] != 0 || Array(db.prefix(h)) != lHash
        let rest = db.dropFirst(h)
        guard let one = rest.firstIndex(where: { $0 != 0 }), !bad, db[one] == 1 else { throw .badParameters }
        return Array(db[(one + 1)...])
    }

    /// EMSA-PKCS1-v1_5 over a caller-made digest: 00 01 FF.. 00 DigestInfo, k bytes.
    static func pkcs1v15SignEncode(digest: [UInt8], hash: HashKind, k: Int) throws(TACryptoError) -> [UInt8] {
        guard digest.count == hash.length else { throw .badParameters }
        let t = hash.digestInfoPrefix + digest
        guard k >= t.count + 11 else { throw .badParameters }
        return [0, 1] + [UInt8](repeating: 0xFF, count: k - t.count - 3) + [0] + t
    }

    /// EMSA-PSS encoding (RFC 8017 9.1.1) of `digest`, emLen = ceil((modBits - 1) / 8) bytes.
    static func pssEncode(digest: [UInt8], saltLength: Int, modBits: Int, hash: HashKind) throws(TACryptoError) -> [UInt8] {
        let h = hash.length, emBits = modBits - 1, emLen = (emBits + 7) / 8
        guard digest.count == h, saltLength >= 0, emLen >= h + saltLength + 2 else { throw .badParameters }
        let salt = randomBytes(saltLength)
        let hh = try hash.hash([UInt8](repeating: 0, count: 8) + digest + salt)
        let db = [UInt8](repeating: 0, count: emLen - saltLength - h - 2) + [1] + salt
        var masked = zip(db, try hash.mgf1(hh, emLen - h - 1)).map { $0 ^ $1 }
        masked[0] &= UInt8(0xFF >> (8 * emLen - emBits))
        return masked + hh + [0xBC]
    }

    /// EMSA-PSS verification (RFC 8017 9.1.2) with the expected salt length.
    static func pssVerify(digest: [UInt8], em: [UInt8], leading: [UInt8], saltLength: Int, modBits: Int, hash: HashKind) -> Bool {
        let h = hash.length, emBits = modBits - 1, emLen = (emBits + 7) / 8
        guard digest.count == h, em.count == emLen, leading.allSatisfy({ $0 == 0 }), emLen >= h + 2, em.last == 0xBC else { return false }
        let maskedDB = Array(em.prefix(emLen - h - 1)), hh = Array(em[(emLen - h - 1)..<(emLen - 1)])
        let topMask = UInt8(truncatingIfNeeded: 0xFF << (8 - (8 * emLen - emBits)))
        guard 8 * emLen - emBits == 0 || maskedDB[0] & topMask == 0, let mask = try? hash.mgf1(hh, emLen - h - 1) else { return false }
        var db = zip(maskedDB, mask).map { $0 ^ $1 }
        db[0] &= UInt8(0xFF >> (8 * emLen - emBits))
        guard let one = db.firstIndex(where: { $0 != 0 }), db[one] == 1 else { return false }
        let salt = Array(db[(one + 1)...])
        guard salt.count == saltLength else { return false }
        guard let check = try? hash.hash([UInt8](repeating: 0, count: 8) + digest + salt) else { return false }
        return check == hh
    }
}

/// The few DER facts key generation needs: the INTEGERs of a PKCS#1 RSAPrivateKey (or of one
/// wrapped in PKCS#8), in order, version first dropped.
enum DER {
    /// The integers n, e, d, p, q, dp, dq, qinv of `der`; nil when it is not such a key.
    static func rsaPrivateKeyIntegers(_ der: [UInt8]) -> [BigUInt]? {
        guard var items = sequenceItems(der) else { return nil }
        // PKCS#8: version, AlgorithmIdentifier (a SEQUENCE), OCTET STRING holding PKCS#1.
        if items.count == 3, items[1].tag == 0x30, items[2].tag == 0x04 {
            guard let inner = sequenceItems(items[2].value) else { return nil }
            items = inner
        }
        guard items.count >= 9, items.allSatisfy({ $0.tag == 0x02 }) else { return nil }
        return items.dropFirst().map { BigUInt(bigEndian: $0.value) }
    }

    /// The TLV items inside the outer SEQUENCE of `der`.
    static func sequenceItems(_ der: [UInt8]) -> [(tag: UInt8, value: [UInt8])]? {
        guard let (tag, body, _) = tlv(der, 0), tag == 0x30 else { return nil }
        var out: [(tag: UInt8, value: [UInt8])] = []
        var i = 0
        while i < body.count {
            guard let (t, v, next) = tlv(body, i) else { return nil }
            out.append((t, v)); i = next
        }
        return out
    }

    /// One TLV at `at`: tag, value and the index after it.
    static func tlv(_ b: [UInt8], _ at: Int) -> (UInt8, [UInt8], Int)? {
        guard at + 2 <= b.count else { return nil }
        var len = Int(b[at + 1]), i = at + 2
        if len & 0x80 != 0 {
            let n = len & 0x7F
            guard n >= 1, n <= 3, i + n <= b.count else { return nil }
            len = b[i..<(i + n)].reduce(0) { $0 << 8 | Int($1) }
            i += n
        }
        guard len <= b.count - i else { return nil }
        return (b[at], Array(b[i..<(i + len)]), i + len)
    }
}
