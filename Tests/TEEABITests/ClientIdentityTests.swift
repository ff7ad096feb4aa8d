// TEEABI's SHA-1 against the FIPS 180 vectors, and the client identity UUIDs against what
// Linux's uuid_v5() (tee_core.c) gives for the same names.
import TEEABI
import Testing

@Suite struct SHA1Tests {
    private func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    @Test func fips180VectorsHashToTheirPublishedDigests() {
        #expect(hex(SHA1.digest(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(SHA1.digest([UInt8]())) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(SHA1.digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(SHA1.digest([UInt8](repeating: 0x61, count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func feedingInPiecesGivesTheSameDigestAsAtOnce() {
        let data = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var h = SHA1()
        h.update(data[0..<55]); h.update(data[55..<64]); h.update(data[64...])
        #expect(h.finalize() == SHA1.digest(data))
    }
}

@Suite struct ClientIdentityNamingTests {
    /// Values from Linux's uuid_v5() over the TEE client namespace for the same names.
    @Test func clientUUIDsMatchLinuxUUIDv5() {
        #expect(ClientIdentity.uuidV5("uid=0").description == "ef0180a3-13f3-5d1c-b7f5-888c0e21059a")
        #expect(ClientIdentity.uuidV5("uid=3e8").description == "fc34275c-d8dd-5ba7-968b-504718363b87")
        #expect(ClientIdentity.uuidV5("gid=64").description == "d32f761e-b364-519b-be12-ed54ba663b0a")
        #expect(ClientIdentity.uuidV5("app=/usr/bin/x").description == "3c8107ff-a86d-5e22-84b6-5b268f4f99a6")
    }

    @Test func eachLoginNamesWhatLinuxHashes() {
        #expect(ClientIdentity.name(for: .user, uid: 1000, gid: 5, application: "x") == "uid=3e8")
        #expect(ClientIdentity.name(for: .group, uid: 0, gid: 100, application: "x") == "gid=64")
        #expect(ClientIdentity.name(for: .application, uid: 0, gid: 0, application: "/usr/bin/x") == "app=/usr/bin/x")
        #expect(ClientIdentity.name(for: .applicationUser, uid: 1000, gid: 0, application: "/usr/bin/x") == "uid=3e8:app=/usr/bin/x")
        #expect(ClientIdentity.name(for: .applicationGroup, uid: 0, gid: 100, application: "/a") == "gid=64:app=/a")
        #expect(ClientIdentity.uuid(for: .public, uid: 1, gid: 1, application: "x") == .zero)
        #expect(ClientIdentity.uuid(for: .user, uid: 0, gid: 9, application: "x") == ClientIdentity.uuidV5("uid=0"))
        #expect(ClientIdentity.uuid(for: .reeKernel, uid: 0, gid: 0, application: "x") == nil)
        // An unknown executable names no application login (never a guessable fallback).
        for m in [LoginMethod.application, .applicationUser, .applicationGroup] {
            #expect(ClientIdentity.uuid(for: m, uid: 0, gid: 0, application: nil) == nil)
        }
        #expect(ClientIdentity.uuid(for: .user, uid: 0, gid: 9, application: nil) == ClientIdentity.uuidV5("uid=0"))
        #expect(ClientIdentity.uuid(for: LoginMethod(rawValue: 3), uid: 0, gid: 0, application: "x") == nil)
    }
}
