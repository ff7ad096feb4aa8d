// End to end in one process: TEEClient -> NormalWorld driver -> (plain conduit) -> SecureWorld
// with the built-in TAs, and the supplicant on a real storage directory.
import Foundation
import Machine
@testable import NormalWorld
import SecureWorld
import Supplicant
import Synchronization
import TEEABI
import SignedTA
import TEEClient
import Testing
import TrustedApps

@Suite(.serialized) struct EndToEndTests {
    @Test func everyBuiltinTAAnswersThroughTEEClient() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let ctx = stack.context

        // hello_world: increment and decrement a VALUE_INOUT.
        let hello = try ctx.openSession(HelloWorldTA.uuid)
        var op = TEEOperation([.valueInout(a: 41, b: 0)])
        try hello.invoke(HelloWorldTA.Command.increment.rawValue, &op)
        #expect(op[0].value.a == 42)
        try hello.invoke(HelloWorldTA.Command.decrement.rawValue, &op)
        #expect(op[0].value.a == 41)
        hello.close()

        // random: a temporary output buffer is filled.
        let random = try ctx.openSession(RandomTA.uuid)
        var rop = TEEOperation([.tempOutput([UInt8](repeating: 0, count: 64))])
        try random.invoke(RandomTA.Command.generate.rawValue, &rop)
        #expect(rop[0].size == 64)
        #expect(rop[0].buffer.contains { $0 != 0 })

        // secure_storage: write, read back, delete (FS RPCs through the supplicant).
        let storage = try ctx.openSession(SecureStorageTA.uuid)
        let id = Array("object#1".utf8), data = Array("persistent bytes".utf8)
        var w = TEEOperation([.tempInput(id), .tempInput(data)])
        try storage.invoke(SecureStorageTA.Command.writeRaw.rawValue, &w)
        var r = TEEOperation([.tempInput(id), .tempOutput([UInt8](repeating: 0, count: 64))])
        try storage.invoke(SecureStorageTA.Command.readRaw.rawValue, &r)
        #expect(Array(r[1].buffer.prefix(r[1].size)) == data)
        var del = TEEOperation([.tempInput(id)])
        try storage.invoke(SecureStorageTA.Command.delete.rawValue, &del)
        #expect(throws: TEEError.self) { try storage.invoke(SecureStorageTA.Command.readRaw.rawValue, &r) }

        // hotp: RFC 4226 test key, first value 755224.
        let hotp = try ctx.openSession(HOTPTA.uuid)
        var reg = TEEOperation([.tempInput(Array("12345678901234567890".utf8))])
        try hotp.invoke(HOTPTA.Command.registerSharedKey.rawValue, &reg)
        var get = TEEOperation([.valueOutput()])
        try hotp.invoke(HOTPTA.Command.getHOTP.rawValue, &get)
        #expect(get[0].value.a == 755224)

        // aes: CBC encrypt then decrypt through allocated and registered shared memory.
        let key = [UInt8](repeating: 7, count: 16), iv = [UInt8](repeating: 9, count: 16)
        let plain = (0..<64).map { UInt8($0) }
        func crypt(_ mode: AESTA.Mode, _ input: [UInt8]) throws -> [UInt8] {
            let aes = try ctx.openSession(AESTA.uuid)
            defer { aes.close() }
            var prep = TEEOperation([.valueInput(a: AESAlgorithm.cbc.rawValue, b: 0), .valueInput(a: 16, b: 0), .valueInput(a: mode.rawValue, b: 0)])
            try aes.invoke(AESTA.Command.prepare.rawValue, &prep)
            var k = TEEOperation([.tempInput(key)]); try aes.invoke(AESTA.Command.setKey.rawValue, &k)
            var v = TEEOperation([.tempInput(iv)]); try aes.invoke(AESTA.Command.setIV.rawValue, &v)
            let inShm = try ctx.registerSharedMemory(input, flags: .input)
            let outShm = try ctx.allocateSharedMemory(size: 128, flags: .output)
            defer { inShm.release(); outShm.release() }
            var c = TEEOperation([.whole(inShm), .partialOutput(outShm, offset: 16, size: 64)])
            try aes.invoke(AESTA.Command.cipher.rawValue, &c)
            #expect(c[1].size == 64)
            return try outShm.read(offset: 16, count: c[1].size)
        }
        let sealed = try crypt(.encode, plain)
        #expect(sealed != plain)
        #expect(try crypt(.decode, sealed) == plain)

