/// A C TA built with the dev kit calls a tee-supplicant plugin with tee_invoke_supp_plugin: the
/// request crosses the TA channel, the secure world's RPC SUPP_PLUGIN and reaches the plugin
/// library (Tests/CClientTests/Programs/test_plugin.c, compiled here) the guest's supplicant loaded.
import Foundation
import TEEABI
import TEEClient
import Testing

@Suite(.serialized) struct SupplicantPluginCTATests {
    static let cmdSuppPlugin: UInt32 = 22

    @Test func aCTACallsATeeSupplicantPluginThroughTheSupplicant() throws {
        let plugins = NSTemporaryDirectory() + "vtee-plugins-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: plugins) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let tests = root + "/Tests"
        try TAFixtures.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                            "-I", root + "/Sources/CTEEC/include", tests + "/CClientTests/Programs/test_plugin.c",
                            "-o", plugins + "/7e57c0de-0000-4000-8000-00000000f00d.plugin"])
        let t = try TAStack(pluginDirectory: plugins)
        defer { t.shutdown() }
        let s = try t.context.openSession(TAFixtures.coreUUID)
        var op = TEEOperation([.valueInout(a: 0, b: 0), .tempInout(Array("plugin data".utf8), size: 11)])
        try s.invoke(Self.cmdSuppPlugin, &op)                  // REVERSE
        #expect(op[0].value.b == 11 && op[1].size == 11)
        #expect(op[1].buffer == Array("atad nigulp".utf8))
        // The plugin's own error comes back as the TA's result.
        var unknown = TEEOperation([.valueInout(a: 9, b: 0), .tempInout([1, 2, 3], size: 3)])
        #expect(throws: TEEError(.notSupported, origin: .trustedApp)) { try s.invoke(Self.cmdSuppPlugin, &unknown) }
        s.close()
    }

    @Test func withoutThePluginTheTASeesItemNotFound() throws {
        let t = try TAStack()
        defer { t.shutdown() }
        let s = try t.context.openSession(TAFixtures.coreUUID)
        var op = TEEOperation([.valueInout(a: 0, b: 0), .tempInout([1, 2, 3], size: 3)])
        #expect(throws: TEEError(.itemNotFound, origin: .trustedApp)) { try s.invoke(Self.cmdSuppPlugin, &op) }
        s.close()
    }
}
