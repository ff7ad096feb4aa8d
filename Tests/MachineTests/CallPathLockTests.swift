import Foundation
import Machine
import Synchronization
import Testing

/// CallPathLock: the lock of per-guest state on the call path (glibc's adaptive mutex).
@Suite struct CallPathLockTests {
    struct Pair { var a = 0, b = 0 }
    enum Refused: Error { case now }
    final class Tracked: @unchecked Sendable { var n = 0 }

    @Test func contendingThreadsNeverSeeAHalfDoneUpdateAndLoseNone() {
        let lock = CallPathLock(Pair())
        let threads = 6, rounds = 20_000
        let torn = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<threads {
            Thread.detachNewThread {
                for _ in 0..<rounds {
                    lock.withLock { p in
                        if p.a != p.b { torn.wrappingAdd(1, ordering: .relaxed) }
                        p.a += 1
                        p.b += 1
                    }
                }
                done.signal()
            }
        }
        for _ in 0..<threads { #expect(done.wait(timeout: .now() + 120) == .success) }
        #expect(torn.load(ordering: .relaxed) == 0)
        let total = lock.withLock { $0 }
        #expect(total.a == threads * rounds && total.b == threads * rounds)
    }

    @Test func aBodyThatThrowsLeavesItsChangeAndReleasesTheLock() {
        let lock = CallPathLock(0)
        #expect(throws: Refused.self) { try lock.withLock { (v: inout Int) throws(Refused) in v = 7; throw .now } }
        // Another thread can take the lock again (a lock left held would leave this wait to time out).
        let got = Mutex<Int?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { got.withLock { $0 = lock.withLock { $0 } }; done.signal() }
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(got.withLock { $0 } == 7)
    }

    @Test func theGuardedValueIsReleasedWithTheLock() {
        weak var watched: Tracked?
        do {
            let t = Tracked()
            watched = t
            let lock = CallPathLock<Tracked?>(t)
            lock.withLock { $0?.n += 1 }
            #expect(lock.withLock { $0?.n } == 1)
        }
        #expect(watched == nil)
    }
}
