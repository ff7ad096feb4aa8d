/// libvtee-preload.so: an unmodified C program issuing raw Linux TEE ioctls (linux/tee.h) on
/// /dev/tee0 and /dev/teepriv0 reaches the daemon under LD_PRELOAD, and hostile arguments get
/// Linux's errno without anything reaching the daemon.
import Foundation
import Testing
@testable import VTEEDaemon

@Suite(.serialized) struct PreloadTests {
    /// Installs the libraries, compiles tee_ioctl.c (no vtee header or library: only linux/tee.h).
    static func prepare(_ dir: String) throws -> (program: String, preload: String) {
        let inst = try CHarness.install(prefix: dir)
        #expect(inst.status == 0, "\(inst.output)")
        let cc = try CHarness.compile("tee_ioctl.c", output: dir + "/tee_ioctl", flags: [])
        #expect(cc.status == 0, "\(cc.output)")
        return (dir + "/tee_ioctl", dir + "/lib/libvtee-preload.so")
    }

    @Test func rawTEEIoctlsUnderLDPreloadBehaveAsOnLinux() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let (program, preload) = try Self.prepare(dir)
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let r = try CHarness.run(program, environment: ["LD_PRELOAD": preload, "VTEE_SOCKET": dir + "/s",
                                                        "VTEE_STORAGE": dir + "/guest-store"], seconds: 120)
        #expect(r.status == 0, "\(r.output)")
        #expect(CHarness.summary(r)?.failed == 0, "\(r.output)")
        let want: Set<String> = [
            "open_tee0", "open_tee0_twice", "version_optee_tz_gp_memref_null", "shm_alloc_fd_and_id", "shm_mmap_past_end_einval",
            "shm_mmap", "open_session", "invoke_values", "invoke_memref_in_mapped_shm_after_fd_closed", "invoke_memref_null",
            "short_buffer_size_written_back", "dup_keeps_context_after_original_closed",
            "fork_child_eio_on_inherited_and_own_context_works", "fork_parent_context_intact", "close_session",
            "closed_session_einval", "open_session_second_context", "teepriv0_version_privileged", "closed_fd_ebadf",
        ]
        let missing = want.subtracting(CHarness.passedChecks(r))
        #expect(missing.isEmpty, "checks that did not pass: \(missing.sorted())\n\(r.output)")
        // Closing the descriptors closed the sessions and freed the memory: nothing is left.
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
        let t = CHarness.totals(d)
        #expect(t["sessions"] == 0 && t["shm_buffers"] == 0 && t["pinned_pages"] == 0, "\(t)")
    }

    @Test func hostileIoctlArgumentsGetLinuxErrnoAndNeverReachTheDaemon() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let (program, preload) = try Self.prepare(dir)
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let env = ["LD_PRELOAD": preload, "VTEE_SOCKET": dir + "/s", "VTEE_STORAGE": dir + "/guest-store"]
        let r = try CHarness.run(program, ["hostile-only"], environment: env, seconds: 120)
        #expect(r.status == 0, "\(r.output)")
        #expect(CHarness.summary(r)?.failed == 0, "\(r.output)")
        let hostile: Set<String> = [
            "unknown_tee_ioctl_einval", "foreign_ioctl_number_einval", "invoke_len_not_header_plus_params_einval",
            "invoke_len_below_header_einval", "invoke_len_above_max_einval", "num_params_lie_einval", "num_params_huge_einval",
            "attr_stray_bit_einval", "attr_undefined_type_einval", "attr_meta_from_client_einval", "unknown_shm_id_einval",
            "foreign_shm_id_einval", "shm_window_past_end_einval", "shm_window_overflow_einval", "invoke_unknown_session_einval",
            "close_unknown_session_einval", "cancel_unknown_session_einval", "version_null_efault", "invoke_null_efault",
            "invoke_buf_ptr_null_efault", "invoke_buf_ptr_unmapped_efault", "open_session_arg_unmapped_efault",
            "close_session_null_efault", "login_ree_kernel_eperm", "login_application_einval", "login_unknown_einval",
            "login_group_non_member_eperm", "open_len_below_header_einval", "shm_alloc_flags_einval", "shm_alloc_huge_enomem",
            "shm_alloc_null_efault", "shm_register_not_advertised_einval", "suppl_recv_on_client_device_einval",
            "healthy_after_hostile",
        ]
        let missing = hostile.subtracting(CHarness.passedChecks(r))
        #expect(missing.isEmpty, "checks that did not pass: \(missing.sorted())\n\(r.output)")
        // Nothing the tee core refuses reached the daemon: no mediator or secure-world error at all.
        let errors = d.statsObject()["errors"] as? [String: Int] ?? [:]
        #expect(errors.isEmpty, "errors seen by the daemon: \(errors)")
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
        // And the daemon still serves a fresh client.
        let again = try CHarness.run(program, ["hostile-only"], environment: env, seconds: 120)
        #expect(again.lines.contains("ok healthy_after_hostile"), "\(again.output)")
    }

    @Test func aSupplicantLoopOnTeepriv0ServesFSAndSharedMemoryRequests() throws {
        let dir = CHarness.tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CHarness.install(prefix: dir).status == 0)
        let cc = try CHarness.compile("tee_supplicant.c", output: dir + "/tee_supplicant", flags: ["-lpthread"])
        #expect(cc.status == 0, "\(cc.output)")
        let d = try Daemon(config: DaemonConfig(socketPath: dir + "/s", storage: dir + "/store")); defer { d.stop() }
        let r = try CHarness.run(dir + "/tee_supplicant", environment: ["LD_PRELOAD": dir + "/lib/libvtee-preload.so",
                                                                        "VTEE_SOCKET": dir + "/s", "VTEE_STORAGE": dir + "/guest-store"],
                                 seconds: 120)
        let want: Set<String> = ["teepriv0_opens_as_optee", "client_session", "storage_roundtrip_served_by_this_supplicant",
                                 "application_shm_served_by_this_supplicant", "payload_buffers_freed", "second_supplicant_ebusy",
                                 "plugin_served_by_this_supplicant", "own_supplicant_serves_after_detach"]
        let missing = want.subtracting(CHarness.passedChecks(r))
        #expect(missing.isEmpty, "checks that did not pass: \(missing.sorted())\n\(r.output)")
        #expect(r.status == 0 && CHarness.summary(r)?.failed == 0, "\(r.output)")
        // The objects went to the C supplicant's store, not to vtee's own supplicant's directory
        // (which only sees the objects written after the C supplicant left).
        let served = r.lines.first { $0.hasPrefix("value served ") } ?? ""
        #expect(served.contains("fs=") && !served.contains("fs=0 "), "\(r.output)")
        #expect(CHarness.eventually(10) { CHarness.totals(d)["guests"] == 0 }, "\(CHarness.totals(d))")
    }
}
