/// Conformance: every reference constant of the fixture against the generated catalog and
/// against the typed Swift definitions that the rest of vtee uses.
import Testing
import TEEABI

/// Every fixture name mapped to the value of the typed Swift definition that implements it.
/// Written by hand from the Swift API, independently of the generated catalog.
let typedConstants: [String: UInt64] = {
    var t: [String: UInt64] = [:]
    func u<T: BinaryInteger>(_ v: T) -> UInt64 { UInt64(v) }
    func id(_ f: SMCFunctionID) -> UInt64 { UInt64(f.rawValue) }
    func fn(_ f: SMCFunctionID) -> UInt64 { UInt64(f.function) }

    // smc_encoding
    t["OPTEE_SMC_32"] = u(SMCFunctionID.smc32Bits); t["OPTEE_SMC_64"] = u(SMCFunctionID.smc64Bit)
    t["OPTEE_SMC_FAST_CALL"] = u(SMCFunctionID.fastCallBit); t["OPTEE_SMC_STD_CALL"] = u(SMCFunctionID.stdCallBits)
    t["OPTEE_SMC_OWNER_MASK"] = u(SMCFunctionID.ownerMask); t["OPTEE_SMC_OWNER_SHIFT"] = u(SMCFunctionID.ownerShift)
    t["OPTEE_SMC_FUNC_MASK"] = u(SMCFunctionID.functionMask)
    t["OPTEE_SMC_OWNER_ARCH"] = u(SMCOwner.arch.rawValue); t["OPTEE_SMC_OWNER_CPU"] = u(SMCOwner.cpu.rawValue)
    t["OPTEE_SMC_OWNER_SIP"] = u(SMCOwner.sip.rawValue); t["OPTEE_SMC_OWNER_OEM"] = u(SMCOwner.oem.rawValue)
    t["OPTEE_SMC_OWNER_STANDARD"] = u(SMCOwner.standard.rawValue)
    t["OPTEE_SMC_OWNER_TRUSTED_APP"] = u(SMCOwner.trustedApp.rawValue)
    t["OPTEE_SMC_OWNER_TRUSTED_OS"] = u(SMCOwner.trustedOS.rawValue)
    t["OPTEE_SMC_OWNER_TRUSTED_OS_OPTEED"] = u(SMCOwner.trustedOSOpteed.rawValue)
    t["OPTEE_SMC_OWNER_TRUSTED_OS_API"] = u(SMCOwner.trustedOSAPI.rawValue)

    // smc_function_ids: full ids and function numbers (FUNCID / MSG_FUNCID).
    let ids: [(String, String, SMCFunctionID)] = [
        ("CALLS_COUNT", "OPTEE_SMC_CALLS_COUNT", .callsCount), ("CALLS_UID", "OPTEE_SMC_CALLS_UID", .callsUID),
        ("CALLS_REVISION", "OPTEE_SMC_CALLS_REVISION", .callsRevision),
        ("GET_OS_UUID", "OPTEE_SMC_CALL_GET_OS_UUID", .getOSUUID),
        ("GET_OS_REVISION", "OPTEE_SMC_CALL_GET_OS_REVISION", .getOSRevision),
        ("CALL_WITH_ARG", "OPTEE_SMC_CALL_WITH_ARG", .callWithArg),
        ("CALL_WITH_RPC_ARG", "OPTEE_SMC_CALL_WITH_RPC_ARG", .callWithRPCArg),
        ("CALL_WITH_REGD_ARG", "OPTEE_SMC_CALL_WITH_REGD_ARG", .callWithRegdArg),
        ("GET_SHM_CONFIG", "OPTEE_SMC_GET_SHM_CONFIG", .getSHMConfig),
        ("L2CC_MUTEX", "OPTEE_SMC_L2CC_MUTEX", .l2ccMutex),
        ("EXCHANGE_CAPABILITIES", "OPTEE_SMC_EXCHANGE_CAPABILITIES", .exchangeCapabilities),
        ("DISABLE_SHM_CACHE", "OPTEE_SMC_DISABLE_SHM_CACHE", .disableSHMCache),
        ("ENABLE_SHM_CACHE", "OPTEE_SMC_ENABLE_SHM_CACHE", .enableSHMCache),
        ("BOOT_SECONDARY", "OPTEE_SMC_BOOT_SECONDARY", .bootSecondary),
        ("VM_CREATED", "OPTEE_SMC_VM_CREATED", .vmCreated), ("VM_DESTROYED", "OPTEE_SMC_VM_DESTROYED", .vmDestroyed),
        ("GET_THREAD_COUNT", "OPTEE_SMC_GET_THREAD_COUNT", .getThreadCount),
        ("ENABLE_ASYNC_NOTIF", "OPTEE_SMC_ENABLE_ASYNC_NOTIF", .enableAsyncNotif),
        ("GET_ASYNC_NOTIF_VALUE", "OPTEE_SMC_GET_ASYNC_NOTIF_VALUE", .getAsyncNotifValue),
        ("GET_PROTMEM_CONFIG", "OPTEE_SMC_GET_PROTMEM_CONFIG", .getProtmemConfig),
        ("RETURN_FROM_RPC", "OPTEE_SMC_CALL_RETURN_FROM_RPC", .returnFromRPC),
    ]
    for (short, full, f) in ids {
        t[full] = id(f)
        t["OPTEE_SMC_FUNCID_" + short] = fn(f)
        t["OPTEE_MSG_FUNCID_" + short] = fn(f)   // only some exist in the fixture; extras are unused
    }

    // smc_call_args
    t["OPTEE_SMC_SHM_CACHED"] = u(OPTEEIdentity.shmCached)
    t["OPTEE_SMC_L2CC_MUTEX_GET_ADDR"] = u(L2CCMutexOperation.getAddress.rawValue)
    t["OPTEE_SMC_L2CC_MUTEX_SET_ADDR"] = u(L2CCMutexOperation.setAddress.rawValue)
    t["OPTEE_SMC_L2CC_MUTEX_ENABLE"] = u(L2CCMutexOperation.enable.rawValue)
    t["OPTEE_SMC_L2CC_MUTEX_DISABLE"] = u(L2CCMutexOperation.disable.rawValue)
    t["OPTEE_SMC_ASYNC_NOTIF_VALID"] = u(OPTEEIdentity.asyncNotifValid)
    t["OPTEE_SMC_ASYNC_NOTIF_PENDING"] = u(OPTEEIdentity.asyncNotifPending)
    t["OPTEE_SMC_ASYNC_NOTIF_VALUE_DO_BOTTOM_HALF"] = u(OPTEEIdentity.asyncNotifValueDoBottomHalf)

    // smc_return_codes
    t["OPTEE_SMC_RETURN_RPC_PREFIX_MASK"] = u(SMCReturn.rpcPrefixMask)
    t["OPTEE_SMC_RETURN_RPC_PREFIX"] = u(SMCReturn.rpcPrefix)
    t["OPTEE_SMC_RETURN_RPC_FUNC_MASK"] = u(SMCReturn.rpcFunctionMask)
    t["OPTEE_SMC_RPC_FUNC_ALLOC"] = u(RPCFunction.alloc.rawValue)
    t["OPTEE_SMC_RPC_FUNC_FREE"] = u(RPCFunction.free.rawValue)
    t["OPTEE_SMC_RPC_FUNC_FOREIGN_INTR"] = u(RPCFunction.foreignInterrupt.rawValue)
    t["OPTEE_SMC_RPC_FUNC_CMD"] = u(RPCFunction.cmd.rawValue)
    t["OPTEE_SMC_RETURN_RPC_ALLOC"] = u(SMCReturn.rpc(.alloc).rawValue)
    t["OPTEE_SMC_RETURN_RPC_FREE"] = u(SMCReturn.rpc(.free).rawValue)
    t["OPTEE_SMC_RETURN_RPC_FOREIGN_INTR"] = u(SMCReturn.rpcForeignInterrupt.rawValue)
    t["OPTEE_SMC_RETURN_RPC_CMD"] = u(SMCReturn.rpcCmd.rawValue)
    t["OPTEE_SMC_RETURN_UNKNOWN_FUNCTION"] = u(SMCReturn.unknownFunction.rawValue)
    t["OPTEE_SMC_RETURN_OK"] = u(SMCReturn.ok.rawValue)
    t["OPTEE_SMC_RETURN_ETHREAD_LIMIT"] = u(SMCReturn.ethreadLimit.rawValue)
    t["OPTEE_SMC_RETURN_EBUSY"] = u(SMCReturn.ebusy.rawValue)
    t["OPTEE_SMC_RETURN_ERESUME"] = u(SMCReturn.eresume.rawValue)
    t["OPTEE_SMC_RETURN_EBADADDR"] = u(SMCReturn.ebadaddr.rawValue)
    t["OPTEE_SMC_RETURN_EBADCMD"] = u(SMCReturn.ebadcmd.rawValue)
    t["OPTEE_SMC_RETURN_ENOMEM"] = u(SMCReturn.enomem.rawValue)
    t["OPTEE_SMC_RETURN_ENOTAVAIL"] = u(SMCReturn.enotavail.rawValue)

    // smc_capabilities
    t["OPTEE_SMC_NSEC_CAP_UNIPROCESSOR"] = u(NonSecureCapabilities.uniprocessor.rawValue)
    let caps: [(String, SecureCapabilities)] = [
        ("HAVE_RESERVED_SHM", .haveReservedSHM), ("UNREGISTERED_SHM", .unregisteredSHM), ("DYNAMIC_SHM", .dynamicSHM),
        ("VIRTUALIZATION", .virtualization), ("MEMREF_NULL", .memrefNull), ("ASYNC_NOTIF", .asyncNotif),
        ("RPC_ARG", .rpcArg), ("RPMB_PROBE", .rpmbProbe), ("PROTMEM", .protmem), ("DYNAMIC_PROTMEM", .dynamicProtmem),
    ]
    for (n, c) in caps { t["OPTEE_SMC_SEC_CAP_" + n] = u(c.rawValue) }

    // msg_commands
    let cmds: [(String, MsgCommand)] = [
        ("OPEN_SESSION", .openSession), ("INVOKE_COMMAND", .invokeCommand), ("CLOSE_SESSION", .closeSession),
        ("CANCEL", .cancel), ("REGISTER_SHM", .registerSHM), ("UNREGISTER_SHM", .unregisterSHM),
        ("DO_BOTTOM_HALF", .doBottomHalf), ("STOP_ASYNC_NOTIF", .stopAsyncNotif), ("LEND_PROTMEM", .lendProtmem),
        ("RECLAIM_PROTMEM", .reclaimProtmem), ("GET_PROTMEM_CONFIG", .getProtmemConfig), ("ASSIGN_PROTMEM", .assignProtmem),
    ]
    for (n, c) in cmds { t["OPTEE_MSG_CMD_" + n] = u(c.rawValue) }
    t["OPTEE_MSG_PROTMEM_RESERVED"] = u(ProtmemUse.reserved.rawValue)
    t["OPTEE_MSG_PROTMEM_SECURE_VIDEO_PLAY"] = u(ProtmemUse.secureVideoPlay.rawValue)
    t["OPTEE_MSG_PROTMEM_TRUSTED_UI"] = u(ProtmemUse.trustedUI.rawValue)
    t["OPTEE_MSG_PROTMEM_SECURE_VIDEO_RECORD"] = u(ProtmemUse.secureVideoRecord.rawValue)

    // msg_attr
    for ty in MsgParamType.allCases { t[ty.name] = u(ty.rawValue) }
    t["OPTEE_MSG_ATTR_TYPE_FMEM_INPUT"] = u(MsgParamType.fmemInput.rawValue)
    t["OPTEE_MSG_ATTR_TYPE_FMEM_OUTPUT"] = u(MsgParamType.fmemOutput.rawValue)
    t["OPTEE_MSG_ATTR_TYPE_FMEM_INOUT"] = u(MsgParamType.fmemInout.rawValue)
    t["OPTEE_MSG_ATTR_TYPE_MASK"] = MsgAttr.typeMask
    t["OPTEE_MSG_ATTR_META"] = MsgAttr.metaBit
    t["OPTEE_MSG_ATTR_NONCONTIG"] = MsgAttr.noncontigBit
    t["OPTEE_MSG_ATTR_CACHE_SHIFT"] = MsgAttr.cacheShift
    t["OPTEE_MSG_ATTR_CACHE_MASK"] = MsgAttr.cacheMask
    t["OPTEE_MSG_ATTR_CACHE_PREDEFINED"] = u(MsgAttr.cachePredefined)
    t["OPTEE_MSG_NONCONTIG_PAGE_SIZE"] = u(PageList.pageSize)
    t["OPTEE_MSG_FMEM_INVALID_GLOBAL_ID"] = MsgParam.fmemInvalidGlobalID
    t["OPTEE_MSG_MAX_NUM_PARAMS"] = u(MsgArg.maxNumParams)

    // msg_origin
    for (n, o) in [("API", TEEOrigin.api), ("COMMS", .comms), ("TEE", .tee), ("TRUSTED_APP", .trustedApp)] {
        t["TEE_ORIGIN_" + n] = u(o.rawValue); t["TEEC_ORIGIN_" + n] = u(o.rawValue)
    }

    // rpc_commands
    let rpc: [(String, RPCCommand)] = [
        ("LOAD_TA", .loadTA), ("RPMB", .rpmb), ("FS", .fs), ("GET_TIME", .getTime), ("NOTIFICATION", .notification),
        ("SUSPEND", .suspend), ("SHM_ALLOC", .shmAlloc), ("SHM_FREE", .shmFree), ("SQL_FS_RESERVED", .sqlFSReserved),
        ("GPROF", .gprof), ("SOCKET", .socket), ("FTRACE", .ftrace), ("SUPP_PLUGIN", .suppPlugin),
        ("BENCH_REG", .benchReg), ("I2C_TRANSFER", .i2cTransfer), ("RPMB_PROBE_RESET", .rpmbProbeReset),
        ("RPMB_PROBE_NEXT", .rpmbProbeNext), ("RPMB_FRAMES", .rpmbFrames),
    ]
    for (n, c) in rpc { t["OPTEE_RPC_CMD_" + n] = u(c.rawValue); t["OPTEE_MSG_RPC_CMD_" + n] = u(c.rawValue) }
    t["OPTEE_MSG_RPC_CMD_PLUGIN"] = u(RPCCommand.suppPlugin.rawValue)
    t["OPTEE_RPC_NOTIFICATION_WAIT"] = RPCNotification.wait.rawValue
    t["OPTEE_RPC_NOTIFICATION_SEND"] = RPCNotification.send.rawValue
    t["OPTEE_RPC_SHM_TYPE_APPL"] = RPCShmType.application.rawValue
    t["OPTEE_RPC_SHM_TYPE_KERNEL"] = RPCShmType.kernel.rawValue
    t["OPTEE_RPC_SHM_TYPE_GLOBAL"] = RPCShmType.global.rawValue
    t["OPTEE_RPC_I2C_TRANSFER_RD"] = RPCI2CTransfer.read.rawValue
    t["OPTEE_RPC_I2C_TRANSFER_WR"] = RPCI2CTransfer.write.rawValue
    t["OPTEE_RPC_I2C_FLAGS_TEN_BIT"] = RPCI2CTransfer.flagTenBit
    t["OPTEE_RPC_RPMB_EMMC"] = RPCRPMBDevice.emmc.rawValue
    let fsOps: [(String, RPCFSOperation)] = [
        ("OPEN", .open), ("CREATE", .create), ("CLOSE", .close), ("READ", .read), ("WRITE", .write),
        ("TRUNCATE", .truncate), ("REMOVE", .remove), ("RENAME", .rename), ("OPENDIR", .opendir),
        ("CLOSEDIR", .closedir), ("READDIR", .readdir),
    ]
    for (n, o) in fsOps { t["OPTEE_RPC_FS_" + n] = o.rawValue; t["OPTEE_MRF_" + n] = o.rawValue }
    let sockOps: [(String, RPCSocketOperation)] = [
        ("OPEN", .open), ("CLOSE", .close), ("CLOSE_ALL", .closeAll), ("SEND", .send), ("RECV", .recv), ("IOCTL", .ioctl),
    ]
    for (n, o) in sockOps { t["OPTEE_RPC_SOCKET_" + n] = o.rawValue; t["OPTEE_MRC_SOCKET_" + n] = o.rawValue }
    for p in ["OPTEE_RPC_SOCKET_", "OPTEE_MRC_SOCKET_"] {
        t[p + "TIMEOUT_NONBLOCKING"] = u(RPCSocketOperation.timeoutNonBlocking)
        t[p + "TIMEOUT_BLOCKING"] = u(RPCSocketOperation.timeoutBlocking)
    }
    t["OPTEE_RPC_SUPP_PLUGIN_INVOKE"] = RPCPluginOperation.invoke.rawValue
    t["OPTEE_INVOKE_PLUGIN"] = RPCPluginOperation.invoke.rawValue
    t["THREAD_RPC_MAX_NUM_PARAMS"] = u(OPTEEIdentity.rpcMaxNumParams)
    t["RPC_NUM_PARAMS"] = u(LinuxTEE.supplicantRecvParams)

    // tee_result_codes: every TEEResult static, by its TEE_ and TEEC_ names.
    let results: [(String, TEEResult)] = [
        ("SUCCESS", .success), ("ERROR_CORRUPT_OBJECT", .corruptObject), ("ERROR_CORRUPT_OBJECT_2", .corruptObject2),
        ("ERROR_STORAGE_NOT_AVAILABLE", .storageNotAvailable), ("ERROR_STORAGE_NOT_AVAILABLE_2", .storageNotAvailable2),
        ("ERROR_UNSUPPORTED_VERSION", .unsupportedVersion), ("ERROR_CIPHERTEXT_INVALID", .ciphertextInvalid),
        ("ERROR_GENERIC", .generic), ("ERROR_ACCESS_DENIED", .accessDenied), ("ERROR_CANCEL", .cancel),
        ("ERROR_ACCESS_CONFLICT", .accessConflict), ("ERROR_EXCESS_DATA", .excessData), ("ERROR_BAD_FORMAT", .badFormat),
        ("ERROR_BAD_PARAMETERS", .badParameters), ("ERROR_BAD_STATE", .badState), ("ERROR_ITEM_NOT_FOUND", .itemNotFound),
        ("ERROR_NOT_IMPLEMENTED", .notImplemented), ("ERROR_NOT_SUPPORTED", .notSupported), ("ERROR_NO_DATA", .noData),
        ("ERROR_OUT_OF_MEMORY", .outOfMemory), ("ERROR_BUSY", .busy), ("ERROR_COMMUNICATION", .communication),
        ("ERROR_SECURITY", .security), ("ERROR_SHORT_BUFFER", .shortBuffer), ("ERROR_EXTERNAL_CANCEL", .externalCancel),
        ("ERROR_TIMEOUT", .timeout), ("ERROR_OVERFLOW", .overflow), ("ERROR_TARGET_DEAD", .targetDead),
        ("ERROR_STORAGE_NO_SPACE", .storageNoSpace), ("ERROR_MAC_INVALID", .macInvalid),
        ("ERROR_SIGNATURE_INVALID", .signatureInvalid), ("ERROR_TIME_NOT_SET", .timeNotSet),
        ("ERROR_TIME_NEEDS_RESET", .timeNeedsReset), ("ERROR_DEFER_DRIVER_INIT", .deferDriverInit),
        ("ERROR_NODE_DISABLED", .nodeDisabled),
    ]
    for (n, r) in results { t["TEE_" + n] = u(r.rawValue); t["TEEC_" + n] = u(r.rawValue) }

    // gp_param_types
    let gp: [(String, GPParamType)] = [
        ("NONE", .none), ("VALUE_INPUT", .valueInput), ("VALUE_OUTPUT", .valueOutput), ("VALUE_INOUT", .valueInout),
        ("MEMREF_INPUT", .memrefInput), ("MEMREF_OUTPUT", .memrefOutput), ("MEMREF_INOUT", .memrefInout),
    ]
    for (n, p) in gp { t["TEE_PARAM_TYPE_" + n] = u(p.rawValue) }
    let teec: [(String, TEECParamType)] = [
        ("NONE", .none), ("VALUE_INPUT", .valueInput), ("VALUE_OUTPUT", .valueOutput), ("VALUE_INOUT", .valueInout),
        ("MEMREF_TEMP_INPUT", .memrefTempInput), ("MEMREF_TEMP_OUTPUT", .memrefTempOutput),
        ("MEMREF_TEMP_INOUT", .memrefTempInout), ("MEMREF_WHOLE", .memrefWhole),
        ("MEMREF_PARTIAL_INPUT", .memrefPartialInput), ("MEMREF_PARTIAL_OUTPUT", .memrefPartialOutput),
        ("MEMREF_PARTIAL_INOUT", .memrefPartialInout),
    ]
    for (n, p) in teec { t["TEEC_" + n] = u(p.rawValue) }
    t["TEE_NUM_PARAMS"] = u(GPConstants.numParams)
    t["TEEC_CONFIG_PAYLOAD_REF_COUNT"] = u(GPConstants.numParams)
    t["TEEC_CONFIG_SHAREDMEM_MAX_SIZE"] = GPConstants.sharedMemoryMaxSize
    t["TEEC_MEM_INPUT"] = u(TEECMemoryFlags.input.rawValue)
    t["TEEC_MEM_OUTPUT"] = u(TEECMemoryFlags.output.rawValue)

    // login_methods
    let logins: [(String, LoginMethod)] = [
        ("PUBLIC", .public), ("USER", .user), ("GROUP", .group), ("APPLICATION", .application),
        ("APPLICATION_USER", .applicationUser), ("APPLICATION_GROUP", .applicationGroup),
    ]
    for (n, l) in logins { t["OPTEE_MSG_LOGIN_" + n] = u(l.rawValue); t["TEE_LOGIN_" + n] = u(l.rawValue) }
    t["TEE_LOGIN_TRUSTED_APP"] = u(LoginMethod.trustedApp.rawValue)
    t["TEE_LOGIN_REE_KERNEL"] = u(LoginMethod.reeKernel.rawValue)
    let clientLogins: [(String, LoginMethod)] = [
        ("PUBLIC", LinuxTEE.Login.public), ("USER", LinuxTEE.Login.user), ("GROUP", LinuxTEE.Login.group),
        ("APPLICATION", LinuxTEE.Login.application), ("USER_APPLICATION", LinuxTEE.Login.userApplication),
        ("GROUP_APPLICATION", LinuxTEE.Login.groupApplication),
    ]
    for (n, l) in clientLogins { t["TEEC_LOGIN_" + n] = u(l.rawValue); t["TEE_IOCTL_LOGIN_" + n] = u(l.rawValue) }
    t["TEE_IOCTL_LOGIN_REE_KERNEL"] = u(LinuxTEE.Login.reeKernel.rawValue)
    t["TEE_IOCTL_LOGIN_REE_KERNEL_MIN"] = u(LinuxTEE.Login.reeKernelRange.lowerBound)
    t["TEE_IOCTL_LOGIN_REE_KERNEL_MAX"] = u(LinuxTEE.Login.reeKernelRange.upperBound)

    // linux_tee_ioctls
    t["TEE_IOC_MAGIC"] = u(LinuxTEE.iocMagic); t["TEE_IOC_BASE"] = u(LinuxTEE.iocBase)
    t["TEE_MAX_ARG_SIZE"] = u(LinuxTEE.maxArgSize)
    t["TEE_GEN_CAP_GP"] = u(LinuxTEE.GenericCapabilities.gp.rawValue)
    t["TEE_GEN_CAP_PRIVILEGED"] = u(LinuxTEE.GenericCapabilities.privileged.rawValue)
    t["TEE_GEN_CAP_REG_MEM"] = u(LinuxTEE.GenericCapabilities.registerMemory.rawValue)
    t["TEE_GEN_CAP_MEMREF_NULL"] = u(LinuxTEE.GenericCapabilities.memrefNull.rawValue)
    t["TEE_MEMREF_NULL"] = LinuxTEE.memrefNull
    t["TEE_IMPL_ID_OPTEE"] = u(LinuxTEE.ImplementationID.optee.rawValue)
    t["TEE_IMPL_ID_AMDTEE"] = u(LinuxTEE.ImplementationID.amdtee.rawValue)
    t["TEE_OPTEE_CAP_TZ"] = u(LinuxTEE.OPTEECapabilities.tz.rawValue)
    for i in LinuxTEE.Ioctl.allCases { if let n = i.name { t[n] = u(i.rawValue) } }
    for p in LinuxTEE.ParamType.allCases { t[p.name] = u(p.rawValue) }
    t["TEE_IOCTL_PARAM_ATTR_TYPE_MASK"] = LinuxTEE.ParamAttr.typeMask
    t["TEE_IOCTL_PARAM_ATTR_META"] = LinuxTEE.ParamAttr.metaBit
    t["TEE_IOCTL_PARAM_ATTR_MASK"] = LinuxTEE.ParamAttr.mask
    t["TEE_IOCTL_UUID_LEN"] = u(LinuxTEE.uuidLength)
    t["TEE_NUM_DEVICES"] = u(LinuxTEE.numDevices)
    t["TEE_UUID_NS_NAME_SIZE"] = u(LinuxTEE.uuidNamespaceNameSize)

    // uuid
    let api = OPTEEIdentity.apiUID, os = OPTEEIdentity.osUUID
    t["OPTEE_MSG_UID_0"] = u(api.0); t["OPTEE_MSG_UID_1"] = u(api.1); t["OPTEE_MSG_UID_2"] = u(api.2); t["OPTEE_MSG_UID_3"] = u(api.3)
    t["OPTEE_MSG_OS_OPTEE_UUID_0"] = u(os.0); t["OPTEE_MSG_OS_OPTEE_UUID_1"] = u(os.1)
    t["OPTEE_MSG_OS_OPTEE_UUID_2"] = u(os.2); t["OPTEE_MSG_OS_OPTEE_UUID_3"] = u(os.3)
    t["OPTEE_MSG_REVISION_MAJOR"] = u(OPTEEIdentity.msgRevisionMajor)
    t["OPTEE_MSG_REVISION_MINOR"] = u(OPTEEIdentity.msgRevisionMinor)
    t["CFG_OPTEE_REVISION_MAJOR"] = u(OPTEEIdentity.osRevisionMajor)
    t["CFG_OPTEE_REVISION_MINOR"] = u(OPTEEIdentity.osRevisionMinor)

    // gp_misc
    t["TEE_CORE_API_MAJOR_VERSION"] = u(GPConstants.coreAPIMajor)
    t["TEE_CORE_API_MINOR_VERSION"] = u(GPConstants.coreAPIMinor)
    t["TEE_CORE_API_MAINTENANCE_VERSION"] = u(GPConstants.coreAPIMaintenance)
    t["TEE_CORE_API_VERSION"] = u(GPConstants.coreAPIVersion)
    t["TEE_HANDLE_NULL"] = u(GPConstants.handleNull)
    t["TEE_TIMEOUT_INFINITE"] = u(GPConstants.timeoutInfinite)
    t["TEEC_MAX_DEV_SEQ"] = u(GPConstants.maxDeviceSequence)
    t["MAX_DEV_SEQ"] = u(GPConstants.maxDeviceSequence)
    t["SHM_FLAG_BUFFER_ALLOCED"] = u(GPConstants.shmFlagBufferAllocated)
    t["SHM_FLAG_SHADOW_BUFFER_ALLOCED"] = u(GPConstants.shmFlagShadowBufferAllocated)
    return t
}()

