import CShim
import Dispatch
import Machine
import Synchronization
import TEEABI
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Transport: attach, calls, memory, identity, teardown")
struct ServerClientTests {
    @Test("hello, memfd hand-over and mailbox calls from several vCPU threads reach the handler")
    func callsFromManyVCPUs() throws {
        let path = tempSocketPath("calls")
        let delegate = RecordingDelegate()
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: delegate)
        defer { server.stop() }
        let client = try TransportClient.connect(socketPath: path, ramPages: 16, vcpus: 4)
        defer { client.close() }
        #expect(client.ramBase == IPA(0x4000_0000))
        #expect(client.vcpus == 4)

        let wrong = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { vcpu in
            for i in 0..<300 {
                let f = RegisterFrame(a0: UInt64(i), a2: UInt64(vcpu), a3: 0xABCD, a7: 0xFFFF_FFFF_0000_0000 | UInt64(i))
                let r = client.conduit.trap(f, vcpu: vcpu)
                if r != RegisterFrame(a0: UInt64(i) + 1, a1: UInt64(vcpu), a2: UInt64(vcpu), a3: 0xABCD, a7: f.a7) {
                    wrong.wrappingAdd(1, ordering: .relaxed)
                }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(client.conduit.failedTraps == 0)
        let summary = try #require(server.attachedGuests.first)
        #expect(summary.calls == 1200)
        #expect(summary.vcpus == 4)
        #expect(summary.id == client.guestID)
    }

    @Test("a vCPU index outside the guest's vCPUs fails without reaching the daemon")
    func badVCPUIndex() throws {
        let path = tempSocketPath("badvcpu")
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: RecordingDelegate())
        defer { server.stop() }
        let client = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 2)
        defer { client.close() }
        #expect(client.conduit.trap(RegisterFrame(a0: 1), vcpu: 2) == MailboxConduit.failureFrame)
        #expect(client.conduit.trap(RegisterFrame(a0: 1), vcpu: -1) == MailboxConduit.failureFrame)
        #expect(client.conduit.trap(RegisterFrame(a0: 1), vcpu: 1).a0 == 2)
        #expect(server.attachedGuests.first?.calls == 1)
    }

    @Test("the daemon sees the guest's RAM writes through its own mapping, and the guest the daemon's")
    func sharedRAM() throws {
        let path = tempSocketPath("ram")
        let delegate = RecordingDelegate()
        let serverMemory = PhysicalMemory(firstBase: PA(0x1_0000_0000))
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: serverMemory, delegate: delegate)
        defer { server.stop() }
        let client = try TransportClient.connect(socketPath: path, ramPages: 8, vcpus: 1)
        defer { client.close() }
        let handle = try #require(delegate.handles.first)
        #expect(handle.ramPages == 8)
        #expect(handle.ram.pages == 8)
        #expect(serverMemory.region(containing: handle.ram.basePA) === handle.ram)
        #expect(client.ram.basePA == PA(client.ramBase.raw))

        // Guest writes at RAM offset 3 pages + 10; daemon reads the same offset in its region.
        let data: [UInt8] = Array("written by the guest".utf8)
        try client.memory.write(PA(client.ramBase.raw + 3 * 4096 + 10), data, world: .nonSecure)
        let seen = try serverMemory.read(PA(handle.ram.basePA.raw + 3 * 4096 + 10), count: data.count, world: .nonSecure)
        #expect(seen == data)

        // And back.
        try serverMemory.write(PA(handle.ram.basePA.raw + 7 * 4096), [1, 2, 3, 4], world: .nonSecure)
        #expect(try client.memory.read(PA(client.ramBase.raw + 7 * 4096), count: 4, world: .nonSecure) == [1, 2, 3, 4])

        // A GuestAddressSpace over the adopted region, placed where WELCOME says, agrees too.
        let space = try GuestAddressSpace(memory: client.memory, id: client.guestID, region: client.ram, layout: .identity)
        #expect(space.ramBase == client.ramBase)
        #expect(try space.read(IPA(client.ramBase.raw + 3 * 4096 + 10), count: data.count) == data)
    }

    @Test("peer credentials come from the kernel and equal this process's uid, gid and pid")
    func peerCredentials() throws {
        let path = tempSocketPath("creds")
        let delegate = RecordingDelegate()
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: delegate)
        defer { server.stop() }
        let client = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { client.close() }
        let h = try #require(delegate.handles.first)
        #expect(h.credentials == PeerCredentials(uid: getuid(), gid: getgid(), pid: getpid()))
        #expect(client.daemonCredentials == PeerCredentials(uid: getuid(), gid: getgid(), pid: getpid()))
    }

    @Test("the socket file is created with the requested mode")
    func socketMode() throws {
        let path = tempSocketPath("mode")
        let server = try TransportServer(socketPath: path, mode: 0o600, limits: testLimits(), memory: PhysicalMemory(),
                                         delegate: RecordingDelegate())
        defer { server.stop() }
        var st = stat()
        #expect(lstat(path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(st.st_mode & S_IFMT == S_IFSOCK)
    }

    @Test("BYE detaches the guest only after its vCPU threads ended, and its RAM leaves the address space")
    func goodbyeDetaches() throws {
        let path = tempSocketPath("bye")
        let delegate = RecordingDelegate()
        let memory = PhysicalMemory()
        let server = try TransportServer(socketPath: path, limits: testLimits(firstGuestID: 7001), memory: memory, delegate: delegate)
        defer { server.stop() }
        let client = try TransportClient.connect(socketPath: path, ramPages: 2, vcpus: 3)
        let id = client.guestID
        #expect(id == GuestID(7001))
        #expect(memory.regionCount == 1)
        #expect(eventually { threads(named: "vtee-g7001v") == 3 })
        client.close()
        #expect(eventually { delegate.reason(of: id) != nil })
        #expect(eventually { threads(named: "vtee-g7001v") == 0 })
        #expect(delegate.reason(of: id) == .goodbye)
        #expect(eventually { server.stats.guests == 0 })
        #expect(memory.regionCount == 0)
        #expect(server.attachedGuests.isEmpty)
        #expect(client.conduit.trap(RegisterFrame(a0: 1), vcpu: 0) == MailboxConduit.failureFrame)
    }

    @Test("a guest that vanishes without BYE is noticed and torn down")
    func disconnectNoticed() throws {
        let path = tempSocketPath("eof")
        let delegate = RecordingDelegate()
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: delegate)
        defer { server.stop() }
        let raw = try #require(RawGuest(path: path))
        #expect(raw.send(helloBytes(pages: 1, vcpus: 2), fds: [sealedMemfd(4096), sealedMemfd(4096)]))
        guard case .welcome? = raw.receive() else { Issue.record("no WELCOME"); return }
        let id = try #require(delegate.handles.first?.id)
        raw.hangUp()   // the process "dies": socket closes without BYE
        #expect(eventually { delegate.reason(of: id) == .disconnected })
        #expect(eventually { server.stats.guests == 0 })
    }

    @Test("once a guest detached the daemon holds none of its descriptors or threads")
    func detachReleasesEverything() throws {
        let path = tempSocketPath("release")
        let delegate = RecordingDelegate(retainHandles: false)
        let server = try TransportServer(socketPath: path, limits: testLimits(firstGuestID: 7101), memory: PhysicalMemory(),
                                         delegate: delegate)
        defer { server.stop() }
        let raw = try #require(RawGuest(path: path))
        let ram = sealedMemfd(2 * 4096), mb = sealedMemfd(4096)
        var ramStat = stat(), mbStat = stat()
        #expect(fstat(ram, &ramStat) == 0 && fstat(mb, &mbStat) == 0)
        raw.send(helloBytes(pages: 2, vcpus: 2), fds: [ram, mb])
        close(ram); close(mb)
        guard case .welcome? = raw.receive() else { Issue.record("no WELCOME"); return }
        #expect(openDescriptors(ofInode: ramStat.st_ino) == 1)   // the daemon's copy
        #expect(openDescriptors(ofInode: mbStat.st_ino) == 1)
        #expect(eventually { threads(named: "vtee-g7101v") == 2 })
        raw.hangUp()
        #expect(eventually { delegate.reason(of: GuestID(7101)) == .disconnected })
        #expect(eventually { openDescriptors(ofInode: ramStat.st_ino) == 0 && openDescriptors(ofInode: mbStat.st_ino) == 0 })
        #expect(eventually { threads(named: "vtee-g7101v") == 0 })
    }

    @Test("stop rejects a connection still in its handshake")
    func stopDuringHandshake() throws {
        let path = tempSocketPath("stophs")
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: RecordingDelegate())
        let raw = try #require(RawGuest(path: path))
        raw.send(Array(helloBytes(pages: 1, vcpus: 1).prefix(4)))
        #expect(eventually { server.stats.handshaking == 1 })
        #expect(server.stop())
        guard case let .reject(reason, _)? = raw.receive() else { Issue.record("no REJECT"); return }
        #expect(reason == RejectReason.shuttingDown.rawValue)
    }

    @Test("a guest the owner refuses gets REJECT and its RAM is released")
    func refusedGuest() throws {
        let path = tempSocketPath("refuse")
        let memory = PhysicalMemory()
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: memory,
                                         delegate: RecordingDelegate(refuseAll: true))
        defer { server.stop() }
        #expect(throws: TransportError.rejected(reason: RejectReason.refused.rawValue, message: "not today")) {
            _ = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        }
        #expect(memory.regionCount == 0)
        #expect(server.stats.guests == 0)
    }

    @Test("stop tells attached guests, ends their threads, and removes the socket file")
    func stopRemovesSocket() throws {
        let path = tempSocketPath("stop")
        let delegate = RecordingDelegate()
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: delegate)
        let client = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 2)
        defer { client.close() }
        #expect(client.conduit.trap(RegisterFrame(a0: 41), vcpu: 1).a0 == 42)
        #expect(access(path, F_OK) == 0)
        #expect(server.stop())
        #expect(access(path, F_OK) != 0)
        #expect(delegate.reason(of: client.guestID) == .serverStopping)
        #expect(server.stats.guests == 0)
        // The guest's next trap fails within a bound instead of hanging.
        #expect(client.conduit.trap(RegisterFrame(a0: 1), vcpu: 0) == MailboxConduit.failureFrame)
        #expect(client.conduit.trap(RegisterFrame(a0: 1), vcpu: 1) == MailboxConduit.failureFrame)
        #expect(server.stop())   // idempotent
        #expect(throws: TransportError.self) { _ = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1) }
    }

    @Test("a call in flight when the daemon stops still gets its answer; the next one fails")
    func stopDuringCall() throws {
        let path = tempSocketPath("inflight")
        let entered = Atomic<Bool>(false)
        let release = DispatchSemaphore(value: 0)
        let delegate = RecordingDelegate { f, _ in
            entered.store(true, ordering: .releasing)
            _ = release.wait(timeout: .now() + .seconds(10))   // held until the test lets go (bounded)
            return RegisterFrame(a0: f.a0 + 100)
        }
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: delegate)
        let client = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { client.close() }
        let answer = Mutex<RegisterFrame?>(nil)
        let done = Atomic<Bool>(false)
        // Own threads, not the global queue: its few workers (one per core) may all be held by
        // other tests' blocking work under load, and the call would wait for them, not for the daemon.
        #expect(spawnThread(name: "test-call") {
            let r = client.conduit.trap(RegisterFrame(a0: 1), vcpu: 0)
            answer.withLock { $0 = r }
            done.store(true, ordering: .releasing)
        })
        #expect(eventually { entered.load(ordering: .acquiring) })
        #expect(server.attachedGuests.first?.callsInFlight == 1)
        let stopper = Atomic<Bool>(false)
        #expect(spawnThread(name: "test-stop") { _ = server.stop(); stopper.store(true, ordering: .releasing) })
        #expect(eventually { access(path, F_OK) != 0 })
        release.signal()
        #expect(eventually { done.load(ordering: .acquiring) && stopper.load(ordering: .acquiring) })
        #expect(answer.withLock { $0 } == RegisterFrame(a0: 101))
        #expect(client.conduit.trap(RegisterFrame(a0: 1), vcpu: 0) == MailboxConduit.failureFrame)
    }

    @Test("a stale socket file is replaced, a live daemon's socket is not")
    func staleSocket() throws {
        let path = tempSocketPath("stale")
        // A socket file nobody listens on.
        let fd = vtee_unix_listen(path, 0o600, 1)
        #expect(fd >= 0)
        close(fd)
        #expect(access(path, F_OK) == 0)
        let server = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: RecordingDelegate())
        defer { server.stop() }
        #expect(throws: TransportError.self) {
            _ = try TransportServer(socketPath: path, limits: testLimits(), memory: PhysicalMemory(), delegate: RecordingDelegate())
        }
        let client = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { client.close() }
        #expect(client.conduit.trap(RegisterFrame(a0: 5), vcpu: 0).a0 == 6)
    }

    @Test("the null-handler benchmark hook measures echo round trips")
    func benchmarkHook() throws {
        let dir = tempSocketPath("bench").split(separator: "/").dropLast().joined(separator: "/")
        let floor = try TransportBenchmark.nullRoundTrips(calls: 300, warmup: 20, directory: "/" + dir)
        #expect(floor.calls == 300)
        #expect(floor.medianNanoseconds > 0)
        #expect(floor.p99Nanoseconds >= floor.medianNanoseconds)
    }
}

