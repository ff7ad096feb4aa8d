/// The supplicant daemon: threads that receive requests from the driver's channel, serve them
/// (FS, LOAD_TA, SHM_ALLOC/SHM_FREE of application type) and answer.
import Foundation
import Logging
import NormalWorld
import Synchronization
import TEEABI

/// Where the supplicant keeps things and how many requests it serves at once.
public struct SupplicantConfiguration: Sendable {
    /// Secure storage root (tee-supplicant's `-f`, default under the user's data directory).
    public var storageDirectory: String
    /// Directory of `<uuid>.ta` files (tee-supplicant's `-t`); nil: LOAD_TA finds nothing.
    public var taDirectory: String?
    /// Directory of tee-supplicant plugins (tee-supplicant's `-p`); nil: none, SUPP_PLUGIN
    /// requests answer ITEM_NOT_FOUND. `VTEE_PLUGIN_DIR` sets it for C programs' own supplicant.
    public var pluginDirectory: String? = nil
    /// Serving threads started at once.
    public var threads: Int
    /// Most serving threads; more are started while every one is busy (as tee-supplicant does).
    public var maxThreads: Int
    /// How long one receive waits before checking for stop, in seconds.
    public var pollInterval: Double
    /// Test hook run before each request is served (e.g. to stall a request, then kill).
    public var willServe: (@Sendable (SupplicantRequest) -> Void)?
    /// Serves a request elsewhere first (the user's shared tee-supplicant): its answer, or nil
    /// to serve it here. Called for every request (SHM_FREE included, so mirrors can go).
    public var forward: (@Sendable (SupplicantRequest) -> SupplicantResponse?)? = nil
    /// Logger.
    public var logger: Logger

    /// The default storage directory: `$XDG_DATA_HOME/vtee/storage` or `~/.local/share/vtee/storage`.
    public static var defaultStorageDirectory: String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_DATA_HOME"] ?? ((env["HOME"] ?? NSTemporaryDirectory()) + "/.local/share")
        return base + "/vtee/storage"
    }

    /// The default TA directory (tee-supplicant's /lib/optee_armtz): `$VTEE_TA_DIR` if set, else
    /// `$XDG_DATA_HOME/vtee/ta` or `~/.local/share/vtee/ta`. LOAD_TA reads `<dir>/<uuid>.ta`.
    public static var defaultTADirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["VTEE_TA_DIR"], !d.isEmpty { return d }
        let base = env["XDG_DATA_HOME"] ?? ((env["HOME"] ?? NSTemporaryDirectory()) + "/.local/share")
        return base + "/vtee/ta"
    }

    /// A configuration; only the storage directory is usually given.
    public init(storageDirectory: String = SupplicantConfiguration.defaultStorageDirectory, taDirectory: String? = nil,
                threads: Int = 2, maxThreads: Int = 8, pollInterval: Double = 0.05,
                willServe: (@Sendable (SupplicantRequest) -> Void)? = nil,
                logger: Logger = Logger(label: "vtee.supplicant")) {
        self.storageDirectory = storageDirectory; self.taDirectory = taDirectory
        self.threads = max(1, threads); self.maxThreads = max(self.threads, maxThreads); self.pollInterval = pollInterval; self.willServe = willServe; self.logger = logger
    }
}

/// tee-supplicant for one driver. `start` attaches and spawns the serving threads; `stop`
/// detaches cleanly; `kill` detaches at once, as a dying process would.
public final class Supplicant: Sendable {
    /// The driver whose requests are served.
    public let driver: OPTEEDriver
    /// Configuration.
    public let configuration: SupplicantConfiguration
    /// The REE file system.
    public let store: FileStore
    /// The plugins of `configuration.pluginDirectory`, loaded once at start-up.
    public let plugins: SupplicantPlugins
    private let connection = Mutex<SupplicantConnection?>(nil)
    private let running = Atomic<Bool>(false)
    private let alive = Atomic<Int>(0)
    private let served = Atomic<Int>(0)
    private let idle = Atomic<Int>(0)
    private let ownedShm = Mutex<Set<UInt64>>([])

    /// A supplicant for `driver`; fails when the storage directory cannot be created.
    public init(driver: OPTEEDriver, configuration: SupplicantConfiguration) throws(TEEResult) {
        self.driver = driver; self.configuration = configuration
        self.store = try FileStore(directory: configuration.storageDirectory, logger: configuration.logger)
        self.plugins = SupplicantPlugins(directory: configuration.pluginDirectory, logger: configuration.logger)
    }

