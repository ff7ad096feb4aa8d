/// Rendering of the demo's results: a table per guest plus a summary, or one JSON object.
import VTEEKit
import Foundation

extension DemoReport {
    /// One JSON object: {"guests":[{"id","ok","steps":[{"name","ok","detail"}],"calls","rpcs"}],"summary":{...}}.
    public var json: String {
        let guestsJSON: [[String: Any]] = guests.map { g in
            ["id": Int(g.id), "ok": g.ok, "calls": g.calls, "rpcs": g.rpcs,
             "steps": g.steps.map { ["name": $0.name, "ok": $0.ok, "detail": $0.detail] as [String: Any] }]
        }
        let summary: [String: Any] = [
            "ok": ok, "guests": guests.count, "total_calls": totalCalls, "total_rpcs": totalRPCs,
            "peak_pinned_pages": peakPinnedPages, "latency_p50_us": round1(latencyP50us),
            "latency_p99_us": round1(latencyP99us), "seconds": round1(seconds * 1000) / 1000, "leftovers": leftovers,
        ]
        let obj: [String: Any] = ["guests": guestsJSON, "summary": summary]
        guard let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]),
              let s = String(data: data, encoding: .utf8) else { return "{}" }
        return s
    }

    /// A table: one row per guest with each step ok/FAILED, then failures in full, then the summary.
    public var table: String {
        var out: [String] = []
        let names = guests.first?.steps.map(\.name) ?? []
        let width = max(24, names.map(\.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        out.append(pad("step", width) + guests.map { pad("  guest \($0.id)", 10) }.joined())
        for (i, n) in names.enumerated() {
            out.append(pad(n, width) + guests.map { g in pad("  " + (i < g.steps.count && g.steps[i].ok ? "ok" : "FAILED"), 10) }.joined())
        }
        out.append(pad("std calls", width) + guests.map { pad("  \($0.calls)", 10) }.joined())
        out.append(pad("rpcs", width) + guests.map { pad("  \($0.rpcs)", 10) }.joined())
        let failures = guests.flatMap { g in g.steps.filter { !$0.ok }.map { "guest \(g.id) \($0.name): \($0.detail)" } }
        if !failures.isEmpty { out.append(""); out.append("failures:"); out += failures.map { "  " + $0 } }
        if let g = guests.first {
            out.append("")
            out.append("guest \(g.id) in detail:")
            out += g.steps.map { "  \(pad($0.name, width)) \($0.detail)" }
        }
        out.append("")
        out.append("summary: \(guests.count) guests, \(totalCalls) std calls, \(totalRPCs) RPCs, peak pinned pages \(peakPinnedPages), "
                   + "call latency p50 \(fmt(latencyP50us)) us, p99 \(fmt(latencyP99us)) us, \(fmt(seconds)) s; leftovers \(leftovers)")
        out.append(ok ? "result: every step of every guest succeeded" : "result: FAILED")
        return out.joined(separator: "\n")
    }

    private func round1(_ v: Double) -> Double { (v * 10).rounded() / 10 }
    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
}
