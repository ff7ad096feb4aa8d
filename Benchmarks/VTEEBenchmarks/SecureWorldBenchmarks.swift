/// Micro-benchmark of the secure world alone: a NOP INVOKE of vtee.test with four VALUE_INOUT
/// params driven straight into `SecureWorld.smc` (CALL_WITH_ARG at a PA of non-secure RAM, as the
/// mediator forwards it), so `mallocCountTotal` and the wall clock count the secure world and TA
/// dispatch only.
import Benchmark
import Machine
import SecureWorld
import TEEABI
import TrustedApps

func secureWorldBenchmarks() {
    Benchmark("secure world: invoke NOP, 4 values, into SecureWorld.smc", configuration: scaled()) { benchmark in
        let memory = PhysicalMemory()
        let ram = try memory.addRegion(kind: .hypervisor, pages: 16)
        let world = SecureWorld(memory: memory, config: .init(virtualization: false), tas: BuiltinTAs.all)
        let arg = ram.basePA
        func call(_ a: MsgArg) throws -> RegisterFrame {
            try memory.write(arg, a.encoded(), world: .nonSecure)
            let (h, l) = RegisterFrame.split(arg.raw)
            return world.smc(RegisterFrame(.callWithArg, a1: h, a2: l))
        }
        // Open a session on vtee.test (login PUBLIC).
        let meta = OpenSessionMeta(ta: TestTA.uuid, client: .zero, login: .public)
        var open = MsgArg(cmd: .openSession, params: [MsgParam(attr: OpenSessionMeta.metaAttr), MsgParam(attr: OpenSessionMeta.metaAttr)])
        try memory.withBytes(arg, count: open.byteSize, world: .nonSecure) { (b: UnsafeMutableRawBufferPointer) throws(ABIError) in
            let v = try MsgArgView(b)
            try v.store(open)
            try meta.store(into: v)
        }
        let (h, l) = RegisterFrame.split(arg.raw)
        _ = world.smc(RegisterFrame(.callWithArg, a1: h, a2: l))
        let session = try memory.withBytes(arg, count: open.byteSize, world: .nonSecure) { (b: UnsafeMutableRawBufferPointer) throws(ABIError) in
            try MsgArgView(b).session
        }
        open = MsgArg(cmd: .invokeCommand, function: TestTA.Command.nopValues.rawValue, session: session,
                      params: (0..<4).map { MsgParam.value(.valueInout, a: UInt64($0), b: UInt64($0) + 1) })
        _ = try call(open)
        let frame = RegisterFrame(.callWithArg, a1: h, a2: l)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(world.smc(frame)) }
        benchmark.stopMeasurement()
    }
}
