/// Machine: several threads (vCPUs) reading, writing, pinning and remapping at once.
/// Bounded work, no timing assertions; each check is about data, not speed.
import Dispatch
import Synchronization
import Testing
import Machine
import TEEABI

@Suite struct ConcurrentAccess {
    @Test func concurrentWritersOnDisjointPagesEachReadBackTheirOwnData() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(0), pages: 64)
        let failures = Atomic<Int>(0)
        let threads = 4
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for round in 0..<200 {
                // Thread t owns pages t, t+4, t+8, ...; each write stays inside one owned page.
                let page = g.ramPage(t + threads * (round % 16))
                let data = (0..<256).map { UInt8(truncatingIfNeeded: $0 ^ round ^ (t << 6)) }
                let at = IPA(page.address.raw + UInt64((round * 13) % (pageSize - 256)))
                do {
                    try g.write(at, data)
                    if try g.read(at, count: data.count) != data { failures.add(1, ordering: .relaxed) }
                } catch { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test func readersKeepWorkingWhileOtherVCPUsPinUnpinAndRemap() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(1), pages: 32)
        // Pages 0..<8 are stable and hold a known pattern; pages 16..<24 get remapped.
        for i in 0..<8 { try g.write(g.ramPage(i).address, [UInt8](repeating: UInt8(i + 1), count: pageSize)) }
        let badReads = Atomic<Int>(0)
        let pinErrors = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for round in 0..<300 {
                switch t {
                case 0, 1:
                    // Readers of the stable pages.
                    let i = (round + t) % 8
                    if let b = try? g.read(g.ramPage(i).address, count: 64), b != [UInt8](repeating: UInt8(i + 1), count: 64) {
                        badReads.add(1, ordering: .relaxed)
                    }
                case 2:
                    // A mediator-like pinner on the stable pages.
                    do {
                        let p = try g.pin(g.ramPage(round % 8), writable: true)
                        _ = try mem.read(p.address, count: 16, world: .nonSecure)
                        try g.unpin(p)
                    } catch { pinErrors.add(1, ordering: .relaxed) }
                default:
                    // The guest balloons and remaps the upper pages.
                    let page = g.ramPage(16 + round % 8)
                    g.unmap(page)
                    try? g.remap(page, toBackingOf: g.ramPage(24 + round % 8))
                }
            }
        }
        #expect(badReads.load(ordering: .relaxed) == 0)
        #expect(pinErrors.load(ordering: .relaxed) == 0)
        #expect(g.pinnedPages == 0)
    }

    @Test func concurrentPinsAndUnpinsOfOnePageBalance() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(2), pages: 4)
        let page = g.ramPage(0)
        let pa = try g.translate(page.address).page
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<500 {
                if let p = try? g.pin(page, writable: false) { try? g.unpin(p) }
            }
        }
        #expect(g.pinCount(pa) == 0 && g.pinnedPages == 0)
    }

    @Test func secureAndNonSecureWorldsShareRAMButNotSecureRAMUnderConcurrency() throws {
        let mem = PhysicalMemory()
        let g = try GuestAddressSpace(memory: mem, id: GuestID(3), pages: 8)
        let secure = try mem.addRegion(kind: .secure, pages: 1)
        let denied = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for round in 0..<200 {
                if t % 2 == 0 {
                    if (try? mem.read(secure.basePA, count: 8, world: .nonSecure)) == nil { denied.add(1, ordering: .relaxed) }
                } else {
                    let pa = (try? g.translate(g.ramPage(round % 8).address)) ?? secure.basePA
                    _ = try? mem.read(pa, count: 8, world: .secure)
                }
            }
        }
        #expect(denied.load(ordering: .relaxed) == 400)
    }
}
