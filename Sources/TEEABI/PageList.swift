/// The non-contiguous page list of OPTEE_MSG_ATTR_NONCONTIG: each 4 KiB list page
/// holds 511 data-page addresses and, at byte 4088, the address of the next list page.

/// Constants and codec of OPTEE_MSG_ATTR_NONCONTIG page lists.
public enum PageList {
    /// OPTEE_MSG_NONCONTIG_PAGE_SIZE.
    @inlinable public static var pageSize: Int { 4096 }
    /// Data-page addresses per list page.
    @inlinable public static var entriesPerPage: Int { 511 }
    /// Byte offset of next_page_data in a list page.
    @inlinable public static var nextPointerOffset: Int { 4088 }
    /// Low 12 bits of tmem.buf_ptr: the buffer's offset inside its first page.
    @inlinable public static var offsetMask: UInt64 { 0xFFF }

    /// Number of data pages a buffer of `size` bytes starting at `offset` in its first page spans.
    /// Fails on overflow.
    public static func pageCount(offset: UInt64, size: UInt64) throws(ABIError) -> Int {
        let (end, o) = (offset & offsetMask).addingReportingOverflow(size)
        guard !o else { throw .sizeOverflow }
        let (rounded, o2) = end.addingReportingOverflow(UInt64(pageSize - 1))
        guard !o2 else { throw .sizeOverflow }
        let n = rounded / UInt64(pageSize)
        guard n <= UInt64(Int32.max) else { throw .sizeOverflow }
        return Int(n)
    }

    /// Number of list pages needed for `dataPages` entries.
    @inlinable public static func listPages(for dataPages: Int) -> Int { (dataPages + entriesPerPage - 1) / entriesPerPage }

    /// One decoded list page: its entries (only the first `count` are meaningful) and the next pointer.
    public struct Page: Hashable, Sendable {
        /// Data-page addresses.
        public var entries: [UInt64]
        /// Address of the next list page (0 at the end).
        public var next: UInt64
        /// A list page.
        public init(entries: [UInt64], next: UInt64) { self.entries = entries; self.next = next }

        /// Decodes one 4096-byte list page, returning the first `count` entries (<= 511).
        public static func decode(_ bytes: UnsafeRawBufferPointer, count: Int) throws(ABIError) -> Page {
            guard bytes.count >= PageList.pageSize else { throw .truncated(needed: PageList.pageSize, available: bytes.count) }
            let n = min(max(count, 0), PageList.entriesPerPage)
            var e: [UInt64] = []
            e.reserveCapacity(n)
            for i in 0..<n { e.append(LE.u64(bytes, i * 8)) }
            return Page(entries: e, next: LE.u64(bytes, PageList.nextPointerOffset))
        }

        /// Encodes into a 4096-byte page (unused entries zero).
        public func encoded() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: PageList.pageSize)
            out.withUnsafeMutableBytes { b in
                for (i, v) in entries.prefix(PageList.entriesPerPage).enumerated() { LE.put(b, i * 8, v) }
                LE.put(b, PageList.nextPointerOffset, next)
            }
            return out
        }
    }
}
