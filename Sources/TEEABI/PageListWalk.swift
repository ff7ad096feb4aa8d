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
    /// The walking layer refused data page `index` (untranslatable, not RAM, over a limit ...).
    case visit(index: Int, ReadError)
}

extension PageListWalkError: Equatable where ReadError: Equatable {}

/// What the collecting walk's reader failed with: the caller's error, or a short list page.
public enum PageListStep<E: Error>: Error { case reader(E), short(Int) }

extension PageList {
    /// Walks a page list and returns the `pageCount` data-page addresses in order: the
    /// collecting form of `walk(first:pageCount:maxPages:readListPage:visit:)`, for tools and
    /// tests. `readListPage` returns a list page's bytes (at least 4096).
    public static func walk<E: Error>(first: UInt64, pageCount: Int, maxPages: Int,
                                      readListPage: (UInt64) throws(E) -> [UInt8]) throws(PageListWalkError<E>) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(max(0, min(pageCount, maxPages)))
        do {
            try walk(first: first, pageCount: pageCount, maxPages: maxPages,
                     readListPage: { (address, scratch) throws(PageListStep<E>) in
                         let bytes: [UInt8]
                         do throws(E) { bytes = try readListPage(address) } catch { throw .reader(error) }
                         guard bytes.count >= pageSize else { throw .short(bytes.count) }
                         scratch.copyBytes(from: bytes.prefix(scratch.count))
                     },
                     visit: { (_, address) throws(PageListStep<E>) in out.append(address) })
        } catch {
            switch error {
            case let .tooLong(p, m): throw .tooLong(pages: p, maximum: m)
            case let .loop(l): throw .loop(listPage: l)
            case let .misalignedListPage(a): throw .misalignedListPage(a)
            case let .misalignedEntry(i, a): throw .misalignedEntry(index: i, address: a)
            case let .missingNext(n): throw .missingNext(afterEntries: n)
            case let .truncated(l, b): throw .truncated(listPage: l, bytes: b)
            case let .read(l, .short(b)): throw .truncated(listPage: l, bytes: b)
            case let .read(l, .reader(e)): throw .read(listPage: l, e)
            case let .visit(i, .reader(e)): throw .visit(index: i, e)
            case let .visit(_, .short(b)): throw .truncated(listPage: first, bytes: b)
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
