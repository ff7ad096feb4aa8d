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
/// only writer, so a relaxed load and store count exactly. A thread whose line another thread
/// owns counts in a shared atomic instead (exact, only slower). Owners are never released: a
/// thread id is reused only after its thread ended (the new thread is then the line's only
/// writer again), so a line never has two live writers.
///
/// A noncopyable value stored inline in its owner (as `Atomic` is), so bumping it retains nothing.
public struct ThreadCounters: ~Copyable, Sendable {
    /// How many counters (kinds) one instance keeps.
    public static let kinds = 7
    @usableFromInline static var lines: Int { 32 }
    /// Words from one line's start to the next: a line's 8 words (64 bytes) sit at words 8...15 of
    /// its 16, so 64 unused bytes lie before each line and after the last (words 512...519): no
    /// 64-byte cache line holds words of two lines, or a line and the owner's other fields,
    /// whatever the alignment of the object holding them.
    @usableFromInline static var lineStride: Int { 16 }
    @usableFromInline static var lineOffset: Int { 8 }
    /// Line `l` is words `l * lineStride + lineOffset` ... `+ 7`: the first is the owner thread
    /// (0: free), the next `kinds` the counts.
    @usableFromInline let words: InlineArray<520, Atomic<UInt>>
    /// Counts of threads that own no line.
    @usableFromInline let shared: InlineArray<8, Atomic<Int>>

    /// Counters at zero.
    public init() {
        words = InlineArray { _ in Atomic<UInt>(0) }
        shared = InlineArray { _ in Atomic<Int>(0) }
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
        let line = Int(truncatingIfNeeded: (UInt64(me) &* 0x9E37_79B9_7F4A_7C15) >> 59) &* Self.lineStride &+ Self.lineOffset
        if words[line].load(ordering: .relaxed) == me {
            let w = line &+ 1 &+ kind
            words[w].store(words[w].load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        } else {
            incrementUnowned(kind, me: me, line: line)
        }
    }

    /// The first count of a thread on its line: claim the line if it is free, else count shared.
    @usableFromInline @inline(never)
    func incrementUnowned(_ kind: Int, me: UInt, line: Int) {
        if words[line].compareExchange(expected: 0, desired: me, ordering: .relaxed).exchanged {
            let w = line &+ 1 &+ kind
            words[w].store(words[w].load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        } else {
            shared[kind].wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// Counter `kind` summed over every thread (each line's count as last stored).
    public func value(_ kind: Int) -> Int {
        var sum = shared[kind].load(ordering: .relaxed)
        for l in 0..<Self.lines {
            sum &+= Int(bitPattern: words[l &* Self.lineStride &+ Self.lineOffset &+ 1 &+ kind].load(ordering: .relaxed))
        }
        return sum
    }
}
