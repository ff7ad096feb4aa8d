import ArgumentParser
import Foundation
import VTEEBench

/// `vtee bench`: every figure of issue 7 in one run (in-process latencies, the daemon path from a
/// separate guest process beside the transport floor, throughput, idle memory, most guests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure latency, throughput, memory and scaling of the whole stack.")

    @Flag(help: "A short run: the whole set in under a minute.") var quick = false
    @Flag(help: "Print one JSON object instead of the table.") var json = false
    @Option(help: "Write an SVG of latency and throughput against the number of guests.") var plot: String?
    @Option(name: .customLong("threads-per-guest"), help: "Threads per guest in the throughput sweep (default: one per core).")
    var threadsPerGuest: Int?
    @Option(name: .customLong("idle-guests"), help: "Guests for the idle-memory figure.") var idleGuests: Int = 1000
    @Option(name: .customLong("max-guests"), help: "Guests to attach at once to one daemon for guests_max.") var maxGuests: Int = 1000
    @Option(name: .customLong("c-client"), help: "C bench client built by `scripts/c-bench.sh --build OUT`: adds c_invoke_ns (a NOP invoke through libteec.so).")
    var cClient: String?
    @Option(name: .customLong("c-ta-dir"), help: "Directory with the bench C TA built by `scripts/c-ta-bench.sh DIR`: adds ta_c_invoke_ns and ta_aes_gcm_4k_ns.")
    var cTADir: String?

    func validate() throws {
        if let t = threadsPerGuest, !(1...16).contains(t) { throw ValidationError("--threads-per-guest must be 1...16") }
        guard (1...4000).contains(idleGuests) else { throw ValidationError("--idle-guests must be 1...4000") }
        guard (1...4000).contains(maxGuests) else { throw ValidationError("--max-guests must be 1...4000") }
    }

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vtee-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = BenchOptions(workDirectory: dir)
        o.quick = quick
        o.guestExecutable = Self.ownExecutable()
        o.cClient = cClient
        o.cTADirectory = cTADir
        o.threadsPerGuest = threadsPerGuest
        o.idleGuests = idleGuests
        o.maxGuestsToTry = maxGuests
        o.progress = { line in FileHandle.standardError.write(Data("vtee bench: \(line)\n".utf8)) }
        let report: BenchReport
        do { report = try Bench.run(o) } catch {
            FileHandle.standardError.write(Data("vtee bench: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let plot {
            do { try report.svg.write(toFile: plot, atomically: true, encoding: .utf8) } catch {
                FileHandle.standardError.write(Data("vtee bench: writing \(plot): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        print(json ? report.json : report.table)
    }

    /// This executable (/proc/self/exe), spawned as the daemon's guest process.
    static func ownExecutable() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return CommandLine.arguments.first }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `vtee bench-guest` (hidden): the guest process of `vtee bench`'s daemon figures; prints one JSON line.
struct BenchGuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-guest", abstract: "Guest loop of vtee bench (internal).", shouldDisplay: false)

    @Option(help: "Daemon socket.") var socket: String
    @Option(name: .customLong("echo-socket"), help: "Echo transport server socket (empty: skip the floor loop).") var echoSocket: String = ""
    @Option(help: "Timed calls per loop.") var iterations: Int = 20_000
    @Option(help: "Untimed calls before each loop.") var warmup: Int = 1_000
    @Option(help: "Supplicant storage directory.") var storage: String

    func validate() throws {
        guard (1...10_000_000).contains(iterations) else { throw ValidationError("--iterations must be 1...10000000") }
        guard (0...10_000_000).contains(warmup) else { throw ValidationError("--warmup must be 0...10000000") }
    }

    func run() throws {
        switch runBenchGuest(BenchGuestArguments(socket: socket, echoSocket: echoSocket, iterations: iterations,
                                                 warmup: warmup, storage: storage)) {
        case let .success(r): print(r.json)
        case let .failure(e):
            FileHandle.standardError.write(Data("vtee bench-guest: \(e)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// `vtee bench-loop` (hidden): one in-process loop of `vtee bench` alone, for profilers
/// (`perf record`, `valgrind --tool=callgrind`); prints the loop's median and p99 in ns.
struct BenchLoopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-loop", abstract: "Run one in-process bench loop alone (for profilers).", shouldDisplay: false)

    @Argument(help: "fast_call, invoke, tmem4k, regshm1m, rpc or open_close.") var loop: String
    @Option(help: "Timed calls.") var count: Int = 100_000
    @Option(help: "Untimed calls first.") var warmup: Int = 1_000

    func validate() throws {
        guard BenchLoopKind(rawValue: loop) != nil else {
            throw ValidationError("loop must be one of \(BenchLoopKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...100_000_000).contains(count) else { throw ValidationError("--count must be 1...100000000") }
        guard (0...10_000_000).contains(warmup) else { throw ValidationError("--warmup must be 0...10000000") }
    }

    func run() throws {
        guard let kind = BenchLoopKind(rawValue: loop) else { throw ExitCode(2) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vtee-bench-loop-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let s = try Bench.loop(kind, count: count, warmup: warmup, workDirectory: dir)
            print("\(kind.rawValue) median \(Int(s.median.rounded())) ns p99 \(Int(s.p99.rounded())) ns (\(s.samples) samples)")
        } catch {
            FileHandle.standardError.write(Data("vtee bench-loop: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
