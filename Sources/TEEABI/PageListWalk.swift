/// A total walker over OPTEE_MSG_ATTR_NONCONTIG page lists: follows next pointers
/// list page by list page and returns the data-page addresses, or a typed error for
/// lists that loop, point at misaligned pages, run out, or are longer than allowed.

/// Why a page list could not be walked. `ReadError` is whatever the list-page reader throws.
public enum PageListWalkError<ReadError: Error>: Error {
    /// The buffer needs more pages than the caller allows (or a negative count).
    case tooLong(pages: Int, maximum: Int)
    /// A list page was reached a second time: the next pointers form a loop.
    case loop(listPage: UInt64)
    /// A list-page address (the first, or a next pointer) is not 4 KiB aligned.
    case misalignedListPage(UInt64)
    /// A data-page entry is not 4 KiB aligned.
    case misalignedEntry(index: Int, address: UInt64)
    /// A next pointer is zero while entries remain to be read.
    case missingNext(afterEntries: Int)
    /// The reader returned fewer than 4096 bytes for a list page.
    case truncated(listPage: UInt64, bytes: Int)
    /// The reader refused the list page (outside what the caller may read, unmapped, ...).
    case read(listPage: UInt64, ReadError)
}

extension PageListWalkError: Equatable where ReadError: Equatable {}

extension PageList {
    /// Walks a page list of `pageCount` data pages that starts at list page `first` (page
    /// aligned: strip the buffer offset with `& ~offsetMask` first). Each list page is read
    /// once through `readListPage`, which gets the list page's address and returns its 4096
    /// bytes (it decides which addresses are reachable). Fails with a typed error, never traps.
    /// - Returns: the `pageCount` data-page addresses, in order.
    public static func walk<E: Error>(first: UInt64, pageCount: Int, maxPages: Int,
                                      readListPage: (UInt64) throws(E) -> [UInt8]) throws(PageListWalkError<E>) -> [UInt64] {
        guard pageCount >= 0, pageCount <= maxPages else { throw .tooLong(pages: pageCount, maximum: maxPages) }
        var out: [UInt64] = []
        out.reserveCapacity(pageCount)
        var listPage = first
        var visited = Set<UInt64>()
        while out.count < pageCount {
            guard listPage & offsetMask == 0 else { throw .misalignedListPage(listPage) }
            guard visited.insert(listPage).inserted else { throw .loop(listPage: listPage) }
            let bytes: [UInt8]
            do { bytes = try readListPage(listPage) } catch { throw .read(listPage: listPage, error) }
            guard bytes.count >= pageSize else { throw .truncated(listPage: listPage, bytes: bytes.count) }
            let take = min(entriesPerPage, pageCount - out.count)
            // The codec reads only within the 4096 bytes checked above.
            let page: Page? = bytes.withUnsafeBytes { b in try? Page.decode(b, count: take) }
            guard let page else { throw .truncated(listPage: listPage, bytes: bytes.count) }
            for e in page.entries {
                guard e & offsetMask == 0 else { throw .misalignedEntry(index: out.count, address: e) }
                out.append(e)
            }
            if out.count < pageCount {
                guard page.next != 0 else { throw .missingNext(afterEntries: out.count) }
                listPage = page.next
            }
        }
        return out
    }

    /// Builds list pages for `dataPages` addresses: page i lists entries [511 i, 511 (i+1)) and
    /// points at `listPageAddresses[i + 1]` (0 after the last). Fails when the counts disagree.
    public static func build(dataPages: [UInt64], listPageAddresses: [UInt64]) throws(ABIError) -> [[UInt8]] {
        let n = listPages(for: dataPages.count)
        guard listPageAddresses.count == n else { throw .pageListTooLong(pages: listPageAddresses.count, maximum: n) }
        var pages: [[UInt8]] = []
        for i in 0..<n {
            let chunk = Array(dataPages[(i * entriesPerPage)..<min(dataPages.count, (i + 1) * entriesPerPage)])
            let next = i + 1 < n ? listPageAddresses[i + 1] : 0
            pages.append(Page(entries: chunk, next: next).encoded())
        }
        return pages
    }
}
