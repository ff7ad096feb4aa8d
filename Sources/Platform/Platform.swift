/// Platform: the trap entry of every guest vCPU (hypervisor side, non-secure).
///
/// It answers the Arm architecture calls itself (SMCCC_VERSION, SMCCC_ARCH_FEATURES) and
/// routes every other function id by SMCCC owner (and function) range to the one service
/// registered for that range when the platform was built. It validates nothing of the
/// payload: services do. It touches only register frames; it imports no world.
import Logging
import Machine
import Synchronization
import TEEABI

/// Who trapped: the guest and which of its vCPUs.
public struct CallerIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The calling guest.
    public let guest: GuestID
    /// The calling vCPU index inside that guest.
    public let vcpu: Int
    /// A caller identity.
    public init(guest: GuestID, vcpu: Int) { self.guest = guest; self.vcpu = vcpu }
    public var description: String { "\(guest) vcpu \(vcpu)" }
}

/// Why a service could not produce a result frame; the service maps it to its own defined code.
public enum ServiceFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The request is malformed for this service.
    case invalidParameter(String)
    /// The function is not offered (to this caller).
    case notSupported(String)
    /// The service cannot serve now and will not later either (resource gone, internal fault).
    case unavailable(String)

    /// The cause text, for logs.
    public var cause: String {
        switch self { case let .invalidParameter(s), let .notSupported(s), let .unavailable(s): s }
    }
    public var description: String {
        switch self {
        case let .invalidParameter(s): "invalid parameter: \(s)"
        case let .notSupported(s): "not supported: \(s)"
        case let .unavailable(s): "unavailable: \(s)"
        }
    }
}

/// What a service returns for one trapped call.
public enum ServiceOutcome: Sendable, Equatable {
    /// The frame the guest sees.
    case frame(RegisterFrame)
    /// The call failed with a cause; the platform logs, counts and asks the service for the guest's code.
    case failed(ServiceFailure)
    /// Not now: retry after about this long. The platform retries a bounded number of times.
    case retry(after: Duration)
}

/// A range of SMCCC function ids a service claims: owners (bits 29:24) x function numbers (bits 15:0).
public struct SMCServiceRange: Hashable, Sendable, CustomStringConvertible {
    /// Owner entities claimed.
    public let owners: ClosedRange<UInt8>
    /// Function numbers claimed within those owners.
    public let functions: ClosedRange<UInt16>
    /// A range; by default every function number of the owners.
    public init(owners: ClosedRange<UInt8>, functions: ClosedRange<UInt16> = 0...0xFFFF) {
        self.owners = owners; self.functions = functions
    }
    /// The Trusted OS owners 50...63 (OP-TEE).
    public static let trustedOS = SMCServiceRange(owners: 50...63)
    /// Arm TRNG (DEN0098): Standard Secure Service owner, functions 0x50...0x5F.
    public static let trng = SMCServiceRange(owners: 4...4, functions: 0x50...0x5F)

    /// True when `id` falls in this range.
    @inlinable public func contains(_ id: SMCFunctionID) -> Bool {
        owners.contains(id.owner.rawValue) && functions.contains(id.function)
    }
    /// True when the two ranges share at least one function id.
    public func overlaps(_ other: SMCServiceRange) -> Bool {
        owners.overlaps(other.owners) && functions.overlaps(other.functions)
    }
    public var description: String {
        "owners \(owners.lowerBound)...\(owners.upperBound) functions \(hex(functions.lowerBound, width: 4))...\(hex(functions.upperBound, width: 4))"
    }
}

/// A service the platform delegates a range of function ids to. Class-bound, so the trap entry
/// calls it through its witness table with no existential copy (no retain, no value witness).
public protocol PlatformService: AnyObject, Sendable {
    /// Name for logs and errors.
    var name: String { get }
    /// The function ids this service answers.
    var range: SMCServiceRange { get }
    /// Handles one call: the frame by value, and who made it.
    func handle(_ frame: RegisterFrame, caller: CallerIdentity) -> ServiceOutcome
    /// The a0 value the guest sees when `handle` failed with `failure`.
    func errorCode(for failure: ServiceFailure, function: SMCFunctionID) -> UInt64
    /// The a0 value the guest sees when retries are exhausted.
    func busyCode(function: SMCFunctionID) -> UInt64
}

