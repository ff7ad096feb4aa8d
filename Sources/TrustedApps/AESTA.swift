/// aes: the optee_examples AES TA.
import TAAPI
import TEEABI

/// optee_examples aes: PREPARE an AES operation (algorithm, key size, direction), SET_KEY,
/// SET_IV, then CIPHER buffers (streaming: successive CIPHER calls continue the stream), or
/// AUTHENC for CCM/GCM. Multi-instance (flags 0); one cipher context per session.
///
/// Where OP-TEE's libutee would panic the TA (SET_IV without PREPARE, an IV of the wrong size,
/// an IV for ECB, SET_IV on a CCM/GCM operation, CIPHER before SET_IV, AUTHENC without PREPARE,
/// on a CBC/CTR/ECB operation or in the direction PREPARE did not choose), this TA throws
/// `TAPanic`, so the client sees TARGET_DEAD as on OP-TEE.
public enum AESTA {
    /// TA_AES_UUID: 5dbac793-f574-4871-8ad3-04331ec17f24.
    public static let uuid = TEEUUID.teec(0x5DBA_C793, 0xF574, 0x4871, [0x8A, 0xD3, 0x04, 0x33, 0x1E, 0xC1, 0x7F, 0x24])

    /// Command ids (TA_AES_CMD_*).
    public enum Command: UInt32, Sendable, CaseIterable {
        /// PREPARE: [0].a algorithm (TA_AES_ALGO_*), [1].a key size in bytes (16 or 32),
        /// [2].a mode (1 encode, 0 decode); all VALUE_INPUT.
        case prepare = 0
        /// SET_KEY: [0] key (MEMREF_INPUT), exactly the prepared key size.
        case setKey = 1
        /// SET_IV: [0] IV (MEMREF_INPUT): 16 bytes for CBC/CTR, none for ECB; a CCM/GCM operation
        /// panics (TEE_CipherInit on an AE operation).
        case setIV = 2
        /// CIPHER: [0] input (MEMREF_INPUT), [1] output (MEMREF_OUTPUT, at least the input size).
        case cipher = 3
        /// AUTHENC: [0] input, [1] output, [2].a 0 decrypt / other encrypt, [3] tag (MEMREF_INOUT).
        case authenc = 4
    }

    /// Algorithm values of PREPARE's [0].a (TA_AES_ALGO_*).
    public typealias Algorithm = AESAlgorithm

    /// Mode values of PREPARE's [2].a (TA_AES_MODE_*).
    public enum Mode: UInt32, Sendable {
        /// TA_AES_MODE_DECODE.
        case decode = 0
        /// TA_AES_MODE_ENCODE.
        case encode = 1
    }

    /// PREPARE param types: VALUE_INPUT x3, NONE (0x0111).
    public static let prepareParamTypes = GPParamTypes(.valueInput, .valueInput, .valueInput)
    /// SET_KEY and SET_IV param types: MEMREF_INPUT, NONE, NONE, NONE (0x0005).
    public static let bufferParamTypes = GPParamTypes(.memrefInput)
    /// CIPHER param types: MEMREF_INPUT, MEMREF_OUTPUT, NONE, NONE (0x0065).
    public static let cipherParamTypes = GPParamTypes(.memrefInput, .memrefOutput)
    /// AUTHENC param types: MEMREF_INPUT, MEMREF_OUTPUT, VALUE_INPUT, MEMREF_INOUT (0x7165).
    public static let authencParamTypes = GPParamTypes(.memrefInput, .memrefOutput, .valueInput, .memrefInout)
    /// The fixed AUTHENC nonce: 00 01 02 .. 0B.
    public static let authencNonce: [UInt8] = Array(0..<12)

    /// The descriptor the secure world registers.
    public static let descriptor = TADescriptor(uuid: uuid, name: "aes", properties: TAProperties()) {
        Instance()
    }

    /// A prepared operation (TEE_AllocateOperation + key object), as the stock TA keeps it.
    struct Operation {
        let algorithm: AESAlgorithm
        let encrypting: Bool
        let keySize: Int
        /// The loaded key (all zeroes until SET_KEY, as the stock TA's dummy key).
        var key: [UInt8]
        /// The running cipher after SET_IV (nil in the initial state).
        var cipher: AESStreamCipher?
    }

    /// Per-session cipher context (struct aes_cipher).
    final class Session {
        /// Last accepted key size from PREPARE; SET_KEY compares against it (0 before any PREPARE).
        var keySize = 0
        var operation: Operation?
    }

    /// One instance per session.
    final class Instance: TrustedApplication {
        func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) {
            (.success, Session())
        }

