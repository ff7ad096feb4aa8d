// Secure threads: a record, an argument buffer and ONE long-lived task each, never an OS thread.
//
// Choice (issue 10, DESIGN.md section 6). Each secure thread runs one task, created on its first
// call and alive until its VM goes, isolated to an actor whose executor is the thread itself:
// `enqueue` only queues the job, and the vCPU that enters (a std call, or RETURN_FROM_RPC on any
// vCPU) drains the queue on its own OS thread. The task loops "park until a command is posted ->
// run it -> publish the exit and park again", so a call costs one unpark and one drain: no Task,
// no closure and no allocation per call. An RPC parks the task again and the drain returns;
// whichever vCPU returns from the RPC unparks it and drains, with no thread hop. A TA that awaits
// something outside the secure world leaves the queue empty with no exit: the drain returns
// FOREIGN_INTR at once (no polling, no sleep) and the next entry drains whatever was enqueued
// meanwhile.
//
// Parking is a hop to a second actor (`ParkingSpot`) whose executor keeps the job instead of
// running it; the owner runs it again when the answer is in. Round 6 parked on UnsafeContinuations
// in a task with the thread as its task-executor preference: each resumed continuation went
// through the generic executor and, with a preference record present, every hop and enqueue
// looked the preference up under the task's status-record lock (a pthread mutex): 6 switches,
// 8 locked lookups and 2 dependency records per GET_TIME, ~12% of it in the profile. Now: no
// continuation, no preference, no status-record lock on the path (counted with uprobes on
// libswift_Concurrency; docs/BENCHMARKS.md "Round 7").
//
// Measured for round 1's choice with a scratch micro-benchmark (release; the same drain/handoff
// code around an async existential TA call with four inline values; 200k calls; thread CPU time
// per call because the 2-core host ran at load ~25; three runs each):
//   per-call Task(executorPreference:) on a job-queue executor, drained (round 1's shape):
//     585-635 ns, 4 mallocs per call
//   the same with one CheckedContinuation "RPC" round per call: 1055-1271 ns, 4 mallocs
//   one long-lived task per thread, UnsafeContinuation handoff: 371-379 ns, 0 mallocs
// The long-lived task wins on both counts and keeps a suspended call resumable from any vCPU.
import Synchronization
import TAAPI
import TEEABI
import Machine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

/// The jobs queued on a secure thread, in order. A secure thread runs one task, so the queue
/// holds one job at a time in the steady state: that one is kept inline (no array access), and
/// any more wait in an array behind it, which keeps its storage.
struct JobQueue {
    private var first: UnownedJob?
    private var more: [UnownedJob] = []
    private var head = 0

    mutating func push(_ j: UnownedJob) {
        if first == nil && head >= more.count { first = j } else { more.append(j) }
    }

    mutating func pop() -> UnownedJob? {
        if let j = first { first = nil; return j }
        guard head < more.count else { return nil }
        let j = more[head]
        head += 1
        if head == more.count { more.removeAll(keepingCapacity: true); head = 0 }
        return j
    }

    var isEmpty: Bool { first == nil && head >= more.count }
}

/// The calling OS thread's id (pthread_self), naming which thread drains a secure thread now.
@inline(__always) func currentOSThread() -> UInt {
    #if canImport(Glibc)
    UInt(pthread_self())
    #else
    UInt(bitPattern: pthread_self())
    #endif
}

