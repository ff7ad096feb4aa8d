// The encrypted secure storage over a normal-world file system the tests control: every TA
// storage operation, isolation of TAs and namespaces, tampering, crashes at every file operation,
// a full disk, concurrent guests and migration of the plain format.
import Foundation
import Logging
import Synchronization
import Testing
import TEEABI
@testable import SecureWorld

/// One machine's view of the storage: a device, the secure world's storage service, and the REE FS.
struct StorageRig: Sendable {
    var fs = MemoryREEFS()
    var device: any SecureDeviceState = EphemeralDeviceState()
    var service = StorageService()
    static let taA = TEEUUID(timeLow: 0x1111_1111, timeMid: 0x2222, timeHiAndVersion: 0x3333, clockSeqAndNode: [1, 2, 3, 4, 5, 6, 7, 8])
    static let taB = TEEUUID(timeLow: 0x9999_9999, timeMid: 0x2222, timeHiAndVersion: 0x3333, clockSeqAndNode: [1, 2, 3, 4, 5, 6, 7, 8])

    func store(_ ta: TEEUUID = taA, namespace: String = "uid-1000") -> TAStore {
        TAStore(fs: fs, ta: ta, namespace: namespace, device: device, service: service, log: Logger(label: "test"))
    }

    /// Runs `body` on a store under its lock, as a TA's call does.
    func run<T>(_ ta: TEEUUID = taA, namespace: String = "uid-1000",
                _ body: (TAStore) async throws(TEEResult) -> T) async throws(TEEResult) -> T {
        try await service.withStore(store(ta, namespace: namespace), timeout: .seconds(600),   // only a deadlock waits this long
                                    yield: { await Task.yield(); return true }, body)
    }

    /// The same disk and device after a reboot of the secure world.
    func rebooted() -> StorageRig { StorageRig(fs: fs, device: device, service: StorageService()) }

    func write(_ id: String, _ data: [UInt8], overwrite: Bool = true, ta: TEEUUID = taA) async throws(TEEResult) {
        try await run(ta) { s throws(TEEResult) in try await s.write(Array(id.utf8), data, overwrite: overwrite) }
    }
    func read(_ id: String, ta: TEEUUID = taA) async throws(TEEResult) -> [UInt8] {
        try await run(ta) { s throws(TEEResult) in try await s.read(Array(id.utf8)) }
    }
    func list(ta: TEEUUID = taA) async throws(TEEResult) -> [String] {
        try await run(ta) { s throws(TEEResult) in try await s.list() }.map { String(decoding: $0, as: UTF8.self) }.sorted()
    }
    /// Files of TA `ta`'s directory.
    func dir(_ ta: TEEUUID = taA) -> [String: [UInt8]] {
        fs.files.filter { $0.key.hasPrefix("/\(ta)/") }
    }
}

/// The result of `body` as a TEEResult (success or the error).
func outcome<T>(_ body: () async throws(TEEResult) -> T) async -> TEEResult {
    do { _ = try await body(); return .success } catch { return error }
}

