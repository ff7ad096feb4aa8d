/// TACrypto — the GP cryptographic framework of C TAs (secure world).
///
/// Object contents (keys) and operation state live here, per TA instance, inside the secure world;
/// the TA process holds only opaque handles and libvteeta forwards each GP crypto call over the
/// TAChannel (requests VTEE_REQ_CRYPTO_* 40..69, BigInt 70..89), as OP-TEE's libutee does with its
/// utee_cryp_* syscalls. A non-extractable key therefore never enters the TA process.
/// Primitives come from swift-crypto / _CryptoExtras only; this module holds the glue, the modes over
/// the raw AES block and the GP state machine. It touches no memory of its own: TAHost hands it bytes.
/// Attribute values cross into algorithm functions as `[UInt32: [UInt8]]` (GP attribute id → big-endian bytes).
import Crypto

/// The namespace of the crypto framework's shared constants.
public enum TACrypto {
    /// First TAChannel request number of the symmetric/object framework (40..69).
    public static let firstRequest: UInt32 = 40
    /// First TAChannel request number of the BigInt API (70..89, crypto2).
    public static let firstBigIntRequest: UInt32 = 70
}