/// One secure thread of a VM's pool, which is also the record of the std call it runs (reused
/// by every call). The partition decides who owns it (`slot`: free -> running <-> suspended);
/// the owner posts commands and RPC answers and drains it.
///
/// No lock on the call path (issue 10: at most one lock per layer per call, and the partition
/// lookup is the secure world's one). The handoff state is owned, not locked: only the vCPU that
/// won `slot` touches it, and the task touches it only while that vCPU drains it on its own OS
/// thread, so every access is ordered by program order on that thread or by the slot's
/// acquire/release when ownership moves to another vCPU (RETURN_FROM_RPC). The task side of the
/// handoff (`nextCommand`, `parkForRPC`) is isolated to the thread's actor, so it runs inside a
/// drain wherever its caller was: TA code that left the thread (a `@concurrent` function) hops
/// back before it parks. The rest of the call record the task uses (`setup`, the buffers) is
/// touched by one logical flow at a time: the owner before `start`, the task until it parks.
/// A job enqueued by the draining OS thread itself goes to the owner's own queue; only a job
/// posted by another OS thread (a TA that awaited something outside the secure world) takes
/// `shared`'s lock. Flags other threads set (teardown) are atomics.
final class SecureThread: SerialExecutor, @unchecked Sendable {
    // @unchecked: the owner-side vars below (`setup`, `buffer`, `payload`, `lastSession` and the
    // handoff state) follow the ownership discipline above; the rest is atomics or under `shared`.
    /// Thread id as the normal world sees it in a3.
    let index: Int
    // unowned(unsafe), read on every call without a reference count: the world owns its
    // partitions and a partition its threads; a vCPU reaches a thread only inside
    // `SecureWorld.smc` (the caller holds the world, the entry the partition), and a task still
    // unwinding after its VM went holds both through `shared.keepAlive` (the world's own deinit
    // stops only idle threads, whose tasks end without touching either).
    unowned(unsafe) let world: SecureWorld
    unowned(unsafe) let partition: Partition
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
    /// Byte arrays of the last call's memrefs, one per param slot, reused by the next call's
    /// private copies (see `MemrefScratch`); made on the thread's first memref, so an idle
    /// thread holds one pointer for them.
    private var scratchStore: MemrefScratch?
    var scratch: MemrefScratch {
        if let s = scratchStore { return s }
        let s = MemrefScratch()
        scratchStore = s
        return s
    }

    // MARK: Handoff state (owner side, see above)

    // Unchecked exclusivity for the handoff state: one OS thread at a time touches it (the
    // discipline above), and no access overlaps another; the dynamic checks were 6 runtime
    // calls per GET_TIME.
    /// Jobs enqueued by the draining OS thread itself.
    @exclusivity(unchecked) private var localJobs = JobQueue()
    /// What the parked task waits for (its `ParkingSpot` holds its job meanwhile).
    @exclusivity(unchecked) private var waitingFor = Wait.nothing
    /// What the owner answered the parked task: take the next command (true) or end (false)...
    @exclusivity(unchecked) fileprivate var commandAnswer = false
    /// ...or the normal world's answer to its RPC.
    @exclusivity(unchecked) fileprivate var rpcAnswer = RPCReply()
    /// How the current drain ends, once known.
    @exclusivity(unchecked) private var exit: ThreadExit?
    /// A command was posted before the task parked.
    @exclusivity(unchecked) private var commandPending = false
    /// The actor the task is isolated to (executor: this thread) and where it parks; made with
    /// the task (nil: the thread has no task yet).
    private var isolation: SecureThreadIsolation?
    /// `isolation`'s parking executor, unretained (read on every unpark without a reference count).
    private var parkingRef: Unmanaged<ThreadParking>?

    /// What a parked task waits for.
    enum Wait { case nothing, command, rpcAnswer }
    /// When the current drain's time slice started (ns of the world's clock; FOREIGN_INTR
    /// ticks), read at the drain's first `timeInSlice` (0: not yet), not at entry: most calls
    /// never ask, and two clock reads were ~2% of a GET_TIME.
    private var sliceStart: UInt64 = 0

    // MARK: Cross-thread state

    /// The OS thread draining this thread now (0: none); compared only with the caller's own id.
    private let drainer = Atomic<UInt>(0)
    /// The VM is going away: every RPC answers abort at once.
    private let aborting = Atomic<Bool>(false)
    /// The task must end instead of taking another command.
    private let stopping = Atomic<Bool>(false)
    /// No vCPU will drain this thread again (its VM is gone): jobs go to the global executor,
    /// so a command still awaiting something (a storage lock) unwinds and lets go of it.
    private let orphaned = Atomic<Bool>(false)
    /// Jobs waiting in `shared.jobs` (posted by other OS threads).
    private let foreignJobs = Atomic<Int>(0)

