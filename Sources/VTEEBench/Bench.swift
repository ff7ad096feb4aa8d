/// `vtee bench` (issue 7): measures the whole stack in one run: in-process latencies through
/// driver + platform + mediator + secure world, the daemon path from a separate guest process next
/// to the bare transport floor, throughput against the number of guests, idle memory per guest and
/// the most guests one daemon holds. Composition-root code: it builds stacks and daemons as the
/// demo does and drives them only through the GP client API, register frames and the transport.
import CAllocCount
import VTEEDaemon
import VTEEKit
import Dispatch
import Foundation
import Logging
import Machine
import NormalWorld
import Platform
import Synchronization
import TEEABI
import TEEClient
import Transport
import TrustedApps
#if canImport(Glibc)
import Glibc
#endif

/// What a bench run measures and how long.
public struct BenchOptions: Sendable {
    /// Short run (the whole set in well under a minute) instead of the full one.
    public var quick = false
    /// Directory for sockets and supplicant storage (created; removed afterwards by the caller).
    public var workDirectory: String
    /// The `vtee` executable to spawn as the daemon's guest process (`vtee bench-guest`); nil runs the
    /// guest loop on a thread of this process instead (tests, where no vtee binary exists).
    public var guestExecutable: String?
    /// A C bench client (Benchmarks/CClients/teec_nop_bench.c linked against libteec.so, built by
    /// `scripts/c-bench.sh --build OUT`): when set, c_invoke_ns is measured through the same daemon.
    public var cClient: String?
    /// A directory holding the bench C TA (Benchmarks/CTAs/bench, built by `scripts/c-ta-bench.sh
    /// OUT`): when set, ta_c_invoke_ns and ta_aes_gcm_4k_ns are measured in a TA process.
    public var cTADirectory: String?
    /// Guests for the idle-memory figure.
    public var idleGuests = 1000
    /// Guests attached at once to one daemon for `guests_max`.
    public var maxGuestsToTry = 1000
    /// Guest counts of the throughput sweep.
    public var throughputGuests = [1, 4, 16, 64]
    /// Threads per guest in the throughput sweep (nil: one per core, at least 1).
    public var threadsPerGuest: Int?
    /// Called with one line of progress per phase (stderr in the command).
    public var progress: (@Sendable (String) -> Void)?
    /// Options working under `workDirectory`.
    public init(workDirectory: String) { self.workDirectory = workDirectory }

    /// Timed iterations of every loop when set (smoke tests); warm-ups are capped to it too.
    public var iterationsOverride: Int?
    /// Throughput run time per point in seconds (nil: 0.4 quick, 2 full).
    public var throughputSeconds: Double?

    /// Iterations of a latency loop: `full` in a full run, a tenth (at least 200) in a quick one.
    func iterations(_ full: Int) -> Int { iterationsOverride ?? (quick ? max(200, full / 10) : full) }
    /// Warm-up calls before a loop.
    func warmup(_ n: Int) -> Int { min(n, iterationsOverride ?? n) }
}

/// Why a bench run stopped.
public enum BenchError: Error, CustomStringConvertible {
    /// A call of the measured path failed (the bench measures working calls only).
    case call(String, TEEError)
    /// A stack, daemon or transport could not be built.
    case setup(String)
    /// The guest process failed or printed something unreadable.
    case guestProcess(String)

    public var description: String {
        switch self {
        case let .call(k, e): "\(k): call failed: \(e)"
        case let .setup(s): "setup: \(s)"
        case let .guestProcess(s): "guest process: \(s)"
        }
    }
}

