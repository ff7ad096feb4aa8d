/// C TAs in their own sandboxed processes, driven from a guest through the whole stack: every
/// group of the GP Internal Core API, and every fault a TA can commit staying inside its
/// instance (TARGET_DEAD, origin TEE), with the stack serving afterwards and nothing leaked.
import Dispatch
import Foundation
import TAHost
import TEEABI
import TEEClient
import TrustedApps
import Testing

private enum Cmd: UInt32 {
    case nop = 0, memrefTouch = 1, memory = 2, props = 3, time = 4, cancelMask = 5, storage = 6, ta2ta = 7
    case panic = 8, segv = 9, abort = 10, exit = 11, spin = 12, openFile = 13, socket = 14, log = 15
    case heapLimit = 16, stack = 17, waitCancel = 18, client = 20, extensions = 21
}

private func invoke(_ s: TEESession, _ c: Cmd, _ params: [TEEParameter] = []) throws(TEEError) -> TEEOperation {
    var op = TEEOperation(params)
    try s.invoke(c.rawValue, &op)
    return op
}

/// Children of this process named `ta-<uuid>` (ps shows them so).
private func taProcesses(_ uuid: TEEUUID) -> [Int32] {
    let me = getpid()
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, Int32(fields[1]) == me else { return false }
        let cmd = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return String(decoding: cmd.prefix { $0 != 0 }, as: UTF8.self) == "ta-\(uuid)"
    }
}

@Suite(.serialized) struct ProcessTATests {
    let uuid = TAFixtures.coreUUID