extension PlatformService {
    /// Default: SMCCC NOT_SUPPORTED for every failure.
    public func errorCode(for failure: ServiceFailure, function: SMCFunctionID) -> UInt64 { SMCCC.notSupported(function) }
    /// Default: SMCCC NOT_SUPPORTED when busy (SMCCC has no generic busy code).
    public func busyCode(function: SMCFunctionID) -> UInt64 { SMCCC.notSupported(function) }
}

/// A service made of a closure: how tests and tools plug in a scripted service without a type
/// of their own (the mediator has its own service class, called without a closure).
public final class FunctionService: PlatformService {
    /// Name for logs.
    public let name: String
    /// The ids it answers.
    public let range: SMCServiceRange
    private let body: @Sendable (RegisterFrame, CallerIdentity) -> ServiceOutcome
    private let busy: @Sendable (SMCFunctionID) -> UInt64
    private let failure: @Sendable (ServiceFailure, SMCFunctionID) -> UInt64

    /// A service called `name` for `range` that runs `body`; `busy` and `failure` give the guest's codes.
    public init(name: String, range: SMCServiceRange,
                busy: @escaping @Sendable (SMCFunctionID) -> UInt64 = { SMCCC.notSupported($0) },
                failure: @escaping @Sendable (ServiceFailure, SMCFunctionID) -> UInt64 = { SMCCC.notSupported($1) },
                _ body: @escaping @Sendable (RegisterFrame, CallerIdentity) -> ServiceOutcome) {
        self.name = name; self.range = range; self.body = body; self.busy = busy; self.failure = failure
    }
    /// Runs the closure.
    public func handle(_ frame: RegisterFrame, caller: CallerIdentity) -> ServiceOutcome { body(frame, caller) }
    /// The failure closure's code.
    public func errorCode(for failure: ServiceFailure, function: SMCFunctionID) -> UInt64 { self.failure(failure, function) }
    /// The busy closure's code.
    public func busyCode(function: SMCFunctionID) -> UInt64 { busy(function) }
}

/// SMCCC architecture constants the platform answers with.
public enum SMCCC {
    /// SMCCC_VERSION result: 1.2.
    public static let version: UInt64 = 0x1_0002
    /// NOT_SUPPORTED (-1) as the register holds it: 32 bits for SMC32 ids, 64 for SMC64.
    @inlinable public static func notSupported(_ f: SMCFunctionID) -> UInt64 { f.isSMC64 ? UInt64.max : 0xFFFF_FFFF }
    /// NOT_REQUIRED (-2).
    @inlinable public static func notRequired(_ f: SMCFunctionID) -> UInt64 { f.isSMC64 ? UInt64.max - 1 : 0xFFFF_FFFE }
    /// INVALID_PARAMETER (-3).
    @inlinable public static func invalidParameter(_ f: SMCFunctionID) -> UInt64 { f.isSMC64 ? UInt64.max - 2 : 0xFFFF_FFFD }
}

/// Why a platform could not be built.
public enum PlatformBuildError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Two services claim overlapping ranges.
    case overlappingServices(first: String, second: String, range: SMCServiceRange)
    /// A service claims the Arm architecture owner, which the platform answers itself.
    case reservedRange(service: String)
    /// A range is empty or names owners beyond 63.
    case invalidRange(service: String)
    public var description: String {
        switch self {
        case let .overlappingServices(a, b, r): "services \(a) and \(b) both claim \(r)"
        case let .reservedRange(s): "service \(s) claims the Arm architecture range"
        case let .invalidRange(s): "service \(s) has an invalid range"
        }
    }
}

/// Builds a platform: services are registered once, before any guest traps.
public struct PlatformBuilder: Sendable {
    private var services: [any PlatformService] = []
    /// Retries of a `.retry` outcome before answering busy.
    public var maxRetries = 8
    /// Longest wait between two retries, whatever the service's hint.
    public var maxRetryDelay: Duration = .milliseconds(2)
    /// Logger for routing decisions and failures.
    public var logger = Logger(label: "vtee.platform")
    /// How the trap entry waits between two retries (the calling vCPU stalls, as in a long SMC).
    /// The host's sleep by default; tests hand in a seam that advances their own clock.
    public var pause: @Sendable (Duration) -> Void = { Platform.sleep($0) }

    /// An empty builder.
    public init() {}

