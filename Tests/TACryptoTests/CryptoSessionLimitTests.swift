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

@Suite struct KeyDerivationBoundsTests {
    /// A derivation the secure thread could not finish in reasonable time, or whose output the
    /// derived object cannot hold, is refused before any work is done.
    @Test func pbkdf2IterationsAndOversizedOutputsAreRefusedUpFront() throws {
        var s = CryptoSession()
        let pw = try s.allocateObject(type: 0xA100_00C2, maxSize: 64)
        try s.withObject(pw) { (o: inout CryptoObject) throws(TACryptoError) in try o.populate([TAAttribute(id: 0xC000_01C2, bytes: Array("password".utf8))]) }
        let op = try s.allocateOperation(algorithm: 0x8000_20C2, mode: 6, maxKeySize: 64)
        try s.setKey(op, key: pw, key2: nil)
        let out = try s.allocateObject(type: 0xA000_0000, maxSize: 160)
        func derive(iterations: UInt32, length: UInt32) throws(TACryptoError) {
            try s.derive(op, params: [TAAttribute(id: 0xD000_02C2, bytes: Array("salt".utf8)),
                                      TAAttribute(id: 0xF000_03C2, a: iterations, b: 0), TAAttribute(id: 0xF000_04C2, a: length, b: 0)],
                         derived: out)
        }
        #expect(throws: TACryptoError.badParameters) { try derive(iterations: 0xFFFF_FFFF, length: 20) }
        #expect(throws: TACryptoError.badParameters) { try derive(iterations: 1, length: 21) }
        try derive(iterations: 1, length: 20)
        #expect(try s.object(out).size == 160)
    }
}
