/// Register frames read as OP-TEE calls: every frame decodes to a call or a typed error,
/// and a call's frame decodes back to the same call.
import Testing
import TEEABI

@Suite struct SMCCallDecoding {
    @Test func callWithArgCarriesTheArgumentAddressInA1A2() throws {
        let f = RegisterFrame(.callWithArg, a1: 0x1, a2: 0x2345_6000, a3: 1, a7: 3)
        let call = try SMCCall(frame: f)
        #expect(call == .callWithArg(argument: 0x1_2345_6000, cacheAttributes: 1))
        #expect(call.frame(clientID: 3) == f)
        #expect(call.summary == "OPTEE_SMC_CALL_WITH_ARG arg=0x123456000 cache=1")
        // Only the low 32 bits of each register count (SMC32).
        let high = RegisterFrame(a0: 0xFFFF_FFFF_3200_0012, a1: 0xAAAA_AAAA_0000_0001, a2: 0xBBBB_BBBB_0000_1000)
        #expect(try SMCCall(frame: high) == .callWithRPCArg(argument: 0x1_0000_1000, cacheAttributes: 0))
    }

    @Test func misalignedArgumentsAreTypedErrors() {
        for low: UInt64 in [1, 4, 7, 0x1004] {
            #expect(throws: ABIError.misaligned(address: low, alignment: 8)) { try SMCCall(frame: RegisterFrame(.callWithArg, a2: low)) }
            #expect(throws: ABIError.misaligned(address: low, alignment: 8)) { try SMCCall(frame: RegisterFrame(.callWithRPCArg, a2: low)) }
            #expect(throws: ABIError.misaligned(address: low, alignment: 8)) { try SMCCall(frame: RegisterFrame(.callWithRegdArg, a3: low)) }
        }
    }

    @Test func fastCallsAndUnknownIdsDecode() throws {
        #expect(try SMCCall(frame: RegisterFrame(.exchangeCapabilities, a1: 1)) == .exchangeCapabilities(.uniprocessor))
        #expect(try SMCCall(frame: RegisterFrame(.vmDestroyed, a1: 5)) == .vmDestroyed(clientID: 5))
        #expect(try SMCCall(frame: RegisterFrame(.vmCreated, a1: 6)) == .vmCreated(clientID: 6))
        #expect(try SMCCall(frame: RegisterFrame(.callsUID)) == .query(.callsUID))
        #expect(try SMCCall(frame: RegisterFrame(.getThreadCount)) == .query(.getThreadCount))
        #expect(try SMCCall(frame: RegisterFrame(.l2ccMutex, a1: 1, a2: 0, a3: 0x8000)) == .l2ccMutex(operation: 1, address: 0x8000))
        #expect(try SMCCall(frame: RegisterFrame(.trngRND64)) == .other(.trngRND64))
        #expect(try SMCCall(frame: RegisterFrame(a0: 0x3200_0005)) == .other(SMCFunctionID(rawValue: 0x3200_0005)))
        let resume = try SMCCall(frame: RegisterFrame(.returnFromRPC, a1: 1, a2: 2, a3: 7, a4: 4, a5: 5, a6: 6))
        #expect(resume == .returnFromRPC(a1: 1, a2: 2, thread: 7, a4: 4, a5: 5, a6: 6))
    }

    @Test func randomFramesDecodeOrFailTypedAndDecodedCallsRoundTrip() {
        var g = SplitMix(seed: 21)
        let ids: [UInt64] = [0x3200_0004, 0x3200_0012, 0x3200_0013, 0x3200_0003, 0xB200_0009, 0xB200_000D, 0xB200_000E,
                             0xB200_0008, 0xBF00_FF01, 0xB200_000F]
        var ok = 0, failed = 0
        for i in 0..<5000 {
            var f = RegisterFrame()
            for r in 0..<8 { f[r] = UInt64.random(in: 0...UInt64.max, using: &g) }
            if i % 2 == 0, let id = ids.randomElement(using: &g) { f.a0 = id }
            do {
                let call = try SMCCall(frame: f)
                ok += 1
                #expect(try SMCCall(frame: call.frame(clientID: f.a7)) == call)
                #expect(call.function == f.function)
            } catch {
                failed += 1
                guard case let .misaligned(address, alignment) = error else { Issue.record("unexpected \(error)"); continue }
                #expect(address % alignment != 0)
            }
        }
        #expect(ok > 0 && failed > 0)
    }
}

@Suite struct FrameDescription {
    @Test func framesPrintTheCallAndRegistersAndUnknownIdsHaveNoCall() {
        let d = ABIValueDecoder.decode(frame: RegisterFrame(.callWithArg, a2: 0x4000_1000, a3: 1, a7: 2))
        #expect(d.call == .callWithArg(argument: 0x4000_1000, cacheAttributes: 1))
        #expect(d.text.hasPrefix("OPTEE_SMC_CALL_WITH_ARG arg=0x40001000 cache=1\n  a0: 0x32000004"))
        #expect(d.text.hasSuffix("client id (a7): 2"))
        let bad = ABIValueDecoder.decode(frame: RegisterFrame(.callWithArg, a2: 0x4000_1004))
        #expect(bad.call == nil && bad.text.contains("invalid: misaligned"))
        let unknown = ABIValueDecoder.decode(frame: RegisterFrame(a0: 0x3200_0005))
        #expect(unknown.call == nil && unknown.text.hasPrefix("0x32000005 unknown"))
        let trng = ABIValueDecoder.decode(frame: RegisterFrame(.trngRND64))
        #expect(trng.call == .other(.trngRND64) && trng.text.hasPrefix("TRNG_RND64 (not an OP-TEE call)"))
    }
}
