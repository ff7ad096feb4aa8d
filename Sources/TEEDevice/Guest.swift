/// TEEDevice: the Linux tee core of a vtee guest process (guest kernel side of `/dev/tee0` and
/// `/dev/teepriv0`), for C programs: libteec.so calls it directly and libvtee-preload.so routes
/// `open`/`ioctl`/`mmap`/`close` of the TEE devices to it. This file: the process's attachment to
/// the daemon (one guest per process, shared by every context, as one VM's kernel serves all its
/// /dev/tee0 descriptors).
import Foundation
import Machine
import NormalWorld
import Supplicant
import TEEABI
import Transport

/// Environment variables the C libraries read (documented in the README).
public enum DeviceEnvironment {
    /// VTEE_SOCKET: the daemon socket. Default `/tmp/vtee.sock` (what `vtee serve` listens on by default).
    public static let socket = "VTEE_SOCKET"
    /// VTEE_STORAGE: secure-storage directory of vtee's own supplicant (default: the user's data directory).
    public static let storage = "VTEE_STORAGE"
    /// VTEE_TA_DIR: directory of `<uuid>.ta` files vtee's own supplicant loads.
    public static let taDirectory = "VTEE_TA_DIR"
    /// VTEE_PLUGIN_DIR: directory of tee-supplicant plugins vtee's own supplicant loads (as `-p`).
    public static let pluginDirectory = "VTEE_PLUGIN_DIR"
    /// VTEE_GUEST_PAGES: guest RAM in 4 KiB pages (default 2048: 8 MiB for buffers and shm).
    public static let guestPages = "VTEE_GUEST_PAGES"
    /// The socket used when VTEE_SOCKET is unset.
    public static let defaultSocket = "/tmp/vtee.sock"

    static func value(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }
}

/// This process attached to the daemon as a guest: its RAM (a memfd also mapped by the daemon),
/// the guest driver and vtee's own supplicant (which serves FS and LOAD_TA until a real
/// tee-supplicant opens /dev/teepriv0).
final class GuestConnection: Sendable {
    let client: TransportClient
    let driver: OPTEEDriver
    let supplicant: Supplicant
    /// The SUPP_* conversation with the daemon (serving as, or finding, the uid's shared supplicant).
    let link: DaemonLink
    /// The serving side: channels of this uid's other processes while /dev/teepriv0 is open here.
    let sharedServer: SharedSupplicantServer
    /// The client side: forwards this guest's supplicant requests to the uid's shared supplicant.
    let sharedClient: SharedSupplicantClient
    /// The RAM memfd (mmap offsets are RAM offsets: the guest layout is the identity).
    let ramFD: Int32
    /// IPA of RAM byte 0.
    let ramBase: UInt64
    /// Bytes of RAM.
    let ramBytes: Int

    /// Attaches to the daemon at `socket`; vtee's own supplicant stores under `storage`
    /// (default: VTEE_STORAGE or the user's data directory) and loads the plugins of `plugins`
    /// (default: VTEE_PLUGIN_DIR; none when unset).
    init(socket: String, storage: String? = nil, plugins: String? = nil) throws(TEEIoctlError) {
        let pages = DeviceEnvironment.value(DeviceEnvironment.guestPages).flatMap { Int($0) }.map { min(max($0, 64), 1 << 18) } ?? 2048
        let client: TransportClient
        do { client = try TransportClient.connect(socketPath: socket, ramPages: pages, vcpus: 4) }
        catch { throw Self.errno(for: error) }
        guard let fd = client.ram.fd else { client.close(); throw .noMemory }
        let space: GuestAddressSpace
        do { space = try GuestAddressSpace(memory: client.memory, id: client.guestID, region: client.ram, layout: .identity) }
        catch { client.close(); throw .noMemory }
        let driver: OPTEEDriver
        do { driver = try OPTEEDriver(space: space, conduit: client.conduit, configuration: DriverConfiguration(vcpus: 4)) }
        catch { client.close(); throw .invalid }
        var config = SupplicantConfiguration(storageDirectory: storage ?? DeviceEnvironment.value(DeviceEnvironment.storage)
                                             ?? SupplicantConfiguration.defaultStorageDirectory)
        config.taDirectory = DeviceEnvironment.value(DeviceEnvironment.taDirectory)
        config.pluginDirectory = plugins ?? DeviceEnvironment.value(DeviceEnvironment.pluginDirectory)
        let server = SharedSupplicantServer(driver: driver)
        let link = DaemonLink(client: client, server: server)
        let shared = SharedSupplicantClient(link: link, driver: driver)
        config.forward = { [shared] req in shared.forward(req) }
        let supplicant: Supplicant
        do { supplicant = try Supplicant(driver: driver, configuration: config) }
        catch { driver.shutdown(); client.close(); throw .noMemory }
        _ = supplicant.start()
        self.client = client; self.driver = driver; self.supplicant = supplicant
        self.link = link; self.sharedServer = server; self.sharedClient = shared
        self.ramFD = fd; self.ramBase = client.ramBase.raw; self.ramBytes = client.ram.byteCount
    }

    /// Detaches from the daemon (the last context of the process closed).
    func close() {
        supplicant.stop()
        sharedClient.close()
        link.stop()
        driver.shutdown()
        client.close()
    }

    /// What open(2) of a TEE device reports when the daemon cannot be reached: ENOENT when there
    /// is no daemon, EBUSY when it refused us, ENOMEM for host resources.
    static func errno(for e: TransportError) -> TEEIoctlError {
        switch e {
        case .rejected: .busy
        case .host: .noEntry
        default: .noEntry
        }
    }
}
