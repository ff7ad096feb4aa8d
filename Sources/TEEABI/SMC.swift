/// SMCCC function ids (fast/yielding, SMC32/64, owner, function number) and the
/// OP-TEE SMC ids, return codes, RPC function codes and capabilities.

/// SMCCC owning entity of a function id (bits 29:24).
public struct SMCOwner: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue & 0x3F }
    /// The Arm architecture owner (0): a constant, not a lazy global (read on every trap).
    @inlinable public static var arch: SMCOwner { SMCOwner(rawValue: 0) }
    @inlinable public static var cpu: SMCOwner { SMCOwner(rawValue: 1) }
    @inlinable public static var sip: SMCOwner { SMCOwner(rawValue: 2) }
    @inlinable public static var oem: SMCOwner { SMCOwner(rawValue: 3) }
    @inlinable public static var standard: SMCOwner { SMCOwner(rawValue: 4) }
    @inlinable public static var standardHypervisor: SMCOwner { SMCOwner(rawValue: 5) }
    @inlinable public static var vendorHypervisor: SMCOwner { SMCOwner(rawValue: 6) }
    @inlinable public static var trustedApp: SMCOwner { SMCOwner(rawValue: 48) }
    @inlinable public static var trustedOS: SMCOwner { SMCOwner(rawValue: 50) }
    @inlinable public static var trustedOSOpteed: SMCOwner { SMCOwner(rawValue: 62) }
    @inlinable public static var trustedOSAPI: SMCOwner { SMCOwner(rawValue: 63) }

    /// Human name of the owner range, as the SMCCC specification names it.
    public var name: String {
        switch rawValue {
        case 0: "Arm Architecture"
        case 1: "CPU Service"
        case 2: "SiP Service"
        case 3: "OEM Service"
        case 4: "Standard Secure Service"
        case 5: "Standard Hypervisor Service"
        case 6: "Vendor Specific Hypervisor Service"
        case 7: "Vendor Specific EL3 Monitor Service"
        case 48...49: "Trusted Application"
        case 50...63: "Trusted OS"
        default: "Reserved"
        }
    }
    public var description: String { "\(rawValue) \(name)" }
}

