// The driver against the scripted fake secure world: probe, RPC service, call queue, shm, cancel.
import Dispatch
import Foundation
import Machine
@testable import NormalWorld
import Synchronization
import TEEABI
import Testing

@Suite struct DriverProbeTests {
    @Test func probeRefusesAPeerThatIsNotOPTEE() throws {
        let memory = PhysicalMemory()
        let space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 64)
        #expect(throws: DriverError.notOPTEE) { try OPTEEDriver(space: space, conduit: FakeSecureWorld(space: space, uidOK: false)) }
        #expect(throws: DriverError.noDynamicSharedMemory) { try OPTEEDriver(space: space, conduit: FakeSecureWorld(space: space, caps: [.rpcArg])) }
    }

    @Test func probeReadsCapabilitiesThreadCountAndRPCArgSize() throws {
        let (d, _) = try FakeSecureWorld.driver(threads: 3)
        #expect(d.threadCount == 3)
        #expect(d.rpcParamCount == 4)
        #expect(d.asyncNotificationsEnabled)
        #expect(d.capabilities.contains(.dynamicSHM))
        let (d2, _) = try FakeSecureWorld.driver(reportThreads: false) { $0.useRPCArg = false }
        #expect(d2.threadCount == nil)
        #expect(d2.rpcParamCount == 0)
    }
}

@Suite struct DriverRequestTests {
    @Test func userSpaceCannotUseKernelOrUndefinedLogins() throws {
        let (d, _) = try FakeSecureWorld.driver()
        #expect(throws: DriverError.notPermitted) {
            try d.openSession(uuid: .zero, login: .reeKernel, clientUUID: .zero, params: [])
        }
        #expect(throws: DriverError.badParameters) {
            try d.openSession(uuid: .zero, login: LoginMethod(rawValue: 3), clientUUID: .zero, params: [])
        }
        #expect(d.statistics.stdCalls == 0)
    }

    @Test func invokeCarriesValuesAndReportsOutputs() throws {
        let (d, _) = try FakeSecureWorld.driver()
        let r = try d.invoke(session: 7, function: FakeSecureWorld.Function.increment.rawValue, params: [.value(.inout, a: 41, b: 2, c: 3)])
        #expect(r.ret == .success)
        #expect(r.origin == .trustedApp)
        #expect(r.params == [.value(a: 42, b: 2, c: 3)])
        #expect(throws: DriverError.badParameters) {
            try d.invoke(session: 7, function: 0, params: [DriverParam](repeating: .value(.input), count: 124))
        }
        let n = try d.invoke(session: 7, function: 77, params: [.value(.input, a: 1)])
        #expect(n.ret == .notSupported)
        #expect(n.params == [.none])
    }
}

@Suite struct DriverRPCTests {
    @Test(arguments: [true, false])
    func everyRPCKindIsServedWithAndWithoutThePreallocatedRPCArgument(useRPCArg: Bool) throws {
        let (d, _) = try FakeSecureWorld.driver { $0.useRPCArg = useRPCArg }
        let freeBefore = d.allocator.freePages
        let r = try d.invoke(session: 1, function: FakeSecureWorld.Function.rpcTour.rawValue, params: [.value(.inout, a: 0)])
        #expect(r.ret == .success)
        #expect(r.params[0] == .value(a: FakeSecureWorld.tourChecks, b: 0, c: 0))
        let st = d.statistics
        #expect(st.rpcFunctions[RPCFunction.foreignInterrupt.rawValue] == 1)
        #expect(st.rpcFunctions[0xFFFF_0009 & 0xFFFF] == 1)
        #expect(st.rpcCommands[RPCCommand.getTime.rawValue] == 1)
        #expect(st.rpcCommands[RPCCommand.shmAlloc.rawValue] == 1)
        #expect(st.rpcCommands[RPCCommand.shmFree.rawValue] == 1)
        if !useRPCArg {
            #expect(st.rpcFunctions[RPCFunction.alloc.rawValue] == 1)
            #expect(st.rpcFunctions[RPCFunction.free.rawValue] == 1)
        }
        // Everything the secure world allocated was given back (the arg page stays pooled).
        #expect(d.sharedMemoryCount == 0)
        #expect(d.allocator.freePages >= freeBefore - 1)
    }

