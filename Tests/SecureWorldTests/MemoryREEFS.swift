// A normal-world file system in memory for the secure storage tests: each operation atomic, as the
// supplicant's are, with fault injection (a crash at the Nth operation, a full disk) and direct
// access to the stored bytes for tamper tests.
import Synchronization
import TEEABI
@testable import SecureWorld

final class MemoryREEFS: REEFileSystem {
    enum Fault: Sendable {
        /// Operation N and every later one fail without effect (the supplicant died before it).
        case crashBefore(Int)
        /// Operation N takes effect, then it and every later one fail (died before replying).
        case crashAfter(Int)
    }

    struct State {
        var files: [String: [UInt8]] = [:]
        var handles: [UInt64: String] = [:]
        var next: UInt64 = 1
        var ops = 0
        var fault: Fault?
        var crashed = false
        /// Total bytes the files may hold; more is STORAGE_NO_SPACE.
        var capacity: Int?
        var yields = false
    }
    let state = Mutex(State())

    init(files: [String: [UInt8]] = [:]) { state.withLock { $0.files = files } }

    var files: [String: [UInt8]] {
        get { state.withLock { $0.files } }
        set { state.withLock { $0.files = newValue } }
    }
    var operations: Int { state.withLock { $0.ops } }
    func inject(_ f: Fault?) { state.withLock { $0.fault = f; $0.crashed = false; $0.ops = 0 } }
    func setCapacity(_ c: Int?) { state.withLock { $0.capacity = c } }
    /// Each operation yields first, so concurrent tasks interleave at every RPC.
    func setYields(_ y: Bool) { state.withLock { $0.yields = y } }

    /// Runs one operation under the fault plan.
    private func op<T>(_ body: (inout State) throws(TEEResult) -> T) async throws(TEEResult) -> T {
        if state.withLock({ $0.yields }) { await Task.yield() }
        return try state.withLock { s throws(TEEResult) -> T in
            if s.crashed { throw .communication }
            let n = s.ops; s.ops += 1
            switch s.fault {
            case let .crashBefore(k) where n >= k: s.crashed = true; throw .communication
            case let .crashAfter(k) where n >= k:
                _ = try? body(&s)
                s.crashed = true; throw .communication
            default: return try body(&s)
            }
        }
    }

    private static func parent(_ p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return "" }
        return String(p[..<i])
    }

    private static func fits(_ s: State, replacing path: String, with count: Int) -> Bool {
        guard let cap = s.capacity else { return true }
        let used = s.files.reduce(0) { $0 + ($1.key == path ? 0 : $1.value.count) }
        return used + count <= cap
    }

    func open(_ path: String) async throws(TEEResult) -> UInt64 {
        try await op { s throws(TEEResult) in
            guard s.files[path] != nil else { throw .itemNotFound }
            let h = s.next; s.next += 1; s.handles[h] = path; return h
        }
    }

    func create(_ path: String) async throws(TEEResult) -> UInt64 {
        try await op { s throws(TEEResult) in
            s.files[path] = []
            let h = s.next; s.next += 1; s.handles[h] = path; return h
        }
    }

    func read(_ fd: UInt64, offset: Int, count: Int) async throws(TEEResult) -> [UInt8] {
        try await op { s throws(TEEResult) in
            guard let p = s.handles[fd] else { throw .badParameters }
            guard let f = s.files[p] else { throw .itemNotFound }
            guard offset < f.count else { return [] }
            return Array(f[offset..<min(f.count, offset + count)])
        }
    }

    func write(_ fd: UInt64, offset: Int, _ data: [UInt8]) async throws(TEEResult) {
        try await op { s throws(TEEResult) in
            guard let p = s.handles[fd] else { throw .badParameters }
            var f = s.files[p] ?? []
            if f.count < offset + data.count { f += [UInt8](repeating: 0, count: offset + data.count - f.count) }
            f.replaceSubrange(offset..<offset + data.count, with: data)
            guard Self.fits(s, replacing: p, with: f.count) else { throw .storageNoSpace }
            s.files[p] = f
        }
    }

    func close(_ fd: UInt64) async {
        _ = try? await op { s throws(TEEResult) in s.handles[fd] = nil }
    }

    func remove(_ path: String) async throws(TEEResult) {
        try await op { s throws(TEEResult) in
            guard s.files.removeValue(forKey: path) != nil else { throw .itemNotFound }
        }
    }

    func rename(_ from: String, _ to: String, overwrite: Bool) async throws(TEEResult) {
        try await op { s throws(TEEResult) in
            guard let f = s.files[from] else { throw .itemNotFound }
            if !overwrite && s.files[to] != nil { throw .accessConflict }
            s.files[to] = f
            s.files[from] = nil
        }
    }

    func list(_ dir: String) async throws(TEEResult) -> [String] {
        try await op { s throws(TEEResult) in
            s.files.keys.filter { Self.parent($0) == dir }.map { String($0.dropFirst(dir.count + 1)) }.sorted()
        }
    }
}
