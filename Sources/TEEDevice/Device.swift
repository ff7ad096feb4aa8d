/// The tee core proper (guest kernel, Linux drivers/tee/tee_core.c semantics): contexts (one per
/// open file description of /dev/tee0 or /dev/teepriv0), shared-memory objects with ids, sessions
/// owned by the context that opened them, and the ioctls with Linux's argument checks and errno
/// values. User memory is reached only through `UserMemory` (copy in, validate, call, copy out).
import CTEEDev
import Machine
import NormalWorld
import Synchronization
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// How the device reaches the caller's memory (copy_from_user / copy_to_user).
public protocol UserMemory: Sendable {
    /// `count` bytes at `address`, or nil when any of them is not readable (EFAULT).
    func read(_ address: UInt64, count: Int) -> [UInt8]?
    /// Writes `bytes` at `address`; false when any byte is not writable (EFAULT).
    func write(_ address: UInt64, _ bytes: [UInt8]) -> Bool
}

/// This process's own memory, through process_vm_readv/writev so a bad pointer is EFAULT, not a crash.
public struct ProcessMemory: UserMemory {
    /// The calling process's memory.
    public init() {}
    public func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0 else { return nil }
        var out = [UInt8](repeating: 0, count: count)
        let rc = out.withUnsafeMutableBytes { vtee_user_read($0.baseAddress, address, count) }
        return rc == 0 ? out : nil
    }
    public func write(_ address: UInt64, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { vtee_user_write(address, $0.baseAddress, bytes.count) } == 0
    }
}

/// Kinds of placeholder object, in the top bits of a registry key.
enum ObjectKind: Int64 {
    case context = 1, sharedMemory = 2
    static let shift: Int64 = 40
    func key(_ id: Int64) -> Int64 { rawValue << Self.shift | id }
    static func split(_ key: Int64) -> (ObjectKind, Int64)? {
        guard key >= 0, let k = ObjectKind(rawValue: key >> shift) else { return nil }
        return (k, key & ((1 << shift) - 1))
    }
}

/// The /dev/tee emulation of this process: one per process (`shared`).
public final class TEEDevice: Sendable {
    /// The process-wide device, over the daemon at VTEE_SOCKET.
    public static let shared = TEEDevice(memory: ProcessMemory())

    /// gen_caps of /dev/tee0: GP and MEMREF_NULL. No REG_MEM: a client's own heap is not guest RAM
    /// the daemon can reach, so libteec and tee-supplicant take their SHM_ALLOC + mmap path.
    public static let clientCapabilities: LinuxTEE.GenericCapabilities = [.gp, .memrefNull]
    /// gen_caps of /dev/teepriv0: the client's plus PRIVILEGED.
    public static let supplicantCapabilities: LinuxTEE.GenericCapabilities = [.gp, .memrefNull, .privileged]

    struct Context { var privileged: Bool; var sessions: Set<UInt32> = [] }
    struct Shm {
        var context: Int64
        var handle: SharedMemoryHandle
        var size: Int
        var descriptorOpen = true
        var mappings = 0
        var busy = 0
        var unused: Bool { !descriptorOpen && mappings == 0 && busy == 0 }
    }
    struct State {
        var guest: GuestConnection?
        var pid: Int32 = 0
        var contexts: [Int64: Context] = [:]
        var shms: [Int32: Shm] = [:]
        var nextContext: Int64 = 1
        var nextShm: Int32 = 1
        /// Guests inherited over fork: never touched again (their RAM and mailboxes are the parent's).
        var abandoned: [GuestConnection] = []
        var supplicant = SupplicantBridgeState()
    }
    let state = Mutex(State())
    let memory: any UserMemory
    /// Socket override (tests); nil: VTEE_SOCKET or the default.
    let socketPath: String?
    /// Storage override for vtee's own supplicant (tests); nil: VTEE_STORAGE or the default.
    let storagePath: String?
    /// Plugin directory override for vtee's own supplicant (tests); nil: VTEE_PLUGIN_DIR.
    let pluginPath: String?

