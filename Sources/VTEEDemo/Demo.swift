/// The scripted demo workload: every guest runs the built-in TAs through the GP client API,
/// concurrently, through platform + mediator + secure world; results as a table or JSON.
import VTEEKit
import Dispatch
import Foundation
import Machine
import SecureWorld
import TEEABI
import TEEClient
import TrustedApps

/// One step of one guest's workload.
public struct DemoStep: Sendable, Equatable {
    /// `<ta>.<action>`, e.g. `hello_world.increment`.
    public var name: String
    /// Whether the step succeeded.
    public var ok: Bool
    /// What happened, in a few words (the failure's result code when not ok).
    public var detail: String
}

/// One guest's results.
public struct DemoGuestReport: Sendable {
    /// Guest id.
    public var id: UInt32
    /// The steps in order.
    public var steps: [DemoStep]
    /// Std calls the guest's driver made.
    public var calls: Int
    /// RPCs the guest's driver served.
    public var rpcs: Int
    /// True when every step succeeded.
    public var ok: Bool { steps.allSatisfy(\.ok) }
}

/// The whole run.
public struct DemoReport: Sendable {
    /// One report per guest.
    public var guests: [DemoGuestReport]
    /// Std calls of all guests.
    public var totalCalls: Int
    /// RPCs all guests served.
    public var totalRPCs: Int
    /// Most pages the mediator held pinned at once (sampled).
    public var peakPinnedPages: Int
    /// Median latency of one client call, in microseconds.
    public var latencyP50us: Double
    /// 99th percentile latency of one client call, in microseconds.
    public var latencyP99us: Double
    /// Wall time of the workload.
    public var seconds: Double
    /// Pins, calls, shm and sessions left in the mediator after every guest was removed (all must be zero).
    public var leftovers: Int
    /// True when every step of every guest succeeded and nothing was left behind.
    public var ok: Bool { guests.allSatisfy(\.ok) && leftovers == 0 }
}

/// Records per-call latencies of one guest.
final class LatencyLog: @unchecked Sendable {
    // @unchecked: only touched by the one thread that runs its guest's workload.
    var samples: [Double] = []
    /// Runs `body` and records how long it took, in microseconds.
    func time<T>(_ body: () throws(TEEError) -> T) throws(TEEError) -> T {
        let start = ContinuousClock.now
        defer { samples.append(Self.microseconds(ContinuousClock.now - start)) }
        return try body()
    }
    /// A duration in microseconds.
    static func microseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
    }
}

/// Runs the demo: builds a stack with `guests` guests on `storage`, runs the workload in every
/// guest at once, removes the guests and checks nothing is left.
public func runDemo(guests n: Int, storage: String) throws -> DemoReport {
    var config = StackConfig()
    config.storageRoot = storage
    config.maxGuests = max(n, 1)
    let stack = try VTEEStack(config: config)
    // One secure world per storage: a second demo (or daemon) on it is refused, not interleaved.
    try stack.deviceState.lock()
    defer { stack.deviceState.unlock() }
    var guests: [GuestStack] = []
    for i in 0..<n { guests.append(try stack.addGuest(GuestID(UInt32(i)))) }

    let started = ContinuousClock.now
    let peak = PeakSampler(stack: stack, guests: guests.map(\.id))
    peak.start()
    let results = ResultBox(count: n)
    let group = DispatchGroup()
    for (i, g) in guests.enumerated() {
        group.enter()
        let t = Thread {
            let log = LatencyLog()
            let steps = DemoWorkload(context: g.context, log: log).run()
            results.set(i, steps: steps, latencies: log.samples)
            group.leave()
        }
        t.stackSize = 1 << 20
        t.start()
    }
    group.wait()
    peak.stop()
    let elapsed = ContinuousClock.now - started

    var reports: [DemoGuestReport] = []
    var all: [Double] = []
    for (i, g) in guests.enumerated() {
        let s = g.driver.statistics
        let (steps, lat) = results.get(i)
        all += lat
        reports.append(DemoGuestReport(id: g.id.raw, steps: steps, calls: s.stdCalls,
                                       rpcs: s.rpcFunctions.values.reduce(0, +)))
    }
    var leftovers = 0
    for g in guests {
        stack.removeGuest(g)
    }
    for g in guests {
        if let st = stack.mediator.stats(g.id) { leftovers += st.isEmpty ? 0 : 1 }
        if let sw = stack.secureWorld.stats(clientID: g.id.clientID) { leftovers += sw.sessions + sw.registeredSHM + sw.threadsBusy }
    }
    all.sort()
    func pct(_ p: Double) -> Double { all.isEmpty ? 0 : all[min(all.count - 1, Int(Double(all.count - 1) * p))] }
    return DemoReport(guests: reports, totalCalls: reports.map(\.calls).reduce(0, +),
                      totalRPCs: reports.map(\.rpcs).reduce(0, +), peakPinnedPages: peak.peak,
                      latencyP50us: pct(0.5), latencyP99us: pct(0.99),
                      seconds: LatencyLog.microseconds(elapsed) / 1e6,
                      leftovers: leftovers)
}

/// Collects each guest's results from its thread.
final class ResultBox: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var steps: [[DemoStep]]
    private var latencies: [[Double]]
    init(count: Int) { steps = Array(repeating: [], count: count); latencies = Array(repeating: [], count: count) }
    func set(_ i: Int, steps s: [DemoStep], latencies l: [Double]) { lock.withLock { steps[i] = s; latencies[i] = l } }
    func get(_ i: Int) -> ([DemoStep], [Double]) { lock.withLock { (steps[i], latencies[i]) } }
}

/// Samples the mediator's pinned pages while the workload runs.
final class PeakSampler: @unchecked Sendable {
    // @unchecked: `peakValue` and `running` are guarded by `lock`.
    private let stack: VTEEStack
    private let ids: [GuestID]
    private let lock = NSLock()
    private var running = true
    private var peakValue = 0
    private let done = DispatchSemaphore(value: 0)
    init(stack: VTEEStack, guests: [GuestID]) { self.stack = stack; self.ids = guests }
    var peak: Int { lock.withLock { peakValue } }
    func start() {
        Thread { [self] in
            while lock.withLock({ running }) {
                let pinned = ids.compactMap { stack.mediator.stats($0)?.pinnedPages }.reduce(0, +)
                lock.withLock { peakValue = max(peakValue, pinned) }
                usleep(200)
            }
            done.signal()
        }.start()
    }
    func stop() { lock.withLock { running = false }; done.wait() }
}

/// Defaults of the demo command.
public enum DemoDefaults {
    /// `$XDG_DATA_HOME/vtee` or `~/.local/share/vtee`.
    public static var dataDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let x = env["XDG_DATA_HOME"], !x.isEmpty { return x + "/vtee" }
        return (env["HOME"] ?? "/tmp") + "/.local/share/vtee"
    }
    /// Where `vtee demo` keeps its guests' storage: `<data>/demo`.
    public static var storageDirectory: String { dataDirectory + "/demo" }
    /// Where `vtee serve` roots its guests' storage: `<data>/daemon`.
    public static var daemonStorageDirectory: String { dataDirectory + "/daemon" }
}
