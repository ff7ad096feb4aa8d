/// `vtee bench` results: latency statistics, the report object, its JSON, table and SVG forms.
/// Pure data and formatting; no world is touched here.
import VTEEKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Median and 99th percentile of one measured quantity, in nanoseconds.
public struct BenchStat: Sendable, Equatable {
    /// Median (ns).
    public var median: Double
    /// 99th percentile (ns).
    public var p99: Double
    /// Samples behind the figures.
    public var samples: Int

    /// A statistic from given figures.
    public init(median: Double, p99: Double, samples: Int) { self.median = median; self.p99 = p99; self.samples = samples }

    /// The statistic of `values` (any order); zeros when empty.
    public init(_ values: [Double]) {
        let s = values.sorted()
        samples = s.count
        median = s.isEmpty ? 0 : s[s.count / 2]
        p99 = s.isEmpty ? 0 : s[min(s.count - 1, (s.count * 99) / 100)]
    }

    /// `[median, p99]` as a JSON-ready dictionary.
    var object: [String: Any] { ["median": median.rounded(), "p99": p99.rounded(), "samples": samples] }
}

/// One throughput point: G guests with T threads each, all invoking at once.
public struct BenchThroughput: Sendable, Equatable {
    /// Guests.
    public var guests: Int
    /// Threads per guest.
    public var threadsPerGuest: Int
    /// Completed invokes per second, all threads together.
    public var callsPerSecond: Double
    /// Per-call latency seen by the callers during the run.
    public var latency: BenchStat
}

/// The whole `vtee bench` run, every key of issue 7 side by side.
public struct BenchReport: Sendable {
    /// Cores online, build configuration and the like.
    public var machine: [String: String] = [:]
    /// True for a `--quick` run.
    public var quick = false
    /// Named latency keys (fast_call_ns, invoke_ns, ...), in nanoseconds.
    public var latencies: [String: BenchStat] = [:]
    /// daemon_invoke_ns / (invoke_ns + transport_floor_ns), medians.
    public var daemonOverheadRatio: Double = 0
    /// Throughput points for G in 1, 4, 16, 64.
    public var throughput: [BenchThroughput] = []
    /// RSS growth per idle guest (bytes) with `idleGuests` guests.
    public var guestIdleBytes: Double = 0
    /// Guests used for the idle-memory figure.
    public var idleGuests = 0
    /// Guests attached to one daemon at once, each answering a call.
    public var guestsMax = 0
    /// Guests attempted for `guestsMax`.
    public var guestsTried = 0
    /// Wall-clock seconds of the whole run.
    public var seconds: Double = 0
    /// Heap allocations per steady-state NOP invoke (client to TA and back), counted by the bench
    /// on the calling thread over the same session invoke_ns used; nil when counting is not linked in.
    public var invokeAllocations: Double?

    /// The keys every run reports, in the issue's order.
    public static let latencyKeys = ["fast_call_ns", "invoke_ns", "invoke_tmem4k_ns", "invoke_regshm1m_ns", "rpc_extra_ns",
                                     "open_close_ns", "daemon_invoke_ns", "transport_floor_ns", "storage_write_4k_ns", "storage_read_4k_ns",
                                     "ta_c_invoke_ns", "ta_aes_gcm_4k_ns"]
    /// Targets of issue 7 (ns, or the unit of the key), where one exists.
    public static let targets: [String: Double] = [
        "fast_call_ns": 100, "invoke_ns": 1500, "invoke_tmem4k_ns": 2500, "rpc_extra_ns": 1000,
        "open_close_ns": 5000, "daemon_invoke_ns": 2000, "daemon_overhead_ratio": 1.3, "guest_idle_bytes": 32768,
        "guests_max": 1000, "invoke_allocations": 0,
    ]

    /// Creates an empty report.
    public init() {}

    /// Whether the key's median meets its target (nil when the key has no target).
    public func meets(_ key: String) -> Bool? {
        guard let t = Self.targets[key] else { return nil }
        switch key {
        case "daemon_overhead_ratio": return daemonOverheadRatio <= t
        case "guest_idle_bytes": return guestIdleBytes <= t
        case "guests_max": return Double(guestsMax) >= t
        case "invoke_allocations": return invokeAllocations.map { $0 <= t }
        default: return latencies[key].map { $0.median <= t }
        }
    }