    /// A device reaching user memory through `memory`, attaching to `socket` (default: VTEE_SOCKET);
    /// vtee's own supplicant stores under `storage` (default: VTEE_STORAGE) and loads the plugins of
    /// `plugins` (default: VTEE_PLUGIN_DIR).
    public init(memory: any UserMemory, socket: String? = nil, storage: String? = nil, plugins: String? = nil) {
        self.memory = memory; self.socketPath = socket; self.storagePath = storage; self.pluginPath = plugins
    }

    /// Runs `body` on the state after dropping whatever a parent process left (fork).
    func withState<R>(_ body: (inout State) throws(TEEIoctlError) -> R) throws(TEEIoctlError) -> R {
        let pid = vtee_sys_getpid()
        return try state.withLock { (s: inout State) throws(TEEIoctlError) -> R in
            if s.pid != pid {
                if let g = s.guest { s.abandoned.append(g) }
                s.guest = nil; s.contexts = [:]; s.shms = [:]; s.supplicant = SupplicantBridgeState()
                s.pid = pid
            }
            return try body(&s)
        }
    }

    // MARK: open / close

    /// open("/dev/tee0") (or teepriv0 with `privileged`): a new context, attaching this process
    /// to the daemon first if needed. Returns the context key.
    public func openContext(privileged: Bool) throws(TEEIoctlError) -> Int64 {
        let have = try withState { s throws(TEEIoctlError) -> Bool in s.guest != nil }
        if !have {
            let g = try GuestConnection(socket: socketPath ?? DeviceEnvironment.value(DeviceEnvironment.socket) ?? DeviceEnvironment.defaultSocket,
                                        storage: storagePath, plugins: pluginPath)
            let extra: GuestConnection? = try withState { s throws(TEEIoctlError) -> GuestConnection? in
                if s.guest == nil { s.guest = g; return nil }
                return g   // another thread attached meanwhile
            }
            extra?.close()
        }
        let (id, guest) = try withState { s throws(TEEIoctlError) -> (Int64, GuestConnection) in
            guard let g = s.guest else { throw .noEntry }
            let id = s.nextContext
            s.nextContext += 1
            s.contexts[id] = Context(privileged: privileged)
            return (id, g)
        }
        if privileged {
            // As Linux's optee_open: the context that opens the supplicant device is the
            // supplicant from then on (requests queue for its SUPPL_RECV, vtee's own supplicant
            // steps aside now, not at the first RECV, so no request of a call made after this
            // open can reach vtee's own supplicant); a second open while it is open is EBUSY.
            do { _ = try attachSupplicant(context: id, guest: guest) } catch {
                _ = try? withState { s throws(TEEIoctlError) in s.contexts[id] = nil }
                detachIfIdle()
                throw error
            }
        }
        return ObjectKind.context.key(id)
    }

    /// The last descriptor of context `key` was closed (tee_release): its sessions are closed;
    /// its shared memory lives on while descriptors or mappings of it remain.
    public func releaseContext(_ key: Int64) {
        guard let (kind, id) = ObjectKind.split(key), kind == .context else { return }
        let got = try? withState { s throws(TEEIoctlError) -> (Context, GuestConnection)? in
            guard let c = s.contexts.removeValue(forKey: id), let g = s.guest else { return nil }
            return (c, g)
        }
        guard let (ctx, guest) = got ?? nil else { return }
        for session in ctx.sessions { _ = try? guest.driver.closeSession(session) }
        if ctx.privileged { supplicantDetached(context: id) }
        detachIfIdle()
    }

    /// Detaches from the daemon when no context and no shared memory is left.
    func detachIfIdle() {
        let g = try? withState { s throws(TEEIoctlError) -> GuestConnection? in
            guard s.contexts.isEmpty, s.shms.isEmpty, let g = s.guest else { return nil }
            s.guest = nil
            return g
        }
        (g ?? nil)?.close()
    }

