// One TA process and its channel, seen from the secure world: spawn (posix_spawn, exactly fds
// 3/4/5, a minimal environment), the READY handshake, posting entry points, waiting for the
// TA's requests or its answer (spin, then poll on the doorbell and the pidfd), killing and
// reaping. Secure world; the bytes of the channel come from a process that may be hostile.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TAChannel
import TAHostShim
import TEEABI

/// How a TA process ended, for logs and the panic reported to the secure world.
public enum TAProcessEnd: Sendable, Equatable, CustomStringConvertible {
    /// TEE_Panic(code).
    case panicked(UInt32)
    /// exit(status) or return from main.
    case exited(Int32)
    /// Killed by a signal (SIGSEGV, SIGABRT, SIGSYS for a refused syscall ...).
    case signalled(Int32)
    /// The secure world killed it (no answer within the bound, or cancelled and not returning).
    case killed(String)
    /// Its image could not be loaded (the reason code the TA process left).
    case loadFailed(UInt32)

    public var description: String {
        switch self {
        case let .panicked(c): "TEE_Panic(\(hex(c)))"
        case let .exited(s): "exit(\(s))"
        case let .signalled(s): "signal \(s)\(s == 31 ? " (SIGSYS: a syscall the sandbox refuses)" : s == 11 ? " (SIGSEGV)" : s == 6 ? " (SIGABRT)" : "")"
        case let .killed(why): "killed: \(why)"
        case let .loadFailed(r): "load failed (\(hex(r)))"
        }
    }
}

/// One running TA process. Entry points are serialized by the secure world (one per instance
/// at a time), so the channel has one user at a time; `state` guards what other threads touch.
final class TAProcess: @unchecked Sendable {
    // @unchecked: `base`/`ctl` point into the channel mapping, immutable after init and unmapped
    // only in deinit; the fds are closed only in `cleanUp` under the `state` lock.
    let uuid: TEEUUID
    let pid: Int32
    private let pidfd: Int32
    private let bell: Int32
    private let channelFD: Int32
    private let base: UnsafeMutableRawPointer
    let ctl: UnsafeMutablePointer<vtee_ch_control>

    private struct State { var ended: TAProcessEnd? = nil; var reaped = false; var closed = false }
    private let state = Mutex(State())

    /// Start of the call area (memref params) and of the request area in the mapping.
    var callArea: UnsafeMutableRawBufferPointer {
        // Sound: the mapping is VTEE_CH_TOTAL_BYTES long, the area lies inside it.
        UnsafeMutableRawBufferPointer(start: base + Int(VTEE_CH_CALL_OFFSET), count: Int(VTEE_CH_CALL_BYTES))
    }
    var requestArea: UnsafeMutableRawBufferPointer {
        // Sound: as callArea.
        UnsafeMutableRawBufferPointer(start: base + Int(VTEE_CH_REQ_OFFSET), count: Int(VTEE_CH_REQ_BYTES))
    }

    private init(uuid: TEEUUID, pid: Int32, pidfd: Int32, bell: Int32, channelFD: Int32, base: UnsafeMutableRawPointer) {
        self.uuid = uuid; self.pid = pid; self.pidfd = pidfd; self.bell = bell; self.channelFD = channelFD
        self.base = base
        // Sound: the mapping starts with the control page (4 KiB > MemoryLayout<vtee_ch_control>.size), page aligned.
        self.ctl = base.bindMemory(to: vtee_ch_control.self, capacity: 1)
    }

    /// Starts `host` as `ta-<uuid>` with the image `elf`; errno-style failures as COMMUNICATION/OUT_OF_MEMORY.
    static func spawn(uuid: TEEUUID, elf: [UInt8], host: String, environment: [String]) throws(TEEResult) -> TAProcess {
        let chan = vtee_ta_memfd("vtee-ta-channel", UInt64(VTEE_CH_TOTAL_BYTES))
        guard chan >= 0 else { throw .outOfMemory }
        guard let map = vtee_ta_map(chan, UInt64(VTEE_CH_TOTAL_BYTES)) else { vtee_ta_close(chan); throw .outOfMemory }
        let image = elf.withUnsafeBytes { vtee_ta_image_memfd($0.baseAddress, $0.count) }
        guard image >= 0 else { vtee_ta_unmap(map, UInt64(VTEE_CH_TOTAL_BYTES)); vtee_ta_close(chan); throw .outOfMemory }
        var pair: [Int32] = [-1, -1]
        guard vtee_ta_socketpair(&pair) == 0 else {
            vtee_ta_close(image); vtee_ta_unmap(map, UInt64(VTEE_CH_TOTAL_BYTES)); vtee_ta_close(chan); throw .outOfMemory
        }
        var pid: Int32 = 0, pidfd: Int32 = -1
        let argv0 = "ta-\(uuid)"
        var envStrings = environment.map { strdup($0) }
        envStrings.append(nil)
        let r = envStrings.withUnsafeMutableBufferPointer { env in
            vtee_ta_spawn(host, argv0, env.baseAddress, chan, pair[1], image, &pid, &pidfd)
        }
        for p in envStrings { free(p) }
        vtee_ta_close(image); vtee_ta_close(pair[1])
        guard r == 0 else {
            vtee_ta_close(pair[0]); vtee_ta_unmap(map, UInt64(VTEE_CH_TOTAL_BYTES)); vtee_ta_close(chan)
            throw .communication
        }
        return TAProcess(uuid: uuid, pid: pid, pidfd: pidfd, bell: pair[0], channelFD: chan, base: map)
    }

