/// The daemon's control messages on the Unix socket: one versioned, little-endian,
/// length-prefixed format, defined here and only here.
///
/// Every message is a 16-byte header then `length` payload bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `0x45455456` ("VTEE" little-endian) |
/// | 4 | 2 | protocol version (1) |
/// | 6 | 2 | message type |
/// | 8 | 4 | payload length |
/// | 12 | 4 | reserved, zero |
///
/// Payloads: HELLO (guest -> daemon, carries the RAM and mailbox memfds as SCM_RIGHTS)
/// `{version u32, ramPages u32, vcpus u32, flags u32 = 0}`; WELCOME `{guestID u32, vcpus u32,
/// ramBase u64}`; REJECT `{reason u32, length u32, UTF-8 message}`; BYE `{reason u32}`.
///
/// The shared tee-supplicant (docs/SHARED-SUPPLICANT.md), on an attached connection only:
/// SUPP_ATTACH `{flags u32 = 0}` and SUPP_DETACH `{flags u32 = 0}` (guest -> daemon: this process
/// serves / stops serving its uid's supplicant requests); SUPP_STATUS `{errno u32}` (daemon ->
/// guest: the answer to SUPP_ATTACH, 0 or EBUSY); SUPP_CONNECT `{flags u32 = 0}` (guest -> daemon:
/// a channel to my uid's supplicant, please); SUPP_PEER `{token u64, pid u32, uid u32}` plus one
/// descriptor (daemon -> supplicant: a channel end for client `pid`); SUPP_PEER_ACK `{token u64,
/// accepted u32, flags u32 = 0}` (supplicant -> daemon); SUPP_CONNECTED `{errno u32}` plus one
/// descriptor when errno is 0 (daemon -> guest: the other channel end; ENOENT: the uid has no
/// supplicant, serve locally until SUPP_AVAILABLE; EAGAIN: serve this request locally);
/// SUPP_AVAILABLE `{flags u32 = 0}` (daemon -> guest told ENOENT: the uid has a supplicant now).

/// Wire constants.
public enum Wire {
    /// "VTEE" read as a little-endian u32.
    public static let magic: UInt32 = 0x4545_5456
    /// The protocol version this code speaks.
    public static let version: UInt16 = 1
    /// Header size in bytes.
    public static let headerSize = 16
    /// Largest payload accepted; anything larger is garbage.
    public static let maxPayload = 512
    /// Largest REJECT message text (bytes); longer text is cut.
    public static let maxRejectText = 256
    /// Descriptors a HELLO carries: RAM memfd, mailbox memfd.
    public static let helloDescriptorCount = 2
}

/// Message type codes.
public enum MessageType: UInt16, Sendable {
    /// Guest -> daemon: attach me (plus the RAM and mailbox memfds).
    case hello = 1
    /// Daemon -> guest: attached.
    case welcome = 2
    /// Daemon -> guest: not attached (or thrown out), with a reason.
    case reject = 3
    /// Either way: orderly goodbye.
    case bye = 4
    /// Guest -> daemon: this process has /dev/teepriv0 open and serves its uid's other processes.
    case supplicantAttach = 5
    /// Guest -> daemon: it stopped serving (closed /dev/teepriv0).
    case supplicantDetach = 6
    /// Daemon -> guest: the answer to SUPP_ATTACH (0, or EBUSY when the uid has one).
    case supplicantStatus = 7
    /// Guest -> daemon: give me a channel to my uid's supplicant.
    case supplicantConnect = 8
    /// Daemon -> supplicant: a new client channel (one descriptor).
    case supplicantPeer = 9
    /// Supplicant -> daemon: the channel of `token` is taken (or refused).
    case supplicantPeerAck = 10
    /// Daemon -> guest: the answer to SUPP_CONNECT (one descriptor when errno is 0).
    case supplicantConnected = 11
    /// Daemon -> guest told ENOENT: its uid has a supplicant now.
    case supplicantAvailable = 12
}

/// Why the daemon refused or dropped a guest (REJECT.reason, BYE.reason).
public enum RejectReason: UInt32, Sendable, CustomStringConvertible {
    /// Bytes that are not a well-formed control message.
    case malformed = 1
    /// The header's protocol version is not ours.
    case unsupportedVersion = 2
    /// RAM memfd missing, not a sealed regular memfd, or of a size other than ramPages * 4096.
    case badRAM = 3
    /// Mailbox memfd missing, unsealed, or of the wrong size for the vCPU count.
    case badMailbox = 4
    /// ramPages or vcpus outside the daemon's limits.
    case limits = 5
    /// The daemon already serves its maximum number of guests.
    case tooManyGuests = 6
    /// A second HELLO / RAM hand-over on an attached connection.
    case duplicateHello = 7
    /// The daemon's owner refused this guest.
    case refused = 8
    /// The daemon is stopping.
    case shuttingDown = 9
    /// HELLO did not arrive in time.
    case handshakeTimeout = 10
    /// A host resource failed (mmap, region space).
    case hostFailure = 11
    /// Descriptors where none belong (or too many).
    case unexpectedDescriptors = 12
    /// Orderly goodbye (BYE without fault).
    case goodbye = 13
    /// The kernel could not name the process that sent HELLO (no credentials, bytes from two
    /// processes, the sender gone or another user than the one who connected).
    case unidentified = 14
    /// Too many connections of this user (or in all) are in their handshake: the oldest gives way.
    case tooManyHandshakes = 15
    /// BYE: the guest made no call for longer than the daemon's idle timeout.
    case idle = 16

