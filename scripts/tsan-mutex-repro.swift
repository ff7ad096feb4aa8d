// Reproduces the ThreadSanitizer false positive scripts/tsan.supp suppresses: four threads take
// one Synchronization.Mutex in turn, which is race-free, and TSan (Swift 6.3.1, Linux) still
// reports a "Swift access race" on the protected array once the lock is contended.
//   swiftc -sanitize=thread -g scripts/tsan-mutex-repro.swift -o /tmp/repro && /tmp/repro
import Foundation
import Synchronization

final class Box: Sendable { let m = Mutex<[Int]>([]) }

func run() {
    let b = Box()
    let done = Atomic<Int>(0)
    for _ in 0..<4 {
        Thread {
            for i in 0..<200_000 { b.m.withLock { $0.append(i); if $0.count > 64 { $0.removeAll(keepingCapacity: true) } } }
            done.add(1, ordering: .releasing)
        }.start()
    }
    while done.load(ordering: .acquiring) < 4 { usleep(10_000) }
    print("done: a correct program; any TSan report above is the false positive")
}
run()