    @Test func theRPCArgumentCacheFindsWhatWasPublishedUntilItIsWithdrawnOrDisplaced() {
        let cache = RPCArgumentCache()
        func handle(_ id: UInt64, _ address: UInt64, size: Int) -> SharedMemoryHandle {
            SharedMemoryHandle(id: id, address: IPA(address), size: size, kind: .kernel, registered: false)
        }
        #expect(cache.lookup(7) == nil)
        cache.publish(handle(7, 0x40_3000, size: 96))
        #expect(cache.lookup(7).map { [$0.0.raw, UInt64($0.1)] } == [0x40_3000, 96])
        #expect(cache.lookup(7 + UInt64(RPCArgumentCache.slots)) == nil)   // same slot, other cookie
        // Only the first page is served in place; a whole page fits the low bits.
        cache.publish(handle(8, 0x40_4000, size: 3 * pageSize))
        #expect(cache.lookup(8)?.1 == pageSize)
        // A cookie in the same slot displaces the older one, which then falls back to the table.
        cache.publish(handle(7 + UInt64(RPCArgumentCache.slots), 0x40_5000, size: 64))
        #expect(cache.lookup(7) == nil)
        #expect(cache.lookup(7 + UInt64(RPCArgumentCache.slots))?.0 == IPA(0x40_5000))
        cache.withdraw(8)
        #expect(cache.lookup(8) == nil)
        // Not page aligned, empty, or cookie 0: never cached.
        cache.publish(handle(9, 0x40_6010, size: 64))
        cache.publish(handle(10, 0x40_7000, size: 0))
        cache.publish(handle(0, 0x40_8000, size: 64))
        #expect(cache.lookup(9) == nil && cache.lookup(10) == nil && cache.lookup(0) == nil)
    }

