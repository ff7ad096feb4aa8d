/// The Arm SMCCC TRNG interface (Arm DEN0098 1.0) as a platform service, backed by the
/// system CSPRNG. It shows the platform is not OP-TEE-shaped only.
import Machine
import TEEABI

/// TRNG_VERSION / TRNG_FEATURES / TRNG_GET_UUID / TRNG_RND32 / TRNG_RND64 over the system CSPRNG.
public struct TRNGService: PlatformService {
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

    /// A TRNG service.
    public init() {}

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
            var rng = SystemRandomNumberGenerator()
            let words = Self.bits(Int(n), wordBits: 32, words: 3, rng: &rng)
            out.a0 = 0; out.a1 = words[0]; out.a2 = words[1]; out.a3 = words[2]
        case .trngRND64:
            let n = frame.a1
            guard n >= 1, n <= 192 else { return .failed(.invalidParameter("RND64 bits \(n)")) }
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
