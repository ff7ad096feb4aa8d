// Secure threads: a record plus, while suspended at an RPC, a continuation. A command runs as a
// task whose executor is the thread's own job queue, drained by whichever vCPU entered.
import Synchronization
import TAAPI
import TEEABI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A task executor that only queues jobs; the vCPU that enters the secure world drains it on its
/// own OS thread, so a std call runs on the caller's thread down to the TA and back.
final class JobQueueExecutor: TaskExecutor {
    private let jobs = Mutex<[UnownedJob]>([])

    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        jobs.withLock { $0.append(j) }
    }

    /// Runs queued jobs on the calling thread until the queue is empty.
    func drain() {
        while let j = jobs.withLock({ q -> UnownedJob? in q.isEmpty ? nil : q.removeFirst() }) {
            j.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// True when a job waits.
    var hasJobs: Bool { jobs.withLock { !$0.isEmpty } }
}

/// What the normal world answered to an RPC: the registers of RETURN_FROM_RPC, or abort when the
/// VM is gone and the command must unwind.
struct RPCReply: Sendable {
    var a1: UInt64 = 0, a2: UInt64 = 0, a4: UInt64 = 0, a5: UInt64 = 0
    var aborted = false
    static let abort = RPCReply(aborted: true)
}

/// How a drain of a secure thread ended.
enum ThreadExit: Sendable {
    /// Suspended at an RPC: return a0 = RPC code, a1, a2 to the normal world.
    case rpc(a0: UInt32, a1: UInt64, a2: UInt64)
    /// The std call finished with this SMC return code.
    case done(a0: UInt32)
}

/// The RPC argument buffer a thread uses for RPC_CMD: supplied with the call (CALL_WITH_RPC_ARG,
/// CALL_WITH_REGD_ARG; cookie 0) or allocated with RPC_ALLOC (kept when the shm cache is on).
struct RPCArgBuffer: Sendable {
    let buffer: NSBuffer
    let cookie: UInt64
    let supplied: Bool
}

/// One secure thread of a VM's pool. Its mutable state sits behind its own lock; the partition
/// decides who may drain it (the state machine free -> running <-> suspended).
final class SecureThread: Sendable {
    /// Thread id as the normal world sees it in a3.
    let index: Int
    let executor = JobQueueExecutor()

    struct Box {
        var exit: ThreadExit?
        var continuation: CheckedContinuation<RPCReply, Never>?
        /// The VM is going away: every RPC answers abort at once.
        var aborting = false
        /// When the current drain started (for FOREIGN_INTR ticks).
        var enteredAt = ContinuousClock.now
        /// The RPC argument buffer of the current call or the cache.
        var rpcArg: RPCArgBuffer?
    }
    let box = Mutex(Box())

    init(index: Int) { self.index = index }

    /// Suspends the running command at an RPC: the drain ends and the SMC returns `a0, a1, a2`.
    /// Returns the normal world's answer (or abort).
    func rpc(_ a0: UInt32, _ a1: UInt64 = 0, _ a2: UInt64 = 0) async -> RPCReply {
        if box.withLock({ $0.aborting }) { return .abort }
        return await withCheckedContinuation { (c: CheckedContinuation<RPCReply, Never>) in
            let abort: Bool = box.withLock { b in
                if b.aborting { return true }
                b.exit = .rpc(a0: a0, a1: a1, a2: a2); b.continuation = c
                return false
            }
            if abort { c.resume(returning: .abort) }
        }
    }

    /// Records the end of the command.
    func finish(_ a0: UInt32) { box.withLock { $0.exit = .done(a0: a0) } }

    /// Resumes a suspended command with the normal world's answer (the caller owns the thread).
    func resume(_ reply: RPCReply) {
        // A continuation whose RPC was not delivered yet (posted while the thread was parked
        // after an external await) is not the one this answer is for: leave it for the next drain.
        let c = box.withLock { b -> CheckedContinuation<RPCReply, Never>? in
            guard b.exit == nil else { return nil }
            let c = b.continuation; b.continuation = nil; return c
        }
        c?.resume(returning: reply)
    }

    /// Drains the job queue on the calling thread until the command suspends at an RPC or ends.
    /// A TA that awaits something outside the secure world (it must not) gets `pollBudget` of
    /// polling, then the thread yields to the normal world with FOREIGN_INTR and polls again on resume.
    func run(pollBudget: Duration) -> ThreadExit {
        box.withLock { $0.enteredAt = .now }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: pollBudget)
        var sleep: UInt32 = 10
        while true {
            executor.drain()
            if let e = box.withLock({ b -> ThreadExit? in let e = b.exit; b.exit = nil; return e }) { return e }
            if executor.hasJobs { continue }
            if clock.now >= deadline {
                return .rpc(a0: SMCReturn.rpc(.foreignInterrupt).rawValue, a1: 0, a2: 0)
            }
            usleep(sleep)
            sleep = min(sleep * 2, 1000)
        }
    }

    /// True when the command is parked at an RPC continuation (as opposed to an external await).
    var hasContinuation: Bool { box.withLock { $0.continuation != nil } }

    /// Marks the thread as aborting (its VM is being destroyed).
    func setAborting() { box.withLock { $0.aborting = true } }
    var isAborting: Bool { box.withLock { $0.aborting } }

    /// Time since the current drain started.
    var sinceEntry: Duration { ContinuousClock.now - box.withLock { $0.enteredAt } }
}
