// The lock of state every vCPU of a guest touches on each call (the mediator's guest record). Host
// side, in whichever world owns the state; touches only the value it guards.
//
// Why not Synchronization's Mutex (round 6, `perf record -e sched:sched_switch` of the throughput
// sweep): on Linux, Mutex is a priority-inheritance futex. A contended lock sleeps in the kernel at
// once, and an unlock with a sleeper hands the lock to that sleeper, so every later caller waits
// until the sleeper is scheduled again. Two or more threads of one guest calling at once formed a
// convoy: 40k context switches in the guest-slot lock in one quick sweep, p99 0.35-0.95 ms at 16
// guests x 2 threads, throughput 60-85% of the 4-guest figure. A spin before `withLock` did not
// break it (the hand-over still happened). glibc's adaptive mutex spins briefly, and its unlock
// frees the lock for whoever comes next, so a sleeper appears only when a holder was preempted.
import CShim
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind glibc's adaptive mutex, for short critical sections taken by several vCPU
/// threads on every call. `withLock` has Mutex's shape, so call sites read the same.
public final class CallPathLock<Value>: @unchecked Sendable {
    // @unchecked: `value` is read and written only inside `withLock`, with `mutex` held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let value: UnsafeMutablePointer<Value>

    /// A lock guarding `initial`.
    public init(_ initial: sending Value) {
        // Sound: both cells are allocated here, initialized before use and freed only in deinit.
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        _ = vtee_mutex_init_adaptive(mutex)
        value = .allocate(capacity: 1)
        value.initialize(to: initial)
    }

    deinit {
        // Sound: nobody holds the lock once the last reference is gone.
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1); mutex.deallocate()
        value.deinitialize(count: 1); value.deallocate()
    }

    /// Runs `body` on the value with the lock held.
    @inline(__always)
    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        // Sound: the lock is held, so this thread is the only one touching the cell.
        return try body(&value.pointee)
    }
}
