/// TEECLibrary: the Swift half of the `teec` product (libteec.so, SONAME libteec.so.2). The GP
/// TEE Client API itself is C (CTEEC, over the TEE ioctls); this target links it with the /dev/tee
/// emulation (TEEDevice) and carries the linker settings that make the library self-contained.
import CTEEC
import TEEDevice

/// The version of vtee's libteec (reported by nothing in the GP API; for diagnostics).
@_cdecl("vtee_teec_version")
public func vtee_teec_version() -> UInt32 { 0x0001_0000 }
