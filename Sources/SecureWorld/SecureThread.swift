// Secure threads: a record, an argument buffer and ONE long-lived task each, never an OS thread.
//
// Choice (issue 10, DESIGN.md section 6). Each secure thread runs one task, created on its first
// call and alive until its VM goes, whose task executor is the thread itself: `enqueue` only
// queues the job, and the vCPU that enters (a std call, or RETURN_FROM_RPC on any vCPU) drains
// the queue on its own OS thread. The task loops "park on an UnsafeContinuation until a command
// is posted -> run it -> publish the exit and park again", so a call costs one continuation
// resume and one drain: no Task, no executor, no CheckedContinuation and no closure allocated per
// call. An RPC parks the task on a second UnsafeContinuation and the drain returns; whichever vCPU
// returns from the RPC resumes it and drains, with no thread hop. A TA that awaits something
// outside the secure world leaves the queue empty with no exit: the drain returns FOREIGN_INTR at
// once (no polling, no sleep) and the next entry drains whatever was enqueued meanwhile.
//
// Measured with a scratch micro-benchmark (release; the same drain/handoff code around an async
// existential TA call with four inline values; 200k calls; thread CPU time per call because the
// 2-core host ran at load ~25; three runs each):
//   per-call Task(executorPreference:) on a job-queue executor, drained (round 1's shape):
//     585-635 ns, 4 mallocs per call
//   the same with one CheckedContinuation "RPC" round per call: 1055-1271 ns, 4 mallocs
//   one long-lived task per thread, UnsafeContinuation handoff (chosen): 371-379 ns, 0 mallocs
// The long-lived task wins on both counts and keeps a suspended call resumable from any vCPU.
import Synchronization
import TAAPI
import TEEABI
import Machine

/// What the normal world answered to an RPC: the registers of RETURN_FROM_RPC, or abort when the
/// VM is gone and the command must unwind.
struct RPCReply: Sendable {
    var a1: UInt64 = 0, a2: UInt64 = 0, a4: UInt64 = 0, a5: UInt64 = 0
    var aborted = false
    static let abort = RPCReply(aborted: true)
}

/// How a drain of a secure thread ended.
enum ThreadExit: Sendable, Equatable {
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

/// The jobs queued on a secure thread, in order; keeps its storage, so steady-state calls (one
/// job at a time) allocate nothing.
struct JobQueue {
    private var jobs: [UnownedJob] = []
    private var head = 0

    init() { jobs.reserveCapacity(4) }

    mutating func push(_ j: UnownedJob) { jobs.append(j) }

    mutating func pop() -> UnownedJob? {
        guard head < jobs.count else { return nil }
        let j = jobs[head]
        head += 1
        if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
        return j
    }

    var isEmpty: Bool { head >= jobs.count }
}

/// One secure thread of a VM's pool, which is also the record of the std call it runs (reused
/// by every call). The partition decides who owns it (`slot`: free -> running <-> suspended);
/// the owner posts commands and RPC answers and drains it. Handoff state sits behind one lock,
/// which is also the job queue's.
final class SecureThread: TaskExecutor, @unchecked Sendable {
    // @unchecked: `setup`, `buffer` and `payload` are written by the vCPU that owns the thread
    // (it won `slot`) before it posts a command, and otherwise only by the thread's own task; the
    // post and every resume go through `box`'s lock, which orders the two.
    /// Thread id as the normal world sees it in a3.
    let index: Int
    unowned let world: SecureWorld
    unowned let partition: Partition
    /// SlotState of this thread in its partition.
    let slot = Atomic<UInt8>(SlotState.free.rawValue)
    /// Set by CANCEL for the call in flight.
    let cancelled = Atomic<Bool>(false)
    /// The normal-world INVOKE in flight, for CANCEL: 1 << 32 | session id (0: none), and its cancel id.
    let inflightSession = Atomic<UInt64>(0)
    let inflightCancelID = Atomic<UInt32>(0)
    /// The current call (see @unchecked above).
    var setup = CallSetup()
    /// Argument copy, RPC argument and bounce area; allocated on the thread's first call.
    var buffer: MsgArgBuffer?
    /// Application shm kept for FS payloads until the call ends (OP-TEE's per-thread shm cache).
    var payload: (buffer: NSBuffer, cookie: UInt64)?
    /// The session this thread's last INVOKE ran on: a client invoking the same session again
    /// finds it without the partition's lock (checked against its closed flag).
    var lastSession: Session?

    struct Box {
        var jobs = JobQueue()
        /// The task, parked until the next command.
        var commandWaiter: UnsafeContinuation<Bool, Never>?
        /// The command, parked at an RPC until its answer.
        var rpcWaiter: UnsafeContinuation<RPCReply, Never>?
        /// How the current drain ends, once known.
        var exit: ThreadExit?
        /// The task exists.
        var started = false
        /// A command was posted before the task parked.
        var commandPending = false
        /// The VM is going away: every RPC answers abort at once.
        var aborting = false
        /// The task must end instead of taking another command.
        var stopping = false
        /// When the current drain started (ns of the world's clock; FOREIGN_INTR ticks).
        var enteredAt: UInt64 = 0
        /// The RPC argument buffer of the cache (RPC_ALLOC'd).
        var rpcArg: RPCArgBuffer?
    }
    let box = Mutex(Box())

    init(index: Int, world: SecureWorld, partition: Partition) {
        self.index = index; self.world = world; self.partition = partition
    }