    public var description: String {
        switch self {
        case .malformed: "malformed message"
        case .unsupportedVersion: "unsupported protocol version"
        case .badRAM: "bad RAM memfd"
        case .badMailbox: "bad mailbox memfd"
        case .limits: "outside limits"
        case .tooManyGuests: "too many guests"
        case .duplicateHello: "second RAM hand-over"
        case .refused: "refused"
        case .shuttingDown: "shutting down"
        case .handshakeTimeout: "handshake timeout"
        case .hostFailure: "host failure"
        case .unexpectedDescriptors: "unexpected descriptors"
        case .goodbye: "goodbye"
        case .unidentified: "sender not identified"
        case .tooManyHandshakes: "too many connections in handshake"
        case .idle: "idle too long"
        }
    }
}

/// A decoded control message.
public enum ControlMessage: Equatable, Sendable {
    /// Attach request: protocol version, RAM pages, vCPUs.
    case hello(version: UInt32, ramPages: UInt32, vcpus: UInt32)
    /// Attached: the assigned guest id, vCPU count and the IPA where RAM byte 0 appears.
    case welcome(guestID: UInt32, vcpus: UInt32, ramBase: UInt64)
    /// Refused or thrown out.
    case reject(reason: UInt32, message: String)
    /// Goodbye.
    case bye(reason: UInt32)
    /// This process serves its uid's supplicant requests.
    case supplicantAttach
    /// This process stopped serving them.
    case supplicantDetach
    /// The answer to SUPP_ATTACH: 0 or an errno (EBUSY).
    case supplicantStatus(errno: UInt32)
    /// A channel to my uid's supplicant, please.
    case supplicantConnect
    /// A channel end (the descriptor travels with it) for client process `pid` of `uid`.
    case supplicantPeer(token: UInt64, pid: UInt32, uid: UInt32)
    /// The channel of `token` is taken (`accepted`) or refused.
    case supplicantPeerAck(token: UInt64, accepted: Bool)
    /// The answer to SUPP_CONNECT: 0 (the descriptor travels with it) or an errno (ENOENT: none).
    case supplicantConnected(errno: UInt32)
    /// The uid has a supplicant now (to a guest told ENOENT).
    case supplicantAvailable