/// An SMCCC function id as found in a0 (32 bits).
public struct SMCFunctionID: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Builds an id from its fields: fast or yielding, SMC64 or SMC32, owner and function number.
    @inlinable public init(fast: Bool, smc64: Bool, owner: SMCOwner, function: UInt16) {
        rawValue = (fast ? 0x8000_0000 : 0) | (smc64 ? 0x4000_0000 : 0)
            | (UInt32(owner.rawValue) << 24) | UInt32(function)
    }

    /// Bit 31: a fast (atomic) call rather than a yielding (standard) call.
    @inlinable public var isFast: Bool { rawValue & 0x8000_0000 != 0 }
    /// Bit 30: the SMC64 calling convention.
    @inlinable public var isSMC64: Bool { rawValue & 0x4000_0000 != 0 }
    /// Bits 29:24: the owning entity.
    @inlinable public var owner: SMCOwner { SMCOwner(rawValue: UInt8((rawValue >> 24) & 0x3F)) }
    /// Bits 15:0: the function number within the owner.
    @inlinable public var function: UInt16 { UInt16(rawValue & 0xFFFF) }
    /// Bits 23:16 must be zero for a valid SMCCC id (except the legacy 0xFFFF.. range).
    @inlinable public var hasReservedBits: Bool { rawValue & 0x00FF_0000 != 0 }

    // OP-TEE ids (optee_smc.h).
    @inlinable public static var callsCount: SMCFunctionID { SMCFunctionID(rawValue: 0xBF00_FF00) }
    @inlinable public static var callsUID: SMCFunctionID { SMCFunctionID(rawValue: 0xBF00_FF01) }
    @inlinable public static var callsRevision: SMCFunctionID { SMCFunctionID(rawValue: 0xBF00_FF03) }
    @inlinable public static var getOSUUID: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0000) }
    @inlinable public static var getOSRevision: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0001) }
    @inlinable public static var returnFromRPC: SMCFunctionID { SMCFunctionID(rawValue: 0x3200_0003) }
    @inlinable public static var callWithArg: SMCFunctionID { SMCFunctionID(rawValue: 0x3200_0004) }
    @inlinable public static var getSHMConfig: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0007) }
    @inlinable public static var l2ccMutex: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0008) }
    @inlinable public static var exchangeCapabilities: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0009) }
    @inlinable public static var disableSHMCache: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_000A) }
    @inlinable public static var enableSHMCache: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_000B) }
    @inlinable public static var bootSecondary: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_000C) }
    @inlinable public static var vmCreated: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_000D) }
    @inlinable public static var vmDestroyed: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_000E) }
    @inlinable public static var getThreadCount: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_000F) }
    @inlinable public static var enableAsyncNotif: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0010) }
    @inlinable public static var getAsyncNotifValue: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0011) }
    @inlinable public static var callWithRPCArg: SMCFunctionID { SMCFunctionID(rawValue: 0x3200_0012) }
    @inlinable public static var callWithRegdArg: SMCFunctionID { SMCFunctionID(rawValue: 0x3200_0013) }
    @inlinable public static var getProtmemConfig: SMCFunctionID { SMCFunctionID(rawValue: 0xB200_0014) }

    // Arm architecture calls answered by the platform (SMCCC 1.1+).
    @inlinable public static var smcccVersion: SMCFunctionID { SMCFunctionID(rawValue: 0x8000_0000) }
    @inlinable public static var smcccArchFeatures: SMCFunctionID { SMCFunctionID(rawValue: 0x8000_0001) }
    // Arm TRNG (DEN0098), Standard Secure Service owner.
    @inlinable public static var trngVersion: SMCFunctionID { SMCFunctionID(rawValue: 0x8400_0050) }
    @inlinable public static var trngFeatures: SMCFunctionID { SMCFunctionID(rawValue: 0x8400_0051) }
    @inlinable public static var trngGetUUID: SMCFunctionID { SMCFunctionID(rawValue: 0x8400_0052) }
    @inlinable public static var trngRND32: SMCFunctionID { SMCFunctionID(rawValue: 0x8400_0053) }
    @inlinable public static var trngRND64: SMCFunctionID { SMCFunctionID(rawValue: 0xC400_0053) }

    /// OP-TEE / SMCCC name of a known id, or nil.
    public var name: String? { Self.names[rawValue] }

    static let names: [UInt32: String] = [
        0xBF00_FF00: "OPTEE_SMC_CALLS_COUNT", 0xBF00_FF01: "OPTEE_SMC_CALLS_UID",
        0xBF00_FF03: "OPTEE_SMC_CALLS_REVISION", 0xB200_0000: "OPTEE_SMC_CALL_GET_OS_UUID",
        0xB200_0001: "OPTEE_SMC_CALL_GET_OS_REVISION", 0x3200_0003: "OPTEE_SMC_CALL_RETURN_FROM_RPC",
        0x3200_0004: "OPTEE_SMC_CALL_WITH_ARG", 0xB200_0007: "OPTEE_SMC_GET_SHM_CONFIG",
        0xB200_0008: "OPTEE_SMC_L2CC_MUTEX", 0xB200_0009: "OPTEE_SMC_EXCHANGE_CAPABILITIES",
        0xB200_000A: "OPTEE_SMC_DISABLE_SHM_CACHE", 0xB200_000B: "OPTEE_SMC_ENABLE_SHM_CACHE",
        0xB200_000C: "OPTEE_SMC_BOOT_SECONDARY", 0xB200_000D: "OPTEE_SMC_VM_CREATED",
        0xB200_000E: "OPTEE_SMC_VM_DESTROYED", 0xB200_000F: "OPTEE_SMC_GET_THREAD_COUNT",
        0xB200_0010: "OPTEE_SMC_ENABLE_ASYNC_NOTIF", 0xB200_0011: "OPTEE_SMC_GET_ASYNC_NOTIF_VALUE",
        0x3200_0012: "OPTEE_SMC_CALL_WITH_RPC_ARG", 0x3200_0013: "OPTEE_SMC_CALL_WITH_REGD_ARG",
        0xB200_0014: "OPTEE_SMC_GET_PROTMEM_CONFIG",
        0x8000_0000: "SMCCC_VERSION", 0x8000_0001: "SMCCC_ARCH_FEATURES",
        0x8400_0050: "TRNG_VERSION", 0x8400_0051: "TRNG_FEATURES", 0x8400_0052: "TRNG_GET_UUID",
        0x8400_0053: "TRNG_RND32", 0xC400_0053: "TRNG_RND64",
    ]

    public var description: String { name ?? hex(rawValue) }
}