    /// Registers `service`; a range overlapping an earlier registration is an error.
    public mutating func register(_ service: any PlatformService) throws(PlatformBuildError) {
        let r = service.range
        guard r.owners.upperBound <= 63 else { throw .invalidRange(service: service.name) }
        guard !r.owners.contains(SMCOwner.arch.rawValue) else { throw .reservedRange(service: service.name) }
        if let other = services.first(where: { $0.range.overlaps(r) }) {
            throw .overlappingServices(first: other.name, second: service.name, range: r)
        }
        services.append(service)
    }

    /// The platform with the registered services.
    public func build() -> Platform {
        Platform(services: services, maxRetries: max(0, maxRetries), maxRetryDelay: maxRetryDelay, logger: logger, pause: pause)
    }
}

/// Counters of a platform's routing, readable at any time.
public struct PlatformStats: Sendable, Equatable {
    /// Calls trapped.
    public var traps: Int
    /// Calls answered by the platform itself (SMCCC_VERSION, SMCCC_ARCH_FEATURES).
    public var architecture: Int
    /// Calls no service claimed (NOT_SUPPORTED).
    public var unclaimed: Int
    /// Calls whose service failed with a cause.
    public var failures: Int
    /// Retries performed.
    public var retries: Int
    /// Calls answered busy after exhausting retries.
    public var busy: Int
}

/// The trap entry: owner-range dispatch to services registered at build time.
public final class Platform: Sendable {
    private let services: [any PlatformService]
    /// One box per service, in registration order (kept alive by `boxes`).
    private let boxes: [ServiceBox]
    /// The same boxes unretained, for the trap path: the call borrows the box's `let service`
    /// with no retain or release (the platform holds its boxes for its life).
    private let boxRefs: [Unmanaged<ServiceBox>]
    /// A registered service, behind a reference the trap path can borrow.
    private final class ServiceBox: Sendable {
        let service: any PlatformService
        init(_ service: any PlatformService) { self.service = service }
    }
    /// A service's claim, as plain numbers (no reference counting on the lookup).
    private struct Route: Sendable {
        let owners: ClosedRange<UInt8>, functions: ClosedRange<UInt16>, index: Int
    }
    /// Every registered range, in registration order.
    private let routes: [Route]
    /// Owner -> the index of the one service claiming every function of that owner, or
    /// `Self.unclaimedOwner`, or `Self.sharedOwner` when several services split it (then `routes`
    /// is searched). Read-only after init: the common case is one table load.
    private let byOwner: [Int]
    private static let unclaimedOwner = -1, sharedOwner = -2
    private let maxRetries: Int
    private let maxRetryDelay: Duration
    private let logger: Logger
    private let pause: @Sendable (Duration) -> Void
    /// Traps, counted per calling thread (no locked add on the trap path; summed by `stats`).
    private let traps = ThreadCounters()
    private let arch = Atomic<Int>(0), unclaimed = Atomic<Int>(0)
    private let failures = Atomic<Int>(0), retries = Atomic<Int>(0), busy = Atomic<Int>(0)

    init(services: [any PlatformService], maxRetries: Int, maxRetryDelay: Duration, logger: Logger,
         pause: @escaping @Sendable (Duration) -> Void) {
        self.services = services; self.maxRetries = maxRetries; self.maxRetryDelay = maxRetryDelay
        self.logger = logger; self.pause = pause
        boxes = services.map(ServiceBox.init)
        boxRefs = boxes.map { Unmanaged.passUnretained($0) }
        let routes = services.enumerated().map { Route(owners: $1.range.owners, functions: $1.range.functions, index: $0) }
        var table = [Int](repeating: Self.unclaimedOwner, count: 64)
        for o in 0..<64 {
            let claims = routes.filter { $0.owners.contains(UInt8(o)) }
            if claims.count == 1, claims[0].functions == 0...0xFFFF { table[o] = claims[0].index }
            else if !claims.isEmpty { table[o] = Self.sharedOwner }
        }
        self.routes = routes
        byOwner = table
    }

    /// Names and ranges of the registered services.
    public var registered: [(name: String, range: SMCServiceRange)] { services.map { ($0.name, $0.range) } }

    /// Routing counters.
    public var stats: PlatformStats {
        PlatformStats(traps: traps.value(0), architecture: arch.load(ordering: .relaxed),
                      unclaimed: unclaimed.load(ordering: .relaxed), failures: failures.load(ordering: .relaxed),
                      retries: retries.load(ordering: .relaxed), busy: busy.load(ordering: .relaxed))
    }

