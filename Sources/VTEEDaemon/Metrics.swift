/// The daemon's metrics: swift-metrics instruments over a Prometheus registry, refreshed from the
/// daemon's stats at each scrape, and a small HTTP listener that serves the text exposition.
import VTEEKit
import CoreMetrics
import Foundation
import Logging
import Prometheus
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Metrics of one daemon, in Prometheus text format on demand.
public final class DaemonMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let daemon: Daemon
    private let last = Mutex<[String: Int]>([:])
    private let guestDims = Mutex<Set<[String]>>([])

    /// Metrics of `daemon` (instruments are made from this registry's factory; the global
    /// MetricsSystem is left alone, so several daemons can live in one process).
    public init(daemon: Daemon) {
        self.daemon = daemon
        self.factory = PrometheusMetricsFactory(registry: registry)
    }

    /// Refreshes every instrument from the daemon's stats and returns the exposition text.
    public func scrape() -> String {
        let s = daemon.statsObject()
        let totals = s["totals"] as? [String: Int] ?? [:]
        for (k, v) in totals {
            Gauge(label: "vtee_\(k)", factory: factory).record(v)
        }
        Gauge(label: "vtee_secure_threads_busy", factory: factory).record(s["secure_threads_busy"] as? Int ?? 0)
        let perGuest = ["calls_in_flight", "sessions", "shm_buffers", "pinned_pages", "mediator_bytes"]
        var seen = Set<[String]>()
        for g in s["guests"] as? [[String: Any]] ?? [] {
            let ids = ["\(g["id"] ?? 0)", "\(g["pid"] ?? 0)"]
            seen.insert(ids)
            for key in perGuest {
                Gauge(label: "vtee_guest_\(key)", dimensions: [("guest", ids[0]), ("pid", ids[1])], factory: factory).record(g[key] as? Int ?? 0)
            }
        }
        // Series of guests that left are dropped, not left at their last value.
        let gone = guestDims.withLock { prev -> Set<[String]> in defer { prev = seen }; return prev.subtracting(seen) }
        for ids in gone {
            for key in perGuest { Gauge(label: "vtee_guest_\(key)", dimensions: [("guest", ids[0]), ("pid", ids[1])], factory: factory).destroy() }
        }
        // Monotonic figures become counters, incremented by what changed since the last scrape.
        var now: [String: (label: String, dims: [(String, String)], value: Int)] = [:]
        for (kind, n) in s["rpcs"] as? [String: Int] ?? [:] { now["rpc.\(kind)"] = ("vtee_rpcs_total", [("kind", kind)], n) }
        for (code, n) in s["errors"] as? [String: Int] ?? [:] { now["err.\(code)"] = ("vtee_errors_total", [("code", code)], n) }
        for (why, n) in s["detached"] as? [String: Int] ?? [:] { now["det.\(why)"] = ("vtee_guests_detached_total", [("reason", why)], n) }
        let t = daemon.stack.mediator.totals
        now["std"] = ("vtee_std_calls_total", [], t.stdCalls)
        now["fast"] = ("vtee_fast_calls_total", [], t.fastCalls)
        now["guests"] = ("vtee_guests_created_total", [], t.guestsCreated)
        last.withLock { prev in
            for (key, m) in now {
                let delta = m.value - (prev[key] ?? 0)
                if delta > 0 { Counter(label: m.label, dimensions: m.dims, factory: factory).increment(by: delta) }
                else if prev[key] == nil { Counter(label: m.label, dimensions: m.dims, factory: factory).increment(by: 0) }
                prev[key] = m.value
            }
        }
        return registry.emitToString()
    }
}

/// Serves `GET /metrics` (any path) over HTTP/1.0 on a TCP address, one short connection at a time.
public final class MetricsHTTPServer: Sendable {
    private let fd: Int32
    private let stopping = Atomic<Bool>(false)
    /// The TCP port it listens on.
    public let port: UInt16

    /// Listens on `host:port` (IPv4; port 0 picks a free one).
    public init(host: String, port: UInt16, metrics: DaemonMetrics, logger: Logger) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw MetricsError.socket(errno) }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else { close(s); throw MetricsError.badHost(host) }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(s, 16) == 0 else { let e = errno; close(s); throw MetricsError.socket(e) }
        var actual = sockaddr_in(); var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        self.port = UInt16(bigEndian: actual.sin_port)
        fd = s
        let t = Thread { [self] in
            while !stopping.load(ordering: .acquiring) {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 200) > 0 else { continue }
                let c = accept(fd, nil, nil)
                if c < 0 { continue }
                var tv = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var buf = [UInt8](repeating: 0, count: 2048)
                _ = buf.withUnsafeMutableBytes { read(c, $0.baseAddress, $0.count) }
                let body = Array(metrics.scrape().utf8)
                let head = Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
                let all = head + body
                _ = all.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(c)
            }
            close(fd)
        }
        t.name = "vtee-metrics"
        t.start()
        logger.info("metrics on http://\(host):\(self.port)/metrics")
    }

    /// Stops serving.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))   // wakes the poll; the serving thread closes the fd
    }
}

/// Metrics listener failures.
public enum MetricsError: Error, CustomStringConvertible {
    case socket(Int32)
    case badHost(String)
    public var description: String {
        switch self {
        case let .socket(e): "metrics socket: \(String(cString: strerror(e)))"
        case let .badHost(h): "metrics: \(h) is not an IPv4 address"
        }
    }
}
