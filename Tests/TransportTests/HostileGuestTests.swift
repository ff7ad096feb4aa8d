import CShim
import Machine
import Synchronization
import TEEABI
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

/// Each test runs one well-behaved guest next to the attacker and checks it keeps working.
@Suite("Transport: hostile guests are closed, the daemon keeps serving")
struct HostileGuestTests {
    /// Starts a server plus one good guest; runs `attack`; then checks the good guest still works.
    func withBystander(_ tag: String, maxGuests: Int = 8,
                       _ attack: (_ path: String, _ server: TransportServer, _ delegate: RecordingDelegate) throws -> Void) throws {
        let path = tempSocketPath(tag)
        let delegate = RecordingDelegate()
        let memory = PhysicalMemory()
        let server = try TransportServer(socketPath: path, limits: testLimits(maxGuests: maxGuests), memory: memory, delegate: delegate)
        defer { server.stop() }
        let good = try TransportClient.connect(socketPath: path, ramPages: 2, vcpus: 1)
        defer { good.close() }
        #expect(good.conduit.trap(RegisterFrame(a0: 1), vcpu: 0).a0 == 2)
        try attack(path, server, delegate)
        #expect(good.conduit.trap(RegisterFrame(a0: 10), vcpu: 0).a0 == 11)
        #expect(good.isConnected)
        // After the attacker is gone only the bystander's RAM remains.
        #expect(eventually { memory.regionCount == 1 })
    }

    /// Expects the daemon to answer REJECT with `reason` and hang up.
    func expectRejected(_ raw: RawGuest, _ reason: RejectReason, sourceLocation: SourceLocation = #_sourceLocation) {
        let m = raw.receive()
        guard case let .reject(r, _)? = m else {
            Issue.record("expected REJECT \(reason), got \(String(describing: m))", sourceLocation: sourceLocation); return
        }
        #expect(r == reason.rawValue, sourceLocation: sourceLocation)
        #expect(raw.seesHangUp(), sourceLocation: sourceLocation)
    }

    @Test("random garbage instead of HELLO is rejected as malformed")
    func garbage() throws {
        try withBystander("garbage") { path, server, _ in
            let raw = try #require(RawGuest(path: path))
            var rng = SplitMix64(seed: 42)
            raw.send((0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            expectRejected(raw, .malformed)
            #expect(server.stats.rejected >= 1)
        }
    }

    @Test("an oversized length field is rejected before any payload is buffered")
    func oversized() throws {
        try withBystander("oversized") { path, _, _ in
            let raw = try #require(RawGuest(path: path))
            var m = ControlMessage.bye(reason: 0).encode()
            m[11] = 0x7F
            raw.send(Array(m.prefix(16)))
            expectRejected(raw, .malformed)
        }
    }

    @Test("a truncated HELLO is dropped at the handshake deadline")
    func truncatedHello() throws {
        try withBystander("trunc") { path, _, _ in
            let raw = try #require(RawGuest(path: path))
            raw.send(Array(helloBytes(pages: 1, vcpus: 1).prefix(20)))
            expectRejected(raw, .handshakeTimeout)
        }
    }

    @Test("a connection that closes halfway through a message is forgotten")
    func truncatedThenClosed() throws {
        try withBystander("halfclose") { path, server, _ in
            let before = server.stats
            do {
                let raw = try #require(RawGuest(path: path))
                raw.send(Array(helloBytes(pages: 1, vcpus: 1).prefix(7)))
            }
            #expect(server.stats.guests == before.guests)
        }
    }

    @Test("a RAM memfd smaller than announced is rejected")
    func wrongSizeRAM() throws {
        try withBystander("ramsize") { path, _, delegate in
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(2 * 4096), mb = sealedMemfd(4096)
            defer { close(ram); close(mb) }
            raw.send(helloBytes(pages: 3, vcpus: 1), fds: [ram, mb])
            expectRejected(raw, .badRAM)
            #expect(delegate.handles.count == 1)   // only the bystander reached the owner
        }
    }

    @Test("an unsealed RAM memfd (which the guest could shrink under the daemon) is rejected")
    func unsealedRAM() throws {
        try withBystander("unsealed") { path, _, delegate in
            let raw = try #require(RawGuest(path: path))
            let ram = unsealedMemfd(4096), mb = sealedMemfd(4096)
            defer { close(ram); close(mb) }
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mb])
            expectRejected(raw, .badRAM)
            #expect(delegate.handles.count == 1)
        }
    }