    /// One SMC from `guest`'s vCPU `vcpu`: answered here or by the service owning the id.
    @inline(__always)
    public func trap(_ frame: RegisterFrame, guest: GuestID, vcpu: Int) -> RegisterFrame {
        traps.increment(0)
        let f = frame.function
        if f.owner == .arch && !f.isSMC64 && f.isFast { return architecture(frame) }
        guard let index = serviceIndex(for: f) else {
            unclaimed.add(1, ordering: .relaxed)
            logger.debug("unclaimed SMC id", metadata: ["id": "\(hex(f.rawValue))", "guest": "\(guest.raw)"])
            var out = frame
            out.a0 = SMCCC.notSupported(f)
            return out
        }
        let caller = CallerIdentity(guest: guest, vcpu: vcpu)
        let first = boxRefs[index]._withUnsafeGuaranteedRef { $0.service.handle(frame, caller: caller) }
        if case let .frame(out) = first { return out }
        return settle(first, frame, caller: caller, service: index)
    }

    /// The slow path of a trap: a failure mapped to the service's code, or retries of a service
    /// that asked to be called again later, paused as it hinted (at most `maxRetryDelay` each,
    /// `maxRetries` times), then the service's busy code.
    private func settle(_ first: ServiceOutcome, _ frame: RegisterFrame, caller: CallerIdentity, service index: Int) -> RegisterFrame {
        let service = services[index]
        let f = frame.function
        var outcome = first
        var attempt = 0
        while true {
            switch outcome {
            case let .frame(out):
                return out
            case let .failed(cause):
                failures.add(1, ordering: .relaxed)
                logger.debug("service failed", metadata: ["service": "\(service.name)", "cause": "\(cause)", "caller": "\(caller)"])
                var out = frame
                out.a0 = service.errorCode(for: cause, function: f)
                return out
            case let .retry(after):
                guard attempt < maxRetries else {
                    busy.add(1, ordering: .relaxed)
                    logger.debug("service busy after retries", metadata: ["service": "\(service.name)", "caller": "\(caller)"])
                    var out = frame
                    out.a0 = service.busyCode(function: f)
                    return out
                }
                attempt += 1
                retries.add(1, ordering: .relaxed)
                pause(min(max(after, .zero), maxRetryDelay))
                outcome = service.handle(frame, caller: caller)
            }
        }
    }

    @inline(__always)
    private func serviceIndex(for f: SMCFunctionID) -> Int? {
        let owner = f.owner.rawValue
        let direct = byOwner[Int(owner & 63)]
        if direct >= 0 { return direct }
        guard direct == Self.sharedOwner else { return nil }
        for r in routes where r.owners.contains(owner) && r.functions.contains(f.function) { return r.index }
        return nil
    }

    /// SMCCC_VERSION and SMCCC_ARCH_FEATURES; every other architecture id is NOT_SUPPORTED.
    private func architecture(_ frame: RegisterFrame) -> RegisterFrame {
        arch.add(1, ordering: .relaxed)
        var out = frame
        switch frame.function {
        case .smcccVersion:
            out.a0 = SMCCC.version
        case .smcccArchFeatures:
            let q = SMCFunctionID(rawValue: UInt32(truncatingIfNeeded: frame.a1))
            out.a0 = (q == .smcccVersion || q == .smcccArchFeatures) ? 0 : SMCCC.notSupported(frame.function)
        default:
            out.a0 = SMCCC.notSupported(frame.function)
        }
        return out
    }

    /// Sleeps the calling thread for `d` (the default retry pause).
    public static func sleep(_ d: Duration) {
        let (s, atto) = d.components
        guard s > 0 || atto > 0 else { return }
        var ts = timespec(tv_sec: Int(s), tv_nsec: Int(atto / 1_000_000_000))
        _ = nanosleep(&ts, nil)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Binds a platform to one guest, so that guest's driver traps through it as its `Conduit`.
public struct PlatformConduit: Conduit {
    /// The platform trapped into.
    public let platform: Platform
    /// The guest whose vCPUs trap.
    public let guest: GuestID
    /// A conduit for `guest`.
    public init(platform: Platform, guest: GuestID) { self.platform = platform; self.guest = guest }
    /// Traps from vCPU `vcpu` of the bound guest (the platform's trap entry, inlined here).
    public func trap(_ frame: RegisterFrame, vcpu: Int) -> RegisterFrame { platform.trap(frame, guest: guest, vcpu: vcpu) }
}
