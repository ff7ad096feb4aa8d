/// The Linux TEE subsystem's user-space ABI (`uapi/linux/tee.h`, Linux 6.1): ioctl numbers,
/// parameter attributes, capabilities, implementation ids and the fixed header sizes the
/// kernel checks `buf_len` against. Pure values; no system calls.

/// Namespace for the Linux TEE uapi values (`/dev/teeN`, `/dev/teeprivN`).
public enum LinuxTEE {
    /// TEE_IOC_MAGIC: the ioctl type byte of every TEE ioctl.
    public static let iocMagic: UInt32 = 0xA4
    /// TEE_IOC_BASE: number of the first TEE ioctl.
    public static let iocBase: UInt32 = 0
    /// TEE_MAX_ARG_SIZE: largest `tee_ioctl_buf_data.buf_len` Linux 6.1 accepts.
    public static let maxArgSize: UInt32 = 1024
    /// TEE_IOCTL_UUID_LEN: bytes of a UUID in the ioctl structures.
    public static let uuidLength: UInt32 = 16
    /// TEE_MEMREF_NULL: memref `.c` meaning "no buffer" (needs TEE_GEN_CAP_MEMREF_NULL).
    public static let memrefNull: UInt64 = 0xFFFF_FFFF_FFFF_FFFF
    /// TEE_NUM_DEVICES: minors 0-15 are /dev/teeN, 16-31 /dev/teeprivN (kernel-internal).
    public static let numDevices: UInt32 = 32
    /// TEE_UUID_NS_NAME_SIZE: longest name hashed into a client UUIDv5 (kernel-internal).
    public static let uuidNamespaceNameSize: UInt32 = 128
    /// RPC_NUM_PARAMS: params (one meta included) tee-supplicant offers per SUPPL_RECV.
    public static let supplicantRecvParams: UInt32 = 5

    /// Encodes an ioctl number as asm-generic `_IOC(dir, type, nr, size)`:
    /// dir << 30 | size << 16 | type << 8 | nr.
    @inlinable public static func ioc(_ direction: IoctlDirection, type: UInt32 = iocMagic, number: UInt32, size: UInt32) -> UInt32 {
        direction.rawValue << 30 | (size & 0x3FFF) << 16 | (type & 0xFF) << 8 | (number & 0xFF)
    }

