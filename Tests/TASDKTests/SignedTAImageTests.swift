// The signed-image codec on its own: round trips, every algorithm OP-TEE's signer emits, and
// hostile bytes that must be refused with a typed error, never a crash.
import SignedTA
import TEEABI
import Testing

@Suite struct SignedTAImageTests {
    static let uuid = TEEUUID(octets: Array(0..<16))
    static let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46] + (0..<777).map { UInt8(truncatingIfNeeded: $0 * 13) }

    @Test(arguments: TASignatureAlgorithm.allCases)
    func everyAlgorithmRoundTripsAndCarriesItsId(_ algorithm: TASignatureAlgorithm) throws {
        let key = try TASigningKey.generate(bits: 2048)
        let image = try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, taVersion: 9, key: key, algorithm: algorithm)
        let v = try SignedTAImage.verify(image, expecting: Self.uuid, key: key.verificationKey)
        #expect(v.elf == Self.elf && v.header.algorithm == algorithm.rawValue && v.header.taVersion == 9)
        #expect(v.header.digest.count == algorithm.hashSize && v.header.signature.count == 256)
    }

    @Test func everyPrefixAndRandomBytesAreRefusedWithoutCrashing() throws {
        let image = try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, key: .development)
        let key = try TAVerificationKey.development
        for n in stride(from: 0, to: image.count, by: 7) {
            #expect(throws: SignedTAError.self) { try SignedTAImage.verify(Array(image.prefix(n)), expecting: Self.uuid, key: key) }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var junk = (0..<Int.random(in: 0..<700, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if junk.count >= 4, Bool.random(using: &rng) { junk[0...3] = [0x48, 0x53, 0x54, 0x4F] }   // right magic
            #expect(throws: SignedTAError.self) { try SignedTAImage.verify(junk, expecting: Self.uuid, key: key) }
        }
        // Sizes in the header that point past the end, or claim huge hash/signature lengths.
        var lying = image
        lying[16] = 0xFF; lying[17] = 0xFF
        #expect(throws: SignedTAError.self) { try SignedTAImage.verify(lying, expecting: Self.uuid, key: key) }
        lying = image
        lying[8] = 0xFF; lying[9] = 0xFF; lying[10] = 0xFF; lying[11] = 0xFF
        #expect(throws: SignedTAError.sizeMismatch) { try SignedTAImage.verify(lying, expecting: Self.uuid, key: key) }
    }

    @Test func everyRefusalIsSecurityAtTheGPBoundary() {
        let all: [SignedTAError] = [.truncated, .badMagic(0), .unsupportedImageType(2), .unsupportedAlgorithm(1),
                                    .badHashSize(1), .badSignatureSize(1), .sizeMismatch, .digestMismatch, .badSignature,
                                    .uuidMismatch(signed: .zero, requested: Self.uuid), .noTAHead]
        #expect(all.allSatisfy { $0.teeResult == .security })
    }

    @Test func theDevelopmentKeyIsKnownAsSuchAndOthersAreNot() throws {
        let dev = try TAVerificationKey.development
        #expect(dev.isDevelopmentKey)
        #expect(try TAVerificationKey(pem: TASigningKey.developmentPEM).isDevelopmentKey)
        let other = try TASigningKey.generate(bits: 2048).verificationKey
        #expect(!other.isDevelopmentKey)
        #expect(dev.signatureSize == 512)
        let pub = dev.pemRepresentation
        let reread = try TAVerificationKey(pem: pub)
        #expect(pub.contains("BEGIN PUBLIC KEY") && reread.isDevelopmentKey)
        #expect(throws: SignedTAError.self) { try TAVerificationKey(pem: "not a key") }
    }

    @Test func malformedELFsInLegacyImagesAreRefusedWithoutCrashing() throws {
        // The legacy path reads the UUID out of the ELF: hostile section tables must only ever
        // be refused (noTAHead), never read out of bounds.
        let key = try TASigningKey.generate(bits: 2048)
        var elf = [UInt8](repeating: 0, count: 512)
        elf[0] = 0x7F; elf[1] = 0x45; elf[2] = 0x4C; elf[3] = 0x46; elf[4] = 2; elf[5] = 1
        func put(_ v: UInt64, _ o: Int, _ n: Int) { for i in 0..<n { elf[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        let cases: [(UInt64, UInt64, UInt64, UInt64)] = [   // shoff, shentsize, shnum, shstrndx
            (UInt64.max, 64, 2, 1), (UInt64(Int.max), 64, 2, 1), (500, 64, 2, 1), (64, 64, 0xFFFF, 0xFFFE),
            (64, 0, 2, 1), (64, 64, 2, 5), (0, 64, 1, 0), (448, 64, 1, 0),
        ]
        for (i, c) in cases.enumerated() {
            put(c.0, 0x28, 8); put(c.1, 0x3A, 2); put(c.2, 0x3C, 2); put(c.3, 0x3E, 2)
            let image = try SignedTAImage.sign(elf: elf, uuid: .zero, key: key, legacy: true)
            #expect(throws: SignedTAError.noTAHead, "case \(i)") {
                try SignedTAImage.verify(image, expecting: Self.uuid, key: key.verificationKey)
            }
        }
        for n in [0, 4, 16, 63, 64] {
            let image = try SignedTAImage.sign(elf: Array(elf.prefix(n)), uuid: .zero, key: key, legacy: true)
            #expect(throws: SignedTAError.noTAHead) { try SignedTAImage.verify(image, expecting: Self.uuid, key: key.verificationKey) }
        }
    }
}
