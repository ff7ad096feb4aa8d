/// TEEClientRemote: TEEClient over a vtee daemon (normal-world user space). This process becomes a
/// guest: its RAM is a memfd handed to the daemon, its vCPUs trap through shared-memory mailboxes,
/// and the guest driver and supplicant run here, exactly as in process. Same API as an in-process
/// context; it alone pulls in Transport and Supplicant.
import Foundation
import Machine
import NormalWorld
import Supplicant
import TEEABI
import TEEClient
import Transport

/// Why connecting to a daemon failed.
public enum RemoteContextError: Error, CustomStringConvertible {
    /// No socket given and VTEE_SOCKET unset.
    case noSocket
    /// The transport could not attach (daemon absent, full, or refused).
    case transport(TransportError)
    /// The guest driver's probe failed.
    case driver(DriverError)
    /// The supplicant could not start.
    case supplicant(TEEResult)

    public var description: String {
        switch self {
        case .noSocket: "no daemon socket: pass one or set VTEE_SOCKET"
        case let .transport(e): "daemon transport: \(e)"
        case let .driver(e): "guest driver: \(e)"
        case let .supplicant(r): "supplicant: \(r)"
        }
    }
}

/// Options of a guest process attaching to a daemon.
public struct RemoteGuestOptions: Sendable {
    /// Guest RAM in pages (buffers of temporary memrefs and shared memory come from it).
    public var ramPages = 1024
    /// vCPUs (mailboxes; concurrent calls).
    public var vcpus = 2
    /// Storage directory of this guest's supplicant (secure storage lands here).
    public var storage: String = SupplicantConfiguration.defaultStorageDirectory
    /// Directory this guest's supplicant loads `<uuid>.ta` from ($VTEE_TA_DIR or <data>/vtee/ta).
    public var taDirectory: String = SupplicantConfiguration.defaultTADirectory
    /// Defaults: 4 MiB of RAM, 2 vCPUs, the user's default storage.
    public init() {}
}

extension TEEContext {
    /// The daemon socket named by the environment variable VTEE_SOCKET, if set.
    public static var environmentSocket: String? {
        guard let s = ProcessInfo.processInfo.environment["VTEE_SOCKET"], !s.isEmpty else { return nil }
        return s
    }

    /// TEEC_InitializeContext against a daemon: attaches this process as a guest of the daemon at
    /// `socket` (default: $VTEE_SOCKET). Same API as an in-process context from then on.
    public convenience init(socket: String?, options: RemoteGuestOptions = RemoteGuestOptions()) throws(RemoteContextError) {
        let c = try TEEContext.connect(socket: socket, options: options)
        self.init(driver: c.driver, onFinalize: { c.finalize() })
    }

    /// Attaches this process as a guest of the daemon at `socket` (default: $VTEE_SOCKET) and returns
    /// a context over it. The driver probes the secure world through the daemon's mediator; the
    /// supplicant serves storage from `options.storage`.
    public static func connect(socket: String? = nil, options: RemoteGuestOptions = RemoteGuestOptions()) throws(RemoteContextError) -> TEEContext {
        guard let path = socket ?? environmentSocket else { throw .noSocket }
        let client: TransportClient
        do { client = try TransportClient.connect(socketPath: path, ramPages: options.ramPages, vcpus: options.vcpus) }
        catch { throw .transport(error) }
        let space: GuestAddressSpace
        do { space = try GuestAddressSpace(memory: client.memory, id: client.guestID, region: client.ram, layout: .identity) }
        catch { client.close(); throw .transport(.invalidArgument("guest RAM: \(error)")) }
        let driver: OPTEEDriver
        do { driver = try OPTEEDriver(space: space, conduit: client.conduit, configuration: DriverConfiguration(vcpus: options.vcpus)) }
        catch { client.close(); throw .driver(error) }
        let supplicant: Supplicant
        do { supplicant = try Supplicant(driver: driver, configuration: SupplicantConfiguration(storageDirectory: options.storage,
                                                                                                  taDirectory: options.taDirectory)) }
        catch { driver.shutdown(); client.close(); throw .supplicant(error) }
        _ = supplicant.start()
        return TEEContext(driver: driver, onFinalize: { supplicant.stop(); driver.shutdown(); client.close() })
    }
}
