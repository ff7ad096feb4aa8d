/// The channel between a client process and its user's shared tee-supplicant process (normal
/// world, guest user space on both ends; docs/SHARED-SUPPLICANT.md): a socketpair the daemon made
/// and handed out, carrying length-prefixed little-endian frames defined here and only here.
///
/// Frame: 16-byte header `{magic u32 "VSUP", version u16 = 1, type u16, length u32, reserved u32 = 0}`
/// then `length` payload bytes. REQUEST (client -> supplicant) `{id u64, command u32, count u32}`,
/// `count` (at most 8) 64-byte param records, then the memref data in param order. REPLY
/// (supplicant -> client) `{id u64, result u32, count u32}`, records, data. FREE (client ->
/// supplicant) `{shm u64}`: the client's shm is gone, drop its mirror. Param record: `{kind u32
/// (0 none, 1 value, 2 memref, 3 NULL memref), type u32 (OPTEE_MSG), a u64, b u64, c u64, shm u64,
/// shmSize u64, offset u64, dataLength u32, reserved u32}`; a value's a/b/c; a memref's reported
/// size in a and, when shm is not 0, its window: the client's shm id, that shm's size and the
/// offset of the window (the supplicant mirrors it in its own memory).
import NormalWorld
import TEEABI

/// Limits and constants of the channel.
public enum SupplicantChannelWire {
    /// "VSUP" read as a little-endian u32.
    public static let magic: UInt32 = 0x5055_5356
    /// Version spoken.
    public static let version: UInt16 = 1
    /// Header bytes.
    public static let headerSize = 16
    /// Bytes of one param record.
    public static let recordSize = 64
    /// Most params in a request (OP-TEE RPCs use at most 5).
    public static let maxParams = 8
    /// Most memref data bytes one frame carries (and the largest shm mirrored): larger RPC buffers
    /// are refused (OUT_OF_MEMORY), never cut.
    public static let maxData = 4 << 20
    /// Largest payload accepted.
    public static let maxPayload = 16 + maxParams * recordSize + maxData
}

/// Where a memref of a forwarded request lies in the client's shared memory.
public struct ChannelWindow: Sendable, Equatable {
    /// The client's shm id (its driver handle id; never 0).
    public let shm: UInt64
    /// That shm's size in bytes.
    public let shmSize: UInt64
    /// Offset of the window in it.
    public let offset: UInt64
    /// A window of client shm `shm` (of `shmSize` bytes) at `offset`.
    public init(shm: UInt64, shmSize: UInt64, offset: UInt64) { self.shm = shm; self.shmSize = shmSize; self.offset = offset }
}

/// One frame of the channel.
public enum ChannelFrame: Sendable, Equatable {
    /// A request to serve: id (unique among the channel's requests in service), command, params
    /// (memref data included) and per param its window (nil for values and NULL memrefs).
    case request(id: UInt64, command: UInt32, params: [SupplicantParam], windows: [ChannelWindow?])
    /// The answer to request `id`: result and params with outputs filled in.
    case reply(id: UInt64, result: UInt32, params: [SupplicantParam])
    /// The client freed shm `shm`: its mirror goes.
    case free(shm: UInt64)

    /// The frame as wire bytes.
    public func encode() -> [UInt8] {
        var p: [UInt8] = []
        func records(_ params: [SupplicantParam], _ windows: [ChannelWindow?]) {
            var data: [UInt8] = []
            for (i, q) in params.enumerated() {
                let w = i < windows.count ? windows[i] : nil
                switch q {
                case .none:
                    p += [UInt8](repeating: 0, count: SupplicantChannelWire.recordSize)
                case let .value(t, a, b, c):
                    p.le(UInt32(1)); p.le(UInt32(t.rawValue)); p.le(a); p.le(b); p.le(c)
                    p.le(UInt64(0)); p.le(UInt64(0)); p.le(UInt64(0)); p.le(UInt32(0)); p.le(UInt32(0))
                case let .memref(t, d, size):
                    p.le(UInt32(d == nil ? 3 : 2)); p.le(UInt32(t.rawValue)); p.le(UInt64(max(0, size))); p.le(UInt64(0)); p.le(UInt64(0))
                    p.le(w?.shm ?? 0); p.le(w?.shmSize ?? 0); p.le(w?.offset ?? 0); p.le(UInt32(d?.count ?? 0)); p.le(UInt32(0))
                    data += d ?? []
                }
            }
            p += data
        }
        let type: UInt16
        switch self {
        case let .request(id, command, params, windows):
            type = 1; p.le(id); p.le(command); p.le(UInt32(params.count)); records(params, windows)
        case let .reply(id, result, params):
            type = 2; p.le(id); p.le(result); p.le(UInt32(params.count)); records(params, [])
        case let .free(shm):
            type = 3; p.le(shm)
        }
        var out: [UInt8] = []
        out.le(SupplicantChannelWire.magic); out.le(SupplicantChannelWire.version); out.le(type)
        out.le(UInt32(p.count)); out.le(UInt32(0))
        return out + p
    }

