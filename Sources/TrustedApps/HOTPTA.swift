/// hotp: the optee_examples HOTP TA (RFC 4226 with HMAC-SHA1).
import Crypto
import TAAPI
import TEEABI

/// optee_examples hotp: the client registers a shared key, then each GET_HOTP returns the next
/// 6-digit RFC 4226 value. The 8-byte big-endian counter is per session and starts at 0.
/// Multi-instance (flags 0).
public enum HOTPTA {
    /// TA_HOTP_UUID: 484d4143-2d53-4841-3120-4a6f636b6542.
    public static let uuid = TEEUUID.teec(0x484D_4143, 0x2D53, 0x4841, [0x31, 0x20, 0x4A, 0x6F, 0x63, 0x6B, 0x65, 0x42])

    /// Command ids (TA_HOTP_CMD_*).
    public enum Command: UInt32, Sendable, CaseIterable {
        /// REGISTER_SHARED_KEY: params[0] key (MEMREF_INPUT, at most 64 bytes). Keeps the counter.
        case registerSharedKey = 0
        /// GET_HOTP: params[0].value.a (VALUE_OUTPUT) = next HOTP value; the counter advances.
        case getHOTP = 1
    }

    /// REGISTER_SHARED_KEY param types: MEMREF_INPUT, NONE, NONE, NONE (0x0005).
    public static let registerParamTypes = GPParamTypes(.memrefInput)
    /// GET_HOTP param types: VALUE_OUTPUT, NONE, NONE, NONE (0x0002).
    public static let getParamTypes = GPParamTypes(.valueOutput)
    /// Key slot size: longer keys are refused at registration.
    public static let maximumKeySize = 64
    /// Shortest key the HMAC step accepts (RFC 4226 asks for at least 128 bits; the TA checks 10 bytes).
    public static let minimumKeySize = 10
    /// Six digits (DBC2 modulo).
    public static let modulo: UInt32 = 1_000_000

    /// The descriptor the secure world registers.
    public static let descriptor = TADescriptor(uuid: uuid, name: "hotp", properties: TAProperties()) {
        Instance()
    }

    /// Computes one RFC 4226 HOTP value for `key` and `counter`; nil when the key length is
    /// outside 10...64 bytes (the TA's HMAC step refuses it).
    public static func hotp(key: [UInt8], counter: UInt64) -> UInt32? {
        guard key.count >= minimumKeySize, key.count <= maximumKeySize else { return nil }
        var message = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { message[i] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64(i))) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        guard mac.count == 20 else { return nil }
        // Dynamic truncation: offset = low nibble of byte 19, 31-bit big-endian word there.
        let offset = Int(mac[19] & 0x0F)
        let bin = UInt32(mac[offset] & 0x7F) << 24 | UInt32(mac[offset + 1]) << 16
            | UInt32(mac[offset + 2]) << 8 | UInt32(mac[offset + 3])
        return bin % modulo
    }

    /// Per-session state: the registered key and the counter (zero-filled on open).
    final class Session {
        var key: [UInt8] = []
        var counter: UInt64 = 0
    }

    /// One instance per session.
    final class Instance: TrustedApplication {
        func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) {
            guard params.types == .allNone else { return (.badParameters, nil) }
            return (.success, Session())
        }

        func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
            guard let cmd = Command(rawValue: command) else { return .badParameters }
            guard let session = sessionState as? Session else { return .badState }
            switch cmd {
            case .registerSharedKey:
                guard params.types == HOTPTA.registerParamTypes, let k = params.memref(0) else { return .badParameters }
                guard k.size >= 0, k.size <= HOTPTA.maximumKeySize else { return .badParameters }
                session.key = k.input
                return .success
            case .getHOTP:
                guard params.types == HOTPTA.getParamTypes else { return .badParameters }
                let value = HOTPTA.hotp(key: session.key, counter: session.counter)
                // The stock TA advances the counter even when the HMAC step fails.
                session.counter &+= 1
                params.setValue(0, TAValue(a: value ?? 0, b: 0))
                return value == nil ? .badParameters : .success
            }
        }
    }
}
