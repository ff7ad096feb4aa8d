/// random: the optee_examples random TA.
import TAAPI
import TEEABI

/// optee_examples random: fills a MEMREF_OUTPUT with random bytes from the TEE's CSPRNG.
/// Multi-instance (flags 0), no session state.
public enum RandomTA {
    /// TA_RANDOM_UUID: b6c53aba-9669-4668-a7f2-205629d00f86.
    public static let uuid = TEEUUID.teec(0xB6C5_3ABA, 0x9669, 0x4668, [0xA7, 0xF2, 0x20, 0x56, 0x29, 0xD0, 0x0F, 0x86])

    /// Command ids (TA_RANDOM_CMD_*).
    public enum Command: UInt32, Sendable, CaseIterable {
        /// TA_RANDOM_CMD_GENERATE: fill params[0] (MEMREF_OUTPUT) with random bytes.
        case generate = 0
    }

    /// Param types of GENERATE: MEMREF_OUTPUT, NONE, NONE, NONE (0x0006).
    public static let paramTypes = GPParamTypes(.memrefOutput)

    /// The largest request the stock TA can serve: its private copy must fit the 32 KiB heap.
    public static let maximumSize = ExampleTALimits.heapSize

    /// The descriptor the secure world registers.
    public static let descriptor = TADescriptor(uuid: uuid, name: "random", properties: TAProperties()) {
        Instance()
    }

    /// One instance per session; stateless.
    final class Instance: TrustedApplication {
        func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) {
            guard params.types == .allNone else { return (.badParameters, nil) }
            return (.success, nil)
        }

        func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
            guard Command(rawValue: command) == .generate else { return .badParameters }
            guard params.types == RandomTA.paramTypes, let out = params.memref(0) else { return .badParameters }
            let size = out.size
            // The stock TA copies through a TEE_Malloc'd buffer of the requested size.
            guard size >= 0, size <= RandomTA.maximumSize else { return .outOfMemory }
            guard size > 0 else { return .success }
            // The output size is left as the client gave it.
            var bytes = context.random(size)
            if bytes.count != size {  // never trust a short or long answer to size the copy-back
                bytes = Array(bytes.prefix(size)) + [UInt8](repeating: 0, count: Swift.max(0, size - bytes.count))
            }
            params.setMemref(0, bytes: bytes, size: size)
            return .success
        }
    }
}