    @Test func notificationWaitBlocksUntilASendOfTheSameKeyAndIsBounded() throws {
        let clock = ManualClock()
        let table = NotificationTable(clock: clock)
        table.send(key: 5)
        #expect(table.wait(key: 5, timeout: 1))           // a send before the wait is remembered
        // ... but only once: the next wait lasts exactly its bound on the host clock.
        let timedOut = Atomic<Bool>(false)
        let ended = DispatchSemaphore(value: 0)
        Thread.detachNewThread { timedOut.store(!table.wait(key: 5, timeout: 0.05), ordering: .relaxed); ended.signal() }
        #expect(clock.waitForSleepers(1))
        clock.advance(seconds: 0.049)
        #expect(ended.wait(timeout: .now()) == .timedOut)  // not before its bound
        clock.advance(seconds: 0.001)
        #expect(ended.wait(timeout: .now() + 10) == .success)
        let didTimeOut = timedOut.load(ordering: .relaxed)
        #expect(didTimeOut)
        let woke = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            woke.store(table.wait(key: 9, timeout: 5), ordering: .relaxed); done.signal()
        }
        #expect(waitUntil { table.waiting > 0 })
        table.send(key: 8)                                 // another key does not wake it
        #expect(table.waiting == 1)
        table.send(key: 9)
        #expect(done.wait(timeout: .now() + 5) == .success)
        let didWake = woke.load(ordering: .relaxed)
        #expect(didWake)
    }

    @Test func asyncNotificationBottomHalfWakesWaitersAndRunsDoBottomHalf() throws {
        let (d, fake) = try FakeSecureWorld.driver()
        fake.queueAsyncValue(0)      // DO_BOTTOM_HALF
        fake.queueAsyncValue(42)     // a notification value
        #expect(d.handleAsyncNotification() == 2)
        #expect(d.notifications.wait(key: 42, timeout: 0.5))
        #expect(d.statistics.stdCalls == 1)
    }

    @Test func supplicantAbsentMeansCommunicationAfterABoundedWait() throws {
        let clock = ManualClock()
        let (d, _) = try FakeSecureWorld.driver {
            $0.supplicantAbsentWait = 0.05
            $0.host = HostServices(clock: clock, identity: .current)
        }
        let result = Mutex<TEEResult?>(nil)
        let ended = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let r = d.supplicant.call(.fs, [.value(.valueInput, a: 0, b: 0, c: 0)], served: 1, absent: 0.05)
            result.withLock { $0 = r.result }; ended.signal()
        }
        #expect(clock.waitForSleepers(1))
        #expect(ended.wait(timeout: .now()) == .timedOut)  // nobody answers, but the bound has not passed
        clock.advance(seconds: 0.05)
        #expect(ended.wait(timeout: .now() + 10) == .success)
        #expect(result.withLock { $0 } == .communication)
        #expect(d.supplicant.timeouts == 1)
    }

    @Test func aDetachedSupplicantFailsItsPendingRequestsAndItsLateRepliesAreDropped() throws {
        let ch = SupplicantChannel()
        guard let conn = ch.attach() else { Issue.record("attach"); return }
        #expect(ch.attach() == nil)
        let got = Mutex<SupplicantResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let r = ch.call(.fs, [], served: 5, absent: 5)
            got.withLock { $0 = r }; done.signal()
        }
        guard let req = ch.receive(conn, timeout: 5) else { Issue.record("receive"); return }
        ch.detach(conn)                                    // killed while serving
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(got.withLock { $0?.result } == .communication)
        ch.reply(conn, SupplicantResponse(id: req.id, result: .success, params: []))   // ignored
        #expect(ch.receive(conn, timeout: 0) == nil)       // nothing left to take
        #expect(ch.attach() != nil)                        // a new supplicant may attach
    }

    /// A request the supplicant has taken is never given up on: answering the secure world
    /// COMMUNICATION while the supplicant still runs it (a rename stalled on a slow disk) let the
    /// rename land after the store's lock had passed to another guest, renaming that guest's
    /// staged directory away (its commit: ITEM_NOT_FOUND) -- the load flake of round 3.
    @Test func aRequestTheSupplicantIsServingIsWaitedForPastItsBoundNotAbandoned() throws {
        let clock = ManualClock()
        let ch = SupplicantChannel(clock: clock)
        guard let conn = ch.attach() else { Issue.record("attach"); return }
        let got = Mutex<SupplicantResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        let rename: [SupplicantParam] = [.value(.valueInput, a: RPCFSOperation.rename.rawValue, b: 1, c: 0)]
        Thread.detachNewThread {
            let r = ch.call(.fs, rename, served: 10, absent: 0.5)
            got.withLock { $0 = r }; done.signal()
        }
        guard let req = ch.receive(conn, timeout: 10) else { Issue.record("receive"); return }   // in service now
        #expect(clock.waitForSleepers(1))
        clock.advance(seconds: 10)                         // its bound passes while the supplicant works on it
        // The driver either gave up (ended: the old behaviour) or noticed it is still being served.
        #expect(waitUntil { ch.overdue == 1 || got.withLock { $0 } != nil })
        #expect(got.withLock { $0 } == nil, "the driver answered \(String(describing: got.withLock { $0?.result })) while the supplicant was still serving the request")
        clock.advance(seconds: 60)                         // much later still: waited for, not abandoned
        ch.reply(conn, SupplicantResponse(id: req.id, result: .success, params: rename))
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(got.withLock { $0?.result } == .success, "the supplicant's own answer reaches the secure world")
        #expect(ch.timeouts == 0)
    }

    /// A request no supplicant took within its bound is withdrawn: it fails COMMUNICATION and is
    /// never served afterwards (so it cannot run behind the secure world's back either).
    @Test func aRequestNoSupplicantTookIsWithdrawnAtItsBoundAndNeverServed() throws {
        let clock = ManualClock()
        let ch = SupplicantChannel(clock: clock)
        guard let conn = ch.attach() else { Issue.record("attach"); return }
        let got = Mutex<SupplicantResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let r = ch.call(.fs, [], served: 10, absent: 0.5)
            got.withLock { $0 = r }; done.signal()
        }
        #expect(waitUntil { ch.waitingRequests == 1 })
        #expect(clock.waitForSleepers(1))
        clock.advance(seconds: 10)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(got.withLock { $0?.result } == .communication)
        #expect(ch.timeouts == 1)
        #expect(ch.receive(conn, timeout: 0) == nil, "a withdrawn request reached the supplicant")
    }
}


