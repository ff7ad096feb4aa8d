// The runner: a verified TA ELF in, a `TADescriptor` out whose instances are TA processes.
// `ProcessTA` is the TA API's `TrustedApplication` of one instance: each GP entry point is a
// call over the channel, during which the TA's requests are served with the entry point's
// `TAContext`. A process that dies or does not answer in time ends the instance (a thrown
// `TAPanic`: TARGET_DEAD with origin TEE for its sessions). Secure world.
#if canImport(Glibc)
import Glibc
#endif
import Logging
import TAAPI
import Synchronization
import TAChannel
import TACrypto
import TAHostShim
import TEEABI

/// How TA processes are started and bounded.
public struct TAProcessConfig: Sendable {
    /// Path of the `vtee-ta-host` executable.
    public var hostExecutable: String
    /// Longest wait for a new process to load its image and install its sandbox.
    public var startBound: Duration = .seconds(10)
    /// After the client cancels, how long an entry point may still run before its process is killed.
    public var cancelGrace: Duration = .seconds(2)
    /// Longest any entry point may run (nil: no bound but cancellation's).
    public var entryBound: Duration? = nil
    /// How long the secure world sleeps on the doorbell before looking at cancellation and bounds.
    public var waitSlice: Duration = .milliseconds(10)
    /// Logger of the secure world; TA trace lines go here with the TA's UUID as metadata.
    public var logger = Logger(label: "vtee.ta")
    /// Extra environment passed to TA processes (the only variables they get besides
    /// VTEE_TA_WAIT_DEBUGGER and VTEE_TA_RUNTIME taken from this process).
    public var environment: [String] = []
    /// The asymmetric algorithms C TAs get through the GP crypto API.
    public var asymmetricBackend: any AsymmetricBackend = AsymmetricAlgorithms()

    /// A configuration running `hostExecutable`.
    public init(hostExecutable: String) { self.hostExecutable = hostExecutable }

    /// `VTEE_TA_HOST`, else `vtee-ta-host` beside the running executable, if it exists.
    public static func locateHost() -> String? {
        if let e = getenv("VTEE_TA_HOST"), let s = String(validatingCString: e), !s.isEmpty { return s }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = exe.lastIndex(of: "/") else { return nil }
        let candidate = String(exe[..<slash]) + "/vtee-ta-host"
        return access(candidate, X_OK) == 0 ? candidate : nil
    }
}

/// Turns verified TA images into process-backed TAs and holds what outlives one instance:
/// open persistent objects (GP sharing rules across instances) and each TA's persistent time.
public final class TAProcessRunner: Sendable {
    /// How processes are started.
    public let config: TAProcessConfig
    let objects = ObjectRegistry()
    let persistentTime = Mutex<[TEEUUID: Duration]>([:])
    let clockOrigin = ContinuousClock.now
    let liveProcesses = Atomic<Int>(0)

    /// A runner with `config`.
    public init(config: TAProcessConfig) { self.config = config }

    /// Number of TA processes alive now (for tests and metrics).
    public var processCount: Int { liveProcesses.load(ordering: .relaxed) }

    /// The descriptor of the TA in `elf` (the verified ELF the LOAD_TA path hands over):
    /// BAD_FORMAT when it is not a TA for this host, SECURITY when its ta_head names another UUID.
    public func descriptor(uuid: TEEUUID, elf: [UInt8]) -> Result<TADescriptor, TEEResult> {
        let head: TAImageHeader
        do { head = try TAImage.header(of: elf) } catch {
            config.logger.info("TA \(uuid): not a runnable image: \(error)")
            return .failure(.badFormat)
        }
        guard head.uuid == uuid else {
            config.logger.warning("TA image for \(uuid) carries ta_head UUID \(head.uuid)")
            return .failure(.security)
        }
        let props = TAProperties(singleInstance: head.singleInstance, multiSession: head.multiSession, keepAlive: head.keepAlive)
        return .success(TADescriptor(uuid: uuid, name: "ta-\(uuid)", properties: props) { [self] in
            ProcessTA(runner: self, uuid: uuid, elf: elf)
        })
    }

    /// The runner seam of the LOAD_TA path: the verified ELF of `uuid` in, a process-backed TA out.
    public func load(uuid: TEEUUID, elf: [UInt8]) throws(TEEResult) -> TADescriptor {
        try descriptor(uuid: uuid, elf: elf).get()
    }

