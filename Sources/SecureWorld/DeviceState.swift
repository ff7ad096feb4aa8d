// The secure world's own persistent state on a plain host: the stand-in for OP-TEE's hardware
// unique key (HUK, fused into the SoC) and for the RPMB partition's monotonic counters.
//
// Runs in the secure world. `FileDeviceState` keeps both in a directory the normal world never
// addresses (no FS RPC path reaches it: the supplicant serves only its own storage root), mode
// 0700, owned by the daemon's user. What that does and does not protect against is written down
// in README.md ("Secure storage").
import Foundation
import Synchronization
import TEEABI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-device secrets and rollback counters the secure world keeps out of the normal world's reach.
public protocol SecureDeviceState: Sendable {
    /// The 32-byte device key every storage key is derived from (OP-TEE's HUK).
    var hardwareKey: [UInt8] { get }
    /// The last committed version of store `name` (0 when never written).
    func counter(_ name: String) throws(TEEResult) -> UInt64
    /// Records that store `name` committed `value`, durably, before returning.
    func setCounter(_ name: String, _ value: UInt64) throws(TEEResult)
}

/// A device that lives only as long as the process: a fresh random key, counters in memory.
/// For tests and throw-away machines; what it stored cannot be read by the next one.
public final class EphemeralDeviceState: SecureDeviceState {
    public let hardwareKey: [UInt8]
    private let counters = Mutex<[String: UInt64]>([:])

    /// A new device with a random key, or with `key` when given (tests that "reboot").
    public init(key: [UInt8]? = nil) { hardwareKey = key ?? randomBytes(32) }

    public func counter(_ name: String) throws(TEEResult) -> UInt64 { counters.withLock { $0[name] ?? 0 } }
    public func setCounter(_ name: String, _ value: UInt64) throws(TEEResult) { counters.withLock { $0[name] = value } }
}

/// Why a device state directory cannot be used.
public enum DeviceStateError: Error, CustomStringConvertible, Sendable {
    /// The directory cannot be created or is not a private directory of this user.
    case directory(String)
    /// The key file exists but is not a 32-byte regular file.
    case badKey(String)
    /// Another secure world (daemon) holds this state.
    case inUse(String)

    public var description: String {
        switch self {
        case let .directory(s): "secure state directory: \(s)"
        case let .badKey(s): "device key: \(s)"
        case let .inUse(s): "secure state directory in use by another vtee daemon: \(s)"
        }
    }
}

/// The device state in a private directory: `huk` (32 random bytes made at first start, 0600)
/// and one `ctr-<hash>` file per store holding its committed version (written to a temporary
/// file, fsynced, renamed, directory fsynced). Counters are cached after their first read: one
/// secure world owns a state directory (the daemon takes `lock()` to make sure).
public final class FileDeviceState: SecureDeviceState {
    /// The directory (absolute).
    public let directory: String
    public let hardwareKey: [UInt8]
    private let cache = Mutex<[String: UInt64]>([:])
    private let lockFD = Mutex<Int32>(-1)

    /// Opens (or creates, with a new key) the device state in `directory`.
    public init(directory: String) throws(DeviceStateError) {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                      attributes: [.posixPermissions: 0o700]) }
        catch { throw .directory("\(directory): \(error)") }
        var st = stat()
        guard lstat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { throw .directory("\(directory) is not a directory") }
        guard st.st_uid == geteuid() else { throw .directory("\(directory) belongs to uid \(st.st_uid), not to this process") }
        if st.st_mode & 0o077 != 0 { _ = chmod(directory, 0o700) }
        self.directory = directory
        let keyPath = directory + "/huk"
        if let k = Self.readFile(keyPath) {
            guard k.count == 32 else { throw .badKey("\(keyPath) has \(k.count) bytes, want 32") }
            hardwareKey = k
        } else {
            let k = randomBytes(32)
            guard Self.writeDurably(directory, "huk", k) else { throw .badKey("cannot write \(keyPath)") }
            // Two processes racing on first start: whoever renamed last wins; read back the winner.
            guard let back = Self.readFile(keyPath), back.count == 32 else { throw .badKey("cannot read back \(keyPath)") }
            hardwareKey = back
        }
    }

    deinit { let fd = lockFD.withLock { $0 }; if fd >= 0 { _ = close(fd) } }

    /// Takes an exclusive lock on the directory for this process's lifetime; throws `.inUse`
    /// when another process holds it (two daemons must not serve one store).
    public func lock() throws(DeviceStateError) {
        let fd = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .directory("cannot open \(directory)/lock") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { _ = close(fd); throw .inUse(directory) }
        lockFD.withLock { $0 = fd }
    }

    /// Releases the lock of `lock()` (the daemon stopped).
    public func unlock() {
        let fd = lockFD.withLock { v -> Int32 in let f = v; v = -1; return f }
        if fd >= 0 { _ = close(fd) }
    }

    private func fileName(_ name: String) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325      // FNV-1a over the store name: a short, safe file name
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return "ctr-" + String(h, radix: 16) + "-" + String(name.utf8.count)
    }

    public func counter(_ name: String) throws(TEEResult) -> UInt64 {
        if let v = cache.withLock({ $0[name] }) { return v }
        guard let bytes = Self.readFile(directory + "/" + fileName(name)) else { return 0 }
        // Record: u64 value, then the store name (collisions of the short file name are refused).
        guard bytes.count >= 8, Array(bytes[8...]) == Array(name.utf8) else { throw .corruptObject }
        let v = ByteCodec.u64(bytes, 0)
        cache.withLock { $0[name] = v }
        return v
    }

    public func setCounter(_ name: String, _ value: UInt64) throws(TEEResult) {
        guard Self.writeDurably(directory, fileName(name), ByteCodec.le64(value) + Array(name.utf8)) else { throw .storageNoSpace }
        cache.withLock { $0[name] = value }
    }

    // MARK: files

    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    /// Writes `bytes` to `dir/name` as a whole: temporary file, fsync, rename, fsync of the directory.
    static func writeDurably(_ dir: String, _ name: String, _ bytes: [UInt8]) -> Bool {
        let tmp = dir + "/." + name + ".tmp-" + String(getpid())
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; _ = close(fd); unlink(tmp); return false }
            done += n
        }
        guard fsync(fd) == 0 else { _ = close(fd); unlink(tmp); return false }
        _ = close(fd)
        guard rename(tmp, dir + "/" + name) == 0 else { unlink(tmp); return false }
        let d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { fsync(d); _ = close(d) }
        return true
    }
}

/// `count` bytes from the system's CSPRNG.
func randomBytes(_ count: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        var w = g.next()
        for _ in 0..<8 where i < count { out[i] = UInt8(truncatingIfNeeded: w); w >>= 8; i += 1 }
    }
    return out
}
