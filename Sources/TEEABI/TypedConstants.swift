/// Typed forms of the remaining reference constants: SMCCC encoding fields, SMC call
/// argument values, protected-memory uses, RPC sub-codes, GP client param types and
/// GP/libteec miscellany. Each mirrors one OP-TEE / GP header name (given in its comment).

extension SMCFunctionID {
    /// OPTEE_SMC_FAST_CALL: bit 31.
    public static let fastCallBit: UInt32 = 0x8000_0000
    /// OPTEE_SMC_STD_CALL: a yielding call has bit 31 clear.
    public static let stdCallBits: UInt32 = 0
    /// OPTEE_SMC_64: bit 30.
    public static let smc64Bit: UInt32 = 0x4000_0000
    /// OPTEE_SMC_32: bit 30 clear.
    public static let smc32Bits: UInt32 = 0
    /// OPTEE_SMC_OWNER_MASK (applied after the shift).
    public static let ownerMask: UInt32 = 0x3F
    /// OPTEE_SMC_OWNER_SHIFT.
    public static let ownerShift: UInt32 = 24
    /// OPTEE_SMC_FUNC_MASK.
    public static let functionMask: UInt32 = 0xFFFF
}

extension SMCReturn {
    /// OPTEE_SMC_RETURN_RPC_PREFIX_MASK.
    public static let rpcPrefixMask: UInt32 = 0xFFFF_0000
    /// OPTEE_SMC_RETURN_RPC_FUNC_MASK.
    public static let rpcFunctionMask: UInt32 = 0x0000_FFFF
    /// OPTEE_SMC_RETURN_RPC_ALLOC.
    public static let rpcAlloc = SMCReturn.rpc(.alloc)
    /// OPTEE_SMC_RETURN_RPC_FREE.
    public static let rpcFree = SMCReturn.rpc(.free)
    /// OPTEE_SMC_RETURN_RPC_FOREIGN_INTR.
    public static let rpcForeignInterrupt = SMCReturn.rpc(.foreignInterrupt)
    /// OPTEE_SMC_RETURN_RPC_CMD.
    public static let rpcCmd = SMCReturn.rpc(.cmd)
}

/// OPTEE_SMC_L2CC_MUTEX_*: a1 of OPTEE_SMC_L2CC_MUTEX.
public enum L2CCMutexOperation: UInt32, Sendable, CaseIterable {
    /// OPTEE_SMC_L2CC_MUTEX_GET_ADDR.
    case getAddress = 0
    /// OPTEE_SMC_L2CC_MUTEX_SET_ADDR.
    case setAddress = 1
    /// OPTEE_SMC_L2CC_MUTEX_ENABLE.
    case enable = 2
    /// OPTEE_SMC_L2CC_MUTEX_DISABLE.
    case disable = 3
}

/// OPTEE_MSG_PROTMEM_*: the use of protected memory in the PROTMEM commands.
public enum ProtmemUse: UInt32, Sendable, CaseIterable {
    /// OPTEE_MSG_PROTMEM_RESERVED.
    case reserved = 0
    /// OPTEE_MSG_PROTMEM_SECURE_VIDEO_PLAY.
    case secureVideoPlay = 1
    /// OPTEE_MSG_PROTMEM_TRUSTED_UI.
    case trustedUI = 2
    /// OPTEE_MSG_PROTMEM_SECURE_VIDEO_RECORD.
    case secureVideoRecord = 3
}

extension MsgAttr {
    /// OPTEE_MSG_ATTR_CACHE_PREDEFINED: the cache bits of normal shared memory.
    public static let cachePredefined: UInt8 = 0
}

extension MsgParamType {
    /// OPTEE_MSG_ATTR_TYPE_FMEM_INPUT: RMEM_INPUT on the FF-A conduit.
    public static let fmemInput = MsgParamType.rmemInput
    /// OPTEE_MSG_ATTR_TYPE_FMEM_OUTPUT: RMEM_OUTPUT on the FF-A conduit.
    public static let fmemOutput = MsgParamType.rmemOutput
    /// OPTEE_MSG_ATTR_TYPE_FMEM_INOUT: RMEM_INOUT on the FF-A conduit.
    public static let fmemInout = MsgParamType.rmemInout
}

extension MsgParam {
    /// OPTEE_MSG_FMEM_INVALID_GLOBAL_ID: fmem.global_id naming no memory.
    public static let fmemInvalidGlobalID: UInt64 = 0xFFFF_FFFF_FFFF_FFFF
}

/// OPTEE_RPC_I2C_TRANSFER_*: value[0].c of OPTEE_RPC_CMD_I2C_TRANSFER.
public enum RPCI2CTransfer: UInt64, Sendable, CaseIterable {
    /// OPTEE_RPC_I2C_TRANSFER_RD.
    case read = 0
    /// OPTEE_RPC_I2C_TRANSFER_WR.
    case write = 1
    /// OPTEE_RPC_I2C_FLAGS_TEN_BIT: ten-bit addressing flag in value[1].a.
    public static let flagTenBit: UInt64 = 1 << 0
}

/// OPTEE_RPC_RPMB_*: device type in value[0].a of OPTEE_RPC_CMD_RPMB_PROBE_NEXT.
public enum RPCRPMBDevice: UInt64, Sendable, CaseIterable {
    /// OPTEE_RPC_RPMB_EMMC.
    case emmc = 0
}

