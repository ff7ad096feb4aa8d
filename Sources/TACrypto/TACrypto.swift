/// TACrypto — the GP cryptographic framework of C TAs (secure world).
///
/// Where the keys live: object contents (keys) and operation state live here, per TA instance, in
/// the secure world; the TA process holds only opaque handles and libvteeta forwards each GP
/// crypto call over the TAChannel (requests VTEE_REQ_CRYPTO_* 40..69, BigInt 70..89), as OP-TEE's
/// libutee does with its utee_cryp_* syscalls. A key that is not extractable therefore never
/// enters the (hostile-capable) TA process, and the key bytes of a persistent object are read
/// from the encrypted store into the secure world only.
///
/// Primitives come from swift-crypto / _CryptoExtras only (digests, HMAC, HKDF, PBKDF2, the raw
/// AES block `AES.permute`, AES-GCM); this module holds the glue, the modes over the AES block
/// (CBC, CTR, CTS, XTS, CMAC, CBC-MAC, CCM) and the GP state machine. It touches no memory of its
/// own and imports no project module: TAHost hands it bytes and maps its errors to GP codes.
/// Asymmetric algorithms plug in through `AsymmetricBackend`, taking attributes as
/// `[UInt32: [UInt8]]` (GP attribute id → big-endian bytes; a value attribute is its `a` as 4
/// big-endian bytes).
import Crypto

/// The namespace of the crypto framework's shared constants.
public enum TACrypto {
    /// First TAChannel request number of the symmetric/object framework (40..69).
    public static let firstRequest: UInt32 = 40
    /// First TAChannel request number of the BigInt API (70..89, crypto2).
    public static let firstBigIntRequest: UInt32 = 70
}

/// Why a crypto call failed, named for the GP condition; `code` is the GP result at the boundary.
public enum TACryptoError: Error, Equatable, Sendable {
    /// TEE_ERROR_BAD_PARAMETERS (libutee panics for most calls).
    case badParameters
    /// TEE_ERROR_BAD_STATE: the call is not allowed in the operation's state (libutee panics).
    case badState
    /// TEE_ERROR_NOT_SUPPORTED: algorithm, key size or type this implementation refuses.
    case notSupported
    /// TEE_ERROR_ITEM_NOT_FOUND: the object has no such attribute.
    case itemNotFound
    /// TEE_ERROR_ACCESS_DENIED: a secret attribute of a non-extractable object.
    case accessDenied
    /// TEE_ERROR_MAC_INVALID: a MAC or AE tag did not verify.
    case macInvalid
    /// TEE_ERROR_SIGNATURE_INVALID: a signature did not verify.
    case signatureInvalid
    /// TEE_ERROR_SHORT_BUFFER with the size the caller must provide.
    case shortBuffer(needed: Int)
    /// TEE_ERROR_OUT_OF_MEMORY: too many handles or too large a buffer.
    case outOfMemory
    /// TEE_ERROR_GENERIC: the backend failed in a way GP has no code for.
    case generic

    /// The GP result code.
    public var code: UInt32 {
        switch self {
        case .badParameters: 0xFFFF_0006
        case .badState: 0xFFFF_0007
        case .notSupported: 0xFFFF_000A
        case .itemNotFound: 0xFFFF_0008
        case .accessDenied: 0xFFFF_0001
        case .macInvalid: 0xFFFF_3071
        case .signatureInvalid: 0xFFFF_3072
        case .shortBuffer: 0xFFFF_0010
        case .outOfMemory: 0xFFFF_000C
        case .generic: 0xFFFF_0000
        }
    }
}

/// One GP attribute: a buffer (reference) attribute or a value (a, b) attribute.
public struct TAAttribute: Sendable, Equatable {
    /// The GP attribute identifier (TEE_ATTR_*).
    public var id: UInt32
    /// The buffer of a reference attribute (empty for a value attribute).
    public var bytes: [UInt8]
    /// The `a` of a value attribute.
    public var a: UInt32
    /// The `b` of a value attribute.
    public var b: UInt32

    /// A reference attribute.
    public init(id: UInt32, bytes: [UInt8]) { self.id = id; self.bytes = bytes; a = 0; b = 0 }
    /// A value attribute.
    public init(id: UInt32, a: UInt32, b: UInt32) { self.id = id; bytes = []; self.a = a; self.b = b }

    /// Whether the identifier names a value attribute (TEE_ATTR_FLAG_VALUE).
    public var isValue: Bool { id & Attr.flagValue != 0 }
    /// Whether the identifier names a public attribute (TEE_ATTR_FLAG_PUBLIC).
    public var isPublic: Bool { id & Attr.flagPublic != 0 }
    /// The attribute as big-endian bytes (a value attribute: `a` in 4 bytes).
    public var bigEndianBytes: [UInt8] { isValue ? [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)] : bytes }

    /// The wire form libvteeta and the object store use: count, then {id, a, b, len, bytes} (u32 LE).
    public static func encode(_ list: [TAAttribute]) -> [UInt8] {
        var out: [UInt8] = []
        func put(_ w: UInt32) { out += [UInt8(w & 0xFF), UInt8(w >> 8 & 0xFF), UInt8(w >> 16 & 0xFF), UInt8(w >> 24)] }
        put(UInt32(list.count))
        for at in list { put(at.id); put(at.a); put(at.b); put(UInt32(at.bytes.count)); out += at.bytes }
        return out
    }

    /// Decodes the wire form (at most 64 attributes); badParameters for anything malformed.
    public static func decode(_ b: [UInt8]) throws(TACryptoError) -> [TAAttribute] {
        if b.isEmpty { return [] }
        func w(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[i + $1]) << (8 * UInt32($1)) } }
        guard b.count >= 4 else { throw .badParameters }
        let count = Int(w(0))
        guard count <= 64 else { throw .badParameters }
        var out: [TAAttribute] = []
        var off = 4
        for _ in 0..<count {
            guard b.count - off >= 16 else { throw .badParameters }
            let len = Int(w(off + 12))
            guard b.count - off - 16 >= len else { throw .badParameters }
            var at = TAAttribute(id: w(off), a: w(off + 4), b: w(off + 8))
            if !at.isValue { at.bytes = Array(b[(off + 16)..<(off + 16 + len)]); at.a = 0; at.b = 0 }
            out.append(at)
            off += 16 + len
        }
        return out
    }
}

/// Cryptographically strong random bytes from swift-crypto's generator (BoringSSL's RAND_bytes).
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(count)
    while out.count < count {
        let n = min(512, count - out.count)
        SymmetricKey(size: SymmetricKeySize(bitCount: 8 * 64)).withUnsafeBytes { out += $0.prefix(n) }
    }
    return out
}
