/// The guest side of `vtee bench`'s daemon figures (`vtee bench-guest`): attaches to a daemon as a
/// guest (driver + supplicant in this process, RAM and mailboxes shared with the daemon), runs the
/// NOP invoke loop, then null traps against an echo transport server; prints one JSON line.
import VTEEKit
import Foundation
import Machine
import TEEABI
import TEEClient
import TEEClientRemote
import Transport
import TrustedApps

/// What the guest loop does.
public struct BenchGuestArguments: Sendable {
    /// The daemon's guest socket.
    public var socket: String
    /// The echo transport server's socket (transport_floor_ns); empty: no floor loop.
    public var echoSocket: String
    /// Timed calls of each loop.
    public var iterations: Int
    /// Untimed calls before each loop.
    public var warmup: Int
    /// Storage directory of this guest's supplicant.
    public var storage: String
    /// Arguments of one guest loop.
    public init(socket: String, echoSocket: String, iterations: Int, warmup: Int, storage: String) {
        self.socket = socket; self.echoSocket = echoSocket; self.iterations = iterations; self.warmup = warmup; self.storage = storage
    }
}

/// The guest loop's figures.
public struct BenchGuestResult: Sendable, Equatable {
    /// NOP invoke (4 values) through the daemon.
    public var invoke: BenchStat
    /// Null round trip through the same kind of mailbox and doorbell to an echo server.
    public var floor: BenchStat
    /// GET_OS_REVISION through the daemon.
    public var fastCall: BenchStat

    /// One JSON line.
    public var json: String {
        func o(_ s: BenchStat) -> String { "{\"median\":\(s.median),\"p99\":\(s.p99),\"samples\":\(s.samples)}" }
        return "{\"invoke\":\(o(invoke)),\"floor\":\(o(floor)),\"fast_call\":\(o(fastCall))}"
    }

    /// Parses `json`; nil when any figure is missing.
    public init?(json: String) {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        func s(_ k: String) -> BenchStat? {
            guard let d = obj[k] as? [String: Any], let m = (d["median"] as? NSNumber)?.doubleValue,
                  let p = (d["p99"] as? NSNumber)?.doubleValue, let n = (d["samples"] as? NSNumber)?.intValue else { return nil }
            return BenchStat(median: m, p99: p, samples: n)
        }
        guard let i = s("invoke"), let f = s("floor"), let fc = s("fast_call") else { return nil }
        invoke = i; floor = f; fastCall = fc
    }

    init(invoke: BenchStat, floor: BenchStat, fastCall: BenchStat) { self.invoke = invoke; self.floor = floor; self.fastCall = fastCall }
}

/// Runs the guest loops (see the file comment).
public func runBenchGuest(_ a: BenchGuestArguments) -> Result<BenchGuestResult, BenchError> {
    var options = RemoteGuestOptions()
    options.ramPages = 256
    options.vcpus = 1
    options.storage = a.storage
    let ctx: TEEContext
    do { ctx = try TEEContext.connect(socket: a.socket, options: options) } catch { return .failure(.setup("connect: \(error)")) }
    defer { ctx.finalize() }
    let invoke: BenchStat, fast: BenchStat
    do {
        let session: TEESession
        do { session = try ctx.openSession(TestTA.uuid) } catch { throw BenchError.call("daemon open", error) }
        defer { session.close() }
        var op = Bench.nopOperation()
        invoke = BenchStat(try sampleLatency(warmup: a.warmup, samples: a.iterations) { () throws(BenchError) in
            do throws(TEEError) { try session.invoke(TestTA.Command.nopValues.rawValue, &op) } catch { throw .call("daemon_invoke_ns", error) }
        })
        let conduit = ctx.driver.conduit
        let rev = RegisterFrame(.getOSRevision)
        fast = BenchStat(try sampleLatency(warmup: a.warmup, samples: a.iterations) { _ = conduit.trap(rev, vcpu: 0) })
    } catch let e as BenchError { return .failure(e) } catch { return .failure(.setup("\(error)")) }

    // No echo server (a profile of the daemon path alone, e.g. against `vtee serve`): no floor.
    if a.echoSocket.isEmpty { return .success(BenchGuestResult(invoke: invoke, floor: BenchStat(median: 0, p99: 0, samples: 0), fastCall: fast)) }
    let client: TransportClient
    do { client = try TransportClient.connect(socketPath: a.echoSocket, ramPages: 1, vcpus: 1) } catch {
        return .failure(.setup("echo connect: \(error)"))
    }
    defer { client.close() }
    let frame = RegisterFrame(.callWithArg, a1: 1, a2: 2, a3: 3)
    let conduit = client.conduit
    let floor: BenchStat
    do {
        floor = BenchStat(try sampleLatency(warmup: a.warmup, samples: a.iterations) { () throws(BenchError) in
            guard conduit.trap(frame, vcpu: 0) == frame else { throw .setup("echo answered something else") }
        })
    } catch { return .failure(error) }
    return .success(BenchGuestResult(invoke: invoke, floor: floor, fastCall: fast))
}