    /// What other threads may touch: jobs they post, the cached RPC argument (read by
    /// DISABLE_SHM_CACHE) and what keeps an orphaned command's world alive.
    struct Shared {
        var jobs = JobQueue()
        /// The RPC argument buffer of the cache (RPC_ALLOC'd).
        var rpcArg: RPCArgBuffer?
        /// While an orphaned command unwinds on the global executor, its world and partition
        /// (otherwise only unowned here) stay alive; dropped when the task ends.
        var keepAlive: (world: SecureWorld, partition: Partition)?
    }
    let shared = Mutex(Shared())

    init(index: Int, world: SecureWorld, partition: Partition) {
        self.index = index; self.world = world; self.partition = partition
    }

    /// `buffer`'s bytes (empty until the first call), reached without retaining the buffer: it
    /// lives as long as this thread, which never drops it.
    private(set) var bufferBytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// Allocates the thread's buffer on first use.
    func ensureBuffer() {
        guard buffer == nil else { return }
        let b = MsgArgBuffer(byteCount: ThreadBuffer.total)
        buffer = b
        bufferBytes = b.bytes
    }

    /// The bytes [offset, offset + count) of the thread's buffer; nil when out of range.
    @inline(__always) func argSlice(_ offset: Int, _ count: Int) -> UnsafeMutableRawBufferPointer? {
        MsgArgBuffer.slice(bufferBytes, offset: offset, count: count)
    }

