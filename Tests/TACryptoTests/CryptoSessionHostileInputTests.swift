/// What a hostile TA can send the secure world's crypto state gets a defined error, never a trap:
/// foreign handles, calls out of order, malformed attribute encodings, steps of the wrong class.
import TACrypto
import Testing

@Suite struct CryptoSessionHostileInputTests {
    @Test func foreignHandlesAreBadParameters() throws {
        var s = CryptoSession()
        let op = try s.allocateOperation(algorithm: 0x5000_0004, mode: 5, maxKeySize: 0)
        #expect(throws: TACryptoError.badParameters) { _ = try s.object(op) }            // an operation is no object
        #expect(throws: TACryptoError.badParameters) { try s.freeObject(12345) }
        #expect(throws: TACryptoError.badParameters) { try s.freeOperation(0) }
        #expect(throws: TACryptoError.badParameters) { try s.setKey(op, key: 77, key2: nil) }
        #expect(throws: TACryptoError.badParameters) { _ = try s.step(9999, .digestUpdate, input: [], outCapacity: 0) }
    }

    @Test func malformedAttributeEncodingsAreRefused() {
        let good = TAAttribute.encode([TAAttribute(id: 0xC000_0000, bytes: [1, 2, 3])])
        #expect((try? TAAttribute.decode(good)) == [TAAttribute(id: 0xC000_0000, bytes: [1, 2, 3])])
        for bad in [Array(good.prefix(good.count - 1)), [9, 0, 0, 0], [0xFF, 0xFF, 0, 0], [1, 0]] as [[UInt8]] {
            #expect(throws: TACryptoError.badParameters) { _ = try TAAttribute.decode(bad) }
        }
        var huge = good
        huge[16] = 0xFF; huge[17] = 0xFF; huge[18] = 0xFF; huge[19] = 0x7F   // a length far past the end
        #expect(throws: TACryptoError.badParameters) { _ = try TAAttribute.decode(huge) }
    }

    @Test func stepsOutOfOrderOrOfAnotherClassAreRefused() throws {
        var s = CryptoSession()
        let key = try s.allocateObject(type: 0xA000_0010, maxSize: 128)
        try s.withObject(key) { (o: inout CryptoObject) throws(TACryptoError) in try o.populate([TAAttribute(id: 0xC000_0000, bytes: [UInt8](repeating: 1, count: 16))]) }
        let op = try s.allocateOperation(algorithm: 0x1000_0110, mode: 0, maxKeySize: 128)
        #expect(throws: TACryptoError.badState) { try s.initialize(op, iv: [UInt8](repeating: 0, count: 16)) }   // no key yet
        try s.setKey(op, key: key, key2: nil)
        #expect(throws: TACryptoError.badState) { _ = try s.step(op, .cipherUpdate, input: [UInt8](repeating: 0, count: 16), outCapacity: 16) }
        #expect(throws: TACryptoError.badParameters) { _ = try s.step(op, .digestFinal, input: [], outCapacity: 64) }
        #expect(throws: TACryptoError.badParameters) { try s.initialize(op, iv: [1, 2, 3]) }                       // CBC needs 16 bytes
        try s.initialize(op, iv: [UInt8](repeating: 0, count: 16))
        #expect(throws: TACryptoError.shortBuffer(needed: 16)) { _ = try s.step(op, .cipherUpdate, input: [UInt8](repeating: 0, count: 16), outCapacity: 8) }
        #expect(throws: TACryptoError.badParameters) { _ = try s.step(op, .cipherFinal, input: [1], outCapacity: 16) }  // NOPAD mid-block
        #expect(throws: TACryptoError.badState) { try s.setKey(op, key: key, key2: nil) }                        // active
    }
}
