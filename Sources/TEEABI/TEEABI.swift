/// TEEABI: the byte-exact OP-TEE SMC and message ABI, GP result codes and UUIDs.
///
/// Runs in every world; touches nothing but the bytes and registers it is given.
/// Values come from OP-TEE's `optee_smc.h`, `optee_msg.h`, `optee_rpc_cmd.h`, GP's
/// `tee_client_api.h` and Linux's `uapi/linux/tee.h` (see docs/ARCHITECTURE.md).
/// Decoding is total: any input decodes to a value or to a typed `ABIError`.

/// What is wrong with bytes or registers that failed to decode.
public enum ABIError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The buffer holds fewer bytes than the structure needs.
    case truncated(needed: Int, available: Int)
    /// `num_params` is above what the buffer or the ABI allows.
    case tooManyParams(count: UInt32, maximum: Int)
    /// A parameter's attribute has an unknown type or stray bits.
    case unknownAttribute(index: Int, attr: UInt64)
    /// Offset plus size (or an address range) wraps around 64 bits.
    case sizeOverflow
    /// An address or offset is not aligned as the ABI requires.
    case misaligned(address: UInt64, alignment: UInt64)
    /// A page list is longer than allowed or points at itself.
    case pageListTooLong(pages: Int, maximum: Int)
    /// A UUID string is not in RFC 4122 form.
    case badUUID(String)
    /// Meta parameters are missing, misplaced or malformed.
    case badMeta(index: Int)

    public var description: String {
        switch self {
        case let .truncated(n, a): return "truncated: need \(n) bytes, have \(a)"
        case let .tooManyParams(c, m): return "too many params: \(c) > \(m)"
        case let .unknownAttribute(i, a): return "unknown attribute 0x\(String(a, radix: 16)) in param \(i)"
        case .sizeOverflow: return "size overflow: offset + size wraps"
        case let .misaligned(a, al): return "misaligned: 0x\(String(a, radix: 16)) not \(al)-byte aligned"
        case let .pageListTooLong(p, m): return "page list too long: \(p) pages > \(m)"
        case let .badUUID(s): return "bad UUID: \(s)"
        case let .badMeta(i): return "bad meta parameter at index \(i)"
        }
    }
}

/// Little-endian load/store helpers over raw buffers; the only unsafe code of the codecs.
@usableFromInline enum LE {
    @inlinable static func u32(_ b: UnsafeRawBufferPointer, _ off: Int) -> UInt32 {
        // Sound: callers bounds-check `off + 4 <= b.count` before loading.
        UInt32(littleEndian: b.loadUnaligned(fromByteOffset: off, as: UInt32.self))
    }
    @inlinable static func u64(_ b: UnsafeRawBufferPointer, _ off: Int) -> UInt64 {
        // Sound: callers bounds-check `off + 8 <= b.count` before loading.
        UInt64(littleEndian: b.loadUnaligned(fromByteOffset: off, as: UInt64.self))
    }
    @inlinable static func put(_ b: UnsafeMutableRawBufferPointer, _ off: Int, _ v: UInt32) {
        // Sound: callers bounds-check `off + 4 <= b.count` before storing.
        b.storeBytes(of: v.littleEndian, toByteOffset: off, as: UInt32.self)
    }
    @inlinable static func put(_ b: UnsafeMutableRawBufferPointer, _ off: Int, _ v: UInt64) {
        // Sound: callers bounds-check `off + 8 <= b.count` before storing.
        b.storeBytes(of: v.littleEndian, toByteOffset: off, as: UInt64.self)
    }
}

/// Hex formatting used by every printer of ABI values.
public func hex<T: BinaryInteger>(_ v: T, width: Int = 8) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, width - s.count)) + s
}