/// Fixture rows the catalog must leave out, and why (anything else must be in the catalog).
let expectedOmissions: Set<String> = [
    "OPTEE_SMC_RPC_FUNC_IRQ", "OPTEE_SMC_RETURN_RPC_IRQ", "OPTEE_SMC_SEC_CAP_HAVE_RESERVERED_SHM",
    "OPTEE_MSG_ATTR_FRAGMENT", "OPTEE_MSG_PAGE_SIZE", "OPTEE_MSG_RPC_CMD_GET_TIME", "OPTEE_MSG_RPC_CMD_WAIT_QUEUE",
    "OPTEE_MSG_RPC_WAIT_QUEUE_SLEEP", "OPTEE_MSG_RPC_WAIT_QUEUE_WAKEUP", "OPTEE_MSG_RPC_CMD_SUSPEND",
    "OPTEE_MSG_RPC_SHM_TYPE_APPL", "OPTEE_MSG_RPC_SHM_TYPE_KERNEL", "OPTEE_MSG_RPC_CMD_SQL_FS",
    "OPTEE_RPC_CMD_WAIT_QUEUE", "OPTEE_RPC_WAIT_QUEUE_SLEEP", "OPTEE_RPC_WAIT_QUEUE_WAKEUP",
    "TEE_IOCTL_SHM_MAPPED", "TEE_IOCTL_SHM_DMA_BUF", "TEE_GEN_CAP_OBJREF", "TEE_OBJREF_NULL", "TEE_IMPL_ID_TSTEE",
    "TEE_IMPL_ID_QTEE", "TEE_IOCTL_PARAM_ATTR_TYPE_UBUF_INPUT", "TEE_IOCTL_PARAM_ATTR_TYPE_UBUF_OUTPUT",
    "TEE_IOCTL_PARAM_ATTR_TYPE_UBUF_INOUT", "TEE_IOCTL_PARAM_ATTR_TYPE_OBJREF_INPUT",
    "TEE_IOCTL_PARAM_ATTR_TYPE_OBJREF_OUTPUT", "TEE_IOCTL_PARAM_ATTR_TYPE_OBJREF_INOUT", "TEE_IOC_OBJECT_INVOKE",
    "tee_client_uuid_ns", "OPTEE_MSG_UID (string)", "OPTEE_MSG_OS_OPTEE_UUID (string)",
    "TEE_MAX_ARG_SIZE",   // only the newer-kernel row (4096); the v6.1 row (1024) is kept
]