    /// `descriptor(uuid:elf:)` as an optional-returning loader (for images that need no verification).
    public var loader: @Sendable (TEEUUID, [UInt8]) -> TADescriptor? {
        { [self] uuid, elf in try? descriptor(uuid: uuid, elf: elf).get() }
    }

    var secondsSinceStart: Duration { ContinuousClock.now - clockOrigin }
}

/// The session state a `ProcessTA` hands the secure world: the TA process's session number.
final class ProcessSession {
    let number: UInt32
    init(number: UInt32) { self.number = number }
}

/// One TA instance in its own process.
final class ProcessTA: TrustedApplication, @unchecked Sendable {
    // @unchecked: the secure world runs one entry point of an instance at a time; `process`,
    // `nextSession` and `handles` are touched only from those entry points (and deinit).
    let runner: TAProcessRunner
    let uuid: TEEUUID
    let elf: [UInt8]
    var process: TAProcess?
    var nextSession: UInt32 = 1
    var handles = ObjectHandles()
    /// The instance's GP crypto objects and operations (keys stay in the secure world).
    var cryptoState: CryptoSession
    var log: Logger

    init(runner: TAProcessRunner, uuid: TEEUUID, elf: [UInt8]) {
        self.runner = runner; self.uuid = uuid; self.elf = elf
        log = runner.config.logger
        log[metadataKey: "ta"] = "\(uuid)"
        cryptoState = CryptoSession(backend: runner.config.asymmetricBackend)
    }

    deinit {
        if let p = process { finish(p) }
        runner.objects.closeAll(handles.all, ta: uuid)
    }

    private var debugWait: Bool { getenv("VTEE_TA_WAIT_DEBUGGER") != nil }

    /// Starts the process and waits for READY (its image loaded, sandbox installed).
    private func start() throws(TEEResult) -> TAProcess {
        var env = runner.config.environment
        for name in ["VTEE_TA_WAIT_DEBUGGER", "VTEE_TA_RUNTIME"] {
            if let v = getenv(name), let s = String(validatingCString: v) { env.append("\(name)=\(s)") }
        }
        let p = try TAProcess.spawn(uuid: uuid, elf: elf, host: runner.config.hostExecutable, environment: env)
        runner.liveProcesses.add(1, ordering: .relaxed)
        let deadline = ContinuousClock.now + runner.config.startBound
        while true {
            switch p.waitStep(accept: { $0 == UInt32(VTEE_CH_READY) }, sliceMillis: 50) {
            case .state:
                vtee_ch_store(&p.ctl.pointee.state, UInt32(VTEE_CH_IDLE))
                log.debug("TA process \(p.pid) ready (flags \(hex(p.ctl.pointee.ta_flags)), stack \(p.ctl.pointee.ta_stack_size), data \(p.ctl.pointee.ta_data_size))")
                return p
            case .exited:
                let end = p.reap()
                finish(p)
                log.error("TA process \(p.pid) did not start: \(end)")
                if case let .loadFailed(r) = end { throw TEEResult(rawValue: r) == .success ? .badFormat : TEEResult(rawValue: r) }
                throw .targetDead
            case .slice:
                if !debugWait && ContinuousClock.now > deadline {
                    p.kill(reason: "not ready within \(runner.config.startBound)")
                    finish(p)
                    throw .targetDead
                }
            }
        }
    }

    /// Reaps and closes `p`; the instance has no process afterwards.
    private func finish(_ p: TAProcess) {
        p.kill(reason: "instance ended")
        p.cleanUp()
        if process === p { process = nil }
        runner.liveProcesses.subtract(1, ordering: .relaxed)
    }

    // MARK: TrustedApplication

    func create(context: any TAContext) async throws -> TEEResult {
        let p: TAProcess
        do { p = try start() } catch { return error }
        process = p
        var none = TAParams.empty
        return try await call(op: VTEE_OP_CREATE, session: 0, command: 0, params: &none, context: context)
    }