    /// The report as one JSON object: every key of issue 7 plus "machine".
    public var jsonObject: [String: Any] {
        var o: [String: Any] = [:]
        for (k, v) in latencies { o[k] = v.median.rounded() }
        var p99: [String: Any] = [:]
        for (k, v) in latencies { p99[k] = v.p99.rounded() }
        o["p99"] = p99
        var samples: [String: Any] = [:]
        for (k, v) in latencies { samples[k] = v.samples }
        o["samples"] = samples
        o["daemon_overhead_ratio"] = (daemonOverheadRatio * 1000).rounded() / 1000
        var tp: [String: Any] = [:]
        var tpLatency: [String: Any] = [:]
        for t in throughput {
            tp[String(t.guests)] = t.callsPerSecond.rounded()
            tpLatency[String(t.guests)] = t.latency.object
        }
        o["throughput_calls_per_s"] = tp
        o["throughput_threads_per_guest"] = throughput.first?.threadsPerGuest ?? 0
        o["throughput_latency_ns"] = tpLatency
        o["guest_idle_bytes"] = guestIdleBytes.rounded()
        o["guest_idle_guests"] = idleGuests
        o["guests_max"] = guestsMax
        o["guests_tried"] = guestsTried
        if let a = invokeAllocations { o["invoke_allocations"] = (a * 100).rounded() / 100 }
        var met: [String: Any] = [:]
        for k in Self.targets.keys.sorted() { if let m = meets(k) { met[k] = m } }
        o["targets_met"] = met
        o["machine"] = machine
        o["quick"] = quick
        o["seconds"] = (seconds * 10).rounded() / 10
        return o
    }