        // vtee.test: VALUE_INOUT x4 and a registered-memory echo (RMEM, whole and partial).
        let test = try ctx.openSession(TestTA.uuid)
        var nop = TEEOperation([.valueInout(a: 1, b: 2), .valueInout(a: 3, b: 4), .valueInout(a: 5, b: 6), .valueInout(a: 7, b: 8)])
        try test.invoke(TestTA.Command.nopValues.rawValue, &nop)
        #expect((0..<4).map { nop[$0].value.a } == [2, 4, 6, 8])
        let shm = try ctx.allocateSharedMemory(size: 8)
        try shm.write([1, 2, 3, 4, 5, 6, 7, 8])
        var echo = TEEOperation([.partialInout(shm, offset: 2, size: 4)])
        try test.invoke(TestTA.Command.echoMemref.rawValue, &echo)
        #expect(try shm.read() == [1, 2, 6, 5, 4, 3, 7, 8])
        var tmp = TEEOperation([.tempInout([1, 2, 3], size: 3)])
        try test.invoke(TestTA.Command.echoMemref.rawValue, &tmp)
        #expect(tmp[0].buffer == [3, 2, 1])
        var null = TEEOperation([.tempInout([], size: 0)])              // NULL buffer (MEMREF_NULL)
        try test.invoke(TestTA.Command.echoMemref.rawValue, &null)
        #expect(null[0].size == 0)
        // A TA error carries origin TRUSTED_APP; outputs are still written back.
        var bad = TEEOperation([.valueInput(a: 1, b: 1)])
        #expect(throws: TEEError(.badParameters, origin: .trustedApp)) { try test.invoke(TestTA.Command.nopValues.rawValue, &bad) }
        // Unknown TA: ITEM_NOT_FOUND from the TEE (no supplicant TA file either).
        #expect(throws: TEEError.self) { try ctx.openSession(try TEEUUID("00000000-0000-0000-0000-00000000beef")) }
        shm.release()
        #expect(stack.driver.sharedMemoryCount == 0)
    }

    @Test(arguments: [true, false])
    func eachRPCKindIsServed(useRPCArg: Bool) throws {
        let stack = try Stack(vcpus: 3, interruptTick: .milliseconds(2), useRPCArg: useRPCArg)
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        var t = TEEOperation([.valueOutput()])
        try s.invoke(TestTA.Command.getTime.rawValue, &t)                                   // GET_TIME
        #expect(UInt64(t[0].value.a) > 1_600_000_000 & 0xFFFF_FFFF || t[0].value.a > 0)
        for type: UInt32 in [0, 1] {                                                          // SHM_ALLOC/FREE appl + kernel
            var o = TEEOperation([.valueInput(a: 10000, b: type)])
            try s.invoke(TestTA.Command.shmRoundTrip.rawValue, &o)
        }
        var sus = TEEOperation([.valueInput(a: 1, b: 0)])
        try s.invoke(TestTA.Command.suspend.rawValue, &sus)                                  // SUSPEND
        var st = TEEOperation([.valueInput(a: 5000, b: 0)])
        try s.invoke(TestTA.Command.storageRoundTrip.rawValue, &st)                          // FS
        var lr = TEEOperation([.valueInout(a: 20, b: 0)])
        try s.invoke(TestTA.Command.longRun.rawValue, &lr)                                   // FOREIGN_INTR
        // NOTIFICATION: a waiter blocks until another call sends the same key.
        let waiter = try stack.context.openSession(TestTA.uuid)
        let waitResult = Mutex<TEEError?>(nil)
        let waited = runOnThreads(2) { i in
            if i == 0 {
                var w = TEEOperation([.valueInput(a: 17, b: 0)])
                do throws(TEEError) { try waiter.invoke(TestTA.Command.notifyWait.rawValue, &w) } catch { waitResult.withLock { $0 = error } }
            } else {
                waitUntil { stack.driver.notificationWaiters > 0 }
                var n = TEEOperation([.valueInput(a: 17, b: 0)])
                try? s.invoke(TestTA.Command.notifySend.rawValue, &n)
            }
        }
        #expect(waited)
        #expect(waitResult.withLock { $0 } == nil)
        // LOAD_TA: an unknown UUID makes the secure world ask the supplicant, which finds nothing.
        #expect(throws: TEEError.self) { try stack.context.openSession(try TEEUUID("11111111-2222-3333-4444-555555555555")) }

        let stats = stack.driver.statistics
        for cmd in [RPCCommand.getTime, .shmAlloc, .shmFree, .suspend, .fs, .notification, .loadTA] {
            #expect((stats.rpcCommands[cmd.rawValue] ?? 0) > 0, "\(cmd)")
        }
        #expect((stats.rpcFunctions[RPCFunction.foreignInterrupt.rawValue] ?? 0) > 0)
        if !useRPCArg {
            #expect((stats.rpcFunctions[RPCFunction.alloc.rawValue] ?? 0) > 0)
        }
        #expect(stats.badRPC == 0)
    }

    @Test func sixtyFourConcurrentSessionsOnEightSecureThreadsAllFinishWithoutStarvation() throws {
        let stack = try Stack(threads: 8, vcpus: 4)
        defer { stack.shutdown() }
        #expect(stack.driver.threadCount == 8)
        let failures = Atomic<Int>(0)
        let waits = Mutex<[Int: QueueRecord]>([:])                     // each caller's wait for a thread
        let done = runOnThreads(64) { caller in
            do throws(TEEError) {
                let s = try stack.context.openSession(TestTA.uuid)
                // Invoke at the driver level to read this call's queue record (TEEC hides it).
                guard let r = try? stack.driver.invoke(session: s.id, function: TestTA.Command.suspend.rawValue,
                                                       params: [.value(.input, a: 3)]), r.ret == .success else {
                    failures.wrappingAdd(1, ordering: .relaxed); return
                }
                waits.withLock { $0[caller] = r.queue }                 // SUSPEND holds a secure thread across an RPC
                s.close()
            } catch { failures.wrappingAdd(1, ordering: .relaxed) }
        }
        #expect(done)
        let failed = failures.load(ordering: .relaxed)
        #expect(failed == 0)
        let recs = waits.withLock { Array($0.values) }.sorted { $0.arrival < $1.arrival }
        #expect(recs.count == 64)
        #expect(recs.map(\.grant) == recs.map(\.grant).sorted())     // nobody was overtaken while waiting
        #expect(stack.driver.statistics.threadLimitHits == 0)
        #expect(stack.driver.callQueue.active == 0)
        #expect(stack.context.openSessions == 0)
    }

    @Test func callsAreAdmittedInArrivalOrderWhenSecureThreadsRunOut() throws {
        let stack = try Stack(threads: 8, vcpus: 4)
        defer { stack.shutdown() }
        let session = try stack.context.openSession(TestTA.uuid)
        let records = Mutex<[QueueRecord]>([])
        let done = runOnThreads(64) { _ in
            if let r = try? stack.driver.invoke(session: session.id, function: TestTA.Command.suspend.rawValue,
                                                params: [.value(.input, a: 3)]), r.ret == .success {
                records.withLock { $0.append(r.queue) }
            }
        }
        #expect(done)
        let recs = records.withLock { $0 }.sorted { $0.arrival < $1.arrival }
        #expect(recs.count == 64)
        #expect(recs.map(\.grant) == recs.map(\.grant).sorted())           // nobody overtaken
        #expect(stack.driver.callQueue.maxQueued > 0)                        // and some did wait
        #expect(recs.allSatisfy { $0.threadLimitRetries == 0 })
    }

    @Test func cancellationStopsALongRunningCommand() throws {
        let stack = try Stack(interruptTick: .milliseconds(1))
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        let op = TEEOperation([.valueInout(a: 20_000, b: 0)], cancellable: true)
        let outcome = Mutex<TEEError?>(nil)
        let finished = Atomic<Bool>(false)
        let ran = runOnThreads(2) { i in
            if i == 0 {
                var mine = op
                do throws(TEEError) { try s.invoke(TestTA.Command.longRun.rawValue, &mine) } catch { outcome.withLock { $0 = error } }
                finished.store(true, ordering: .releasing)
            } else {
                waitUntil(30) {
                    stack.context.requestCancellation(op)
                    sched_yield()
                    return finished.load(ordering: .acquiring)
                }
            }
        }
        #expect(ran)
        #expect(outcome.withLock { $0?.result } == .cancel)
        // A token cancelled before its operation starts makes it fail at once.
        let pre = TEEOperation([.valueInout(a: 1, b: 0)], cancellable: true)
        stack.context.requestCancellation(pre)
        var p2 = pre
        #expect(throws: TEEError(.cancel, origin: .api)) { try s.invoke(TestTA.Command.longRun.rawValue, &p2) }
    }

    @Test func killingTheSupplicantMidOperationFailsTheCallWithoutHanging() throws {
        let stall = Atomic<Bool>(true)
        let reached = Atomic<Bool>(false)
        let stack = try Stack(willServe: { req in
            guard req.command == .fs, stall.load(ordering: .acquiring) else { return }
            reached.store(true, ordering: .releasing)
            waitUntil { !stall.load(ordering: .acquiring) }
        })
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        let outcome = Mutex<TEEError?>(nil)
        let ran = runOnThreads(2) { i in
            if i == 0 {
                var op = TEEOperation([.valueInput(a: 100, b: 0)])
                do throws(TEEError) { try s.invoke(TestTA.Command.storageRoundTrip.rawValue, &op) } catch { outcome.withLock { $0 = error } }
            } else {
                waitUntil { reached.load(ordering: .acquiring) }
                stack.supplicant.kill()                 // dies while serving an FS request
                stall.store(false, ordering: .releasing)
            }
        }
        #expect(ran)
        #expect(outcome.withLock { $0?.result } == .communication)
        #expect(!stack.driver.supplicant.isAttached)
        // With no supplicant at all, storage fails after a bounded wait.
        var op = TEEOperation([.valueInput(a: 100, b: 0)])
        #expect(throws: TEEError(.communication, origin: .trustedApp)) { try s.invoke(TestTA.Command.storageRoundTrip.rawValue, &op) }
        // A new supplicant brings storage back.
        let again = try Supplicant(driver: stack.driver, configuration: SupplicantConfiguration(storageDirectory: stack.storage, pollInterval: 0.02))
        #expect(again.start())
        defer { again.stop() }
        try s.invoke(TestTA.Command.storageRoundTrip.rawValue, &op)
    }

    /// The load flake of round 3, driven step by step: call A's commit rename stalls in the
    /// supplicant (a slow fsync) past the driver's bound. The old driver answered A COMMUNICATION
    /// at the bound, A's store lock went free, the next write B staged its directory file, and
    /// then A's abandoned rename ran: it moved B's staged dirf.tmp over dirf.db, so B's own
    /// rename found nothing (B: ITEM_NOT_FOUND, its object never committed by B). Now A is waited
    /// for: both writes succeed and both objects are there. Time is a ManualClock.
    @Test func aRenameStalledPastTheDriverBoundNeverLandsInsideTheNextWriteOfTheStore() throws {
        let clock = ManualClock()
        enum Stall: Int { case none = 0, stalled, released }
        let stall = Atomic<Int>(Stall.none.rawValue)
        let renames = Atomic<Int>(0)
        let dirfTemp = Mutex<String>("")
        let stack = try Stack(driverConfig: { $0.host = HostServices(clock: clock, identity: .current); $0.supplicantWait = 5 },
                              willServe: { req in
            guard req.command == .fs, req.params.first?.values.a == RPCFSOperation.rename.rawValue else { return }
            if renames.wrappingAdd(1, ordering: .relaxed).newValue == 1 {
                // A's commit: stalls until the test lets it go.
                stall.store(Stall.stalled.rawValue, ordering: .releasing)
                waitUntil(30) { stall.load(ordering: .acquiring) == Stall.released.rawValue }
            } else if stall.compareExchange(expected: Stall.stalled.rawValue, desired: Stall.released.rawValue,
                                            ordering: .acquiringAndReleasing).exchanged {
                // B's commit while A's rename is still pending (only possible if A was abandoned):
                // let A's rename run first, as it did under load, and wait until it took B's file.
                let tmp = dirfTemp.withLock { $0 }
                waitUntil(30) { !FileManager.default.fileExists(atPath: tmp) }
            }
        })
        defer { stack.shutdown() }
        dirfTemp.withLock { $0 = stack.storage + "/\(SecureStorageTA.uuid)/dirf.tmp" }
        let s = try stack.context.openSession(SecureStorageTA.uuid)
        @Sendable func write(_ id: String) -> TEEResult {
            var op = TEEOperation([.tempInput(Array(id.utf8)), .tempInput([UInt8](repeating: 0x5A, count: 100))])
            do throws(TEEError) { try s.invoke(SecureStorageTA.Command.writeRaw.rawValue, &op); return .success } catch { return error.result }
        }
        let a = Mutex<TEEResult?>(nil)
        let aDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread { let r = write("object-A"); a.withLock { $0 = r }; aDone.signal() }
        #expect(waitUntil(30) { stall.load(ordering: .acquiring) == Stall.stalled.rawValue })
        // Time passes (past the driver's bound) while A's rename is still in the supplicant.
        #expect(waitUntil(30) {
            clock.advance(seconds: 6)
            return stack.driver.supplicant.overdue == 1 || a.withLock { $0 } != nil
        })
        if a.withLock({ $0 }) == nil {
            stall.store(Stall.released.rawValue, ordering: .releasing)   // the slow disk catches up
        }
        #expect(aDone.wait(timeout: .now() + 30) == .success)
        let b = write("object-B")
        #expect(a.withLock { $0 } == .success, "A's write was answered although its rename was still running")
        #expect(b == .success, "B's write lost its staged directory to A's late rename")
        for id in ["object-A", "object-B"] {
            var op = TEEOperation([.tempInput(Array(id.utf8)), .tempOutput([UInt8](repeating: 0, count: 100))])
            #expect(throws: Never.self, "\(id) is not in the store") { try s.invoke(SecureStorageTA.Command.readRaw.rawValue, &op) }
        }
    }

    @Test func aStalledSupplicantRequestDoesNotBlockOthers() throws {
        let stalled = Atomic<Int>(0)          // 0 none yet, 1 stalling, 2 released
        let stack = try Stack(supplicantThreads: 1, willServe: { req in
            guard req.command == .fs else { return }
            guard stalled.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged else { return }
            waitUntil { stalled.load(ordering: .acquiring) == 2 }
        })
        defer { stack.shutdown() }
        let a = try stack.context.openSession(TestTA.uuid), b = try stack.context.openSession(TestTA.uuid)
        let ok = Atomic<Int>(0)
        let ran = runOnThreads(2) { i in
            if i == 0 {
                var op = TEEOperation([.valueInput(a: 64, b: 0)])
                if (try? a.invoke(TestTA.Command.storageRoundTrip.rawValue, &op)) != nil { ok.wrappingAdd(1, ordering: .relaxed) }
            } else {
                waitUntil { stalled.load(ordering: .acquiring) == 1 }
                var op = TEEOperation([.valueInput(a: 64, b: 0)])
                if (try? b.invoke(TestTA.Command.storageRoundTrip.rawValue, &op)) != nil { ok.wrappingAdd(1, ordering: .relaxed) }
                stalled.store(2, ordering: .releasing)
            }
        }
        #expect(ran)
        let served = ok.load(ordering: .relaxed)
        #expect(served == 2)
        #expect(stack.supplicant.runningThreads >= 2)
    }

    @Test func storageSurvivesTearingTheWholeStackDownAndRebuildingIt() throws {
        let dir = temporaryDirectory("vtee-persist")
        let id = Array("survivor".utf8), data = (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 13) }
        // The device (its key and counters) outlives the stack, as a board's fuses and RPMB do.
        let device = try FileDeviceState(directory: dir + ".secure")
        defer { try? FileManager.default.removeItem(atPath: dir + ".secure") }
        do {
            let first = try Stack(storage: dir, device: device)
            let s = try first.context.openSession(SecureStorageTA.uuid)
            var w = TEEOperation([.tempInput(id), .tempInput(data)])
            try s.invoke(SecureStorageTA.Command.writeRaw.rawValue, &w)
            first.shutdown()
        }
        let second = try Stack(storage: dir, device: device)
        defer { second.shutdown() }
        let s = try second.context.openSession(SecureStorageTA.uuid)
        var r = TEEOperation([.tempInput(id), .tempOutput([UInt8](repeating: 0, count: 4096))])
        try s.invoke(SecureStorageTA.Command.readRaw.rawValue, &r)
        #expect(Array(r[1].buffer.prefix(r[1].size)) == data)
    }

    @Test func pathEscapesForwardedFromTheSecureSideAreRefused() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let outside = temporaryDirectory("vtee-escape")
        for bad in ["/../escaped", "/a/../../escaped", "/./x", "/" + FileStore.tempPrefix + "x"] {
            let p = Array(bad.utf8) + [0]
            let r = stack.driver.supplicant.call(.fs, [.value(.valueInput, a: RPCFSOperation.create.rawValue, b: 0, c: 0),
                                                       .memref(.tmemInput, data: p, size: p.count),
                                                       .value(.valueOutput, a: 0, b: 0, c: 0)], served: 5, absent: 1)
            #expect(r.result == .badParameters, "\(bad)")
        }
        try FileManager.default.createSymbolicLink(atPath: stack.supplicant.store.root + "/ln", withDestinationPath: outside)
        let p = Array("/ln/x".utf8) + [0]
        let r = stack.driver.supplicant.call(.fs, [.value(.valueInput, a: RPCFSOperation.create.rawValue, b: 0, c: 0),
                                                   .memref(.tmemInput, data: p, size: p.count),
                                                   .value(.valueOutput, a: 0, b: 0, c: 0)], served: 5, absent: 1)
        #expect(r.result == .accessDenied)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
    }

    @Test func aTAFileIsLoadedThroughTheSupplicantWithSizeQueryThenCopy() throws {
        let taDir = temporaryDirectory("vtee-tadir")
        let uuid = try TEEUUID("c0ffee00-1234-4abc-8def-0123456789ab")
        let elf = Array("VTEE-TA".utf8) + (0..<9000).map { UInt8(truncatingIfNeeded: $0) }   // spans three pages
        let image = try SignedTAImage.sign(elf: elf, uuid: uuid, key: .development)
        try Data(image).write(to: URL(fileURLWithPath: taDir + "/\(uuid).ta"))
        let loader: @Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor = { u, bytes throws(TEEResult) in
            guard bytes == elf else { throw .badFormat }
            return TADescriptor(uuid: u, name: "loaded hello_world", make: BuiltinTAs.helloWorld.make)
        }
        let stack = try Stack(taDirectory: taDir, loadTA: loader)
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        var op = TEEOperation([.valueInout(a: 1, b: 0)])
        try s.invoke(HelloWorldTA.Command.increment.rawValue, &op)
        #expect(op[0].value.a == 2)
        #expect((stack.driver.statistics.rpcCommands[RPCCommand.loadTA.rawValue] ?? 0) >= 2)
        // A truncated image fails verification (SECURITY); the loader never sees it.
        try Data(image.dropLast()).write(to: URL(fileURLWithPath: taDir + "/\(uuid).ta"))
        // A fresh stack: the first one keeps the TA it already loaded.
        let second = try Stack(taDirectory: taDir, loadTA: loader)
        defer { second.shutdown() }
        #expect(throws: TEEError.self) { try second.context.openSession(uuid) }
    }

    @Test func aNotificationWaitNobodyAnswersEndsAfterTheBound() throws {
        let stack = try Stack(driverConfig: { $0.notificationWait = 0.05 })
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        var w = TEEOperation([.valueInput(a: 33, b: 0)])
        #expect(throws: TEEError.self) { try s.invoke(TestTA.Command.notifyWait.rawValue, &w) }
        #expect(stack.driver.notificationWaiters == 0)
        var t = TEEOperation([.valueOutput()])
        try s.invoke(TestTA.Command.getTime.rawValue, &t)            // the session still works
    }

    @Test func registeredArgumentPagesCarryCallsWithRegdArg() throws {
        let stack = try Stack(driverConfig: { $0.useRegisteredArguments = true })
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        var t = TEEOperation([.valueOutput()])
        try s.invoke(TestTA.Command.getTime.rawValue, &t)
        var st = TEEOperation([.valueInput(a: 100, b: 0)])
        try s.invoke(TestTA.Command.storageRoundTrip.rawValue, &st)
        #expect(stack.driver.statistics.registeredArgumentCalls >= 3)
        #expect(stack.driver.statistics.badRPC == 0)
    }

    @Test func aShortOutputBufferReportsTheSizeNeeded() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(SecureStorageTA.uuid)
        let id = Array("sized".utf8), data = [UInt8](repeating: 0xAB, count: 100)
        var w = TEEOperation([.tempInput(id), .tempInput(data)])
        try s.invoke(SecureStorageTA.Command.writeRaw.rawValue, &w)
        var r = TEEOperation([.tempInput(id), .tempOutput([UInt8](repeating: 0, count: 10))])
        #expect(throws: TEEError(.shortBuffer, origin: .trustedApp)) { try s.invoke(SecureStorageTA.Command.readRaw.rawValue, &r) }
        #expect(r[1].size == 100)
    }

    @Test func callsRotateOverVCPUs() throws {
        let rec = Mutex<RecordingConduit?>(nil)
        let stack = try Stack(vcpus: 3, conduit: { c in let r = RecordingConduit(c); rec.withLock { $0 = r }; return r })
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        var op = TEEOperation([.valueInput(a: 1, b: 0)])
        for _ in 0..<3 { try s.invoke(TestTA.Command.suspend.rawValue, &op) }
        #expect(rec.withLock { $0?.vcpus.withLock { $0 } } == [0, 1, 2])
    }
}

