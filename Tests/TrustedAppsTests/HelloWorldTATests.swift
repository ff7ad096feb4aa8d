/// hello_world against optee_examples.tsv.
import TAAPI
import TEEABI
import Testing
@testable import TrustedApps

@Suite struct HelloWorldTATests {
    @Test func incrementTurns42Into43AndLeavesBAlone() async throws {
        let h = try await TAHarness(BuiltinTAs.helloWorld)
        #expect(h.openResult == .success)
        let (r, p) = try await h.invoke(0, params(HelloWorldTA.paramTypes, [val(42, 7)]))
        #expect(r == .success)
        #expect(p.value(0) == TAValue(a: 43, b: 7))
        await h.close()
    }

    @Test func decrementAndBothWrapAt32Bits() async throws {
        let h = try await TAHarness(BuiltinTAs.helloWorld)
        var (r, p) = try await h.invoke(1, params(HelloWorldTA.paramTypes, [val(0)]))
        #expect(r == .success && p.value(0).a == UInt32.max)
        (r, p) = try await h.invoke(0, params(HelloWorldTA.paramTypes, [val(UInt32.max)]))
        #expect(r == .success && p.value(0).a == 0)
        (r, p) = try await h.invoke(1, params(HelloWorldTA.paramTypes, [val(43)]))
        #expect(p.value(0).a == 42)
    }

    @Test(arguments: [GPParamTypes(.valueInput), GPParamTypes(.valueOutput), GPParamTypes(.valueInout, .valueInput),
                      GPParamTypes(.memrefInout), GPParamTypes.allNone, GPParamTypes(rawValue: 0x3003)])
    func paramTypeMismatchAnswersBadParametersAndTouchesNothing(types: GPParamTypes) async throws {
        let h = try await TAHarness(BuiltinTAs.helloWorld)
        let (r, p) = try await h.invoke(0, params(types, [val(42)]))
        #expect(r == .badParameters)
        #expect(p.value(0).a == 42)
    }

    @Test func unknownCommandAnswersBadParameters() async throws {
        let h = try await TAHarness(BuiltinTAs.helloWorld)
        let (r, _) = try await h.invoke(2, params(HelloWorldTA.paramTypes, [val(1)]))
        #expect(r == .badParameters)
    }

    @Test func openSessionWithParamsIsRefused() async throws {
        let h = try await TAHarness(BuiltinTAs.helloWorld, openParams: params(GPParamTypes(.valueInput), [val(1)]))
        #expect(h.openResult == .badParameters)
    }
}
