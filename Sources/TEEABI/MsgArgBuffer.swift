/// Memory a layer owns for its private copy of an `optee_msg_arg` (and room for an RPC argument
/// after it): allocated once, 8-byte aligned, zeroed, freed with its owner. The owner copies
/// the argument into `bytes` once, then reads and writes it only through `MsgArgBuffer.view`.

/// Owned, fixed-size memory for argument copies; access is serialised by its owner (one secure
/// thread, one mediator slot), so it needs no lock of its own.
public final class MsgArgBuffer: @unchecked Sendable {
    // @unchecked: the bytes are only reached through the owner, which serialises access.
    /// The whole buffer. Sound: allocated in init for exactly `byteCount` bytes, freed in deinit.
    public let bytes: UnsafeMutableRawBufferPointer

    /// A zeroed buffer of `byteCount` bytes (at least the 32-byte header).
    public init(byteCount: Int) {
        bytes = .allocate(byteCount: Swift.max(byteCount, MsgArg.headerSize), alignment: 8)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { bytes.deallocate() }

    /// Size in bytes.
    @inlinable public var byteCount: Int { bytes.count }

    /// The sub-range [offset, offset + count) of `bytes` (a buffer's `bytes`, which its owner may
    /// keep to reach them without retaining the buffer), or nil when it does not lie inside.
    @inlinable public static func slice(_ bytes: UnsafeMutableRawBufferPointer, offset: Int, count: Int) -> UnsafeMutableRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return nil }
        // Sound: the range was checked against the allocation just above.
        return UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// A view of the argument stored at [offset, offset + count) of `bytes`, or nil when out of range.
    @inlinable public static func view(_ bytes: UnsafeMutableRawBufferPointer, offset: Int = 0, count: Int) -> MsgArgView? {
        guard let s = slice(bytes, offset: offset, count: count) else { return nil }
        return try? MsgArgView(s)
    }
}

extension MsgArgView {
    /// Copies what a callee returns in an argument from `source` (the callee's private copy)
    /// into this view (the caller's argument), field by field: ret, ret_origin, the session
    /// (when `session` is true), and for each of the first `count` params whose attr in the
    /// source is an output: value.a and value.b, or a memref's size. Nothing else is written, so
    /// the caller's inputs stay as the caller left them (Xen's copy_std_request_back).
    public func copyResults(from source: MsgArgView, count: Int, session: Bool) {
        ret = source.ret
        retOrigin = source.retOrigin
        if session { self.session = source.session }
        for i in 0..<Swift.max(0, count) {
            guard let s = source.param(i), let d = param(i), let t = s.attr.type, t.isOutput else { continue }
            if t.isValue {
                d.valueA = s.valueA; d.valueB = s.valueB
            } else if t.isMemref {
                d.memrefSize = s.memrefSize
            }
        }
    }
}