    /// The thread's buffer, allocated on first use.
    func ensureBuffer() -> MsgArgBuffer {
        if let b = buffer { return b }
        let b = MsgArgBuffer(byteCount: ThreadBuffer.total)
        buffer = b
        return b
    }

    /// Records the normal-world INVOKE this thread runs, for CANCEL.
    func setInflight(session: UInt32, cancelID: UInt32) {
        inflightCancelID.store(cancelID, ordering: .relaxed)
        inflightSession.store(1 << 32 | UInt64(session), ordering: .releasing)
    }
    func clearInflight() { inflightSession.store(0, ordering: .releasing) }
    /// True when this thread runs an INVOKE of `session` with `cancelID`.
    func isRunning(session: UInt32, cancelID: UInt32) -> Bool {
        inflightSession.load(ordering: .acquiring) == 1 << 32 | UInt64(session)
            && inflightCancelID.load(ordering: .relaxed) == cancelID
    }

    // MARK: TaskExecutor

    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        box.withLock { $0.jobs.push(j) }
    }

    // MARK: Owner side (the vCPU that holds the thread)

    /// Posts the command prepared in `call` and wakes the task (creating it on first use). The
    /// caller owns the thread and drains it next.
    func start(now: UInt64) {
        let (waiter, create) = box.withLock { b -> (UnsafeContinuation<Bool, Never>?, Bool) in
            b.enteredAt = now
            b.exit = nil
            if let w = b.commandWaiter { b.commandWaiter = nil; return (w, false) }
            b.commandPending = true
            if b.started { return (nil, false) }
            b.started = true
            return (nil, true)
        }
        if create { Task(executorPreference: self) { await self.serve() } }
        waiter?.resume(returning: true)
    }

    /// Resumes a command suspended at an RPC with the normal world's answer.
    func resume(_ reply: RPCReply, now: UInt64) {
        // A continuation whose RPC was not delivered yet (posted while the thread was parked
        // after an external await) is not the one this answer is for: leave it for the next drain.
        let c = box.withLock { b -> UnsafeContinuation<RPCReply, Never>? in
            b.enteredAt = now
            guard b.exit == nil else { return nil }
            let c = b.rpcWaiter; b.rpcWaiter = nil; return c
        }
        c?.resume(returning: reply)
    }

    /// Runs queued jobs on the calling thread until the command suspends at an RPC or ends. An
    /// empty queue with no exit means the TA awaits something outside the secure world: the
    /// thread yields to the normal world with FOREIGN_INTR at once.
    func drain() -> ThreadExit {
        enum Step { case job(UnownedJob), exit(ThreadExit?) }
        while true {
            let step = box.withLock { b -> Step in
                if let j = b.jobs.pop() { return .job(j) }
                let e = b.exit; b.exit = nil
                return .exit(e)
            }
            switch step {
            case let .job(j): j.runSynchronously(on: asUnownedTaskExecutor())
            case let .exit(e): return e ?? .rpc(a0: SMCReturn.rpc(.foreignInterrupt).rawValue, a1: 0, a2: 0)
            }
        }
    }

    /// Ends the task: the next time it would take a command it returns. Drains what is queued on
    /// the calling thread (the VM is gone, nobody else will). Returns how the last drain ended.
    @discardableResult
    func stop() -> ThreadExit {
        let w = box.withLock { b -> UnsafeContinuation<Bool, Never>? in
            b.stopping = true; b.aborting = true
            let w = b.commandWaiter; b.commandWaiter = nil; return w
        }
        w?.resume(returning: false)
        return drain()
    }

    /// Asks the task to end after the command it runs now (its VM is being destroyed).
    func requestStop() { box.withLock { $0.stopping = true; $0.aborting = true } }

    /// Marks the thread as aborting (its VM is being destroyed).
    func setAborting() { box.withLock { $0.aborting = true } }
    var isAborting: Bool { box.withLock { $0.aborting } }

    /// When the current drain started (ns of the world's clock).
    var enteredAt: UInt64 { box.withLock { $0.enteredAt } }

    // MARK: Task side

    /// The thread's task: takes commands until stopped.
    private func serve() async {
        var exit: ThreadExit? = nil
        while await nextCommand(publishing: exit) {
            exit = .done(a0: await run().rawValue)
        }
    }

    /// Publishes how the previous command ended and parks until the next one (false: stop).
    private func nextCommand(publishing exit: ThreadExit?) async -> Bool {
        await withUnsafeContinuation { (c: UnsafeContinuation<Bool, Never>) in
            let now: Bool? = box.withLock { b in
                if let exit { b.exit = exit }
                if b.stopping { return false }
                if b.commandPending { b.commandPending = false; return true }
                b.commandWaiter = c
                return nil
            }
            if let now { c.resume(returning: now) }
        }
    }

    /// Suspends the running command at an RPC: the drain ends and the SMC returns `a0, a1, a2`.
    /// Returns the normal world's answer (or abort).
    func rpc(_ a0: UInt32, _ a1: UInt64 = 0, _ a2: UInt64 = 0) async -> RPCReply {
        await withUnsafeContinuation { (c: UnsafeContinuation<RPCReply, Never>) in
            let abort: Bool = box.withLock { b in
                if b.aborting { return true }
                b.exit = .rpc(a0: a0, a1: a1, a2: a2); b.rpcWaiter = c
                return false
            }
            if abort { c.resume(returning: .abort) }
        }
    }
}
