/// Diffie-Hellman and DSA for the GP asymmetric API (secure world, module TACrypto), over
/// attaswift/BigInt's modular arithmetic (swift-crypto has neither). The group parameters come
/// from the caller (GP's TEE_ATTR_DH_* / TEE_ATTR_DSA_*); private values are drawn from the system
/// generator. BigInt's exponentiation is not constant time: written down in docs/TA-SDK.md.
import BigInt

enum FiniteField {
    // MARK: Diffie-Hellman

    /// TEE_GenerateKey for TEE_TYPE_DH_KEYPAIR: prime and base (and optionally subprime q and
    /// TEE_ATTR_DH_X_BITS) from `params`; returns them with the new public and private values.
    static func generateDH(params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt32: [UInt8]] {
        let p = BigUInt(bigEndian: try attribute(params, AsymID.dhPrime))
        let g = BigUInt(bigEndian: try attribute(params, AsymID.dhBase))
        guard p > 3, p[bitAt: 0], g > 1, g < p - 1 else { throw .badParameters }
        var out = [AsymID.dhPrime: p.bigEndianBytes, AsymID.dhBase: g.bigEndianBytes]
        let x: BigUInt
        if let xb = params[AsymID.dhXBits].flatMap(valueAttribute), xb > 0 {
            guard Int(xb) < p.bitWidth else { throw .badParameters }
            x = randomInteger(in: BigUInt(1) << (Int(xb) - 1), (BigUInt(1) << Int(xb)) - 1)
        } else if let qb = params[AsymID.dhSubprime] {
            let q = BigUInt(bigEndian: qb)
            guard q > 2 else { throw .badParameters }
            out[AsymID.dhSubprime] = q.bigEndianBytes
            x = randomInteger(in: 1, q - 1)
        } else {
            x = randomInteger(in: 1, p - 2)
        }
        out[AsymID.dhPrivateValue] = x.bigEndianBytes
        out[AsymID.dhPublicValue] = g.power(x, modulus: p).bigEndianBytes
        return out
    }

    /// The DH shared secret peer^x mod p (big-endian, no leading zeros, as OP-TEE returns it);
    /// a peer value outside (1, p - 1) is badParameters.
    static func dhDerive(key: [UInt32: [UInt8]], peer: [UInt8]) throws(TACryptoError) -> [UInt8] {
        let p = BigUInt(bigEndian: try attribute(key, AsymID.dhPrime))
        let x = BigUInt(bigEndian: try attribute(key, AsymID.dhPrivateValue))
        let y = BigUInt(bigEndian: peer)
        guard p > 3, y > 1, y < p - 1 else { throw .badParameters }
        return y.power(x, modulus: p).bigEndianBytes
    }

    // MARK: DSA (FIPS 186-4 section 4)

    /// Digest length of DSA_SHA1 / SHA224 / SHA256 (GP's hash index 2, 3, 4).
    static func dsaDigestLength(_ hashID: UInt32) throws(TACryptoError) -> Int {
        switch hashID {
        case 2: 20
        case 3: 28
        case 4: 32
        default: throw .notSupported
        }
    }

    /// Domain parameters p, q, g of a DSA key or of GenerateKey's params.
    static func domain(_ m: [UInt32: [UInt8]]) throws(TACryptoError) -> (p: BigUInt, q: BigUInt, g: BigUInt) {
        let p = BigUInt(bigEndian: try attribute(m, AsymID.dsaPrime))
        let q = BigUInt(bigEndian: try attribute(m, AsymID.dsaSubprime))
        let g = BigUInt(bigEndian: try attribute(m, AsymID.dsaBase))
        guard p > 3, q > 2, q < p, g > 1, g < p else { throw .badParameters }
        return (p, q, g)
    }

    /// TEE_GenerateKey for TEE_TYPE_DSA_KEYPAIR with the domain parameters in `params`.
    static func generateDSA(params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt32: [UInt8]] {
        let (p, q, g) = try domain(params)
        let x = randomInteger(in: 1, q - 1)
        return [AsymID.dsaPrime: p.bigEndianBytes, AsymID.dsaSubprime: q.bigEndianBytes, AsymID.dsaBase: g.bigEndianBytes,
                AsymID.dsaPrivateValue: x.bigEndianBytes, AsymID.dsaPublicValue: g.power(x, modulus: p).bigEndianBytes]
    }

    /// z: the leftmost min(N, outlen) bits of the digest.
    static func truncatedDigest(_ digest: [UInt8], q: BigUInt) -> BigUInt {
        let z = BigUInt(bigEndian: digest), n = q.bitWidth
        return digest.count * 8 > n ? z >> (digest.count * 8 - n) : z
    }

    /// DSA signature r || s, each the byte size of q.
    static func dsaSign(key: [UInt32: [UInt8]], digest: [UInt8], hashID: UInt32) throws(TACryptoError) -> [UInt8] {
        guard digest.count == (try dsaDigestLength(hashID)) else { throw .badParameters }
        let (p, q, g) = try domain(key)
        let x = BigUInt(bigEndian: try attribute(key, AsymID.dsaPrivateValue))
        guard x > 0, x < q else { throw .badParameters }
        let z = truncatedDigest(digest, q: q), size = (q.bitWidth + 7) / 8
        while true {
            let k = randomInteger(in: 1, q - 1)
            let r = g.power(k, modulus: p) % q
            guard !r.isZero, let kInv = k.inverse(q) else { continue }
            let s = (kInv * (z + x * r)) % q
            guard !s.isZero, let rb = r.bigEndianBytes(count: size), let sb = s.bigEndianBytes(count: size) else { continue }
            return rb + sb
        }
    }

    /// DSA verification; signatureInvalid when it does not verify.
    static func dsaVerify(key: [UInt32: [UInt8]], digest: [UInt8], signature: [UInt8], hashID: UInt32) throws(TACryptoError) {
        guard digest.count == (try dsaDigestLength(hashID)) else { throw .badParameters }
        let (p, q, g) = try domain(key)
        let y = BigUInt(bigEndian: try attribute(key, AsymID.dsaPublicValue))
        let size = (q.bitWidth + 7) / 8
        guard signature.count == 2 * size else { throw .signatureInvalid }
        let r = BigUInt(bigEndian: Array(signature.prefix(size))), s = BigUInt(bigEndian: Array(signature.suffix(size)))
        guard r > 0, r < q, s > 0, s < q, let w = s.inverse(q) else { throw .signatureInvalid }
        let z = truncatedDigest(digest, q: q)
        let u1 = (z * w) % q, u2 = (r * w) % q
        let v = ((g.power(u1, modulus: p) * y.power(u2, modulus: p)) % p) % q
        guard v == r else { throw .signatureInvalid }
    }
}