@Suite struct DriverSharedMemoryTests {
    @Test func pageListsNameEveryDataPageAndChainListPages() throws {
        let memory = PhysicalMemory()
        let space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 700)
        let alloc = GuestPageAllocator(space: space)
        let data = try alloc.allocate(pages: 600)
        let start = IPA(data.base.raw + 0x123)
        let entries = (0..<600).map { data.base.raw + UInt64($0 * 4096) }
        #expect(PageListBuilder.pageCount(address: start, size: 600 * 4096 - 0x123) == 600)
        let (list, ptr) = try PageListBuilder.build(address: start, size: 600 * 4096 - 0x123, allocator: alloc)
        #expect(ptr & 0xFFF == 0x123)
        #expect(list.pages == 2)
        let first = try space.read(list.base, count: 4096)
        let decoded = try first.withUnsafeBytes { b throws(ABIError) in try PageList.Page.decode(b, count: 511) }
        #expect(decoded.entries == Array(entries[0..<511]))
        #expect(decoded.next == list.page(1).address.raw)
        let second = try space.read(IPA(decoded.next), count: 4096)
        let d2 = try second.withUnsafeBytes { b throws(ABIError) in try PageList.Page.decode(b, count: 89) }
        #expect(d2.entries == Array(entries[511...]))
        #expect(d2.next == 0)
    }

    @Test func guestAllocatorReusesFreedRunsAndReportsExhaustion() throws {
        let memory = PhysicalMemory()
        let space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 8)
        let alloc = GuestPageAllocator(space: space, range: 0..<8)
        let a = try alloc.allocate(pages: 3), b = try alloc.allocate(pages: 5)
        #expect(throws: DriverError.outOfMemory) { try alloc.allocate(pages: 1) }
        alloc.free(a)
        let c = try alloc.allocate(pages: 3)
        #expect(c == a)
        alloc.free(b); alloc.free(b)                      // double free is ignored
        #expect(alloc.freePages == 5)
    }

    @Test func aCallersOwnPagesAreRegisteredInPlaceAndStayTheCallersAfterRelease() throws {
        let (d, fake) = try FakeSecureWorld.driver()
        let user = try d.allocator.allocate(pages: 3)                  // "user" memory in guest RAM
        _ = try d.invoke(session: 1, function: 0, params: [.value(.inout)])   // warms the argument pool
        let freeBefore = d.allocator.freePages
        let shm = try d.registerSharedMemory(address: IPA(user.base.raw + 100), size: 8000)
        #expect(shm.registered && shm.kind == .client)
        #expect(fake.state.withLock { $0.registered.contains(shm.id) })
        try d.write(shm, offset: 0, [7])
        #expect(try d.space.read(IPA(user.base.raw + 100), count: 1) == [7])   // no copy: the same pages
        try d.release(shm)
        #expect(!fake.state.withLock { $0.registered.contains(shm.id) })
        #expect(d.allocator.freePages == freeBefore)                    // the caller's pages were not freed
        #expect(throws: DriverError.badParameters) { try d.registerSharedMemory(address: IPA(0x10), size: 10) }   // not guest RAM
    }

    @Test func registeredMemoryGoesAsRMEMAndIsUnregisteredOnRelease() throws {
        let (d, fake) = try FakeSecureWorld.driver()
        let shm = try d.allocateSharedMemory(size: 9000)
        #expect(shm.registered)
        #expect(fake.state.withLock { $0.registered.contains(shm.id) })
        try d.write(shm, offset: 8990, [1, 2, 3])
        #expect(try d.read(shm, offset: 8990, count: 3) == [1, 2, 3])
        #expect(throws: DriverError.badParameters) { try d.read(shm, offset: 8999, count: 2) }
        #expect(throws: DriverError.badParameters) {
            try d.invoke(session: 1, function: 0, params: [.value(.inout), .memref(.input, shm: shm, offset: 8000, size: 2000)])
        }
        try d.release(shm)
        #expect(!fake.state.withLock { $0.registered.contains(shm.id) })
        #expect(throws: DriverError.badParameters) { try d.release(shm) }
    }
}

