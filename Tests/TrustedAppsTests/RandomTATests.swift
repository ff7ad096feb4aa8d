/// random against optee_examples.tsv.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

@Suite struct RandomTATests {
    @Test func generateFillsTheWholeOutputFromTheContextRNG() async throws {
        let h = try await TAHarness(BuiltinTAs.random, context: MockContext(randomSeed: 9))
        let (r, p) = try await h.invoke(0, params(RandomTA.paramTypes, [out(16)]))
        #expect(r == .success)
        #expect(p.memref(0)?.size == 16)
        #expect(p.outBytes(0) == (0..<16).map { UInt8($0 + 9) })
    }

    @Test func sizesAboveTheHeapAnswerOutOfMemory() async throws {
        let h = try await TAHarness(BuiltinTAs.random)
        var (r, _) = try await h.invoke(0, params(RandomTA.paramTypes, [out(32 * 1024 + 1)]))
        #expect(r == .outOfMemory)
        (r, _) = try await h.invoke(0, params(RandomTA.paramTypes, [out(32 * 1024)]))
        #expect(r == .success)
    }

    @Test func emptyAndNullOutputsSucceed() async throws {
        let h = try await TAHarness(BuiltinTAs.random)
        var (r, _) = try await h.invoke(0, params(RandomTA.paramTypes, [out(0)]))
        #expect(r == .success)
        (r, _) = try await h.invoke(0, params(RandomTA.paramTypes, [.memref(TAMemref(bytes: [], isNull: true))]))
        #expect(r == .success)
    }

    @Test func wrongTypesAndUnknownCommandsAnswerBadParameters() async throws {
        let h = try await TAHarness(BuiltinTAs.random)
        var (r, _) = try await h.invoke(0, params(GPParamTypes(.memrefInout), [out(16)]))
        #expect(r == .badParameters)
        (r, _) = try await h.invoke(0, params(GPParamTypes(.memrefOutput, .valueInput), [out(16), val(1)]))
        #expect(r == .badParameters)
        (r, _) = try await h.invoke(1, params(RandomTA.paramTypes, [out(16)]))
        #expect(r == .badParameters)
        let refused = try await TAHarness(BuiltinTAs.random, openParams: params(GPParamTypes(.valueInput), [val(0)]))
        #expect(refused.openResult == .badParameters)
    }
}