    @Test func aCTASessionRunsInItsOwnNamedProcessAndEndsWithIt() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        let op = try invoke(s, .nop, [.valueInout(a: 41, b: 0)])
        #expect(op.params[0].value.a == 42)
        #expect(taProcesses(uuid).count == 1)
        #expect(stack.runner.processCount == 1)
        s.close()
        #expect(stack.runner.processCount == 0)
        #expect(taProcesses(uuid).isEmpty)
        #expect(taChannelDescriptors() == 0)
    }

    @Test func theTAProcessHoldsOnlyItsChannelAndRunsUnderSeccomp() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let pids = taProcesses(uuid)
        #expect(pids.count == 1)
        guard let pid = pids.first else { return }
        // stdin, stdout (/dev/null), stderr, the doorbell; the channel and image fds are closed once mapped/loaded.
        let fds = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).compactMap { Int($0) })
        #expect(fds == [0, 1, 2, 4])
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        #expect(status.contains("Seccomp:\t2"))
        #expect(status.contains("NoNewPrivs:\t1"))
    }

    @Test func eachSessionOfAMultiInstanceTAIsAnotherProcess() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let a = try stack.context.openSession(uuid), b = try stack.context.openSession(uuid)
        #expect(taProcesses(uuid).count == 2)
        _ = try invoke(a, .nop, [.valueInout(a: 1, b: 0)])
        a.close(); b.close()
        #expect(stack.runner.processCount == 0)
    }

    @Test func bytesTheTADoesNotWriteStayAsTheyWere() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let input = (0..<300).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        let op = try invoke(s, .memrefTouch, [.tempInout(input, size: input.count)])
        var expected = input
        expected[0] = 0xAA
        #expect(op.params[0].buffer == expected)
        #expect(op.params[0].size == input.count)
    }

    @Test func memoryAPIBehavesAsGPDefinesIt() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let op = try invoke(s, .memory, [.tempInout([1, 2, 3, 4], size: 4), .valueOutput()])
        #expect(op.params[1].value.a == 0, "first failing memory check")
    }

    @Test func teeMallocStopsAtTADataSize() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let op = try invoke(s, .heapLimit, [.valueOutput()])
        // 64 KiB of TA_DATA_SIZE, 1 KiB blocks plus headers, the session context already taken.
        #expect(op.params[0].value.a >= 55 && op.params[0].value.a < 64)
    }

    @Test func propertiesOfTheTAClientAndImplementation() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let op = try invoke(s, .props, [.valueOutput()])
        #expect(op.params[0].value.a == 0, "first failing property check")
    }

    @Test func timeAPIs() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let op = try invoke(s, .time, [.valueOutput()])
        #expect(op.params[0].value.a == 0, "first failing time check")
    }

    @Test func cancellationIsMaskedAtOpenAndTheMaskIsKeptPerSession() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        // Masked by default: Unmask reports "was masked"; leave it unmasked this time.
        var op = try invoke(s, .cancelMask, [.valueInout(a: 0, b: 0), .valueInput(a: 1, b: 0)])
        #expect(op.params[0].value.a == 1 && op.params[0].value.b == 0)
        // The next invocation of the same session finds it unmasked.
        op = try invoke(s, .cancelMask, [.valueInout(a: 0, b: 0), .valueInput(a: 0, b: 0)])
        #expect(op.params[0].value.a == 0)
        s.close()
        let t = try stack.context.openSession(uuid)
        op = try invoke(t, .cancelMask, [.valueInout(a: 0, b: 0), .valueInput(a: 0, b: 0)])
        #expect(op.params[0].value.a == 1)
        t.close()
    }

    @Test func teeWaitReturnsCancelWhenTheClientCancels() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let result = try runCancelled(stack, s, .waitCancel)
        #expect(result?.result == .cancel)
        #expect(result?.origin == .trustedApp)
    }

    @Test func aTAThatIgnoresCancellationIsKilledAfterTheGrace() throws {
        let stack = try TAStack(cancelGrace: .milliseconds(200))
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        let pids = taProcesses(uuid)
        let result = try runCancelled(stack, s, .spin)
        #expect(result?.result == .targetDead && result?.origin == .tee)
        s.close()
        #expect(stack.runner.processCount == 0 && pids.allSatisfy(isGone))
    }

    /// Invokes `c` on another thread and cancels it until it returns (bounded); its error, if any.
    private func runCancelled(_ stack: TAStack, _ s: TEESession, _ c: Cmd) throws -> TEEError? {
        let token = TEEOperation([.valueOutput()], cancellable: true)
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var error: TEEError? }
        let box = Box()
        let session = s
        Thread.detachNewThread {
            var op = token
            do throws(TEEError) { try session.invoke(c.rawValue, &op) } catch { box.error = error }
            done.signal()
        }
        // Cancel only once the TA runs the command (it logs "cancel me"): a cancellation requested
        // before the operation starts never reaches the TA (the client answers it with origin API).
        var running = false
        for _ in 0..<500 {
            running = running || stack.logs.all.contains { $0.1 == "I/TA: cancel me" }
            if running { stack.context.requestCancellation(token) }
            if done.wait(timeout: .now() + .milliseconds(20)) == .success { return box.error }
        }
        Issue.record("the cancelled call did not return within 10 s")
        return nil
    }

    @Test func storageObjectsStreamsEnumeratorsAndSharing() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let op = try invoke(s, .storage, [.valueOutput()])
        #expect(op.params[0].value.a == 0, "first failing storage check")
    }

    @Test func taToTAToSwiftAndToAnotherCInstance() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        let op = try invoke(s, .ta2ta, [.valueOutput()])
        #expect(op.params[0].value.a == 0, "first failing TA-to-TA check")
        s.close()
        #expect(stack.runner.processCount == 0)
    }

    @Test func opteeExtensionsUUIDFromStrMapZIAndHeapAccountingBehaveAsLibutees() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        let op = try invoke(s, .extensions, [.valueOutput()])
        #expect(op.params[0].value.a == 0, "first failing extensions check")
        // dhex_dump's line reached the secure world's log.
        #expect(stack.logs.all.contains { $0.1.contains("76 74 65 65") }, "\(stack.logs.all.map(\.1))")
    }

    @Test func aSwiftBuiltInTACallsACTAWithAMemrefItsProcessSeesAndWritesBack() throws {
        // Swift TA (vtee.test TA_TO_TA_MEMREF) -> C TA (core MEMREF_TOUCH: writes byte 0 only).
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        defer { s.close() }
        let payload = [UInt8](repeating: 0x11, count: 5000)
        var op = TEEOperation([.tempInput(uuid.octets), .valueInout(a: Cmd.memrefTouch.rawValue, b: 0), .tempInout(payload)])
        try s.invoke(TestTA.Command.taToTAMemref.rawValue, &op)
        #expect(op.params[1].value.a == TEEResult.success.rawValue)
        #expect(op.params[2].buffer == [0xAA] + [UInt8](repeating: 0x11, count: 4999))
        // A C TA's refusal reaches the Swift TA as the C TA's result.
        var bad = TEEOperation([.tempInput(uuid.octets), .valueInout(a: Cmd.nop.rawValue, b: 0), .tempInout([1])])
        try s.invoke(TestTA.Command.taToTAMemref.rawValue, &bad)
        #expect(bad.params[1].value.a == TEEResult.badParameters.rawValue)
        #expect(stack.runner.processCount == 0)
    }

    @Test func traceLinesReachTheSecureWorldLogWithTheTAUUID() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        defer { s.close() }
        _ = try invoke(s, .log, [.valueInput(a: 7, b: 0)])
        let lines = stack.logs.all
        #expect(lines.contains { $0.1 == "I/TA: hello from the core TA, value 7" && $0.2["ta"] == "\(uuid)" && $0.0 == .info })
        #expect(lines.contains { $0.1.hasPrefix("E/TA:  TA_InvokeCommandEntryPoint:") && $0.1.hasSuffix("an error line") && $0.0 == .error })
    }

    // MARK: faults

    @Test(arguments: [Cmd.panic, .segv, .abort, .exit, .openFile, .socket, .stack])
    fileprivate func aFaultEndsOnlyThatInstance(_ fault: Cmd) throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let bystander = try stack.context.openSession(uuid)
        let before = Set(taProcesses(uuid))
        let victim = try stack.context.openSession(uuid)
        let victimPids = Set(taProcesses(uuid)).subtracting(before)
        #expect(victimPids.count == 1)
        #expect(throws: TEEError(.targetDead, origin: .tee)) { _ = try invoke(victim, fault, [.valueInput(a: 0x1234, b: 0)]) }
        // The dead instance's session keeps answering TARGET_DEAD; the other instance serves on.
        #expect(throws: TEEError(.targetDead, origin: .tee)) { _ = try invoke(victim, .nop, [.valueInout(a: 1, b: 0)]) }
        #expect(try invoke(bystander, .nop, [.valueInout(a: 1, b: 0)]).params[0].value.a == 2)
        victim.close()
        // A new session of the same TA works: the stack is still serving.
        let again = try stack.context.openSession(uuid)
        #expect(try invoke(again, .nop, [.valueInout(a: 5, b: 0)]).params[0].value.a == 6)
        again.close()
        // Reaped (no zombie) and its descriptors closed.
        #expect(victimPids.allSatisfy(isGone))
        bystander.close()
        #expect(stack.runner.processCount == 0)
        #expect(taChannelDescriptors() == 0)
    }

    @Test func aTAThatNeverReturnsIsStoppedAtTheBound() throws {
        let stack = try TAStack(entryBound: .milliseconds(300))
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        let pids = taProcesses(uuid)
        #expect(throws: TEEError(.targetDead, origin: .tee)) { _ = try invoke(s, .spin) }
        s.close()
        #expect(stack.runner.processCount == 0 && pids.allSatisfy(isGone))
    }

    @Test func aForbiddenSyscallIsReportedAsTheSandboxsRefusal() throws {
        let stack = try TAStack()
        defer { stack.shutdown() }
        let s = try stack.context.openSession(uuid)
        #expect(throws: TEEError(.targetDead, origin: .tee)) { _ = try invoke(s, .openFile, [.valueOutput()]) }
        s.close()
        #expect(stack.logs.all.contains { $0.1.contains("SIGSYS") })
    }
}
