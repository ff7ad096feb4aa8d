import CShim
import Testing
@testable import Transport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Control message codec")
struct WireProtocolTests {
    @Test("every message survives encode then decode")
    func roundTrip() throws {
        let messages: [ControlMessage] = [
            .hello(version: 1, ramPages: 64, vcpus: 4),
            .welcome(guestID: 7, vcpus: 4, ramBase: 0x4000_0000),
            .reject(reason: RejectReason.badRAM.rawValue, message: "size 4096 bytes, expected 8192"),
            .bye(reason: RejectReason.goodbye.rawValue),
        ]
        for m in messages {
            let bytes = m.encode()
            let decoded = try #require(try ControlMessage.decode(bytes))
            #expect(decoded.message == m)
            #expect(decoded.consumed == bytes.count)
        }
    }

    @Test("the header is little-endian with the VTEE magic")
    func headerLayout() {
        let b = ControlMessage.bye(reason: 0x0102_0304).encode()
        #expect(Array(b[0..<4]) == [0x56, 0x54, 0x45, 0x45])   // "VTEE"
        #expect(Array(b[4..<8]) == [1, 0, 4, 0])                // version 1, type BYE
        #expect(Array(b[8..<16]) == [4, 0, 0, 0, 0, 0, 0, 0])    // length 4, reserved 0
        #expect(Array(b[16...]) == [4, 3, 2, 1])
    }

    @Test("every strict prefix of a message asks for more bytes")
    func truncatedMessagesWait() throws {
        let bytes = ControlMessage.hello(version: 1, ramPages: 2, vcpus: 1).encode()
        for n in 0..<bytes.count {
            #expect(try ControlMessage.decode(Array(bytes.prefix(n))) == nil)
        }
    }

    @Test("two messages in one buffer decode one at a time")
    func backToBack() throws {
        let a = ControlMessage.bye(reason: 1), b = ControlMessage.hello(version: 1, ramPages: 3, vcpus: 2)
        let buf = a.encode() + b.encode()
        let first = try #require(try ControlMessage.decode(buf))
        #expect(first.message == a)
        let second = try #require(try ControlMessage.decode(Array(buf.dropFirst(first.consumed))))
        #expect(second.message == b)
    }

    @Test("garbage headers are rejected with the condition they break")
    func garbageRejected() {
        var bad = ControlMessage.bye(reason: 0).encode()
        bad[0] = 0
        #expect(throws: WireError.badMagic(0x4545_5400)) { try ControlMessage.decode(bad) }

        var version = ControlMessage.bye(reason: 0).encode()
        version[4] = 9
        #expect(throws: WireError.unsupportedVersion(9)) { try ControlMessage.decode(version) }

        var type = ControlMessage.bye(reason: 0).encode()
        type[6] = 0x77
        #expect(throws: WireError.unknownType(0x77)) { try ControlMessage.decode(type) }

        var huge = ControlMessage.bye(reason: 0).encode()
        huge[10] = 0x10   // length 0x100004
        #expect(throws: WireError.payloadTooLarge(0x10_0004)) { try ControlMessage.decode(huge) }

        var reserved = ControlMessage.bye(reason: 0).encode()
        reserved[13] = 1
        #expect(throws: WireError.reservedNotZero) { try ControlMessage.decode(reserved) }

        // A HELLO whose payload is one word short.
        var short = ControlMessage.hello(version: 1, ramPages: 1, vcpus: 1).encode()
        short.removeLast(4); short[8] = 12
        #expect(throws: WireError.badLength(.hello, 12)) { try ControlMessage.decode(short) }

        // A REJECT whose text length overruns its payload.
        var reject = ControlMessage.reject(reason: 1, message: "ab").encode()
        reject[20] = 200
        #expect(throws: WireError.badLength(.reject, 10)) { try ControlMessage.decode(reject) }
    }

    @Test("reject text is cut to the wire limit")
    func longRejectTextCut() throws {
        let m = ControlMessage.reject(reason: 1, message: String(repeating: "x", count: 1000))
        let d = try #require(try ControlMessage.decode(m.encode()))
        guard case let .reject(_, text) = d.message else { Issue.record("not a reject"); return }
        #expect(text.utf8.count == Wire.maxRejectText)
    }

    @Test("a REJECT whose text is not UTF-8 is a typed error, so decode then encode is identity (WireFuzz finding)")
    func rejectTextMustBeUTF8() throws {
        // Found by WireFuzz: bytes 0x9F 0x8A decoded to U+FFFD and re-encoded differently.
        var bytes = ControlMessage.reject(reason: 6, message: "full").encode()
        bytes[Wire.headerSize + 8] = 0x9F; bytes[Wire.headerSize + 9] = 0x8A
        #expect(throws: WireError.badText) { _ = try ControlMessage.decode(bytes) }
    }

    @Test("reject text cut to the wire limit stays whole characters, and decodes back to what was sent")
    func rejectTextCutAtACharacter() throws {
        let long = String(repeating: "é", count: Wire.maxRejectText)   // 2 bytes each: the cut falls inside one
        let bytes = ControlMessage.reject(reason: 1, message: "x" + long).encode()
        let (m, used) = try #require(try ControlMessage.decode(bytes))
        #expect(used == bytes.count)
        guard case let .reject(_, text) = m else { Issue.record("not a reject"); return }
        #expect(text.utf8.count <= Wire.maxRejectText && ("x" + long).hasPrefix(text))
        #expect(m.encode() == bytes)
    }

    @Test("mailbox size covers every vCPU slot in whole pages")
    func mailboxSize() {
        #expect(MailboxLayout.byteCount(vcpus: 1) == 4096)
        #expect(MailboxLayout.byteCount(vcpus: 32) == 4096)
        #expect(MailboxLayout.byteCount(vcpus: 33) == 8192)
    }
}

@Suite("C shim helpers")
struct CShimTests {
    @Test("vtee_set_blocking clears and sets O_NONBLOCK")
    func blockingToggle() {
        let fd = vtee_eventfd()
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(fcntl(fd, F_GETFL) & O_NONBLOCK != 0)
        #expect(vtee_set_blocking(fd, 1) == 0)
        #expect(fcntl(fd, F_GETFL) & O_NONBLOCK == 0)
        #expect(vtee_set_blocking(fd, 0) == 0)
        #expect(fcntl(fd, F_GETFL) & O_NONBLOCK != 0)
    }
}
