// TA persistent objects, encrypted and authenticated in the secure world, stored by the normal
// world through FS RPCs (OP-TEE's REE FS design; the format is in StorageFormat.swift).
//
// Runs in the secure world. The normal world only ever sees ciphertext: object files written
// once under a fresh name, and a directory file per TA replaced by one rename. An operation is
// atomic and crash-safe because nothing becomes visible before that rename (write-new-then-
// rename of a committed directory), and atomic with respect to every other guest of the same
// storage namespace because the secure world runs the whole operation (all its RPCs) under one
// lock per (namespace, TA).
import Crypto
import Logging
import Synchronization
import TAAPI
import TEEABI

/// How the secure world stores TA objects: its device state and which storage each client uses.
public struct SecureStorageConfig: Sendable {
    /// The device key and rollback counters (OP-TEE's HUK and RPMB). Default: an ephemeral device.
    public var device: any SecureDeviceState
    /// The storage namespace of a client id (the guest whose supplicant serves the FS RPCs): two
    /// clients with one namespace see one store. Default: "default" for client 0, "guest-<id>"
    /// (client id - 1) otherwise, as the in-process stack lays its guests' storage out.
    public var namespace: @Sendable (UInt64) -> String
    /// How long an operation waits for another guest's operation on the same store (then BUSY).
    public var lockTimeout: Duration

    /// A configuration; see the properties for the defaults.
    public init(device: any SecureDeviceState = EphemeralDeviceState(),
                namespace: @escaping @Sendable (UInt64) -> String = SecureStorageConfig.guestNamespace,
                lockTimeout: Duration = .seconds(30)) {
        self.device = device; self.namespace = namespace; self.lockTimeout = lockTimeout
    }

    /// The default namespace of a client id.
    @Sendable public static func guestNamespace(_ clientID: UInt64) -> String {
        clientID == 0 ? "default" : "guest-\(clientID - 1)"
    }
}

// MARK: - The REE file system seam

/// The normal world's file operations as the secure world uses them (OPTEE_RPC_CMD_FS). Paths are
/// absolute inside the supplicant's storage root. Every operation is atomic as the supplicant
/// implements it; nothing else is assumed of it.
protocol REEFileSystem: Sendable {
    func open(_ path: String) async throws(TEEResult) -> UInt64
    /// Creates or truncates.
    func create(_ path: String) async throws(TEEResult) -> UInt64
    func read(_ fd: UInt64, offset: Int, count: Int) async throws(TEEResult) -> [UInt8]
    func write(_ fd: UInt64, offset: Int, _ data: [UInt8]) async throws(TEEResult)
    func close(_ fd: UInt64) async
    func remove(_ path: String) async throws(TEEResult)
    func rename(_ from: String, _ to: String, overwrite: Bool) async throws(TEEResult)
    /// Names in `dir`; empty when it does not exist.
    func list(_ dir: String) async throws(TEEResult) -> [String]
}

/// `REEFileSystem` over FS RPCs of the current std call.
struct RPCFileSystem: REEFileSystem {
    let call: StdCall

    /// Largest READ/WRITE per RPC.
    static let chunk = 64 * 1024
    /// Payload for a directory entry name (OP-TEE's TEE_FS_NAME_MAX is 350).
    static let nameMax = 512

    /// Runs one FS RPC with the call's payload buffer (SHM_ALLOC APPL, reused until the call
    /// ends), filled with `input` (and `second`) first; returns ret, params and up to `output`
    /// bytes read back.
    private func fs(_ op: RPCFSOperation, b: UInt64 = 0, c: UInt64 = 0, input: [UInt8]? = nil, output: Int = 0,
                    second: [UInt8]? = nil, valueOut: Bool = false) async throws(TEEResult) -> (TEEResult, RPCParams, [UInt8]) {
        let size = max(input?.count ?? 0, output, 1) + (second?.count ?? 0)
        let (buf, cookie) = try await call.payloadBuffer(size: size)
        var params: [MsgParam] = [.value(.valueInput, a: op.rawValue, b: b, c: c)]
        let view = call.world.ns.view
        var failure: TEEResult? = nil
        // TMEM by address in a one-piece buffer, RMEM(cookie, offset) in a page-list one.
        if let input {
            do { try buf.write(view, offset: 0, input) } catch { failure = error }
            params.append(call.rpcMemref(.tmemInput, buffer: buf, cookie: cookie, size: UInt64(input.count)))
        } else if output > 0 {
            params.append(call.rpcMemref(.tmemOutput, buffer: buf, cookie: cookie, size: UInt64(output)))
        }
        if let second, let i = input {
            do { try buf.write(view, offset: i.count, second) } catch { failure = error }
            params.append(call.rpcMemref(.tmemInput, buffer: buf, cookie: cookie, offset: i.count, size: UInt64(second.count)))
        }
        if valueOut { params.append(.value(.valueOutput)) }
        if let f = failure { throw f }
        let (r, back, _) = await call.rpcCommand(.fs, params)
        var data: [UInt8] = []
        if r == .success, output > 0, back.count > 1 {
            let n = Int(min(back[1].size, UInt64(output)))
            data = (try? buf.read(view, offset: 0, count: n)) ?? []
        }
        return (r, back, data)
    }