@Suite struct TEEClientAPITests {
    @Test func misusedParametersAreBadParametersFromTheAPI() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        #expect(throws: TEEError(.itemNotFound, origin: .api)) { try TEEContext(name: "other-tee", driver: stack.driver) }
        let ctx = try TEEContext(name: "optee-tz", driver: stack.driver)
        let s = try ctx.openSession(TestTA.uuid)
        let inOnly = try ctx.allocateSharedMemory(size: 16, flags: .input)
        var wrongDirection = TEEOperation([.partialOutput(inOnly, offset: 0, size: 4)])
        #expect(throws: TEEError(.badParameters, origin: .api)) { try s.invoke(TestTA.Command.echoMemref.rawValue, &wrongDirection) }
        var outOfRange = TEEOperation([.partialInput(inOnly, offset: 10, size: 7)])
        #expect(throws: TEEError(.badParameters, origin: .api)) { try s.invoke(TestTA.Command.echoMemref.rawValue, &outOfRange) }
        let other = TEEContext(driver: stack.driver)
        let foreign = try other.allocateSharedMemory(size: 16)
        var notMine = TEEOperation([.whole(foreign)])
        #expect(throws: TEEError(.badParameters, origin: .api)) { try s.invoke(TestTA.Command.echoMemref.rawValue, &notMine) }
        inOnly.release()
        var released = TEEOperation([.whole(inOnly)])
        #expect(throws: TEEError(.badParameters, origin: .api)) { try s.invoke(TestTA.Command.echoMemref.rawValue, &released) }
        #expect(TEEOperation([.valueInput(a: 0, b: 0), .tempOutput([]), .whole(foreign), .partialInout(foreign, offset: 0, size: 1)]).paramTypes == 0xF_C_6_1)
        other.finalize()
        ctx.finalize()
        #expect(ctx.openSessions == 0)
        #expect(throws: TEEError(.badState, origin: .api)) { try ctx.openSession(TestTA.uuid) }
    }

    @Test func wholeMemrefTakesItsDirectionFromTheFlagsAndReportsTheSize() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(RandomTA.uuid)
        let out = try stack.context.allocateSharedMemory(size: 32, flags: .output)
        var op = TEEOperation([.whole(out)])
        try s.invoke(RandomTA.Command.generate.rawValue, &op)
        #expect(op[0].size == 32)
        #expect(try out.read().contains { $0 != 0 })
    }
}

