/// TAHost: C trusted applications in their own sandboxed processes, seen from the secure world.
///
/// Secure world. It turns a verified TA ELF into a `TADescriptor` whose instances are TA
/// processes (`vtee-ta-host` + libvteeta), talks to them over the TA channel (shared memory and
/// a doorbell), serves what they ask of the secure world (log, REE time, TA-to-TA, storage)
/// through the TA API's `TAContext`, and turns any fault of a process into TARGET_DEAD. It may
/// touch only the TA API, TEEABI and its C shims; never another world.
import TEEABI

/// What the secure world reads from a TA's ELF before starting it: OP-TEE's `ta_head`.
public struct TAImageHeader: Hashable, Sendable {
    /// The TA's UUID (ta_head.uuid).
    public var uuid: TEEUUID
    /// Stack bytes (TA_STACK_SIZE + 2048).
    public var stackSize: UInt32
    /// TA_FLAGS.
    public var flags: UInt32

    /// TA_FLAG_SINGLE_INSTANCE.
    public var singleInstance: Bool { flags & 0x4 != 0 }
    /// TA_FLAG_MULTI_SESSION.
    public var multiSession: Bool { flags & 0x8 != 0 }
    /// TA_FLAG_INSTANCE_KEEP_ALIVE.
    public var keepAlive: Bool { flags & 0x10 != 0 }
}

/// Why an image is not a TA this host can run (BAD_FORMAT to the client).
public enum TAImageError: Error, Equatable, Sendable {
    /// Not a 64-bit little-endian ELF shared object of this machine.
    case notELF
    /// A header, section or symbol lies outside the file.
    case truncated
    /// No exported `ta_head`.
    case noTAHead
    /// ta_head breaks OP-TEE's loader rules (stack 0 or not 16-aligned, unknown or CONCURRENT flags).
    case badTAHead(String)
}

/// Reads `ta_head` from a TA ELF (a host shared object): the dynamic symbol table names it,
/// a PT_LOAD segment maps its address to file bytes. Total: any byte string gives a header or an error.
public enum TAImage {
    /// The ta_head of `elf`, checked as OP-TEE's loader checks it.
    public static func header(of elf: [UInt8]) throws(TAImageError) -> TAImageHeader {
        guard elf.count >= 64, elf[0] == 0x7F, elf[1] == 0x45, elf[2] == 0x4C, elf[3] == 0x46,
              elf[4] == 2, elf[5] == 1 else { throw .notELF }
        #if arch(x86_64)
        let machine: UInt16 = 62
        #else
        let machine: UInt16 = 183
        #endif
        guard u16(elf, 16) == 3, u16(elf, 18) == machine else { throw .notELF }
        let shoff = try int(u64(elf, 0x28)), shentsize = Int(u16(elf, 0x3A)), shnum = Int(u16(elf, 0x3C))
        let phoff = try int(u64(elf, 0x20)), phentsize = Int(u16(elf, 0x36)), phnum = Int(u16(elf, 0x38))
        guard shentsize >= 64, phentsize >= 56 else { throw .notELF }
        func section(_ i: Int) throws(TAImageError) -> (type: UInt32, offset: Int, size: Int, link: Int, entsize: Int) {
            let o = shoff + i * shentsize
            guard i < shnum, o >= 0, o + 64 <= elf.count else { throw .truncated }
            return (u32(elf, o + 4), try int(u64(elf, o + 0x18)), try int(u64(elf, o + 0x20)),
                    Int(u32(elf, o + 0x28)), try int(u64(elf, o + 0x38)))
        }
        var value: UInt64? = nil
        for i in 0..<shnum {
            let s = try section(i)
            guard s.type == 11 /* SHT_DYNSYM */, s.entsize >= 24 else { continue }
            let str = try section(s.link)
            guard s.offset + s.size <= elf.count, str.offset + str.size <= elf.count else { throw .truncated }
            var off = s.offset
            while off + 24 <= s.offset + s.size {
                let name = Int(u32(elf, off))
                if name < str.size, matches(elf, at: str.offset + name, limit: str.offset + str.size, "ta_head"),
                   u16(elf, off + 6) != 0 /* defined */ {
                    value = u64(elf, off + 8)
                    break
                }
                off += s.entsize
            }
        }
        guard let vaddr = value else { throw .noTAHead }
        var fileOffset: Int? = nil
        for i in 0..<phnum {
            let o = phoff + i * phentsize
            guard o >= 0, o + 56 <= elf.count else { throw .truncated }
            guard u32(elf, o) == 1 /* PT_LOAD */ else { continue }
            let pOffset = u64(elf, o + 8), pVaddr = u64(elf, o + 16), pFilesz = u64(elf, o + 32)
            if vaddr >= pVaddr, vaddr - pVaddr <= pFilesz, pFilesz - (vaddr - pVaddr) >= 32 {
                fileOffset = try int(pOffset + (vaddr - pVaddr))
            }
        }
        guard let at = fileOffset, at + 32 <= elf.count else { throw .truncated }
        let uuid = TEEUUID(timeLow: u32(elf, at), timeMid: u16(elf, at + 4), timeHiAndVersion: u16(elf, at + 6),
                           clockSeqAndNode: Array(elf[(at + 8)..<(at + 16)]))
        let head = TAImageHeader(uuid: uuid, stackSize: u32(elf, at + 16), flags: u32(elf, at + 20))
        guard head.stackSize != 0, head.stackSize % 16 == 0 else { throw .badTAHead("stack size \(head.stackSize)") }
        guard head.flags & ~0x3FFF == 0, head.flags & 0x100 == 0 else { throw .badTAHead("flags \(hex(head.flags))") }
        return head
    }

    private static func int(_ v: UInt64) throws(TAImageError) -> Int {
        guard v < UInt64(Int32.max) else { throw .truncated }
        return Int(v)
    }
    private static func u16(_ b: [UInt8], _ o: Int) -> UInt16 {
        guard o >= 0, o + 2 <= b.count else { return 0 }
        return UInt16(b[o]) | UInt16(b[o + 1]) << 8
    }
    private static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        guard o >= 0, o + 4 <= b.count else { return 0 }
        return (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) }
    }
    private static func u64(_ b: [UInt8], _ o: Int) -> UInt64 {
        guard o >= 0, o + 8 <= b.count else { return 0 }
        return (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) }
    }
    private static func matches(_ b: [UInt8], at o: Int, limit: Int, _ s: String) -> Bool {
        let u = Array(s.utf8)
        guard o >= 0, o + u.count < limit, o + u.count < b.count else { return false }
        for i in 0..<u.count where b[o + i] != u[i] { return false }
        return b[o + u.count] == 0
    }
}
