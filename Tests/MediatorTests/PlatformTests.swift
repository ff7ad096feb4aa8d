/// Platform routing, SMCCC architecture calls, build-time registration rules, retries and TRNG.
import Dispatch
import Foundation
import Machine
import MediatedPlatform
import Mediator
import Platform
import Synchronization
import TEEABI
import Testing

private func platform(_ services: [any PlatformService] = [TRNGService()]) throws -> Platform {
    var b = PlatformBuilder()
    for s in services { try b.register(s) }
    return b.build()
}

@Test func smcccVersionIsOnePointTwo() throws {
    let p = try platform()
    #expect(p.trap(RegisterFrame(.smcccVersion), guest: GuestID(0), vcpu: 0).a0 == 0x1_0002)
}

@Test func archFeaturesAnswersOnlyImplementedArchitectureCalls() throws {
    let p = try platform()
    #expect(p.trap(RegisterFrame(.smcccArchFeatures, a1: UInt64(SMCFunctionID.smcccVersion.rawValue)), guest: GuestID(0), vcpu: 0).a0 == 0)
    #expect(p.trap(RegisterFrame(.smcccArchFeatures, a1: 0x8000_8000), guest: GuestID(0), vcpu: 0).a0 == 0xFFFF_FFFF)
}

@Test func unclaimedIDsGetNotSupportedAtTheirWidth() throws {
    let p = try platform()
    #expect(p.trap(RegisterFrame(.callWithArg), guest: GuestID(0), vcpu: 0).a0 == 0xFFFF_FFFF)
    #expect(p.trap(RegisterFrame(a0: 0xC300_0001), guest: GuestID(0), vcpu: 0).a0 == UInt64.max)
    #expect(p.stats.unclaimed == 2)
}

@Test func secondServiceForARangeIsABuildError() throws {
    var b = PlatformBuilder()
    try b.register(FunctionService(name: "a", range: .trustedOS) { f, _ in .frame(f) })
    #expect(throws: PlatformBuildError.self) {
        try b.register(FunctionService(name: "b", range: SMCServiceRange(owners: 63...63)) { f, _ in .frame(f) })
    }
    #expect(throws: PlatformBuildError.self) {
        try b.register(FunctionService(name: "arch", range: SMCServiceRange(owners: 0...0)) { f, _ in .frame(f) })
    }
    try b.register(TRNGService())
    #expect(b.build().registered.count == 2)
}

@Test func serviceGetsCallerIdentityAndFrameByValue() throws {
    let seen = Mutex<[CallerIdentity]>([])
    let p = try platform([FunctionService(name: "echo", range: .trustedOS) { f, c in
        seen.withLock { $0.append(c) }
        var out = f; out.a0 = 0; return .frame(out)
    }])
    let out = p.trap(RegisterFrame(.callWithArg, a1: 5), guest: GuestID(3), vcpu: 2)
    #expect(out.a0 == 0 && out.a1 == 5)
    #expect(seen.withLock { $0 } == [CallerIdentity(guest: GuestID(3), vcpu: 2)])
}

@Test func retryIsBoundedThenBusy() throws {
    let tries = Atomic<Int>(0)
    var b = PlatformBuilder()
    b.maxRetries = 3
    b.maxRetryDelay = .microseconds(10)
    let paused = Mutex<[Duration]>([])
    b.pause = { d in paused.withLock { $0.append(d) } }
    try b.register(FunctionService(name: "busy", range: .trustedOS, busy: { _ in 0xB5 }) { _, _ in
        tries.add(1, ordering: .relaxed); return .retry(after: .seconds(10))
    })
    let p = b.build()
    #expect(p.trap(RegisterFrame(.callWithArg), guest: GuestID(0), vcpu: 0).a0 == 0xB5)
    #expect(tries.load(ordering: .relaxed) == 4)
    #expect(p.stats.retries == 3 && p.stats.busy == 1)
    // The hint is honoured up to the platform's ceiling.
    #expect(paused.withLock { $0 } == [.microseconds(10), .microseconds(10), .microseconds(10)])
}

@Test func retryThatSucceedsReturnsTheFrame() throws {
    let tries = Atomic<Int>(0)
    let p = try platform([FunctionService(name: "flaky", range: .trustedOS) { _, _ in
        tries.add(1, ordering: .relaxed).oldValue < 2 ? .retry(after: .microseconds(1)) : .frame(RegisterFrame(a0: 0))
    }])
    #expect(p.trap(RegisterFrame(.callWithArg), guest: GuestID(0), vcpu: 0).a0 == 0)
    #expect(tries.load(ordering: .relaxed) == 3)
}

