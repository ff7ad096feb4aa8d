/// The bench's allocation counter: it sees the allocations a call makes on the calling thread and
/// nothing else, so `invoke_allocations` means what it says.
import CAllocCount
import Testing
import VTEEBench

@Suite(.enabled(if: vtee_alloc_counting() != 0, "a sanitizer build owns malloc: nothing to count")) struct AllocationCounting {
    @Test func aCallThatAllocatesIsCountedAndOneThatDoesNotIsZero() throws {
        nonisolated(unsafe) var sink: [[UInt8]] = []
        sink.reserveCapacity(64)
        let allocating = try allocationsPerCall(count: 50) {
            if sink.count == 60 { sink.removeAll(keepingCapacity: true) }
            sink.append([UInt8](repeating: 7, count: 100 + sink.count))
        }
        #expect(allocating >= 1)
        var x = 0
        let quiet = try allocationsPerCall(count: 50) { x &+= 1 }
        #expect(quiet == 0)
        #expect(x == 51)
    }
}
