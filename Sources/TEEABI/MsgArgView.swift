/// The one typed view of `struct optee_msg_arg` and its params: reads and writes the fields in
/// place over bytes the caller owns (a mediator page, a secure thread's buffer, guest RAM mapped
/// by the driver). No other module knows a byte offset of these structures: every layer copies
/// the argument once into memory it owns and then touches it only through this view.
///
/// A view is as valid as the buffer it was made over: use it inside the closure that handed out
/// the buffer, like an `UnsafeMutableRawBufferPointer`. Accessors never trap: a param index past
/// what the buffer holds answers nil.

/// Byte offsets of `struct optee_msg_arg` (layouts.tsv), private to TEEABI.
@usableFromInline enum MsgArgLayout {
    @usableFromInline static let cmd = 0, function = 4, session = 8, cancelID = 12, pad = 16
    @usableFromInline static let ret = 20, retOrigin = 24, numParams = 28
    @usableFromInline static let attr = 0, a = 8, b = 16, c = 24
}

/// In-place view of one `struct optee_msg_param` (32 bytes): the attr word and the union's
/// three words, with the union's typed forms (value, tmem, rmem, fmem) named.
public struct MsgParamView {
    /// The param's 32 bytes. Sound: a view is only made by `MsgArgView.param(_:)` after checking
    /// that all 32 bytes lie inside the argument's buffer.
    @usableFromInline let bytes: UnsafeMutableRawBufferPointer

    @inlinable init(bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }

    /// The attr word (type, META, NONCONTIG, cache bits).
    @inlinable public var attr: MsgAttr {
        get { MsgAttr(rawValue: LE.u64(UnsafeRawBufferPointer(bytes), MsgArgLayout.attr)) }
        nonmutating set { LE.put(bytes, MsgArgLayout.attr, newValue.rawValue) }
    }
    /// Union word at byte 8: value.a, tmem.buf_ptr, rmem.offs.
    @inlinable public var a: UInt64 {
        get { LE.u64(UnsafeRawBufferPointer(bytes), MsgArgLayout.a) }
        nonmutating set { LE.put(bytes, MsgArgLayout.a, newValue) }
    }
    /// Union word at byte 16: value.b, tmem.size, rmem.size.
    @inlinable public var b: UInt64 {
        get { LE.u64(UnsafeRawBufferPointer(bytes), MsgArgLayout.b) }
        nonmutating set { LE.put(bytes, MsgArgLayout.b, newValue) }
    }
    /// Union word at byte 24: value.c, tmem.shm_ref, rmem.shm_ref.
    @inlinable public var c: UInt64 {
        get { LE.u64(UnsafeRawBufferPointer(bytes), MsgArgLayout.c) }
        nonmutating set { LE.put(bytes, MsgArgLayout.c, newValue) }
    }

    // The union's named forms (the same words; `attr` says which one applies).
    /// value.a.
    @inlinable public var valueA: UInt64 { get { a } nonmutating set { a = newValue } }
    /// value.b.
    @inlinable public var valueB: UInt64 { get { b } nonmutating set { b = newValue } }
    /// value.c.
    @inlinable public var valueC: UInt64 { get { c } nonmutating set { c = newValue } }
    /// tmem.buf_ptr (a physical address, or a page-list address | first-page offset with NONCONTIG).
    @inlinable public var tmemBufPtr: UInt64 { get { a } nonmutating set { a = newValue } }
    /// tmem.size / rmem.size.
    @inlinable public var memrefSize: UInt64 { get { b } nonmutating set { b = newValue } }
    /// tmem.shm_ref / rmem.shm_ref: the cookie of the shared memory.
    @inlinable public var shmRef: UInt64 { get { c } nonmutating set { c = newValue } }
    /// rmem.offs: offset inside the registered buffer `shmRef`.
    @inlinable public var rmemOffset: UInt64 { get { a } nonmutating set { a = newValue } }
    /// fmem.offs_low | offs_high << 32 (FF-A form of rmem).
    @inlinable public var fmemOffset: UInt64 { (a & 0xFFFF_FFFF) | (((a >> 32) & 0xFFFF) << 32) }