    /// The argument stored at [offset, offset + count) of the thread's buffer, through the view.
    @inline(__always) func argView(_ offset: Int, _ count: Int) -> MsgArgView? {
        MsgArgBuffer.view(bufferBytes, offset: offset, count: count)
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

    // MARK: SerialExecutor

    func enqueue(_ job: consuming ExecutorJob) {
        post(UnownedJob(job))
    }

    /// Queues a job of the task: on the owner's queue from the draining OS thread, else on the
    /// shared one (or the global executor once orphaned).
    private func post(_ j: UnownedJob) {
        // The draining thread itself (the owner, in program order with its drain): no lock.
        if !orphaned.load(ordering: .acquiring), drainer.load(ordering: .relaxed) == currentOSThread() {
            localJobs.push(j)
            return
        }
        let orphan = shared.withLock { s -> Bool in
            if orphaned.load(ordering: .acquiring) { return true }
            s.jobs.push(j)
            foreignJobs.wrappingAdd(1, ordering: .releasing)
            return false
        }
        if orphan { globalConcurrentExecutor.enqueue(ExecutorJob(j)) }
    }

    /// The task's code runs only inside a drain on the draining OS thread (what `assumeIsolated`
    /// and isolation checks ask; with an answer here the runtime never calls `checkIsolated`).
    func isIsolatingCurrentContext() -> Bool? {
        drainer.load(ordering: .relaxed) == currentOSThread()
    }

    /// Whether a job the task parks with is kept (false: the thread is orphaned, so the job goes
    /// to the global executor instead and unwinds there).
    fileprivate var keepsParkedJobs: Bool { !orphaned.load(ordering: .acquiring) }

    /// Moves the parked task's job to the owner's queue for the next drain (which was empty: the
    /// thread's one task was parked), if it waits for `what`.
    private func unpark(_ what: Wait) -> Bool {
        guard waitingFor == what, let p = parkingRef else { return false }
        // Sound: `isolation` (set with `parkingRef`, never cleared) holds the parking executor.
        guard let j = p._withUnsafeGuaranteedRef({ $0.takeJob() }) else { return false }
        waitingFor = .nothing
        localJobs.push(j)
        return true
    }

    // MARK: Owner side (the vCPU that holds the thread)

    /// Posts the command prepared in `call` and wakes the task (creating it on first use). The
    /// caller owns the thread and drains it next.
    func start() {
        drainer.store(currentOSThread(), ordering: .relaxed)
        sliceStart = 0
        exit = nil
        commandAnswer = true
        if unpark(.command) { return }
        commandPending = true
        if isolation == nil {
            let iso = SecureThreadIsolation(self)
            isolation = iso
            parkingRef = .passUnretained(iso.parking.executor)
            // Sound: this vCPU drains the thread (`drainer` is set above), which is what the
            // thread's isolation checks; the task's first job lands on the owner's queue.
            iso.assumeIsolated { $0.launch() }
        }
    }

    /// Resumes a command suspended at an RPC with the normal world's answer.
    func resume(_ reply: RPCReply) {
        drainer.store(currentOSThread(), ordering: .relaxed)
        sliceStart = 0
        // An RPC not delivered yet (the task parked in it after an external await, while no
        // drain ran) is not the one this answer is for: leave it for the next drain.
        guard exit == nil else { return }
        rpcAnswer = reply
        _ = unpark(.rpcAnswer)
    }

    /// Runs queued jobs on the calling thread until the command suspends at an RPC or ends. An
    /// empty queue with no exit means the TA awaits something outside the secure world: the
    /// thread yields to the normal world with FOREIGN_INTR at once.
    func drain() -> ThreadExit {
        drainer.store(currentOSThread(), ordering: .relaxed)
        defer { drainer.store(0, ordering: .relaxed) }
        while true {
            if let j = localJobs.pop() {
                j.runSynchronously(on: asUnownedSerialExecutor())
                continue
            }
            if foreignJobs.load(ordering: .acquiring) > 0 {
                shared.withLock { s in
                    while let j = s.jobs.pop() { localJobs.push(j) }
                    foreignJobs.store(0, ordering: .relaxed)
                }
                if !localJobs.isEmpty { continue }
            }
            let e = exit
            exit = nil
            return e ?? .rpc(a0: SMCReturn.rpc(.foreignInterrupt).rawValue, a1: 0, a2: 0)
        }
    }

    /// Time since the current drain's slice started; the first call of a drain starts it. So a
    /// slice counts from the TA's first checkpoint after an entry (what ran before it, without
    /// a checkpoint, could not have yielded anyway). Zero for code not running in this thread's
    /// drain (a TA's `@concurrent` code): it holds no vCPU, so it has nothing to yield, and the
    /// slice is owner-side state it must not touch.
    func timeInSlice() -> Duration {
        guard drainer.load(ordering: .relaxed) == currentOSThread() else { return .zero }
        let now = world.clock.nanoseconds()
        if sliceStart == 0 { sliceStart = max(now, 1); return .zero }
        return .nanoseconds(Int64(clamping: now &- sliceStart))
    }

    /// Ends the task: the next time it would take a command it returns. From now on the thread's
    /// remaining work (unwinding an aborted command, ending the task) runs on the global
    /// executor: no vCPU drains it any more. Called by the owner.
    /// `keepAlive`: hold the world and the partition until the task ends (false only from the
    /// world's deinit, for idle threads whose task ends without touching either).
    func stop(keepAlive: Bool = true) {
        stopping.store(true, ordering: .sequentiallyConsistent)
        aborting.store(true, ordering: .sequentiallyConsistent)
        let owners: (world: SecureWorld, partition: Partition)? = keepAlive ? (world, partition) : nil
        let hadTask = isolation != nil
        var queued: [UnownedJob] = []
        shared.withLock { s in
            orphaned.store(true, ordering: .sequentiallyConsistent)
            if hadTask && s.keepAlive == nil { s.keepAlive = owners }
            while let j = s.jobs.pop() { queued.append(j) }
            foreignJobs.store(0, ordering: .relaxed)
        }
        commandAnswer = false
        _ = unpark(.command)
        while let j = localJobs.pop() { queued.append(j) }
        drainer.store(0, ordering: .relaxed)
        for j in queued { globalConcurrentExecutor.enqueue(ExecutorJob(j)) }
    }

    /// Asks the task to end after the command it runs now (its VM is being destroyed).
    func requestStop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        aborting.store(true, ordering: .sequentiallyConsistent)
    }

