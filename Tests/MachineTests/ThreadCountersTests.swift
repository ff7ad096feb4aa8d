/// ThreadCounters: per-thread counts summed on read are exact, whatever threads share a line.
/// Bounded work on detached threads, bounded waits, no timing assertions.
import Dispatch
import Foundation
import Machine
import Synchronization
import Testing

/// Holds a `ThreadCounters` (noncopyable) for threads to share.
private final class CounterBox: Sendable { let c = ThreadCounters() }

@Test func threadCountersSumEveryThreadsCountsExactly() {
    let box = CounterBox()
    let threads = 12, perThread = 20_000   // more threads than lines' worth on 2 cores; collisions count shared
    let done = DispatchSemaphore(value: 0)
    for t in 0..<threads {
        Thread.detachNewThread {
            for i in 0..<perThread { box.c.increment(i % 2 == 0 ? 0 : (1 + t % (ThreadCounters.kinds - 1))) }
            done.signal()
        }
    }
    for _ in 0..<threads { #expect(done.wait(timeout: .now() + 60) == .success) }
    #expect(box.c.value(0) == threads * perThread / 2)
    let others = (1..<ThreadCounters.kinds).map { box.c.value($0) }.reduce(0, +)
    #expect(others == threads * perThread / 2)
}

@Test func threadCountersStartAtZeroAndCountOneThread() {
    let box = CounterBox()
    for k in 0..<ThreadCounters.kinds { #expect(box.c.value(k) == 0) }
    for _ in 0..<5 { box.c.increment(3) }
    #expect(box.c.value(3) == 5)
    #expect(box.c.value(0) == 0)
}
