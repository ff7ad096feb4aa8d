/// Releasing shared memory a call in flight still names (OP-TEE's reg-shm release, Linux's
/// tee_shm reference count): the release waits for the call, no new call may name the memory,
/// and its pages are never handed to anyone else while the secure world may still write them.
/// The call is held at its trap by a gate (a seam), so the order of events is chosen, not timed.
import Dispatch
import Foundation
import Machine
import NormalWorld
import Synchronization
import TEEABI
import TEEClient
import Testing
import TrustedApps

/// A conduit that, once armed, holds the next trap until opened.
final class GatedConduit: Conduit, Sendable {
    let inner: any Conduit
    private let armed = Atomic<Bool>(false)
    private let holding = Atomic<Bool>(false)
    private let gate = DispatchSemaphore(value: 0)
    init(_ inner: any Conduit) { self.inner = inner }
    /// Holds the next trap.
    func arm() { armed.store(true, ordering: .releasing) }
    /// True while a trap is held.
    var isHolding: Bool { holding.load(ordering: .acquiring) }
    /// Lets the held trap go on.
    func open() { if holding.load(ordering: .acquiring) { gate.signal() } }
    func trap(_ frame: RegisterFrame, vcpu: Int) -> RegisterFrame {
        if armed.exchange(false, ordering: .acquiringAndReleasing) {
            holding.store(true, ordering: .releasing)
            _ = gate.wait(timeout: .now() + 60)   // bounded: a broken test never hangs the suite
            holding.store(false, ordering: .releasing)
        }
        return inner.trap(frame, vcpu: vcpu)
    }
}

/// Runs `body` on its own thread; `result(within:)` waits a bounded time for it.
final class Concurrent<T: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let value = Mutex<T?>(nil)
    init(_ body: @escaping @Sendable () -> T) {
        Thread.detachNewThread { [self] in
            let v = body()
            value.withLock { $0 = v }
            done.signal()
        }
    }
    /// True once `body` returned.
    var isDone: Bool { value.withLock { $0 != nil } }
    /// The result, waiting at most `seconds`.
    func result(within seconds: Double) -> T? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        done.signal()
        return value.withLock { $0 }
    }
}

/// Polls `cond` until it holds or `seconds` pass (bounded; the tick is a semaphore wait).
func until(_ seconds: Double, _ cond: () -> Bool) -> Bool {
    let deadline = DispatchTime.now() + seconds
    let tick = DispatchSemaphore(value: 0)
    while DispatchTime.now() < deadline {
        if cond() { return true }
        _ = tick.wait(timeout: .now() + .milliseconds(5))
    }
    return cond()
}

@Suite struct ReleaseWaitTests {
    @Test func releasingMemoryACallStillUsesWaitsForTheCallAndNeverFreesItUnderIt() throws {
        let gated = Mutex<GatedConduit?>(nil)
        let stack = try Stack(conduit: { base in let g = GatedConduit(base); gated.withLock { $0 = g }; return g })
        let gate = try #require(gated.withLock { $0 })
        defer { gate.open(); stack.shutdown() }
        let s = try stack.context.openSession(TestTA.uuid)
        let shm = try stack.context.allocateSharedMemory(size: 4096, flags: [.input, .output])
        let data: [UInt8] = Array(1...16)
        try shm.write(data)

        // The call is built (it names the memory) and held at its trap, before the secure world runs.
        gate.arm()
        let call = Concurrent { () -> (TEEResult, Int) in
            var op = TEEOperation([.partialInout(shm, offset: 0, size: 16)])
            do throws(TEEError) { try s.invoke(TestTA.Command.echoMemref.rawValue, &op) } catch { return (error.result, -1) }
            return (.success, op[0].size)
        }
        #expect(until(30) { gate.isHolding })

        // The release waits for the call (before: it unregistered and freed the pages at once).
        let release = Concurrent { () -> Bool in shm.release(); return true }
        #expect(until(30) { stack.driver.releasesWaiting == 1 || release.isDone })
        #expect(!release.isDone, "the release returned while a call still used the memory")

        // Meanwhile the pages stay the call's: new memory lands elsewhere, and a new call may not
        // name the memory being released.
        let other = try stack.context.allocateSharedMemory(size: 4096, flags: [.input, .output])
        let pattern = [UInt8](repeating: 0xEE, count: 16)
        try other.write(pattern)
        #expect(other.handle.address != shm.handle.address)
        #expect(throws: DriverError.badParameters) {
            _ = try stack.driver.invoke(session: s.id, function: TestTA.Command.echoMemref.rawValue,
                                        params: [.memref(.inout, shm: shm.handle, offset: 0, size: 16)])
        }

        // The call goes on with its memory intact, then the release completes.
        gate.open()
        let r = try #require(call.result(within: 30), "the call did not end")
        #expect(r.0 == .success && r.1 == 16, "\(r)")
        #expect(release.result(within: 30) == true, "the release did not complete after the call")
        #expect(stack.driver.releasesWaiting == 0)
        #expect(stack.driver.sharedMemory(id: shm.handle.id) == nil)
        #expect(try other.read(count: 16) == pattern, "the call's write-back landed in other memory")
    }
}
