/// The guest-process side of the daemon: run the demo's workloads or one call as a separate
/// process attached to a daemon.
import VTEEDaemon
import VTEEKit
import Foundation
import Machine
import TEEABI
import TEEClient
import TEEClientRemote
#if canImport(Glibc)
import Glibc
#endif

/// Results of `vtee client`.
public struct ClientRunReport: Sendable {
    /// Steps of each round.
    public var guestSteps: [[DemoStep]]
    /// Std calls made.
    public var calls: Int
    /// RPCs served.
    public var rpcs: Int
    /// Supplicant requests withdrawn unserved at their bound (COMMUNICATION), and requests still
    /// being served when their bound passed (waited for): what a slow or starved supplicant did.
    public var supplicantWithdrawn = 0, supplicantOverdue = 0
    /// True when every step of every round passed.
    public var ok: Bool { guestSteps.allSatisfy { $0.allSatisfy(\.ok) } }
    /// JSON: {"ok", "rounds":[[{"name","ok","detail"}]], "calls", "rpcs", "supplicant_withdrawn", "supplicant_overdue"}.
    public var json: String {
        jsonString(["ok": ok, "calls": calls, "rpcs": rpcs, "supplicant_withdrawn": supplicantWithdrawn, "supplicant_overdue": supplicantOverdue,
                    "rounds": guestSteps.map { $0.map { ["name": $0.name, "ok": $0.ok, "detail": $0.detail] as [String: Any] } }])
    }
}

/// Workload names `vtee client` accepts: `all` or one TA group.
public let clientWorkloads = ["all"] + DemoWorkload.groups

/// Storage directory a guest process of this uid uses under the daemon's storage root.
public func guestStorage(socket: String) -> String {
    var root = DemoDefaults.storageDirectory
    if let line = try? adminQuery(socketPath: socket, command: "config"),
       let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
       let s = obj["storage"] as? String { root = s }
    return root + "/uid-\(getuid())"
}

/// Attaches to the daemon at `socket` and runs `workload` `count` times.
public func runClient(socket: String, workload: String, count: Int) throws -> ClientRunReport {
    var options = RemoteGuestOptions()
    options.storage = guestStorage(socket: socket)
    let context = try TEEContext.connect(socket: socket, options: options)
    defer { context.finalize() }
    var rounds: [[DemoStep]] = []
    for _ in 0..<max(1, count) {
        rounds.append(DemoWorkload(context: context, log: LatencyLog()).run(only: workload == "all" ? nil : workload))
    }
    let s = context.driver.statistics
    var r = ClientRunReport(guestSteps: rounds, calls: s.stdCalls, rpcs: s.rpcFunctions.values.reduce(0, +))
    r.supplicantWithdrawn = context.driver.supplicant.timeouts
    r.supplicantOverdue = context.driver.supplicant.overdue
    return r
}

/// One parameter of `vtee invoke`.
public enum InvokeParam: Sendable, Equatable {
    case none
    case valueIn(UInt32, UInt32)
    case valueOut
    case valueInout(UInt32, UInt32)
    case memIn([UInt8])
    case memOut(Int)
    case memInout([UInt8])

    /// Parses `none`, `value-in:A,B`, `value-out`, `value-inout:A,B`, `in:HEX`, `out:SIZE`, `inout:HEX`.
    public init?(_ s: String) {
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        let kind = parts.first ?? "", arg = parts.count > 1 ? parts[1] : ""
        func pair() -> (UInt32, UInt32)? {
            let v = arg.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            guard v.count == 2, let a = parseUInt32(v[0]), let b = parseUInt32(v[1]) else { return nil }
            return (a, b)
        }
        switch kind {
        case "none" where parts.count == 1: self = .none
        case "value-out" where parts.count == 1: self = .valueOut
        case "value-in": guard let p = pair() else { return nil }; self = .valueIn(p.0, p.1)
        case "value-inout": guard let p = pair() else { return nil }; self = .valueInout(p.0, p.1)
        case "in": guard let b = parseHex(arg) else { return nil }; self = .memIn(b)
        case "inout": guard let b = parseHex(arg) else { return nil }; self = .memInout(b)
        case "out": guard let n = Int(arg), n >= 0, n <= 1 << 20 else { return nil }; self = .memOut(n)
        default: return nil
        }
    }

    var teeParameter: TEEParameter {
        switch self {
        case .none: .none
        case let .valueIn(a, b): .valueInput(a: a, b: b)
        case .valueOut: .valueOutput()
        case let .valueInout(a, b): .valueInout(a: a, b: b)
        case let .memIn(b): .tempInput(b)
        case let .memOut(n): .tempOutput([UInt8](repeating: 0, count: n))
        case let .memInout(b): .tempInout(b)
        }
    }
}

func parseUInt32(_ s: String) -> UInt32? {
    s.hasPrefix("0x") || s.hasPrefix("0X") ? UInt32(s.dropFirst(2), radix: 16) : UInt32(s)
}

func parseHex(_ s: String) -> [UInt8]? {
    let c = Array(s.utf8)
    guard c.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var i = 0
    while i < c.count {
        guard let b = UInt8(String(decoding: c[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(b); i += 2
    }
    return out
}

/// One call for scripting: opens a session on `uuid`, invokes `command` with `params`, and returns
/// the JSON `{"result": "0x...", "origin": N, "params": [...]}` (outputs in hex).
public func invokeOnce(socket: String, uuid: TEEUUID, command: UInt32, params: [InvokeParam]) throws -> String {
    var options = RemoteGuestOptions()
    options.storage = guestStorage(socket: socket)
    let context = try TEEContext.connect(socket: socket, options: options)
    defer { context.finalize() }
    var result = TEEResult.success, origin = TEEOrigin.trustedApp
    var op = TEEOperation(params.map(\.teeParameter))
    do {
        let session = try context.openSession(uuid)
        defer { session.close() }
        do { try session.invoke(command, &op) } catch { result = error.result; origin = error.origin }
    } catch { result = error.result; origin = error.origin }
    var out: [[String: Any]] = []
    for (i, p) in params.enumerated() {
        let q = i < op.params.count ? op.params[i] : .none
        switch p {
        case .none: out.append(["type": "none"])
        case .valueIn: out.append(["type": "value-in"])
        case .valueOut, .valueInout:
            out.append(["type": p == .valueOut ? "value-out" : "value-inout", "a": Int(q.value.a), "b": Int(q.value.b)])
        case .memIn: out.append(["type": "in"])
        case .memOut, .memInout:
            let data = Array(q.buffer.prefix(q.size))
            out.append(["type": isOut(p) ? "out" : "inout", "size": q.size,
                        "data": data.map { String(format: "%02x", $0) }.joined()])
        }
    }
    return jsonString(["result": hex(result.rawValue), "origin": Int(origin.rawValue), "params": out])
}

private func isOut(_ p: InvokeParam) -> Bool { if case .memOut = p { true } else { false } }
