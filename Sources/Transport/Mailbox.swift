/// The per-vCPU mailboxes: a shared memfd of 128-byte slots, one per vCPU, each a doorbell
/// word plus one 64-byte register frame. Both processes map it; either may be hostile to
/// the other, so every read of a slot is a copy and every state value is checked.
import CShim
import TEEABI

/// Slot layout and doorbell states of the mailbox memfd (little-endian, 128 bytes a slot):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | state: 0 idle, 1 request, 2 response, 3 closed, 4 busy (the daemon took the request) |
/// | 4 | 4 | server waiting (1 while the daemon's vCPU thread is in or entering futex wait) |
/// | 8 | 4 | client waiting (1 while the guest's caller is in or entering futex wait) |
/// | 12 | 4 | server CPU hint (cpu + 1 the daemon's vCPU thread last ran on; 0 unknown) |
/// | 16 | 4 | client CPU hint (cpu + 1 the guest's caller last ran on; 0 unknown) |
/// | 64 | 64 | the register frame a0..a7, request in, response out |
public enum MailboxLayout {
    /// Bytes per vCPU slot (two cache lines: doorbell words, then the frame).
    public static let slotSize = 128
    /// Offset of the frame inside a slot.
    public static let frameOffset = 64
    /// Bytes of a mailbox memfd for `vcpus` vCPUs: whole pages.
    public static func byteCount(vcpus: Int) -> Int {
        let raw = max(vcpus, 1) * slotSize
        return (raw + 4095) / 4096 * 4096
    }
}

/// Doorbell states of a slot.
public enum MailboxState: UInt32, Sendable {
    /// No call in progress; the guest may post one.
    case idle = 0
    /// The guest posted a frame; the daemon owns the slot.
    case request = 1
    /// The daemon wrote the result frame; the guest owns the slot.
    case response = 2
    /// The daemon's vCPU thread is gone (guest detached or daemon stopping).
    case closed = 3
    /// The daemon's vCPU thread took the request and is running it; a response follows.
    case busy = 4
}

/// One mapping of a mailbox memfd. Owns the mapping (and the fd, when given) and unmaps in deinit.
final class MailboxMapping: @unchecked Sendable {
    // @unchecked: `base` is immutable after init; the bytes behind it are shared memory accessed
    // only through the C11 atomic helpers (doorbell words) and relaxed 64-bit loads/stores (frame).
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    let slots: Int
    let fd: Int32

    /// Maps `fd` (size already validated to hold `slots` slots). Takes ownership of `fd`.
    init?(fd: Int32, slots: Int) {
        let bytes = MailboxLayout.byteCount(vcpus: slots)
        guard slots > 0, let p = vtee_map_shared(fd, UInt64(bytes)) else { return nil }
        self.base = p; self.byteCount = bytes; self.slots = slots; self.fd = fd
    }

    deinit {
        // Sound: the mapping is exactly byteCount bytes from vtee_map_shared and no MailboxSlot
        // outlives its mapping (each holds a strong reference).
        vtee_unmap(base, UInt64(byteCount))
        _ = closeFD(fd)
    }

    /// The slot of vCPU `i`, or nil outside 0..<slots.
    func slot(_ i: Int) -> MailboxSlot? {
        guard i >= 0, i < slots else { return nil }
        return MailboxSlot(mapping: self, index: i)
    }
}

/// One vCPU's slot: typed accessors over the shared words.
struct MailboxSlot: @unchecked Sendable {
    // @unchecked: see MailboxMapping; the slot keeps the mapping alive.
    let mapping: MailboxMapping
    let state: UnsafeMutablePointer<UInt32>
    let serverWaiting: UnsafeMutablePointer<UInt32>
    let clientWaiting: UnsafeMutablePointer<UInt32>
    /// Spin-wait hints only (see vtee_spin_wait_step): which CPU each side last ran on.
    let serverCPU: UnsafeMutablePointer<UInt32>
    let clientCPU: UnsafeMutablePointer<UInt32>
    let frame: UnsafeMutablePointer<UInt64>

    init(mapping: MailboxMapping, index: Int) {
        self.mapping = mapping
        // Sound: index < slots, so index * slotSize + slotSize <= byteCount; the mapping is
        // page aligned, so the words are naturally aligned.
        let s = mapping.base + index * MailboxLayout.slotSize
        state = s.assumingMemoryBound(to: UInt32.self)
        serverWaiting = (s + 4).assumingMemoryBound(to: UInt32.self)
        clientWaiting = (s + 8).assumingMemoryBound(to: UInt32.self)
        serverCPU = (s + 12).assumingMemoryBound(to: UInt32.self)
        clientCPU = (s + 16).assumingMemoryBound(to: UInt32.self)
        frame = (s + MailboxLayout.frameOffset).assumingMemoryBound(to: UInt64.self)
    }

    /// Copies the frame out of shared memory (once; the other side may be changing it).
    @inline(__always)
    func readFrame() -> RegisterFrame {
        @inline(__always) func w(_ i: Int) -> UInt64 { UInt64(littleEndian: vtee_load_relaxed_u64(frame + i)) }
        return RegisterFrame(a0: w(0), a1: w(1), a2: w(2), a3: w(3), a4: w(4), a5: w(5), a6: w(6), a7: w(7))
    }

    /// Writes `f` into the slot's frame.
    @inline(__always)
    func writeFrame(_ f: RegisterFrame) {
        vtee_store_relaxed_u64(frame, f.a0.littleEndian); vtee_store_relaxed_u64(frame + 1, f.a1.littleEndian)
        vtee_store_relaxed_u64(frame + 2, f.a2.littleEndian); vtee_store_relaxed_u64(frame + 3, f.a3.littleEndian)
        vtee_store_relaxed_u64(frame + 4, f.a4.littleEndian); vtee_store_relaxed_u64(frame + 5, f.a5.littleEndian)
        vtee_store_relaxed_u64(frame + 6, f.a6.littleEndian); vtee_store_relaxed_u64(frame + 7, f.a7.littleEndian)
    }

    /// Wakes whoever futex-waits on the state word.
    @inline(__always)
    func wake() { _ = vtee_futex_wake(state, 1) }
}
