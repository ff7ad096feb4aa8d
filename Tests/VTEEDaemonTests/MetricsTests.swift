import Foundation
import Testing
@testable import VTEEDaemon
import VTEEDemo
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's Prometheus exposition reflects what guests did.
@Suite(.serialized) struct MetricsTests {
    @Test func scrapingAfterAGuestRanShowsCallsRPCsAndNoLeftovers() throws {
        let dir = "/tmp/vtee-m-" + String(UUID().uuidString.prefix(8))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let m = DaemonMetrics(daemon: d)
        let r = try runClient(socket: d.config.socketPath, workload: "rpc", count: 1)
        #expect(r.ok)
        _ = DaemonTests.eventually(10) { (d.statsObject()["totals"] as? [String: Int])?["guests"] == 0 }
        let text = m.scrape()
        #expect(text.contains("vtee_std_calls_total"))
        #expect(text.contains("vtee_rpcs_total{kind=\"cmd:get_time\"} 1"), "\(text)")
        #expect(text.contains("vtee_guests 0.0"))
        #expect(!text.contains("vtee_guest_sessions{"), "a departed guest's series is dropped")
        #expect(text.contains("vtee_pinned_pages 0.0"))
        #expect(text.contains("vtee_guests_detached_total{reason=\"goodbye\"} 1"))
        // Counters never go down between scrapes.
        let again = m.scrape()
        #expect(again.contains("vtee_guests_created_total 1"))
    }

    @Test func theHTTPListenerServesTheExposition() throws {
        let dir = "/tmp/vtee-m-" + String(UUID().uuidString.prefix(8))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let server = try MetricsHTTPServer(host: "127.0.0.1", port: 0, metrics: DaemonMetrics(daemon: d), logger: d.config.logger)
        defer { server.stop() }
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET); addr.sin_port = server.port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(rc == 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let req = Array("GET /metrics HTTP/1.0\r\n\r\n".utf8)
        _ = req.withUnsafeBytes { write(s, $0.baseAddress, $0.count) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true { let n = buf.withUnsafeMutableBytes { read(s, $0.baseAddress, $0.count) }; if n <= 0 { break }; out += buf[0..<n] }
        let text = String(decoding: out, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.0 200 OK"))
        #expect(text.contains("vtee_guests"))
    }
}
