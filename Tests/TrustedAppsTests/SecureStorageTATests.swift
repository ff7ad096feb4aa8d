/// secure_storage against optee_examples.tsv: the host program's exact flow and each error.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

@Suite struct SecureStorageTATests {
    let object1 = Array("object#1".utf8)
    let object2 = Array("object#2".utf8)

    func read(_ h: TAHarness, _ id: [UInt8], capacity: Int) async throws -> (TEEResult, TAParams) {
        try await h.invoke(0, params(SecureStorageTA.readParamTypes, [mem(id), out(capacity)]))
    }
    func write(_ h: TAHarness, _ id: [UInt8], _ data: [UInt8]) async throws -> TEEResult {
        try await h.invoke(1, params(SecureStorageTA.writeParamTypes, [mem(id), mem(data)])).0
    }
    func delete(_ h: TAHarness, _ id: [UInt8]) async throws -> TEEResult {
        try await h.invoke(2, params(SecureStorageTA.deleteParamTypes, [mem(id)])).0
    }

    @Test func hostFlowWritesReadsBackAndDeletesObject1() async throws {
        let storage = InMemoryStorage()
        let h = try await TAHarness(BuiltinTAs.secureStorage, context: MockContext(storage: storage))
        let data = [UInt8](repeating: 0xA1, count: 7000)
        #expect(try await write(h, object1, data) == .success)
        #expect(storage.objects.withLock { $0[object1] } == data)
        let (r, p) = try await read(h, object1, capacity: 7000)
        #expect(r == .success)
        #expect(p.memref(1)?.size == 7000)
        #expect(p.outBytes(1) == data)
        #expect(try await delete(h, object1) == .success)
        #expect(storage.objects.withLock { $0.isEmpty })
    }

    @Test func object2AlternatesBetweenRunsAsTheHostExpects() async throws {
        let storage = InMemoryStorage()
        let text = Array("This is data stored in the secure storage.\n".utf8) + [0]
        #expect(text.count == 44)
        // Run 1: absent -> ITEM_NOT_FOUND exactly, then created.
        var h = try await TAHarness(BuiltinTAs.secureStorage, context: MockContext(storage: storage))
        var (r, _) = try await read(h, object2, capacity: 7000)
        #expect(r == .itemNotFound)
        #expect(try await write(h, object2, text) == .success)
        await h.close()
        // Run 2: found (size 44 reported), then deleted.
        h = try await TAHarness(BuiltinTAs.secureStorage, context: MockContext(storage: storage))
        let p: TAParams
        (r, p) = try await read(h, object2, capacity: 7000)
        #expect(r == .success)
        #expect(p.memref(1)?.size == 44 && p.outBytes(1) == text)
        #expect(try await delete(h, object2) == .success)
        (r, _) = try await read(h, object2, capacity: 7000)
        #expect(r == .itemNotFound)
    }

    @Test func tooSmallOutputAnswersShortBufferWithTheNeededSize() async throws {
        let h = try await TAHarness(BuiltinTAs.secureStorage)
        #expect(try await write(h, object1, [UInt8](repeating: 7, count: 100)) == .success)
        let (r, p) = try await read(h, object1, capacity: 99)
        #expect(r == .shortBuffer)
        #expect(p.memref(1)?.size == 100)
    }

    @Test func writeReplacesAnExistingObject() async throws {
        let h = try await TAHarness(BuiltinTAs.secureStorage)
        #expect(try await write(h, object1, [1, 2, 3]) == .success)
        #expect(try await write(h, object1, [9]) == .success)
        let (r, p) = try await read(h, object1, capacity: 10)
        #expect(r == .success && p.outBytes(1) == [9])
    }

    @Test func deletingAnAbsentObjectAnswersItemNotFound() async throws {
        let h = try await TAHarness(BuiltinTAs.secureStorage)
        #expect(try await delete(h, object1) == .itemNotFound)
    }

    @Test func storageErrorsAreReturnedUnchanged() async throws {
        let storage = InMemoryStorage()
        storage.failWith.withLock { $0 = .storageNoSpace }
        let h = try await TAHarness(BuiltinTAs.secureStorage, context: MockContext(storage: storage))
        #expect(try await write(h, object1, [1]) == .storageNoSpace)
        storage.failWith.withLock { $0 = .corruptObject }
        #expect(try await read(h, object1, capacity: 4).0 == .corruptObject)
        #expect(try await delete(h, object1) == .corruptObject)
    }

    @Test func buffersBeyondTheHeapAnswerOutOfMemory() async throws {
        let h = try await TAHarness(BuiltinTAs.secureStorage)
        #expect(try await write(h, object1, [UInt8](repeating: 0, count: 40_000)) == .outOfMemory)
        #expect(try await read(h, object1, capacity: 40_000).0 == .outOfMemory)
    }

    @Test func paramTypeMismatchAnswersBadParametersAndUnknownCommandNotSupported() async throws {
        let h = try await TAHarness(BuiltinTAs.secureStorage)
        #expect(try await h.invoke(0, params(SecureStorageTA.writeParamTypes, [mem(object1), mem([1])])).0 == .badParameters)
        #expect(try await h.invoke(1, params(SecureStorageTA.readParamTypes, [mem(object1), out(4)])).0 == .badParameters)
        #expect(try await h.invoke(2, params(GPParamTypes(.memrefInout), [mem(object1)])).0 == .badParameters)
        #expect(try await h.invoke(3, params(SecureStorageTA.deleteParamTypes, [mem(object1)])).0 == .notSupported)
    }

    @Test func openSessionAcceptsAnyParams() async throws {
        let h = try await TAHarness(BuiltinTAs.secureStorage, openParams: params(GPParamTypes(.valueInput), [val(1)]))
        #expect(h.openResult == .success)
    }

    @Test func overlongObjectIdPanicsAsOPTEEStorageDoes() async throws {
        let h = try await TAHarness(BuiltinTAs.secureStorage)
        await #expect(throws: TAPanic.self) {
            _ = try await h.invoke(1, params(SecureStorageTA.writeParamTypes, [mem([UInt8](repeating: 1, count: 65)), mem([1])]))
        }
    }
}
