// Secure storage on a real disk through the supplicant: no plain text on disk, a full file system
// (a small tmpfs mounted by the test), migration of the plain format.
import Foundation
import SecureWorld
@testable import Supplicant
import TEEABI
import TEEClient
import Testing
import TrustedApps
#if canImport(Glibc)
import Glibc
#endif

/// Every regular file under `root` with its bytes.
func filesUnder(_ root: String) -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    for sub in FileManager.default.subpaths(atPath: root) ?? [] {
        let p = root + "/" + sub
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue,
           let d = FileManager.default.contents(atPath: p) { out[sub] = Array(d) }
    }
    return out
}

func bytesContain(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, hay.count >= needle.count else { return false }
    for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return true }
    return false
}

@Suite(.serialized) struct SecureStorageDiskTests {
    func write(_ s: TEESession, _ id: String, _ data: [UInt8]) throws {
        var op = TEEOperation([.tempInput(Array(id.utf8)), .tempInput(data)])
        try s.invoke(SecureStorageTA.Command.writeRaw.rawValue, &op)
    }

    func read(_ s: TEESession, _ id: String) throws -> [UInt8] {
        var op = TEEOperation([.tempInput(Array(id.utf8)), .tempOutput([UInt8](repeating: 0, count: 30_000))])
        try s.invoke(SecureStorageTA.Command.readRaw.rawValue, &op)
        return Array(op[1].buffer.prefix(op[1].size))
    }

    @Test func theSupplicantsDirectoryHoldsNoPlainTextOfObjectsOrIds() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(SecureStorageTA.uuid)
        let secret = Array("my-bank-PIN-is-4711-and-this-must-never-reach-the-disk".utf8)
        try write(s, "secret-object-id", secret + secret)
        try write(s, "secret-object-id", secret)
        #expect(try read(s, "secret-object-id") == secret)
        let files = filesUnder(stack.storage)
        #expect(!files.isEmpty)
        for (path, bytes) in files {
            #expect(!path.contains("secret") && !path.contains("7365637265742d6f626a656374"), "\(path)")
            #expect(!bytesContain(bytes, Array(secret.prefix(16))), "\(path) holds plain text")
            #expect(!bytesContain(bytes, Array("secret-object-id".utf8)), "\(path) holds the id")
        }
    }

    @Test func aFullFileSystemIsStorageNoSpaceAndEveryStoredObjectSurvives() throws {
        let dir = temporaryDirectory("vtee-full")
        // A 512 KiB tmpfs when we may mount one; otherwise the store's own quota seam.
        let mounted = Self.mountTmpfs(dir, size: "512k")
        defer { if mounted { _ = Self.run("/bin/umount", [dir]) }; try? FileManager.default.removeItem(atPath: dir) }
        let stack = try Stack(storage: dir)
        defer { stack.shutdown() }
        if !mounted { stack.supplicant.store.quota.store(512 * 1024, ordering: .relaxed) }
        let s = try stack.context.openSession(SecureStorageTA.uuid)
        var stored: [String: [UInt8]] = [:]
        var failure: TEEResult? = nil
        for i in 0..<200 {
            let data = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &+ i &* 7) }
            do { try write(s, "fill-\(i)", data); stored["fill-\(i)"] = data } catch let e as TEEError {
                failure = e.result
                break
            }
        }
        #expect(failure == .storageNoSpace, "filling the disk ended with \(String(describing: failure)) (tmpfs: \(mounted))")
        #expect(stored.count >= 3)
        // Overwriting an existing object on the full disk fails too, and leaves it as it was.
        if let (id, old) = stored.first {
            do { try write(s, id, [UInt8](repeating: 0xEE, count: 25_000)); Issue.record("overwrite on a full disk succeeded") } catch {}
            #expect(try read(s, id) == old)
        }
        for (id, data) in stored { #expect(try read(s, id) == data, "\(id) after the disk filled") }
        // Freeing space makes writes work again.
        var del = TEEOperation([.tempInput(Array("fill-0".utf8))])
        try s.invoke(SecureStorageTA.Command.delete.rawValue, &del)
        if !mounted { stack.supplicant.store.quota.store(-1, ordering: .relaxed) }
        try write(s, "after", [1, 2, 3])
        #expect(try read(s, "after") == [1, 2, 3])
    }

    @Test func plainObjectsOfTheEarlierFormatAreMigratedOnFirstOpen() throws {
        let dir = temporaryDirectory("vtee-migrate")
        let taDir = dir + "/\(SecureStorageTA.uuid)"
        try FileManager.default.createDirectory(atPath: taDir, withIntermediateDirectories: true)
        let plain = Array("stored by vtee before encryption".utf8)
        // Id "legacy" in the plain format: one file named by the hex of the id.
        FileManager.default.createFile(atPath: taDir + "/6c6567616379", contents: Data(plain))
        let stack = try Stack(storage: dir)
        defer { stack.shutdown() }
        let s = try stack.context.openSession(SecureStorageTA.uuid)
        #expect(try read(s, "legacy") == plain)
        #expect(!FileManager.default.fileExists(atPath: taDir + "/6c6567616379"))
        for (path, bytes) in filesUnder(dir) { #expect(!bytesContain(bytes, plain), "\(path)") }
    }

    static func run(_ exe: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    static func mountTmpfs(_ dir: String, size: String) -> Bool {
        guard geteuid() == 0 else { return false }
        for exe in ["/bin/mount", "/usr/bin/mount"] where FileManager.default.isExecutableFile(atPath: exe) {
            return run(exe, ["-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", dir]) == 0
        }
        return false
    }
}
