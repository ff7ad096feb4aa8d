/// vtee's libteec.so from C: a program compiled with the system compiler against the installed
/// tee_client_api.h and libteec.so.2 uses the GP API on every built-in TA through a daemon.
import Foundation
import Testing
@testable import VTEEDaemon

@Suite(.serialized) struct LibteecTests {
    @Test func theHeaderHasOPTEEClientLayoutsByteForByte() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let inst = try CHarness.install(prefix: dir)
        #expect(inst.status == 0, "\(inst.output)")
        let cc = try CHarness.compile("layout_check.c", output: dir + "/layout_check", flags: ["-I", dir + "/include"])
        #expect(cc.status == 0, "\(cc.output)")
        let r = try CHarness.run(dir + "/layout_check", seconds: 30)
        #expect(r.status == 0, "\(r.output)")
        let s = CHarness.summary(r)
        #expect(s?.failed == 0 && (s?.passed ?? 0) >= 45, "\(r.output)")
    }

    @Test func aCProgramUsesEveryBuiltInTAThroughLibteec() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CHarness.install(prefix: dir).status == 0)
        // No rpath: the binary asks for libteec.so.2 by SONAME and finds vtee's through LD_LIBRARY_PATH,
        // as a binary linked against OP-TEE's libteec would.
        let cc = try CHarness.compile("teec_all.c", output: dir + "/teec_all",
                                      flags: ["-I", dir + "/include", "-L", dir + "/lib", "-lteec", "-lpthread"])
        #expect(cc.status == 0, "\(cc.output)")
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let r = try CHarness.run(dir + "/teec_all", environment: ["LD_LIBRARY_PATH": dir + "/lib", "VTEE_SOCKET": dir + "/s",
                                                                  "VTEE_STORAGE": dir + "/guest-store"], seconds: 120)
        #expect(r.status == 0, "\(r.output)")
        let s = CHarness.summary(r)
        #expect(s?.failed == 0, "\(r.output)")
        let want: Set<String> = [
            "initialize_context", "context_optee_tz", "context_other_name_not_found", "context_memref_null_no_reg_mem",
            "values_inout_four", "temp_memref_inout_echo", "temp_memref_null", "temp_memref_null_with_size_bad_parameters",
            "short_buffer_reports_needed_size", "identity_public_login", "allocate_shm", "partial_memref_inout_in_place",
            "partial_memref_second_page", "whole_memref_size_written_back", "partial_memref_past_end_bad_parameters",
            "register_shm", "registered_shm_whole_echo", "register_flags_zero_bad_parameters",
            "register_fd", "register_fd_ta_writes_the_descriptors_memory", "register_fd_ta_reads_the_callers_changes",
            "register_fd_flags_zero_bad_parameters", "register_fd_negative_bad_parameters", "register_fd_pipe_bad_parameters", "rpc_application_shm_roundtrip",
            "rpc_storage_roundtrip", "ta_to_ta", "cancellation_stops_long_run", "second_context", "second_context_session",
            "foreign_shm_refused", "foreign_session_refused", "first_context_survives_second_finalize",
            "hello_world_increment", "hello_world_decrement", "random_fills_temp_output", "hotp_rfc4226_vectors",
            "aes_fips197_block", "storage_write", "storage_read_back", "storage_read_after_delete_not_found",
            "panic_target_dead", "login_user_opens", "login_group_member_opens", "login_group_non_member_eperm",
            "login_application_einval", "login_kernel_eperm", "unknown_ta_item_not_found",
        ]
        let missing = want.subtracting(CHarness.passedChecks(r))
        #expect(missing.isEmpty, "checks that did not pass: \(missing.sorted())\n\(r.output)")
        #expect(r.lines.contains("value hotp 755224 287082 359152"), "\(r.output)")
        #expect(r.lines.contains("value aes 69c4e0d86a7b0430d8cdb78070b4c55a"), "\(r.output)")
        // The process detached cleanly: nothing of it is left in the daemon.
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
        let t = CHarness.totals(d)
        #expect(t["sessions"] == 0 && t["shm_buffers"] == 0 && t["pinned_pages"] == 0, "\(t)")
    }

    @Test func withoutADaemonInitializeContextIsItemNotFound() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CHarness.install(prefix: dir).status == 0)
        let cc = try CHarness.compile("teec_all.c", output: dir + "/teec_all",
                                      flags: ["-I", dir + "/include", "-L", dir + "/lib", "-lteec", "-Wl,-rpath," + dir + "/lib", "-lpthread"])
        #expect(cc.status == 0, "\(cc.output)")
        let r = try CHarness.run(dir + "/teec_all", environment: ["VTEE_SOCKET": dir + "/nobody-listens"], seconds: 60)
        #expect(r.status == 1)
        #expect(r.lines.contains("FAIL initialize_context: r=0xffff0008"), "\(r.output)")
    }

    @Test func theCBenchClientPrintsTheMedianOfNOPInvokes() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CHarness.install(prefix: dir).status == 0)
        let cc = try CHarness.run("/usr/bin/env", ["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir + "/include",
                                                   CHarness.packageRoot + "/Benchmarks/CClients/teec_nop_bench.c", "-o", dir + "/bench",
                                                   "-L", dir + "/lib", "-lteec", "-Wl,-rpath," + dir + "/lib"], seconds: 120)
        #expect(cc.status == 0, "\(cc.output)")
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let r = try CHarness.run(dir + "/bench", ["50"], environment: ["VTEE_SOCKET": dir + "/s", "VTEE_STORAGE": dir + "/guest"], seconds: 120)
        #expect(r.status == 0, "\(r.output)")
        let line = r.lines.first { $0.hasPrefix("{\"c_invoke_ns\": ") } ?? ""
        let median = line.split(separator: ",").first.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(median > 0 && line.contains("\"calls\": 50"), "\(r.output)")
    }
}