/// TEEClient's GP semantics where libteec and the GP specification define them.
@Suite struct TEEClientGPSemanticsTests {
    @Test func sharedMemoryFlagsZeroOrUnknownBitsAreBadParameters() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let bad = TEEError(.badParameters, origin: .api)
        #expect(throws: bad) { try stack.context.allocateSharedMemory(size: 16, flags: []) }
        #expect(throws: bad) { try stack.context.allocateSharedMemory(size: 16, flags: .init(rawValue: 4)) }
        #expect(throws: bad) { try stack.context.allocateSharedMemory(size: 16, flags: [.input, .init(rawValue: 0x100)]) }
        #expect(throws: bad) { try stack.context.registerSharedMemory(TEEBuffer(count: 16), flags: []) }
        #expect(throws: bad) { try stack.context.registerSharedMemory([1, 2], flags: .init(rawValue: 0x8000_0000)) }
        // Nothing was allocated for the refused calls; valid flags still work.
        #expect(try stack.context.allocateSharedMemory(size: 16, flags: .output).size == 16)
    }

    @Test func temporaryBuffersOfEverySizeRoundTripThroughTheBouncePagesAndFreshOnes() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        let free = stack.driver.allocator.freePages
        // One page and less go through a bounce slot; larger ones through fresh pages. Each call
        // sees exactly its own bytes, whatever the previous call left in the slot.
        for n in [4096, 3, 5000, 1, 4096, 2 * 4096 + 1, 17, 4096] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ n) }
            var op = TEEOperation([.tempInout(bytes, size: n)])
            try s.invoke(TestTA.Command.echoMemref.rawValue, &op)
            #expect(op[0].size == n && op[0].buffer == Array(bytes.reversed()), "length \(n)")
        }
        // Fresh pages went back; at most one bounce run (two pages) stays with the driver.
        #expect(stack.driver.allocator.freePages >= free - 2)
        s.close()
    }

    @Test func aNullTemporaryBufferWithASizeIsBadParameters() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        let bad = TEEError(.badParameters, origin: .api)
        var out = TEEOperation([.tempOutput([], size: 16)])
        #expect(throws: bad) { try s.invoke(TestTA.Command.echoMemref.rawValue, &out) }
        var inout_ = TEEOperation([.tempInout([], size: 1)])
        #expect(throws: bad) { try s.invoke(TestTA.Command.echoMemref.rawValue, &inout_) }
        // A NULL buffer of size 0 is still MEMREF_NULL, which the TA accepts.
        var null = TEEOperation([.tempInout([], size: 0)])
        try s.invoke(TestTA.Command.echoMemref.rawValue, &null)
        #expect(null[0].size == 0)
    }

    @Test func aWholeMemrefSizeIsWrittenBackOnlyForOutputMemory() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        // ECHO_MEMREF wants MEMREF_INOUT: with input-only memory the TA refuses, and the size the
        // caller set stays as it was (libteec writes a WHOLE size back only for OUTPUT memory).
        let inOnly = try stack.context.allocateSharedMemory(size: 32, flags: .input)
        var op = TEEOperation([.whole(inOnly, size: 5)])
        #expect(throws: TEEError(.badParameters, origin: .trustedApp)) { try s.invoke(TestTA.Command.echoMemref.rawValue, &op) }
        #expect(op[0].size == 5)
        // With output memory the TA's size comes back.
        let both = try stack.context.allocateSharedMemory(size: 32, flags: [.input, .output])
        var op2 = TEEOperation([.whole(both, size: 5)])
        try s.invoke(TestTA.Command.echoMemref.rawValue, &op2)
        #expect(op2[0].size == 32)
    }

    @Test func registeredMemorySharesTheCallersBufferAcrossCalls() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        let buffer = TEEBuffer([1, 2, 3, 4, 5, 6, 7, 8])
        let shm = try stack.context.registerSharedMemory(buffer, flags: [.input, .output])
        // The caller changes its buffer after registering: the TA sees the new bytes, and what the
        // TA writes lands in the caller's buffer without any read of the shared memory.
        buffer.bytes = [10, 20, 30, 40, 50, 60, 70, 80]
        var whole = TEEOperation([.whole(shm)])
        try s.invoke(TestTA.Command.echoMemref.rawValue, &whole)
        #expect(buffer.bytes == [80, 70, 60, 50, 40, 30, 20, 10])
        // A partial window touches only its bytes of the caller's buffer.
        buffer.bytes = [1, 2, 3, 4, 5, 6, 7, 8]
        var part = TEEOperation([.partialInout(shm, offset: 2, size: 4)])
        try s.invoke(TestTA.Command.echoMemref.rawValue, &part)
        #expect(buffer.bytes == [1, 2, 6, 5, 4, 3, 7, 8])
    }
}

