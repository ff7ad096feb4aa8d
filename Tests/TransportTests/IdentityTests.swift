// The identity a guest gets is that of the process that SPEAKS (sends HELLO), read from the
// kernel when HELLO arrives: a process that connects and hands the socket to another cannot lend
// it its identity, and an identity that cannot be resolved is refused, never guessed.
import CShim
import Machine
import Synchronization
import TEEABI
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Transport: identity is bound to the process that sends HELLO")
struct IdentityTests {
    func reap(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        return eventually { waitpid(pid, &status, WNOHANG) == pid || (kill(pid, 0) != 0 && errno == ESRCH) }
    }

    /// This test binary's own path (what a forked, not exec'd, child runs).
    func selfExe() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    @Test("connect, fork, exec another program in the parent while the child says HELLO: the child gets its own identity, not the program's")
    func borrowedApplicationIdentity() throws {
        let path = tempSocketPath("borrow")
        let delegate = RecordingDelegate()
        var limits = testLimits()
        limits.handshakeTimeout = .seconds(20)   // forking and exec'ing may take a while on a loaded host
        let server = try TransportServer(socketPath: path, limits: limits, memory: PhysicalMemory(), delegate: delegate)
        defer { server.stop() }
        var speaker: Int32 = -1
        let connector = vtee_test_spawn_split_hello(path, "/bin/sleep", 2, &speaker)
        try #require(connector > 0)
        defer {
            kill(connector, SIGKILL); _ = reap(connector)
            if speaker > 0 { kill(speaker, SIGKILL) }
        }
        try #require(speaker > 0)
        #expect(eventually(seconds: 20) { delegate.handles.count == 1 })
        let handle = try #require(delegate.handles.first)
        // The connector (SO_PEERCRED's pid) now runs /bin/sleep; the guest is the speaker.
        #expect(handle.credentials.pid == speaker)
        #expect(handle.credentials.pid != connector)
        #expect(handle.credentials.uid == getuid())
        #expect(handle.executable == selfExe())
        #expect(handle.executable?.hasSuffix("sleep") == false)
    }
}