/// OPTEE_SMC_RETURN_* values in a0 after an OP-TEE call, including RPC requests.
public struct SMCReturn: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable public static var ok: SMCReturn { SMCReturn(rawValue: 0) }
    @inlinable public static var ethreadLimit: SMCReturn { SMCReturn(rawValue: 1) }
    @inlinable public static var ebusy: SMCReturn { SMCReturn(rawValue: 2) }
    @inlinable public static var eresume: SMCReturn { SMCReturn(rawValue: 3) }
    @inlinable public static var ebadaddr: SMCReturn { SMCReturn(rawValue: 4) }
    @inlinable public static var ebadcmd: SMCReturn { SMCReturn(rawValue: 5) }
    @inlinable public static var enomem: SMCReturn { SMCReturn(rawValue: 6) }
    @inlinable public static var enotavail: SMCReturn { SMCReturn(rawValue: 7) }
    @inlinable public static var unknownFunction: SMCReturn { SMCReturn(rawValue: 0xFFFF_FFFF) }
    @inlinable public static var rpcPrefix: UInt32 { 0xFFFF_0000 }

    /// An RPC request: `(x & 0xFFFF0000) == 0xFFFF0000 && x != 0xFFFFFFFF`.
    @inlinable public var isRPC: Bool { rawValue != 0xFFFF_FFFF && rawValue & 0xFFFF_0000 == 0xFFFF_0000 }
    /// The RPC function when this is an RPC request.
    @inlinable public var rpcFunction: RPCFunction? { isRPC ? RPCFunction(rawValue: rawValue & 0xFFFF) : nil }
    /// The return code asking the normal world to serve `function`.
    @inlinable public static func rpc(_ function: RPCFunction) -> SMCReturn { SMCReturn(rawValue: rpcPrefix | function.rawValue) }

    /// OP-TEE name, or nil when unknown.
    public var name: String? {
        switch rawValue {
        case 0: "OPTEE_SMC_RETURN_OK"
        case 1: "OPTEE_SMC_RETURN_ETHREAD_LIMIT"
        case 2: "OPTEE_SMC_RETURN_EBUSY"
        case 3: "OPTEE_SMC_RETURN_ERESUME"
        case 4: "OPTEE_SMC_RETURN_EBADADDR"
        case 5: "OPTEE_SMC_RETURN_EBADCMD"
        case 6: "OPTEE_SMC_RETURN_ENOMEM"
        case 7: "OPTEE_SMC_RETURN_ENOTAVAIL"
        case 0xFFFF_0000: "OPTEE_SMC_RETURN_RPC_ALLOC"
        case 0xFFFF_0002: "OPTEE_SMC_RETURN_RPC_FREE"
        case 0xFFFF_0004: "OPTEE_SMC_RETURN_RPC_FOREIGN_INTR"
        case 0xFFFF_0005: "OPTEE_SMC_RETURN_RPC_CMD"
        case 0xFFFF_FFFF: "OPTEE_SMC_RETURN_UNKNOWN_FUNCTION"
        default: nil
        }
    }
    public var description: String { name ?? hex(rawValue) }
}

