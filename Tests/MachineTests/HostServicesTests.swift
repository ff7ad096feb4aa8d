// The host-services seam: a manual clock ends waits only when told, signals end them at once,
// and the system clock's waits are bounded by their deadline.
import Dispatch
import Foundation
import Machine
import Synchronization
import Testing

@Suite struct HostServicesTests {
    @Test func aManualClockWaitEndsOnlyWhenTheClockPassesItsDeadline() {
        let clock = ManualClock()
        let event = HostEvent()
        let outcome = Mutex<Bool?>(nil)
        let ended = DispatchSemaphore(value: 0)
        let deadline = clock.deadline(after: 2)
        Thread.detachNewThread { let r = clock.wait(event, until: deadline); outcome.withLock { $0 = r }; ended.signal() }
        #expect(clock.waitForSleepers(1))
        clock.advance(seconds: 1.999)
        #expect(ended.wait(timeout: .now()) == .timedOut)   // one nanosecond short: still waiting
        clock.advance(seconds: 0.001)
        #expect(ended.wait(timeout: .now() + 10) == .success)
        #expect(outcome.withLock { $0 } == false)
        #expect(clock.sleepers == 0)
    }

    @Test func aSignalEndsAWaitAtOnceAndIsConsumedOnce() {
        let clock = ManualClock()
        let event = HostEvent()
        event.signal()
        #expect(clock.wait(event, seconds: 5))                 // pending signal: no time passes
        let outcome = Mutex<Bool?>(nil)
        let ended = DispatchSemaphore(value: 0)
        Thread.detachNewThread { let r = clock.wait(event, seconds: 5); outcome.withLock { $0 = r }; ended.signal() }
        #expect(clock.waitForSleepers(1))
        event.signal()
        #expect(ended.wait(timeout: .now() + 10) == .success)
        #expect(outcome.withLock { $0 } == true)
        #expect(!clock.wait(event, until: clock.now()))         // consumed: an expired wait finds nothing
    }

    @Test func theManualWallClockMovesWithTheMonotonicOne() {
        let clock = ManualClock(start: 0, wallStart: 1_700_000_000_500_000_000)
        #expect(clock.wallTime().seconds == 1_700_000_000 && clock.wallTime().nanoseconds == 500_000_000)
        clock.advance(seconds: 1.5)
        #expect(clock.wallTime().seconds == 1_700_000_002 && clock.wallTime().nanoseconds == 0)
        #expect(clock.now() == 1_500_000_000)
    }

    @Test func systemClockWaitsAreBoundedByTheirDeadline() {
        let clock = SystemClock.shared
        #expect(!clock.wait(HostEvent(), until: clock.now()))  // a deadline already reached: no wait
        let event = HostEvent()
        Thread.detachNewThread { event.signal() }
        #expect(clock.wait(event, seconds: 30))                // the signal, well inside the bound
    }

    @Test func processIdentityNamesMembershipOfPrimaryAndSupplementaryGroups() {
        let me = ProcessIdentity(uid: 1, gid: 2, groups: [3, 4], executable: "/bin/x")
        #expect(me.isMember(of: 2) && me.isMember(of: 4))
        #expect(!me.isMember(of: 5))
        #expect(!ProcessIdentity.current.executable.isEmpty)
    }
}