    /// The type code of this message.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .reject: .reject
        case .bye: .bye
        case .supplicantAttach: .supplicantAttach
        case .supplicantDetach: .supplicantDetach
        case .supplicantStatus: .supplicantStatus
        case .supplicantConnect: .supplicantConnect
        case .supplicantPeer: .supplicantPeer
        case .supplicantPeerAck: .supplicantPeerAck
        case .supplicantConnected: .supplicantConnected
        case .supplicantAvailable: .supplicantAvailable
        }
    }

    /// The message as wire bytes (header + payload).
    public func encode() -> [UInt8] {
        var p: [UInt8] = []
        switch self {
        case let .hello(v, pages, vcpus):
            p.putLE(v); p.putLE(pages); p.putLE(vcpus); p.putLE(UInt32(0))
        case let .welcome(id, vcpus, base):
            p.putLE(id); p.putLE(vcpus); p.putLE(base)
        case let .reject(reason, message):
            // Cut at a character boundary, so the text on the wire is still UTF-8.
            var text: [UInt8] = []
            for ch in message.unicodeScalars {
                let u = Array(String(ch).utf8)
                if text.count + u.count > Wire.maxRejectText { break }
                text += u
            }
            p.putLE(reason); p.putLE(UInt32(text.count)); p += text
        case let .bye(reason):
            p.putLE(reason)
        case .supplicantAttach, .supplicantDetach, .supplicantConnect, .supplicantAvailable:
            p.putLE(UInt32(0))
        case let .supplicantStatus(e), let .supplicantConnected(e):
            p.putLE(e)
        case let .supplicantPeer(token, pid, uid):
            p.putLE(token); p.putLE(pid); p.putLE(uid)
        case let .supplicantPeerAck(token, accepted):
            p.putLE(token); p.putLE(UInt32(accepted ? 1 : 0)); p.putLE(UInt32(0))
        }
        var out: [UInt8] = []
        out.reserveCapacity(Wire.headerSize + p.count)
        out.putLE(Wire.magic); out.putLE(Wire.version); out.putLE(type.rawValue)
        out.putLE(UInt32(p.count)); out.putLE(UInt32(0))
        return out + p
    }

    /// Decodes one message from the front of `bytes`: nil when more bytes are needed,
    /// else the message and how many bytes it used. Total: every input is a message,
    /// a request for more, or a `WireError`.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> (message: ControlMessage, consumed: Int)? {
        guard bytes.count >= Wire.headerSize else { return nil }
        let magic: UInt32 = bytes.getLE(0)
        guard magic == Wire.magic else { throw .badMagic(magic) }
        let version: UInt16 = bytes.getLE(4)
        guard version == Wire.version else { throw .unsupportedVersion(version) }
        let rawType: UInt16 = bytes.getLE(6)
        let length: UInt32 = bytes.getLE(8)
        let reserved: UInt32 = bytes.getLE(12)
        guard reserved == 0 else { throw .reservedNotZero }
        guard length <= UInt32(Wire.maxPayload) else { throw .payloadTooLarge(length) }
        guard let type = MessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        let total = Wire.headerSize + Int(length)
        guard bytes.count >= total else { return nil }
        let p = Array(bytes[Wire.headerSize..<total])
        let msg: ControlMessage
        switch type {
        case .hello:
            guard p.count == 16 else { throw .badLength(type, Int(length)) }
            guard p.getLE(12) as UInt32 == 0 else { throw .reservedNotZero }
            msg = .hello(version: p.getLE(0), ramPages: p.getLE(4), vcpus: p.getLE(8))
        case .welcome:
            guard p.count == 16 else { throw .badLength(type, Int(length)) }
            msg = .welcome(guestID: p.getLE(0), vcpus: p.getLE(4), ramBase: p.getLE(8))
        case .reject:
            guard p.count >= 8 else { throw .badLength(type, Int(length)) }
            let n: UInt32 = p.getLE(4)
            guard n <= UInt32(Wire.maxRejectText), Int(n) == p.count - 8 else { throw .badLength(type, Int(length)) }
            guard let text = String(validating: p[8...], as: UTF8.self) else { throw .badText }
            msg = .reject(reason: p.getLE(0), message: text)
        case .bye:
            guard p.count == 4 else { throw .badLength(type, Int(length)) }
            msg = .bye(reason: p.getLE(0))
        case .supplicantAttach, .supplicantDetach, .supplicantConnect, .supplicantAvailable:
            guard p.count == 4 else { throw .badLength(type, Int(length)) }
            guard p.getLE(0) as UInt32 == 0 else { throw .reservedNotZero }
            switch type {
            case .supplicantAttach: msg = .supplicantAttach
            case .supplicantDetach: msg = .supplicantDetach
            case .supplicantConnect: msg = .supplicantConnect
            default: msg = .supplicantAvailable
            }
        case .supplicantStatus, .supplicantConnected:
            guard p.count == 4 else { throw .badLength(type, Int(length)) }
            msg = type == .supplicantStatus ? .supplicantStatus(errno: p.getLE(0)) : .supplicantConnected(errno: p.getLE(0))
        case .supplicantPeer:
            guard p.count == 16 else { throw .badLength(type, Int(length)) }
            msg = .supplicantPeer(token: p.getLE(0), pid: p.getLE(8), uid: p.getLE(12))
        case .supplicantPeerAck:
            guard p.count == 16 else { throw .badLength(type, Int(length)) }
            let accepted: UInt32 = p.getLE(8)
            guard accepted <= 1 else { throw .badLength(type, Int(length)) }
            guard p.getLE(12) as UInt32 == 0 else { throw .reservedNotZero }
            msg = .supplicantPeerAck(token: p.getLE(0), accepted: accepted == 1)
        }
        return (msg, total)
    }
}

/// Why bytes on the socket are not a control message.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first word is not the magic.
    case badMagic(UInt32)
    /// A protocol version we do not speak.
    case unsupportedVersion(UInt16)
    /// A type code we do not know.
    case unknownType(UInt16)
    /// Payload longer than `Wire.maxPayload`.
    case payloadTooLarge(UInt32)
    /// A payload length that does not fit the type.
    case badLength(MessageType, Int)
    /// A reserved field is not zero.
    case reservedNotZero
    /// REJECT text that is not UTF-8.
    case badText

    /// The REJECT reason for this fault.
    public var rejectReason: RejectReason {
        if case .unsupportedVersion = self { return .unsupportedVersion }
        return .malformed
    }

    public var description: String {
        switch self {
        case let .badMagic(m): "bad magic 0x\(String(m, radix: 16))"
        case let .unsupportedVersion(v): "unsupported version \(v)"
        case let .unknownType(t): "unknown message type \(t)"
        case let .payloadTooLarge(n): "payload of \(n) bytes is too large"
        case let .badLength(t, n): "payload of \(n) bytes is wrong for \(t)"
        case .reservedNotZero: "reserved field not zero"
        case .badText: "message text is not UTF-8"
        }
    }
}

extension [UInt8] {
    /// Appends `v` little-endian.
    mutating func putLE<T: FixedWidthInteger>(_ v: T) {
        var x = v
        for _ in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: x)); x >>= 8 }
    }
    /// Reads a little-endian `T` at `offset`; callers check the bounds first (missing bytes read as zero).
    func getLE<T: FixedWidthInteger>(_ offset: Int) -> T {
        var x: T = 0
        for i in (0..<MemoryLayout<T>.size).reversed() {
            let idx = offset + i
            x = (x << 8) | T(idx < count ? self[idx] : 0)
        }
        return x
    }
}