    /// The param as a value (a copy of its 32 bytes).
    @inlinable public func load() -> MsgParam { MsgParam(attr: attr, a: a, b: b, c: c) }
    /// Stores all 32 bytes of `p`.
    @inlinable public func store(_ p: MsgParam) { attr = p.attr; a = p.a; b = p.b; c = p.c }
    /// Sets every byte of the param to zero (a NONE param).
    @inlinable public func clear() { bytes.initializeMemory(as: UInt8.self, repeating: 0) }

    /// The UUID whose 16 octets sit in value.a and value.b (OPEN_SESSION meta params).
    public var uuid: TEEUUID {
        TEEUUID(octets: Array(UnsafeRawBufferPointer(rebasing: bytes[MsgArgLayout.a..<MsgArgLayout.c])))
    }
    /// Stores a UUID's 16 octets into value.a and value.b, byte for byte as a memcpy would.
    public func setUUID(_ u: TEEUUID) {
        let o = u.octets
        for i in 0..<16 { bytes[MsgArgLayout.a + i] = i < o.count ? o[i] : 0 }
    }
}

/// In-place view of `struct optee_msg_arg`: the 32-byte header and up to `paramCapacity` params
/// that fit the buffer (never more than OPTEE_MSG_MAX_NUM_PARAMS).
public struct MsgArgView {
    /// The argument's bytes. Sound: the initializer checked that they hold at least the header.
    @usableFromInline let bytes: UnsafeMutableRawBufferPointer

    /// A view over `bytes`, which must hold at least the 32-byte header.
    @inlinable public init(_ bytes: UnsafeMutableRawBufferPointer) throws(ABIError) {
        guard bytes.count >= MsgArg.headerSize, bytes.baseAddress != nil else {
            throw .truncated(needed: MsgArg.headerSize, available: bytes.count)
        }
        self.bytes = bytes
    }

    /// Bytes the view may touch.
    @inlinable public var byteCount: Int { bytes.count }

    @inlinable func u32(_ o: Int) -> UInt32 { LE.u32(UnsafeRawBufferPointer(bytes), o) }
    @inlinable func set(_ o: Int, _ v: UInt32) { LE.put(bytes, o, v) }

    /// OPTEE_MSG_CMD_*.
    @inlinable public var cmd: MsgCommand {
        get { MsgCommand(rawValue: u32(MsgArgLayout.cmd)) } nonmutating set { set(MsgArgLayout.cmd, newValue.rawValue) }
    }
    /// `func`: the TA command of INVOKE_COMMAND.
    @inlinable public var function: UInt32 {
        get { u32(MsgArgLayout.function) } nonmutating set { set(MsgArgLayout.function, newValue) }
    }
    /// Session id (written back by OPEN_SESSION).
    @inlinable public var session: UInt32 {
        get { u32(MsgArgLayout.session) } nonmutating set { set(MsgArgLayout.session, newValue) }
    }
    /// Id a later CANCEL names.
    @inlinable public var cancelID: UInt32 {
        get { u32(MsgArgLayout.cancelID) } nonmutating set { set(MsgArgLayout.cancelID, newValue) }
    }
    /// Padding word.
    @inlinable public var pad: UInt32 {
        get { u32(MsgArgLayout.pad) } nonmutating set { set(MsgArgLayout.pad, newValue) }
    }
    /// Result code.
    @inlinable public var ret: TEEResult {
        get { TEEResult(rawValue: u32(MsgArgLayout.ret)) } nonmutating set { set(MsgArgLayout.ret, newValue.rawValue) }
    }
    /// Which layer produced `ret`.
    @inlinable public var retOrigin: TEEOrigin {
        get { TEEOrigin(rawValue: u32(MsgArgLayout.retOrigin)) } nonmutating set { set(MsgArgLayout.retOrigin, newValue.rawValue) }
    }
    /// `num_params` as stored: whoever wrote the bytes chose it; check it with `paramCount(max:)`.
    @inlinable public var numParams: UInt32 {
        get { u32(MsgArgLayout.numParams) } nonmutating set { set(MsgArgLayout.numParams, newValue) }
    }

