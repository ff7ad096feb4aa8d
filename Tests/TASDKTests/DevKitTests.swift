// The exported dev kit builds the project's C TAs, kept in OP-TEE's TA layout, with plain make
// and the host compiler, into signed <uuid>.ta files whose headers are OP-TEE's.
import Foundation
import TADevKit
import SignedTA
import TEEABI
import Testing

@Suite(.serialized) struct DevKitBuildTests {
    static let helloUUID = "5f8b97df-2d0d-4ad2-98d2-74f4389e5e11"
    static let layoutUUID = "3a1e5c7b-88d4-4b0c-9f1e-2c6b7d9a0e42"

    @Test func everyKitSourceFileIsShippedByTheExport() throws {
        let root = (#filePath as NSString).deletingLastPathComponent + "/../../Sources/TADevKit/kit"
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: root).filter {
            var dir: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + $0, isDirectory: &dir) && !dir.boolValue
        }
        #expect(Set(onDisk) == Set(TADevKit.files.map(\.path)))
        for f in TADevKit.files {
            #expect(try SDK.bytes(root + "/" + f.path) == f.bytes, "\(f.path) differs from the embedded copy")
        }
    }

    @Test func anOPTEEExampleStyleTABuildsUnchangedIntoASignedImage() throws {
        let kit = try SDK.exportKit()
        let ta = try SDK.copyTA("hello_world")
        let before = try FileManager.default.contentsOfDirectory(atPath: ta).filter { !$0.hasPrefix(".") }
        try SDK.make(ta, kit: kit)
        // O defaults to the TA directory; every OP-TEE output is there.
        for ext in ["elf", "map", "dmp", "stripped.elf", "ta"] {
            #expect(FileManager.default.fileExists(atPath: "\(ta)/\(Self.helloUUID).\(ext)"), "missing \(ext)")
        }
        // No file of the TA was edited.
        for f in before where !FileManager.default.isReadableFile(atPath: ta + "/" + f) { Issue.record("\(f) vanished") }
        #expect(try SDK.bytes(ta + "/hello_world_ta.c") == SDK.bytes(SDK.ctaSources + "/hello_world/hello_world_ta.c"))

        let image = try SDK.bytes("\(ta)/\(Self.helloUUID).ta")
        let stripped = try SDK.bytes("\(ta)/\(Self.helloUUID).stripped.elf")
        let h = try SignedTAHeader.parse(image)
        #expect(SDK.le32(image, 0) == 0x4F54_5348)
        #expect(h.imageType == 1 && h.algorithm == 0x7041_4930)
        #expect(h.digest.count == 32 && h.signature.count == 512)
        #expect(h.uuid == (try TEEUUID(Self.helloUUID)) && h.taVersion == 0)
        #expect(Int(h.imageSize) == stripped.count && h.payloadOffset == 584)
        #expect(image.count == 584 + stripped.count)
        let v = try SignedTAImage.verify(image, expecting: try TEEUUID(Self.helloUUID), key: .development)
        #expect(v.elf == stripped)
    }

    @Test func theTAHeaderAndPropertiesAreInTheELFAsOPTEEPutsThem() throws {
        let kit = try SDK.exportKit()
        let ta = try SDK.copyTA("hello_world")
        try SDK.make(ta, kit: kit)
        let elf = try SDK.bytes("\(ta)/\(Self.helloUUID).stripped.elf")
        let head = try #require(SDK.section(".ta_head", of: elf))
        #expect(head.count == 32)
        // TEE_UUID in native fields: timeLow 0x5f8b97df, timeMid 0x2d0d, timeHi 0x4ad2, then clockSeqAndNode.
        #expect(Array(head[0..<16]) == [0xDF, 0x97, 0x8B, 0x5F, 0x0D, 0x2D, 0xD2, 0x4A,
                                        0x98, 0xD2, 0x74, 0xF4, 0x38, 0x9E, 0x5E, 0x11])
        #expect(SDK.le32(head, 16) == 2048 + 2048)        // TA_STACK_SIZE + 2 KiB
        #expect(SDK.le32(head, 20) == 0)                  // TA_FLAGS
        #expect(Array(head[24..<32]) == [UInt8](repeating: 0xFF, count: 8))
        let symbols = try SDK.run(["nm", "-D", "--defined-only", "\(ta)/\(Self.helloUUID).stripped.elf"])
        for s in ["TA_CreateEntryPoint", "TA_DestroyEntryPoint", "TA_OpenSessionEntryPoint", "TA_CloseSessionEntryPoint",
                  "TA_InvokeCommandEntryPoint", "ta_head", "ta_props", "ta_num_props", "trace_level", "trace_ext_prefix"] {
            #expect(symbols.contains(" \(s)\n"), "\(s) not exported")
        }
        // Every TEE_* the TA calls resolves against libvteeta (linked with --no-undefined).
        let needed = try SDK.run(["readelf", "-d", "\(ta)/\(Self.helloUUID).stripped.elf"])
        #expect(needed.contains("[libvteeta.so]"))
    }

    @Test func subdirsAndPerFileFlagsBuildIntoTheOutputDirectory() throws {
        let kit = try SDK.exportKit()
        let ta = try SDK.copyTA("layout")
        let out = SDK.temporaryDirectory("out")
        // The TA's sources #error out unless each sub.mk flag reached exactly its own file.
        try SDK.make(ta, kit: kit, ["O=\(out)"])
        #expect(FileManager.default.fileExists(atPath: "\(out)/\(Self.layoutUUID).ta"))
        #expect(FileManager.default.fileExists(atPath: "\(out)/lib/mathlib.o"))
        #expect(!FileManager.default.fileExists(atPath: "\(ta)/\(Self.layoutUUID).ta"))
        let elf = try SDK.bytes("\(out)/\(Self.layoutUUID).stripped.elf")
        let head = try #require(SDK.section(".ta_head", of: elf))
        #expect(SDK.le32(head, 16) == 4096 + 2048)
        #expect(SDK.le32(head, 20) == 0x4 | 0x8)          // SINGLE_INSTANCE | MULTI_SESSION
        // A second make is a no-op; clean removes what make made.
        let again = try SDK.make(ta, kit: kit, ["O=\(out)"])
        #expect(!again.contains("  CC "))
        try SDK.make(ta, kit: kit, ["O=\(out)", "clean"])
        #expect(!FileManager.default.fileExists(atPath: "\(out)/\(Self.layoutUUID).ta"))
    }

    @Test func aForeignCrossCompilerIsReplacedByTheHostCompiler() throws {
        let kit = try SDK.exportKit()
        let ta = try SDK.copyTA("hello_world")
        let log = try SDK.make(ta, kit: kit, ["CROSS_COMPILE=aarch64-none-such-"])
        #expect(log.contains("using the host compiler"))
        #expect(FileManager.default.fileExists(atPath: "\(ta)/\(Self.helloUUID).ta"))
    }

    @Test func aTASignedWithAnotherKeyVerifiesOnlyWithThatKey() throws {
        let kit = try SDK.exportKit()
        let ta = try SDK.copyTA("hello_world")
        let own = try TASigningKey.generate(bits: 2048)
        let keyFile = SDK.temporaryDirectory("key") + "/own.pem"
        try own.pemRepresentation.write(toFile: keyFile, atomically: true, encoding: .utf8)
        try SDK.make(ta, kit: kit, ["TA_SIGN_KEY=\(keyFile)", "CFG_TA_VERSION=3"])
        let image = try SDK.bytes("\(ta)/\(Self.helloUUID).ta")
        let uuid = try TEEUUID(Self.helloUUID)
        #expect(try SignedTAImage.verify(image, expecting: uuid, key: own.verificationKey).header.taVersion == 3)
        #expect(throws: SignedTAError.self) { try SignedTAImage.verify(image, expecting: uuid, key: .development) }
    }
}
