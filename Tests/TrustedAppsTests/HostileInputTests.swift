/// Whatever a client sends, a built-in TA answers with a result code (or a deliberate TAPanic):
/// random commands, undefined param-type nibbles, memrefs whose size disagrees with their buffer.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

/// SplitMix64: a small deterministic generator, so a failure replays.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct HostileInputTests {
    /// Every param-type word some built-in command accepts, so calls get past the type check.
    static let knownTypes: [GPParamTypes] = [
        HelloWorldTA.paramTypes, RandomTA.paramTypes, SecureStorageTA.readParamTypes, SecureStorageTA.writeParamTypes,
        SecureStorageTA.deleteParamTypes, HOTPTA.registerParamTypes, HOTPTA.getParamTypes, AESTA.prepareParamTypes,
        AESTA.bufferParamTypes, AESTA.cipherParamTypes, AESTA.authencParamTypes, TestTA.nopParamTypes,
        TestTA.timeParamTypes, TestTA.valueInParamTypes, TestTA.valueInoutParamTypes, TestTA.memrefInoutParamTypes,
        .allNone,
    ]

    static func randomValue(_ rng: inout SplitMix64) -> TAParam {
        let a: UInt32
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: a = [0, 1, 2, 3, 4, 16, 32][Int.random(in: 0..<7, using: &rng)]  // values commands act on
        case 1: a = UInt32.random(in: 0...40, using: &rng)
        default: a = UInt32.random(in: 0...UInt32.max, using: &rng)
        }
        return .value(TAValue(a: a, b: UInt32.random(in: 0...3, using: &rng)))
    }

    static func randomMemref(_ rng: inout SplitMix64) -> TAParam {
        let n = [0, 1, 12, 15, 16, 17, 32, 33, 64, 65, 200][Int.random(in: 0..<11, using: &rng)]
        var m = TAMemref(bytes: (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) },
                         isNull: n == 0 && Bool.random(using: &rng))
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: m.size = Int.random(in: -5 ... -1, using: &rng)           // negative size
        case 1: m.size = Int.random(in: n...(n + 100_000), using: &rng)   // larger than the buffer
        case 2: m.size = Int.random(in: 0...n, using: &rng)               // smaller than the buffer
        default: break
        }
        return .memref(m)
    }

    static func randomParams(_ rng: inout SplitMix64) -> TAParams {
        // Mostly types some command accepts; otherwise any nibbles, undefined ones included.
        let types = Int.random(in: 0..<10, using: &rng) < 7
            ? knownTypes[Int.random(in: 0..<knownTypes.count, using: &rng)]
            : GPParamTypes(rawValue: UInt32.random(in: 0...0xFFFF, using: &rng))
        var list: [TAParam] = []
        for i in 0..<4 {
            let nibble = (types.rawValue >> (4 * UInt32(i))) & 0xF
            // Mostly a param of the kind the type names; sometimes a mismatch.
            let kind = Int.random(in: 0..<10, using: &rng) < 8 ? (nibble == 0 ? 0 : nibble < 4 ? 1 : 2) : Int.random(in: 0..<3, using: &rng)
            switch kind {
            case 0: list.append(.none)
            case 1: list.append(randomValue(&rng))
            default: list.append(randomMemref(&rng))
            }
        }
        return TAParams(types: types, params: list)
    }

    @Test(arguments: BuiltinTAs.all.map(\.name))
    func randomInvocationsNeverCrashATA(name: String) async throws {
        guard let d = BuiltinTAs.all.first(where: { $0.name == name }) else { Issue.record("no TA \(name)"); return }
        var rng = SplitMix64(state: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var results: [UInt32: Int] = [:]
        var panics = 0
        for _ in 0..<300 {
            // A fresh session from time to time, as a client would after a panic.
            let h = try await TAHarness(d, context: MockContext(cancelAfterCheckpoints: 1))
            if d.uuid == AESTA.uuid {
                // Start from a prepared, keyed operation so the random calls reach the ciphers.
                let algo = AESTA.Algorithm.allCases[Int.random(in: 0..<5, using: &rng)]
                let keySize: UInt32 = Bool.random(using: &rng) ? 16 : 32
                _ = try await h.invoke(0, params(AESTA.prepareParamTypes, [val(algo.rawValue), val(keySize), val(UInt32.random(in: 0...1, using: &rng))]))
                _ = try await h.invoke(1, params(AESTA.bufferParamTypes, [mem([UInt8](repeating: 3, count: Int(keySize)))]))
                // SET_IV on a CCM/GCM operation panics (as libutee's TEE_CipherInit): only the ciphers get one.
                if !algo.isAuthenticated {
                    _ = try await h.invoke(2, params(AESTA.bufferParamTypes, [mem(algo == .ecb ? [] : [UInt8](repeating: 0, count: 16))]))
                }
            }
            for _ in 0..<10 {
                let command = Bool.random(using: &rng) ? UInt32.random(in: 0...13, using: &rng) : UInt32.random(in: 0...UInt32.max, using: &rng)
                do {
                    let (r, _) = try await h.invoke(command, Self.randomParams(&rng))
                    results[r.rawValue, default: 0] += 1
                } catch is TAPanic {
                    panics += 1
                    break
                } catch {
                    Issue.record("\(name) threw \(error) for command \(command)")
                }
            }
            await h.close()
        }
        // Both refusals and real work happened.
        #expect(results[TEEResult.badParameters.rawValue, default: 0] + results[TEEResult.notSupported.rawValue, default: 0] > 0)
        #expect(results[TEEResult.success.rawValue, default: 0] > 0)
        _ = panics
    }
}
