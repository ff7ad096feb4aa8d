/// Supplicant: the tee-supplicant equivalent (optee_client's tee-supplicant in Swift).
///
/// Runs in the normal world's user space. It serves the RPC commands the driver forwards
/// (FS, LOAD_TA, SHM_ALLOC/SHM_FREE of application type) and touches only its storage
/// directory, its TA directory and the shared memory the driver gives it. Everything it
/// reads comes from the secure world through the driver and is validated before use.
import Foundation
import Logging
import Synchronization
import TEEABI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// libc entry points under names the store's own open/close/read/write/rename methods do not shadow.
private func sysOpen(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 { open(path, flags, mode) }
private func sysClose(_ fd: Int32) { _ = close(fd) }
private func sysRead(_ fd: Int32, _ buf: inout [UInt8], _ n: Int) -> Int { read(fd, &buf, n) }
private func sysWrite(_ fd: Int32, _ bytes: [UInt8], _ n: Int) -> Int { write(fd, bytes, n) }
private func sysPread(_ fd: Int32, _ buf: inout [UInt8], _ n: Int, _ off: off_t) -> Int { pread(fd, &buf, n, off) }
private func sysRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }

/// The REE file system behind OPTEE_RPC_CMD_FS: paths confined under one root, writes atomic
/// as seen after a crash (temporary file, fsync, rename, fsync of the directory).
public final class FileStore: Sendable {
    /// Absolute, symlink-free path of the storage root.
    public let root: String
    private struct State {
        var nextHandle: UInt64 = 1
        var files: [UInt64: String] = [:]                       // fd -> relative path
        var dirs: [UInt64: (entries: [String], next: Int)] = [:]
    }
    private let state = Mutex(State())
    private let tempCounter = Atomic<UInt64>(0)
    private let logger: Logger
    /// Prefix of temporary files; such names are hidden and cannot be addressed.
    public static let tempPrefix = ".vtee-tmp-"
    /// Longest accepted path, in bytes.
    public static let maxPath = 1024
    private let refused = Atomic<Int>(0)
    private let ioLock = Mutex(())
    /// Paths refused so far (malformed, escaping, or through a symlink).
    public var refusals: Int { refused.load(ordering: .relaxed) }
    /// Test hook: when set, an atomic rewrite stops (as a crash would) right before its rename.
    let crashBeforeRename = Atomic<Bool>(false)
    /// Test seam: bytes the store may still write before it answers STORAGE_NO_SPACE (-1: no limit).
    public let quota = Atomic<Int>(-1)

    /// True for the errno values of a full file system or quota.
    static func noSpace(_ e: Int32) -> Bool { e == ENOSPC || e == EDQUOT }

