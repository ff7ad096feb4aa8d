/// `vtee bench-loop` (hidden): one of `vtee bench`'s in-process loops alone, for profilers
/// (perf record, valgrind --tool=callgrind). Composition-root code: it builds one stack and one
/// guest as `Bench.inProcess` does and drives the same calls, nothing else, so a profile of the
/// process is a profile of that call path plus a fixed setup cost.
import VTEEKit
import Logging
import Machine
import NormalWorld
import TEEABI
import TEEClient
import TrustedApps

/// The loops `vtee bench-loop` can run.
public enum BenchLoopKind: String, CaseIterable, Sendable {
    /// GET_OS_REVISION from the guest's conduit (fast_call_ns).
    case fastCall = "fast_call"
    /// NOP invoke with four VALUE_INOUT params (invoke_ns).
    case invoke
    /// ECHO_MEMREF with a 4 KiB temporary memref in/out (invoke_tmem4k_ns).
    case tmem4k
    /// TOUCH_PAGES on 1 MiB of registered shared memory (invoke_regshm1m_ns).
    case regshm1m
    /// GET_TIME: an invoke with one RPC to the guest (rpc_extra_ns is this minus invoke).
    case rpc
    /// Open a session to vtee.test and close it (open_close_ns).
    case openClose = "open_close"
}

extension Bench {
    /// Runs `count` calls of `kind` after `warmup` untimed ones on one in-process stack; returns
    /// the median and p99 of the calls (batches of 16 for the fast call).
    public static func loop(_ kind: BenchLoopKind, count: Int, warmup: Int, workDirectory: String) throws(BenchError) -> BenchStat {
        var logger = Logger(label: "vtee.bench")
        logger.logLevel = .critical
        var o = BenchOptions(workDirectory: workDirectory)
        o.iterationsOverride = nil
        let stack: VTEEStack
        let g: GuestStack
        do {
            stack = try VTEEStack(config: stackConfig(o, "loop", logger: logger))
            g = try stack.addGuest(GuestID(0))
        } catch { throw .setup("in-process stack: \(error)") }
        defer { stack.removeGuest(g) }
        let ctx = g.context
        if kind == .fastCall {
            let conduit = g.driver.conduit
            let rev = RegisterFrame(.getOSRevision)
            return BenchStat(try sampleLatency(warmup: warmup, samples: max(1, count / 16), batch: 16) { _ = conduit.trap(rev, vcpu: 0) })
        }
        if kind == .openClose {
            return BenchStat(try sampleLatency(warmup: warmup, samples: count) { () throws(BenchError) in
                do throws(TEEError) { let s = try ctx.openSession(TestTA.uuid); s.close() } catch { throw .call("open_close", error) }
            })
        }
        let session: TEESession
        do { session = try ctx.openSession(TestTA.uuid) } catch { throw .call("open vtee.test", error) }
        defer { session.close() }
        if kind == .regshm1m {
            let shm: TEESharedMemory
            do { shm = try ctx.allocateSharedMemory(size: 1 << 20) } catch { throw .call("allocate 1 MiB", error) }
            defer { shm.release() }
            var whole = TEEOperation([.whole(shm)])
            return BenchStat(try sampleLatency(warmup: warmup, samples: count) { () throws(BenchError) in
                do throws(TEEError) { try session.invoke(TestTA.Command.touchPages.rawValue, &whole) } catch { throw .call(kind.rawValue, error) }
            })
        }
        var op: TEEOperation
        let cmd: UInt32
        switch kind {
        case .tmem4k:
            op = TEEOperation([.tempInout([UInt8](repeating: 0xA5, count: 4096))]); cmd = TestTA.Command.echoMemref.rawValue
        case .rpc:
            op = TEEOperation([.valueOutput()]); cmd = TestTA.Command.getTime.rawValue
        default:
            op = nopOperation(); cmd = TestTA.Command.nopValues.rawValue
        }
        return BenchStat(try sampleLatency(warmup: warmup, samples: count) { () throws(BenchError) in
            do throws(TEEError) { try session.invoke(cmd, &op) } catch { throw .call(kind.rawValue, error) }
        })
    }
}