@Suite struct ClientIdentityTests {
    /// The client names the identity it is given (TEEABI's naming), not whatever it guesses.
    @Test func loginsNameTheGivenProcessIdentity() throws {
        let me = ProcessIdentity(uid: 1000, gid: 100, groups: [7], executable: "/usr/bin/x")
        #expect(try TEELogin.user.clientUUID(me) == ClientIdentity.uuidV5("uid=3e8"))
        #expect(try TEELogin.group(gid: 7).clientUUID(me) == ClientIdentity.uuidV5("gid=7"))
        #expect(try TEELogin.application.clientUUID(me).description == "3c8107ff-a86d-5e22-84b6-5b268f4f99a6")
        #expect(try TEELogin.userApplication.clientUUID(me) == ClientIdentity.uuidV5("uid=3e8:app=/usr/bin/x"))
        #expect(try TEELogin.groupApplication(gid: 100).clientUUID(me) == ClientIdentity.uuidV5("gid=64:app=/usr/bin/x"))
        #expect(try TEELogin.public.clientUUID(me) == .zero)
    }

    @Test func aGroupLoginForAGroupTheCallerIsNotInIsRefused() {
        let me = ProcessIdentity(uid: 1000, gid: 100, groups: [7], executable: "/usr/bin/x")
        #expect(throws: TEEError(.accessDenied, origin: .comms)) { try TEELogin.group(gid: 0xFFF0_0001).clientUUID(me) }
        #expect(throws: TEEError(.accessDenied, origin: .comms)) { try TEELogin.groupApplication(gid: 8).clientUUID(me) }
    }

    @Test func everyLoginOpensASession() throws {
        let stack = try Stack()
        defer { stack.shutdown() }
        for login: TEELogin in [.public, .user, .group(gid: UInt32(getegid())), .application, .userApplication] {
            let s = try stack.context.openSession(HelloWorldTA.uuid, login: login)
            s.close()
        }
    }
}
