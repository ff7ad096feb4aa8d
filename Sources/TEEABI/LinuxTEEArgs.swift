/// The Linux TEE ioctl arguments as bytes: pure, total decoders and encoders for the structures a
/// `/dev/teeN` ioctl reads and writes (`tee_ioctl_buf_data`, the open/invoke/supplicant headers,
/// `tee_ioctl_param`), with the checks Linux's tee_core makes before anything reaches a driver.
/// No system calls and no pointers: the caller copies user memory in and out (a fuzz target can
/// feed these functions any bytes).

/// Why Linux's tee core refuses an ioctl before the driver sees it; `errno` is what user space gets.
public enum TEEIoctlError: Error, Equatable, Sendable {
    /// -EINVAL: bad length, attribute, num_params, shm id, login or unknown ioctl number.
    case invalid
    /// -EFAULT: a pointer the kernel had to follow is not mapped.
    case fault
    /// -ENOMEM: no memory for the request.
    case noMemory
    /// -EPERM: a REE-kernel login or a group the caller is not in.
    case notPermitted
    /// -EBUSY: the resource is in use (a second supplicant on teepriv).
    case busy
    /// -EINTR / -ERESTARTSYS: interrupted while waiting.
    case interrupted
    /// -ENOENT: no such device (open of a TEE device with no daemon to reach).
    case noEntry
    /// -EIO: the object belongs to another process's guest (a descriptor inherited over fork).
    case io

    /// The positive errno value.
    public var errno: Int32 {
        switch self {
        case .invalid: 22
        case .fault: 14
        case .noMemory: 12
        case .notPermitted: 1
        case .busy: 16
        case .interrupted: 4
        case .noEntry: 2
        case .io: 5
        }
    }
}

/// One `struct tee_ioctl_param` (attr, a, b, c).
public struct TEEIoctlParam: Sendable, Equatable {
    /// TEE_IOCTL_PARAM_ATTR_* word.
    public var attr: UInt64
    /// a (value a, or memref offset).
    public var a: UInt64
    /// b (value b, or memref size).
    public var b: UInt64
    /// c (value c, or memref shm id / TEE_MEMREF_NULL).
    public var c: UInt64
    /// A param from its four words.
    public init(attr: UInt64, a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0) { self.attr = attr; self.a = a; self.b = b; self.c = c }
    /// The decoded attr.
    public var attribute: LinuxTEE.ParamAttr { LinuxTEE.ParamAttr(rawValue: attr) }
}

/// The argument kinds carried through `tee_ioctl_buf_data`, with their fixed header sizes.
public enum TEEBufferedArgument: Sendable {
    case openSession, invoke, supplicantReceive, supplicantSend

    /// Bytes before params[] (56, 24, 8, 8).
    public var headerSize: Int {
        switch self {
        case .openSession: LinuxTEE.Layout.openSessionArgSize
        case .invoke: LinuxTEE.Layout.invokeArgSize
        case .supplicantReceive, .supplicantSend: LinuxTEE.Layout.supplArgSize
        }
    }
    /// Byte offset of num_params in the header.
    public var numParamsOffset: Int {
        switch self {
        case .openSession: 52
        case .invoke: 20
        case .supplicantReceive, .supplicantSend: 4
        }
    }
}

