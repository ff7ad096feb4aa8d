/// The driver's side of tee-supplicant (Linux supp.c): RPC commands the kernel does not serve
/// are queued here, a supplicant takes them (`receive`), serves them in user space and answers
/// (`reply`). Every wait is bounded; a dead or absent supplicant means TEE_ERROR_COMMUNICATION.
import Machine
import Synchronization
import TEEABI

/// One parameter of a supplicant request: a value, or a memref whose bytes the driver copied
/// out of shared memory (and copies back for outputs).
public enum SupplicantParam: Sendable, Equatable {
    /// Unused slot.
    case none
    /// A value param with its OPTEE_MSG type.
    case value(MsgParamType, a: UInt64, b: UInt64, c: UInt64)
    /// A memory reference: `data` is nil for a NULL buffer, else exactly the buffer's capacity
    /// (zeroes for outputs); `size` is what the supplicant reports back.
    case memref(MsgParamType, data: [UInt8]?, size: Int)

    /// value.a/b/c, or zeros.
    public var values: (a: UInt64, b: UInt64, c: UInt64) {
        if case let .value(_, a, b, c) = self { return (a, b, c) }
        return (0, 0, 0)
    }
    /// Memref data (nil for NULL or non-memref).
    public var data: [UInt8]? { if case let .memref(_, d, _) = self { return d }; return nil }
    /// True for a memref param (NULL included).
    public var isMemref: Bool { if case .memref = self { return true }; return false }
}

/// Where a memref param of a request lies in shared memory, as Linux's params_to_supp passes it
/// (shm id, offset, size): an external supplicant finds the buffer among the memory it allocated.
public struct SupplicantWindow: Sendable, Equatable {
    /// The shared memory's id (`SharedMemoryHandle.id`).
    public let shm: UInt64
    /// Byte offset of the window inside it.
    public let offset: Int
    /// A window of shared memory `shm` at `offset`.
    public init(shm: UInt64, offset: Int) { self.shm = shm; self.offset = offset }
}

/// A request as the supplicant receives it (SUPPL_RECV): id, command and params.
public struct SupplicantRequest: Sendable {
    /// Request id, echoed in the reply so requests can be served concurrently.
    public let id: UInt64
    /// The RPC command (LOAD_TA, FS, SHM_ALLOC, ...).
    public let command: RPCCommand
    /// Its params.
    public var params: [SupplicantParam]
    /// Per param: where its memref lies in shared memory (nil for values, NULL or unknown buffers).
    public var windows: [SupplicantWindow?]
    /// A request (tests build them to drive a supplicant directly).
    public init(id: UInt64, command: RPCCommand, params: [SupplicantParam], windows: [SupplicantWindow?] = []) {
        self.id = id; self.command = command; self.params = params; self.windows = windows
    }
}

/// A supplicant's answer (SUPPL_SEND): the result and the params with outputs filled in.
public struct SupplicantResponse: Sendable {
    /// Id of the request answered.
    public var id: UInt64
    /// Result code of the request.
    public var result: TEEResult
    /// Params with outputs filled in (same count and types as the request).
    public var params: [SupplicantParam]
    /// An answer to request `id`.
    public init(id: UInt64, result: TEEResult, params: [SupplicantParam]) {
        self.id = id; self.result = result; self.params = params
    }
}

/// Proof of being the attached supplicant; stale after `detach` (replies from it are ignored).
public struct SupplicantConnection: Sendable, Hashable {
    let generation: UInt64
}

/// The queue between the driver and (at most) one supplicant.
public final class SupplicantChannel: Sendable {
    private final class Pending: Sendable {
        let request: SupplicantRequest
        let done: Waiter
        let response = Mutex<SupplicantResponse?>(nil)
        init(_ r: SupplicantRequest, clock: any HostClock) { request = r; done = Waiter(clock: clock) }
        func finish(_ r: SupplicantResponse) {
            let first: Bool = response.withLock { if $0 == nil { $0 = r; return true }; return false }
            if first { done.signal() }
        }
    }
    private struct State {
        var generation: UInt64 = 0
        var attached = false
        var queue: [Pending] = []
        var inService: [UInt64: Pending] = [:]
        var nextID: UInt64 = 1
        var timeouts = 0
        var overdue = 0
    }
    private let state = Mutex(State())
    private let available = HostEvent()
    private let clock: any HostClock

    /// An empty channel with no supplicant, timing its waits on `clock`.
    public init(clock: any HostClock = SystemClock.shared) { self.clock = clock }

    /// True while a supplicant is attached.
    public var isAttached: Bool { state.withLock { $0.attached } }
    /// True while `c` is the attached supplicant's connection.
    public func isCurrent(_ c: SupplicantConnection) -> Bool {
        state.withLock { $0.attached && $0.generation == c.generation }
    }
    /// Requests queued and not yet taken by a supplicant (tests use it to order a race).
    public var waitingRequests: Int { state.withLock { $0.queue.count } }
    /// Requests withdrawn with COMMUNICATION because no supplicant took them in time.
    public var timeouts: Int { state.withLock { $0.timeouts } }
    /// Requests still in a supplicant's hands when their bound passed (waited for, not abandoned).
    public var overdue: Int { state.withLock { $0.overdue } }

