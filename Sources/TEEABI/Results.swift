/// GP TEE result codes and origins, login methods and GP param types.

/// A TEE_Result / TEEC_Result code.
public struct TEEResult: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Error {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static var success: TEEResult { TEEResult(rawValue: 0) }
    @inlinable public static var corruptObject: TEEResult { TEEResult(rawValue: 0xF010_0001) }
    @inlinable public static var corruptObject2: TEEResult { TEEResult(rawValue: 0xF010_0002) }
    @inlinable public static var storageNotAvailable: TEEResult { TEEResult(rawValue: 0xF010_0003) }
    @inlinable public static var storageNotAvailable2: TEEResult { TEEResult(rawValue: 0xF010_0004) }
    @inlinable public static var unsupportedVersion: TEEResult { TEEResult(rawValue: 0xF010_0005) }
    @inlinable public static var ciphertextInvalid: TEEResult { TEEResult(rawValue: 0xF010_0006) }
    @inlinable public static var generic: TEEResult { TEEResult(rawValue: 0xFFFF_0000) }
    @inlinable public static var accessDenied: TEEResult { TEEResult(rawValue: 0xFFFF_0001) }
    @inlinable public static var cancel: TEEResult { TEEResult(rawValue: 0xFFFF_0002) }
    @inlinable public static var accessConflict: TEEResult { TEEResult(rawValue: 0xFFFF_0003) }
    @inlinable public static var excessData: TEEResult { TEEResult(rawValue: 0xFFFF_0004) }
    @inlinable public static var badFormat: TEEResult { TEEResult(rawValue: 0xFFFF_0005) }
    @inlinable public static var badParameters: TEEResult { TEEResult(rawValue: 0xFFFF_0006) }
    @inlinable public static var badState: TEEResult { TEEResult(rawValue: 0xFFFF_0007) }
    @inlinable public static var itemNotFound: TEEResult { TEEResult(rawValue: 0xFFFF_0008) }
    @inlinable public static var notImplemented: TEEResult { TEEResult(rawValue: 0xFFFF_0009) }
    @inlinable public static var notSupported: TEEResult { TEEResult(rawValue: 0xFFFF_000A) }
    @inlinable public static var noData: TEEResult { TEEResult(rawValue: 0xFFFF_000B) }
    @inlinable public static var outOfMemory: TEEResult { TEEResult(rawValue: 0xFFFF_000C) }
    @inlinable public static var busy: TEEResult { TEEResult(rawValue: 0xFFFF_000D) }
    @inlinable public static var communication: TEEResult { TEEResult(rawValue: 0xFFFF_000E) }
    @inlinable public static var security: TEEResult { TEEResult(rawValue: 0xFFFF_000F) }
    @inlinable public static var shortBuffer: TEEResult { TEEResult(rawValue: 0xFFFF_0010) }
    @inlinable public static var externalCancel: TEEResult { TEEResult(rawValue: 0xFFFF_0011) }
    @inlinable public static var overflow: TEEResult { TEEResult(rawValue: 0xFFFF_300F) }
    @inlinable public static var targetDead: TEEResult { TEEResult(rawValue: 0xFFFF_3024) }
    @inlinable public static var storageNoSpace: TEEResult { TEEResult(rawValue: 0xFFFF_3041) }
    @inlinable public static var macInvalid: TEEResult { TEEResult(rawValue: 0xFFFF_3071) }
    @inlinable public static var signatureInvalid: TEEResult { TEEResult(rawValue: 0xFFFF_3072) }
    @inlinable public static var timeNotSet: TEEResult { TEEResult(rawValue: 0xFFFF_5000) }
    @inlinable public static var timeNeedsReset: TEEResult { TEEResult(rawValue: 0xFFFF_5001) }

    /// The TEE_ name (TEE_SUCCESS, TEE_ERROR_*), or nil when unknown. The catalog holds TEEC_ aliases.
    public var name: String? { ABICatalog.name(group: .teeResultCodes, value: UInt64(rawValue), prefix: "TEE_") }
    public var description: String { name.map { "\($0) (\(hex(rawValue)))" } ?? hex(rawValue) }
}

/// TEE_ORIGIN_* / TEEC_ORIGIN_*: which layer produced a result.
public struct TEEOrigin: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static var api: TEEOrigin { TEEOrigin(rawValue: 1) }
    @inlinable public static var comms: TEEOrigin { TEEOrigin(rawValue: 2) }
    @inlinable public static var tee: TEEOrigin { TEEOrigin(rawValue: 3) }
    @inlinable public static var trustedApp: TEEOrigin { TEEOrigin(rawValue: 4) }
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
    @inlinable public static var user: LoginMethod { LoginMethod(rawValue: 1) }
    @inlinable public static var group: LoginMethod { LoginMethod(rawValue: 2) }
    @inlinable public static var application: LoginMethod { LoginMethod(rawValue: 4) }
    @inlinable public static var applicationUser: LoginMethod { LoginMethod(rawValue: 5) }
    @inlinable public static var applicationGroup: LoginMethod { LoginMethod(rawValue: 6) }
    @inlinable public static var reeKernel: LoginMethod { LoginMethod(rawValue: 0x8000_0000) }
    @inlinable public static var trustedApp: LoginMethod { LoginMethod(rawValue: 0xF000_0000) }
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
