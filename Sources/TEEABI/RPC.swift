/// OPTEE_RPC_CMD_*: what the secure world asks of the normal world inside an RPC_CMD,
/// with the sub-codes each command carries.

/// An RPC command in the `cmd` field of the RPC `optee_msg_arg`.
public struct RPCCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static var loadTA: RPCCommand { RPCCommand(rawValue: 0) }
    @inlinable public static var rpmb: RPCCommand { RPCCommand(rawValue: 1) }
    @inlinable public static var fs: RPCCommand { RPCCommand(rawValue: 2) }
    @inlinable public static var getTime: RPCCommand { RPCCommand(rawValue: 3) }
    @inlinable public static var notification: RPCCommand { RPCCommand(rawValue: 4) }
    @inlinable public static var suspend: RPCCommand { RPCCommand(rawValue: 5) }
    @inlinable public static var shmAlloc: RPCCommand { RPCCommand(rawValue: 6) }
    @inlinable public static var shmFree: RPCCommand { RPCCommand(rawValue: 7) }
    @inlinable public static var sqlFSReserved: RPCCommand { RPCCommand(rawValue: 8) }
    @inlinable public static var gprof: RPCCommand { RPCCommand(rawValue: 9) }
    @inlinable public static var socket: RPCCommand { RPCCommand(rawValue: 10) }
    @inlinable public static var ftrace: RPCCommand { RPCCommand(rawValue: 11) }
    @inlinable public static var suppPlugin: RPCCommand { RPCCommand(rawValue: 12) }
    @inlinable public static var benchReg: RPCCommand { RPCCommand(rawValue: 20) }
    @inlinable public static var i2cTransfer: RPCCommand { RPCCommand(rawValue: 21) }
    @inlinable public static var rpmbProbeReset: RPCCommand { RPCCommand(rawValue: 22) }
    @inlinable public static var rpmbProbeNext: RPCCommand { RPCCommand(rawValue: 23) }
    @inlinable public static var rpmbFrames: RPCCommand { RPCCommand(rawValue: 24) }

    /// OP-TEE name, or nil when unknown.
    public var name: String? {
        switch rawValue {
        case 0: "OPTEE_RPC_CMD_LOAD_TA"; case 1: "OPTEE_RPC_CMD_RPMB"; case 2: "OPTEE_RPC_CMD_FS"
        case 3: "OPTEE_RPC_CMD_GET_TIME"; case 4: "OPTEE_RPC_CMD_NOTIFICATION"; case 5: "OPTEE_RPC_CMD_SUSPEND"
        case 6: "OPTEE_RPC_CMD_SHM_ALLOC"; case 7: "OPTEE_RPC_CMD_SHM_FREE"; case 8: "OPTEE_RPC_CMD_SQL_FS_RESERVED"
        case 9: "OPTEE_RPC_CMD_GPROF"; case 10: "OPTEE_RPC_CMD_SOCKET"; case 11: "OPTEE_RPC_CMD_FTRACE"
        case 12: "OPTEE_RPC_CMD_SUPP_PLUGIN"; case 20: "OPTEE_RPC_CMD_BENCH_REG"; case 21: "OPTEE_RPC_CMD_I2C_TRANSFER"
        case 22: "OPTEE_RPC_CMD_RPMB_PROBE_RESET"; case 23: "OPTEE_RPC_CMD_RPMB_PROBE_NEXT"; case 24: "OPTEE_RPC_CMD_RPMB_FRAMES"
        default: nil
        }
    }
    /// Short lower-case name for stats and metrics ("get_time", "fs", ...).
    public var shortName: String {
        guard let n = name else { return "cmd_\(rawValue)" }
        return String(n.dropFirst("OPTEE_RPC_CMD_".count)).lowercased()
    }
    public var description: String { name ?? hex(rawValue) }
}

/// OPTEE_RPC_SHM_TYPE_*: value.a of SHM_ALLOC / SHM_FREE.
public enum RPCShmType: UInt64, Sendable {
    /// Application (supplicant) memory.
    case application = 0
    /// Kernel (driver) memory.
    case kernel = 1
    /// Global memory shared by all.
    case global = 2
}

/// OPTEE_RPC_NOTIFICATION_*: value.a of NOTIFICATION.
public enum RPCNotification: UInt64, Sendable {
    case wait = 0
    case send = 1
}

/// OPTEE_MRF_* / OPTEE_RPC_FS_*: value.a of an FS RPC (the supplicant's file operations).
public enum RPCFSOperation: UInt64, Sendable, CaseIterable {
    case open = 0, create = 1, close = 2, read = 3, write = 4, truncate = 5
    case remove = 6, rename = 7, opendir = 8, closedir = 9, readdir = 10
}
