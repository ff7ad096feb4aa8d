import Machine
import Testing

/// The per-thread region cache behind PhysicalMemory.region(containing:) (a bench-driven change):
/// it must never answer with a region that left the address space, nor mix two address spaces.
@Suite struct BenchRegionCacheTests {
    @Test func aRemovedRegionIsNotFoundEvenByAThreadThatJustCachedIt() throws {
        let memory = PhysicalMemory()
        let r = try memory.addRegion(kind: .hypervisor, pages: 4)
        let pa = PA(r.basePA.raw + 100)
        #expect(memory.region(containing: pa) === r)       // now cached on this thread
        #expect(memory.region(containing: pa) === r)
        memory.removeRegion(r)
        #expect(memory.region(containing: pa) == nil)
        #expect(throws: MemoryError.self) { try memory.read(pa, count: 8, world: .secure) }
    }

    @Test func twoAddressSpacesWithTheSameBasesDoNotShareCachedRegions() throws {
        let a = PhysicalMemory(), b = PhysicalMemory()
        let ra = try a.addRegion(kind: .hypervisor, pages: 1)
        let rb = try b.addRegion(kind: .secure, pages: 1)
        #expect(ra.basePA == rb.basePA)
        #expect(a.region(containing: ra.basePA) === ra)
        #expect(b.region(containing: rb.basePA) === rb)
        #expect(throws: MemoryError.self) { try b.read(rb.basePA, count: 1, world: .nonSecure) }
        #expect(try a.read(ra.basePA, count: 1, world: .nonSecure) == [0])
    }

    @Test func manyRegionsStillResolveCorrectlyPastTheCacheCapacity() throws {
        let memory = PhysicalMemory()
        let regions = try (0..<12).map { _ in try memory.addRegion(kind: .hypervisor, pages: 1) }
        for _ in 0..<3 {
            for r in regions.reversed() { #expect(memory.region(containing: PA(r.basePA.raw + 4095)) === r) }
        }
        #expect(memory.region(containing: PA(regions[0].basePA.raw + 4096)) == nil)
    }
}