    /// The VM asked this thread to stop after its current command (`requestStop`).
    var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    /// Marks the thread as aborting (its VM is being destroyed).
    func setAborting() { aborting.store(true, ordering: .sequentiallyConsistent) }
    var isAborting: Bool { aborting.load(ordering: .sequentiallyConsistent) }

    // MARK: Task side (runs inside the owner's drain, or on the global executor once orphaned)

    /// The thread's task: takes commands until stopped (isolated to `isolation`).
    fileprivate func serve(_ iso: isolated SecureThreadIsolation) async {
        var exit: ThreadExit? = nil
        while await nextCommand(publishing: exit, iso) {
            exit = .done(a0: await run().rawValue)
        }
        shared.withLock { $0.keepAlive = nil }
    }

    /// Publishes how the previous command ended and parks until the next one (false: stop).
    private func nextCommand(publishing done: ThreadExit?, _ iso: isolated SecureThreadIsolation) async -> Bool {
        if let done { exit = done }
        if stopping.load(ordering: .sequentiallyConsistent) { return false }
        if commandPending { commandPending = false; return true }
        waitingFor = .command
        return await iso.parking.commandAnswer()
    }

    /// Suspends the running command at an RPC: the drain ends and the SMC returns `a0, a1, a2`.
    /// Returns the normal world's answer (or abort). The handoff state is touched only inside a
    /// drain: a caller already running in this thread's drain (the OS thread draining it is this
    /// one, so the code running is a job of the drain) parks from where it is; any other hops to
    /// the thread first. (The hop there and back, and back again to the caller's isolation, were
    /// three same-executor task switches per RPC.)
    func rpc(_ a0: UInt32, _ a1: UInt64 = 0, _ a2: UInt64 = 0) async -> RPCReply {
        guard let iso = isolation else { return .abort }
        guard !orphaned.load(ordering: .acquiring), drainer.load(ordering: .relaxed) == currentOSThread() else {
            return await parkForRPC(a0, a1, a2, iso)
        }
        return await park(forRPC: a0, a1, a2, at: iso.parking)
    }

    /// `rpc` from code outside the drain: hops to the thread first.
    private func parkForRPC(_ a0: UInt32, _ a1: UInt64, _ a2: UInt64, _ iso: isolated SecureThreadIsolation) async -> RPCReply {
        await park(forRPC: a0, a1, a2, at: iso.parking)
    }

    /// Publishes the RPC exit and parks at `spot` until the normal world's answer (abort at once
    /// when the VM is going away). Runs inside the thread's drain.
    @inline(__always)
    private func park(forRPC a0: UInt32, _ a1: UInt64, _ a2: UInt64, at spot: ParkingSpot) async -> RPCReply {
        if aborting.load(ordering: .sequentiallyConsistent) { return .abort }
        exit = .rpc(a0: a0, a1: a1, a2: a2)
        waitingFor = .rpcAnswer
        return await spot.rpcAnswer()
    }
}

/// The isolation domain of a secure thread's task: an actor whose executor is the thread, so
/// the task's code runs inside its owner's drain, and a hop to it from code already there is a
/// comparison. (No task-executor preference: with one, every hop and every resumed
/// continuation looks the preference up under the task's status lock.)
actor SecureThreadIsolation {
    unowned(unsafe) let thread: SecureThread
    /// Where the task parks while it waits (a command, an RPC answer).
    let parking: ParkingSpot

    /// The thread as an executor, made once: every hop to this actor asks for it (made on each
    /// ask, it cost a retain and a release of the thread).
    private nonisolated let executor: UnownedSerialExecutor

    init(_ thread: SecureThread) {
        self.thread = thread
        parking = ParkingSpot(thread)
        executor = thread.asUnownedSerialExecutor()
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor }

    /// Creates the thread's task, isolated to this actor: its first job goes to the thread. The
    /// task holds the thread (and so the world and partition it reaches) until it ends.
    func launch() {
        let t = thread
        Task { [self] in await t.serve(self) }
    }
}

