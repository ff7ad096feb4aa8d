/// Micro-benchmarks of the hypervisor layers alone (platform trap entry + mediator) over a secure
/// world stub that answers without allocating, so `mallocCountTotal` and the wall clock count the
/// platform and the mediator only: a fast call (GET_OS_REVISION) and a NOP INVOKE with four
/// VALUE_INOUT params, both from a raw guest writing its argument once into its RAM.
import Benchmark
import Machine
import Mediator
import Platform
import TEEABI

/// A secure world reduced to what the mediator asks at start, one fast call, and std calls that
/// complete in place (ret SUCCESS, session 1 for OPEN_SESSION); it allocates nothing per call.
private final class StubSecureWorld: SMCEntry, Sendable {
    let memory: PhysicalMemory
    init(memory: PhysicalMemory) { self.memory = memory }
    func smc(_ f: RegisterFrame) -> RegisterFrame {
        switch f.function {
        case .getThreadCount: return RegisterFrame(a0: 0, a1: 8)
        case .exchangeCapabilities:
            return RegisterFrame(a0: 0, a1: UInt64(SecureCapabilities([.dynamicSHM, .memrefNull]).rawValue), a3: 4)
        case .vmCreated, .vmDestroyed: return RegisterFrame(a0: 0)
        case .getOSRevision: return RegisterFrame(a0: 4, a1: 0)
        case .callWithArg:
            let pa = PA(RegisterFrame.join(f.a1, f.a2))
            _ = try? memory.withBytes(pa, count: MsgArg.size(numParams: 4), world: .secure) { b in
                guard let v = try? MsgArgView(b) else { return }
                if v.cmd == .openSession { v.session = 1 }
                v.ret = .success
                v.retOrigin = .trustedApp
            }
            return RegisterFrame(a0: 0)
        default: return RegisterFrame(a0: UInt64(SMCReturn.unknownFunction.rawValue))
        }
    }
}

/// Platform + mediator over the stub, and one guest with an open session.
private struct HypervisorRig {
    let platform: Platform
    let space: GuestAddressSpace
    let mediator: Mediator
    init() throws {
        let memory = PhysicalMemory()
        var mc = MediatorConfig(); mc.maxGuests = 2
        mediator = try Mediator(memory: memory, secureWorld: StubSecureWorld(memory: memory), config: mc)
        let med = mediator
        var b = PlatformBuilder()
        try b.register(FunctionService(name: "OP-TEE mediator", range: .trustedOS) { frame, caller in
            .frame(med.handle(frame, guest: caller.guest, vcpu: caller.vcpu))
        })
        platform = b.build()
        space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 16, layout: .scattered(seed: 3))
        try mediator.addGuest(space)
        let meta = OpenSessionMeta(ta: TEEUUID(octets: [UInt8](repeating: 1, count: 16)),
                                   client: TEEUUID(octets: [UInt8](repeating: 0, count: 16)), login: .public)
        try space.write(space.ramPage(0).address, MsgArg(cmd: .openSession, params: meta.params).encoded())
        _ = trap(space.ramPage(0).address)
        let invoke = MsgArg(cmd: .invokeCommand, function: 0, session: 1,
                            params: (0..<4).map { MsgParam.value(.valueInout, a: UInt64($0), b: 0, c: 0) })
        try space.write(space.ramPage(1).address, invoke.encoded())
    }
    func trap(_ arg: IPA) -> RegisterFrame {
        let (h, l) = RegisterFrame.split(arg.raw)
        return platform.trap(RegisterFrame(.callWithArg, a1: h, a2: l), guest: GuestID(0), vcpu: 0)
    }
}

/// Registers the hypervisor-only benchmarks.
func mediatorBenchmarks() {
    Benchmark("hypervisor: fast call GET_OS_REVISION (platform + mediator, stub secure)", configuration: scaled()) { benchmark in
        let rig = try HypervisorRig()
        let frame = RegisterFrame(.getOSRevision)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(rig.platform.trap(frame, guest: GuestID(0), vcpu: 0)) }
        benchmark.stopMeasurement()
    }

    Benchmark("hypervisor: NOP invoke 4 VALUE_INOUT (platform + mediator, stub secure)", configuration: scaled()) { benchmark in
        let rig = try HypervisorRig()
        let arg = rig.space.ramPage(1).address
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(rig.trap(arg)) }
        benchmark.stopMeasurement()
    }
}
