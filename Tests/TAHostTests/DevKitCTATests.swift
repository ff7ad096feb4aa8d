// End to end (devkit's side of the contract): the TA SDK's own C TAs in OP-TEE's layout
// (Tests/TASDKTests/CTAs), built with the exported dev kit by plain make, signed, loaded through
// the guest's supplicant and the verified LOAD_TA path, serve sessions from the Swift client in
// their own TA process. Part of ProcessTATests so that it never runs beside its fault tests, whose
// leak checks count the TA processes' descriptors.
import Foundation
import Machine
import SecureWorld
import TADevKit
import TAHost
import TEEABI
import TEEClient
import Testing
import VTEEKit

extension ProcessTATests {
    static let helloUUID = "5f8b97df-2d0d-4ad2-98d2-74f4389e5e11"
    static let layoutUUID = "3a1e5c7b-88d4-4b0c-9f1e-2c6b7d9a0e42"

    /// Exports the kit, builds C TA `name` of Tests/TASDKTests/CTAs into a scratch copy and returns
    /// a directory holding only its `<uuid>.ta`.
    static func buildCTA(_ name: String, uuid: String) throws -> String {
        let scratch = NSTemporaryDirectory() + "vtee-devkit-cta-\(UUID().uuidString.prefix(8))"
        let kit = scratch + "/kit", src = scratch + "/" + name, tas = scratch + "/tas"
        try FileManager.default.createDirectory(atPath: tas, withIntermediateDirectories: true)
        _ = try TADevKit.export(to: kit, vtee: TAFixtures.buildDirectory + "/vtee",
                                runtimeLibrary: TAFixtures.buildDirectory + "/libvteeta.so")
        let ctas = (#filePath as NSString).deletingLastPathComponent + "/../TASDKTests/CTAs/" + name
        try FileManager.default.copyItem(atPath: ctas, toPath: src)
        try TAFixtures.run(["make", "-s", "-C", src, "TA_DEV_KIT_DIR=" + kit])
        try FileManager.default.copyItem(atPath: "\(src)/\(uuid).ta", toPath: "\(tas)/\(uuid).ta")
        return tas
    }

    /// A machine whose guest loads TAs from `taDir` into TA processes.
    static func machine(taDir: String) throws -> (VTEEStack, GuestStack, TAProcessRunner) {
        let runner = TAProcessRunner(config: TAProcessConfig(hostExecutable: TAFixtures.buildDirectory + "/vtee-ta-host"))
        var c = StackConfig()
        c.storageRoot = NSTemporaryDirectory() + "vtee-devkit-store-\(UUID().uuidString.prefix(8))"
        c.taDirectory = taDir
        c.taRunner = { u, elf throws(TEEResult) in try runner.load(uuid: u, elf: elf) }
        let stack = try VTEEStack(config: c)
        return (stack, try stack.addGuest(GuestID(0)), runner)
    }

    @Test func aDevKitBuiltCompatTAServesASessionFromTheSwiftClient() throws {
        let (stack, guest, runner) = try Self.machine(taDir: try Self.buildCTA("hello_world", uuid: Self.helloUUID))
        defer { stack.removeGuest(guest) }
        let s = try guest.context.openSession(try TEEUUID(Self.helloUUID))
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
        #expect(runner.processCount == 0)
    }

    @Test func aDevKitBuiltTAWithSubdirsAndPerFileFlagsComputesWhatItsFlagsSay() throws {
        let (stack, guest, _) = try Self.machine(taDir: try Self.buildCTA("layout", uuid: Self.layoutUUID))
        defer { stack.removeGuest(guest) }
        let s = try guest.context.openSession(try TEEUUID(Self.layoutUUID))
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
