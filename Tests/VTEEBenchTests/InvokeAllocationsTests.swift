/// Issue 10: a steady-state NOP invoke (four VALUE_INOUT params, client API to TA and back through
/// driver, platform, mediator and secure world) allocates nothing on the heap.
import Foundation
import Logging
import Machine
import TEEClient
import Testing
import TrustedApps
import VTEEBench
import VTEEKit

@Suite struct InvokeAllocations {
    @Test func aSteadyStateNOPInvokeMakesNoHeapAllocation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vtee-alloc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = StackConfig()
        config.storageRoot = dir
        let stack = try VTEEStack(config: config)
        let g = try stack.addGuest(GuestID(0))
        defer { stack.removeGuest(g) }
        let session = try g.context.openSession(TestTA.uuid)
        defer { session.close() }
        var op = TEEOperation([.valueInout(a: 1, b: 2), .valueInout(a: 3, b: 4), .valueInout(a: 5, b: 6), .valueInout(a: 7, b: 8)])
        for _ in 0..<200 { try session.invoke(TestTA.Command.nopValues.rawValue, &op) }
        let perCall = try allocationsPerCall(count: 500) { () throws(BenchError) in
            do throws(TEEError) { try session.invoke(TestTA.Command.nopValues.rawValue, &op) } catch { throw .call("nop", error) }
        }
        print("allocations per NOP invoke: \(perCall)")
        #expect(perCall == 0)
    }
}