@Suite struct CallQueueTests {
    /// 64 callers on 8 secure threads: every one completes, nobody is overtaken, the fake never
    /// sees more than 8 calls at once and never answers ETHREAD_LIMIT.
    @Test func sixtyFourCallersOnEightThreadsAreServedInArrivalOrder() throws {
        let (d, fake) = try FakeSecureWorld.driver(threads: 8)
        let records = Mutex<[QueueRecord]>([])
        let finished = runOnThreads(64) { _ in
            if let r = try? d.invoke(session: 1, function: FakeSecureWorld.Function.hold.rawValue, params: [.value(.input, a: 5)]),
               r.ret == .success { records.withLock { $0.append(r.queue) } }
        }
        #expect(finished)
        let recs = records.withLock { $0 }
        #expect(recs.count == 64)
        let byArrival = recs.sorted { $0.arrival < $1.arrival }
        #expect(byArrival.map(\.grant) == byArrival.map(\.grant).sorted())
        #expect(fake.state.withLock { $0.maxBusy } <= 8)
        #expect(d.statistics.threadLimitHits == 0)
        #expect(d.callQueue.maxQueued > 0)
    }

    /// Without a thread count the secure world answers ETHREAD_LIMIT; callers wait for completions
    /// and retry, and all of them finish.
    @Test func threadLimitAnswersAreRetriedUntilEveryCallerFinishes() throws {
        let (d, _) = try FakeSecureWorld.driver(threads: 2, reportThreads: false)
        let ok = Atomic<Int>(0)
        let all = runOnThreads(12) { _ in
            if let r = try? d.invoke(session: 1, function: FakeSecureWorld.Function.hold.rawValue, params: [.value(.input, a: 5)]),
               r.ret == .success { ok.wrappingAdd(1, ordering: .relaxed) }
        }
        #expect(all)
        let finished = ok.load(ordering: .relaxed)
        #expect(finished == 12)
        #expect(d.statistics.threadLimitHits > 0)
    }

    @Test func aCallerThatCannotGetAThreadInTimeGivesUpWithBusy() throws {
        let clock = ManualClock()
        let q = CallQueue(limit: 1, clock: clock)
        #expect(q.enter(timeout: 1) != nil)
        let gaveUp = Atomic<Bool>(false)
        let ended = DispatchSemaphore(value: 0)
        Thread.detachNewThread { gaveUp.store(q.enter(timeout: 0.02) == nil, ordering: .relaxed); ended.signal() }
        #expect(clock.waitForSleepers(1))
        #expect(q.queued == 1)
        clock.advance(seconds: 0.02)
        #expect(ended.wait(timeout: .now() + 10) == .success)
        let didGiveUp = gaveUp.load(ordering: .relaxed)
        #expect(didGiveUp)
        #expect(q.queued == 0)
        q.leave()
        #expect(q.enter(timeout: 1) != nil)
    }

    /// A slot given back hands over to the oldest waiter at once, whatever the clock says.
    @Test func aLeavingCallerHandsItsSlotToTheOldestWaiter() throws {
        let clock = ManualClock()
        let q = CallQueue(limit: 1, clock: clock)
        let first = try #require(q.enter(timeout: 1))
        let second = Mutex<(arrival: UInt64, grant: UInt64)?>(nil)
        let ended = DispatchSemaphore(value: 0)
        Thread.detachNewThread { let t = q.enter(timeout: 5); second.withLock { $0 = t }; ended.signal() }
        #expect(clock.waitForSleepers(1))
        q.leave()
        #expect(ended.wait(timeout: .now() + 10) == .success)
        let t = try #require(second.withLock { $0 })
        #expect(t.arrival == first.arrival + 1 && t.grant == first.grant + 1)
        #expect(q.active == 1)
    }
}
