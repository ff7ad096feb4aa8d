/// GP TEE result codes and origins, login methods and GP param types.

/// A TEE_Result / TEEC_Result code.
public struct TEEResult: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Error {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let success = TEEResult(rawValue: 0)
    public static let corruptObject = TEEResult(rawValue: 0xF010_0001)
    public static let corruptObject2 = TEEResult(rawValue: 0xF010_0002)
    public static let storageNotAvailable = TEEResult(rawValue: 0xF010_0003)
    public static let storageNotAvailable2 = TEEResult(rawValue: 0xF010_0004)
    public static let unsupportedVersion = TEEResult(rawValue: 0xF010_0005)
    public static let ciphertextInvalid = TEEResult(rawValue: 0xF010_0006)
    public static let generic = TEEResult(rawValue: 0xFFFF_0000)
    public static let accessDenied = TEEResult(rawValue: 0xFFFF_0001)
    public static let cancel = TEEResult(rawValue: 0xFFFF_0002)
    public static let accessConflict = TEEResult(rawValue: 0xFFFF_0003)
    public static let excessData = TEEResult(rawValue: 0xFFFF_0004)
    public static let badFormat = TEEResult(rawValue: 0xFFFF_0005)
    public static let badParameters = TEEResult(rawValue: 0xFFFF_0006)
    public static let badState = TEEResult(rawValue: 0xFFFF_0007)
    public static let itemNotFound = TEEResult(rawValue: 0xFFFF_0008)
    public static let notImplemented = TEEResult(rawValue: 0xFFFF_0009)
    public static let notSupported = TEEResult(rawValue: 0xFFFF_000A)
    public static let noData = TEEResult(rawValue: 0xFFFF_000B)
    public static let outOfMemory = TEEResult(rawValue: 0xFFFF_000C)
    public static let busy = TEEResult(rawValue: 0xFFFF_000D)
    public static let communication = TEEResult(rawValue: 0xFFFF_000E)
    public static let security = TEEResult(rawValue: 0xFFFF_000F)
    public static let shortBuffer = TEEResult(rawValue: 0xFFFF_0010)
    public static let externalCancel = TEEResult(rawValue: 0xFFFF_0011)
    public static let overflow = TEEResult(rawValue: 0xFFFF_300F)
    public static let targetDead = TEEResult(rawValue: 0xFFFF_3024)
    public static let storageNoSpace = TEEResult(rawValue: 0xFFFF_3041)
    public static let macInvalid = TEEResult(rawValue: 0xFFFF_3071)
    public static let signatureInvalid = TEEResult(rawValue: 0xFFFF_3072)
    public static let timeNotSet = TEEResult(rawValue: 0xFFFF_5000)
    public static let timeNeedsReset = TEEResult(rawValue: 0xFFFF_5001)

    /// The TEE_ name (TEE_SUCCESS, TEE_ERROR_*), or nil when unknown. The catalog holds TEEC_ aliases.
    public var name: String? { ABICatalog.name(group: .teeResultCodes, value: UInt64(rawValue), prefix: "TEE_") }
    public var description: String { name.map { "\($0) (\(hex(rawValue)))" } ?? hex(rawValue) }
}

/// TEE_ORIGIN_* / TEEC_ORIGIN_*: which layer produced a result.
public struct TEEOrigin: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let api = TEEOrigin(rawValue: 1)
    public static let comms = TEEOrigin(rawValue: 2)
    public static let tee = TEEOrigin(rawValue: 3)
    public static let trustedApp = TEEOrigin(rawValue: 4)
    /// OP-TEE / GP name, or nil when unknown.
    public var name: String? {
        switch rawValue { case 1: "TEE_ORIGIN_API"; case 2: "TEE_ORIGIN_COMMS"; case 3: "TEE_ORIGIN_TEE"; case 4: "TEE_ORIGIN_TRUSTED_APP"; default: nil }
    }
    public var description: String { name ?? "\(rawValue)" }
}

/// Login methods (OPTEE_MSG_LOGIN_*, TEEC_LOGIN_*, TEE_IOCTL_LOGIN_*).
public struct LoginMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let `public` = LoginMethod(rawValue: 0)
    public static let user = LoginMethod(rawValue: 1)
    public static let group = LoginMethod(rawValue: 2)
    public static let application = LoginMethod(rawValue: 4)
    public static let applicationUser = LoginMethod(rawValue: 5)
    public static let applicationGroup = LoginMethod(rawValue: 6)
    public static let reeKernel = LoginMethod(rawValue: 0x8000_0000)
    public static let trustedApp = LoginMethod(rawValue: 0xF000_0000)
    /// Defined for OPEN_SESSION from the normal world.
    public var isDefined: Bool { [0, 1, 2, 4, 5, 6, 0x8000_0000].contains(rawValue) }
    /// OP-TEE / GP name, or nil when unknown.
    public var name: String? {
        switch rawValue {
        case 0: "OPTEE_MSG_LOGIN_PUBLIC"; case 1: "OPTEE_MSG_LOGIN_USER"; case 2: "OPTEE_MSG_LOGIN_GROUP"
        case 4: "OPTEE_MSG_LOGIN_APPLICATION"; case 5: "OPTEE_MSG_LOGIN_APPLICATION_USER"
        case 6: "OPTEE_MSG_LOGIN_APPLICATION_GROUP"; case 0x8000_0000: "TEE_LOGIN_REE_KERNEL"
        case 0xF000_0000: "TEE_LOGIN_TRUSTED_APP"; default: nil
        }
    }
    public var description: String { name ?? hex(rawValue) }
}

/// GP param type of one TEE_Param / TEEC_Parameter (TEE_PARAM_TYPE_*).
public enum GPParamType: UInt8, Sendable, CaseIterable {
    case none = 0, valueInput = 1, valueOutput = 2, valueInout = 3
    case memrefInput = 5, memrefOutput = 6, memrefInout = 7
}

/// Four GP param types packed one nibble each (TEE_PARAM_TYPES / TEEC_PARAM_TYPES).
public struct GPParamTypes: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Packs four types: nibble i is the type of params[i].
    @inlinable public init(_ t0: GPParamType, _ t1: GPParamType = .none, _ t2: GPParamType = .none, _ t3: GPParamType = .none) {
        rawValue = UInt32(t0.rawValue) | UInt32(t1.rawValue) << 4 | UInt32(t2.rawValue) << 8 | UInt32(t3.rawValue) << 12
    }
    /// The type of params[i], or nil for an undefined nibble.
    @inlinable public subscript(i: Int) -> GPParamType? { GPParamType(rawValue: UInt8((rawValue >> (4 * UInt32(i))) & 0xF)) }
    public var description: String { hex(rawValue, width: 4) }
}
