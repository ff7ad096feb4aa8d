/// The Arm SMCCC TRNG interface (Arm DEN0098 1.0) as a platform service, backed by the
/// system CSPRNG. It shows the platform is not OP-TEE-shaped only, and it is the platform's
/// real user of retry-with-when: each guest draws from its own entropy budget, and a guest
/// drawing faster is told when to come back.
import Machine
import Synchronization
import TEEABI

/// How much entropy one guest may draw from the host: a bucket of bits refilled with time.
/// A guest that asks for more bits than its bucket holds is answered `.retry(after:)` with the
/// time until enough bits accrue, so the trap entry stalls that vCPU briefly and serves it (a
/// burst absorbed without an error); when the platform's retries run out, the guest gets
/// TRNG_NO_ENTROPY, DEN0098's "no entropy now, try again" answer. One guest draining the host
/// CSPRNG so slows only itself.
public struct EntropyBudget: Sendable, Equatable {
    /// Bits a guest accrues per second.
    public var bitsPerSecond: Double
    /// Bits a guest may hold (and so draw at once); at least one RND64's 192 bits.
    public var burstBits: Double
    /// A budget; the default (8 Mbit/s, 64 Kbit bursts) is far above what a kernel seeding its
    /// pools asks for.
    public init(bitsPerSecond: Double = 8_388_608, burstBits: Double = 65_536) {
        self.bitsPerSecond = max(1, bitsPerSecond); self.burstBits = max(192, burstBits)
    }
}

/// Each guest's entropy bucket (bits held, and when it was last refilled).
final class EntropyLedger: Sendable {
    private struct Bucket { var bits: Double; var stamp: Duration }
    private let buckets = Mutex<[UInt32: Bucket]>([:])
    let budget: EntropyBudget

    init(budget: EntropyBudget) { self.budget = budget }

    /// Takes `bits` from `guest`'s bucket at time `now`; nil when granted, else how long until
    /// the bucket holds them.
    func take(_ bits: Int, guest: GuestID, now: Duration) -> Duration? {
        let want = Double(bits)
        return buckets.withLock { (b: inout [UInt32: Bucket]) -> Duration? in
            var bucket = b[guest.raw] ?? Bucket(bits: budget.burstBits, stamp: now)
            let elapsed = now > bucket.stamp ? now - bucket.stamp : .zero
            let (s, atto) = elapsed.components
            let seconds = Double(s) + Double(atto) / 1e18
            bucket.bits = min(budget.burstBits, bucket.bits + seconds * budget.bitsPerSecond)
            bucket.stamp = max(now, bucket.stamp)
            defer { b[guest.raw] = bucket }
            // A thousandth of a bit of slack absorbs floating-point rounding of the refill.
            guard bucket.bits + 0.001 < want else {
                bucket.bits = max(0, bucket.bits - want)
                return nil
            }
            let wait = (want - bucket.bits) / budget.bitsPerSecond
            return .nanoseconds(Int64((wait * 1e9).rounded(.up)))
        }
    }
}

/// TRNG_VERSION / TRNG_FEATURES / TRNG_GET_UUID / TRNG_RND32 / TRNG_RND64 over the system CSPRNG.
public final class TRNGService: PlatformService {
    /// Name for logs.
    public let name = "Arm TRNG"
    /// Standard Secure Service owner, functions 0x50...0x5F.
    public let range = SMCServiceRange.trng

    /// DEN0098 version 1.0 (major << 16 | minor).
    public static let version: UInt64 = 0x1_0000
    /// TRNG_NOT_SUPPORTED (-1), as a 32-bit register.
    public static let notSupported: UInt64 = 0xFFFF_FFFF
    /// TRNG_INVALID_PARAMETER (-2).
    public static let invalidParameter: UInt64 = 0xFFFF_FFFE
    /// TRNG_NO_ENTROPY (-3).
    public static let noEntropy: UInt64 = 0xFFFF_FFFD
    /// vtee's TRNG implementation UUID (random, fixed): 6c5e0d2a-3f2b-4d71-9b0e-6a1f4c8e2d37,
    /// returned as four 32-bit words, bytes 0..3 in the low word of a0.
    public static let uuidWords: (UInt64, UInt64, UInt64, UInt64) = (0x2A0D_5E6C, 0x714D_2B3F, 0x0E9B_0E6A, 0x372D_8E4C)

