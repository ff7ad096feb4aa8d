/// A C TA through libteec, end to end: the dev kit exported by this build's `vtee`, the project's
/// C TAs built with it by `make` as an OP-TEE user would (signed with the development key), and a
/// C client linked against vtee's libteec.so opening and invoking them through a daemon, which
/// loads them from the client's `VTEE_TA_DIR` (LOAD_TA) and runs each in its own process.
import Foundation
import Testing
@testable import VTEEDaemon

@Suite(.serialized) struct CTATests {
    /// The core TA is built under this UUID here (its sources rewritten in the copy), so its
    /// processes are never mistaken for those of TAHostTests, which count `ta-c0de0001-...`
    /// children of this same test process.
    static let coreUUID = "c0de0c11-7ee0-4a11-8b5d-000000000001"

    /// Builds (a copy of) `Tests/<path>` with the kit in `dir/kit`, after replacing every
    /// `renaming.from` by `renaming.to` in its files, and installs `<uuid>.ta` in `dir/tas`.
    func buildTA(_ path: String, uuid: String, dir: String, renaming: (from: String, to: String)? = nil) throws -> CHarness.Run {
        let src = dir + "/src/" + (path as NSString).lastPathComponent
        try? FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: dir + "/tas", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CHarness.packageRoot + "/Tests/" + path, toPath: src)
        if let r = renaming {
            for f in try FileManager.default.contentsOfDirectory(atPath: src) {
                let file = src + "/" + f
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
                try text.replacingOccurrences(of: r.from, with: r.to, options: .caseInsensitive).write(toFile: file, atomically: true, encoding: .utf8)
            }
        }
        let r = try CHarness.run("/usr/bin/env", ["make", "-s", "-C", src, "TA_DEV_KIT_DIR=" + dir + "/kit"], seconds: 180)
        if r.status == 0 { try FileManager.default.copyItem(atPath: "\(src)/\(uuid).ta", toPath: "\(dir)/tas/\(uuid).ta") }
        return r
    }

    @Test func aCClientOpensAndInvokesDevKitBuiltCTAsThroughLibteec() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CHarness.install(prefix: dir).status == 0)
        let kit = try CHarness.run(CHarness.buildDir + "/vtee", ["devkit", "export", dir + "/kit"], seconds: 60)
        try #require(kit.status == 0, "\(kit.output)")
        let hello = try buildTA("TASDKTests/CTAs/hello_world", uuid: "5f8b97df-2d0d-4ad2-98d2-74f4389e5e11", dir: dir)
        try #require(hello.status == 0, "\(hello.output)")
        let core = try buildTA("TAs/core", uuid: Self.coreUUID, dir: dir, renaming: ("c0de0001", "c0de0c11"))
        try #require(core.status == 0, "\(core.output)")
        let cc = try CHarness.compile("teec_cta.c", output: dir + "/teec_cta",
                                      flags: ["-I", dir + "/include", "-L", dir + "/lib", "-lteec", "-lpthread"])
        try #require(cc.status == 0, "\(cc.output)")
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let r = try CHarness.run(dir + "/teec_cta", environment: ["LD_LIBRARY_PATH": dir + "/lib", "VTEE_SOCKET": dir + "/s",
                                                                  "VTEE_STORAGE": dir + "/guest-store", "VTEE_TA_DIR": dir + "/tas"],
                                 seconds: 120)
        #expect(r.status == 0, "\(r.output)")
        #expect(CHarness.summary(r)?.failed == 0, "\(r.output)")
        let want: Set<String> = [
            "initialize_context", "c_hello_open", "c_hello_increment", "c_hello_decrement", "c_hello_description_short_buffer",
            "c_hello_description", "c_core_open", "c_core_allocate_shm", "c_core_shm_touch_first_byte_only", "c_core_ta_to_ta",
            "c_core_storage", "c_core_panic_target_dead", "c_core_dead_session_stays_dead", "c_core_serves_after_panic",
            "c_absent_ta_item_not_found",
        ]
        let missing = want.subtracting(CHarness.passedChecks(r))
        #expect(missing.isEmpty, "checks that did not pass: \(missing.sorted())\n\(r.output)")
        #expect(r.lines.contains("value description vtee test TA in OP-TEE's example layout"), "\(r.output)")
        // The client detached cleanly and no TA process is left behind.
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
        let t = CHarness.totals(d)
        #expect(t["sessions"] == 0 && t["shm_buffers"] == 0, "\(t)")
    }
}