    func destroy() {
        guard let p = process else { return }
        var none = TAParams.empty
        // TA_DestroyEntryPoint has no context: its requests get BAD_STATE, its log lines go out.
        _ = callSync(p, op: VTEE_OP_DESTROY, params: &none)
        p.ctl.pointee.op = UInt32(VTEE_OP_EXIT)
        p.post(UInt32(VTEE_CH_CALL))
        for _ in 0..<100 where p.waitStep(accept: { _ in false }, sliceMillis: 10) != .exited {}
        finish(p)
        runner.objects.closeAll(handles.all, ta: uuid)
        handles = ObjectHandles()
        cryptoState = CryptoSession(backend: runner.config.asymmetricBackend)
    }

    func openSession(params: inout TAParams, context: any TAContext) async throws -> (TEEResult, sessionState: AnyObject?) {
        let n = nextSession
        nextSession &+= 1
        if nextSession == 0 { nextSession = 1 }
        let r = try await call(op: VTEE_OP_OPEN, session: n, command: 0, params: &params, context: context)
        return (r, r == .success ? ProcessSession(number: n) : nil)
    }

    func closeSession(sessionState: AnyObject?, context: any TAContext) async {
        guard let s = sessionState as? ProcessSession else { return }
        var none = TAParams.empty
        _ = try? await call(op: VTEE_OP_CLOSE, session: s.number, command: 0, params: &none, context: context)
    }

