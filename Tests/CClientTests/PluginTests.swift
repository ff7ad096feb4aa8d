/// tee-supplicant plugins: a plugin library compiled from C as optee_client's plugins are
/// (`struct plugin_method plugin_method`, named `<uuid>.plugin`) is loaded by vtee's own
/// supplicant from VTEE_PLUGIN_DIR, and a TA's tee_invoke_supp_plugin (RPC SUPP_PLUGIN) reaches it.
import Foundation
import Testing
@testable import VTEEDaemon

@Suite(.serialized) struct PluginTests {
    @Test func aTACallsATeeSupplicantPluginLoadedFromThePluginDirectory() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CHarness.install(prefix: dir).status == 0)
        let plugins = dir + "/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        let lib = try CHarness.compile("test_plugin.c", output: plugins + "/7e57c0de-0000-4000-8000-00000000f00d.plugin",
                                       flags: ["-I", dir + "/include", "-fPIC", "-shared"])
        #expect(lib.status == 0, "\(lib.output)")
        // Files that are no plugin are skipped, as tee-supplicant skips them.
        try Data("not a library".utf8).write(to: URL(fileURLWithPath: plugins + "/README"))
        let cc = try CHarness.compile("teec_plugin.c", output: dir + "/teec_plugin",
                                      flags: ["-I", dir + "/include", "-L", dir + "/lib", "-lteec"])
        #expect(cc.status == 0, "\(cc.output)")
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let env = ["LD_LIBRARY_PATH": dir + "/lib", "VTEE_SOCKET": dir + "/s", "VTEE_STORAGE": dir + "/guest-store"]
        var withPlugins = env
        withPlugins["VTEE_PLUGIN_DIR"] = plugins
        let r = try CHarness.run(dir + "/teec_plugin", environment: withPlugins, seconds: 120)
        #expect(r.status == 0 && CHarness.summary(r)?.failed == 0, "\(r.output)")
        let want: Set<String> = ["context", "session", "plugin_reverses_data", "plugin_output_length",
                                 "plugin_unknown_command_not_supported", "unknown_plugin_item_not_found"]
        #expect(want.subtracting(CHarness.passedChecks(r)).isEmpty, "\(r.output)")
        // Without a plugin directory the same call finds no plugin.
        let none = try CHarness.run(dir + "/teec_plugin", ["absent"], environment: env, seconds: 120)
        #expect(none.status == 0 && CHarness.passedChecks(none).contains("no_plugin_item_not_found"), "\(none.output)")
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
    }
}