func pattern(_ n: Int, _ seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

@Suite struct EncryptedStorageTests {
    // MARK: every operation

    @Test func everyPersistentObjectAndEnumeratorOperationWorksThroughTheEncryptedStore() async throws {
        let r = StorageRig()
        #expect(try await r.list() == [])
        #expect(await outcome { () async throws(TEEResult) in try await r.read("absent") } == .itemNotFound)
        // Create (no overwrite), then a second create of the same id conflicts.
        try await r.write("a", pattern(10_000, 1), overwrite: false)
        #expect(await outcome { () async throws(TEEResult) in try await r.write("a", [1], overwrite: false) } == .accessConflict)
        #expect(try await r.read("a") == pattern(10_000, 1))
        // Overwrite, empty object, exactly one block, many blocks.
        try await r.write("a", pattern(4096, 2))
        try await r.write("empty", [])
        try await r.write("big", pattern(70_000, 3))
        #expect(try await r.read("a") == pattern(4096, 2))
        #expect(try await r.read("empty") == [])
        #expect(try await r.read("big") == pattern(70_000, 3))
        #expect(try await r.list() == ["a", "big", "empty"])
        // Rename: to a free id, onto an existing id (conflict), from an absent id.
        try await r.run { s throws(TEEResult) in try await s.rename(Array("a".utf8), Array("renamed".utf8)) }
        #expect(await outcome { () async throws(TEEResult) in try await r.run { s throws(TEEResult) in try await s.rename(Array("big".utf8), Array("empty".utf8)) } } == .accessConflict)
        #expect(await outcome { () async throws(TEEResult) in try await r.run { s throws(TEEResult) in try await s.rename(Array("a".utf8), Array("x".utf8)) } } == .itemNotFound)
        #expect(try await r.read("renamed") == pattern(4096, 2))
        #expect(await outcome { () async throws(TEEResult) in try await r.read("a") } == .itemNotFound)
        // Delete, and delete of an absent id.
        try await r.run { s throws(TEEResult) in try await s.delete(Array("renamed".utf8)) }
        #expect(await outcome { () async throws(TEEResult) in try await r.run { s throws(TEEResult) in try await s.delete(Array("renamed".utf8)) } } == .itemNotFound)
        #expect(try await r.list() == ["big", "empty"])
        // Ids: a 0-byte id is valid (GP, OP-TEE; issue 12 item 9: this asserted BAD_PARAMETERS
        // before); one longer than TEE_OBJECT_ID_MAX_LEN is refused.
        try await r.write("", [1, 2])
        #expect(try await r.read("") == [1, 2])
        #expect(try await r.list() == ["", "big", "empty"])
        try await r.run { s throws(TEEResult) in try await s.delete([]) }
        #expect(await outcome { () async throws(TEEResult) in try await r.read("") } == .itemNotFound)
        #expect(await outcome { () async throws(TEEResult) in try await r.write(String(repeating: "x", count: 65), [1]) } == .badParameters)
        // Everything survives a reboot of the secure world; replaced versions left no files behind.
        let after = r.rebooted()
        #expect(try await after.read("big") == pattern(70_000, 3))
        #expect(try await after.list() == ["big", "empty"])
        #expect(after.dir().count == 3)   // dirf.db + two objects
    }

    @Test func noPlainTextOfAnyObjectOrIdReachesTheNormalWorld() async throws {
        let r = StorageRig()
        let secret = Array("PIN=4711;KEY=the-TA-secret-that-must-stay-inside".utf8)
        try await r.write("very-secret-id", secret + secret)
        try await r.write("very-secret-id", secret)              // and its replacement
        for (path, bytes) in r.fs.files {
            #expect(!path.contains("very-secret"))
            for needle in [Array(secret.prefix(12)), Array("very-secret-id".utf8)] {
                #expect(!contains(bytes, needle), "\(path) holds plain text")
            }
        }
    }

    // MARK: isolation

    @Test func twoTAsCannotSeeOrUseEachOthersObjects() async throws {
        let r = StorageRig()
        try await r.write("shared-name", pattern(100, 1), ta: StorageRig.taA)
        #expect(try await r.list(ta: StorageRig.taB) == [])
        #expect(await outcome { () async throws(TEEResult) in try await r.read("shared-name", ta: StorageRig.taB) } == .itemNotFound)
        try await r.write("shared-name", pattern(100, 2), ta: StorageRig.taB)
        #expect(try await r.read("shared-name", ta: StorageRig.taA) == pattern(100, 1))
        // Copying TA A's files over TA B's: B's key does not open them.
        var files = r.fs.files
        for (p, b) in r.dir(StorageRig.taA) { files[p.replacingOccurrences(of: "\(StorageRig.taA)", with: "\(StorageRig.taB)")] = b }
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.list(ta: StorageRig.taB) } == .corruptObject)
    }

    @Test func oneUsersFilesDoNotOpenInAnotherUsersNamespace() async throws {
        let r = StorageRig()
        try await r.run(namespace: "uid-1") { s throws(TEEResult) in try await s.write(Array("k".utf8), [1, 2, 3], overwrite: true) }
        let other = StorageRig(fs: r.fs, device: r.device, service: r.service)
        #expect(await outcome { () async throws(TEEResult) in try await other.run(namespace: "uid-2") { s throws(TEEResult) in try await s.list() } } == .corruptObject)
    }

    // MARK: tampering

    /// A rig with object "obj" of 3 blocks; returns the rig and the object's path.
    func tamperRig() async throws -> (StorageRig, String) {
        let r = StorageRig()
        try await r.write("obj", pattern(3 * 4096 + 100, 9))
        try await r.write("other", pattern(50, 1))
        let path = try #require(r.dir().keys.filter { $0.contains("/o") }.sorted().first)
        return (r, path)
    }

    @Test(arguments: [0, 8, 20, 31, 32, 100, 4096 + 32, 4096 + 32 + 4095, 3 * 4112 + 32 + 99, 3 * 4112 + 32 + 100 + 15])
    func aFlippedByteAnywhereInAnObjectIsCorruptObject(offset: Int) async throws {
        let (r, path) = try await tamperRig()
        var files = r.fs.files
        try #require(offset < files[path]?.count ?? 0)
        files[path]?[offset] ^= 0x01
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.read("obj") } == .corruptObject)
        #expect(try await r.read("other") == pattern(50, 1))    // the rest of the store stays usable
    }

    @Test func swappedBlocksAreCorruptObject() async throws {
        let (r, path) = try await tamperRig()
        var files = r.fs.files
        var f = try #require(files[path])
        let b0 = Array(f[32..<(32 + 4112)]), b1 = Array(f[(32 + 4112)..<(32 + 2 * 4112)])
        f.replaceSubrange(32..<(32 + 4112), with: b1)
        f.replaceSubrange((32 + 4112)..<(32 + 2 * 4112), with: b0)
        files[path] = f
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.read("obj") } == .corruptObject)
    }

    @Test func swappedObjectFilesAreCorruptObject() async throws {
        let (r, _) = try await tamperRig()
        var files = r.fs.files
        let objs = r.dir().keys.filter { $0.contains("/o") }.sorted()
        try #require(objs.count == 2)
        (files[objs[0]], files[objs[1]]) = (files[objs[1]], files[objs[0]])
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.read("obj") } == .corruptObject)
        #expect(await outcome { () async throws(TEEResult) in try await r.read("other") } == .corruptObject)
    }

    @Test(arguments: [0, 31, 32 + 4112, 3 * 4112 + 32])
    func aTruncatedObjectIsCorruptObject(length: Int) async throws {
        let (r, path) = try await tamperRig()
        var files = r.fs.files
        files[path] = Array(try #require(files[path]).prefix(length))
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.read("obj") } == .corruptObject)
    }

    @Test func aDeletedObjectFileIsCorruptObjectNotItemNotFound() async throws {
        let (r, path) = try await tamperRig()
        var files = r.fs.files
        files[path] = nil
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.read("obj") } == .corruptObject)
    }

    @Test func anOlderCopyOfOneObjectIsCorruptObject() async throws {
        let r = StorageRig()
        try await r.write("counter", [1])
        let old = r.dir()
        try await r.write("counter", [2])
        // Put version 1's object file under version 2's name (and also back under its own name).
        var files = r.fs.files
        let oldObj = try #require(old.first { $0.key.contains("/o") })
        let newPath = try #require(r.dir().keys.first { $0.contains("/o") })
        files[newPath] = oldObj.value
        files[oldObj.key] = oldObj.value
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.read("counter") } == .corruptObject)
    }

    @Test func anOlderCopyOfTheDirectoryFileIsCorruptObjectEvenAfterAReboot() async throws {
        let r = StorageRig()
        try await r.write("counter", [1])
        let snapshot = r.dir()
        try await r.write("counter", [2])
        try await r.write("more", [3])
        // Restore the whole TA directory as it was (directory file and object files).
        var files = r.fs.files.filter { !$0.key.hasPrefix("/\(StorageRig.taA)/") }
        for (p, b) in snapshot { files[p] = b }
        r.fs.files = files
        #expect(await outcome { () async throws(TEEResult) in try await r.read("counter") } == .corruptObject)
        #expect(await outcome { () async throws(TEEResult) in try await r.rebooted().list() } == .corruptObject)
        // Deleting the directory file (rollback to "never stored") is detected too.
        r.fs.files = r.fs.files.filter { !$0.key.hasSuffix("/dirf.db") }
        #expect(await outcome { () async throws(TEEResult) in try await r.rebooted().list() } == .corruptObject)
    }

    @Test func aForgedOrFlippedDirectoryFileIsCorruptObject() async throws {
        let r = StorageRig()
        try await r.write("a", [1])
        let path = "/\(StorageRig.taA)/dirf.db"
        let good = try #require(r.fs.files[path])
        for offset in [0, 9, 25, good.count - 1] {
            var files = r.fs.files
            files[path]?[offset] ^= 0x80
            r.fs.files = files
            #expect(await outcome { () async throws(TEEResult) in try await r.list() } == .corruptObject)
            files[path] = good
            r.fs.files = files
        }
        #expect(try await r.list() == ["a"])
    }

    // MARK: crashes

    /// A script of operations; the model of committed objects after each.
    enum Step { case write(String, [UInt8]), delete(String), rename(String, String) }
    static let script: [Step] = [
        .write("a", pattern(100, 1)), .write("b", pattern(5000, 2)), .write("a", pattern(9000, 3)),
        .rename("b", "c"), .write("d", []), .delete("a"), .write("c", pattern(4096, 4)), .write("a", pattern(12_000, 5)),
        .rename("d", "e"), .delete("c"), .write("e", pattern(3, 6)), .write("b", pattern(8200, 7)),
    ]

    static func apply(_ s: Step, _ m: inout [String: [UInt8]]) {
        switch s {
        case let .write(id, d): m[id] = d
        case let .delete(id): m[id] = nil
        case let .rename(f, t): m[t] = m[f]; m[f] = nil
        }
    }

    static func perform(_ s: Step, _ r: StorageRig) async throws(TEEResult) {
        switch s {
        case let .write(id, d): try await r.write(id, d)
        case let .delete(id): try await r.run { st throws(TEEResult) in try await st.delete(Array(id.utf8)) }
        case let .rename(f, t): try await r.run { st throws(TEEResult) in try await st.rename(Array(f.utf8), Array(t.utf8)) }
        }
    }

    /// Everything the store holds after a reboot.
    static func snapshot(_ r: StorageRig) async throws(TEEResult) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for id in try await r.list() { out[id] = try await r.read(id) }
        return out
    }

    @Test func aCrashAtAnyFileOperationLeavesEveryObjectOldOrNewAndNothingLost() async throws {
        // Count the operations of a clean run.
        let clean = StorageRig()
        for s in Self.script { try await Self.perform(s, clean) }
        let total = clean.fs.operations
        #expect(total >= 100)
        var points = 0
        for mode in 0..<2 {
            for k in 0..<total {
                let r = StorageRig()
                r.fs.inject(mode == 0 ? .crashBefore(k) : .crashAfter(k))
                var committed: [String: [UInt8]] = [:]
                var pending: [String: [UInt8]]? = nil
                for s in Self.script {
                    var next = committed
                    Self.apply(s, &next)
                    do { try await Self.perform(s, r); committed = next } catch {
                        pending = next
                        break
                    }
                }
                // Reboot: the same disk and device, a fresh secure world.
                r.fs.inject(nil)
                let after = r.rebooted()
                let seen: [String: [UInt8]]
                do { seen = try await Self.snapshot(after) } catch {
                    Issue.record("crash \(mode == 0 ? "before" : "after") op \(k): store unreadable after reboot: \(error)")
                    continue
                }
                #expect(seen == committed || seen == pending, "crash at op \(k): neither old nor new state")
                // Still usable, and the sweep left only the directory file and live objects.
                try await after.write("post-crash", [42])
                #expect(after.dir().count == seen.count + 2, "crash at op \(k): debris left \(after.dir().keys.sorted())")
                points += 1
            }
        }
        #expect(points == 2 * total)
    }

    // MARK: full disk

    @Test func aFullDiskIsStorageNoSpaceAndCorruptsNothing() async throws {
        let r = StorageRig()
        try await r.write("keep", pattern(6000, 1))
        try await r.write("small", pattern(10, 2))
        let used = r.fs.files.values.reduce(0) { $0 + $1.count }
        r.fs.setCapacity(used + 3000)
        #expect(await outcome { () async throws(TEEResult) in try await r.write("huge", pattern(20_000, 3)) } == .storageNoSpace)
        #expect(await outcome { () async throws(TEEResult) in try await r.write("keep", pattern(20_000, 4)) } == .storageNoSpace)
        #expect(try await r.read("keep") == pattern(6000, 1))
        #expect(try await r.list() == ["keep", "small"])
        #expect(r.fs.files.values.reduce(0) { $0 + $1.count } == used)     // nothing half-written left
        // The directory file itself cannot be staged: still nothing changes.
        r.fs.setCapacity(used + 60)
        #expect(await outcome { () async throws(TEEResult) in try await r.write("tiny", [1]) } == .storageNoSpace)
        #expect(try await r.rebooted().list() == ["keep", "small"])
        r.fs.setCapacity(nil)
        try await r.write("huge", pattern(20_000, 3))
        #expect(try await r.read("huge") == pattern(20_000, 3))
    }

    // MARK: concurrency

    @Test func concurrentOperationsOfManyGuestsOnOneStoreAreAtomic() async throws {
        let r = StorageRig()
        r.fs.setYields(true)
        try await r.write("shared", [0])
        let results = Collected()
        await withTaskGroup(of: Void.self) { g in
            for guest in 0..<8 {
                g.addTask {
                    for i in 0..<6 {
                        let id = "g\(guest)-\(i)", data = pattern(100 + guest * 10 + i, UInt8(guest))
                        let res = await outcome { () async throws(TEEResult) in
                            try await r.write(id, data, overwrite: false)
                            guard try await r.read(id) == data else { throw TEEResult.corruptObject }
                            _ = try await r.read("shared")
                            try await r.write("shared", [UInt8(guest)])
                            if i % 2 == 0 { try await r.run { s throws(TEEResult) in try await s.delete(Array(id.utf8)) } }
                        }
                        results.m.withLock { $0.append(res) }
                    }
                }
            }
        }
        #expect(results.m.withLock { $0 }.allSatisfy { $0 == .success })
        #expect(try await r.list().count == 8 * 3 + 1)
    }

    @Test func racingCreatesOfOneIdLetExactlyOneWin() async throws {
        let r = StorageRig()
        r.fs.setYields(true)
        let results = Collected()
        await withTaskGroup(of: Void.self) { g in
            for guest in 0..<8 {
                g.addTask {
                    let res = await outcome { () async throws(TEEResult) in try await r.write("one", [UInt8(guest)], overwrite: false) }
                    results.m.withLock { $0.append(res) }
                }
            }
        }
        let all = results.m.withLock { $0 }
        #expect(all.filter { $0 == .success }.count == 1)
        #expect(all.filter { $0 == .accessConflict }.count == 7)
    }

    @Test func aWaiterGivesUpWithBusyWhenTheStoreStaysLockedAndLeavesOnAbort() async throws {
        let locks = StoreLocks()
        let tries = Collected()
        #expect(await locks.acquire("s", timeout: .seconds(1), yield: { true }) == nil)
        // Held: a waiter whose deadline has passed answers BUSY (its yields are counted, not timed).
        #expect(await locks.acquire("s", timeout: .zero, yield: { tries.m.withLock { $0.append(.busy) }; return true }) == .busy)
        // A waiter whose VM goes away (its RPC answers abort) leaves the queue at once.
        #expect(await locks.acquire("s", timeout: .seconds(600), yield: { false }) == .communication)
        locks.release("s")
        // Neither left a ticket behind: the next acquire is immediate.
        #expect(await locks.acquire("s", timeout: .zero, yield: { false }) == nil)
        #expect(tries.m.withLock { $0.count } == 0)
    }

    // MARK: migration

    @Test func plainObjectsOfTheOldFormatAreMigratedOnFirstOpenAndRemoved() async throws {
        let ta = StorageRig.taA
        let plain = Array("an old plain object".utf8)
        let r = StorageRig(fs: MemoryREEFS(files: [
            "/\(ta)/6f6c64": plain,                  // id "old"
            "/\(ta)/6b6579": pattern(9000, 1),       // id "key"
            "/\(ta)/6b6579.tmp": [1, 2, 3],          // a plain-format temporary: not an object
        ]))
        #expect(try await r.list() == ["key", "old"])
        #expect(try await r.read("old") == plain)
        #expect(try await r.read("key") == pattern(9000, 1))
        #expect(r.dir()["/\(ta)/6f6c64"] == nil)
        for (_, bytes) in r.fs.files { #expect(!contains(bytes, plain)) }
        // Plain files planted after the store was committed are ignored (and swept on reboot).
        var files = r.fs.files
        files["/\(ta)/6e6577"] = plain
        r.fs.files = files
        #expect(try await r.rebooted().list() == ["key", "old"])
    }

    @Test func aCrashBetweenTheDirectoryRenameAndTheCounterUpdateIsNotARollback() async throws {
        let r = StorageRig()
        try await r.write("a", [1])
        // The counter stays at 1 while the directory file says 2.
        let dev = r.device
        try await r.write("a", [2])
        try dev.setCounter(r.store().name, 1)
        #expect(try await r.rebooted().read("a") == [2])
        #expect(try dev.counter(r.store().name) == 2)
    }
}