@Test func failureIsCountedAndMappedByTheService() throws {
    let p = try platform([FunctionService(name: "fails", range: .trustedOS, failure: { _, _ in 0x7 }) { _, _ in
        .failed(.unavailable("gone"))
    }])
    #expect(p.trap(RegisterFrame(.callWithArg), guest: GuestID(0), vcpu: 0).a0 == 0x7)
    #expect(p.stats.failures == 1)
}

@Test func trngVersionFeaturesAndUUID() throws {
    let p = try platform()
    #expect(p.trap(RegisterFrame(.trngVersion), guest: GuestID(0), vcpu: 0).a0 == 0x1_0000)
    #expect(p.trap(RegisterFrame(.trngFeatures, a1: UInt64(SMCFunctionID.trngRND64.rawValue)), guest: GuestID(0), vcpu: 0).a0 == 0)
    #expect(p.trap(RegisterFrame(.trngFeatures, a1: 0x8400_0059), guest: GuestID(0), vcpu: 0).a0 == TRNGService.notSupported)
    let u = p.trap(RegisterFrame(.trngGetUUID), guest: GuestID(0), vcpu: 0)
    #expect(u.a0 != 0xFFFF_FFFF)
    #expect(u.a0 == TRNGService.uuidWords.0 && u.a3 == TRNGService.uuidWords.3)
}

@Test func trngRND64ReturnsOnlyTheRequestedBits() throws {
    let p = try platform()
    var seenHigh = false
    for _ in 0..<16 {
        let r = p.trap(RegisterFrame(.trngRND64, a1: 70), guest: GuestID(0), vcpu: 0)
        #expect(r.a0 == 0)
        #expect(r.a1 == 0)                 // bits 191:128 unused
        #expect(r.a2 < (1 << 6))           // only 6 bits of 127:64
        if r.a2 != 0 { seenHigh = true }
    }
    #expect(seenHigh)
    let full = (0..<4).map { _ in p.trap(RegisterFrame(.trngRND64, a1: 192), guest: GuestID(0), vcpu: 0) }
    #expect(Set(full.map(\.a3)).count == 4)   // 64 random bits do not repeat
}

@Test func trngRejectsBadBitCounts() throws {
    let p = try platform()
    #expect(p.trap(RegisterFrame(.trngRND64, a1: 0), guest: GuestID(0), vcpu: 0).a0 == UInt64(bitPattern: -2))
    #expect(p.trap(RegisterFrame(.trngRND64, a1: 193), guest: GuestID(0), vcpu: 0).a0 == UInt64(bitPattern: -2))
    #expect(p.trap(RegisterFrame(.trngRND32, a1: 97), guest: GuestID(0), vcpu: 0).a0 == 0xFFFF_FFFE)
}

@Test func conduitBindsTheGuest() throws {
    let seen = Mutex<GuestID?>(nil)
    let p = try platform([FunctionService(name: "who", range: .trustedOS) { f, c in
        seen.withLock { $0 = c.guest }; return .frame(f)
    }])
    let c = PlatformConduit(platform: p, guest: GuestID(9))
    _ = c.trap(RegisterFrame(.callWithArg), vcpu: 1)
    #expect(seen.withLock { $0 } == GuestID(9))
}

/// A clock the test drives: the platform's retry pause advances it, so no test waits on the wall clock.
private final class TestClock: Sendable {
    let nanos = Atomic<Int64>(0)
    var now: Duration { .nanoseconds(nanos.load(ordering: .relaxed)) }
    func advance(_ d: Duration) {
        let (s, atto) = d.components
        nanos.add(s * 1_000_000_000 + atto / 1_000_000_000, ordering: .relaxed)
    }
}

/// A platform with a TRNG whose per-guest budget runs on `clock`, retries pausing on it.
private func trngPlatform(_ budget: EntropyBudget, clock: TestClock, retries: Int = 8) throws -> Platform {
    var b = PlatformBuilder()
    b.maxRetries = retries
    b.maxRetryDelay = .milliseconds(2)
    b.pause = { clock.advance($0) }
    try b.register(TRNGService(budget: budget, clock: { clock.now }))
    return b.build()
}