    @Test("a RAM descriptor that is not a memfd is rejected")
    func notAMemfd() throws {
        try withBystander("notmemfd") { path, _, _ in
            let raw = try #require(RawGuest(path: path))
            var pipes: [Int32] = [-1, -1]
            #expect(pipe(&pipes) == 0)
            let mb = sealedMemfd(4096)
            defer { close(pipes[0]); close(pipes[1]); close(mb) }
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [pipes[0], mb])
            expectRejected(raw, .badRAM)
        }
    }

    @Test("a mailbox too small for the announced vCPUs is rejected")
    func wrongSizeMailbox() throws {
        try withBystander("mbsize") { path, _, _ in
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(4096), mb = sealedMemfd(8192)
            defer { close(ram); close(mb) }
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mb])
            expectRejected(raw, .badMailbox)
        }
    }

    @Test("a mailbox that is the RAM memfd itself is rejected")
    func mailboxAliasesRAM() throws {
        try withBystander("alias") { path, _, _ in
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(4096)
            defer { close(ram) }
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, ram])
            expectRejected(raw, .badMailbox)
        }
    }

    @Test("HELLO without descriptors, or with too many, is rejected")
    func descriptorCount() throws {
        try withBystander("fdcount") { path, _, _ in
            let none = try #require(RawGuest(path: path))
            none.send(helloBytes(pages: 1, vcpus: 1))
            expectRejected(none, .badRAM)

            let many = try #require(RawGuest(path: path))
            let fds = (0..<3).map { _ in sealedMemfd(4096) }
            defer { fds.forEach { close($0) } }
            many.send(helloBytes(pages: 1, vcpus: 1), fds: fds)
            expectRejected(many, .unexpectedDescriptors)
        }
    }

    @Test("page and vCPU counts outside the limits are rejected")
    func limits() throws {
        try withBystander("limits") { path, _, _ in
            for (pages, vcpus) in [(0, 1), (257, 1), (1, 0), (1, 9), (Int(UInt32.max), 1)] {
                let raw = try #require(RawGuest(path: path))
                let ram = sealedMemfd(4096), mb = sealedMemfd(4096)
                defer { close(ram); close(mb) }
                raw.send(helloBytes(pages: pages, vcpus: vcpus), fds: [ram, mb])
                expectRejected(raw, .limits)
            }
        }
    }

    @Test("a HELLO of another protocol version is rejected")
    func wrongVersion() throws {
        try withBystander("version") { path, _, _ in
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(4096), mb = sealedMemfd(4096)
            defer { close(ram); close(mb) }
            raw.send(helloBytes(pages: 1, vcpus: 1, version: 2), fds: [ram, mb])
            expectRejected(raw, .unsupportedVersion)
        }
    }

    @Test("a second RAM hand-over on an attached connection closes that guest")
    func secondHello() throws {
        try withBystander("second") { path, _, delegate in
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(4096), mb = sealedMemfd(4096)
            defer { close(ram); close(mb) }
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mb])
            guard case .welcome? = raw.receive() else { Issue.record("no WELCOME"); return }
            let id = try #require(delegate.handles.last?.id)
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mb])
            expectRejected(raw, .duplicateHello)
            #expect(eventually { delegate.reason(of: id) == .protocolViolation(.duplicateHello) })
        }
    }

    @Test("a second HELLO without descriptors also closes the guest")
    func secondHelloBare() throws {
        try withBystander("second2") { path, _, delegate in
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(4096), mb = sealedMemfd(4096)
            defer { close(ram); close(mb) }
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mb])
            guard case .welcome? = raw.receive() else { Issue.record("no WELCOME"); return }
            let id = try #require(delegate.handles.last?.id)
            raw.send(helloBytes(pages: 1, vcpus: 1))
            expectRejected(raw, .duplicateHello)
            #expect(eventually { delegate.reason(of: id) == .protocolViolation(.duplicateHello) })
        }
    }

    @Test("daemon-to-guest messages sent by a guest are rejected")
    func wrongDirection() throws {
        try withBystander("direction") { path, _, _ in
            let raw = try #require(RawGuest(path: path))
            raw.send(ControlMessage.welcome(guestID: 0, vcpus: 1, ramBase: 0).encode())
            expectRejected(raw, .malformed)
        }
    }

    @Test("too many guests: the extra connection is rejected, the others keep working")
    func tooManyGuests() throws {
        try withBystander("toomany", maxGuests: 2) { path, _, _ in
            let second = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
            defer { second.close() }
            #expect(throws: TransportError.rejected(reason: RejectReason.tooManyGuests.rawValue,
                                                    message: "the daemon serves 2 guests at most")) {
                _ = try TransportClient.connect(socketPath: path, ramPages: 1, vcpus: 1)
            }
            #expect(second.conduit.trap(RegisterFrame(a0: 7), vcpu: 0).a0 == 8)
        }
    }

    @Test("garbage in the mailbox doorbell is ignored; the guest's next real call works")
    func doorbellGarbage() throws {
        try withBystander("doorbell") { path, server, delegate in
            let raw = try #require(RawGuest(path: path))
            let ram = sealedMemfd(4096), mbFD = sealedMemfd(4096)
            defer { close(ram) }
            raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mbFD])
            guard case .welcome? = raw.receive() else { Issue.record("no WELCOME"); return }
            let mb = try #require(MailboxMapping(fd: mbFD, slots: 1))
            let slot = try #require(mb.slot(0))
            for junk: UInt32 in [7, 0xFFFF_FFFF, MailboxState.response.rawValue, MailboxState.closed.rawValue] {
                vtee_store_seqcst_u32(slot.state, junk)
                _ = vtee_futex_wake(slot.state, 1)
                vtee_store_seqcst_u32(slot.serverWaiting, 0xDEAD)
            }
            let id = try #require(delegate.handles.last?.id)
            #expect(server.attachedGuests.first { $0.id == id }?.calls == 0)
            // A proper call by hand.
            slot.writeFrame(RegisterFrame(a0: 99))
            vtee_store_seqcst_u32(slot.state, MailboxState.request.rawValue)
            _ = vtee_futex_wake(slot.state, 1)
            #expect(eventually { vtee_load_acquire_u32(slot.state) == MailboxState.response.rawValue })
            #expect(slot.readFrame().a0 == 100)
        }
    }

    @Test("rejected hand-overs leave no descriptors open in the daemon")
    func noDescriptorLeak() throws {
        try withBystander("fdleak") { path, _, _ in
            let ram = sealedMemfd(2 * 4096), mb = sealedMemfd(4096)
            defer { close(ram); close(mb) }
            // Inode of the RAM memfd: count how many descriptors of this process point at it.
            var st = stat()
            #expect(fstat(ram, &st) == 0)
            for _ in 0..<5 {
                let raw = try #require(RawGuest(path: path))
                raw.send(helloBytes(pages: 1, vcpus: 1), fds: [ram, mb])   // wrong size: 2 pages
                expectRejected(raw, .badRAM)
            }
            #expect(openDescriptors(ofInode: st.st_ino) == 1)   // only our own
        }
    }
}

/// How many descriptors of this process refer to inode `ino` (via /proc/self/fd).
func openDescriptors(ofInode ino: ino_t) -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var n = 0
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let fd = Int32(name) else { continue }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_ino == ino { n += 1 }
    }
    return n
}