    /// Requests answered so far.
    public var requestsServed: Int { served.load(ordering: .relaxed) }
    /// Serving threads still running.
    public var runningThreads: Int { alive.load(ordering: .relaxed) }

    /// Attaches to the driver and starts the threads; false when another supplicant is attached.
    @discardableResult
    public func start() -> Bool {
        guard let c = driver.supplicant.attach() else { return false }
        connection.withLock { $0 = c }
        running.store(true, ordering: .releasing)
        for _ in 0..<configuration.threads { spawn(c, growing: false) }
        return true
    }

    private func loop(_ c: SupplicantConnection) {
        while running.load(ordering: .acquiring) && driver.supplicant.isCurrent(c) {
            idle.wrappingAdd(1, ordering: .relaxed)
            let got = driver.supplicant.receive(c, timeout: configuration.pollInterval)
            let stillIdle = idle.wrappingSubtract(1, ordering: .relaxed).newValue
            guard let req = got else { continue }
            // As tee-supplicant: when nobody else is left waiting, start another server thread.
            if stillIdle == 0 { spawn(c, growing: true) }
            configuration.willServe?(req)
            let resp = configuration.forward?(req) ?? serve(req)
            served.wrappingAdd(1, ordering: .relaxed)
            driver.supplicant.reply(c, resp)
        }
    }

    private func spawn(_ c: SupplicantConnection, growing: Bool) {
        let n = alive.wrappingAdd(1, ordering: .relaxed).newValue
        if growing && n > configuration.maxThreads { alive.wrappingSubtract(1, ordering: .relaxed); return }
        Thread.detachNewThread { [self] in
            self.loop(c)
            self.alive.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    /// Stops serving and detaches; requests still queued fail with COMMUNICATION.
    public func stop() {
        running.store(false, ordering: .releasing)
        if let c = connection.withLock({ c -> SupplicantConnection? in defer { c = nil }; return c }) { driver.supplicant.detach(c) }
    }

    /// Dies abruptly: detaches at once (pending requests fail with COMMUNICATION, answers of
    /// requests it was serving are dropped) and its threads exit.
    public func kill() { stop() }

    // MARK: dispatch

    /// Serves one request (what tee-supplicant's process_one_request does).
    public func serve(_ req: SupplicantRequest) -> SupplicantResponse {
        var params = req.params
        let result: TEEResult
        switch req.command {
        case .loadTA: result = loadTA(&params)
        case .fs: result = fs(&params)
        case .shmAlloc: result = shmAlloc(&params)
        case .shmFree: result = shmFree(params)
        case .suppPlugin: result = plugin(&params)
        default: result = .notSupported
        }
        if result != .success && result != .itemNotFound && result != .shortBuffer {
            configuration.logger.debug("request failed", metadata: ["cmd": "\(req.command)", "ret": "\(result)"])
        }
        return SupplicantResponse(id: req.id, result: result, params: params)
    }

    private static func octets(_ a: UInt64, _ b: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: a >> (8 * UInt64($0))) } + (0..<8).map { UInt8(truncatingIfNeeded: b >> (8 * UInt64($0))) }
    }

    private func loadTA(_ p: inout [SupplicantParam]) -> TEEResult {
        guard p.count == 2, case .value = p[0], case let .memref(t, data, _) = p[1] else { return .badParameters }
        let v = p[0].values
        let uuid = TEEUUID(octets: Self.octets(v.a, v.b))
        guard let dir = configuration.taDirectory,
              let bytes = FileManager.default.contents(atPath: dir + "/" + uuid.description + ".ta") else { return .itemNotFound }
        let image = [UInt8](bytes)
        guard let buf = data else { p[1] = .memref(t, data: nil, size: image.count); return .success }
        guard image.count <= buf.count else { p[1] = .memref(t, data: buf, size: image.count); return .shortBuffer }
        p[1] = .memref(t, data: image + [UInt8](repeating: 0, count: buf.count - image.count), size: image.count)
        return .success
    }

    private func path(_ p: SupplicantParam) -> [UInt8]? { p.data }