func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, hay.count >= needle.count else { return false }
    for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return true }
    return false
}

/// Results gathered from concurrent tasks.
final class Collected: Sendable {
    let m = Mutex<[TEEResult]>([])
}

@Suite struct DeviceStateTests {
    static func dir() -> String { "/tmp/vtee-dev-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) }

    @Test func theDeviceKeyIsMadeOnceKeptPrivateAndCountersSurviveARestart() throws {
        let d = Self.dir()
        defer { _ = try? FileManager.default.removeItem(atPath: d) }
        let first = try FileDeviceState(directory: d)
        try first.setCounter("uid-1/ta", 7)
        let second = try FileDeviceState(directory: d)
        #expect(second.hardwareKey == first.hardwareKey && second.hardwareKey.count == 32)
        #expect(try second.counter("uid-1/ta") == 7)
        #expect(try second.counter("uid-2/ta") == 0)
        let attrs = try FileManager.default.attributesOfItem(atPath: d + "/huk")
        #expect((attrs[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
        let dattrs = try FileManager.default.attributesOfItem(atPath: d)
        #expect((dattrs[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
        // Two devices never share a key.
        let other = Self.dir()
        defer { _ = try? FileManager.default.removeItem(atPath: other) }
        #expect(try FileDeviceState(directory: other).hardwareKey != first.hardwareKey)
    }

    @Test func aSecondOwnerOfTheSameStateIsRefusedUntilTheFirstLetsGo() throws {
        let d = Self.dir()
        defer { _ = try? FileManager.default.removeItem(atPath: d) }
        let a = try FileDeviceState(directory: d), b = try FileDeviceState(directory: d)
        try a.lock()
        #expect(throws: DeviceStateError.self) { try b.lock() }
        a.unlock()
        try b.lock()
        b.unlock()
    }

    @Test func aDamagedKeyFileIsRefusedNotReplaced() throws {
        let d = Self.dir()
        defer { _ = try? FileManager.default.removeItem(atPath: d) }
        _ = try FileDeviceState(directory: d)
        FileManager.default.createFile(atPath: d + "/huk", contents: Data([1, 2, 3]))
        #expect(throws: DeviceStateError.self) { _ = try FileDeviceState(directory: d) }
    }
}

@Suite struct TAVersionDBTests {
    @Test func theDatabaseHasOPTEEsLayoutAndAdmitsOnlyNonDecreasingVersions() throws {
        let a = try TEEUUID("11111111-2222-3333-4444-555555555555"), b = try TEEUUID("66666666-2222-3333-4444-555555555555")
        var db = TAVersionDB()
        #expect(try db.admit(a, version: 3) == true)
        #expect(try db.admit(b, version: 0) == true)
        #expect(try db.admit(a, version: 3) == false)
        #expect(throws: TEEResult.accessConflict) { _ = try db.admit(a, version: 2) }
        #expect(try db.admit(a, version: 7) == true)
        // {u32 db_version, u32 n} then n x {uuid octets, u32 version}, little endian.
        let bytes = db.encoded
        #expect(bytes.count == 8 + 2 * 20)
        #expect(Array(bytes[0..<8]) == [0, 0, 0, 0, 2, 0, 0, 0])
        #expect(Array(bytes[8..<24]) == a.octets && Array(bytes[24..<28]) == [7, 0, 0, 0])
        #expect(try TAVersionDB(decoding: bytes) == db)
        // A truncated or inflated database is CORRUPT_OBJECT, never a silent reset.
        #expect(throws: TEEResult.corruptObject) { _ = try TAVersionDB(decoding: Array(bytes.dropLast())) }
        var inflated = bytes; inflated[4] = 0xFF
        #expect(throws: TEEResult.corruptObject) { _ = try TAVersionDB(decoding: inflated) }
    }
}