    /// How many params the buffer holds room for (at most OPTEE_MSG_MAX_NUM_PARAMS).
    @inlinable public var paramCapacity: Int {
        min(MsgArg.maxNumParams, (bytes.count - MsgArg.headerSize) / MsgParam.byteSize)
    }

    /// `num_params`, checked against the buffer and against `max` (a caller's own limit).
    @inlinable public func paramCount(max: Int = MsgArg.maxNumParams) throws(ABIError) -> Int {
        let n = numParams
        let limit = Swift.min(max, paramCapacity)
        guard n <= UInt32(Swift.max(0, limit)) else {
            if n <= UInt32(Swift.min(max, MsgArg.maxNumParams)) {
                throw .truncated(needed: MsgArg.size(numParams: Int(n)), available: bytes.count)
            }
            throw .tooManyParams(count: n, maximum: Swift.min(max, MsgArg.maxNumParams))
        }
        return Int(n)
    }

    /// The encoded size for the stored `num_params` (OPTEE_MSG_GET_ARG_SIZE); only meaningful
    /// after `paramCount(max:)` accepted it.
    @inlinable public var byteSize: Int { MsgArg.size(numParams: Int(Swift.min(numParams, UInt32(MsgArg.maxNumParams)))) }

    /// Param `i`, or nil when the buffer does not hold it.
    @inlinable public func param(_ i: Int) -> MsgParamView? {
        guard i >= 0, i < paramCapacity, let base = bytes.baseAddress else { return nil }
        let o = MsgArg.headerSize + i * MsgParam.byteSize
        // Sound: o + 32 <= bytes.count because i < paramCapacity.
        return MsgParamView(bytes: UnsafeMutableRawBufferPointer(start: base + o, count: MsgParam.byteSize))
    }

    /// Checks every attr of the first `count` params: a defined type, no stray bits, NONCONTIG
    /// only on tmem. Throws the first bad one.
    public func validateAttributes(count: Int) throws(ABIError) {
        for i in 0..<Swift.min(count, paramCapacity) {
            guard let p = param(i) else { break }
            let attr = p.attr
            guard attr.isWellFormed else { throw .unknownAttribute(index: i, attr: attr.rawValue) }
        }
    }

    /// Zeroes the header and `numParams` params and sets the command: the start of building an
    /// argument in place. Fails when the buffer cannot hold that many params.
    public func reset(cmd: MsgCommand, numParams n: Int) throws(ABIError) {
        guard n >= 0, n <= paramCapacity else {
            throw .tooManyParams(count: UInt32(clamping: n), maximum: paramCapacity)
        }
        UnsafeMutableRawBufferPointer(rebasing: bytes[0..<MsgArg.size(numParams: n)])
            .initializeMemory(as: UInt8.self, repeating: 0)
        self.cmd = cmd
        self.numParams = UInt32(n)
    }

    /// The RPC argument a CALL_WITH_RPC_ARG places right after this one (at
    /// OPTEE_MSG_GET_ARG_SIZE(num_params)), when the buffer holds `rpcParams` params there.
    public func rpcArgument(numParams count: Int, rpcParams: Int) -> MsgArgView? {
        let start = MsgArg.size(numParams: count)
        let end = start + MsgArg.size(numParams: rpcParams)
        guard count >= 0, rpcParams >= 0, end <= bytes.count else { return nil }
        return try? MsgArgView(UnsafeMutableRawBufferPointer(rebasing: bytes[start..<end]))
    }

    /// Copies the header and the first `count` params into a value (for logs, tests and tools;
    /// the call path stays on the view).
    public func load(count: Int) -> MsgArg {
        let n = Swift.max(0, Swift.min(count, paramCapacity))
        var params: [MsgParam] = []
        params.reserveCapacity(n)
        for i in 0..<n { if let p = param(i) { params.append(p.load()) } }
        return MsgArg(cmd: cmd, function: function, session: session, cancelID: cancelID, pad: pad,
                      ret: ret, retOrigin: retOrigin, params: params)
    }

