/// Micro-benchmarks (ordo-one/package-benchmark) of vtee's hot paths: the OPTEE_MSG codec, the walk
/// and translation of a 129-page list, guest copy-in/copy-out, and whole in-process calls with their
/// malloc counts. Run with `swift package benchmark` (or `--target VTEEBenchmarks`); no world rules
/// are relaxed here, the stack is built exactly as `vtee bench` builds it.
import Benchmark
import Foundation
import Machine
import TEEABI
import TEEClient
import TrustedApps
import VTEEKit

/// An OPTEE_MSG argument with four VALUE_INOUT params, as INVOKE carries for TestTA's NOP.
func fourValueArg() -> MsgArg {
    MsgArg(cmd: .invokeCommand, function: 0, session: 1,
           params: (0..<4).map { MsgParam.value(.valueInout, a: UInt64($0), b: UInt64($0) + 1, c: 0) })
}

/// A guest with 129 scattered pages of data plus the list page describing them, in guest RAM.
struct PageListFixture {
    let space: GuestAddressSpace
    let listIPA: IPA
    init() throws {
        let memory = PhysicalMemory()
        let s = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: 256, layout: .scattered(seed: 7))
        let data = (0..<129).map { s.ramPage($0 + 1).address.raw }
        let list = s.ramPage(200).address
        let pages = try PageList.build(dataPages: data, listPageAddresses: [list.raw])
        try s.write(list, pages[0])
        space = s; listIPA = list
    }
}

/// 1,000 calls per setup: the fixture (fresh memfd RAM, a whole stack) is built once per batch, so
/// first-touch page faults and stack boot do not land in the per-call figures.
func scaled() -> Benchmark.Configuration { Benchmark.Configuration(scalingFactor: .kilo) }

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                           warmupIterations: 100, maxDuration: .seconds(2), maxIterations: 1_000_000)
    mediatorBenchmarks()
    secureWorldBenchmarks()

    Benchmark("codec: MsgArg decode, 4 value params", configuration: scaled()) { benchmark in
        let bytes = fourValueArg().encoded()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try? MsgArg.decode(bytes)) }
    }

    Benchmark("codec: MsgArg encode, 4 value params", configuration: scaled()) { benchmark in
        let arg = fourValueArg()
        var out = [UInt8](repeating: 0, count: 4096)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            out.withUnsafeMutableBytes { b in blackHole(try? arg.encode(into: b)) }
        }
    }

    Benchmark("page list: walk + translate 129 pages", configuration: scaled()) { benchmark in
        let f = try PageListFixture()
        let space = f.space
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let ipas = try PageList.walk(first: f.listIPA.raw, pageCount: 129, maxPages: 512) { (a: UInt64) throws(MemoryError) -> [UInt8] in
                try space.read(IPA(a), count: PageList.pageSize)
            }
            var pas: [PA] = []
            pas.reserveCapacity(ipas.count)
            for a in ipas { pas.append(try space.translate(IPA(a))) }
            blackHole(pas)
        }
    }

    Benchmark("copy-in: guest read 4 KiB", configuration: scaled()) { benchmark in
        let f = try PageListFixture()
        var buf = [UInt8](repeating: 0, count: 4096)
        let ipa = f.space.ramPage(3).address
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try buf.withUnsafeMutableBytes { b in try f.space.read(ipa, into: b) }
        }
    }

    Benchmark("copy-out: guest write 4 KiB", configuration: scaled()) { benchmark in
        let f = try PageListFixture()
        let buf = [UInt8](repeating: 0x5A, count: 4096)
        let ipa = f.space.ramPage(3).address
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try buf.withUnsafeBytes { b in try f.space.write(ipa, from: b) }
        }
    }

    Benchmark("stack: fast call GET_OS_REVISION", configuration: scaled()) { benchmark in
        let dir = NSTemporaryDirectory() + "vtee-ordo-\(getpid())"
        var sc = StackConfig(); sc.storageRoot = dir; sc.logger.logLevel = .critical
        let stack = try VTEEStack(config: sc)
        let g = try stack.addGuest(GuestID(0))
        defer { stack.removeGuest(g); try? FileManager.default.removeItem(atPath: dir) }
        let frame = RegisterFrame(.getOSRevision)
        let conduit = g.driver.conduit
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(conduit.trap(frame, vcpu: 0)) }
        benchmark.stopMeasurement()
    }

    Benchmark("stack: invoke NOP, 4 values", configuration: scaled()) { benchmark in
        let dir = NSTemporaryDirectory() + "vtee-ordo-\(getpid())"
        var sc = StackConfig(); sc.storageRoot = dir; sc.logger.logLevel = .critical
        let stack = try VTEEStack(config: sc)
        let g = try stack.addGuest(GuestID(0))
        defer { stack.removeGuest(g); try? FileManager.default.removeItem(atPath: dir) }
        let session = try g.context.openSession(TestTA.uuid)
        defer { session.close() }
        var op = TEEOperation([.valueInout(a: 1, b: 2), .valueInout(a: 3, b: 4), .valueInout(a: 5, b: 6), .valueInout(a: 7, b: 8)])
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { try session.invoke(TestTA.Command.nopValues.rawValue, &op) }
        benchmark.stopMeasurement()
    }
}