/// OPTEE_SMC_RPC_FUNC_* : what an RPC return asks of the normal world.
public struct RPCFunction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// a1 = size; reply a1:a2 = address, a4:a5 = cookie.
    @inlinable public static var alloc: RPCFunction { RPCFunction(rawValue: 0) }
    /// a1:a2 = cookie to free.
    @inlinable public static var free: RPCFunction { RPCFunction(rawValue: 2) }
    /// No data: take the foreign interrupt, then resume.
    @inlinable public static var foreignInterrupt: RPCFunction { RPCFunction(rawValue: 4) }
    /// a1:a2 = cookie of the shm holding an RPC `optee_msg_arg`.
    @inlinable public static var cmd: RPCFunction { RPCFunction(rawValue: 5) }
    /// OP-TEE name, or nil when unknown.
    public var name: String? {
        switch rawValue {
        case 0: "OPTEE_SMC_RPC_FUNC_ALLOC"
        case 2: "OPTEE_SMC_RPC_FUNC_FREE"
        case 4: "OPTEE_SMC_RPC_FUNC_FOREIGN_INTR"
        case 5: "OPTEE_SMC_RPC_FUNC_CMD"
        default: nil
        }
    }
    public var description: String { name ?? hex(rawValue) }
}

/// OPTEE_SMC_SEC_CAP_* bits returned by EXCHANGE_CAPABILITIES in a1.
public struct SecureCapabilities: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let haveReservedSHM = SecureCapabilities(rawValue: 1 << 0)
    public static let unregisteredSHM = SecureCapabilities(rawValue: 1 << 1)
    public static let dynamicSHM = SecureCapabilities(rawValue: 1 << 2)
    public static let virtualization = SecureCapabilities(rawValue: 1 << 3)
    public static let memrefNull = SecureCapabilities(rawValue: 1 << 4)
    public static let asyncNotif = SecureCapabilities(rawValue: 1 << 5)
    public static let rpcArg = SecureCapabilities(rawValue: 1 << 6)
    public static let rpmbProbe = SecureCapabilities(rawValue: 1 << 7)
    public static let protmem = SecureCapabilities(rawValue: 1 << 8)
    public static let dynamicProtmem = SecureCapabilities(rawValue: 1 << 9)
}

/// OPTEE_SMC_NSEC_CAP_* bits passed to EXCHANGE_CAPABILITIES in a1.
public struct NonSecureCapabilities: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let uniprocessor = NonSecureCapabilities(rawValue: 1 << 0)
}

/// OP-TEE identity values returned by the UID/revision fast calls.
public enum OPTEEIdentity {
    /// OPTEE_MSG_UID_0..3 (CALLS_UID), API UID 384fb3e0-e7f8-11e3-af63-0002a5d5c51b.
    public static let apiUID: (UInt32, UInt32, UInt32, UInt32) = (0x384F_B3E0, 0xE7F8_11E3, 0xAF63_0002, 0xA5D5_C51B)
    /// OPTEE_MSG_OS_OPTEE_UUID_0..3 (GET_OS_UUID), 486178e0-e7f8-11e3-bc5e-0002a5d5c51b.
    public static let osUUID: (UInt32, UInt32, UInt32, UInt32) = (0x4861_78E0, 0xE7F8_11E3, 0xBC5E_0002, 0xA5D5_C51B)
    /// OPTEE_MSG_REVISION_MAJOR / MINOR (CALLS_REVISION).
    @inlinable public static var msgRevisionMajor: UInt32 { 2 }
    @inlinable public static var msgRevisionMinor: UInt32 { 0 }
    /// CFG_OPTEE_REVISION_MAJOR / MINOR (GET_OS_REVISION).
    @inlinable public static var osRevisionMajor: UInt32 { 4 }
    @inlinable public static var osRevisionMinor: UInt32 { 10 }
    /// THREAD_RPC_MAX_NUM_PARAMS: params in the pre-allocated RPC argument (EXCHANGE_CAPABILITIES a3).
    @inlinable public static var rpcMaxNumParams: UInt32 { 4 }
    /// OPTEE_SMC_SHM_CACHED: a3 of CALL_WITH_ARG.
    @inlinable public static var shmCached: UInt32 { 1 }
    /// OPTEE_SMC_ASYNC_NOTIF_VALID / PENDING bits of GET_ASYNC_NOTIF_VALUE a2.
    @inlinable public static var asyncNotifValid: UInt32 { 1 }
    @inlinable public static var asyncNotifPending: UInt32 { 2 }
    /// OPTEE_SMC_ASYNC_NOTIF_VALUE_DO_BOTTOM_HALF.
    @inlinable public static var asyncNotifValueDoBottomHalf: UInt32 { 0 }
}