    /// Per-guest entropy budgets, or nil for none.
    let ledger: EntropyLedger?
    /// Time since an arbitrary origin, monotonic (the budget's clock).
    let now: @Sendable () -> Duration

    /// A TRNG service with a per-guest entropy `budget` (nil: unlimited), on the host's
    /// monotonic clock unless `clock` (time since any fixed origin) is handed in.
    public init(budget: EntropyBudget? = EntropyBudget(), clock: (@Sendable () -> Duration)? = nil) {
        ledger = budget.map(EntropyLedger.init(budget:))
        if let clock { now = clock } else {
            let origin = ContinuousClock.now
            now = { ContinuousClock.now - origin }
        }
    }

    /// nil when `caller` may draw `bits` now, else the retry that says when it may.
    func draw(_ bits: UInt64, caller: CallerIdentity) -> ServiceOutcome? {
        guard let ledger, let wait = ledger.take(Int(bits), guest: caller.guest, now: now()) else { return nil }
        return .retry(after: wait)
    }

    /// Answers one TRNG call; entropy comes from `SystemRandomNumberGenerator` (getrandom).
    public func handle(_ frame: RegisterFrame, caller: CallerIdentity) -> ServiceOutcome {
        var out = RegisterFrame()
        switch frame.function {
        case .trngVersion:
            out.a0 = Self.version
        case .trngFeatures:
            let q = SMCFunctionID(rawValue: UInt32(truncatingIfNeeded: frame.a1))
            switch q {
            case .trngVersion, .trngFeatures, .trngGetUUID, .trngRND32, .trngRND64: out.a0 = 0
            default: out.a0 = Self.notSupported
            }
        case .trngGetUUID:
            (out.a0, out.a1, out.a2, out.a3) = Self.uuidWords
        case .trngRND32:
            let n = frame.a1 & 0xFFFF_FFFF
            guard n >= 1, n <= 96 else { return .failed(.invalidParameter("RND32 bits \(n)")) }
            if let wait = draw(n, caller: caller) { return wait }
            var rng = SystemRandomNumberGenerator()
            let words = Self.bits(Int(n), wordBits: 32, words: 3, rng: &rng)
            out.a0 = 0; out.a1 = words[0]; out.a2 = words[1]; out.a3 = words[2]
        case .trngRND64:
            let n = frame.a1
            guard n >= 1, n <= 192 else { return .failed(.invalidParameter("RND64 bits \(n)")) }
            if let wait = draw(n, caller: caller) { return wait }
            var rng = SystemRandomNumberGenerator()
            let words = Self.bits(Int(n), wordBits: 64, words: 3, rng: &rng)
            out.a0 = 0; out.a1 = words[0]; out.a2 = words[1]; out.a3 = words[2]
        default:
            return .failed(.notSupported("TRNG function \(hex(frame.function.function, width: 4))"))
        }
        return .frame(out)
    }

    /// TRNG codes: invalid parameter -> INVALID_PARAMETER, everything else NOT_SUPPORTED (64-bit for RND64).
    public func errorCode(for failure: ServiceFailure, function: SMCFunctionID) -> UInt64 {
        let code: UInt64
        switch failure {
        case .invalidParameter: code = Self.invalidParameter
        case .unavailable: code = Self.noEntropy
        case .notSupported: code = Self.notSupported
        }
        return function.isSMC64 ? UInt64(bitPattern: Int64(Int32(bitPattern: UInt32(code)))) : code
    }

    /// Busy is NO_ENTROPY.
    public func busyCode(function: SMCFunctionID) -> UInt64 { errorCode(for: .unavailable("busy"), function: function) }

    /// `n` random bits spread over `words` registers of `wordBits`, most significant register first
    /// (a1 holds the top bits, a3 the lowest), unused high bits zero.
    static func bits(_ n: Int, wordBits: Int, words: Int, rng: inout SystemRandomNumberGenerator) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: words)
        var remaining = n
        var i = words - 1
        while remaining > 0 && i >= 0 {
            let take = min(remaining, wordBits)
            let mask: UInt64 = take == 64 ? .max : (1 << UInt64(take)) - 1
            out[i] = rng.next() & mask
            remaining -= take
            i -= 1
        }
        return out
    }
}
