// Small TAs for driving the secure world in tests.
import Synchronization
import TEEABI
@testable import SecureWorld

enum TestTAs {
    static let main = uuid("11111111-0000-4000-8000-000000000001")
    static let single = uuid("11111111-0000-4000-8000-000000000002")
    static let shared = uuid("11111111-0000-4000-8000-000000000003")
    static let missing = uuid("11111111-0000-4000-8000-0000000000ff")
    static let failingOpen = uuid("11111111-0000-4000-8000-000000000004")
    static let crashingCreate = uuid("11111111-0000-4000-8000-000000000005")
    static let syncLifecycle = uuid("11111111-0000-4000-8000-000000000006")
    /// Run by `CounterTA`'s command 3 inside its synchronous entry (while it owns the instance).
    static let inlineHook = Mutex<(@Sendable () -> Void)?>(nil)
    /// Create, open and close calls of `SyncLifecycleTA` instances.
    static let syncLifecycleCalls = Mutex((creates: 0, opens: 0, closes: 0, destroys: 0))

    static func uuid(_ s: String) -> TEEUUID { (try? TEEUUID(s)) ?? .zero }

    /// The continuation a `Cmd.gate` command waits on.
    static let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
    /// Set when a command of `Cmd.external` starts.
    static let externalStarted = Mutex(false)
    /// Resumed when a command of `Cmd.external` starts (a test awaits it instead of polling).
    static let externalStartedSignal = Mutex<CheckedContinuation<Void, Never>?>(nil)
    /// Lets a running `Cmd.external` command finish.
    static let externalRelease = Atomic<Bool>(false)
    /// Counts TA_DestroyEntryPoint calls across instances.
    static let destroyed = Mutex(0)
    /// The memref bytes `Cmd.snapshot` kept, in call order.
    static let snapshots = Mutex<[[UInt8]]>([])

    static let all: [TADescriptor] = [
        TADescriptor(uuid: main, name: "test.main") { MainTA() },
        TADescriptor(uuid: single, name: "test.single", properties: TAProperties(singleInstance: true)) { CounterTA() },
        TADescriptor(uuid: shared, name: "test.shared",
                     properties: TAProperties(singleInstance: true, multiSession: true, keepAlive: true)) { CounterTA() },
        TADescriptor(uuid: failingOpen, name: "test.failing") { FailingOpenTA() },
        TADescriptor(uuid: crashingCreate, name: "test.crashing", properties: TAProperties(singleInstance: true, keepAlive: true)) { CrashingCreateTA() },
        TADescriptor(uuid: syncLifecycle, name: "test.synclifecycle") { SyncLifecycleTA() },
    ]
}

/// Command ids of `MainTA`.
enum Cmd {
    static let inc: UInt32 = 0, echo: UInt32 = 1, reeTime: UInt32 = 2, suspend: UInt32 = 3
    static let wait: UInt32 = 4, send: UInt32 = 5, shm: UInt32 = 6, put: UInt32 = 7, get: UInt32 = 8
    static let delete: UInt32 = 9, list: UInt32 = 10, panic: UInt32 = 11, long: UInt32 = 12
    static let taToTA: UInt32 = 13, random: UInt32 = 14, types: UInt32 = 15, rename: UInt32 = 16
    /// Awaits a sleep outside the secure world (what a TA must not do) for value a milliseconds.
    static let external: UInt32 = 17
    /// Awaits `TestTAs.gate`, a continuation the test resumes from outside the secure world.
    static let gate: UInt32 = 19
    /// [0] MEMREF_INOUT: reverses the bytes in place.
    static let reverse: UInt32 = 18
    /// [0] any memref, [1] VALUE_OUTPUT: a = the memref's size as the TA sees it, b = 1 when NULL.
    static let memrefSize: UInt32 = 20
    /// [0] any memref: appends the TA's bytes to `TestTAs.snapshots` (sharing the array, as a TA
    /// that keeps its input does), then sets byte 0 of its memref to 0xFF.
    static let snapshot: UInt32 = 21
}