    deinit {
        kill(reason: "instance dropped")
        cleanUp()
        vtee_ta_unmap(base, UInt64(VTEE_CH_TOTAL_BYTES))
    }

    /// How the process ended, once it has.
    var ended: TAProcessEnd? { state.withLock { $0.ended } }

    // MARK: doorbell

    /// Posts `s` to the TA and rings when it sleeps.
    func post(_ s: UInt32) {
        vtee_ch_store(&ctl.pointee.state, s)
        if vtee_ch_load(&ctl.pointee.ta_waiting) != 0 { vtee_ta_ring(bell) }
    }

    /// What one wait step saw.
    enum Wake: Equatable { case state(UInt32), exited, slice }

    /// Spins briefly, then sleeps up to `sliceMillis` on the doorbell and the pidfd, for a state in `accept`.
    func waitStep(accept: (UInt32) -> Bool, sliceMillis: Int32) -> Wake {
        for i in 0..<2000 {
            let s = vtee_ch_load(&ctl.pointee.state)
            if accept(s) { return .state(s) }
            if i & 63 == 63, vtee_ta_poll(-1, pidfd, 0) & 2 != 0 { return .exited }
        }
        vtee_ch_store(&ctl.pointee.sw_waiting, 1)
        let s = vtee_ch_load(&ctl.pointee.state)
        if accept(s) { vtee_ch_store(&ctl.pointee.sw_waiting, 0); return .state(s) }
        let ev = vtee_ta_poll(bell, pidfd, sliceMillis)
        vtee_ta_drain(bell)
        vtee_ch_store(&ctl.pointee.sw_waiting, 0)
        let s2 = vtee_ch_load(&ctl.pointee.state)
        if accept(s2) { return .state(s2) }
        if ev & 2 != 0 { return .exited }
        return .slice
    }

    /// Sets the cancellation word the TA's TEE_Wait and TEE_GetCancellationFlag read.
    func requestCancel() {
        vtee_ch_store(&ctl.pointee.cancel, 1)
        vtee_ta_futex_wake(&ctl.pointee.cancel)
    }

    // MARK: end of life

    /// Kills the process (no-op once it has ended) and records why.
    func kill(reason: String) {
        let go: Bool = state.withLock { s in
            guard !s.reaped else { return false }
            if s.ended == nil { s.ended = .killed(reason) }
            return true
        }
        if go { vtee_ta_kill(pidfd, pid) }
        reap()
    }

    /// Reaps the exited process and records how it ended (TEE_Panic is read from the channel).
    @discardableResult
    func reap() -> TAProcessEnd {
        let done: TAProcessEnd? = state.withLock { $0.reaped ? $0.ended : nil }
        if let done { return done }
        let status = vtee_ta_reap(pid)
        let code = status < 0 ? 0 : vtee_ta_status_code(status)
        let panicked = vtee_ch_load(&ctl.pointee.panicked) != 0
        let panicCode = ctl.pointee.panic_code
        let loadResult = ctl.pointee.result
        return state.withLock { s in
            s.reaped = true
            if s.ended == nil {
                if panicked && code == VTEE_TA_PANIC_EXIT { s.ended = .panicked(panicCode) }
                else if code == VTEE_TA_LOAD_EXIT { s.ended = .loadFailed(loadResult) }
                else if code < 0 { s.ended = .signalled(-code) }
                else { s.ended = .exited(code) }
            }
            return s.ended ?? .exited(0)
        }
    }

    /// Closes the descriptors (after reaping); idempotent.
    func cleanUp() {
        let go: Bool = state.withLock { s in
            guard !s.closed else { return false }
            s.closed = true
            return true
        }
        guard go else { return }
        vtee_ta_close(bell); vtee_ta_close(pidfd); vtee_ta_close(channelFD)
    }
}
