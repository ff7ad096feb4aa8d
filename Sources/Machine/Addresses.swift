/// Machine: the emulated hardware. Typed addresses (IPA vs PA, as Xen's gfn_t/mfn_t),
/// physical memory made of regions, per-guest stage-2 tables with pinning.
///
/// Runs on the host; owns all raw memory. Every unsafe pointer of vtee outside the
/// codecs lives in this module, each block with the reason it is sound.
import TEEABI

/// Size of a page everywhere in vtee (OPTEE_MSG_NONCONTIG_PAGE_SIZE).
public let pageSize = 4096
/// log2(pageSize).
public let pageShift: UInt64 = 12

/// An intermediate physical address: what a guest calls physical. Only a stage-2 table turns it into a `PA`.
public struct IPA: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address as a number.
    public let raw: UInt64
    @inlinable public init(_ raw: UInt64) { self.raw = raw }
    /// The page this address is in.
    @inlinable public var page: IPAPage { IPAPage(raw >> pageShift) }
    /// Offset inside the page.
    @inlinable public var pageOffset: Int { Int(raw & UInt64(pageSize - 1)) }
    /// Page aligned.
    @inlinable public var isPageAligned: Bool { raw & UInt64(pageSize - 1) == 0 }
    /// `self + n`, or nil on overflow.
    @inlinable public func adding(_ n: UInt64) -> IPA? {
        let (r, o) = raw.addingReportingOverflow(n); return o ? nil : IPA(r)
    }
    /// Orders addresses numerically.
    public static func < (l: IPA, r: IPA) -> Bool { l.raw < r.raw }
    public var description: String { "IPA(\(hex(raw, width: 1)))" }
}

/// A physical address in the machine's single physical address space.
public struct PA: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address as a number.
    public let raw: UInt64
    @inlinable public init(_ raw: UInt64) { self.raw = raw }
    /// The page this address is in.
    @inlinable public var page: PAPage { PAPage(raw >> pageShift) }
    /// Offset inside the page.
    @inlinable public var pageOffset: Int { Int(raw & UInt64(pageSize - 1)) }
    /// Page aligned.
    @inlinable public var isPageAligned: Bool { raw & UInt64(pageSize - 1) == 0 }
    /// `self + n`, or nil on overflow.
    @inlinable public func adding(_ n: UInt64) -> PA? {
        let (r, o) = raw.addingReportingOverflow(n); return o ? nil : PA(r)
    }
    /// Orders addresses numerically.
    public static func < (l: PA, r: PA) -> Bool { l.raw < r.raw }
    public var description: String { "PA(\(hex(raw, width: 1)))" }
}

/// A guest page frame number (IPA >> 12).
public struct IPAPage: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The page frame number.
    public let number: UInt64
    @inlinable public init(_ number: UInt64) { self.number = number }
    /// The page's first address.
    @inlinable public var address: IPA { IPA(number << pageShift) }
    /// The next page.
    @inlinable public var next: IPAPage { IPAPage(number &+ 1) }
    public static func < (l: IPAPage, r: IPAPage) -> Bool { l.number < r.number }
    public var description: String { "IPAPage(\(hex(number, width: 1)))" }
}

/// A machine page frame number (PA >> 12).
public struct PAPage: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The page frame number.
    public let number: UInt64
    @inlinable public init(_ number: UInt64) { self.number = number }
    /// The page's first address.
    @inlinable public var address: PA { PA(number << pageShift) }
    public static func < (l: PAPage, r: PAPage) -> Bool { l.number < r.number }
    public var description: String { "PAPage(\(hex(number, width: 1)))" }
}

/// A guest (VM) identity. OP-TEE's client id for it is `id + 1`; 0 is the hypervisor.
public struct GuestID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The guest number.
    public let raw: UInt32
    @inlinable public init(_ raw: UInt32) { self.raw = raw }
    /// The client id the secure world sees in a7.
    @inlinable public var clientID: UInt64 { UInt64(raw) + 1 }
    public static func < (l: GuestID, r: GuestID) -> Bool { l.raw < r.raw }
    public var description: String { "guest \(raw)" }
}

/// Why a memory access or mapping failed.
public enum MemoryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No stage-2 entry for this guest page.
    case unmapped(IPA)
    /// The page's type forbids this access (read-only written, foreign used as RAM).
    case wrongType(IPA, PageType)
    /// No region (or not the caller's world's region) covers the PA range.
    case outOfRange(PA, count: Int)
    /// Address plus length wraps around.
    case overflow
    /// A secure region was addressed from the non-secure side.
    case secureAccessDenied(PA)
    /// The page is not pinned by this guest.
    case notPinned(PAPage)
    /// The PA is not RAM of this guest (mapping refused).
    case notGuestRAM(PAPage)
    /// No free page left in the allocator or region space.
    case exhausted
    /// The host refused (mmap, memfd) with errno.
    case host(errno: Int32, what: String)

    public var description: String {
        switch self {
        case let .unmapped(i): "unmapped: \(i)"
        case let .wrongType(i, t): "wrong page type \(t) at \(i)"
        case let .outOfRange(p, c): "out of range: \(c) bytes at \(p)"
        case .overflow: "address overflow"
        case let .secureAccessDenied(p): "secure memory not reachable from the non-secure side: \(p)"
        case let .notPinned(p): "not pinned: \(p)"
        case let .notGuestRAM(p): "not this guest's RAM: \(p)"
        case .exhausted: "out of pages"
        case let .host(e, w): "host error \(e) in \(w)"
        }
    }
}

/// The type of a stage-2 mapping.
public enum PageType: UInt8, Sendable, CustomStringConvertible {
    /// Guest RAM, read-write.
    case ramReadWrite = 1
    /// Guest RAM, read-only.
    case ramReadOnly = 2
    /// Foreign or MMIO: not RAM, never shareable.
    case foreign = 3
    public var description: String {
        switch self { case .ramReadWrite: "RAM rw"; case .ramReadOnly: "RAM ro"; case .foreign: "foreign" }
    }
}
