/// Many guests, each with its own driver and TEEClient, running the built-in TAs at the same
/// time through platform + mediator into one secure world, with correct results and nothing
/// left behind afterwards.
import Foundation
import Machine
import Mediator
import NormalWorld
import Platform
import SecureWorld
import Synchronization
import TEEABI
import TEEClient
import Testing
import TrustedApps
import MediatedPlatform

/// Runs `n` bodies on their own threads; false if they did not all finish within `seconds`.
private func onThreads(_ n: Int, seconds: Double = 60, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    for i in 0..<n { Thread.detachNewThread { body(i); done.signal() } }
    for _ in 0..<n { guard done.wait(timeout: .now() + seconds) == .success else { return false } }
    return true
}

/// One guest's workout through TEEClient; returns a description of the first wrong result.
private func workout(_ ctx: TEEContext, guest: Int) -> String? {
    do {
        let hello = try ctx.openSession(HelloWorldTA.uuid)
        var v = UInt32(guest * 1000)
        for _ in 0..<20 {
            var op = TEEOperation([.valueInout(a: v, b: 0)])
            try hello.invoke(HelloWorldTA.Command.increment.rawValue, &op)
            guard op.params[0].value.a == v + 1 else { return "hello_world: \(op.params[0].value.a) != \(v + 1)" }
            v += 1
        }
        hello.close()
        let test = try ctx.openSession(TestTA.uuid)
        var nop = TEEOperation((0..<4).map { .valueInout(a: UInt32(guest + $0), b: 7) })
        try test.invoke(TestTA.Command.nopValues.rawValue, &nop)
        guard nop.params.enumerated().allSatisfy({ $0.element.value == (UInt32(guest + $0.offset + 1), 8) }) else { return "nop values" }
        var time = TEEOperation([.valueOutput()])
        try test.invoke(TestTA.Command.getTime.rawValue, &time)
        guard time.params[0].value.a > 0 else { return "get_time returned 0" }
        let data = Array("guest \(guest) says hello through the mediator".utf8)
        var echo = TEEOperation([.tempInout(data)])
        try test.invoke(TestTA.Command.echoMemref.rawValue, &echo)
        guard echo.params[0].buffer == Array(data.reversed()) else { return "echo: \(echo.params[0].buffer)" }
        var shm = TEEOperation([.valueInput(a: 8192, b: 1)])
        try test.invoke(TestTA.Command.shmRoundTrip.rawValue, &shm)
        test.close()
        return nil
    } catch {
        return "\(error)"
    }
}

@Test func sixteenGuestsRunTheBuiltinTAsConcurrentlyThroughTheMediator() throws {
    let memory = PhysicalMemory()
    let secure = SecureWorld(memory: memory, config: SecureWorldConfig(threadsPerVM: 4), tas: BuiltinTAs.all)
    let mediator = try Mediator(memory: memory, secureWorld: secure)
    let platform = try makeMediatedPlatform(mediator: mediator)
    var spaces: [GuestAddressSpace] = []
    var contexts: [TEEContext] = []
    for i in 0..<16 {
        let space = try GuestAddressSpace(memory: memory, id: GuestID(UInt32(i)), pages: 256, layout: .scattered(seed: UInt64(i)))
        try mediator.addGuest(space)
        let driver = try OPTEEDriver(space: space, conduit: PlatformConduit(platform: platform, guest: space.id),
                                     configuration: DriverConfiguration(vcpus: 2))
        spaces.append(space)
        contexts.append(TEEContext(driver: driver))
    }
    let failures = Mutex<[String]>([])
    let ctxs = contexts
    let finished = onThreads(16) { i in
        if let f = workout(ctxs[i], guest: i) { failures.withLock { $0.append("guest \(i): \(f)") } }
    }
    #expect(finished)
    #expect(failures.withLock { $0 } == [])
    for (i, s) in spaces.enumerated() {
        contexts[i].finalize()
        let m = mediator.stats(s.id)
        #expect(m?.callsInFlight == 0 && m?.sessions == 0, "guest \(i): \(String(describing: m))")
        #expect(m?.pinnedPages == s.pinnedPages)
        #expect(m?.rpcsByKind["cmd:get_time"] == 1)
        #expect(secure.stats(clientID: s.id.clientID)?.sessions == 0)
    }
    for (i, s) in spaces.enumerated() {
        contexts[i].driver.shutdown()
        mediator.destroyGuest(s.id)
        #expect(s.pinnedPages == 0)
        #expect(secure.stats(clientID: s.id.clientID) == nil)
    }
    #expect(mediator.totals.guestsDestroyed == 16)
}
