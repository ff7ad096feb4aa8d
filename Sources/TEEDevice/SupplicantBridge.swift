/// /dev/teepriv0's supplicant ioctls (SUPPL_RECV / SUPPL_SEND): the seam where a real
/// tee-supplicant takes over the RPCs vtee's own supplicant serves by default.
import NormalWorld
import TEEABI

/// Which context of this process is the attached external supplicant, if any.
struct SupplicantBridgeState {
    /// The teepriv0 context serving requests, if any.
    var context: Int64?
}

extension TEEDevice {
    /// TEE_IOC_SUPPL_RECV. Not served yet: the guest driver's supplicant channel carries copies
    /// of the buffers, not shm ids, so an external supplicant could not map them (EINVAL, which
    /// makes tee-supplicant exit cleanly instead of spinning).
    func supplicantReceive(context: Int64, guest: GuestConnection, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        _ = try bufferArgument(.supplicantReceive, argument)
        throw .invalid
    }

    /// TEE_IOC_SUPPL_SEND (see `supplicantReceive`).
    func supplicantSend(context: Int64, guest: GuestConnection, _ argument: UInt64) throws(TEEIoctlError) -> Int32 {
        _ = try bufferArgument(.supplicantSend, argument)
        throw .invalid
    }

    /// The supplicant's context closed: vtee's own supplicant serves again.
    func supplicantDetached(context: Int64) {
        _ = try? withState { s throws(TEEIoctlError) in if s.supplicant.context == context { s.supplicant.context = nil } }
    }
}