    /// Stores a whole argument value (header and params); fails when it does not fit.
    public func store(_ arg: MsgArg) throws(ABIError) {
        guard arg.byteSize <= bytes.count else { throw .truncated(needed: arg.byteSize, available: bytes.count) }
        cmd = arg.cmd; function = arg.function; session = arg.session; cancelID = arg.cancelID
        pad = arg.pad; ret = arg.ret; retOrigin = arg.retOrigin; numParams = UInt32(arg.params.count)
        for (i, p) in arg.params.enumerated() { param(i)?.store(p) }
    }
}

extension MsgArgView {
    /// Copies one `struct optee_msg_arg` from `source` into `destination`, exactly: the 32-byte
    /// header first, then the 32 n bytes of params that the copied header's num_params names,
    /// checked to fit both buffers and `maxParams`. Nothing past the argument in `source` is read,
    /// and num_params is read once, from the copy. Returns a view over exactly the copied
    /// 32 + 32 n bytes of `destination`.
    public static func copyExact(from source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                                 maxParams: Int = MsgArg.maxNumParams) throws(ABIError) -> MsgArgView {
        let room = Swift.min(source.count, destination.count)
        guard room >= MsgArg.headerSize, let s = source.baseAddress, let d = destination.baseAddress else {
            throw .truncated(needed: MsgArg.headerSize, available: room)
        }
        // Sound: both buffers hold at least the header (checked above).
        d.copyMemory(from: s, byteCount: MsgArg.headerSize)
        let n = try MsgArgView(UnsafeMutableRawBufferPointer(start: d, count: room)).paramCount(max: maxParams)
        let size = MsgArg.size(numParams: n)
        // Sound: paramCount checked size <= room, which both buffers hold.
        (d + MsgArg.headerSize).copyMemory(from: s + MsgArg.headerSize, byteCount: size - MsgArg.headerSize)
        return try MsgArgView(UnsafeMutableRawBufferPointer(start: d, count: size))
    }
}

extension OpenSessionMeta {
    /// Parses the two OPEN_SESSION meta params of a view (both must have attr exactly 0x101).
    public init(view: MsgArgView, count: Int) throws(ABIError) {
        guard count >= 2, let p0 = view.param(0), let p1 = view.param(1) else { throw .badMeta(index: Swift.max(0, count)) }
        guard p0.attr == Self.metaAttr else { throw .badMeta(index: 0) }
        guard p1.attr == Self.metaAttr else { throw .badMeta(index: 1) }
        self.init(ta: p0.uuid, client: p1.uuid, login: LoginMethod(rawValue: UInt32(truncatingIfNeeded: p1.valueC)))
    }

    /// Writes the two meta params into params 0 and 1 of a view.
    public func store(into view: MsgArgView) throws(ABIError) {
        guard let p0 = view.param(0), let p1 = view.param(1) else { throw .badMeta(index: 0) }
        p0.clear(); p0.attr = Self.metaAttr; p0.setUUID(ta)
        p1.clear(); p1.attr = Self.metaAttr; p1.setUUID(client); p1.valueC = UInt64(login.rawValue)
    }
}

extension PageList {
    /// In-place view of one 4 KiB list page: 511 data-page addresses and the next pointer.
    public struct PageView {
        /// The list page. Sound: the initializer checked that it holds 4096 bytes.
        @usableFromInline let bytes: UnsafeMutableRawBufferPointer
        /// A view over a 4096-byte list page.
        @inlinable public init(_ bytes: UnsafeMutableRawBufferPointer) throws(ABIError) {
            guard bytes.count >= PageList.pageSize else { throw .truncated(needed: PageList.pageSize, available: bytes.count) }
            self.bytes = bytes
        }
        /// Data-page address `i` (0..<511), or 0 out of range.
        @inlinable public func entry(_ i: Int) -> UInt64 {
            guard i >= 0, i < PageList.entriesPerPage else { return 0 }
            return LE.u64(UnsafeRawBufferPointer(bytes), i * 8)
        }
        /// Sets data-page address `i` (0..<511); out of range is ignored.
        @inlinable public func setEntry(_ i: Int, _ address: UInt64) {
            guard i >= 0, i < PageList.entriesPerPage else { return }
            LE.put(bytes, i * 8, address)
        }
        /// next_page_data: the next list page's address (0 at the end).
        @inlinable public var next: UInt64 {
            get { LE.u64(UnsafeRawBufferPointer(bytes), PageList.nextPointerOffset) }
            nonmutating set { LE.put(bytes, PageList.nextPointerOffset, newValue) }
        }
    }

