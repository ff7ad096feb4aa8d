/// vtee.test: each command against a scripted context.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

@Suite struct TestTATests {
    typealias C = TestTA.Command

    func harness(_ context: MockContext = MockContext()) async throws -> TAHarness {
        let h = try await TAHarness(BuiltinTAs.test, context: context)
        #expect(h.openResult == .success)
        return h
    }

    @Test func nopValuesIncrementsEveryAAndB() async throws {
        let h = try await harness()
        let (r, p) = try await h.invoke(C.nopValues.rawValue,
                                        params(TestTA.nopParamTypes, [val(1, 2), val(3, 4), val(UInt32.max, 5), val(7, UInt32.max)]))
        #expect(r == .success)
        #expect((0..<4).map { p.value($0) } == [TAValue(a: 2, b: 3), TAValue(a: 4, b: 5), TAValue(a: 0, b: 6), TAValue(a: 8, b: 0)])
    }

    @Test func getTimeReturnsTheREETimeFromTheRPC() async throws {
        let h = try await harness(MockContext(ree: (0x1_0000_0005, 999_999_999)))
        let (r, p) = try await h.invoke(C.getTime.rawValue, params(TestTA.timeParamTypes, [val(0)]))
        #expect(r == .success)
        #expect(p.value(0) == TAValue(a: 5, b: 999_999_999))
    }

    @Test func rpcFailuresAreReturnedAsTheCommandResult() async throws {
        let h = try await harness(MockContext(rpcFailure: .communication))
        #expect(try await h.invoke(C.getTime.rawValue, params(TestTA.timeParamTypes, [val(0)])).0 == .communication)
        #expect(try await h.invoke(C.notifyWait.rawValue, params(TestTA.valueInParamTypes, [val(1)])).0 == .communication)
        #expect(try await h.invoke(C.suspend.rawValue, params(TestTA.valueInParamTypes, [val(1)])).0 == .communication)
        #expect(try await h.invoke(C.shmRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(64, 1)])).0 == .communication)
    }

    @Test func shmRoundTripAsksForTheRightTypeAndChecksTheBytes() async throws {
        let ctx = MockContext()
        let h = try await harness(ctx)
        #expect(try await h.invoke(C.shmRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(1 << 20, 0)])).0 == .success)
        #expect(try await h.invoke(C.shmRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(4096, 1)])).0 == .success)
        #expect(try await h.invoke(C.shmRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(16, 2)])).0 == .badParameters)
        let seen = ctx.log.withLock { $0.shmRoundTrips.map { "\($0.size)/\($0.type)/\($0.fill)" } }
        #expect(seen == ["1048576/application/\(TestTA.shmFill)", "4096/kernel/\(TestTA.shmFill)"])
    }

    @Test func shmRoundTripDetectsCorruptedSharedMemory() async throws {
        let h = try await harness(MockContext(corruptShm: [TestTA.shmFill, 0, TestTA.shmFill]))
        #expect(try await h.invoke(C.shmRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(3, 0)])).0 == .generic)
        #expect(try await h.invoke(C.shmRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(4, 0)])).0 == .generic)
    }

    @Test func notifyAndSuspendPassTheirArgumentToTheRuntime() async throws {
        let ctx = MockContext()
        let h = try await harness(ctx)
        #expect(try await h.invoke(C.notifyWait.rawValue, params(TestTA.valueInParamTypes, [val(7)])).0 == .success)
        #expect(try await h.invoke(C.notifySend.rawValue, params(TestTA.valueInParamTypes, [val(9)])).0 == .success)
        #expect(try await h.invoke(C.suspend.rawValue, params(TestTA.valueInParamTypes, [val(25)])).0 == .success)
        let log = ctx.log.withLock { $0 }
        #expect(log.notificationsWaited == [7] && log.notificationsSent == [9] && log.suspends == [25])
    }

    @Test func longRunCallsCheckpointsAndReportsTheirCount() async throws {
        let ctx = MockContext()
        let h = try await harness(ctx)
        let (r, p) = try await h.invoke(C.longRun.rawValue, params(TestTA.valueInoutParamTypes, [val(5, 0)]))
        #expect(r == .success)
        let n = ctx.log.withLock { $0.checkpoints }
        #expect(n >= 1)
        #expect(p.value(0) == TAValue(a: 5, b: UInt32(n)))
    }

    @Test func longRunStopsWithCancelWhenTheClientCancels() async throws {
        let ctx = MockContext(cancelAfterCheckpoints: 3)
        let h = try await harness(ctx)
        // An hour of work: only cancellation can end it.
        let (r, p) = try await h.invoke(C.longRun.rawValue, params(TestTA.valueInoutParamTypes, [val(3_600_000, 0)]))
        #expect(r == .cancel)
        #expect(p.value(0).b == 3)
    }

    @Test func longRunAlreadyCancelledDoesNoCheckpoint() async throws {
        let ctx = MockContext()
        ctx.cancelled.store(true, ordering: .relaxed)
        let h = try await harness(ctx)
        let (r, p) = try await h.invoke(C.longRun.rawValue, params(TestTA.valueInoutParamTypes, [val(3_600_000, 0)]))
        #expect(r == .cancel && p.value(0).b == 0)
    }

