// The lock of state every vCPU of a guest touches on each call (the mediator's guest record, the
// secure world's partition shards, the driver's call queue). Host side, in whichever world owns
// the state; touches only the value it guards and its own lock word.
//
// Why not Synchronization's Mutex (round 6, `perf record -e sched:sched_switch` of the throughput
// sweep): on Linux, Mutex is a priority-inheritance futex. A contended lock sleeps in the kernel at
// once, and an unlock with a sleeper hands the lock to that sleeper, so every later caller waits
// until the sleeper is scheduled again. Two or more threads of one guest calling at once formed a
// convoy: 40k context switches in the guest-slot lock in one quick sweep, p99 0.35-0.95 ms at 16
// guests x 2 threads, throughput 60-85% of the 4-guest figure; a spin before `withLock` did not
// break it (the hand-over still happened). glibc's adaptive pthread mutex did (throughput flat
// from 4 to 64 guests, p99 3-6 us) but cost a NOP invoke ~6% single-threaded (three out-of-line
// lock/unlock pairs). This lock (CShim's vtee_cplock_*) has an inline compare-and-swap fast path,
// spins briefly when contended, then sleeps on a private futex; a released lock goes to whoever
// takes it first, so a sleeper appears only when a holder was preempted.
import CShim

/// A value behind a barging spin-then-futex lock, for short critical sections taken by several
/// vCPU threads on every call. `withLock` has Mutex's shape, so call sites read the same.
public final class CallPathLock<Value>: @unchecked Sendable {
    // @unchecked: `value` is read and written only inside `withLock`, with `word` held.
    @usableFromInline let word: UnsafeMutablePointer<UInt32>
    @usableFromInline let value: UnsafeMutablePointer<Value>

    /// A lock guarding `initial`.
    public init(_ initial: sending Value) {
        // Sound: both cells are allocated and initialized here, and freed only in deinit.
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
        value = .allocate(capacity: 1)
        value.initialize(to: initial)
    }

    deinit {
        // Sound: nobody holds the lock or reads the value once the last reference is gone.
        word.deinitialize(count: 1); word.deallocate()
        value.deinitialize(count: 1); value.deallocate()
    }

    /// Runs `body` on the value with the lock held.
    // Inlinable: otherwise every other module called the unspecialized generic through a
    // reabstraction thunk for its closure (~2% of an RPC invoke over its lock holds).
    @inlinable @inline(__always)
    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        vtee_cplock_lock(word)
        defer { vtee_cplock_unlock(word) }
        // Sound: the lock is held, so this thread is the only one touching the cell.
        return try body(&value.pointee)
    }
}
