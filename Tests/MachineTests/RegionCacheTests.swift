/// The per-thread region cache: what a thread's accesses resolved stays alive only while the
/// thread does. An OS thread is created and joined (no timing), and a weak reference shows
/// whether a removed region was freed.
import Machine
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the worker thread touches.
private final class Work: @unchecked Sendable {
    // @unchecked: read by the one worker thread while the test thread waits in pthread_join.
    let memory: PhysicalMemory
    let pa: PA
    var read: [UInt8] = []
    init(_ memory: PhysicalMemory, _ pa: PA) { self.memory = memory; self.pa = pa }
}

/// Runs `work` on a new OS thread and waits for that thread to end (its thread-exit destructors
/// included); false when the thread could not be created or joined.
private func onExitedThread(_ work: Work) -> Bool {
    var tid = pthread_t()
    let ctx = Unmanaged.passRetained(work).toOpaque()
    let made = pthread_create(&tid, nil, { p in
        guard let p else { return nil }
        let w = Unmanaged<Work>.fromOpaque(p).takeRetainedValue()
        w.read = (try? w.memory.read(w.pa, count: 4, world: .nonSecure)) ?? []
        return nil
    }, ctx)
    guard made == 0 else { Unmanaged<Work>.fromOpaque(ctx).release(); return false }
    return pthread_join(tid, nil) == 0
}

@Test func aRemovedRegionIsFreedOnceTheThreadsThatReachedItHaveExited() throws {
    let memory = PhysicalMemory()
    weak var gone: Region?
    do {
        let r = try memory.addRegion(kind: .hypervisor, pages: 1)
        gone = r
        try memory.write(r.basePA, [1, 2, 3, 4], world: .nonSecure)
        let w = Work(memory, r.basePA)
        #expect(onExitedThread(w))
        #expect(w.read == [1, 2, 3, 4])
        memory.removeRegion(r)
    }
    // This thread's own cache (the write above) still names the region: a second thread's access
    // to another region does not change that, so look only after this thread's cache moved on.
    for _ in 0..<8 {
        let other = try memory.addRegion(kind: .hypervisor, pages: 1)
        _ = try memory.read(other.basePA, count: 1, world: .nonSecure)
    }
    #expect(gone == nil, "a thread that exited kept the removed region alive")
}

@Test func eachThreadResolvesThroughItsOwnCache() throws {
    // Two threads in turn, each starting with no cache: both read what is there now.
    let memory = PhysicalMemory()
    let r = try memory.addRegion(kind: .hypervisor, pages: 1)
    try memory.write(r.basePA, [9, 8, 7, 6], world: .nonSecure)
    let a = Work(memory, r.basePA), b = Work(memory, r.basePA)
    #expect(onExitedThread(a))
    try memory.write(r.basePA, [5, 4, 3, 2], world: .nonSecure)
    #expect(onExitedThread(b))
    #expect(a.read == [9, 8, 7, 6] && b.read == [5, 4, 3, 2])
}