@Suite struct ConstantConformance {
    @Test func fixtureIsPresentAndComplete() {
        #expect(Fixture.constants.count > 400)
        #expect(Fixture.layouts.count > 200)
        let groups = Set(Fixture.implementedConstants.map(\.group))
        #expect(groups == Set(ABIGroup.allCases.map(\.rawValue)))
    }

    @Test func everyImplementedFixtureConstantIsInTheCatalogWithItsValue() {
        let omitted = Set(ABICatalog.omitted.map(\.name))
        for row in Fixture.implementedConstants {
            let found = ABICatalog.lookup(row.name).filter { $0.group.rawValue == row.group }
            if found.isEmpty {
                #expect(omitted.contains(row.name) && expectedOmissions.contains(row.name), "missing from catalog: \(row.name)")
                continue
            }
            // A name kept once while the fixture lists it twice (TEE_MAX_ARG_SIZE) keeps the v6.1 value.
            if row.name == "TEE_MAX_ARG_SIZE" && row.value == 4096 { continue }
            #expect(found.count == 1, "\(row.name) appears \(found.count) times")
            #expect(found.first?.value == row.value, "\(row.name): catalog \(String(describing: found.first?.value)) fixture \(row.wideHex)")
        }
    }

    @Test func catalogHoldsNothingTheFixtureDoesNotAndNamesAreUnique() {
        let fixtureNames = Set(Fixture.implementedConstants.map(\.name))
        var seen = Set<String>()
        for c in ABICatalog.all {
            #expect(fixtureNames.contains(c.name), "catalog-only name \(c.name)")
            #expect(seen.insert(c.name).inserted, "duplicate catalog name \(c.name)")
        }
        #expect(Set(ABICatalog.omitted.map(\.name)) == expectedOmissions)
    }

