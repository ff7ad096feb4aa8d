/// SignedTA: OP-TEE's signed TA image (`<uuid>.ta`): parse, sign and verify.
///
/// Used by the secure world at LOAD_TA (verification, before any byte of the TA runs) and by
/// the `vtee ta sign` tool the dev kit calls. Pure computation over bytes: no files, no
/// world state. The layout is OP-TEE's `struct shdr` followed by the bootstrap header
/// (`struct shdr_bootstrap_ta`) and the ELF; the signature is RSA over the SHA-2 digest of the
/// headers and the ELF, PSS-SHA256 (0x70414930) by default, PKCS#1 v1.5 accepted as OP-TEE
/// accepts it. Every refusal maps to TEE_ERROR_SECURITY, as in OP-TEE's core.
import Crypto
import _CryptoExtras
import TEEABI

/// Why an image was refused; every case is TEE_ERROR_SECURITY at the GP boundary.
public enum SignedTAError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than the headers announce.
    case truncated
    /// The first word is not 0x4F545348 ("HSTO").
    case badMagic(UInt32)
    /// Image type other than 0 (legacy) or 1 (bootstrap): encrypted and subkey images are not loaded.
    case unsupportedImageType(UInt32)
    /// Not an RSA signature algorithm with SHA-256, SHA-384 or SHA-512.
    case unsupportedAlgorithm(UInt32)
    /// hash_size does not match the algorithm's digest length.
    case badHashSize(UInt16)
    /// sig_size does not match the verification key's modulus length.
    case badSignatureSize(UInt16)
    /// img_size disagrees with the file size.
    case sizeMismatch
    /// The digest in the header is not the digest of the headers and payload.
    case digestMismatch
    /// The signature does not verify with the trusted key.
    case badSignature
    /// The image is signed for another UUID than the one requested.
    case uuidMismatch(signed: TEEUUID, requested: TEEUUID)
    /// A legacy image whose ELF has no readable `.ta_head` section (the only place its UUID is).
    case noTAHead
    /// The key could not be read or is not a usable RSA key (at least 2048 bits).
    case badKey(String)

    /// The GP code OP-TEE returns for this refusal (always TEE_ERROR_SECURITY; bad keys never reach a TA load).
    public var teeResult: TEEResult { .security }

    /// A one-line reason for logs.
    public var description: String {
        switch self {
        case .truncated: "image truncated"
        case let .badMagic(m): "bad magic 0x\(String(m, radix: 16))"
        case let .unsupportedImageType(t): "unsupported image type \(t) (only legacy, type 0, and bootstrap, type 1, images are loaded)"
        case let .unsupportedAlgorithm(a): "unsupported signature algorithm 0x\(String(a, radix: 16))"
        case let .badHashSize(h): "hash size \(h) does not match the algorithm"
        case let .badSignatureSize(s): "signature size \(s) does not match the key"
        case .sizeMismatch: "img_size does not match the file size"
        case .digestMismatch: "digest does not match the image (tampered)"
        case .badSignature: "signature does not verify with the trusted key"
        case let .uuidMismatch(s, r): "image signed for \(s), requested \(r)"
        case .noTAHead: "legacy image without a readable .ta_head section"
        case let .badKey(why): "bad key: \(why)"
        }
    }
}

/// The signature algorithms a `.ta` may carry (GP algorithm ids, as OP-TEE's signer writes them).
public enum TASignatureAlgorithm: UInt32, Sendable, CaseIterable {
    /// RSASSA-PSS, MGF1-SHA256, 32-byte salt: the signer's default.
    case pssSHA256 = 0x7041_4930
    /// RSASSA-PSS with SHA-384.
    case pssSHA384 = 0x7051_5930
    /// RSASSA-PSS with SHA-512.
    case pssSHA512 = 0x7061_6930
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    case pkcs1SHA256 = 0x7000_4830
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    case pkcs1SHA384 = 0x7000_5830
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    case pkcs1SHA512 = 0x7000_6830

    /// Digest length in bytes (the header's hash_size).
    public var hashSize: Int {
        switch self {
        case .pssSHA256, .pkcs1SHA256: 32
        case .pssSHA384, .pkcs1SHA384: 48
        case .pssSHA512, .pkcs1SHA512: 64
        }
    }

    var padding: _RSA.Signing.Padding {
        switch self {
        case .pssSHA256, .pssSHA384, .pssSHA512: .PSS
        case .pkcs1SHA256, .pkcs1SHA384, .pkcs1SHA512: .insecurePKCS1v1_5
        }
    }
}