    func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
        guard let s = sessionState as? ProcessSession else { return .badState }
        return try await call(op: VTEE_OP_INVOKE, session: s.number, command: command, params: &params, context: context)
    }

    // MARK: calls

    /// Where each memref param of a call was placed in the call area.
    private struct Placement { var offset: Int; var length: Int }

    /// Writes op, session, params and client into the control page; nil when the memrefs do not fit.
    private func postCall(_ p: TAProcess, op: Int, session: UInt32, command: UInt32, params: TAParams,
                          client: TAClientIdentity?) -> [Placement?]? {
        let c = p.ctl
        c.pointee.op = UInt32(op); c.pointee.session = session; c.pointee.cmd = command
        c.pointee.param_types = params.types.rawValue
        c.pointee.client_login = client?.login.rawValue ?? 0
        let octets = client?.uuid.octets ?? [UInt8](repeating: 0, count: 16)
        withUnsafeMutableBytes(of: &c.pointee.client_uuid) { dst in
            for i in 0..<min(16, octets.count) { dst[i] = octets[i] }
        }
        c.pointee.result = TEEResult.generic.rawValue
        c.pointee.origin = TEEOrigin.tee.rawValue
        vtee_ch_store(&c.pointee.cancel, 0)
        var placements: [Placement?] = [nil, nil, nil, nil]
        var offset = 0
        let area = p.callArea
        for i in 0..<4 {
            let cp = vtee_ch_param_at(c, Int32(i))
            cp?.pointee = vtee_ch_param(a: 0, b: 0)
            switch params[i] {
            case .none: break
            case let .value(v): cp?.pointee = vtee_ch_param(a: UInt64(v.a), b: UInt64(v.b))
            case let .memref(m):
                if m.isNull { cp?.pointee = vtee_ch_param(a: UInt64.max, b: 0); continue }
                let len = m.bytes.count
                guard offset + len <= area.count else { return nil }
                m.bytes.withUnsafeBytes { src in
                    // Sound: offset + len <= area.count was checked above; src holds len bytes.
                    guard len > 0, let s = src.baseAddress, let d = area.baseAddress else { return }
                    (d + offset).copyMemory(from: s, byteCount: len)
                }
                placements[i] = Placement(offset: offset, length: len)
                cp?.pointee = vtee_ch_param(a: UInt64(offset), b: UInt64(m.size))
                offset = (offset + len + 63) & ~63
            }
        }
        return placements
    }

    /// Reads the TA's answer back into `params`.
    private func collect(_ p: TAProcess, params: inout TAParams, placements: [Placement?]) -> TEEResult {
        let c = p.ctl
        for i in 0..<4 {
            guard let cp = vtee_ch_param_at(c, Int32(i)), let t = params.types[i] else { continue }
            switch t {
            case .valueOutput, .valueInout:
                params.setValue(i, TAValue(a: UInt32(truncatingIfNeeded: cp.pointee.a), b: UInt32(truncatingIfNeeded: cp.pointee.b)))
            case .memrefOutput, .memrefInout:
                guard let place = placements[i] else { continue }
                let reported = Int(clamping: cp.pointee.b)
                let n = min(reported, place.length)
                let area = p.callArea
                // Sound: n <= place.length and the placement lies inside the call area (postCall checked it).
                let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: area[place.offset..<(place.offset + n)]))
                params.setMemref(i, bytes: bytes, size: reported)
            default: break
            }
        }
        return TEEResult(rawValue: c.pointee.result)
    }

    /// One entry point: post it, serve the TA's requests until it answers, or end the instance.
    private func call(op: Int, session: UInt32, command: UInt32, params: inout TAParams,
                      context: any TAContext) async throws -> TEEResult {
        guard let p = process else { throw TAPanic(code: 0, "TA process gone") }
        guard let placements = postCall(p, op: op, session: session, command: command, params: params, client: context.client) else {
            return .outOfMemory
        }
        p.post(UInt32(VTEE_CH_CALL))
        let slice = Int32(clamping: runner.config.waitSlice.components.seconds * 1000 + runner.config.waitSlice.components.attoseconds / 1_000_000_000_000_000)
        let started = ContinuousClock.now
        var cancelledAt: ContinuousClock.Instant? = nil
        let accept: (UInt32) -> Bool = { $0 == UInt32(VTEE_CH_REQ) || $0 == UInt32(VTEE_CH_DONE) }
        while true {
            switch p.waitStep(accept: accept, sliceMillis: max(1, slice)) {
            case .state(UInt32(VTEE_CH_DONE)):
                vtee_ch_store(&p.ctl.pointee.state, UInt32(VTEE_CH_IDLE))
                return collect(p, params: &params, placements: placements)
            case .state:
                await serve(p, context: context)
                p.post(UInt32(VTEE_CH_REPLY))
            case .exited:
                throw died(p)
            case .slice:
                if cancelledAt == nil, context.isCancelled {
                    cancelledAt = .now
                    p.requestCancel()
                }
                if !debugWait {
                    if let at = cancelledAt, ContinuousClock.now - at > runner.config.cancelGrace {
                        p.kill(reason: "cancelled and still running after \(runner.config.cancelGrace)")
                        throw died(p)
                    }
                    if let bound = runner.config.entryBound, ContinuousClock.now - started > bound {
                        p.kill(reason: "entry point still running after \(bound)")
                        throw died(p)
                    }
                }
                do { try await context.checkpoint() } catch {
                    p.kill(reason: "the calling thread is gone (\(error))")
                    throw died(p)
                }
            }
        }
    }

    /// An entry point without a context (TA_DestroyEntryPoint); bounded by startBound.
    private func callSync(_ p: TAProcess, op: Int, params: inout TAParams) -> TEEResult {
        guard let placements = postCall(p, op: op, session: 0, command: 0, params: params, client: nil) else { return .outOfMemory }
        p.post(UInt32(VTEE_CH_CALL))
        let deadline = ContinuousClock.now + runner.config.startBound
        while true {
            switch p.waitStep(accept: { $0 == UInt32(VTEE_CH_REQ) || $0 == UInt32(VTEE_CH_DONE) }, sliceMillis: 10) {
            case .state(UInt32(VTEE_CH_DONE)):
                vtee_ch_store(&p.ctl.pointee.state, UInt32(VTEE_CH_IDLE))
                return collect(p, params: &params, placements: placements)
            case .state:
                serveWithoutContext(p)
                p.post(UInt32(VTEE_CH_REPLY))
            case .exited:
                _ = died(p)
                return .targetDead
            case .slice:
                if !debugWait && ContinuousClock.now > deadline {
                    p.kill(reason: "TA_DestroyEntryPoint still running after \(runner.config.startBound)")
                    _ = died(p)
                    return .targetDead
                }
            }
        }
    }

    /// Records the end of the process and makes the panic the secure world reports as TARGET_DEAD.
    private func died(_ p: TAProcess) -> TAPanic {
        let end = p.reap()
        finish(p)
        runner.objects.closeAll(handles.all, ta: uuid)
        handles = ObjectHandles()
        cryptoState = CryptoSession(backend: runner.config.asymmetricBackend)
        switch end {
        case .panicked: log.info("TA process \(p.pid) panicked: \(end)")
        default: log.warning("TA process \(p.pid) died: \(end)")
        }
        if case let .panicked(code) = end { return TAPanic(code: code, "TEE_Panic") }
        return TAPanic(code: 0, "TA process: \(end)")
    }
}
