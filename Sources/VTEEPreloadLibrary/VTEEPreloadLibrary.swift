/// VTEEPreloadLibrary: the Swift half of the `vtee-preload` product (libvtee-preload.so). The
/// interposer is C (CVTEEPreload); this target links it with the /dev/tee emulation (TEEDevice)
/// and carries the linker settings that make the library self-contained.
import CVTEEPreload
import TEEDevice

/// How many TEE device opens the interposer routed to vtee (diagnostics).
@_cdecl("vtee_preload_routed")
public func vtee_preload_routed() -> UInt { UInt(vtee_preload_routed_opens()) }