    // MARK: shared memory objects

    /// Drops one reference kind of shm `id`; frees it when nothing uses it any more.
    func unref(_ id: Int32, _ change: (inout Shm) -> Void) {
        let freed = try? withState { s throws(TEEIoctlError) -> (SharedMemoryHandle, GuestConnection)? in
            guard var shm = s.shms[id] else { return nil }
            change(&shm)
            guard shm.unused, let g = s.guest else { s.shms[id] = shm; return nil }
            s.shms[id] = nil
            return (shm.handle, g)
        }
        if let (h, g) = freed ?? nil {
            _ = try? g.driver.release(h)
            detachIfIdle()
        }
    }

    /// The last descriptor of shm object `key` was closed.
    public func releaseSharedMemoryDescriptor(_ key: Int64) {
        guard let (kind, id) = ObjectKind.split(key), kind == .sharedMemory, let i = Int32(exactly: id) else { return }
        unref(i) { $0.descriptorOpen = false }
    }

    /// A mapping of shm object `key` went away (munmap).
    public func unmapped(_ key: Int64) {
        guard let (kind, id) = ObjectKind.split(key), kind == .sharedMemory, let i = Int32(exactly: id) else { return }
        unref(i) { $0.mappings = max(0, $0.mappings - 1) }
    }

    /// Where mmap(fd of shm `key`, len, offset) lands in the guest RAM memfd: (memfd, file offset).
    /// EINVAL when the range is not inside the object (rounded up to pages), as tee_shm's mmap.
    public func mapTarget(_ key: Int64, length: Int, offset: Int64) throws(TEEIoctlError) -> (fd: Int32, offset: Int64) {
        guard let (kind, id) = ObjectKind.split(key), kind == .sharedMemory, let i = Int32(exactly: id) else { throw .invalid }
        return try withState { s throws(TEEIoctlError) -> (fd: Int32, offset: Int64) in
            guard let shm = s.shms[i], let g = s.guest else { throw .invalid }
            let cap = (shm.size + pageSize - 1) / pageSize * pageSize
            guard length > 0, offset >= 0, offset % Int64(pageSize) == 0, Int64(cap) - offset >= Int64(length) else { throw .invalid }
            return (g.ramFD, Int64(shm.handle.address.raw - g.ramBase) + offset)
        }
    }

    /// Records one more mapping of shm `key` (after mmap succeeded).
    public func mapped(_ key: Int64) {
        guard let (kind, id) = ObjectKind.split(key), kind == .sharedMemory, let i = Int32(exactly: id) else { return }
        _ = try? withState { s throws(TEEIoctlError) in s.shms[i]?.mappings += 1 }
    }

    /// Guest RAM of shm `id` of context `context`: the handle and size, or EINVAL for an id this
    /// context does not own.
    func sharedMemory(_ id: UInt64, context: Int64) throws(TEEIoctlError) -> Shm {
        guard let i = Int32(exactly: id), i > 0 else { throw .invalid }
        return try withState { s throws(TEEIoctlError) -> Shm in
            guard let shm = s.shms[i], shm.context == context else { throw .invalid }
            return shm
        }
    }

    /// Shared-memory objects alive now (tests).
    public var sharedMemoryObjects: Int { (try? withState { s throws(TEEIoctlError) in s.shms.count }) ?? 0 }
    /// Contexts open now (tests).
    public var contexts: Int { (try? withState { s throws(TEEIoctlError) in s.contexts.count }) ?? 0 }
    /// The context key of the attached external supplicant (the open /dev/teepriv0), if any (tests).
    public var supplicantContext: Int64? {
        (try? withState { s throws(TEEIoctlError) in s.supplicant.context.map { ObjectKind.context.key($0) } }) ?? nil
    }
    /// True while this process is attached to the daemon (tests).
    public var isAttached: Bool { (try? withState { s throws(TEEIoctlError) in s.guest != nil }) ?? false }
}