    // MARK: supplicant side

    /// Attaches a supplicant (opening /dev/teepriv); nil when one is already attached.
    public func attach() -> SupplicantConnection? {
        state.withLock { s in
            guard !s.attached else { return nil }
            s.attached = true; s.generation += 1
            return SupplicantConnection(generation: s.generation)
        }
    }

    /// Detaches (the supplicant exits or dies): every queued or in-service request fails with
    /// COMMUNICATION at once.
    public func detach(_ c: SupplicantConnection) {
        let failed: [Pending] = state.withLock { s in
            guard s.attached, s.generation == c.generation else { return [] }
            s.attached = false; s.generation += 1
            let all = s.queue + Array(s.inService.values)
            s.queue = []; s.inService = [:]
            return all
        }
        for p in failed { p.finish(SupplicantResponse(id: p.request.id, result: .communication, params: p.request.params)) }
        available.signal()   // let a blocked receiver notice
    }

    /// Takes the oldest request, waiting at most `timeout` seconds; nil on timeout or when `c` is stale.
    public func receive(_ c: SupplicantConnection, timeout: Double) -> SupplicantRequest? {
        let deadline = clock.deadline(after: timeout)
        while true {
            let got: (stale: Bool, req: SupplicantRequest?) = state.withLock { s in
                guard s.attached, s.generation == c.generation else { return (true, nil) }
                guard !s.queue.isEmpty else { return (false, nil) }
                let p = s.queue.removeFirst()
                s.inService[p.request.id] = p
                return (false, p.request)
            }
            if got.stale { available.signal(); return nil }
            if let r = got.req { return r }
            if !clock.wait(available, until: deadline) { return nil }
        }
    }

    /// Answers a request; ignored when `c` is stale or the request already ended (timed out).
    public func reply(_ c: SupplicantConnection, _ response: SupplicantResponse) {
        let p: Pending? = state.withLock { s in
            guard s.attached, s.generation == c.generation else { return nil }
            return s.inService.removeValue(forKey: response.id)
        }
        p?.finish(response)
    }

    // MARK: driver side

    /// Queues a request that did not come from this guest's secure-world calls (a request another
    /// process of the user forwarded to this process's tee-supplicant) and waits for it under the
    /// same rules as `call`: withdrawn (COMMUNICATION) if not taken within the bound, else answered.
    public func submit(_ command: RPCCommand, _ params: [SupplicantParam], windows: [SupplicantWindow?],
                       served: Double, absent: Double) -> SupplicantResponse {
        call(command, params, windows: windows, served: served, absent: absent)
    }

    /// Queues a request and waits for its answer. A request no supplicant took within the bound
    /// (`served` seconds with a supplicant attached, `absent` without one) is withdrawn and fails
    /// with COMMUNICATION: it never runs. A request a supplicant took is waited for until it
    /// answers or detaches (then COMMUNICATION), as Linux's optee_supp_thread_req does: giving
    /// up on it would let it still run (an FS rename or write) after the secure world moved on,
    /// e.g. after the store's lock went to another guest, whose staged directory it would
    /// then rename away or overwrite.
    func call(_ command: RPCCommand, _ params: [SupplicantParam], windows: [SupplicantWindow?] = [],
              served: Double, absent: Double) -> SupplicantResponse {
        let (p, bound): (Pending, Double) = state.withLock { s in
            let p = Pending(SupplicantRequest(id: s.nextID, command: command, params: params, windows: windows), clock: clock)
            s.nextID += 1
            s.queue.append(p)
            return (p, s.attached ? served : absent)
        }
        available.signal()
        var answered = p.done.wait(bound)
        let slice = max(served, absent, 0.1)
        var late = false
        while !answered {
            enum Where { case withdrawn, inService, ended }
            let at: Where = state.withLock { s in
                if let i = s.queue.firstIndex(where: { $0 === p }) {
                    s.queue.remove(at: i)
                    s.timeouts += 1
                    return .withdrawn
                }
                guard s.inService[p.request.id] != nil else { return .ended }
                if !late { late = true; s.overdue += 1 }
                return .inService
            }
            switch at {
            case .withdrawn:
                p.finish(SupplicantResponse(id: p.request.id, result: .communication, params: params))
                answered = true
            case .inService, .ended:
                // In service (a slow disk, a starved supplicant): its answer or its detach ends the
                // wait. Ended between the timeout and the lock: its signal is on its way.
                answered = p.done.wait(slice)
            }
        }
        return p.response.withLock { $0 } ?? SupplicantResponse(id: p.request.id, result: .communication, params: params)
    }
}
