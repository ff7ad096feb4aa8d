import CShim
import Dispatch
import Foundation
import Machine
import Synchronization
import TEEABI
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

/// A real second process: a forked child running a minimal guest written in C (CShim's
/// `vtee_test_spawn_c_guest`), so pids differ and SIGKILL is real.
@Suite("Transport: a guest in another process")
struct ProcessGuestTests {
    /// Reaps `pid` (bounded): true once it exited or was killed.
    func reap(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        return eventually { waitpid(pid, &status, WNOHANG) == pid }
    }

    @Test("a forked guest process attaches with its own pid, its RAM writes and calls arrive, SIGKILL tears it down")
    func forkedGuestKilled() throws {
        let path = tempSocketPath("fork")
        let seen = Mutex<[RegisterFrame]>([])
        let delegate = RecordingDelegate { f, _ in
            seen.withLock { $0.append(f) }
            return RegisterFrame(a0: 0)
        }
        let memory = PhysicalMemory()
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: memory, delegate: delegate)
        defer { server.stop() }
        let child = vtee_test_spawn_c_guest(path, 4, 0xA5, 3, 0)
        try #require(child > 0)
        var reaped = false
        defer { if !reaped { kill(child, SIGKILL); _ = reap(child) } }

        #expect(eventually { seen.withLock { $0.count } == 3 })
        let handle = try #require(delegate.handles.first)
        #expect(handle.credentials == PeerCredentials(uid: getuid(), gid: getgid(), pid: child))
        #expect(handle.credentials.pid != getpid())
        #expect(handle.ramPages == 4)
        #expect(try memory.read(handle.ram.basePA, count: 4096, world: .nonSecure) == [UInt8](repeating: 0xA5, count: 4096))
        #expect(seen.withLock { $0 }.map(\.a0) == [0, 1, 2])
        #expect(seen.withLock { $0 }.allSatisfy { $0.a1 == 0x5EED })

        #expect(kill(child, SIGKILL) == 0)
        reaped = reap(child)
        #expect(reaped)
        #expect(eventually { delegate.reason(of: handle.id) == .disconnected })
        #expect(eventually { server.stats.guests == 0 })
        #expect(memory.regionCount == 0)
    }

    @Test("a guest process killed in the middle of a call is torn down once the call returns")
    func killedMidCall() throws {
        let path = tempSocketPath("midcall")
        let entered = Atomic<Bool>(false)
        let release = DispatchSemaphore(value: 0)
        let delegate = RecordingDelegate { f, _ in
            entered.store(true, ordering: .releasing)
            _ = release.wait(timeout: .now() + .seconds(10))   // held until the test lets go (bounded)
            return f
        }
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: delegate)
        defer { server.stop() }
        let bystander = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { bystander.close() }
        let child = vtee_test_spawn_c_guest(path, 1, 0, 1, 0)
        try #require(child > 0)
        var reaped = false
        defer { if !reaped { kill(child, SIGKILL); _ = reap(child) } }
        #expect(eventually { entered.load(ordering: .acquiring) })
        let victim = try #require(delegate.handles.first { $0.credentials.pid == child })
        #expect(kill(child, SIGKILL) == 0)
        reaped = reap(child)
        #expect(reaped)
        // The call is still running: the guest is not detached under it.
        #expect(delegate.reason(of: victim.id) == nil)
        release.signal()
        #expect(eventually { delegate.reason(of: victim.id) == .disconnected })
        #expect(bystander.conduit.trap(RegisterFrame(a0: 3), vcpu: 0).a0 == 3)
    }

    @Test("a guest process that exits after its calls is noticed")
    func exitNoticed() throws {
        let path = tempSocketPath("exit")
        let delegate = RecordingDelegate()
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: delegate)
        defer { server.stop() }
        let child = vtee_test_spawn_c_guest(path, 2, 1, 5, 1)
        try #require(child > 0)
        var status: Int32 = 0
        #expect(eventually { waitpid(child, &status, WNOHANG) == child })
        #expect(status == 0)   // exit code 0: attached and all five calls answered
        let id = try #require(delegate.handles.first?.id)
        #expect(eventually { delegate.reason(of: id) == .disconnected })
    }
}

/// The guest side when the daemon is another process that dies: a pending call must end.
@Suite("Transport: the daemon process dies under a waiting guest")
struct DaemonDeathTests {
    @Test("a call the daemon took (busy) fails once the daemon process is gone, not before")
    func busyCallEndsWhenDaemonDies() throws {
        // A forked C process plays the daemon's end of the socket: it connects to our listener,
        // so the accepted socket's peer (the "daemon") is that process.
        let path = tempSocketPath("daemondeath")
        let listener = vtee_unix_listen(path, 0o600, 4)
        try #require(listener >= 0)
        defer { close(listener); unlink(path) }
        let child = vtee_test_spawn_c_guest(path, 1, 0, 0, 0)
        try #require(child > 0)
        var status: Int32 = 0
        var reaped = false
        defer { if !reaped { kill(child, SIGKILL); _ = eventually { waitpid(child, &status, WNOHANG) == child } } }
        var accepted: Int32 = -1
        var uid: UInt32 = 0, gid: UInt32 = 0, pid: Int32 = 0
        #expect(eventually { accepted = vtee_unix_accept(listener, &uid, &gid, &pid); return accepted >= 0 })
        try #require(accepted >= 0)
        #expect(pid == child)

        let connection = ClientConnection(fd: accepted)
        #expect(connection.daemonPidFD >= 0)
        let mb = try #require(MailboxMapping(fd: sealedMemfd(4096), slots: 1))
        let slot = try #require(mb.slot(0))
        let conduit = MailboxConduit(mailbox: mb, connection: connection, tuning: testLimits())
        let result = Mutex<RegisterFrame?>(nil)
        Thread.detachNewThread {
            let r = conduit.trap(RegisterFrame(a0: 0x3200_0004), vcpu: 0)
            result.withLock { $0 = r }
        }
        // Act as the daemon's vCPU thread: take the request.
        #expect(eventually { vtee_cas_u32(slot.state, MailboxState.request.rawValue, MailboxState.busy.rawValue) != 0 })
        // Several futex slices, each ending in a liveness check, pass: a live daemon is waited for.
        #expect(eventually { conduit.livenessChecks >= 3 })
        #expect(result.withLock { $0 } == nil)
        #expect(kill(child, SIGKILL) == 0)
        reaped = eventually { waitpid(child, &status, WNOHANG) == child }
        #expect(reaped)
        #expect(eventually { result.withLock { $0 } != nil })
        #expect(result.withLock { $0 } == MailboxConduit.failureFrame)
    }
}
