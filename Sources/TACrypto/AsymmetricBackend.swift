/// The seam between the GP framework (objects, operations, state machine) and the asymmetric
/// algorithms (RSA, DSA, ECDSA, Ed25519, DH, ECDH, X25519: issue 14 part B). The framework checks
/// handles, modes, key types, usages and states, then calls one of these with the key's
/// attributes as `[UInt32: [UInt8]]` (GP attribute id → big-endian bytes; a value attribute is its
/// `a` as 4 big-endian bytes). Secure world; pure functions.

/// Asymmetric algorithms as pure functions over attribute maps.
public protocol AsymmetricBackend: Sendable {
    /// Whether `algorithm` (TEE_ALG_*) is implemented, for element (curve) `element` (0: none).
    func supports(algorithm: UInt32, element: UInt32) -> Bool
    /// TEE_GenerateKey for an asymmetric `type` of `bits` with optional `params` (e.g. the ECC
    /// curve, DH prime/base); returns every attribute of the new key.
    func generate(type: UInt32, bits: Int, params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt32: [UInt8]]
    /// TEE_AsymmetricEncrypt (RSAES / RSA_NOPAD) with the public part of `key`.
    func encrypt(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], data: [UInt8]) throws(TACryptoError) -> [UInt8]
    /// TEE_AsymmetricDecrypt with the private part of `key`.
    func decrypt(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], data: [UInt8]) throws(TACryptoError) -> [UInt8]
    /// TEE_AsymmetricSignDigest over `digest`.
    func sign(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], digest: [UInt8]) throws(TACryptoError) -> [UInt8]
    /// TEE_AsymmetricVerifyDigest: returns normally when `signature` verifies, else signatureInvalid.
    func verify(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], digest: [UInt8], signature: [UInt8]) throws(TACryptoError)
    /// TEE_DeriveKey for DH / ECDH / X25519: the shared secret (big-endian, as GP's SECRET_VALUE).
    func deriveSharedSecret(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt8]
}

/// The backend used until the asymmetric algorithms are wired in: every algorithm NOT_SUPPORTED.
public struct NoAsymmetricBackend: AsymmetricBackend {
    /// The backend that supports nothing.
    public init() {}
    /// Refuses: no algorithm (`supports` answers false).
    public func supports(algorithm: UInt32, element: UInt32) -> Bool { false }
    /// Refuses: no algorithm (`generate` answers NOT_SUPPORTED).
    public func generate(type: UInt32, bits: Int, params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt32: [UInt8]] { throw .notSupported }
    /// Refuses: no algorithm (`encrypt` answers NOT_SUPPORTED).
    public func encrypt(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], data: [UInt8]) throws(TACryptoError) -> [UInt8] { throw .notSupported }
    /// Refuses: no algorithm (`decrypt` answers NOT_SUPPORTED).
    public func decrypt(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], data: [UInt8]) throws(TACryptoError) -> [UInt8] { throw .notSupported }
    /// Refuses: no algorithm (`sign` answers NOT_SUPPORTED).
    public func sign(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], digest: [UInt8]) throws(TACryptoError) -> [UInt8] { throw .notSupported }
    /// Refuses: no algorithm (`verify` answers NOT_SUPPORTED).
    public func verify(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]], digest: [UInt8], signature: [UInt8]) throws(TACryptoError) { throw .notSupported }
    /// Refuses: no algorithm (`deriveSharedSecret` answers NOT_SUPPORTED).
    public func deriveSharedSecret(algorithm: UInt32, key: [UInt32: [UInt8]], params: [UInt32: [UInt8]]) throws(TACryptoError) -> [UInt8] { throw .notSupported }
}
