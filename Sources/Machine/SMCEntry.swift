/// The wire between worlds: whoever takes an SMC frame and returns one.
import TEEABI

/// Takes an SMC register frame and returns the result frame. The secure world implements it
/// (its only entry); the mediator is given one to reach the secure world; the guest driver is
/// given a `Conduit` (below) that traps into the platform. Class-bound, so the mediator calls the
/// secure world through its witness table with no existential projection.
public protocol SMCEntry: AnyObject, Sendable {
    /// Executes one SMC. `frame.a7` carries the client id where OP-TEE expects it.
    func smc(_ frame: RegisterFrame) -> RegisterFrame
}

/// A guest vCPU's trap into whatever sits below it (platform + mediator, or the secure world
/// directly when there is no hypervisor). `vcpu` names the calling vCPU of this guest.
public protocol Conduit: Sendable {
    /// Traps with `frame` from vCPU `vcpu`; returns the frame the guest sees on return.
    func trap(_ frame: RegisterFrame, vcpu: Int) -> RegisterFrame
}