final class MainTA: TrustedApplication {
    /// Open session: a VALUE_INOUT in params[0] gets a += 100 (shows open-session params both ways).
    func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) {
        if params.types[0] == .valueInout { var v = params.value(0); v.a &+= 100; params.setValue(0, v) }
        return (.success, nil)
    }

    /// GP results thrown by services become the command's result; anything else is a panic.
    func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
        do { return try await run(command, &params, context) } catch let e as TEEResult { return e }
    }

    // nonsending like the entry point that calls it (TAAPI's entries are): a @concurrent helper
    // could not be sent this non-Sendable TA.
    nonisolated(nonsending) private func run(_ command: UInt32, _ params: inout TAParams, _ context: any TAContext) async throws -> TEEResult {
        switch command {
        case Cmd.inc:
            var v = params.value(0); v.a &+= 1; params.setValue(0, v)
        case Cmd.echo:
            guard let i = params.memref(0), let o = params.memref(1) else { return .badParameters }
            if o.capacity < i.bytes.count { params.setMemrefSize(1, i.bytes.count); return .shortBuffer }
            params.setMemref(1, bytes: i.bytes)
        case Cmd.reeTime:
            let t = try await context.reeTime()
            params.setValue(0, TAValue(a: UInt32(truncatingIfNeeded: t.seconds), b: UInt32(truncatingIfNeeded: t.nanos)))
        case Cmd.suspend:
            try await context.suspend(millis: params.value(0).a)
        case Cmd.wait:
            try await context.waitNotification(key: params.value(0).a)
        case Cmd.send:
            try await context.sendNotification(key: params.value(0).a)
        case Cmd.shm:
            let v = params.value(0)
            let type = RPCShmType(rawValue: UInt64(v.b)) ?? .application
            let back = try await context.roundTripSharedMemory(size: Int(v.a), type: type, fill: 0x5A)
            params.setValue(1, TAValue(a: UInt32(back.filter { $0 == 0x5A }.count)))
        case Cmd.put:
            guard let id = params.memref(0), let d = params.memref(1) else { return .badParameters }
            try await context.storage.write(id: id.bytes, data: d.bytes, overwrite: params.value(2).a != 0)
        case Cmd.get:
            guard let id = params.memref(0), let o = params.memref(1) else { return .badParameters }
            let data = try await context.storage.read(id: id.bytes)
            if data.count > o.capacity { params.setMemrefSize(1, data.count); return .shortBuffer }
            params.setMemref(1, bytes: data)
        case Cmd.delete:
            guard let id = params.memref(0) else { return .badParameters }
            try await context.storage.delete(id: id.bytes)
        case Cmd.rename:
            guard let a = params.memref(0), let b = params.memref(1) else { return .badParameters }
            try await context.storage.rename(from: a.bytes, to: b.bytes)
        case Cmd.list:
            params.setValue(0, TAValue(a: UInt32(try await context.storage.list().count)))
        case Cmd.panic:
            throw TAPanic(code: 0xDEAD, "asked to")
        case Cmd.long:
            let n = params.value(0).a
            var i: UInt32 = 0
            while i < n {
                if context.isCancelled { params.setValue(0, TAValue(a: n, b: i)); return .cancel }
                try await context.checkpoint()
                i += 1
            }
            params.setValue(0, TAValue(a: n, b: i))
        case Cmd.taToTA:
            var p = TAParams.empty
            let h = try await context.openSession(ta: TestTAs.shared, params: &p)
            var q = TAParams(types: GPParamTypes(.valueInout), params: [.value(params.value(0))])
            try await context.invoke(h, command: 0, params: &q)
            await context.closeSession(h)
            params.setValue(0, q.value(0))
        case Cmd.random:
            guard let o = params.memref(0) else { return .badParameters }
            params.setMemref(0, bytes: context.random(o.capacity))
            _ = context.systemTime()
        case Cmd.gate:
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in TestTAs.gate.withLock { $0 = c } }
        case Cmd.reverse:
            guard let m = params.memref(0) else { return .badParameters }
            params.setMemref(0, bytes: m.bytes.reversed())
        case Cmd.external:
            // Keeps its secure thread running (busy on this vCPU, no await) until released;
            // bounded, so a test that never releases it still ends.
            TestTAs.externalStarted.withLock { $0 = true }
            TestTAs.externalStartedSignal.withLock { c in c?.resume(); c = nil }
            var spins = 0
            while !TestTAs.externalRelease.load(ordering: .acquiring) && spins < 2_000_000_000 { spins += 1 }
        case Cmd.snapshot:
            guard var m = params.memref(0) else { return .badParameters }
            params[0] = .none
            TestTAs.snapshots.withLock { $0.append(m.bytes) }
            if !m.bytes.isEmpty { m.bytes[0] = 0xFF }
            params[0] = .memref(m)
        case Cmd.memrefSize:
            guard let m = params.memref(0) else { return .badParameters }
            params.setValue(1, TAValue(a: UInt32(m.size), b: m.isNull ? 1 : 0))
        case Cmd.types:
            params.setValue(0, TAValue(a: params.types.rawValue, b: context.client.login.rawValue))
        default:
            return .badParameters
        }
        return .success
    }
}

