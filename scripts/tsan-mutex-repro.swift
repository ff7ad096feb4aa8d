// Checks that ThreadSanitizer sees Synchronization.Mutex as a lock (Swift 6.3.1, Linux).
// Four threads take Mutexes in turn, contended so that the lock changes hands through Mutex's
// uninstrumented slow paths (Sources/CShim/tsan_mutex.c says why TSan needs help there):
//   (no argument) all four share ONE Mutex and touch a plain counter only inside it: race-free,
//                 so any TSan report is a false positive (without tsan_mutex.c there is one);
//   race          two threads use Mutex A, two use Mutex B, and all four touch the same counter
//                 inside their own lock: a real race TSan must report (the hook adds no edge
//                 between different Mutexes).
//   clang -fsanitize=thread -c Sources/CShim/tsan_mutex.c -o /tmp/hook.o
//   swiftc -sanitize=thread scripts/tsan-mutex-repro.swift /tmp/hook.o -o /tmp/repro
//   /tmp/repro (expect no report) && /tmp/repro race (expect a report); scripts/sanitizers.sh does this.
import Foundation
import Synchronization

final class Shared: @unchecked Sendable {
    let a = Mutex<[Int]>([])
    let b = Mutex<[Int]>([])
    var counter = 0  // touched only inside a lock
}

func run(race: Bool) {
    let s = Shared()
    let done = Atomic<Int>(0)
    for t in 0..<4 {
        let useB = race && t >= 2
        Thread {
            for i in 0..<100_000 {
                func step(_ v: inout [Int]) {
                    v.append(i)
                    if v.count > 64 { v.removeAll(keepingCapacity: true) }
                    s.counter += 1
                }
                if useB { s.b.withLock { step(&$0) } } else { s.a.withLock { step(&$0) } }
            }
            done.add(1, ordering: .releasing)
        }.start()
    }
    while done.load(ordering: .acquiring) < 4 { usleep(10_000) }
    print(race ? "done: a racy program; TSan must have reported it above"
               : "done: a correct program; any TSan report above is a false positive")
}
run(race: CommandLine.arguments.dropFirst().first == "race")