    @Test func everyCatalogConstantMatchesItsTypedSwiftDefinition() {
        for c in ABICatalog.all {
            let typed = typedConstants[c.name]
            #expect(typed != nil, "no typed Swift definition checked for \(c.name)")
            if let typed { #expect(typed == c.value, "\(c.name): typed \(hex(typed)) catalog \(hex(c.value))") }
        }
    }

    @Test func everyFixtureConstantMatchesItsTypedSwiftDefinition() {
        for row in Fixture.implementedConstants where !expectedOmissions.contains(row.name) {
            #expect(typedConstants[row.name] == row.value, "\(row.name): typed \(String(describing: typedConstants[row.name])) fixture \(row.wideHex)")
        }
    }

    @Test func typedNamesPrintTheFixtureNames() {
        // Names recovered from typed values are the verbatim fixture names.
        let byName = Dictionary(Fixture.implementedConstants.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        var checked = 0
        func check(_ name: String?, _ value: UInt64) {
            guard let name else { Issue.record("no name for \(hex(value))"); return }
            #expect(byName[name] == value, "\(name) prints for \(hex(value))")
            checked += 1
        }
        for f in [SMCFunctionID.callsCount, .callsUID, .callsRevision, .getOSUUID, .getOSRevision, .returnFromRPC,
                  .callWithArg, .getSHMConfig, .l2ccMutex, .exchangeCapabilities, .disableSHMCache, .enableSHMCache,
                  .bootSecondary, .vmCreated, .vmDestroyed, .getThreadCount, .enableAsyncNotif, .getAsyncNotifValue,
                  .callWithRPCArg, .callWithRegdArg, .getProtmemConfig] {
            check(f.name, UInt64(f.rawValue))
        }
        for v: UInt32 in [0, 1, 2, 3, 4, 5, 6, 7, 0xFFFF_0000, 0xFFFF_0002, 0xFFFF_0004, 0xFFFF_0005, 0xFFFF_FFFF] {
            check(SMCReturn(rawValue: v).name, UInt64(v))
        }
        for v: UInt32 in [0, 2, 4, 5] { check(RPCFunction(rawValue: v).name, UInt64(v)) }
        for v: UInt32 in 0...11 { check(MsgCommand(rawValue: v).name, UInt64(v)) }
        for v: UInt32 in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21, 22, 23, 24] { check(RPCCommand(rawValue: v).name, UInt64(v)) }
        for v: UInt32 in 1...4 { check(TEEOrigin(rawValue: v).name, UInt64(v)) }
        for v: UInt32 in [0, 1, 2, 4, 5, 6, 0x8000_0000, 0xF000_0000] { check(LoginMethod(rawValue: v).name, UInt64(v)) }
        for t in MsgParamType.allCases { check(t.name, UInt64(t.rawValue)) }
        for i in LinuxTEE.Ioctl.allCases { check(i.name, UInt64(i.rawValue)) }
        for row in Fixture.implementedConstants where row.group == "tee_result_codes" && row.name.hasPrefix("TEE_") {
            guard let v = row.value, let small = UInt32(exactly: v) else { continue }
            #expect(TEEResult(rawValue: small).name == row.name)
        }
        #expect(checked > 90)
    }

    @Test func smcIdsAreBuiltFromTheirEncodingFields() {
        // OPTEE_SMC_CALL_VAL(conv, type, owner, func) rebuilt from the fields of every id.
        for f in [SMCFunctionID.callWithArg, .callWithRPCArg, .callWithRegdArg, .returnFromRPC, .exchangeCapabilities,
                  .callsUID, .getOSUUID, .vmDestroyed, .trngRND64, .smcccVersion] {
            let rebuilt = SMCFunctionID(fast: f.isFast, smc64: f.isSMC64, owner: f.owner, function: f.function)
            #expect(rebuilt == f)
            let manual = (f.isFast ? SMCFunctionID.fastCallBit : SMCFunctionID.stdCallBits)
                | (f.isSMC64 ? SMCFunctionID.smc64Bit : SMCFunctionID.smc32Bits)
                | ((UInt32(f.owner.rawValue) & SMCFunctionID.ownerMask) << SMCFunctionID.ownerShift)
                | (UInt32(f.function) & SMCFunctionID.functionMask)
            #expect(manual == f.rawValue)
        }
        #expect(SMCFunctionID.callWithArg.owner == .trustedOS && !SMCFunctionID.callWithArg.isFast)
        #expect(SMCFunctionID.callsUID.owner == .trustedOSAPI && SMCFunctionID.callsUID.isFast)
    }

    @Test func linuxIoctlNumbersFollowTheAsmGenericEncoding() {
        for row in Fixture.constants where row.group == "linux_tee_ioctls" && row.name.hasPrefix("TEE_IOC_") && row.name != "TEE_IOC_MAGIC" && row.name != "TEE_IOC_BASE" {
            guard !expectedOmissions.contains(row.name), let v = row.value else { continue }
            let ioctl = LinuxTEE.Ioctl(rawValue: UInt32(truncatingIfNeeded: v))
            #expect(ioctl.name == row.name, "\(row.wideHex) should be \(row.name)")
            #expect((v >> 8) & 0xFF == UInt64(LinuxTEE.iocMagic))
        }
        #expect(LinuxTEE.ioc(.read, number: 0, size: 12) == 0x800C_A400)
        #expect(LinuxTEE.ioc(.readWrite, number: 9, size: 24) == 0xC018_A409)
    }

    @Test func uuidsMatchTheirWordsAndStrings() throws {
        let api = try TEEUUID("384fb3e0-e7f8-11e3-af63-0002a5d5c51b")
        let os = try TEEUUID("486178e0-e7f8-11e3-bc5e-0002a5d5c51b")
        let ns = try TEEUUID("58ac9ca0-2086-4683-a1b8-ec4bc08e01b6")
        #expect(TEEUUID.opteeAPI == api)
        #expect(TEEUUID.opteeOS == os)
        #expect(TEEUUID.clientNamespace == ns)
        // The 128-bit big-endian integers of the fixture are the octets, most significant first.
        let wide: [String: TEEUUID] = ["tee_client_uuid_ns": ns, "OPTEE_MSG_UID (string)": api, "OPTEE_MSG_OS_OPTEE_UUID (string)": os]
        for row in Fixture.constants where wide[row.name] != nil {
            let digits = String(row.wideHex.dropFirst(2))
            let expected = wide[row.name].map { $0.octets.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined() }
            #expect(digits == expected)
        }
    }
}