    /// The direction bits of an ioctl number (`_IOC_WRITE` = 1, `_IOC_READ` = 2).
    public struct IoctlDirection: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt32
        /// A direction from its two bits.
        @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue & 3 }
        /// `_IOR`: the kernel writes the argument back.
        @inlinable public static var read: IoctlDirection { IoctlDirection(rawValue: 2) }
        /// `_IOW`: the kernel reads the argument.
        @inlinable public static var write: IoctlDirection { IoctlDirection(rawValue: 1) }
        /// `_IOWR`: both.
        @inlinable public static var readWrite: IoctlDirection { IoctlDirection(rawValue: 3) }
    }

    /// TEE_IOC_*: the ioctl numbers of the TEE character devices.
    public struct Ioctl: RawRepresentable, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        public let rawValue: UInt32
        /// An ioctl number as passed to `ioctl(2)`.
        @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// TEE_IOC_VERSION: _IOR(0xa4, 0, struct tee_ioctl_version_data) (12 bytes).
        public static let version = Ioctl(rawValue: LinuxTEE.ioc(.read, number: 0, size: UInt32(Layout.versionDataSize)))
        /// TEE_IOC_SHM_ALLOC: _IOWR(0xa4, 1, struct tee_ioctl_shm_alloc_data) (16 bytes).
        public static let shmAlloc = Ioctl(rawValue: LinuxTEE.ioc(.readWrite, number: 1, size: UInt32(Layout.shmAllocDataSize)))
        /// TEE_IOC_OPEN_SESSION: _IOR(0xa4, 2, struct tee_ioctl_buf_data).
        public static let openSession = Ioctl(rawValue: LinuxTEE.ioc(.read, number: 2, size: UInt32(Layout.bufDataSize)))
        /// TEE_IOC_INVOKE: _IOR(0xa4, 3, struct tee_ioctl_buf_data).
        public static let invoke = Ioctl(rawValue: LinuxTEE.ioc(.read, number: 3, size: UInt32(Layout.bufDataSize)))
        /// TEE_IOC_CANCEL: _IOR(0xa4, 4, struct tee_ioctl_cancel_arg) (8 bytes).
        public static let cancel = Ioctl(rawValue: LinuxTEE.ioc(.read, number: 4, size: UInt32(Layout.cancelArgSize)))
        /// TEE_IOC_CLOSE_SESSION: _IOR(0xa4, 5, struct tee_ioctl_close_session_arg) (4 bytes).
        public static let closeSession = Ioctl(rawValue: LinuxTEE.ioc(.read, number: 5, size: UInt32(Layout.closeSessionArgSize)))
        /// TEE_IOC_SUPPL_RECV: _IOR(0xa4, 6, struct tee_ioctl_buf_data).
        public static let supplRecv = Ioctl(rawValue: LinuxTEE.ioc(.read, number: 6, size: UInt32(Layout.bufDataSize)))
        /// TEE_IOC_SUPPL_SEND: _IOR(0xa4, 7, struct tee_ioctl_buf_data).
        public static let supplSend = Ioctl(rawValue: LinuxTEE.ioc(.read, number: 7, size: UInt32(Layout.bufDataSize)))
        /// TEE_IOC_SHM_REGISTER_FD: _IOWR(0xa4, 8, struct tee_ioctl_shm_register_fd_data) (24 bytes).
        public static let shmRegisterFD = Ioctl(rawValue: LinuxTEE.ioc(.readWrite, number: 8, size: UInt32(Layout.shmRegisterFDDataSize)))
        /// TEE_IOC_SHM_REGISTER: _IOWR(0xa4, 9, struct tee_ioctl_shm_register_data) (24 bytes).
        public static let shmRegister = Ioctl(rawValue: LinuxTEE.ioc(.readWrite, number: 9, size: UInt32(Layout.shmRegisterDataSize)))

        /// Every TEE ioctl vtee knows.
        public static let allCases: [Ioctl] = [.version, .shmAlloc, .openSession, .invoke, .cancel, .closeSession,
                                               .supplRecv, .supplSend, .shmRegisterFD, .shmRegister]

        /// The uapi name (TEE_IOC_*), or nil for an unknown number.
        public var name: String? {
            switch self {
            case .version: "TEE_IOC_VERSION"
            case .shmAlloc: "TEE_IOC_SHM_ALLOC"
            case .openSession: "TEE_IOC_OPEN_SESSION"
            case .invoke: "TEE_IOC_INVOKE"
            case .cancel: "TEE_IOC_CANCEL"
            case .closeSession: "TEE_IOC_CLOSE_SESSION"
            case .supplRecv: "TEE_IOC_SUPPL_RECV"
            case .supplSend: "TEE_IOC_SUPPL_SEND"
            case .shmRegisterFD: "TEE_IOC_SHM_REGISTER_FD"
            case .shmRegister: "TEE_IOC_SHM_REGISTER"
            default: nil
            }
        }
        /// The ioctl's name, or its number in hex.
        public var description: String { name ?? hex(rawValue) }
    }

    /// TEE_IOCTL_PARAM_ATTR_*: the `attr` word of a `struct tee_ioctl_param`.
    public struct ParamAttr: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt64
        /// An attr word as found in a `tee_ioctl_param`.
        @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// TEE_IOCTL_PARAM_ATTR_TYPE_MASK.
        public static let typeMask: UInt64 = 0xFF
        /// TEE_IOCTL_PARAM_ATTR_META.
        public static let metaBit: UInt64 = 0x100
        /// TEE_IOCTL_PARAM_ATTR_MASK: every bit the kernel accepts (others are -EINVAL).
        public static let mask: UInt64 = typeMask | metaBit
        /// The parameter type, or nil for an undefined type byte.
        @inlinable public var type: ParamType? { ParamType(rawValue: UInt8(rawValue & Self.typeMask)) }
        /// TEE_IOCTL_PARAM_ATTR_META is set.
        @inlinable public var isMeta: Bool { rawValue & Self.metaBit != 0 }
        /// A defined type and no bit outside TEE_IOCTL_PARAM_ATTR_MASK.
        @inlinable public var isValid: Bool { type != nil && rawValue & ~Self.mask == 0 }
        /// An attr from a type and the META flag.
        @inlinable public init(_ type: ParamType, meta: Bool = false) {
            rawValue = UInt64(type.rawValue) | (meta ? Self.metaBit : 0)
        }
        /// "TEE_IOCTL_PARAM_ATTR_TYPE_* [| TEE_IOCTL_PARAM_ATTR_META]".
        public var description: String {
            var s = type?.name ?? "type \(hex(rawValue & Self.typeMask, width: 2))"
            if isMeta { s += " | TEE_IOCTL_PARAM_ATTR_META" }
            if rawValue & ~Self.mask != 0 { s += " | stray bits \(hex(rawValue & ~Self.mask, width: 16))" }
            return s
        }
    }

    /// TEE_IOCTL_PARAM_ATTR_TYPE_*: the type byte of a `tee_ioctl_param`.
    public enum ParamType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case none = 0, valueInput = 1, valueOutput = 2, valueInout = 3
        case memrefInput = 5, memrefOutput = 6, memrefInout = 7
        /// The uapi name.
        public var name: String {
            switch self {
            case .none: "TEE_IOCTL_PARAM_ATTR_TYPE_NONE"
            case .valueInput: "TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT"
            case .valueOutput: "TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_OUTPUT"
            case .valueInout: "TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT"
            case .memrefInput: "TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT"
            case .memrefOutput: "TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT"
            case .memrefInout: "TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT"
            }
        }
        /// The uapi name.
        public var description: String { name }
    }

    /// TEE_GEN_CAP_*: generic capabilities in `tee_ioctl_version_data.gen_caps`.
    public struct GenericCapabilities: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        /// Capabilities from their bits.
        @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// TEE_GEN_CAP_GP: GlobalPlatform compliant TEE (libteec requires it).
        public static let gp = GenericCapabilities(rawValue: 1 << 0)
        /// TEE_GEN_CAP_PRIVILEGED: the supplicant's privileged device.
        public static let privileged = GenericCapabilities(rawValue: 1 << 1)
        /// TEE_GEN_CAP_REG_MEM: user memory can be registered (SHM_REGISTER).
        public static let registerMemory = GenericCapabilities(rawValue: 1 << 2)
        /// TEE_GEN_CAP_MEMREF_NULL: TEE_MEMREF_NULL memrefs are accepted.
        public static let memrefNull = GenericCapabilities(rawValue: 1 << 3)
    }

    /// TEE_IMPL_ID_*: which driver answers `tee_ioctl_version_data.impl_id`.
    public struct ImplementationID: RawRepresentable, Hashable, Sendable {
        public let rawValue: UInt32
        /// An implementation id.
        @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// TEE_IMPL_ID_OPTEE.
        @inlinable public static var optee: ImplementationID { ImplementationID(rawValue: 1) }
        /// TEE_IMPL_ID_AMDTEE.
        @inlinable public static var amdtee: ImplementationID { ImplementationID(rawValue: 2) }
    }

    /// TEE_OPTEE_CAP_*: `impl_caps` when impl_id is OP-TEE.
    public struct OPTEECapabilities: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        /// Capabilities from their bits.
        @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// TEE_OPTEE_CAP_TZ: OP-TEE in TrustZone (libteec checks it for "optee-tz").
        public static let tz = OPTEECapabilities(rawValue: 1 << 0)
    }

    /// TEE_IOCTL_LOGIN_*: login methods accepted by TEE_IOC_OPEN_SESSION (values as `LoginMethod`).
    public enum Login {
        /// TEE_IOCTL_LOGIN_PUBLIC.
        public static let `public` = LoginMethod.public
        /// TEE_IOCTL_LOGIN_USER.
        public static let user = LoginMethod.user
        /// TEE_IOCTL_LOGIN_GROUP.
        public static let group = LoginMethod.group
        /// TEE_IOCTL_LOGIN_APPLICATION.
        public static let application = LoginMethod.application
        /// TEE_IOCTL_LOGIN_USER_APPLICATION.
        public static let userApplication = LoginMethod.applicationUser
        /// TEE_IOCTL_LOGIN_GROUP_APPLICATION.
        public static let groupApplication = LoginMethod.applicationGroup
        /// TEE_IOCTL_LOGIN_REE_KERNEL: kernel clients only.
        public static let reeKernel = LoginMethod.reeKernel
        /// TEE_IOCTL_LOGIN_REE_KERNEL_MIN..MAX: reserved for the kernel; user space gets -EPERM.
        public static let reeKernelRange: ClosedRange<UInt32> = 0x8000_0000...0xBFFF_FFFF
    }

    /// Sizes and offsets of the uapi structures (LP64; identical on x86_64 and arm64).
    public enum Layout {
        /// sizeof(struct tee_ioctl_version_data).
        public static let versionDataSize = 12
        /// sizeof(struct tee_ioctl_buf_data): buf_ptr at 0, buf_len at 8.
        public static let bufDataSize = 16
        /// sizeof(struct tee_ioctl_shm_alloc_data): size at 0, flags at 8, id at 12.
        public static let shmAllocDataSize = 16
        /// sizeof(struct tee_ioctl_shm_register_data): addr 0, length 8, flags 16, id 20.
        public static let shmRegisterDataSize = 24
        /// sizeof(struct tee_ioctl_shm_register_fd_data) (__aligned(8)).
        public static let shmRegisterFDDataSize = 24
        /// sizeof(struct tee_ioctl_param): attr, a, b, c.
        public static let paramSize = 32
        /// sizeof(struct tee_ioctl_open_session_arg): the header before params[].
        public static let openSessionArgSize = 56
        /// sizeof(struct tee_ioctl_invoke_arg).
        public static let invokeArgSize = 24
        /// sizeof(struct tee_ioctl_cancel_arg).
        public static let cancelArgSize = 8
        /// sizeof(struct tee_ioctl_close_session_arg).
        public static let closeSessionArgSize = 4
        /// sizeof(struct tee_iocl_supp_recv_arg) and sizeof(struct tee_iocl_supp_send_arg).
        public static let supplArgSize = 8
        /// The buf_len the kernel requires for `header` bytes plus `numParams` params, or nil on overflow.
        @inlinable public static func bufLength(header: Int, numParams: Int) -> Int? {
            guard numParams >= 0 else { return nil }
            let (p, o1) = numParams.multipliedReportingOverflow(by: paramSize)
            let (t, o2) = header.addingReportingOverflow(p)
            return o1 || o2 ? nil : t
        }
    }
}