/// The fields of a `.ta` header (`struct shdr` + `struct shdr_bootstrap_ta`).
public struct SignedTAHeader: Equatable, Sendable {
    /// 0x4F545348.
    public static let magic: UInt32 = 0x4F54_5348
    /// Image type of a signed bootstrap TA.
    public static let bootstrapType: UInt32 = 1
    /// Image type of a legacy TA (OP-TEE's SHDR_TA): the ELF follows the signature directly and
    /// its UUID is the one in the ELF's `ta_head`; it carries no ta_version.
    public static let legacyType: UInt32 = 0
    /// Bytes of `struct shdr` before the digest.
    public static let fixedSize = 20
    /// Bytes of `struct shdr_bootstrap_ta`.
    public static let bootstrapSize = 20

    /// img_type (1 = bootstrap).
    public var imageType: UInt32
    /// img_size: payload (ELF) bytes.
    public var imageSize: UInt32
    /// algo: GP algorithm id of the signature.
    public var algorithm: UInt32
    /// The digest stored in the header.
    public var digest: [UInt8]
    /// The RSA signature stored in the header.
    public var signature: [UInt8]
    /// The UUID the image is signed for (bootstrap header; the nil UUID for a legacy image,
    /// whose UUID is its ELF's `ta_head`).
    public var uuid: TEEUUID
    /// ta_version of the bootstrap header.
    public var taVersion: UInt32
    /// Offset of the ELF in the file.
    public var payloadOffset: Int

    /// Reads the headers of an image; checks only that they are complete and the sizes agree.
    public static func parse(_ image: [UInt8]) throws(SignedTAError) -> SignedTAHeader {
        guard image.count >= fixedSize else { throw .truncated }
        let magic = le32(image, 0)
        guard magic == Self.magic else { throw .badMagic(magic) }
        let type = le32(image, 4), size = le32(image, 8), algo = le32(image, 12)
        let hashSize = Int(le16(image, 16)), sigSize = Int(le16(image, 18))
        guard type == bootstrapType || type == legacyType else { throw .unsupportedImageType(type) }
        let boot = fixedSize + hashSize + sigSize
        let payload = type == legacyType ? boot : boot + bootstrapSize
        guard image.count >= payload else { throw .truncated }
        guard image.count - payload == Int(size) else { throw .sizeMismatch }
        let legacy = type == legacyType
        return SignedTAHeader(imageType: type, imageSize: size, algorithm: algo,
                             digest: Array(image[fixedSize..<fixedSize + hashSize]),
                             signature: Array(image[fixedSize + hashSize..<boot]),
                             uuid: legacy ? .zero : TEEUUID(octets: Array(image[boot..<boot + 16])),
                             taVersion: legacy ? 0 : le32(image, boot + 16), payloadOffset: payload)
    }

    static func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }
    static func le16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
}

/// A key that signs TAs (RSA private key, PEM, PKCS#1 or PKCS#8).
public struct TASigningKey: Sendable {
    let key: _RSA.Signing.PrivateKey

    /// Reads a PEM private key.
    public init(pem: String) throws(SignedTAError) {
        do { key = try _RSA.Signing.PrivateKey(pemRepresentation: pem) } catch { throw .badKey("\(error)") }
    }

    /// vtee's development key (public, development only; OP-TEE's default_ta.pem counterpart).
    public static var development: TASigningKey {
        get throws(SignedTAError) { try TASigningKey(pem: DevelopmentKey.pem) }
    }

    /// A fresh RSA key of `bits` bits (2048, 3072 or 4096), e.g. for a deployment's own TAs.
    public static func generate(bits: Int = 3072) throws(SignedTAError) -> TASigningKey {
        let size: _RSA.Signing.KeySize
        switch bits {
        case 2048: size = .bits2048
        case 3072: size = .bits3072
        case 4096: size = .bits4096
        default: throw .badKey("key size must be 2048, 3072 or 4096 bits")
        }
        do { return TASigningKey(key: try _RSA.Signing.PrivateKey(keySize: size)) } catch { throw .badKey("\(error)") }
    }

    init(key: _RSA.Signing.PrivateKey) { self.key = key }

    /// The private key in PEM (PKCS#8).
    public var pemRepresentation: String { key.pemRepresentation }

    /// The development key's PEM text, as the dev kit exports it to keys/default_ta.pem.
    public static let developmentPEM: String = DevelopmentKey.pem

    /// The matching verification key.
    public var verificationKey: TAVerificationKey { TAVerificationKey(key: key.publicKey) }
}

/// The public key a secure world trusts for TA images (`--ta-key`).
public struct TAVerificationKey: Sendable {
    let key: _RSA.Signing.PublicKey

    init(key: _RSA.Signing.PublicKey) { self.key = key }