@Suite("Transport: guest ids")
struct GuestIDTests {
    @Test("guest ids are the lowest free ones and stay below firstGuestID + maxGuests across many attach/detach rounds")
    func idsReusedWithinBound() throws {
        let path = tempSocketPath("ids")
        let delegate = RecordingDelegate(retainHandles: false)
        let server = try TransportServer(socketPath: path, limits: testLimits(maxGuests: 2, firstGuestID: 50),
                                         memory: PhysicalMemory(), delegate: delegate)
        defer { server.stop() }
        let a = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
        defer { a.close() }
        #expect(a.guestID == GuestID(50))
        for _ in 0..<10 {
            let b = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
            #expect(b.guestID == GuestID(51))
            #expect(b.conduit.trap(RegisterFrame(a0: 1), vcpu: 0).a0 == 2)
            b.close()
            #expect(eventually { server.stats.guests == 1 })
        }
        #expect(delegate.attachedIDs.withLock { $0 }.allSatisfy { $0.raw >= 50 && $0.raw < 52 })
        #expect(server.attachedGuests.map(\.id) == [GuestID(50)])
    }
}

@Suite("Transport: connecting")
struct ConnectTests {
    @Test("connect to a listener whose backlog stays full gives up with ETIMEDOUT instead of hanging")
    func fullBacklogTimesOut() throws {
        let path = tempSocketPath("backlog")
        let listener = vtee_unix_listen(path, 0o600, 0)   // never accepted
        try #require(listener >= 0)
        defer { close(listener); unlink(path) }
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        // Fill the backlog with connections nobody accepts.
        for _ in 0..<8 {
            let c = vtee_unix_connect_timeout(path, 50)
            if c < 0 { break }
            held.append(c)
        }
        let c = vtee_unix_connect_timeout(path, 100)
        #expect(c < 0)
        #expect(errno == ETIMEDOUT)
        #expect(throws: TransportError.self) {
            _ = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1, timeout: .milliseconds(100))
        }
    }

    @Test("connect to a path with no daemon fails at once")
    func noDaemon() {
        #expect(throws: TransportError.self) {
            _ = try TransportClient.connect(socketPath: tempSocketPath("nobody"), ramPages: 1, vcpus: 1)
        }
    }
}