    private func cString(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

    private func openOrCreate(_ p: String, create: Bool) async throws(TEEResult) -> UInt64 {
        let (r, back, _) = try await fs(create ? .create : .open, input: cString(p), valueOut: true)
        guard r == .success else { throw r }
        guard back.count > 2 else { throw .communication }
        return back[2].a
    }

    func open(_ path: String) async throws(TEEResult) -> UInt64 { try await openOrCreate(path, create: false) }
    func create(_ path: String) async throws(TEEResult) -> UInt64 { try await openOrCreate(path, create: true) }

    func read(_ fd: UInt64, offset: Int, count: Int) async throws(TEEResult) -> [UInt8] {
        let (r, _, data) = try await fs(.read, b: fd, c: UInt64(offset), output: min(count, Self.chunk))
        guard r == .success else { throw r }
        return data
    }

    func write(_ fd: UInt64, offset: Int, _ data: [UInt8]) async throws(TEEResult) {
        var off = 0
        repeat {
            let n = min(Self.chunk, data.count - off)
            let (r, _, _) = try await fs(.write, b: fd, c: UInt64(offset + off), input: Array(data[off..<off + n]))
            guard r == .success else { throw r }
            off += n
        } while off < data.count
    }

    func close(_ fd: UInt64) async { _ = try? await fs(.close, b: fd) }

    func remove(_ path: String) async throws(TEEResult) {
        let (r, _, _) = try await fs(.remove, input: cString(path))
        guard r == .success else { throw r }
    }

    func rename(_ from: String, _ to: String, overwrite: Bool) async throws(TEEResult) {
        let (r, _, _) = try await fs(.rename, b: overwrite ? 1 : 0, input: cString(from), second: cString(to))
        guard r == .success else { throw r }
    }

    func list(_ dir: String) async throws(TEEResult) -> [String] {
        let (r, back, _) = try await fs(.opendir, input: cString(dir), valueOut: true)
        if r == .itemNotFound { return [] }
        guard r == .success, back.count > 2 else { throw r == .success ? .communication : r }
        let d = back[2].a
        var names: [String] = []
        for _ in 0..<(DirectoryFile.maxEntries * 2 + 16) {
            let res: (TEEResult, RPCParams, [UInt8])
            do { res = try await fs(.readdir, b: d, output: Self.nameMax) } catch { break }
            guard res.0 == .success else { break }
            names.append(String(decoding: res.2.prefix { $0 != 0 }, as: UTF8.self))
        }
        _ = try? await fs(.closedir, b: d)
        return names
    }
}

// MARK: - Locks

/// One lock per store: an operation holds it across all its RPCs. Waiters queue in order (a
/// ticket each) and wait in the normal world, through `yield` (an RPC), never on a continuation
/// only a live VM would drain: a waiter whose VM dies is answered abort at its RPC, unwinds and
/// leaves the queue, so a dead guest never holds or blocks a store. A waiter gives up with BUSY
/// at its deadline (a guest that stops answering RPCs stalls only its own user's operations on
/// that TA, and only for that long).
final class StoreLocks: Sendable {
    private struct State { var held: Set<String> = []; var queues: [String: [UInt64]] = [:]; var next: UInt64 = 0 }
    private let state = Mutex(State())

