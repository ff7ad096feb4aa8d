// End to end: the project's C TAs, built from OP-TEE's layout with the exported dev kit, signed,
// loaded through the guest's supplicant (LOAD_TA), verified by the secure world and run in their
// own TA process by tahost's runner, serve sessions from the Swift client.
import Foundation
import Machine
import SecureWorld
import SignedTA
import TAHost
import TEEABI
import TEEClient
import Testing
import VTEEKit

/// A machine whose LOAD_TA path runs TAs in vtee-ta-host processes.
struct ProcessMachine {
    let stack: VTEEStack
    let guest: GuestStack
    let taDir: String
    let runner: TAProcessRunner

    init() throws {
        taDir = SDK.temporaryDirectory("tadir")
        let host = SDK.productsDirectory + "/vtee-ta-host"
        guard FileManager.default.isExecutableFile(atPath: host) else { throw SDKTestError.missing("\(host) not built") }
        let r = TAProcessRunner(config: TAProcessConfig(hostExecutable: host))
        runner = r
        var c = StackConfig()
        c.storageRoot = SDK.temporaryDirectory("storage")
        c.taDirectory = taDir
        c.taRunner = { u, elf throws(TEEResult) in try r.load(uuid: u, elf: elf) }
        stack = try VTEEStack(config: c)
        guest = try stack.addGuest(GuestID(0))
    }

    /// Builds C TA `name` with the kit and installs its .ta where the supplicant looks.
    func install(_ name: String, uuid: String, kit: String) throws {
        let ta = try SDK.copyTA(name)
        try SDK.make(ta, kit: kit)
        try FileManager.default.copyItem(atPath: "\(ta)/\(uuid).ta", toPath: "\(taDir)/\(uuid).ta")
    }

    func shutdown() { stack.removeGuest(guest) }
}

@Suite(.serialized) struct CTASessionTests {
    @Test func aCTABuiltFromOPTEELayoutServesASessionFromTheSwiftClient() throws {
        guard FileManager.default.fileExists(atPath: SDK.productsDirectory + "/libvteeta.so") else {
            Issue.record("libvteeta.so not built"); return
        }
        let kit = try SDK.exportKit()
        let m = try ProcessMachine()
        defer { m.shutdown() }
        try m.install("hello_world", uuid: DevKitBuildTests.helloUUID, kit: kit)
        let s = try m.guest.context.openSession(try TEEUUID(DevKitBuildTests.helloUUID))
        var op = TEEOperation([.valueInout(a: 42, b: 7)])
        try s.invoke(0, &op)                                    // TA_HELLO_WORLD_CMD_INC_VALUE
        #expect(op[0].value.a == 43 && op[0].value.b == 7)
        try s.invoke(1, &op)                                    // DEC
        #expect(op[0].value.a == 42)
        // The TA reads its own gpd.ta.description through the GP 1.1 property API (compat build).
        var desc = TEEOperation([.tempOutput([UInt8](repeating: 0, count: 128))])
        try s.invoke(2, &desc)
        let text = "vtee test TA in OP-TEE's example layout"
        #expect(String(decoding: desc[0].buffer.prefix(while: { $0 != 0 }), as: UTF8.self) == text)
        #expect(desc[0].size == text.utf8.count + 1)
        // A wrong parameter type is the TA's own error, origin TRUSTED_APP.
        var bad = TEEOperation([.valueInput(a: 1, b: 0)])
        #expect(throws: TEEError(.badParameters, origin: .trustedApp)) { try s.invoke(0, &bad) }
        s.close()
    }

    @Test func aCTAWithSubdirsAndPerFileFlagsComputesWhatItsFlagsSay() throws {
        guard FileManager.default.fileExists(atPath: SDK.productsDirectory + "/libvteeta.so") else {
            Issue.record("libvteeta.so not built"); return
        }
        let kit = try SDK.exportKit()
        let m = try ProcessMachine()
        defer { m.shutdown() }
        try m.install("layout", uuid: DevKitBuildTests.layoutUUID, kit: kit)
        let s = try m.guest.context.openSession(try TEEUUID(DevKitBuildTests.layoutUUID))
        var op = TEEOperation([.valueInout(a: 5, b: 0)])
        try s.invoke(0, &op)
        #expect(op[0].value.a == 5 * 3 + 7 + 100)               // MATHLIB_FACTOR, LAYOUT_FILE_FLAG, CFG_VTEE_LAYOUT_BASE
        let data: [UInt8] = Array("vtee".utf8)
        var x = TEEOperation([.tempInout(data)])
        try s.invoke(1, &x)
        #expect(x[0].buffer == data.map { $0 ^ 0x5A })
        s.close()
    }
}
