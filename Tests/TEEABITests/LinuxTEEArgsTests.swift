/// The pure decoders of the Linux TEE ioctl arguments refuse what Linux's tee core refuses, with
/// the errno it returns, for any bytes (the parser a fuzz target drives).
import Testing
import TEEABI

@Suite struct LinuxTEEArgsTests {
    static func invoke(numParams: UInt32, params: [TEEIoctlParam], extra: Int = 0) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 24 + 32 * params.count + extra)
        LinuxTEEArgs.put32(&b, 20, numParams)
        for (i, p) in params.enumerated() { LinuxTEEArgs.store(p, at: i, .invoke, into: &b) }
        return b
    }

    @Test func aWellFormedInvokeDecodesItsParams() throws {
        let b = Self.invoke(numParams: 2, params: [TEEIoctlParam(attr: 3, a: 7, b: 8, c: 9), TEEIoctlParam(attr: 6, a: 0, b: 16, c: 4)])
        let p = try LinuxTEEArgs.params(.invoke, b)
        #expect(p == [TEEIoctlParam(attr: 3, a: 7, b: 8, c: 9), TEEIoctlParam(attr: 6, a: 0, b: 16, c: 4)])
    }

    @Test func numParamsMustMakeTheLengthExact() {
        let b = Self.invoke(numParams: 3, params: [TEEIoctlParam(attr: 0), TEEIoctlParam(attr: 0)])
        #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.params(.invoke, b) }
        let huge = Self.invoke(numParams: .max, params: [])
        #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.params(.invoke, huge) }
        let extra = Self.invoke(numParams: 1, params: [TEEIoctlParam(attr: 0)], extra: 1)
        #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.params(.invoke, extra) }
    }

    @Test func attributesOutsideTheDefinedSetAreInvalid() {
        for attr: UInt64 in [4, 8, 0x200 | 1, 0xFF, 1 << 40] {
            let b = Self.invoke(numParams: 1, params: [TEEIoctlParam(attr: attr)])
            #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.params(.invoke, b) }
        }
    }

    @Test func lengthsOutsideHeaderAndMaxAreInvalid() {
        #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.checkLength(.openSession, length: 55) }
        #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.checkLength(.invoke, length: 1025) }
        #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.checkLength(.invoke, length: .max) }
        #expect((try? LinuxTEEArgs.checkLength(.openSession, length: 184)) != nil)
    }

    @Test func supplicantSendNeedsAtMostTheLength() throws {
        var b = [UInt8](repeating: 0, count: 8 + 64)
        LinuxTEEArgs.put32(&b, 4, 1)
        #expect(try LinuxTEEArgs.params(.supplicantSend, b).count == 1)
        LinuxTEEArgs.put32(&b, 4, 3)
        #expect(throws: TEEIoctlError.invalid) { try LinuxTEEArgs.params(.supplicantSend, b) }
    }

    @Test func writeBackCopiesOnlyWhatParamsToUserCopies() {
        let result = TEEIoctlParam(attr: 0, a: 1, b: 2, c: 3)
        #expect(LinuxTEEArgs.writeBack(result, over: TEEIoctlParam(attr: 2)) == TEEIoctlParam(attr: 2, a: 1, b: 2, c: 3))
        #expect(LinuxTEEArgs.writeBack(result, over: TEEIoctlParam(attr: 6, a: 9, b: 9, c: 9)) == TEEIoctlParam(attr: 6, a: 9, b: 2, c: 9))
        #expect(LinuxTEEArgs.writeBack(result, over: TEEIoctlParam(attr: 1, a: 9, b: 9, c: 9)) == TEEIoctlParam(attr: 1, a: 9, b: 9, c: 9))
        #expect(LinuxTEEArgs.writeBack(result, over: TEEIoctlParam(attr: 5, a: 9, b: 9, c: 9)) == TEEIoctlParam(attr: 5, a: 9, b: 9, c: 9))
    }

    @Test func anyBytesDecodeOrFailWithoutTrapping() {
        var seed: UInt64 = 0x1234_5678
        for _ in 0..<2000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(seed >> 54)   // 0...1023
            var b = [UInt8](repeating: 0, count: n)
            for i in 0..<n { seed = seed &* 6364136223846793005 &+ 1; b[i] = UInt8(truncatingIfNeeded: seed >> 33) }
            if n > 20 && seed & 1 == 0 { LinuxTEEArgs.put32(&b, 20, UInt32((n - 24) / 32)) }
            _ = try? LinuxTEEArgs.params(.invoke, b)
            _ = try? LinuxTEEArgs.params(.supplicantSend, b)
            _ = LinuxTEEArgs.openSession(b)
            _ = try? LinuxTEEArgs.bufData(b)
        }
    }
}