    /// Takes the lock of `key`: nil when held, BUSY past `timeout`, COMMUNICATION when `yield`
    /// answers false (the VM is going away).
    func acquire(_ key: String, timeout: Duration, yield: () async -> Bool) async -> TEEResult? {
        let ticket = state.withLock { s -> UInt64 in s.next += 1; s.queues[key, default: []].append(s.next); return s.next }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            let got = state.withLock { s -> Bool in
                guard s.queues[key]?.first == ticket, !s.held.contains(key) else { return false }
                s.queues[key]?.removeFirst()
                if s.queues[key]?.isEmpty == true { s.queues[key] = nil }
                s.held.insert(key)
                return true
            }
            if got { return nil }
            if ContinuousClock.now >= deadline { leave(key, ticket); return .busy }
            guard await yield() else { leave(key, ticket); return .communication }
        }
    }

    private func leave(_ key: String, _ ticket: UInt64) {
        state.withLock { s in
            s.queues[key]?.removeAll { $0 == ticket }
            if s.queues[key]?.isEmpty == true { s.queues[key] = nil }
        }
    }

    /// Releases the lock of `key` (the first waiter takes it at its next try).
    func release(_ key: String) { _ = state.withLock { $0.held.remove(key) } }
}

/// The secure world's storage state: locks, derived keys, stores already swept for debris.
final class StorageService: Sendable {
    let locks = StoreLocks()
    private let keys = Mutex<[String: [UInt8]]>([:])
    private let swept = Mutex<Set<String>>([])

    func key(_ name: String, device: any SecureDeviceState, namespace: String, ta: TEEUUID) -> [UInt8] {
        if let k = keys.withLock({ $0[name] }) { return k }
        let k = StorageKeys.storeKey(device: device.hardwareKey, namespace: namespace, ta: ta)
        keys.withLock { $0[name] = k }
        return k
    }

    /// True the first time `name` asks (the store is then swept once per boot).
    func firstVisit(_ name: String) -> Bool { swept.withLock { $0.insert(name).inserted } }
    /// Forgets that `name` was swept (the sweep failed).
    func unvisit(_ name: String) { _ = swept.withLock { $0.remove(name) } }

    /// Runs `body` on `store` under the store's lock.
    func withStore<T>(_ store: TAStore, timeout: Duration, yield: () async -> Bool,
                      _ body: (TAStore) async throws(TEEResult) -> T) async throws(TEEResult) -> T {
        if let refused = await locks.acquire(store.name, timeout: timeout, yield: yield) { throw refused }
        do {
            if firstVisit(store.name) {
                do { try await store.sweep() } catch { unvisit(store.name) }
            }
            let r = try await body(store)
            locks.release(store.name)
            return r
        } catch {
            locks.release(store.name)
            throw error
        }
    }
}

// MARK: - One TA's store

/// The encrypted store of one TA in one namespace, over an REE file system. Callers hold the
/// store's lock (`StorageService.withStore`).
struct TAStore: Sendable {
    let fs: any REEFileSystem
    let ta: TEEUUID
    let namespace: String
    let device: any SecureDeviceState
    /// The store key's bytes (SymmetricKey is made where it is used).
    let keyBytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    let log: Logger
    /// Largest object (and directory file) accepted.
    var maxObject: Int = 8 << 20

    /// A store; the key is derived (or taken from `service`'s cache).
    init(fs: any REEFileSystem, ta: TEEUUID, namespace: String, device: any SecureDeviceState, service: StorageService,
         log: Logger, maxObject: Int = 8 << 20) {
        self.fs = fs; self.ta = ta; self.namespace = namespace; self.device = device; self.log = log
        self.maxObject = maxObject
        keyBytes = service.key(namespace + "/" + ta.description, device: device, namespace: namespace, ta: ta)
    }

    /// Names the store (lock and counter).
    var name: String { namespace + "/" + ta.description }
    var dir: String { "/\(ta)" }
    var dirf: String { dir + "/dirf.db" }
    var dirfTemp: String { dir + "/dirf.tmp" }
    func objectPath(_ file: UInt64) -> String { dir + "/o" + String(file, radix: 16) }

    static func checkID(_ id: [UInt8]) throws(TEEResult) {
        // A 0-byte id is valid (GP and OP-TEE allow objectIDLen 0).
        guard id.count <= 64 else { throw .badParameters }
    }

    // MARK: whole files