    /// Walks a page list of `pageCount` data pages starting at list page `first` (page aligned:
    /// strip the buffer offset with `& ~offsetMask` first), allocating nothing up to 127 data
    /// pages (a longer list's scratch page is one temporary heap allocation). The layer that
    /// walks supplies the translation: `readListPage(address, scratch)` copies the first
    /// `scratch.count` bytes of a list page into `scratch` (it decides which addresses are
    /// reachable): all 4096, except for the last list page, of which only the entries the walk
    /// takes are read (one entry of a one-page buffer, not the whole page), and `visit(index,
    /// address)` receives each data-page address in order. A list page is read once, the walk is
    /// bounded by `pageCount`, and a next pointer back to a page already read is a `.loop`.
    /// Inlinable, so each walking layer gets a copy specialized for its error type (no generic
    /// metadata lookup per walk).
    @inlinable
    public static func walk<E: Error>(first: UInt64, pageCount: Int, maxPages: Int,
                                      readListPage: (UInt64, UnsafeMutableRawBufferPointer) throws(E) -> Void,
                                      visit: (Int, UInt64) throws(E) -> Void) throws(PageListWalkError<E>) {
        guard pageCount >= 0, pageCount <= maxPages else { throw .tooLong(pages: pageCount, maximum: maxPages) }
        let lists = listPages(for: pageCount)
        // A one-page list is read only as far as its entries go, so its scratch is that long: up
        // to 127 entries the temporary allocation stays on the stack (a whole page would be
        // malloc'd on every walk).
        let scratchBytes = lists <= 1 ? Swift.max(8, pageCount * 8) : pageSize
        let r: Result<Void, PageListWalkError<E>> = withUnsafeTemporaryAllocation(byteCount: scratchBytes + 8 * Swift.max(1, lists), alignment: 8) { raw in
            // Sound: the temporary allocation lives for this closure; the first `scratchBytes`
            // are the scratch list page, the rest the addresses of list pages already read.
            let scratch = UnsafeMutableRawBufferPointer(rebasing: raw[0..<scratchBytes])
            let visited = UnsafeMutableRawBufferPointer(rebasing: raw[scratchBytes...])
            var done = 0, listIndex = 0
            var listPage = first
            while done < pageCount {
                guard listPage & offsetMask == 0 else { return .failure(.misalignedListPage(listPage)) }
                for k in 0..<listIndex where LE.u64(UnsafeRawBufferPointer(visited), k * 8) == listPage {
                    return .failure(.loop(listPage: listPage))
                }
                if listIndex < lists { LE.put(visited, listIndex * 8, listPage); listIndex += 1 }
                let take = Swift.min(entriesPerPage, pageCount - done)
                // The last list page needs only its first `take` entries (no next pointer).
                let wanted = done + take < pageCount ? pageSize : take * 8
                do throws(E) { try readListPage(listPage, UnsafeMutableRawBufferPointer(rebasing: scratch[0..<wanted])) }
                catch { return .failure(.read(listPage: listPage, error)) }
                // `wanted` <= scratchBytes: a one-page list wants pageCount entries, any other page
                // a whole page.
                let read = UnsafeRawBufferPointer(rebasing: scratch[0..<wanted])
                for i in 0..<take {
                    let e = LE.u64(read, i * 8)
                    guard e & offsetMask == 0 else { return .failure(.misalignedEntry(index: done, address: e)) }
                    do throws(E) { try visit(done, e) } catch { return .failure(.visit(index: done, error)) }
                    done += 1
                }
                if done < pageCount {
                    // Not the last list page: `read` holds all 4096 bytes.
                    let next = LE.u64(read, nextPointerOffset)
                    guard next != 0 else { return .failure(.missingNext(afterEntries: done)) }
                    listPage = next
                }
            }
            return .success(())
        }
        try r.get()
    }
}
