/// hello_world: the optee_examples "Hello World" TA.
import TAAPI
import TEEABI

/// optee_examples hello_world: adds or subtracts 1 from `params[0].value.a` (VALUE_INOUT).
/// Multi-instance (flags 0), no session state.
public enum HelloWorldTA {
    /// TA_HELLO_WORLD_UUID: 8aaaf200-2450-11e4-abe2-0002a5d5c51b.
    public static let uuid = TEEUUID.teec(0x8AAA_F200, 0x2450, 0x11E4, [0xAB, 0xE2, 0x00, 0x02, 0xA5, 0xD5, 0xC5, 0x1B])

    /// Command ids (TA_HELLO_WORLD_CMD_*).
    public enum Command: UInt32, Sendable, CaseIterable {
        /// TA_HELLO_WORLD_CMD_INC_VALUE: value.a += 1 (32-bit wrap).
        case increment = 0
        /// TA_HELLO_WORLD_CMD_DEC_VALUE: value.a -= 1 (32-bit wrap).
        case decrement = 1
    }

    /// Param types both commands require: VALUE_INOUT, NONE, NONE, NONE (0x0003).
    public static let paramTypes = GPParamTypes(.valueInout)

    /// The descriptor the secure world registers.
    public static let descriptor = TADescriptor(uuid: uuid, name: "hello_world", properties: TAProperties()) {
        Instance()
    }

    /// One instance per session; stateless.
    final class Instance: TrustedApplication {
        func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) {
            // The stock TA requires all-NONE params on open.
            guard params.types == .allNone else { return (.badParameters, nil) }
            return (.success, nil)
        }

        func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
            guard let cmd = Command(rawValue: command) else { return .badParameters }
            guard params.types == HelloWorldTA.paramTypes else { return .badParameters }
            var v = params.value(0)
            switch cmd {
            case .increment: v.a &+= 1
            case .decrement: v.a &-= 1
            }
            params.setValue(0, v)
            return .success
        }
    }
}