    private func fs(_ p: inout [SupplicantParam]) -> TEEResult {
        guard let first = p.first, case .value = first, let op = RPCFSOperation(rawValue: first.values.a) else { return .badParameters }
        let v = first.values
        do throws(TEEResult) {
            switch op {
            case .open, .create, .opendir:
                guard p.count == 3, let path = p[1].data, case let .value(t, _, b, c) = p[2] else { return .badParameters }
                let h: UInt64
                switch op {
                case .open: h = try store.open(path: path)
                case .create: h = try store.create(path: path)
                default: h = try store.openDirectory(path: path)
                }
                p[2] = .value(t, a: h, b: b, c: c)
            case .close:
                try store.close(handle: v.b)
            case .closedir:
                try store.closeDirectory(handle: v.b)
            case .read:
                guard p.count == 2, case let .memref(t, data?, _) = p[1] else { return .badParameters }
                let got = try store.read(handle: v.b, offset: v.c, count: data.count)
                p[1] = .memref(t, data: got + [UInt8](repeating: 0, count: data.count - got.count), size: got.count)
            case .write:
                guard p.count == 2, case let .memref(_, data, size) = p[1] else { return .badParameters }
                let bytes = data ?? []
                try store.write(handle: v.b, offset: v.c, data: Array(bytes.prefix(max(0, min(size, bytes.count)))))
            case .truncate:
                try store.truncate(handle: v.b, length: v.c)
            case .remove:
                guard p.count == 2, let path = p[1].data else { return .badParameters }
                try store.remove(path: path)
            case .rename:
                guard p.count == 3, let old = p[1].data, let new = p[2].data else { return .badParameters }
                try store.rename(from: old, to: new, overwrite: v.b != 0)
            case .readdir:
                guard p.count == 2, case let .memref(t, data, _) = p[1] else { return .badParameters }
                let cap = data?.count ?? 0
                do throws(TEEResult) {
                    let name = try store.readDirectory(handle: v.b, capacity: cap)
                    p[1] = .memref(t, data: name + [UInt8](repeating: 0, count: cap - name.count), size: name.count)
                } catch {
                    if error == .shortBuffer { p[1] = .memref(t, data: data, size: store.nextNameSize(handle: v.b)) }
                    throw error
                }
            }
            return .success
        } catch {
            return error
        }
    }

    /// SUPP_PLUGIN as tee-supplicant's plugin_process: [0] VALUE_INPUT (0 = invoke, UUID d1, d2),
    /// [1] VALUE_INPUT (d3, d4, cmd), [2] VALUE_INOUT (sub_cmd; out: out_len), [3] MEMREF_INOUT
    /// data; the UUID's octets are the four words in little-endian order.
    private func plugin(_ p: inout [SupplicantParam]) -> TEEResult {
        guard p.count == 4, case .value(.valueInput, _, _, _) = p[0], case .value(.valueInput, _, _, _) = p[1],
              case let .value(.valueInout, subCmd, _, c2) = p[2], case let .memref(t, data, size) = p[3], t == .tmemInout || t == .rmemInout
        else { return .badParameters }
        let v0 = p[0].values, v1 = p[1].values
        let words = [v0.b, v0.c, v1.a, v1.b].map { UInt32(truncatingIfNeeded: $0) }
        let octets = words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * UInt32($0))) } }
        guard v0.a == 0 else { return .notSupported }   // OPTEE_RPC_SUPP_PLUGIN_INVOKE is the only operation
        var bytes = data
        let (r, outLength) = plugins.invoke(TEEUUID(octets: octets), command: UInt32(truncatingIfNeeded: v1.c),
                                            subCommand: UInt32(truncatingIfNeeded: subCmd), data: &bytes)
        p[2] = .value(.valueInout, a: subCmd, b: UInt64(outLength), c: c2)
        p[3] = .memref(t, data: bytes, size: size)
        return r
    }

    private func shmAlloc(_ p: inout [SupplicantParam]) -> TEEResult {
        guard p.count >= 1, case let .value(t, a, b, _) = p[0], b > 0, b <= UInt64(Int32.max) else { return .badParameters }
        guard let h = try? driver.allocateSharedMemory(size: Int(b), kind: .supplicant, register: false) else { return .outOfMemory }
        ownedShm.withLock { _ = $0.insert(h.id) }
        p[0] = .value(t, a: a, b: b, c: h.id)
        return .success
    }

    private func shmFree(_ p: [SupplicantParam]) -> TEEResult {
        guard p.count >= 1, case .value = p[0] else { return .badParameters }
        let id = p[0].values.b
        guard ownedShm.withLock({ $0.remove(id) }) != nil else { return .badParameters }
        return (try? driver.release(id: id)) != nil ? .success : .badParameters
    }
}
