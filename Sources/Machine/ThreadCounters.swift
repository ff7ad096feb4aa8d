/// Event counters for a hot path that many threads run: each counting thread owns one cache line
/// of counters and bumps it with a plain load and store (no locked instruction, no line shared
/// with another core); a read sums every line. The platform's trap count and the mediator's
/// fast-call count use it (issue 10: a locked add was the largest single item of a fast call).
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Up to `ThreadCounters.kinds` monotonic counters, counted per thread and summed on read.
///
/// A thread hashes its identity to one of 32 lines; the first thread to land on a free line
/// claims it (compare-exchange of the line's owner word, once) and from then on is the line's
/// only writer, so a relaxed load and store count exactly. Owners are never released: a thread
/// id is reused only after its thread ended (the new thread is then the line's only writer
/// again), so a line never has two live writers. A thread whose line another thread owns counts
/// with an atomic add in that line's overflow stripe (exact, only slower; it shares the stripe
/// only with other threads of the same line, never with the owner).
///
/// Layout, so that no 64-byte cache line is written by two threads or holds a written word and
/// a read-mostly one: the owner words are packed together (written once per line, then only
/// read: every caller keeps them cached) between 64 free bytes on each side; each line's counts
/// and each overflow stripe take 64 bytes at 128-byte steps, with 64 free bytes before each and
/// after the last, whatever the alignment of the object holding them.
///
/// A noncopyable value stored inline in its owner (as `Atomic` is), so bumping it retains nothing.
public struct ThreadCounters: ~Copyable, Sendable {
    /// How many counters (kinds) one instance keeps.
    public static let kinds = 7
    @usableFromInline static var lines: Int { 32 }
    /// Words from one line's counts (or overflow stripe) to the next.
    @usableFromInline static var stride: Int { 16 }
    /// Owner of line `l`: `owners[ownerBase + l]` (0: free).
    @usableFromInline static var ownerBase: Int { 8 }
    /// Count `k` of line `l`: `counts[countBase + l * stride + k]`.
    @usableFromInline static var countBase: Int { 8 }
    /// Owner thread of each line, with 8 free words on each side.
    @usableFromInline let owners: InlineArray<48, Atomic<UInt>>
    /// Each line's counts, written only by its owner.
    @usableFromInline let counts: InlineArray<520, Atomic<UInt>>
    /// Each line's overflow stripe: counts of threads that hash to a line another thread owns.
    @usableFromInline let overflow: InlineArray<520, Atomic<Int>>

    /// Counters at zero.
    public init() {
        owners = InlineArray { _ in Atomic<UInt>(0) }
        counts = InlineArray { _ in Atomic<UInt>(0) }
        overflow = InlineArray { _ in Atomic<Int>(0) }
    }

    /// The calling thread's identity (never 0).
    @inlinable @inline(__always) static func currentThread() -> UInt {
        #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
        #else
        UInt(pthread_self())
        #endif
    }

    /// Adds one to counter `kind` (0 ..< `kinds`) for the calling thread.
    @inlinable @inline(__always)
    public func increment(_ kind: Int) {
        let me = Self.currentThread()
        let line = Int(truncatingIfNeeded: (UInt64(me) &* 0x9E37_79B9_7F4A_7C15) >> 59)
        if owners[Self.ownerBase &+ line].load(ordering: .relaxed) == me {
            let w = Self.countBase &+ line &* Self.stride &+ kind
            counts[w].store(counts[w].load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        } else {
            incrementUnowned(kind, me: me, line: line)
        }
    }

    /// A count of a thread that does not own its line: claim the line if it is free, else
    /// count in the line's overflow stripe.
    @usableFromInline @inline(never)
    func incrementUnowned(_ kind: Int, me: UInt, line: Int) {
        let o = Self.ownerBase &+ line
        if owners[o].load(ordering: .relaxed) == 0,
           owners[o].compareExchange(expected: 0, desired: me, ordering: .relaxed).exchanged {
            let w = Self.countBase &+ line &* Self.stride &+ kind
            counts[w].store(counts[w].load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        } else {
            overflow[Self.countBase &+ line &* Self.stride &+ kind].wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Counter `kind` summed over every thread (each line's count as last stored).
    public func value(_ kind: Int) -> Int {
        var sum = 0
        for l in 0..<Self.lines {
            let w = Self.countBase &+ l &* Self.stride &+ kind
            sum &+= Int(bitPattern: counts[w].load(ordering: .relaxed)) &+ overflow[w].load(ordering: .relaxed)
        }
        return sum
    }
}