    /// Reads a PEM public key (SPKI or PKCS#1) or takes the public half of a PEM private key.
    public init(pem: String) throws(SignedTAError) {
        if pem.contains("PRIVATE KEY") {
            self = try TASigningKey(pem: pem).verificationKey
            return
        }
        do { key = try _RSA.Signing.PublicKey(pemRepresentation: pem) } catch { throw .badKey("\(error)") }
    }

    /// vtee's development key: trusted by default, and loudly so.
    public static var development: TAVerificationKey {
        get throws(SignedTAError) { try TASigningKey.development.verificationKey }
    }

    /// True if this is the development key (whose private half everyone has).
    public var isDevelopmentKey: Bool {
        guard let dev = try? TAVerificationKey.development else { return false }
        return dev.key.derRepresentation == key.derRepresentation
    }

    /// Modulus length in bytes (the header's sig_size).
    public var signatureSize: Int { key.keySizeInBits / 8 }

    /// The public key in PEM (SPKI), for `vtee ta key`.
    public var pemRepresentation: String { key.pemRepresentation }
}

/// A verified image: what LOAD_TA hands to the TA runner.
public struct VerifiedTA: Sendable {
    /// The headers of the image.
    public let header: SignedTAHeader
    /// The TA's ELF (the signed payload).
    public let elf: [UInt8]
}

/// Signing and verification of `.ta` images.
public enum SignedTAImage {
    /// Wraps an ELF into a signed bootstrap image for `uuid`, as OP-TEE's sign_encrypt.py does.
    public static func sign(elf: [UInt8], uuid: TEEUUID, taVersion: UInt32 = 0, key: TASigningKey,
                            algorithm: TASignatureAlgorithm = .pssSHA256, legacy: Bool = false) throws(SignedTAError) -> [UInt8] {
        guard elf.count <= Int(UInt32.max) else { throw .sizeMismatch }
        let sigSize = key.key.keySizeInBits / 8
        var fixed: [UInt8] = []
        put32(&fixed, SignedTAHeader.magic); put32(&fixed, legacy ? SignedTAHeader.legacyType : SignedTAHeader.bootstrapType)
        put32(&fixed, UInt32(elf.count)); put32(&fixed, algorithm.rawValue)
        put16(&fixed, UInt16(algorithm.hashSize)); put16(&fixed, UInt16(sigSize))
        // A legacy image (OP-TEE's old signer, `legacy: true`) has no bootstrap header.
        var boot: [UInt8] = []
        if !legacy {
            boot = uuid.octets
            put32(&boot, taVersion)
        }
        let signature: [UInt8]
        let digest: [UInt8]
        do {
            switch algorithm {
            case .pssSHA256, .pkcs1SHA256:
                let d = SHA256.hash(data: fixed + boot + elf)
                digest = Array(d)
                signature = Array(try key.key.signature(for: d, padding: algorithm.padding).rawRepresentation)
            case .pssSHA384, .pkcs1SHA384:
                let d = SHA384.hash(data: fixed + boot + elf)
                digest = Array(d)
                signature = Array(try key.key.signature(for: d, padding: algorithm.padding).rawRepresentation)
            case .pssSHA512, .pkcs1SHA512:
                let d = SHA512.hash(data: fixed + boot + elf)
                digest = Array(d)
                signature = Array(try key.key.signature(for: d, padding: algorithm.padding).rawRepresentation)
            }
        } catch { throw .badKey("signing failed: \(error)") }
        return fixed + digest + signature + boot + elf
    }