    /// A store rooted at `directory` (created when missing). Stale temporary files of an earlier
    /// crash are removed.
    public init(directory: String, logger: Logger = Logger(label: "vtee.supplicant.fs")) throws(TEEResult) {
        self.logger = logger
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .storageNotAvailable
        }
        root = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        removeStaleTemporaries(root)
    }

    /// True when the temporary file `name` (".vtee-tmp-<pid>-...") belongs to a live process other
    /// than a crashed one: another supplicant sharing the directory may be mid-write.
    static func ownerIsAlive(_ name: String) -> Bool {
        let rest = name.dropFirst(tempPrefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0 else { return false }
        if pid == getpid() { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    private func removeStaleTemporaries(_ dir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for n in names {
            let p = dir + "/" + n
            if n.hasPrefix(Self.tempPrefix) {
                if !Self.ownerIsAlive(n) { unlink(p) }
                continue
            }
            var st = stat()
            if lstat(p, &st) == 0, st.st_mode & S_IFMT == S_IFDIR { removeStaleTemporaries(p) }
        }
    }

    // MARK: paths

    /// Validates a NUL-terminated path from the secure world and returns its components:
    /// no "." or "..", no empty or temporary names, bounded length. A leading "/" is the root.
    static func components(_ raw: [UInt8]) throws(TEEResult) -> [String] {
        let bytes = raw.firstIndex(of: 0).map { Array(raw[..<$0]) } ?? raw
        guard !bytes.isEmpty, bytes.count <= maxPath else { throw .badParameters }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .badParameters }
        var parts = s.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.first == "" { parts.removeFirst() }
        guard !parts.isEmpty else { throw .badParameters }
        for p in parts {
            guard !p.isEmpty, p != ".", p != "..", !p.hasPrefix(tempPrefix),
                  !p.utf8.contains(where: { $0 < 0x20 || $0 == 0x5C }) else { throw .badParameters }
        }
        return parts
    }

    /// `components`, counting and logging (debug) what it refuses.
    private func checked(_ raw: [UInt8]) throws(TEEResult) -> [String] {
        do { return try Self.components(raw) } catch {
            refused.wrappingAdd(1, ordering: .relaxed)
            logger.debug("path refused", metadata: ["bytes": "\(raw.prefix(64))"])
            throw error
        }
    }

    /// The absolute path of `parts`, after checking that no existing component is a symlink
    /// (no escape through links planted in the store).
    private func resolve(_ parts: [String], lastMayBeMissing: Bool = true) throws(TEEResult) -> String {
        var path = root
        for (i, p) in parts.enumerated() {
            path += "/" + p
            var st = stat()
            if lstat(path, &st) != 0 {
                if errno == ENOENT { continue }
                throw .accessDenied
            }
            if st.st_mode & S_IFMT == S_IFLNK {
                refused.wrappingAdd(1, ordering: .relaxed)
                logger.debug("symlink refused", metadata: ["path": "\(path)"])
                throw .accessDenied
            }
            if i < parts.count - 1 && st.st_mode & S_IFMT != S_IFDIR { throw .itemNotFound }
        }
        return path
    }

    private func makeParents(_ parts: [String]) throws(TEEResult) {
        var path = root
        for p in parts.dropLast() {
            path += "/" + p
            if mkdir(path, 0o700) != 0 && errno != EEXIST { throw Self.noSpace(errno) ? .storageNoSpace : .storageNotAvailable }
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { throw .accessDenied }
        }
    }

    private static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        return String(path[..<i])
    }

    private static func syncDirectory(_ dir: String) {
        let fd = sysOpen(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); sysClose(fd) }
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
    }

    // MARK: whole-file I/O

    private static func readAll(_ path: String) throws(TEEResult) -> [UInt8] {
        let fd = sysOpen(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? .itemNotFound : .accessDenied }
        defer { sysClose(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = sysRead(fd, &chunk, chunk.count)
            if n < 0 { if errno == EINTR { continue }; throw .generic }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    /// Replaces `path` with `bytes` atomically: temp file in the same directory, fsync, rename, fsync dir.
    func atomicReplace(_ path: String, with bytes: [UInt8]) throws(TEEResult) {
        let dir = Self.parent(path)
        let name = String(path[path.index(after: path.lastIndex(of: "/") ?? path.startIndex)...])
        // The pid keeps two supplicants sharing a directory (two guests of one user) from colliding.
        let tmp = dir + "/" + Self.tempPrefix + String(getpid()) + "-" + name + "-" + String(tempCounter.wrappingAdd(1, ordering: .relaxed).oldValue)
        if quota.load(ordering: .relaxed) >= 0 {
            // Test seam (no file system of limited size at hand): bytes left before ENOSPC.
            guard quota.subtract(bytes.count, ordering: .relaxed).newValue >= 0 else {
                quota.store(0, ordering: .relaxed)
                throw .storageNoSpace
            }
        }
        let fd = sysOpen(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.noSpace(errno) ? .storageNoSpace : .storageNotAvailable }
        var done = 0
        while done < bytes.count {
            let rest = Array(bytes[done...])
            let n = sysWrite(fd, rest, rest.count)
            if n < 0 { if errno == EINTR { continue }; let e = errno; sysClose(fd); unlink(tmp); throw Self.noSpace(e) ? .storageNoSpace : .generic }
            done += n
        }
        guard fsync(fd) == 0 else { let e = errno; sysClose(fd); unlink(tmp); throw Self.noSpace(e) ? .storageNoSpace : .generic }
        sysClose(fd)
        if crashBeforeRename.load(ordering: .relaxed) { throw .communication }   // simulated crash: temp left behind
        guard sysRename(tmp, path) == 0 else { let e = errno; unlink(tmp); throw Self.noSpace(e) ? .storageNoSpace : .generic }
        Self.syncDirectory(dir)
    }

    // MARK: operations (OPTEE_MRF_*)

    /// OPEN: an existing regular file; returns a handle.
    public func open(path raw: [UInt8]) throws(TEEResult) -> UInt64 {
        let parts = try checked(raw)
        let path = try resolve(parts)
        guard Self.isRegularFile(path) else { throw .itemNotFound }
        return state.withLock { s in let h = s.nextHandle; s.nextHandle += 1; s.files[h] = path; return h }
    }

    /// CREATE: creates (or truncates) a file, making parent directories; returns a handle.
    private func createLocked(path raw: [UInt8]) throws(TEEResult) -> UInt64 {
        let parts = try checked(raw)
        _ = try resolve(parts)
        try makeParents(parts)
        let path = try resolve(parts)
        var st = stat()
        let exists = lstat(path, &st) == 0
        if exists && st.st_mode & S_IFMT != S_IFREG { throw .accessConflict }
        if exists {
            try atomicReplace(path, with: [])
        } else {
            // A new empty file has no content to lose in a crash: no fsync (its first WRITE is durable).
            let fd = sysOpen(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno != EEXIST { throw Self.noSpace(errno) ? .storageNoSpace : .storageNotAvailable }
                try atomicReplace(path, with: [])          // created meanwhile: truncate it as before
            } else {
                sysClose(fd)
            }
        }
        return state.withLock { s in let h = s.nextHandle; s.nextHandle += 1; s.files[h] = path; return h }
    }

    /// CLOSE.
    public func close(handle: UInt64) throws(TEEResult) {
        guard state.withLock({ $0.files.removeValue(forKey: handle) }) != nil else { throw .badParameters }
    }

    private func path(of handle: UInt64) throws(TEEResult) -> String {
        guard let p = state.withLock({ $0.files[handle] }) else { throw .badParameters }
        return p
    }

    /// READ: up to `count` bytes at `offset`.
    public func read(handle: UInt64, offset: UInt64, count: Int) throws(TEEResult) -> [UInt8] {
        let p = try path(of: handle)
        guard count > 0, offset <= UInt64(Int64.max) else { return [] }
        let fd = sysOpen(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? .itemNotFound : .accessDenied }
        defer { sysClose(fd) }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            var chunk = [UInt8](repeating: 0, count: count - done)
            let n = sysPread(fd, &chunk, chunk.count, off_t(offset) + off_t(done))
            if n < 0 { if errno == EINTR { continue }; throw .generic }
            if n == 0 { break }
            out.replaceSubrange(done..<done + n, with: chunk[0..<n])
            done += n
        }
        return Array(out[0..<done])
    }

    /// WRITE: `data` at `offset` (zero-filling a gap), atomically.
    private func writeLocked(handle: UInt64, offset: UInt64, data: [UInt8]) throws(TEEResult) {
        let p = try path(of: handle)
        var all = try Self.readAll(p)
        guard offset <= UInt64(Int32.max) else { throw .storageNoSpace }
        let start = Int(offset)
        if all.count < start + data.count { all += [UInt8](repeating: 0, count: start + data.count - all.count) }
        all.replaceSubrange(start..<start + data.count, with: data)
        try atomicReplace(p, with: all)
    }

    /// TRUNCATE to `length`, atomically.
    private func truncateLocked(handle: UInt64, length: UInt64) throws(TEEResult) {
        let p = try path(of: handle)
        var all = try Self.readAll(p)
        guard length <= UInt64(Int32.max) else { throw .storageNoSpace }
        let n = Int(length)
        if all.count > n { all.removeSubrange(n...) } else { all += [UInt8](repeating: 0, count: n - all.count) }
        try atomicReplace(p, with: all)
    }

    /// REMOVE a file (and its directory when that becomes empty).
    private func removeLocked(path raw: [UInt8]) throws(TEEResult) {
        let parts = try checked(raw)
        let path = try resolve(parts)
        guard Self.isRegularFile(path) else { throw .itemNotFound }
        guard unlink(path) == 0 else { throw errno == ENOENT ? .itemNotFound : .generic }
        let dir = Self.parent(path)
        Self.syncDirectory(dir)
        if dir != root, rmdir(dir) == 0 { Self.syncDirectory(Self.parent(dir)) }
    }

    /// RENAME `old` to `new`; without `overwrite` an existing `new` is ACCESS_CONFLICT.
    private func renameLocked(from rawOld: [UInt8], to rawNew: [UInt8], overwrite: Bool) throws(TEEResult) {
        let oldParts = try checked(rawOld), newParts = try checked(rawNew)
        let old = try resolve(oldParts)
        guard Self.isRegularFile(old) else { throw .itemNotFound }
        _ = try resolve(newParts)
        try makeParents(newParts)
        let new = try resolve(newParts)
        if overwrite {
            guard sysRename(old, new) == 0 else { throw .generic }
        } else {
            guard link(old, new) == 0 else { throw errno == EEXIST ? .accessConflict : .generic }
            unlink(old)
        }
        Self.syncDirectory(Self.parent(new))
        if Self.parent(old) != Self.parent(new) { Self.syncDirectory(Self.parent(old)) }
    }

    /// OPENDIR: a snapshot of the directory's entries (temporaries hidden).
    public func openDirectory(path raw: [UInt8]) throws(TEEResult) -> UInt64 {
        let parts = try checked(raw)
        let path = try resolve(parts)
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR,
              let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { throw .itemNotFound }
        let entries = names.filter { !$0.hasPrefix(Self.tempPrefix) }.sorted()
        return state.withLock { s in let h = s.nextHandle; s.nextHandle += 1; s.dirs[h] = (entries, 0); return h }
    }

    /// READDIR: the next name, or ITEM_NOT_FOUND at the end. A name that does not fit in
    /// `capacity` (with its NUL) is SHORT_BUFFER with the needed size, and is not consumed.
    public func readDirectory(handle: UInt64, capacity: Int) throws(TEEResult) -> [UInt8] {
        let r: Result<[UInt8], TEEResult> = state.withLock { s in
            guard let d = s.dirs[handle] else { return .failure(.badParameters) }
            guard d.next < d.entries.count else { return .failure(.itemNotFound) }
            let name = Array(d.entries[d.next].utf8) + [0]
            guard name.count <= capacity else { return .failure(.shortBuffer) }
            s.dirs[handle]?.next += 1
            return .success(name)
        }
        return try r.get()
    }

    /// Size a READDIR needs for the next name (for SHORT_BUFFER answers).
    func nextNameSize(handle: UInt64) -> Int {
        state.withLock { s in
            guard let d = s.dirs[handle], d.next < d.entries.count else { return 0 }
            return d.entries[d.next].utf8.count + 1
        }
    }

    /// CLOSEDIR.
    public func closeDirectory(handle: UInt64) throws(TEEResult) {
        guard state.withLock({ $0.dirs.removeValue(forKey: handle) }) != nil else { throw .badParameters }
    }

    /// CREATE (serialized with every other change to the store).
    public func create(path raw: [UInt8]) throws(TEEResult) -> UInt64 {
        try ioLock.withLock { _ throws(TEEResult) -> UInt64 in try createLocked(path: raw) }
    }

    /// WRITE (serialized with every other change to the store).
    public func write(handle: UInt64, offset: UInt64, data: [UInt8]) throws(TEEResult) {
        try ioLock.withLock { _ throws(TEEResult) in try writeLocked(handle: handle, offset: offset, data: data) }
    }

    /// TRUNCATE (serialized with every other change to the store).
    public func truncate(handle: UInt64, length: UInt64) throws(TEEResult) {
        try ioLock.withLock { _ throws(TEEResult) in try truncateLocked(handle: handle, length: length) }
    }

    /// REMOVE (serialized with every other change to the store).
    public func remove(path raw: [UInt8]) throws(TEEResult) {
        try ioLock.withLock { _ throws(TEEResult) in try removeLocked(path: raw) }
    }

    /// RENAME (serialized with every other change to the store).
    public func rename(from rawOld: [UInt8], to rawNew: [UInt8], overwrite: Bool) throws(TEEResult) {
        try ioLock.withLock { _ throws(TEEResult) in try renameLocked(from: rawOld, to: rawNew, overwrite: overwrite) }
    }

    /// Open file and directory handles (for leak checks).
    public var openHandles: Int { state.withLock { $0.files.count + $0.dirs.count } }
}