    /// Reads a whole file (at most `limit` bytes; more is CORRUPT_OBJECT).
    func readFile(_ path: String, limit: Int) async throws(TEEResult) -> [UInt8] {
        let fd = try await fs.open(path)
        var out: [UInt8] = []
        do throws(TEEResult) {
            while true {
                let part = try await fs.read(fd, offset: out.count, count: RPCFileSystem.chunk)
                out += part
                if out.count > limit { throw TEEResult.corruptObject }
                if part.count < RPCFileSystem.chunk { break }
            }
        } catch { await fs.close(fd); throw error }
        await fs.close(fd)
        return out
    }

    /// Creates `path` with `bytes`; removes what it wrote when it fails.
    func writeFile(_ path: String, _ bytes: [UInt8]) async throws(TEEResult) {
        let fd = try await fs.create(path)
        do { if !bytes.isEmpty { try await fs.write(fd, offset: 0, bytes) } } catch {
            await fs.close(fd)
            try? await fs.remove(path)
            throw error
        }
        await fs.close(fd)
    }

    // MARK: directory file

    /// The current directory file, checked against the device's rollback counter. A store never
    /// committed and without a directory file is empty (or migrated from the plain format).
    func load() async throws(TEEResult) -> DirectoryFile {
        let committed = try device.counter(name)
        let bytes: [UInt8]
        do { bytes = try await readFile(dirf, limit: maxObject) } catch {
            guard error == .itemNotFound else { throw error }
            if committed > 0 {
                log.warning("secure storage: directory file of \(name) is gone (version \(committed) committed): rollback or deletion")
                throw .corruptObject
            }
            return try await migrate()
        }
        let d = try DirectoryFile.open(bytes, key: key, ta: ta, namespace: namespace)
        if d.version < committed {
            log.warning("secure storage: directory file of \(name) is version \(d.version), \(committed) was committed: rollback")
            throw .corruptObject
        }
        // Ahead: a crash between the rename and the counter update. Only the secure world can make it.
        if d.version > committed { try device.setCounter(name, d.version) }
        return d
    }

    /// Makes `d` (its version one more than the loaded one) the committed directory: stage it as
    /// dirf.tmp (`staged` false when that fails: nothing changed), rename it over dirf.db, then
    /// record its version in the device. After a failed rename the outcome is unknown to us
    /// (old or new); the next load tells.
    func commit(_ d: DirectoryFile, staged: inout Bool) async throws(TEEResult) {
        try await writeFile(dirfTemp, try d.sealed(key: key, ta: ta, namespace: namespace))
        staged = true
        try await fs.rename(dirfTemp, dirf, overwrite: true)
        try device.setCounter(name, d.version)
    }

    /// Removes files no committed directory names: object files of interrupted writes or of
    /// replaced versions, a staged directory file, plain-format leftovers of a migration.
    func sweep() async throws(TEEResult) {
        let names = try await fs.list(dir)
        guard !names.isEmpty else { return }
        let d = try await load()
        let live = Set(d.entries.map { "o" + String($0.file, radix: 16) })
        for n in names where n != "dirf.db" && !live.contains(n) {
            if n == "dirf.tmp" || n.hasPrefix("o") || Self.legacyID(n) != nil { try? await fs.remove(dir + "/" + n) }
        }
    }

    // MARK: migration of the plain format

    /// The object id of a plain-format file name (lower-case hex of the id), else nil.
    static func legacyID(_ name: String) -> [UInt8]? {
        let s = Array(name.utf8)
        guard !s.isEmpty, s.count % 2 == 0, s.count <= 128 else { return nil }
        func nib(_ c: UInt8) -> UInt8? {
            switch c { case 0x30...0x39: c - 0x30; case 0x61...0x66: c - 0x61 + 10; default: nil }
        }
        var out: [UInt8] = []
        var i = 0
        while i < s.count {
            guard let h = nib(s[i]), let l = nib(s[i + 1]) else { return nil }
            out.append(h << 4 | l); i += 2
        }
        return out
    }