    @Test func panicCommandThrowsTAPanicWithTheGivenCode() async throws {
        let h = try await harness()
        do {
            _ = try await h.invoke(C.panic.rawValue, params(GPParamTypes(.valueInput), [val(0xDEAD)]))
            Issue.record("PANIC returned")
        } catch let p as TAPanic {
            #expect(p.code == 0xDEAD)
        }
        await #expect(throws: TAPanic.self) { _ = try await h.invoke(C.panic.rawValue, .empty) }
    }

    @Test func storageRoundTripWritesReadsDeletesAndLeavesNothing() async throws {
        let storage = InMemoryStorage()
        let h = try await harness(MockContext(storage: storage))
        #expect(try await h.invoke(C.storageRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(5000)])).0 == .success)
        #expect(try await h.invoke(C.storageRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(0)])).0 == .success)
        #expect(storage.objects.withLock { $0.isEmpty })
        #expect(try await h.invoke(C.storageRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(2 << 20)])).0 == .outOfMemory)
        storage.failWith.withLock { $0 = .storageNoSpace }
        #expect(try await h.invoke(C.storageRoundTrip.rawValue, params(TestTA.valueInParamTypes, [val(10)])).0 == .storageNoSpace)
    }

    @Test func taToTAIncrementsThroughHelloWorldAndClosesTheSession() async throws {
        let ctx = MockContext()
        let h = try await harness(ctx)
        let (r, p) = try await h.invoke(C.taToTA.rawValue, params(TestTA.valueInoutParamTypes, [val(41, 3)]))
        #expect(r == .success)
        #expect(p.value(0) == TAValue(a: 42, b: 3))
        let log = ctx.log.withLock { $0 }
        #expect(log.openedSessions == [HelloWorldTA.uuid])
        #expect(log.invokes == [HelloWorldTA.Command.increment.rawValue])
        #expect(log.closedSessions.count == 1)
    }

    @Test func echoMemrefReversesTheBytes() async throws {
        let h = try await harness()
        let (r, p) = try await h.invoke(C.echoMemref.rawValue, params(TestTA.memrefInoutParamTypes, [mem([1, 2, 3, 4, 5])]))
        #expect(r == .success && p.outBytes(0) == [5, 4, 3, 2, 1])
    }

    @Test func echoMemrefReversesEveryLengthAndOnlyTheReportedSize() async throws {
        let h = try await harness()
        // Lengths around the word steps (16 and 32 bytes per step) and a page and a bit.
        for n in Array(0...70) + [4095, 4096, 4097, 5000] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            let (r, p) = try await h.invoke(C.echoMemref.rawValue, params(TestTA.memrefInoutParamTypes, [mem(bytes)]))
            #expect(r == .success && p.memref(0)?.size == n && p.outBytes(0) == Array(bytes.reversed()), "length \(n)")
        }
        // A size below the buffer: only that prefix is reversed and reported; the rest is untouched.
        var m = TAMemref(bytes: Array(1...40))
        m.size = 35
        let (r, p) = try await h.invoke(C.echoMemref.rawValue, params(TestTA.memrefInoutParamTypes, [.memref(m)]))
        #expect(r == .success && p.memref(0)?.size == 35)
        #expect(p.memref(0)?.bytes == Array((1...35).reversed()) + Array(36...40))
        var direct: [UInt8] = Array(0..<20)
        TestTA.reverse(&direct, count: 100)                    // a count past the array is clamped
        #expect(direct == Array((0..<20).reversed()))
    }

    @Test func touchPagesBumpsTheFirstByteOfEveryPage() async throws {
        let h = try await harness()
        var buf = [UInt8](repeating: 0, count: 3 * 4096 + 10)
        buf[4096] = 0xFF
        let (r, p) = try await h.invoke(C.touchPages.rawValue, params(TestTA.memrefInoutParamTypes, [mem(buf)]))
        #expect(r == .success)
        let o = p.outBytes(0)
        #expect(o.count == buf.count)
        #expect(o[0] == 1 && o[4096] == 0 && o[8192] == 1 && o[12288] == 1)
        #expect(o.enumerated().filter { $0.offset % 4096 != 0 }.allSatisfy { $0.element == 0 })
    }

    @Test(arguments: TestTA.Command.allCases.filter { $0 != .panic })
    func everyCommandRefusesWrongParamTypes(command: TestTA.Command) async throws {
        let h = try await harness()
        let (r, _) = try await h.invoke(command.rawValue, params(GPParamTypes(.memrefOutput, .valueOutput), [out(4), val(0)]))
        #expect(r == .badParameters)
    }

    @Test func unknownCommandAnswersNotSupported() async throws {
        let h = try await harness()
        #expect(try await h.invoke(15, .empty).0 == .notSupported)
        #expect(try await h.invoke(UInt32.max, .empty).0 == .notSupported)
    }
}