@Test func trngGuestDrawingPastItsBudgetIsHeldAtTheTrapEntryUntilBitsAccrue() throws {
    let clock = TestClock()
    // 100 kbit/s, a burst of one RND64: the second draw needs 1.92 ms of accrual.
    let p = try trngPlatform(EntropyBudget(bitsPerSecond: 100_000, burstBits: 192), clock: clock)
    #expect(p.trap(RegisterFrame(.trngRND64, a1: 192), guest: GuestID(0), vcpu: 0).a0 == 0)
    #expect(p.stats.retries == 0)
    let second = p.trap(RegisterFrame(.trngRND64, a1: 192), guest: GuestID(0), vcpu: 0)
    #expect(second.a0 == 0)
    #expect(p.stats.retries == 1)                                  // one wait, as long as the service said
    #expect(clock.now >= .microseconds(1920) && clock.now <= .milliseconds(2))
}

@Test func trngGuestDrainingItsBudgetGetsNoEntropyAfterBoundedRetries() throws {
    let clock = TestClock()
    let p = try trngPlatform(EntropyBudget(bitsPerSecond: 1_000, burstBits: 192), clock: clock, retries: 3)
    #expect(p.trap(RegisterFrame(.trngRND32, a1: 96), guest: GuestID(1), vcpu: 0).a0 == 0)
    #expect(p.trap(RegisterFrame(.trngRND32, a1: 96), guest: GuestID(1), vcpu: 0).a0 == 0)
    // The bucket is empty and refills at 1 bit/ms: three 2 ms waits are not enough for 96 bits.
    #expect(p.trap(RegisterFrame(.trngRND32, a1: 96), guest: GuestID(1), vcpu: 0).a0 == TRNGService.noEntropy)
    #expect(p.trap(RegisterFrame(.trngRND64, a1: 64), guest: GuestID(1), vcpu: 0).a0 == UInt64(bitPattern: -3))
    #expect(p.stats.busy == 2 && p.stats.retries == 6)
    #expect(clock.now == .milliseconds(12))
}

@Test func oneGuestDrainingTheTRNGDoesNotSlowAnother() throws {
    let clock = TestClock()
    let p = try trngPlatform(EntropyBudget(bitsPerSecond: 1_000, burstBits: 192), clock: clock, retries: 0)
    #expect(p.trap(RegisterFrame(.trngRND64, a1: 192), guest: GuestID(2), vcpu: 0).a0 == 0)
    #expect(p.trap(RegisterFrame(.trngRND64, a1: 192), guest: GuestID(2), vcpu: 0).a0 == UInt64(bitPattern: -3))
    #expect(p.trap(RegisterFrame(.trngRND64, a1: 192), guest: GuestID(3), vcpu: 0).a0 == 0)
    #expect(clock.now == .zero)
}

@Test func servicesSplittingOneOwnerEachAnswerTheirOwnFunctions() throws {
    let p = try platform([TRNGService(),
                          FunctionService(name: "low std service", range: SMCServiceRange(owners: 4...4, functions: 0x00...0x1F)) { _, _ in
                              .frame(RegisterFrame(a0: 0x51))
                          }])
    #expect(p.trap(RegisterFrame(.trngVersion), guest: GuestID(0), vcpu: 0).a0 == TRNGService.version)
    #expect(p.trap(RegisterFrame(a0: 0x8400_0001), guest: GuestID(0), vcpu: 0).a0 == 0x51)
    #expect(p.trap(RegisterFrame(a0: 0x8400_0030), guest: GuestID(0), vcpu: 0).a0 == 0xFFFF_FFFF)
    #expect(p.stats.unclaimed == 1)
}

/// The trap count (per calling thread, summed on read) and the mediator's fast-call count stay
/// exact when several threads trap at once, even on one vCPU index (a hostile guest may).
@Test func trapAndFastCallCountsAreExactUnderConcurrentTraps() throws {
    let memory = PhysicalMemory()
    let mediator = try Mediator(memory: memory, secureWorld: FakeSecureWorld(memory: memory))
    let p = try makeMediatedPlatform(mediator: mediator)
    let space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 16)
    try mediator.addGuest(space)
    let before = (p.stats.traps, mediator.totals.fastCalls)
    let threads = 6, perThread = 5_000
    let wrong = Atomic<Int>(0)
    let done = DispatchSemaphore(value: 0)
    for t in 0..<threads {
        Thread.detachNewThread {
            for _ in 0..<perThread where p.trap(RegisterFrame(.callsUID), guest: GuestID(0), vcpu: t % 2).a0 != UInt64(OPTEEIdentity.apiUID.0) {
                wrong.add(1, ordering: .relaxed)
            }
            done.signal()
        }
    }
    for _ in 0..<threads { #expect(done.wait(timeout: .now() + 60) == .success) }
    #expect(wrong.load(ordering: .relaxed) == 0)
    #expect(p.stats.traps - before.0 == threads * perThread)
    #expect(mediator.totals.fastCalls - before.1 == threads * perThread)
}