        func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
            guard let cmd = Command(rawValue: command) else { return .notSupported }
            guard let s = sessionState as? Session else { return .badState }
            switch cmd {
            case .prepare: return prepare(&params, s)
            case .setKey: return try setKey(&params, s)
            case .setIV: return try setIV(&params, s)
            case .cipher: return try cipher(&params, s)
            case .authenc: return try authenc(&params, s)
            }
        }

        private func prepare(_ params: inout TAParams, _ s: Session) -> TEEResult {
            guard params.types == AESTA.prepareParamTypes else { return .badParameters }
            guard let algorithm = AESAlgorithm(rawValue: params.value(0).a) else { return .badParameters }
            let keySize = Int(params.value(1).a)
            guard keySize == 16 || keySize == 32 else { return .badParameters }
            // The stock TA records the key size before checking the mode.
            s.keySize = keySize
            guard let mode = Mode(rawValue: params.value(2).a) else { return .badParameters }
            s.operation = Operation(algorithm: algorithm, encrypting: mode == .encode, keySize: keySize,
                                    key: [UInt8](repeating: 0, count: keySize), cipher: nil)
            return .success
        }

        private func setKey(_ params: inout TAParams, _ s: Session) throws -> TEEResult {
            guard params.types == AESTA.bufferParamTypes, let k = params.memref(0) else { return .badParameters }
            guard k.size == s.keySize else { return .badParameters }
            guard var op = s.operation else {
                throw TAPanic(code: 0, "TEE_PopulateTransientObject on a null key handle")
            }
            // A key object sized by an earlier PREPARE cannot take another size.
            guard k.size == op.keySize else { return .badParameters }
            op.key = k.input
            op.cipher = nil  // TEE_ResetOperation
            s.operation = op
            return .success
        }

        private func setIV(_ params: inout TAParams, _ s: Session) throws -> TEEResult {
            guard params.types == AESTA.bufferParamTypes, let ivRef = params.memref(0) else { return .badParameters }
            guard var op = s.operation else { throw TAPanic(code: 0, "TEE_CipherInit on a null operation") }
            // TEE_CipherInit on an operation of class AE panics in libutee.
            guard !op.algorithm.isAuthenticated else {
                throw TAPanic(code: 0, "TEE_CipherInit on an \(op.algorithm) (authenticated encryption) operation")
            }
            guard let cipher = AESStreamCipher(algorithm: op.algorithm, encrypting: op.encrypting,
                                               key: op.key, iv: ivRef.input) else {
                throw TAPanic(code: TEEResult.badParameters.rawValue, "TEE_CipherInit: IV not valid for \(op.algorithm)")
            }
            op.cipher = cipher
            s.operation = op
            return .success
        }

        private func cipher(_ params: inout TAParams, _ s: Session) throws -> TEEResult {
            guard params.types == AESTA.cipherParamTypes, let input = params.memref(0), let out = params.memref(1) else {
                return .badParameters
            }
            guard out.size >= input.size else { return .badParameters }
            guard var op = s.operation else { return .badState }
            // TEE_CipherUpdate on an operation that is not an initialized cipher panics in libutee.
            guard var c = op.cipher else { throw TAPanic(code: TEEResult.badParameters.rawValue, "TEE_CipherUpdate: operation not initialized") }
            guard c.outputCount(forInput: input.size) <= out.size else {
                params.setMemrefSize(1, c.outputCount(forInput: input.size))
                return .shortBuffer
            }
            let produced = try c.update(input.input)
            op.cipher = c
            s.operation = op
            params.setMemref(1, bytes: produced, size: produced.count)
            return .success
        }

        private func authenc(_ params: inout TAParams, _ s: Session) throws -> TEEResult {
            guard params.types == AESTA.authencParamTypes,
                  let input = params.memref(0), let out = params.memref(1), let tagRef = params.memref(3) else {
                return .badParameters
            }
            // The C TA calls TEE_AEInit on the session's operation: a null handle or an
            // operation that is not AE panics in libutee.
            guard let op = s.operation else { throw TAPanic(code: 0, "TEE_AEInit on a null operation") }
            guard op.algorithm.isAuthenticated else {
                throw TAPanic(code: 0, "TEE_AEInit on a \(op.algorithm) operation (not authenticated encryption)")
            }
            let encrypt = params.value(2).a != 0
            guard AESAuthenticatedCipher.isValidTagLength(tagRef.size, for: op.algorithm) else { return .notSupported }
            // TEE_AEEncryptFinal on a decrypting operation (or DecryptFinal on an encrypting one)
            // panics with BAD_PARAMETERS.
            guard encrypt == op.encrypting else {
                throw TAPanic(code: TEEResult.badParameters.rawValue,
                              encrypt ? "TEE_AEEncryptFinal on a decrypt operation" : "TEE_AEDecryptFinal on an encrypt operation")
            }
            // The C TA finals into its own buffer and returns SHORT_BUFFER without touching
            // params[1].size.
            guard out.size >= input.size else { return .shortBuffer }
            do {
                if encrypt {
                    let (c, t) = try AESAuthenticatedCipher.seal(op.algorithm, key: op.key, nonce: AESTA.authencNonce,
                                                                 plaintext: input.input, tagLength: tagRef.size)
                    params.setMemref(1, bytes: c, size: c.count)
                    params.setMemref(3, bytes: t, size: t.count)
                } else {
                    let p = try AESAuthenticatedCipher.open(op.algorithm, key: op.key, nonce: AESTA.authencNonce,
                                                            ciphertext: input.input, tag: tagRef.input)
                    params.setMemref(1, bytes: p, size: p.count)
                }
                return .success
            } catch {
                return error
            }
        }
    }
}