/// Keeps a counter per instance (shows instance sharing).
final class CounterTA: TrustedApplication {
    var counter: UInt32 = 0
    func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
        // Command 2 holds the instance across an RPC (GET_TIME) before counting.
        if command == 2 { _ = try await context.reeTime() }
        return count(command, &params)
    }
    /// Commands 0, 1 and 3 never suspend: the secure world runs them inline on the entering vCPU
    /// (or, when the instance is busy, on the thread's task after waiting for it). Command 3
    /// runs `TestTAs.inlineHook` first.
    func runsSynchronously(command: UInt32) -> Bool { command != 2 }
    func invokeSynchronously(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) throws -> TEEResult {
        if command == 3, let hook = TestTAs.inlineHook.withLock({ $0 }) { hook() }
        return count(command, &params)
    }
    private func count(_ command: UInt32, _ params: inout TAParams) -> TEEResult {
        counter &+= 1
        if command == 0 { var v = params.value(0); v.a &+= 1; params.setValue(0, v) }
        else { params.setValue(0, TAValue(a: counter)) }
        return .success
    }
    func destroy() { TestTAs.destroyed.withLock { $0 += 1 } }
}

/// Refuses every session (origin TRUSTED_APP).
final class FailingOpenTA: TrustedApplication {
    func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) {
        (.accessDenied, nil)
    }
    func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult { .success }
}

/// Panics in TA_CreateEntryPoint.
final class CrashingCreateTA: TrustedApplication {
    func create(context: any TAContext) async throws -> TEEResult { throw TAPanic(code: 1, "create") }
    func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult { .success }
}

/// Multi-instance, with a synchronous lifecycle (a VM's opens after its first run inline):
/// open adds 100 to a VALUE_INOUT [0] and refuses with ACCESS_DENIED when it is 999; command 0
/// (synchronous) increments [0].a.
final class SyncLifecycleTA: TrustedApplication {
    var lifecycleRunsSynchronously: Bool { true }
    func createSynchronously(context: any TAContext) throws -> TEEResult {
        TestTAs.syncLifecycleCalls.withLock { $0.creates += 1 }
        return .success
    }
    func openSessionSynchronously(params: inout TAParams, context: any TAContext) throws -> (TEEResult, sessionState: AnyObject?) {
        TestTAs.syncLifecycleCalls.withLock { $0.opens += 1 }
        guard params.types[0] == .valueInout else { return (.success, nil) }
        var v = params.value(0)
        if v.a == 999 { return (.accessDenied, nil) }
        v.a &+= 100
        params.setValue(0, v)
        return (.success, nil)
    }
    func closeSessionSynchronously(sessionState: AnyObject?, context: any TAContext) {
        TestTAs.syncLifecycleCalls.withLock { $0.closes += 1 }
    }
    func destroy() { TestTAs.syncLifecycleCalls.withLock { $0.destroys += 1 } }
    func runsSynchronously(command: UInt32) -> Bool { command == 0 }
    func invokeSynchronously(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) throws -> TEEResult {
        var v = params.value(0); v.a &+= 1; params.setValue(0, v)
        return .success
    }
    func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
        command == 0 ? try invokeSynchronously(command: command, params: &params, sessionState: sessionState, context: context) : .notSupported
    }
}