/// OPTEE_RPC_SOCKET_* / OPTEE_MRC_SOCKET_*: value[0].a of OPTEE_RPC_CMD_SOCKET.
public enum RPCSocketOperation: UInt64, Sendable, CaseIterable {
    case open = 0, close = 1, closeAll = 2, send = 3, recv = 4, ioctl = 5
    /// OPTEE_RPC_SOCKET_TIMEOUT_NONBLOCKING.
    public static let timeoutNonBlocking: UInt32 = 0
    /// OPTEE_RPC_SOCKET_TIMEOUT_BLOCKING.
    public static let timeoutBlocking: UInt32 = 0xFFFF_FFFF
}

/// OPTEE_RPC_SUPP_PLUGIN_* / OPTEE_INVOKE_PLUGIN: value[0].a of OPTEE_RPC_CMD_SUPP_PLUGIN.
public enum RPCPluginOperation: UInt64, Sendable, CaseIterable {
    /// OPTEE_RPC_SUPP_PLUGIN_INVOKE.
    case invoke = 0
}

extension TEEResult {
    /// TEE_ERROR_TIMEOUT.
    @inlinable public static var timeout: TEEResult { TEEResult(rawValue: 0xFFFF_3001) }
    /// TEE_ERROR_DEFER_DRIVER_INIT (OP-TEE implementation-specific).
    @inlinable public static var deferDriverInit: TEEResult { TEEResult(rawValue: 0x8000_0000) }
    /// TEE_ERROR_NODE_DISABLED (OP-TEE implementation-specific).
    @inlinable public static var nodeDisabled: TEEResult { TEEResult(rawValue: 0x8000_0001) }
}

/// TEEC_* parameter types of the GP client API (`TEEC_PARAM_TYPES` nibbles), which add the
/// registered-memory kinds that never cross to the TA as such.
public enum TEECParamType: UInt8, Sendable, CaseIterable {
    case none = 0, valueInput = 1, valueOutput = 2, valueInout = 3
    case memrefTempInput = 5, memrefTempOutput = 6, memrefTempInout = 7
    /// TEEC_MEMREF_WHOLE: the whole registered shm, direction from its flags.
    case memrefWhole = 0xC
    case memrefPartialInput = 0xD, memrefPartialOutput = 0xE, memrefPartialInout = 0xF
}

/// TEEC_MEM_*: flags of a TEEC_SharedMemory.
public struct TEECMemoryFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    /// Flags from their bits.
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// TEEC_MEM_INPUT.
    @inlinable public static var input: TEECMemoryFlags { TEECMemoryFlags(rawValue: 1) }
    /// TEEC_MEM_OUTPUT.
    @inlinable public static var output: TEECMemoryFlags { TEECMemoryFlags(rawValue: 2) }
}

/// GP and libteec constants that are not codes: API versions, limits, handles.
public enum GPConstants {
    /// TEE_NUM_PARAMS / TEEC_CONFIG_PAYLOAD_REF_COUNT: params of one GP operation.
    public static let numParams = 4
    /// TEEC_CONFIG_SHAREDMEM_MAX_SIZE (ULONG_MAX on LP64).
    public static let sharedMemoryMaxSize: UInt64 = 0xFFFF_FFFF_FFFF_FFFF
    /// TEE_CORE_API_MAJOR_VERSION.
    public static let coreAPIMajor: UInt32 = 1
    /// TEE_CORE_API_MINOR_VERSION.
    public static let coreAPIMinor: UInt32 = 3
    /// TEE_CORE_API_MAINTENANCE_VERSION.
    public static let coreAPIMaintenance: UInt32 = 1
    /// TEE_CORE_API_VERSION: major << 24 | minor << 16 | maintenance << 8.
    public static let coreAPIVersion: UInt32 = coreAPIMajor << 24 | coreAPIMinor << 16 | coreAPIMaintenance << 8
    /// TEE_HANDLE_NULL.
    public static let handleNull: UInt32 = 0
    /// TEE_TIMEOUT_INFINITE.
    public static let timeoutInfinite: UInt32 = 0xFFFF_FFFF
    /// TEEC_MAX_DEV_SEQ / MAX_DEV_SEQ: libteec and tee-supplicant try devices 0..9.
    public static let maxDeviceSequence = 10
    /// SHM_FLAG_BUFFER_ALLOCED: libteec's TEEC_SharedMemory.imp.flags bit.
    public static let shmFlagBufferAllocated: UInt32 = 1 << 0
    /// SHM_FLAG_SHADOW_BUFFER_ALLOCED: libteec's TEEC_SharedMemory.imp.flags bit.
    public static let shmFlagShadowBufferAllocated: UInt32 = 1 << 1
}

extension MsgArg {
    /// Byte offset of the RPC argument that follows a call argument of `n` params
    /// (OPTEE_SMC_CALL_WITH_RPC_ARG / _REGD_ARG): OPTEE_MSG_GET_ARG_SIZE(n).
    @inlinable public static func rpcArgOffset(callParams n: Int) -> Int { size(numParams: n) }
    /// Size reserved for that RPC argument: OPTEE_MSG_GET_ARG_SIZE(THREAD_RPC_MAX_NUM_PARAMS) = 160.
    public static let rpcArgSize = size(numParams: Int(OPTEEIdentity.rpcMaxNumParams))
}