    /// Checks an image against the trusted key and the requested UUID; returns the ELF only if
    /// the headers are well formed, the digest covers exactly these bytes, the signature verifies
    /// and the image was signed for `uuid`.
    public static func verify(_ image: [UInt8], expecting uuid: TEEUUID,
                              key: TAVerificationKey) throws(SignedTAError) -> VerifiedTA {
        let h = try SignedTAHeader.parse(image)
        guard let algorithm = TASignatureAlgorithm(rawValue: h.algorithm) else { throw .unsupportedAlgorithm(h.algorithm) }
        guard h.digest.count == algorithm.hashSize else { throw .badHashSize(UInt16(h.digest.count)) }
        guard h.signature.count == key.signatureSize else { throw .badSignatureSize(UInt16(h.signature.count)) }
        let legacy = h.imageType == SignedTAHeader.legacyType
        let signedFrom = legacy ? h.payloadOffset : h.payloadOffset - SignedTAHeader.bootstrapSize
        let signed = Array(image[0..<SignedTAHeader.fixedSize]) + Array(image[signedFrom..<image.count])
        let sig = _RSA.Signing.RSASignature(rawRepresentation: h.signature)
        let valid: Bool
        switch algorithm {
        case .pssSHA256, .pkcs1SHA256:
            let d = SHA256.hash(data: signed)
            guard Array(d) == h.digest else { throw .digestMismatch }
            valid = key.key.isValidSignature(sig, for: d, padding: algorithm.padding)
        case .pssSHA384, .pkcs1SHA384:
            let d = SHA384.hash(data: signed)
            guard Array(d) == h.digest else { throw .digestMismatch }
            valid = key.key.isValidSignature(sig, for: d, padding: algorithm.padding)
        case .pssSHA512, .pkcs1SHA512:
            let d = SHA512.hash(data: signed)
            guard Array(d) == h.digest else { throw .digestMismatch }
            valid = key.key.isValidSignature(sig, for: d, padding: algorithm.padding)
        }
        guard valid else { throw .badSignature }
        let elf = Array(image[h.payloadOffset...])
        // A legacy image names its UUID only inside the signed ELF (ta_head), as OP-TEE's loader
        // then checks it; a bootstrap image in its signed header.
        let claimed: TEEUUID
        if legacy {
            guard let u = TAHeadReader.uuid(inELF: elf) else { throw .noTAHead }
            claimed = u
        } else {
            claimed = h.uuid
        }
        guard claimed == uuid else { throw .uuidMismatch(signed: claimed, requested: uuid) }
        return VerifiedTA(header: h, elf: elf)
    }

    static func put32(_ b: inout [UInt8], _ v: UInt32) {
        b += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
    static func put16(_ b: inout [UInt8], _ v: UInt16) { b += [UInt8(v & 0xFF), UInt8(v >> 8)] }
}

/// Reads the UUID of a TA ELF's `ta_head` (section `.ta_head`: TEE_UUID in native byte order,
/// first of the 32-byte header), for legacy images. ELF64 little endian only (the hosts vtee
/// builds TAs for); every offset is bounds-checked, anything malformed is nil.
enum TAHeadReader {
    static func uuid(inELF e: [UInt8]) -> TEEUUID? {
        guard e.count >= 64, e[0] == 0x7F, e[1] == 0x45, e[2] == 0x4C, e[3] == 0x46, e[4] == 2, e[5] == 1 else { return nil }
        guard let shoff = u64(e, 0x28), let shentsize = u16(e, 0x3A), let shnum = u16(e, 0x3C),
              let shstrndx = u16(e, 0x3E), shentsize >= 64, shstrndx < shnum, shoff <= UInt64(e.count) else { return nil }
        func section(_ i: Int) -> (name: Int, type: UInt32, offset: Int, size: Int)? {
            let (base, o) = Int(shoff).addingReportingOverflow(i * Int(shentsize))
            guard !o, let name = u32(e, base), let type = u32(e, base + 4),
                  let off = u64(e, base + 0x18), let size = u64(e, base + 0x20),
                  off <= UInt64(e.count), size <= UInt64(e.count) - off else { return nil }
            return (Int(name), type, Int(off), Int(size))
        }
        guard let strtab = section(Int(shstrndx)) else { return nil }
        let want = Array(".ta_head".utf8) + [0]
        for i in 0..<Int(shnum) {
            guard let s = section(i) else { return nil }
            let n = strtab.offset + s.name
            guard s.name < strtab.size, n + want.count <= e.count else { continue }
            guard Array(e[n..<n + want.count]) == want else { continue }
            // SHT_NOBITS (8) has no bytes in the file.
            guard s.type != 8, s.size >= 16, let tl = u32(e, s.offset), let tm = u16(e, s.offset + 4),
                  let th = u16(e, s.offset + 6) else { return nil }
            var o: [UInt8] = [UInt8(tl >> 24), UInt8((tl >> 16) & 0xFF), UInt8((tl >> 8) & 0xFF), UInt8(tl & 0xFF),
                              UInt8(tm >> 8), UInt8(tm & 0xFF), UInt8(th >> 8), UInt8(th & 0xFF)]
            o += e[(s.offset + 8)..<(s.offset + 16)]
            return TEEUUID(octets: o)
        }
        return nil
    }

    private static func u16(_ b: [UInt8], _ o: Int) -> UInt16? {
        guard o >= 0, o <= b.count - 2 else { return nil }
        return UInt16(b[o]) | UInt16(b[o + 1]) << 8
    }
    private static func u32(_ b: [UInt8], _ o: Int) -> UInt32? {
        guard o >= 0, o <= b.count - 4 else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) }
    }
    private static func u64(_ b: [UInt8], _ o: Int) -> UInt64? {
        guard o >= 0, o <= b.count - 8 else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) }
    }
}