    /// The JSON document on one line (sorted keys).
    public var json: String {
        guard let d = try? JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys]),
              let s = String(data: d, encoding: .utf8) else { return "{}" }
        return s
    }

    /// A table for people: key, median, p99, target, met.
    public var table: String {
        func pad(_ s: String, _ w: Int, right: Bool = true) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return right ? fill + s : s + fill
        }
        func mark(_ k: String) -> String {
            guard let m = meets(k), let t = Self.targets[k] else { return "report" }
            return (m ? "met " : "MISS ") + "(" + (k == "guests_max" ? ">= " : "<= ") + (t < 10 ? String(t) : fmt(t)) + ")"
        }
        var out = [pad("key", 26, right: false) + pad("median", 14) + pad("p99", 14) + "   target"]
        for k in Self.latencyKeys {
            guard let s = latencies[k] else { continue }
            out.append(pad(k, 26, right: false) + pad(fmt(s.median), 14) + pad(fmt(s.p99), 14) + "   " + mark(k))
        }
        out.append(pad("daemon_overhead_ratio", 26, right: false) + pad(String(format: "%.3f", daemonOverheadRatio), 14)
                   + pad("", 14) + "   " + mark("daemon_overhead_ratio"))
        for t in throughput {
            out.append(pad("throughput G=\(t.guests) T=\(t.threadsPerGuest)", 26, right: false) + pad(fmt(t.callsPerSecond) + "/s", 14)
                       + pad(fmt(t.latency.median) + " ns", 14) + "   report (latency median)")
        }
        out.append(pad("guest_idle_bytes", 26, right: false) + pad(fmt(guestIdleBytes), 14) + pad("(\(idleGuests) guests)", 14)
                   + "   " + mark("guest_idle_bytes"))
        out.append(pad("guests_max", 26, right: false) + pad(String(guestsMax), 14) + pad("(of \(guestsTried))", 14)
                   + "   " + mark("guests_max"))
        if let a = invokeAllocations {
            out.append(pad("invoke_allocations", 26, right: false) + pad(String(format: "%.2f", a), 14) + pad("(per invoke)", 14)
                       + "   " + mark("invoke_allocations"))
        }
        out.append("machine: " + machine.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                   + String(format: "   (%.1f s)", seconds))
        return out.joined(separator: "\n")
    }

    /// An SVG with two panels: invoke latency (median, p99) and throughput against the number of guests.
    public var svg: String {
        let pts = throughput.sorted { $0.guests < $1.guests }
        let w = 900.0, h = 380.0, panelW = 380.0, panelH = 260.0, top = 60.0
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(w / 2)\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">vtee bench: invoke (4 values) against guests, "
        s += "\(pts.first?.threadsPerGuest ?? 0) thread(s) per guest, \(machine["cores"] ?? "?") cores, \(machine["build"] ?? "?")</text>\n"
        func panel(x0: Double, title: String, unit: String, log: Bool = false, series: [(String, String, [Double])]) -> String {
            var p = ""
            let all = series.flatMap { $0.2 }
            let maxY = max(1, (all.max() ?? 1) * 1.1)
            let n = max(1, pts.count - 1)
            func px(_ i: Int) -> Double { x0 + 50 + Double(i) / Double(n) * (panelW - 60) }
            // A log axis (latency: medians and p99 differ by orders of magnitude) spans whole decades.
            let lo = log ? Foundation.floor(log10(max(1, all.filter { $0 > 0 }.min() ?? 1))) : 0
            let hi = log ? Foundation.ceil(log10(max(10, maxY))) : 0
            func py(_ v: Double) -> Double {
                guard log else { return top + panelH - v / maxY * panelH }
                return top + panelH - (log10(max(1, v)) - lo) / max(1, hi - lo) * panelH
            }
            p += "<text x=\"\(x0 + panelW / 2)\" y=\"\(top - 12)\" text-anchor=\"middle\">\(title)</text>\n"
            p += "<line x1=\"\(x0 + 50)\" y1=\"\(top + panelH)\" x2=\"\(x0 + panelW)\" y2=\"\(top + panelH)\" stroke=\"black\"/>\n"
            p += "<line x1=\"\(x0 + 50)\" y1=\"\(top)\" x2=\"\(x0 + 50)\" y2=\"\(top + panelH)\" stroke=\"black\"/>\n"
            let ticks = log ? stride(from: lo, through: hi, by: 1).map { Foundation.pow(10, $0) } : (0...4).map { maxY * Double($0) / 4 }
            for v in ticks {
                p += "<text x=\"\(x0 + 45)\" y=\"\(py(v) + 4)\" text-anchor=\"end\">\(fmt(v))</text>\n"
                p += "<line x1=\"\(x0 + 50)\" y1=\"\(py(v))\" x2=\"\(x0 + panelW)\" y2=\"\(py(v))\" stroke=\"#ddd\"/>\n"
            }
            for (i, t) in pts.enumerated() {
                p += "<text x=\"\(px(i))\" y=\"\(top + panelH + 16)\" text-anchor=\"middle\">\(t.guests)</text>\n"
            }
            p += "<text x=\"\(x0 + 50 + (panelW - 50) / 2)\" y=\"\(top + panelH + 34)\" text-anchor=\"middle\">guests</text>\n"
            p += "<text x=\"\(x0 + 8)\" y=\"\(top - 12)\">\(unit)</text>\n"
            for (li, (name, color, ys)) in series.enumerated() {
                let path = ys.enumerated().map { "\(px($0.offset)),\(py($0.element))" }.joined(separator: " ")
                p += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
                for (i, y) in ys.enumerated() { p += "<circle cx=\"\(px(i))\" cy=\"\(py(y))\" r=\"3\" fill=\"\(color)\"/>\n" }
                p += "<text x=\"\(x0 + 60)\" y=\"\(top + 14 + Double(li) * 14)\" fill=\"\(color)\">\(name)</text>\n"
            }
            return p
        }
        s += panel(x0: 20, title: "invoke latency (log scale)", unit: "ns", log: true,
                   series: [("median", "#1f77b4", pts.map(\.latency.median)), ("p99", "#d62728", pts.map(\.latency.p99))])
        s += panel(x0: 480, title: "throughput", unit: "calls/s",
                   series: [("invokes per second", "#2ca02c", pts.map(\.callsPerSecond))])
        s += "</svg>\n"
        return s
    }
}

/// A number for people: integers below a million as is, larger ones with k/M.
func fmt(_ v: Double) -> String {
    if v >= 10_000_000 { return String(format: "%.1fM", v / 1e6) }
    if v >= 100_000 { return String(format: "%.0fk", v / 1e3) }
    return String(format: "%.0f", v)
}