/// Monotonic nanoseconds.
@inline(__always) func benchNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Resident set size of this process in bytes (/proc/self/statm), 0 when unreadable.
func residentBytes() -> Int {
    // procfs files report size 0: read them as a stream, not by size.
    guard let h = FileHandle(forReadingAtPath: "/proc/self/statm") else { return 0 }
    defer { try? h.close() }
    let s = String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
    let f = s.split(separator: " ")
    guard f.count > 1, let pages = Int(f[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Runs `body` `warmup` times, then `samples` timed batches of `batch` calls; returns ns per call of
/// each batch. Batches amortise the clock read for calls of a few tens of nanoseconds.
func sampleLatency(warmup: Int, samples: Int, batch: Int = 1, _ body: () throws(BenchError) -> Void) throws(BenchError) -> [Double] {
    for _ in 0..<warmup { try body() }
    var out = [Double](repeating: 0, count: samples)
    for i in 0..<samples {
        let t0 = benchNanos()
        for _ in 0..<batch { try body() }
        out[i] = Double(benchNanos() - t0) / Double(batch)
    }
    return out
}

/// Heap allocations per call of `body` on this thread, averaged over `count` calls after one warm-up
/// call (counted by the CAllocCount interposer that every executable linking VTEEBench carries).
public func allocationsPerCall(count: Int, _ body: () throws(BenchError) -> Void) throws(BenchError) -> Double {
    guard count > 0 else { return 0 }
    try body()
    let before = vtee_thread_alloc_count()
    for _ in 0..<count { try body() }
    return Double(vtee_thread_alloc_count() &- before) / Double(count)
}

/// The bench driver.
public enum Bench {
    /// Runs every measurement of issue 7 and returns the report.
    public static func run(_ options: BenchOptions) throws(BenchError) -> BenchReport {
        let started = benchNanos()
        var report = BenchReport()
        report.quick = options.quick
        report.machine = machine()
        let sink = options.progress ?? { _ in }
        let say = { (line: String) in sink(String(format: "[%6.1f s] ", Double(benchNanos() - started) / 1e9) + line) }
        var logger = Logger(label: "vtee.bench")
        logger.logLevel = .critical

        // First, while the heap is small: later phases free memory that new guests would reuse unseen.
        say("idle memory with \(options.idleGuests) guests")
        try idleMemory(options, logger: logger, into: &report)
        say("in-process latencies")
        try inProcess(options, logger: logger, into: &report)
        if options.cTADirectory != nil {
            say("C TA process latencies")
            try cTA(options, logger: logger, into: &report)
        }
        say("daemon path and transport floor")
        try daemonPath(options, logger: logger, into: &report)
        if let i = report.latencies["invoke_ns"], let f = report.latencies["transport_floor_ns"],
           let d = report.latencies["daemon_invoke_ns"], i.median + f.median > 0 {
            report.daemonOverheadRatio = d.median / (i.median + f.median)
        }
        say("throughput sweep")
        try throughputSweep(options, logger: logger, into: &report)
        say("guests attached to one daemon (up to \(options.maxGuestsToTry))")
        try guestsMax(options, logger: logger, into: &report)
        say("done")
        report.seconds = Double(benchNanos() - started) / 1e9
        return report
    }

    /// Cores, build and toolchain facts of this run.
    static func machine() -> [String: String] {
        var m: [String: String] = [:]
        m["cores"] = String(ProcessInfo.processInfo.activeProcessorCount)
        #if DEBUG
        m["build"] = "debug"
        #else
        m["build"] = "release"
        #endif
        m["os"] = ProcessInfo.processInfo.operatingSystemVersionString
        if let cpu = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = cpu.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let name = line.split(separator: ":", maxSplits: 1).last {
            m["cpu"] = name.trimmingCharacters(in: .whitespaces)
        }
        if let l = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            m["loadavg_at_start"] = String(l.split(separator: " ").first ?? "")
        }
        return m
    }

    static func stackConfig(_ options: BenchOptions, _ dir: String, logger: Logger) -> StackConfig {
        var sc = StackConfig()
        sc.storageRoot = options.workDirectory + "/" + dir
        sc.logger = logger
        // A 1 MiB registered buffer is 256 pages (plus its list page): above the default per-buffer cap.
        sc.mediator.pagesPerBuffer = max(sc.mediator.pagesPerBuffer, 512)
        return sc
    }

    /// The four value params of TestTA's NOP command.
    static func nopOperation() -> TEEOperation {
        TEEOperation([.valueInout(a: 1, b: 2), .valueInout(a: 3, b: 4), .valueInout(a: 5, b: 6), .valueInout(a: 7, b: 8)])
    }

    /// fast_call_ns, invoke_ns, invoke_tmem4k_ns, invoke_regshm1m_ns, rpc_extra_ns, open_close_ns,
    /// storage_write_4k_ns, storage_read_4k_ns.
    static func inProcess(_ o: BenchOptions, logger: Logger, into r: inout BenchReport) throws(BenchError) {
        let stack: VTEEStack
        let g: GuestStack
        do {
            stack = try VTEEStack(config: stackConfig(o, "inproc", logger: logger))
            g = try stack.addGuest(GuestID(0))
        } catch { throw .setup("in-process stack: \(error)") }
        defer { stack.removeGuest(g) }
        let ctx = g.context

        // fast_call_ns: GET_OS_REVISION from the guest's vCPU through platform, mediator, secure world.
        let conduit = g.driver.conduit
        let rev = RegisterFrame(.getOSRevision)
        let check = conduit.trap(rev, vcpu: 0)
        guard check.a0 != UInt64(SMCReturn.unknownFunction.rawValue), check.a0 != UInt64.max, check.a0 != 0xFFFF_FFFF else {
            throw .setup("GET_OS_REVISION answered \(check)")
        }
        let fastN = o.iterations(20_000)
        r.latencies["fast_call_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(2_000), samples: fastN, batch: 16) { _ = conduit.trap(rev, vcpu: 0) })

        let session: TEESession
        do { session = try ctx.openSession(TestTA.uuid) } catch { throw .call("open vtee.test", error) }
        defer { session.close() }

        // invoke_ns: NOP with four VALUE_INOUT params.
        var op = nopOperation()
        let invokeN = o.iterations(20_000)
        r.latencies["invoke_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(1_000), samples: invokeN) { () throws(BenchError) in
            do throws(TEEError) { try session.invoke(TestTA.Command.nopValues.rawValue, &op) } catch { throw .call("invoke_ns", error) }
        })

        r.invokeAllocations = try allocationsPerCall(count: o.iterations(2_000)) { () throws(BenchError) in
            do throws(TEEError) { try session.invoke(TestTA.Command.nopValues.rawValue, &op) } catch { throw .call("invoke_allocations", error) }
        }

        // invoke_tmem4k_ns: a 4 KiB temporary memref in/out (the TA reverses it).
        var tmem = TEEOperation([.tempInout([UInt8](repeating: 0xA5, count: 4096))])
        r.latencies["invoke_tmem4k_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(500), samples: o.iterations(10_000)) { () throws(BenchError) in
            do throws(TEEError) { try session.invoke(TestTA.Command.echoMemref.rawValue, &tmem) } catch { throw .call("invoke_tmem4k_ns", error) }
        })

        // invoke_regshm1m_ns: 1 MiB of registered shared memory, the TA touches every page.
        let shm: TEESharedMemory
        do { shm = try ctx.allocateSharedMemory(size: 1 << 20) } catch { throw .call("allocate 1 MiB", error) }
        defer { shm.release() }
        var whole = TEEOperation([.whole(shm)])
        r.latencies["invoke_regshm1m_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(20), samples: o.iterations(1_000)) { () throws(BenchError) in
            do throws(TEEError) { try session.invoke(TestTA.Command.touchPages.rawValue, &whole) } catch { throw .call("invoke_regshm1m_ns", error) }
        })

        // rpc_extra_ns: GET_TIME (one RPC to the guest) minus the plain invoke, sampled interleaved.
        var time = TEEOperation([.valueOutput()])
        var plain = nopOperation()
        let rpcN = o.iterations(10_000)
        var withRPC = [Double](), without = [Double]()
        withRPC.reserveCapacity(rpcN); without.reserveCapacity(rpcN)
        let rpcWarm = o.warmup(500)
        for i in 0..<(rpcN + rpcWarm) {
            let t0 = benchNanos()
            do throws(TEEError) { try session.invoke(TestTA.Command.getTime.rawValue, &time) } catch { throw .call("rpc_extra_ns", error) }
            let t1 = benchNanos()
            do throws(TEEError) { try session.invoke(TestTA.Command.nopValues.rawValue, &plain) } catch { throw .call("rpc_extra_ns", error) }
            let t2 = benchNanos()
            if i >= rpcWarm { withRPC.append(Double(t1 - t0)); without.append(Double(t2 - t1)) }
        }
        let a = BenchStat(withRPC), b = BenchStat(without)
        r.latencies["rpc_extra_ns"] = BenchStat(median: max(0, a.median - b.median), p99: max(0, a.p99 - b.p99), samples: rpcN)
        r.latencies["invoke_rpc_gettime_ns"] = a

        // open_close_ns: open a session to vtee.test and close it.
        r.latencies["open_close_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(100), samples: o.iterations(5_000)) { () throws(BenchError) in
            do throws(TEEError) { let s = try ctx.openSession(TestTA.uuid); s.close() } catch { throw .call("open_close_ns", error) }
        })

        try storage(ctx, o, into: &r)
    }

    /// UUID of the bench C TA (Benchmarks/CTAs/bench).
    public static let cTAUUID = TEEUUID(octets: [0xc0, 0xde, 0x00, 0xbe, 0x7e, 0xe0, 0x4a, 0x11, 0x8b, 0x5d, 0, 0, 0, 0, 0, 0xbe])

    /// ta_c_invoke_ns (a NOP invoke into a C TA in its own process, through the whole in-process
    /// stack) and ta_aes_gcm_4k_ns (the same TA encrypting 4 KiB with AES-GCM through the GP API,
    /// the crypto running in the secure world's TACrypto): the TA comes from `cTADirectory`.
    public static func cTA(_ o: BenchOptions, logger: Logger, into r: inout BenchReport) throws(BenchError) {
        guard let dir = o.cTADirectory else { return }
        let stack: VTEEStack
        let g: GuestStack
        do {
            var sc = stackConfig(o, "cta", logger: logger)
            sc.taDirectory = dir
            stack = try VTEEStack(config: sc)
            g = try stack.addGuest(GuestID(0))
        } catch { throw .setup("C TA stack: \(error)") }
        defer { stack.removeGuest(g) }
        let s: TEESession
        do { s = try g.context.openSession(cTAUUID) } catch { throw .call("open the bench C TA", error) }
        defer { s.close() }
        var nop = TEEOperation([.valueInout(a: 1, b: 0)])
        r.latencies["ta_c_invoke_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(500), samples: o.iterations(10_000)) { () throws(BenchError) in
            do throws(TEEError) { try s.invoke(0, &nop) } catch { throw .call("ta_c_invoke_ns", error) }
        })
        var gcm = TEEOperation([.tempInput([UInt8](repeating: 0x5A, count: 4096)), .tempOutput([UInt8](repeating: 0, count: 4096)),
                                .tempOutput([UInt8](repeating: 0, count: 16))])
        r.latencies["ta_aes_gcm_4k_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(100), samples: o.iterations(5_000)) { () throws(BenchError) in
            do throws(TEEError) { try s.invoke(1, &gcm) } catch { throw .call("ta_aes_gcm_4k_ns", error) }
        })
    }

    /// storage_write_4k_ns, storage_read_4k_ns: secure_storage WRITE_RAW / READ_RAW of a 4 KiB object
    /// through the encrypted store (directory file, object file, device counter; every write durable).
    static func storage(_ ctx: TEEContext, _ o: BenchOptions, into r: inout BenchReport) throws(BenchError) {
        let s: TEESession
        do { s = try ctx.openSession(SecureStorageTA.uuid) } catch { throw .call("open secure_storage", error) }
        defer { s.close() }
        let id = Array("bench-4k".utf8)
        var w = TEEOperation([.tempInput(id), .tempInput([UInt8](repeating: 0x5C, count: 4096))])
        r.latencies["storage_write_4k_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(20), samples: o.iterations(1_000)) { () throws(BenchError) in
            do throws(TEEError) { try s.invoke(SecureStorageTA.Command.writeRaw.rawValue, &w) } catch { throw .call("storage_write_4k_ns", error) }
        })
        var rd = TEEOperation([.tempInput(id), .tempOutput([UInt8](repeating: 0, count: 4096))])
        r.latencies["storage_read_4k_ns"] = BenchStat(try sampleLatency(warmup: o.warmup(20), samples: o.iterations(2_000)) { () throws(BenchError) in
            do throws(TEEError) { try s.invoke(SecureStorageTA.Command.readRaw.rawValue, &rd) } catch { throw .call("storage_read_4k_ns", error) }
        })
    }

    /// daemon_invoke_ns and transport_floor_ns: a daemon and an echo server in this process, one guest
    /// process doing the NOP invoke loop through the daemon and null traps through the echo server.
    static func daemonPath(_ o: BenchOptions, logger: Logger, into r: inout BenchReport) throws(BenchError) {
        var dc = DaemonConfig(socketPath: o.workDirectory + "/daemon.sock", storage: o.workDirectory + "/daemon-storage")
        dc.maxGuests = 4
        dc.logger = logger
        let daemon: Daemon
        do { daemon = try Daemon(config: dc) } catch { throw .setup("daemon: \(error)") }
        defer { daemon.stop() }
        let echoPath = o.workDirectory + "/echo.sock"
        let echo: TransportServer
        do {
            echo = try TransportServer(socketPath: echoPath, limits: TransportLimits(maxGuests: 2), memory: PhysicalMemory(),
                                       delegate: EchoDelegate(), logger: logger)
        } catch { throw .setup("echo server: \(error)") }
        defer { _ = echo.stop() }

        let args = BenchGuestArguments(socket: dc.socketPath, echoSocket: echoPath, iterations: o.iterations(20_000),
                                       warmup: o.warmup(1_000), storage: o.workDirectory + "/guest-storage")
        let result: BenchGuestResult
        if let exe = o.guestExecutable {
            result = try spawnGuest(exe, args)
        } else {
            let box = Mutex<Result<BenchGuestResult, BenchError>?>(nil)
            let done = DispatchSemaphore(value: 0)
            let t = Thread { box.withLock { $0 = runBenchGuest(args) }; done.signal() }
            t.stackSize = 1 << 20
            t.start()
            guard done.wait(timeout: .now() + 120) == .success else { throw .guestProcess("guest thread timed out") }
            guard let res = box.withLock({ $0 }) else { throw .guestProcess("no result") }
            switch res {
            case let .success(v): result = v
            case let .failure(e): throw e
            }
        }
        r.latencies["daemon_invoke_ns"] = result.invoke
        if let c = o.cClient {
            r.latencies["c_invoke_ns"] = try spawnCClient(c, socket: dc.socketPath, storage: o.workDirectory + "/c-guest-storage",
                                                          calls: o.iterations(20_000))
        }
        r.latencies["transport_floor_ns"] = result.floor
        r.latencies["daemon_fast_call_ns"] = result.fastCall
        r.machine["guest_process"] = o.guestExecutable == nil ? "thread in the bench process" : "separate process"
    }

    /// Runs the C bench client against the daemon at `socket` and reads its JSON line
    /// `{"c_invoke_ns": median, "c_invoke_p99_ns": p99, "calls": n}`.
    static func spawnCClient(_ exe: String, socket: String, storage: String, calls: Int) throws(BenchError) -> BenchStat {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = [String(calls)]
        var env = ProcessInfo.processInfo.environment
        env["VTEE_SOCKET"] = socket
        env["VTEE_STORAGE"] = storage
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw .guestProcess("spawn \(exe): \(error)") }
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 180, execute: watchdog)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        guard p.terminationStatus == 0 else { throw .guestProcess("C client exit status \(p.terminationStatus)") }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
              let median = (obj["c_invoke_ns"] as? NSNumber)?.doubleValue, let p99 = (obj["c_invoke_p99_ns"] as? NSNumber)?.doubleValue,
              let n = (obj["calls"] as? NSNumber)?.intValue else { throw .guestProcess("unreadable C client output: \(line.prefix(200))") }
        return BenchStat(median: median, p99: p99, samples: n)
    }

    /// Spawns `exe bench-guest ...` and parses the JSON line it prints.
    static func spawnGuest(_ exe: String, _ a: BenchGuestArguments) throws(BenchError) -> BenchGuestResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["bench-guest", "--socket", a.socket, "--echo-socket", a.echoSocket, "--iterations", String(a.iterations),
                       "--warmup", String(a.warmup), "--storage", a.storage]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { throw .guestProcess("spawn \(exe): \(error)") }
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 180, execute: watchdog)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        guard p.terminationStatus == 0 else { throw .guestProcess("exit status \(p.terminationStatus)") }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard let res = BenchGuestResult(json: line) else { throw .guestProcess("unreadable output: \(line.prefix(200))") }
        return res
    }

    /// throughput_calls_per_s: G guests (of one stack) x T threads, each thread with its own session,
    /// invoking NOP for a fixed time.
    static func throughputSweep(_ o: BenchOptions, logger: Logger, into r: inout BenchReport) throws(BenchError) {
        let maxG = o.throughputGuests.max() ?? 1
        let threads = max(1, o.threadsPerGuest ?? ProcessInfo.processInfo.activeProcessorCount)
        var sc = stackConfig(o, "throughput", logger: logger)
        sc.maxGuests = maxG
        sc.guestPages = 256
        sc.vcpusPerGuest = threads
        let stack: VTEEStack
        var guests: [GuestStack] = []
        do {
            stack = try VTEEStack(config: sc)
            for i in 0..<maxG { guests.append(try stack.addGuest(GuestID(UInt32(i)))) }
        } catch { throw .setup("throughput stack: \(error)") }
        defer { for g in guests { stack.removeGuest(g) } }
        let seconds = o.throughputSeconds ?? (o.quick ? 0.4 : 2.0)
        for n in o.throughputGuests.sorted() {
            let p0 = stack.platform.stats, h0 = guests.map(\.driver.statistics.threadLimitHits).reduce(0, +)
            let point = try throughput(guests: Array(guests.prefix(n)), threads: threads, seconds: seconds)
            let p1 = stack.platform.stats, h1 = guests.map(\.driver.statistics.threadLimitHits).reduce(0, +)
            (o.progress ?? { _ in })("  G=\(n): \(Int(point.callsPerSecond)) calls/s, p50 \(Int(point.latency.median)) ns, p99 \(Int(point.latency.p99)) ns; "
                + "platform retries \(p1.retries - p0.retries), busy \(p1.busy - p0.busy), thread-limit hits \(h1 - h0)")
            r.throughput.append(point)
        }
    }

    /// One throughput point.
    static func throughput(guests: [GuestStack], threads: Int, seconds: Double) throws(BenchError) -> BenchThroughput {
        let total = guests.count * threads
        let ready = DispatchGroup(), finished = DispatchGroup()
        let gate = DispatchSemaphore(value: 0)
        let stop = Atomic<Bool>(false)
        let results = Mutex<(calls: Int, samples: [Double], error: BenchError?)>((0, [], nil))
        for g in guests {
            for _ in 0..<threads {
                ready.enter(); finished.enter()
                let t = Thread {
                    defer { finished.leave() }
                    let session: TEESession
                    do throws(TEEError) { session = try g.context.openSession(TestTA.uuid) } catch {
                        results.withLock { $0.error = .call("throughput open", error) }
                        ready.leave(); return
                    }
                    defer { session.close() }
                    var op = nopOperation()
                    var lat: [Double] = []
                    lat.reserveCapacity(4096)
                    var calls = 0
                    ready.leave()
                    gate.wait()
                    while !stop.load(ordering: .relaxed) {
                        let t0 = benchNanos()
                        do throws(TEEError) { try session.invoke(TestTA.Command.nopValues.rawValue, &op) } catch {
                            results.withLock { $0.error = .call("throughput invoke", error) }
                            break
                        }
                        let d = Double(benchNanos() - t0)
                        calls += 1
                        if lat.count < 200_000 { lat.append(d) }
                    }
                    results.withLock { $0.calls += calls; $0.samples += lat }
                }
                t.stackSize = 1 << 20
                t.start()
            }
        }
        ready.wait()
        let t0 = benchNanos()
        for _ in 0..<total { gate.signal() }
        usleep(UInt32(seconds * 1e6))
        stop.store(true, ordering: .relaxed)
        let t1 = benchNanos()
        finished.wait()
        let res = results.withLock { $0 }
        if let e = res.error { throw e }
        return BenchThroughput(guests: guests.count, threadsPerGuest: threads,
                               callsPerSecond: Double(res.calls) / (Double(t1 - t0) / 1e9), latency: BenchStat(res.samples))
    }

    /// guest_idle_bytes: RSS growth per idle in-process guest (stage-2, mediator, secure world and
    /// driver state, after the driver's probe; no supplicant), with `idleGuests` guests.
    static func idleMemory(_ o: BenchOptions, logger: Logger, into r: inout BenchReport) throws(BenchError) {
        let n = o.idleGuests
        var sc = stackConfig(o, "idle", logger: logger)
        sc.maxGuests = n + 1
        sc.mediator.maxGuests = n + 1
        sc.guestPages = 64
        sc.vcpusPerGuest = 1
        let stack: VTEEStack
        do { stack = try VTEEStack(config: sc) } catch { throw .setup("idle stack: \(error)") }
        var made: [IdleGuest] = []
        defer { for g in made { g.remove(stack) } }
        // One guest first so one-time costs (lazy tables, first allocations) are not counted.
        do { made.append(try IdleGuest(stack, GuestID(0))) } catch { throw .setup("idle guest 0: \(error)") }
        let before = residentBytes()
        for i in 1...max(1, n) {
            do { made.append(try IdleGuest(stack, GuestID(UInt32(i)))) } catch { throw .setup("idle guest \(i): \(error)") }
        }
        let after = residentBytes()
        r.idleGuests = n
        r.guestIdleBytes = Double(max(0, after - before)) / Double(max(1, n))
    }

    /// guests_max: TransportClient connections to one daemon, each answering GET_OS_REVISION.
    static func guestsMax(_ o: BenchOptions, logger: Logger, into r: inout BenchReport) throws(BenchError) {
        let n = o.maxGuestsToTry
        var dc = DaemonConfig(socketPath: o.workDirectory + "/many.sock", storage: o.workDirectory + "/many-storage")
        dc.maxGuests = n
        // Capacity of one daemon: every connection here comes from this process's user, so the
        // per-user admission limits (a policy against one user starving the others) are lifted.
        dc.maxGuestsPerUser = n
        dc.maxVCPUThreads = max(dc.maxVCPUThreads, n)
        dc.maxVCPUsPerUser = max(dc.maxVCPUsPerUser, n)
        dc.threads = 1
        dc.logger = logger
        let daemon: Daemon
        do { daemon = try Daemon(config: dc) } catch { throw .setup("daemon: \(error)") }
        defer { daemon.stop() }
        var clients: [TransportClient] = []
        defer { for c in clients { c.close() } }
        for _ in 0..<n {
            guard let c = try? TransportClient.connect(socketPath: dc.socketPath, ramPages: 4, vcpus: 1) else { break }
            clients.append(c)
        }
        var answered = 0
        let rev = RegisterFrame(.getOSRevision)
        for c in clients where c.conduit.trap(rev, vcpu: 0) != MailboxConduit.failureFrame { answered += 1 }
        r.guestsTried = n
        r.guestsMax = answered
    }
}

/// A guest with RAM, mediator registration and a probed driver, but no supplicant: what an idle
/// guest costs the host.
struct IdleGuest {
    let space: GuestAddressSpace
    let driver: OPTEEDriver

    init(_ stack: VTEEStack, _ id: GuestID) throws {
        space = try GuestAddressSpace(memory: stack.memory, id: id, pages: stack.config.guestPages, layout: .scattered(seed: 0x7EE))
        do { try stack.mediator.addGuest(space) } catch { space.removeRAM(); throw error }
        do {
            driver = try OPTEEDriver(space: space, conduit: PlatformConduit(platform: stack.platform, guest: id),
                                     configuration: DriverConfiguration(vcpus: stack.config.vcpusPerGuest))
        } catch { stack.mediator.destroyGuest(id); space.removeRAM(); throw error }
    }

    func remove(_ stack: VTEEStack) {
        driver.shutdown()
        stack.mediator.destroyGuest(space.id)
        space.removeRAM()
    }
}