    /// Encrypts the plain objects of an earlier vtee (one file per object, named by the hex of its
    /// id) into a first directory, then removes the plain files. A crash before the commit leaves
    /// the plain files to migrate again; after it, the sweep removes them.
    func migrate() async throws(TEEResult) -> DirectoryFile {
        var d = DirectoryFile()
        let legacy = try await fs.list(dir).compactMap { n in Self.legacyID(n).map { (n, $0) } }
        guard !legacy.isEmpty else { return d }
        var written: [String] = []
        for (n, id) in legacy {
            let plain = try await readFile(dir + "/" + n, limit: maxObject)
            let e = DirectoryEntry(id: id, file: d.nextFile, size: UInt64(plain.count), key: randomBytes(32))
            d.nextFile += 1
            try await writeFile(objectPath(e.file), try ObjectFile.seal(plain, file: e.file, key: e.key))
            written.append(objectPath(e.file))
            d.entries.append(e)
        }
        d.version = 1
        var staged = false
        do { try await commit(d, staged: &staged) } catch {
            if !staged { for p in written { try? await fs.remove(p) } }
            throw error
        }
        for (n, _) in legacy { try? await fs.remove(dir + "/" + n) }
        log.info("secure storage: migrated \(legacy.count) plain object(s) of \(name) to the encrypted format")
        return d
    }

    // MARK: operations

    func read(_ id: [UInt8]) async throws(TEEResult) -> [UInt8] {
        try Self.checkID(id)
        let d = try await load()
        guard let i = d.index(of: id) else { throw .itemNotFound }
        let e = d.entries[i]
        let bytes: [UInt8]
        do { bytes = try await readFile(objectPath(e.file), limit: ObjectFile.fileSize(e.size)) } catch {
            throw error == .itemNotFound ? .corruptObject : error      // listed but gone: tampering
        }
        return try ObjectFile.open(bytes, entry: e)
    }

    func write(_ id: [UInt8], _ data: [UInt8], overwrite: Bool) async throws(TEEResult) {
        try Self.checkID(id)
        guard data.count <= maxObject else { throw .storageNoSpace }
        var d = try await load()
        let existing = d.index(of: id)
        if existing != nil && !overwrite { throw .accessConflict }
        let e = DirectoryEntry(id: id, file: d.nextFile, size: UInt64(data.count), key: randomBytes(32))
        d.nextFile += 1
        let path = objectPath(e.file)
        try await writeFile(path, try ObjectFile.seal(data, file: e.file, key: e.key))
        var old: UInt64? = nil
        if let i = existing { old = d.entries[i].file; d.entries[i] = e } else { d.entries.append(e) }
        d.version += 1
        var staged = false
        do { try await commit(d, staged: &staged) } catch {
            if !staged { try? await fs.remove(path) }
            throw error
        }
        if let old { try? await fs.remove(objectPath(old)) }
    }

    func delete(_ id: [UInt8]) async throws(TEEResult) {
        try Self.checkID(id)
        var d = try await load()
        guard let i = d.index(of: id) else { throw .itemNotFound }
        let old = d.entries.remove(at: i).file
        d.version += 1
        var staged = false
        try await commit(d, staged: &staged)
        try? await fs.remove(objectPath(old))
    }

    func rename(_ from: [UInt8], _ to: [UInt8]) async throws(TEEResult) {
        try Self.checkID(from); try Self.checkID(to)
        var d = try await load()
        guard let i = d.index(of: from) else { throw .itemNotFound }
        guard d.index(of: to) == nil else { throw .accessConflict }
        d.entries[i].id = to
        d.version += 1
        var staged = false
        try await commit(d, staged: &staged)
    }

    func list() async throws(TEEResult) -> [[UInt8]] { try await load().entries.map(\.id) }
}

// MARK: - The TA's view

/// `TAStorage` of one TA for the current call: the store of (the caller's namespace, the TA).
struct FSRPCStorage: TAStorage {
    let call: StdCall
    let ta: TEEUUID

    private func run<T>(_ body: (TAStore) async throws(TEEResult) -> T) async throws(TEEResult) -> T {
        let world = call.world, cfg = world.config.storage
        let store = TAStore(fs: RPCFileSystem(call: call), ta: ta, namespace: cfg.namespace(call.partition.clientID),
                            device: cfg.device, service: world.storage, log: world.log, maxObject: world.config.maxMemrefBytes)
        // Waiting for another guest's operation: a short RPC SUSPEND in the normal world per try
        // (an RPC, so a dying VM unwinds the waiter like any suspended command).
        let call = self.call
        return try await world.storage.withStore(store, timeout: cfg.lockTimeout, yield: {
            await call.rpcCommand(.suspend, [.value(.valueInput, a: 1)]).ret == .success
        }, body)
    }

