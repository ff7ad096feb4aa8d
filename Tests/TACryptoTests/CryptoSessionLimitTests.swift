/// The secure world's crypto state of one TA instance is bounded: a TA cannot make it hold more
/// than `CryptoSession.byteLimit` bytes of attributes, however it spreads them over objects.
import TACrypto
import Testing

@Suite struct CryptoSessionLimitTests {
    @Test func attributeBytesBeyondTheInstanceLimitAreOutOfMemory() throws {
        var s = CryptoSession()
        let modulus = [UInt8](repeating: 0xC5, count: 256)
        let big = [UInt8](repeating: 1, count: 8 << 20)
        var accepted = 0
        var refusal: TACryptoError?
        for _ in 0..<10 {
            let h = try s.allocateObject(type: 0xA100_0030, maxSize: 2048)
            do {
                try s.withObject(h) { (o: inout CryptoObject) throws(TACryptoError) in
                    try o.populate([TAAttribute(id: 0xD000_0130, bytes: modulus), TAAttribute(id: 0xD000_0230, bytes: [1, 0, 1]),
                                    TAAttribute(id: 0xC000_0330, bytes: big)])
                }
                accepted += 1
            } catch {
                refusal = error
                break
            }
        }
        #expect(accepted == 7)
        #expect(refusal == .outOfMemory)
    }

    @Test func anHMACSHA256KeyUnder192BitsIsRefusedAtAllocationAndPopulation() throws {
        var s = CryptoSession()
        #expect(throws: TACryptoError.notSupported) { _ = try s.allocateObject(type: 0xA000_0004, maxSize: 160) }
        let h = try s.allocateObject(type: 0xA000_0004, maxSize: 256)
        #expect(throws: TACryptoError.badParameters) {
            try s.withObject(h) { (o: inout CryptoObject) throws(TACryptoError) in try o.populate([TAAttribute(id: 0xC000_0000, bytes: [UInt8](repeating: 7, count: 20))]) }
        }
    }
}