/// Decoders and encoders of the TEE ioctl structures (little-endian, LP64).
public enum LinuxTEEArgs {
    /// A little-endian u32 at `offset`, or 0 past the end.
    @inlinable public static func u32(_ b: [UInt8], _ offset: Int) -> UInt32 {
        guard offset >= 0, offset + 4 <= b.count else { return 0 }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[offset + i]) << (8 * UInt32(i)) }
        return v
    }
    /// A little-endian u64 at `offset`, or 0 past the end.
    @inlinable public static func u64(_ b: [UInt8], _ offset: Int) -> UInt64 {
        guard offset >= 0, offset + 8 <= b.count else { return 0 }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[offset + i]) << (8 * UInt64(i)) }
        return v
    }
    /// Stores a little-endian u32 at `offset` (ignored past the end).
    @inlinable public static func put32(_ b: inout [UInt8], _ offset: Int, _ v: UInt32) {
        guard offset >= 0, offset + 4 <= b.count else { return }
        for i in 0..<4 { b[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }
    /// Stores a little-endian u64 at `offset` (ignored past the end).
    @inlinable public static func put64(_ b: inout [UInt8], _ offset: Int, _ v: UInt64) {
        guard offset >= 0, offset + 8 <= b.count else { return }
        for i in 0..<8 { b[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    /// `struct tee_ioctl_buf_data` (16 bytes): the user pointer and length of the real argument.
    public static func bufData(_ b: [UInt8]) throws(TEEIoctlError) -> (pointer: UInt64, length: UInt64) {
        guard b.count >= LinuxTEE.Layout.bufDataSize else { throw .fault }
        return (u64(b, 0), u64(b, 8))
    }

    /// The length check tee_core makes before copying the argument: at least the header and at
    /// most TEE_MAX_ARG_SIZE (SUPPL_SEND/RECV also need the 8-byte header).
    public static func checkLength(_ kind: TEEBufferedArgument, length: UInt64) throws(TEEIoctlError) {
        guard length <= UInt64(LinuxTEE.maxArgSize), length >= UInt64(kind.headerSize) else { throw .invalid }
    }

    /// Validates a copied argument of `kind`: num_params must make the length exact (SUPPL_SEND:
    /// at most the length, as Linux checks) and every param's attr must be defined with no bit
    /// outside TEE_IOCTL_PARAM_ATTR_MASK (SUPPL_RECV params are the caller's offer: unchecked).
    /// Returns the params.
    public static func params(_ kind: TEEBufferedArgument, _ b: [UInt8]) throws(TEEIoctlError) -> [TEEIoctlParam] {
        guard b.count >= kind.headerSize, b.count <= Int(LinuxTEE.maxArgSize) else { throw .invalid }
        let n = Int(u32(b, kind.numParamsOffset))
        guard let need = LinuxTEE.Layout.bufLength(header: kind.headerSize, numParams: n) else { throw .invalid }
        switch kind {
        case .supplicantSend: guard need <= b.count else { throw .invalid }
        default: guard need == b.count else { throw .invalid }
        }
        var out: [TEEIoctlParam] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            let o = kind.headerSize + i * LinuxTEE.Layout.paramSize
            let p = TEEIoctlParam(attr: u64(b, o), a: u64(b, o + 8), b: u64(b, o + 16), c: u64(b, o + 24))
            if kind != .supplicantReceive {
                guard p.attr & ~LinuxTEE.ParamAttr.mask == 0, p.attribute.type != nil else { throw .invalid }
            }
            out.append(p)
        }
        return out
    }

    /// Writes `p` as params[i] of an argument of `kind`.
    public static func store(_ p: TEEIoctlParam, at i: Int, _ kind: TEEBufferedArgument, into b: inout [UInt8]) {
        let o = kind.headerSize + i * LinuxTEE.Layout.paramSize
        put64(&b, o, p.attr); put64(&b, o + 8, p.a); put64(&b, o + 16, p.b); put64(&b, o + 24, p.c)
    }

    /// The fixed fields of `struct tee_ioctl_open_session_arg`.
    public struct OpenSession: Sendable, Equatable {
        /// TA UUID octets (big-endian fields, as RFC 4122).
        public var uuid: [UInt8]
        /// Client UUID octets (GROUP logins carry the gid in the first four bytes).
        public var clientUUID: [UInt8]
        /// TEE_IOCTL_LOGIN_*.
        public var login: UInt32
        /// Cancellation id.
        public var cancelID: UInt32
    }
    /// Decodes the open-session header (the caller has checked the length).
    public static func openSession(_ b: [UInt8]) -> OpenSession {
        let u = b.count >= 32 ? Array(b[0..<16]) : [UInt8](repeating: 0, count: 16)
        let c = b.count >= 32 ? Array(b[16..<32]) : [UInt8](repeating: 0, count: 16)
        return OpenSession(uuid: u, clientUUID: c, login: u32(b, 32), cancelID: u32(b, 36))
    }
    /// Writes session, ret and ret_origin of an open-session argument.
    public static func storeOpenSessionResult(_ b: inout [UInt8], session: UInt32, ret: UInt32, origin: UInt32) {
        put32(&b, 40, session); put32(&b, 44, ret); put32(&b, 48, origin)
    }

    /// The fixed fields of `struct tee_ioctl_invoke_arg`: func, session, cancel_id.
    public static func invoke(_ b: [UInt8]) -> (function: UInt32, session: UInt32, cancelID: UInt32) {
        (u32(b, 0), u32(b, 4), u32(b, 8))
    }
    /// Writes ret and ret_origin of an invoke argument.
    public static func storeInvokeResult(_ b: inout [UInt8], ret: UInt32, origin: UInt32) {
        put32(&b, 12, ret); put32(&b, 16, origin)
    }

    /// Output write-back as Linux's params_to_user does it: VALUE_OUTPUT/INOUT get a, b, c;
    /// MEMREF_OUTPUT/INOUT get only b (the size); everything else is left alone.
    public static func writeBack(_ result: TEEIoctlParam, over original: TEEIoctlParam) -> TEEIoctlParam {
        var p = original
        switch original.attribute.type {
        case .valueOutput?, .valueInout?: p.a = result.a; p.b = result.b; p.c = result.c
        case .memrefOutput?, .memrefInout?: p.b = result.b
        default: break
        }
        return p
    }
}