/// Where a secure thread's task waits: hopping to this actor hands the task's job to
/// `ThreadParking`, which keeps it until the owner resumes it (the next command, the RPC's
/// answer). No continuation: resuming one enqueues on the generic executor and records a task
/// dependency under the task's status lock. The owner runs the parked job on the thread's own
/// executor, not this one: the actor has no state to protect (its bodies only read the answer
/// the owner wrote before), and the way back to the thread's isolation is then a comparison
/// instead of a second enqueue.
actor ParkingSpot {
    let executor: ThreadParking
    /// `executor` as the runtime names it, made once (see `SecureThreadIsolation.executor`).
    private nonisolated let unowned: UnownedSerialExecutor
    init(_ thread: SecureThread) {
        executor = ThreadParking(thread)
        unowned = executor.asUnownedSerialExecutor()
    }
    nonisolated var unownedExecutor: UnownedSerialExecutor { unowned }
    // The hop here is the suspension point; each body reads what the owner left before it ran
    // the parked job (a body that touched no memory would let the optimizer drop the hop).
    /// Parks until the owner posts a command (true) or ends the task (false).
    func commandAnswer() -> Bool { executor.thread.commandAnswer }
    /// Parks until the owner delivers the normal world's answer to the RPC.
    func rpcAnswer() -> RPCReply { executor.thread.rpcAnswer }
}

/// The executor of `ParkingSpot`: keeps the one job of the parked task.
final class ThreadParking: SerialExecutor, @unchecked Sendable {
    // @unchecked: `job` is owner-side state of the thread (see `SecureThread`).
    unowned(unsafe) let thread: SecureThread
    private var job: UnownedJob?
    init(_ thread: SecureThread) { self.thread = thread }
    /// Keeps the parked task's job (on the draining OS thread: the task hops here from code
    /// running in the thread's drain), or sends it to the global executor once orphaned.
    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        if thread.keepsParkedJobs { self.job = j } else { globalConcurrentExecutor.enqueue(ExecutorJob(j)) }
    }
    /// The kept job, now handed to the owner (nil when none is parked).
    func takeJob() -> UnownedJob? {
        let j = job
        job = nil
        return j
    }
}

/// The byte arrays a secure thread reuses for the private copies of memref params: copy-in moves
/// slot i's array into the TA's memref (resized to the buffer, every byte overwritten: the
/// guest's bytes for an input, zeroes for an output), copy-out moves what the TA left back. So a
/// steady-state memref call allocates nothing and the TA changes its uniquely owned copy in place.
/// The copy stays private: the guest's buffer is read once, into this array, and a TA that kept
/// the array meanwhile shares it, so the next resize copies it first (copy on write).
/// Owned by its thread and touched only by the thread's owner (see `SecureThread`).
final class MemrefScratch {
    private var slots: InlineArray<4, [UInt8]> = InlineArray(repeating: [])
    /// Largest capacity kept between calls (bigger arrays are dropped, so an idle thread does
    /// not hold a huge memref's copy).
    static let keptCapacity = 64 * 1024

    /// Moves slot `i`'s array out (empty when there is none).
    func take(_ i: Int) -> [UInt8] {
        var out: [UInt8] = []
        if slots.indices.contains(i) { swap(&out, &slots[i]) }
        return out
    }

    /// Keeps `bytes` in slot `i` for the next call (dropped when too large).
    func give(_ i: Int, _ bytes: consuming [UInt8]) {
        guard bytes.capacity <= Self.keptCapacity, slots.indices.contains(i) else { return }
        slots[i] = bytes
    }

    /// Slot `i`'s array resized to `count` bytes, all zero (`zeroed`) or with unspecified contents
    /// the caller overwrites in full before anyone reads them.
    func bytes(_ i: Int, count: Int, zeroed: Bool) -> [UInt8] {
        var b = take(i)
        guard b.capacity >= count, b.capacity > 0 else { return [UInt8](repeating: 0, count: count) }
        if zeroed { b.removeAll(keepingCapacity: true) } else if b.count > count { b.removeLast(b.count - count) }
        if b.count < count { b.append(contentsOf: repeatElement(0, count: count - b.count)) }
        return b
    }
}