    /// The payload length a header announces, or the fault that makes it no frame.
    public static func payloadLength(header h: [UInt8]) throws(ChannelWireError) -> Int {
        guard h.count >= SupplicantChannelWire.headerSize else { throw .truncated }
        guard h.u32(0) == SupplicantChannelWire.magic else { throw .badMagic }
        guard h.u16(4) == SupplicantChannelWire.version else { throw .badVersion }
        guard (1...3).contains(h.u16(6)) else { throw .unknownType }
        guard h.u32(12) == 0 else { throw .reservedNotZero }
        let n = h.u32(8)
        guard n <= UInt32(SupplicantChannelWire.maxPayload) else { throw .tooLarge }
        return Int(n)
    }

    /// Decodes a header and its payload. Total: every input is a frame or a `ChannelWireError`.
    public static func decode(header h: [UInt8], payload p: [UInt8]) throws(ChannelWireError) -> ChannelFrame {
        let n = try payloadLength(header: h)
        guard p.count == n else { throw .truncated }
        switch h.u16(6) {
        case 3:
            guard n == 8 else { throw .badLength }
            return .free(shm: p.u64(0))
        case let type:
            guard n >= 16 else { throw .badLength }
            let id = p.u64(0), word = p.u32(8), count = Int(p.u32(12))
            guard count <= SupplicantChannelWire.maxParams else { throw .tooManyParams }
            var at = 16 + count * SupplicantChannelWire.recordSize
            guard n >= at else { throw .badLength }
            var params: [SupplicantParam] = [], windows: [ChannelWindow?] = []
            for i in 0..<count {
                let r = 16 + i * SupplicantChannelWire.recordSize
                let kind = p.u32(r)
                guard p.u32(r + 60) == 0 else { throw .reservedNotZero }
                if kind == 0 { params.append(.none); windows.append(nil); continue }
                guard let t = MsgParamType(rawValue: UInt8(truncatingIfNeeded: p.u32(r + 4))), p.u32(r + 4) <= 0xFF else { throw .badParam }
                switch kind {
                case 1:
                    guard t.isValue else { throw .badParam }
                    params.append(.value(t, a: p.u64(r + 8), b: p.u64(r + 16), c: p.u64(r + 24))); windows.append(nil)
                case 2, 3:
                    guard t.isMemref else { throw .badParam }
                    let size = p.u64(r + 8), dataLength = Int(p.u32(r + 56))
                    guard size <= UInt64(SupplicantChannelWire.maxData) else { throw .tooLarge }
                    let shm = p.u64(r + 32), shmSize = p.u64(r + 40), offset = p.u64(r + 48)
                    if kind == 3 {
                        guard dataLength == 0, shm == 0 else { throw .badParam }
                        params.append(.memref(t, data: nil, size: Int(size))); windows.append(nil); continue
                    }
                    guard dataLength <= n - at else { throw .badLength }
                    params.append(.memref(t, data: Array(p[at..<(at + dataLength)]), size: Int(size)))
                    at += dataLength
                    windows.append(shm == 0 ? nil : ChannelWindow(shm: shm, shmSize: shmSize, offset: offset))
                default:
                    throw .badParam
                }
            }
            guard at == n else { throw .badLength }
            if type == 1 { return .request(id: id, command: word, params: params, windows: windows) }
            return .reply(id: id, result: word, params: params)
        }
    }
}

/// Why bytes on a channel are not a frame (the reader then closes the channel).
public enum ChannelWireError: Error, Equatable, Sendable {
    /// Not the channel's magic.
    case badMagic
    /// Another version.
    case badVersion
    /// A frame type not defined.
    case unknownType
    /// A reserved field is not zero.
    case reservedNotZero
    /// Payload, data or a reported size past the channel's limits.
    case tooLarge
    /// More params than a request may have.
    case tooManyParams
    /// A payload length that does not match its contents.
    case badLength
    /// A param kind or type that does not exist or does not fit its kind.
    case badParam
    /// Fewer bytes than the header announced.
    case truncated
}

extension [UInt8] {
    /// Appends `v` little-endian.
    fileprivate mutating func le<T: FixedWidthInteger>(_ v: T) {
        var x = v
        for _ in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: x)); x >>= 8 }
    }
    /// Little-endian reads; callers check bounds first (missing bytes read as zero).
    fileprivate func uLE<T: FixedWidthInteger>(_ o: Int, _: T.Type) -> T {
        var x: T = 0
        for i in (0..<MemoryLayout<T>.size).reversed() { x = (x << 8) | T(o + i < count ? self[o + i] : 0) }
        return x
    }
    fileprivate func u16(_ o: Int) -> UInt16 { uLE(o, UInt16.self) }
    fileprivate func u32(_ o: Int) -> UInt32 { uLE(o, UInt32.self) }
    fileprivate func u64(_ o: Int) -> UInt64 { uLE(o, UInt64.self) }
}
