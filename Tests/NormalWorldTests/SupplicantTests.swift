// The supplicant on its own: every FS operation, path confinement, crash-atomic writes, LOAD_TA.
import Foundation
import Machine
import NormalWorld
@testable import Supplicant
import TEEABI
import Testing

private func c(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

@Suite struct SupplicantFileStoreTests {
    @Test func createWriteReadTruncateCloseRoundTrip() throws {
        let store = try FileStore(directory: temporaryDirectory())
        let fd = try store.create(path: c("/7e57c0de-0000-4000-8000-000000000001/00ab"))
        try store.write(handle: fd, offset: 0, data: Array("hello world".utf8))
        try store.write(handle: fd, offset: 6, data: Array("WORLD".utf8))
        #expect(try store.read(handle: fd, offset: 0, count: 64) == Array("hello WORLD".utf8))
        #expect(try store.read(handle: fd, offset: 6, count: 3) == Array("WOR".utf8))
        try store.write(handle: fd, offset: 13, data: [1])            // gap is zero-filled
        #expect(try store.read(handle: fd, offset: 11, count: 8) == [0, 0, 1])
        try store.truncate(handle: fd, length: 5)
        #expect(try store.read(handle: fd, offset: 0, count: 64) == Array("hello".utf8))
        try store.close(handle: fd)
        #expect(throws: TEEResult.badParameters) { try store.close(handle: fd) }
        let again = try store.open(path: c("/7e57c0de-0000-4000-8000-000000000001/00ab"))
        #expect(try store.read(handle: again, offset: 0, count: 64) == Array("hello".utf8))
        try store.close(handle: again)
        #expect(store.openHandles == 0)
    }

    @Test func openOfMissingFileIsItemNotFound() throws {
        let store = try FileStore(directory: temporaryDirectory())
        #expect(throws: TEEResult.itemNotFound) { try store.open(path: c("/nope/0")) }
        #expect(throws: TEEResult.itemNotFound) { try store.remove(path: c("/nope/0")) }
        #expect(throws: TEEResult.itemNotFound) { try store.openDirectory(path: c("/nope")) }
    }

    @Test func removeRenameAndDirectoryListing() throws {
        let store = try FileStore(directory: temporaryDirectory())
        for n in ["a", "b", "c"] { try store.close(handle: try store.create(path: c("/ta/\(n)"))) }
        try store.rename(from: c("/ta/a"), to: c("/ta/d"), overwrite: false)
        #expect(throws: TEEResult.accessConflict) { try store.rename(from: c("/ta/b"), to: c("/ta/c"), overwrite: false) }
        try store.rename(from: c("/ta/b"), to: c("/ta/c"), overwrite: true)
        try store.remove(path: c("/ta/d"))
        let dir = try store.openDirectory(path: c("/ta"))
        #expect(throws: TEEResult.shortBuffer) { try store.readDirectory(handle: dir, capacity: 1) }
        #expect(store.nextNameSize(handle: dir) == 2)
        #expect(try store.readDirectory(handle: dir, capacity: 16) == c("c"))
        #expect(throws: TEEResult.itemNotFound) { try store.readDirectory(handle: dir, capacity: 16) }
        try store.closeDirectory(handle: dir)
        try store.remove(path: c("/ta/c"))
        #expect(!FileManager.default.fileExists(atPath: store.root + "/ta"))   // empty dir removed
    }

    @Test func pathEscapesAreRefused() throws {
        let outside = temporaryDirectory("vtee-outside")
        let store = try FileStore(directory: temporaryDirectory())
        for bad in ["/../x", "../x", "/ta/../../x", "/ta/./x", "", "/", "//", "/ta//x", "/\(FileStore.tempPrefix)x", "/a\\b"] {
            #expect(throws: TEEResult.badParameters, "\(bad)") { try store.create(path: c(bad)) }
        }
        // An absolute path stays under the root.
        try store.close(handle: try store.create(path: c(outside + "/victim")))
        #expect(!FileManager.default.fileExists(atPath: outside + "/victim"))
        #expect(FileManager.default.fileExists(atPath: store.root + outside + "/victim"))
        // A symlink planted inside the store is never followed, as a directory or as a file.
        try FileManager.default.createSymbolicLink(atPath: store.root + "/link", withDestinationPath: outside)
        try Data("secret".utf8).write(to: URL(fileURLWithPath: outside + "/secret"))
        #expect(throws: TEEResult.accessDenied) { try store.create(path: c("/link/x")) }
        #expect(throws: TEEResult.accessDenied) { try store.open(path: c("/link/secret")) }
        #expect(throws: TEEResult.accessDenied) { try store.openDirectory(path: c("/link")) }
        try FileManager.default.createSymbolicLink(atPath: store.root + "/file", withDestinationPath: outside + "/secret")
        #expect(throws: TEEResult.accessDenied) { try store.open(path: c("/file")) }
        #expect(throws: TEEResult.accessDenied) { try store.remove(path: c("/file")) }
        #expect(throws: TEEResult.accessDenied) { try store.rename(from: c("/file"), to: c("/x"), overwrite: true) }
        #expect(!FileManager.default.fileExists(atPath: outside + "/x"))
        #expect(try String(contentsOfFile: outside + "/secret", encoding: .utf8) == "secret")
        #expect(store.refusals >= 16)
    }

    @Test func aCrashBeforeRenameLeavesTheOldContentsAndNoVisibleTemporary() throws {
        let dir = temporaryDirectory()
        let store = try FileStore(directory: dir)
        let fd = try store.create(path: c("/ta/obj"))
        try store.write(handle: fd, offset: 0, data: Array("old contents".utf8))
        store.crashBeforeRename.store(true, ordering: .relaxed)
        #expect(throws: TEEResult.self) { try store.write(handle: fd, offset: 0, data: Array("NEW CONTENTS!".utf8)) }
        // What a restarted supplicant sees: the old file whole, the temporary hidden then removed.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: store.root + "/ta")
        #expect(leftovers.contains { $0.hasPrefix(FileStore.tempPrefix) })
        let restarted = try FileStore(directory: dir)
        #expect(try FileManager.default.contentsOfDirectory(atPath: restarted.root + "/ta") == ["obj"])
        let again = try restarted.open(path: c("/ta/obj"))
        #expect(try restarted.read(handle: again, offset: 0, count: 64) == Array("old contents".utf8))
        let d = try restarted.openDirectory(path: c("/ta"))
        #expect(try restarted.readDirectory(handle: d, capacity: 64) == c("obj"))
    }
}

@Suite struct SupplicantDispatchTests {
    /// A driver over a fake secure world, so the supplicant has shared memory to hand out.
    static func supplicant(taDirectory: String? = nil) throws -> Supplicant {
        let (driver, _) = try FakeSecureWorld.driver()
        return try Supplicant(driver: driver, configuration: SupplicantConfiguration(storageDirectory: temporaryDirectory(), taDirectory: taDirectory))
    }

    @Test func fsRequestsFollowTheOPTEELayouts() throws {
        let s = try Self.supplicant()
        func fs(_ params: [SupplicantParam]) -> SupplicantResponse { s.serve(SupplicantRequest(id: 1, command: .fs, params: params)) }
        let path = c("/7e57c0de-0000-4000-8000-000000000001/01")
        let created = fs([.value(.valueInput, a: RPCFSOperation.create.rawValue, b: 0, c: 0), .memref(.tmemInput, data: path, size: path.count), .value(.valueOutput, a: 0, b: 0, c: 0)])
        #expect(created.result == .success)
        let fd = created.params[2].values.a
        #expect(fs([.value(.valueInput, a: RPCFSOperation.write.rawValue, b: fd, c: 0), .memref(.tmemInput, data: [1, 2, 3, 4], size: 4)]).result == .success)
        let read = fs([.value(.valueInput, a: RPCFSOperation.read.rawValue, b: fd, c: 1), .memref(.tmemOutput, data: [0, 0, 0, 0, 0, 0], size: 6)])
        #expect(read.result == .success)
        #expect(read.params[1] == .memref(.tmemOutput, data: [2, 3, 4, 0, 0, 0], size: 3))
        #expect(fs([.value(.valueInput, a: RPCFSOperation.truncate.rawValue, b: fd, c: 1)]).result == .success)
        #expect(fs([.value(.valueInput, a: RPCFSOperation.close.rawValue, b: fd, c: 0)]).result == .success)
        let dirPath = c("/7e57c0de-0000-4000-8000-000000000001")
        let od = fs([.value(.valueInput, a: RPCFSOperation.opendir.rawValue, b: 0, c: 0), .memref(.tmemInput, data: dirPath, size: dirPath.count), .value(.valueOutput, a: 0, b: 0, c: 0)])
        let rd = fs([.value(.valueInput, a: RPCFSOperation.readdir.rawValue, b: od.params[2].values.a, c: 0), .memref(.tmemOutput, data: [UInt8](repeating: 0, count: 8), size: 8)])
        #expect(rd.params[1] == .memref(.tmemOutput, data: c("01") + [0, 0, 0, 0, 0], size: 3))
        let end = fs([.value(.valueInput, a: RPCFSOperation.readdir.rawValue, b: od.params[2].values.a, c: 0), .memref(.tmemOutput, data: [UInt8](repeating: 0, count: 8), size: 8)])
        #expect(end.result == .itemNotFound)
        #expect(fs([.value(.valueInput, a: RPCFSOperation.closedir.rawValue, b: od.params[2].values.a, c: 0)]).result == .success)
        let newPath = c("/7e57c0de-0000-4000-8000-000000000001/02")
        #expect(fs([.value(.valueInput, a: RPCFSOperation.rename.rawValue, b: 0, c: 0), .memref(.tmemInput, data: path, size: path.count), .memref(.tmemInput, data: newPath, size: newPath.count)]).result == .success)
        #expect(fs([.value(.valueInput, a: RPCFSOperation.remove.rawValue, b: 0, c: 0), .memref(.tmemInput, data: newPath, size: newPath.count)]).result == .success)
        #expect(fs([.value(.valueInput, a: 99, b: 0, c: 0)]).result == .badParameters)
        #expect(s.serve(SupplicantRequest(id: 2, command: RPCCommand(rawValue: 77), params: [])).result == .notSupported)
    }

    @Test func loadTAAnswersSizeQueryThenCopiesAndMissingIsItemNotFound() throws {
        let taDir = temporaryDirectory("vtee-tas")
        let uuid = try TEEUUID("12345678-9abc-def0-1122-334455667788")
        let image: [UInt8] = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        try Data(image).write(to: URL(fileURLWithPath: taDir + "/\(uuid).ta"))
        let s = try Self.supplicant(taDirectory: taDir)
        var probe = MsgParam.value(.valueInput); probe.setOctets(uuid.octets)
        let v = SupplicantParam.value(.valueInput, a: probe.a, b: probe.b, c: 0)
        let q = s.serve(SupplicantRequest(id: 1, command: .loadTA, params: [v, .memref(.tmemOutput, data: nil, size: 0)]))
        #expect(q.result == .success)
        #expect(q.params[1] == .memref(.tmemOutput, data: nil, size: 300))
        let short = s.serve(SupplicantRequest(id: 2, command: .loadTA, params: [v, .memref(.tmemOutput, data: [0, 0], size: 2)]))
        #expect(short.result == .shortBuffer)
        let full = s.serve(SupplicantRequest(id: 3, command: .loadTA, params: [v, .memref(.tmemOutput, data: [UInt8](repeating: 0, count: 300), size: 300)]))
        #expect(full.result == .success)
        #expect(full.params[1].data == image)
        var other = MsgParam.value(.valueInput); other.setOctets(TEEUUID.zero.octets)
        let missing = s.serve(SupplicantRequest(id: 4, command: .loadTA, params: [.value(.valueInput, a: other.a, b: other.b, c: 0), .memref(.tmemOutput, data: nil, size: 0)]))
        #expect(missing.result == .itemNotFound)
    }

    @Test func applicationSharedMemoryIsAllocatedAndFreedThroughTheDriver() throws {
        let s = try Self.supplicant()
        let before = s.driver.sharedMemoryCount
        let r = s.serve(SupplicantRequest(id: 1, command: .shmAlloc, params: [.value(.valueInout, a: 0, b: 10000, c: 0)]))
        #expect(r.result == .success)
        let id = r.params[0].values.c
        #expect(s.driver.sharedMemory(id: id)?.size == 10000)
        #expect(s.driver.sharedMemory(id: id)?.kind == .supplicant)
        #expect(s.serve(SupplicantRequest(id: 2, command: .shmFree, params: [.value(.valueInput, a: 0, b: id, c: 0)])).result == .success)
        #expect(s.driver.sharedMemoryCount == before)
        #expect(s.serve(SupplicantRequest(id: 3, command: .shmFree, params: [.value(.valueInput, a: 0, b: id, c: 0)])).result == .badParameters)
    }
}
