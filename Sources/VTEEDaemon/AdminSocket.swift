/// The daemon's admin socket: a Unix stream socket where each connection sends one command line
/// (`stats` or `config`) and gets one JSON line back. Requests are bounded in size and time;
/// clients are served concurrently (a thread each, at most `maxClients` at once), and each
/// answer is made for the asking process's credentials (SO_PEERCRED on the admin connection).
import VTEEKit
import CShim
import Foundation
import Logging
import Synchronization
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// Accepts admin connections on its own thread.
final class AdminServer: Sendable {
    let path: String
    private let fd: Int32
    private let stopping = Atomic<Bool>(false)
    private let logger: Logger
    private let active = Atomic<Int>(0)
    /// Clients served at once; more are told to come back.
    static let maxClients = 16
    /// How long a client may take to send its command.
    static let readTimeoutSeconds = 3

    init(path: String, mode: UInt32, logger: Logger) throws {
        self.path = path; self.logger = logger
        unlink(path)
        let f = vtee_unix_listen(path, mode, 16)
        guard f >= 0 else { throw AdminError.listen(path: path, errno: errno) }
        fd = f
    }

    /// Serves commands with `answer(command, asker)` until `stop()`.
    func start(_ answer: @escaping @Sendable (String, PeerCredentials) -> String) {
        let t = Thread { [self] in
            while !stopping.load(ordering: .acquiring) {
                // Wait for a connection (the listening socket is non-blocking), waking now and
                // then to notice stop().
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 200) > 0 else { continue }
                var uid: UInt32 = 0, gid: UInt32 = 0, pid: Int32 = 0
                let c = vtee_unix_accept(fd, &uid, &gid, &pid)
                if c < 0 { continue }
                let asker = PeerCredentials(uid: uid, gid: gid, pid: pid)
                // Accepted sockets come non-blocking: make this one blocking with a time limit.
                _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK)
                var tv = timeval(tv_sec: Self.readTimeoutSeconds, tv_usec: 0)
                setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                guard active.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue <= Self.maxClients else {
                    active.wrappingSubtract(1, ordering: .relaxed)
                    Self.reply(c, jsonString(["error": "busy; try again"]))
                    continue
                }
                let client = Thread { [self] in
                    var buf = [UInt8](repeating: 0, count: 256)
                    let n = buf.withUnsafeMutableBytes { read(c, $0.baseAddress, 255) }
                    let line = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
                    Self.reply(c, answer(line, asker))
                    active.wrappingSubtract(1, ordering: .relaxed)
                }
                client.name = "vtee-admin-client"
                client.start()
            }
            close(fd)
        }
        t.name = "vtee-admin"
        t.start()
    }

    /// Sends one answer line and closes the connection.
    static func reply(_ c: Int32, _ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(c)
    }

    /// Stops accepting and removes the socket file.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))   // wakes the poll; the serving thread closes the fd
        unlink(path)
    }
}

/// Admin socket failures.
public enum AdminError: Error, CustomStringConvertible {
    case listen(path: String, errno: Int32)
    case connect(path: String, errno: Int32)
    case noAnswer(path: String)
    public var description: String {
        switch self {
        case let .listen(p, e): "cannot listen on \(p): \(String(cString: strerror(e)))"
        case let .connect(p, e): "cannot reach the daemon at \(p): \(String(cString: strerror(e)))"
        case let .noAnswer(p): "no answer from \(p)"
        }
    }
}

/// Sends one admin command to the daemon whose guest socket is `socketPath`; returns its JSON line.
public func adminQuery(socketPath: String, command: String) throws -> String {
    let path = socketPath + ".admin"
    let c = vtee_unix_connect(path)
    guard c >= 0 else { throw AdminError.connect(path: path, errno: errno) }
    defer { close(c) }
    var tv = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let req = Array((command + "\n").utf8)
    _ = req.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(c, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        out += buf[0..<n]
        if out.last == 0x0A { break }
    }
    guard !out.isEmpty else { throw AdminError.noAnswer(path: path) }
    return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
