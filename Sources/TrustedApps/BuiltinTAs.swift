/// TrustedApps: the built-in trusted applications of the vtee secure world.
///
/// Runs in the secure world, inside the TA runtime. A TA here sees only what SecureWorld's TA API
/// gives it (its params, its `TAContext` services and its private storage) and uses swift-crypto
/// for cryptography. It never imports the mediator, the platform or the normal world, and never
/// sees an address. The example TAs answer exactly as the public optee_examples TAs do (same
/// UUIDs, command ids, param types, error codes and flags); `TestTA` is vtee's own test TA.
import TAAPI
import TEEABI

/// Every TA built into vtee, and each one by name.
public enum BuiltinTAs {
    /// optee_examples hello_world (increment / decrement a value).
    public static let helloWorld: TADescriptor = HelloWorldTA.descriptor
    /// optee_examples random (fill a buffer with random bytes).
    public static let random: TADescriptor = RandomTA.descriptor
    /// optee_examples secure_storage (raw persistent objects), single instance.
    public static let secureStorage: TADescriptor = SecureStorageTA.descriptor
    /// optee_examples hotp (RFC 4226 one-time passwords).
    public static let hotp: TADescriptor = HOTPTA.descriptor
    /// optee_examples aes (ECB/CBC/CTR ciphering, CCM/GCM authenticated encryption).
    public static let aes: TADescriptor = AESTA.descriptor
    /// vtee's own test TA (RPC kinds, long runs, panics, notifications, TA-to-TA).
    public static let test: TADescriptor = TestTA.descriptor

    /// All built-in TAs, for the secure world's TA registry.
    public static let all: [TADescriptor] = [helloWorld, random, secureStorage, hotp, aes, test]

    /// The built-in TA with this UUID, if any.
    public static func descriptor(for uuid: TEEUUID) -> TADescriptor? {
        all.first { $0.uuid == uuid }
    }
}

/// Build-time limits of the optee_examples TAs (TA_STACK_SIZE / TA_DATA_SIZE in their headers).
public enum ExampleTALimits {
    /// TA heap (TA_DATA_SIZE): 32 KiB. Allocations a stock TA could not make answer OUT_OF_MEMORY.
    public static let heapSize = 32 * 1024
    /// TA stack (TA_STACK_SIZE): 2 KiB.
    public static let stackSize = 2 * 1024
    /// Maximum length of a persistent object id (TEE_OBJECT_ID_MAX_LEN).
    public static let objectIDMaxLength = 64

    /// Whether buffers of these sizes fit the heap together (no overflow, no negative size).
    public static func fitsHeap(_ sizes: Int...) -> Bool {
        var left = heapSize
        for s in sizes {
            guard s >= 0, s <= left else { return false }
            left -= s
        }
        return true
    }
}

extension GPParamTypes {
    /// Four NONE params (TEE_PARAM_TYPES(NONE, NONE, NONE, NONE) = 0).
    static let allNone = GPParamTypes(rawValue: 0)
}

extension TAMemref {
    /// The bytes the client passed in: the first `size` bytes, nothing for a NULL memref.
    var input: [UInt8] {
        if isNull { return [] }
        let n = Swift.max(0, Swift.min(size, bytes.count))
        return n == bytes.count ? bytes : Array(bytes.prefix(n))
    }
}

extension TEEUUID {
    /// A UUID from the fields of a C `TEEC_UUID` initializer, as the TA headers spell them.
    static func teec(_ timeLow: UInt32, _ timeMid: UInt16, _ timeHi: UInt16, _ node: [UInt8]) -> TEEUUID {
        TEEUUID(timeLow: timeLow, timeMid: timeMid, timeHiAndVersion: timeHi, clockSeqAndNode: node)
    }
}