    func read(id: [UInt8]) async throws(TEEResult) -> [UInt8] { try await run { s throws(TEEResult) in try await s.read(id) } }
    func write(id: [UInt8], data: [UInt8], overwrite: Bool) async throws(TEEResult) {
        try await run { s throws(TEEResult) in try await s.write(id, data, overwrite: overwrite) }
    }
    func delete(id: [UInt8]) async throws(TEEResult) { try await run { s throws(TEEResult) in try await s.delete(id) } }
    func rename(from: [UInt8], to: [UInt8]) async throws(TEEResult) {
        try await run { s throws(TEEResult) in try await s.rename(from, to) }
    }
    func list() async throws(TEEResult) -> [[UInt8]] { try await run { s throws(TEEResult) in try await s.list() } }
}

// MARK: TA version database (rollback protection of loaded TAs)

/// OP-TEE's `ta_ver.db`: the highest ta_version of each TA UUID this client has loaded,
/// `{u32 db_version, u32 n}` then n x `{uuid[16] (RFC 4122 octets), u32 version}`, little
/// endian. It lives in the client's secure storage as an object of the core (the nil UUID), as
/// OP-TEE keeps it in secure storage owned by the core.
struct TAVersionDB: Equatable {
    /// Object id of the database in the core's store.
    static let objectID = Array("ta_ver.db".utf8)
    /// db_version this code writes.
    static let formatVersion: UInt32 = 0
    /// Entries kept at most (a TA UUID per entry); more is OUT_OF_MEMORY at load.
    static let maxEntries = 4096

    var entries: [(uuid: TEEUUID, version: UInt32)] = []

    static func == (l: TAVersionDB, r: TAVersionDB) -> Bool {
        l.entries.count == r.entries.count && zip(l.entries, r.entries).allSatisfy { $0.uuid == $1.uuid && $0.version == $1.version }
    }

    init() {}

    /// Parses a stored database; a malformed one is CORRUPT_OBJECT.
    init(decoding b: [UInt8]) throws(TEEResult) {
        guard b.count >= 8 else { throw .corruptObject }
        let n = Int(ByteCodec.u32(b, 4))
        guard n <= Self.maxEntries, b.count == 8 + n * 20 else { throw .corruptObject }
        for i in 0..<n {
            let o = 8 + i * 20
            entries.append((TEEUUID(octets: Array(b[o..<o + 16])), ByteCodec.u32(b, o + 16)))
        }
    }

    /// The stored form.
    var encoded: [UInt8] {
        var out = ByteCodec.le32(Self.formatVersion) + ByteCodec.le32(UInt32(entries.count))
        for e in entries { out += e.uuid.octets + ByteCodec.le32(e.version) }
        return out
    }

    /// OP-TEE's check_update_version: a version below the recorded one is a rollback
    /// (ACCESS_CONFLICT); a higher one is recorded; an equal one changes nothing. True when the
    /// database changed.
    mutating func admit(_ uuid: TEEUUID, version: UInt32) throws(TEEResult) -> Bool {
        if let i = entries.firstIndex(where: { $0.uuid == uuid }) {
            if version < entries[i].version { throw .accessConflict }
            if version == entries[i].version { return false }
            entries[i].version = version
            return true
        }
        guard entries.count < Self.maxEntries else { throw .outOfMemory }
        entries.append((uuid, version))
        return true
    }
}

extension FSRPCStorage {
    /// Checks a verified TA's ta_version against the client's `ta_ver.db` and records it, in one
    /// locked step of the core's store (`ta` must be the nil UUID). ACCESS_CONFLICT on a rollback.
    func admitTAVersion(_ uuid: TEEUUID, version: UInt32) async throws(TEEResult) {
        try await run { s throws(TEEResult) in
            var db = TAVersionDB()
            do throws(TEEResult) {
                db = try TAVersionDB(decoding: try await s.read(TAVersionDB.objectID))
            } catch {
                guard error == .itemNotFound else { throw error }
            }
            if try db.admit(uuid, version: version) {
                try await s.write(TAVersionDB.objectID, db.encoded, overwrite: true)
            }
        }
    }
}
