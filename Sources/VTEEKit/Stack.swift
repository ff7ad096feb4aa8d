/// VTEEKit: the composition root. It is the only module that sees every world: it builds a
/// machine (physical memory), the secure world with the built-in TAs, the mediator and the
/// platform, and guests (stage-2 + driver + supplicant + GP client context), and wires them
/// together through register frames and physical memory only.
import Logging
import Machine
import MediatedPlatform
import Mediator
import NormalWorld
import Platform
import SecureWorld
import Supplicant
import SignedTA
import Synchronization
import TEEABI
import TEEClient
import TrustedApps

/// How to build a whole in-process vtee machine.
public struct StackConfig: Sendable {
    /// Secure threads per VM (OP-TEE's CFG_NUM_THREADS).
    public var secureThreadsPerVM = 8
    /// Guest RAM in 4 KiB pages.
    public var guestPages = 2048
    /// vCPUs per guest.
    public var vcpusPerGuest = 2
    /// Root storage directory; each guest's supplicant uses `<root>/guest-<id>`.
    public var storageRoot: String = SupplicantConfiguration.defaultStorageDirectory
    /// The secure world's private state (device key, rollback counters): never under the storage
    /// root, never served to the normal world. nil: `<storageRoot>.secure`.
    public var secureStateDirectory: String? = nil
    /// The secure state directory in use.
    public var resolvedSecureStateDirectory: String { secureStateDirectory ?? storageRoot + ".secure" }
    /// FOREIGN_INTR period of long TA commands.
    public var interruptTick: Duration? = .milliseconds(5)
    /// Mediator limits.
    public var mediator = MediatorConfig()
    /// Most guests at once.
    public var maxGuests = 64
    /// Logger used by every layer.
    public var logger = Logger(label: "vtee")
    /// Directory the guests' supplicants load `<uuid>.ta` from (`--ta-dir`; default
    /// `SupplicantConfiguration.defaultTADirectory`: $VTEE_TA_DIR or <data>/vtee/ta).
    public var taDirectory: String? = SupplicantConfiguration.defaultTADirectory
    /// Directory the guests' supplicants load tee-supplicant plugins from; nil (default): none.
    public var pluginDirectory: String? = nil
    /// The key loaded TAs must be signed with (`--ta-key`); default: the development key.
    public var taKey: TAVerificationKey? = try? TAVerificationKey.development
    /// Runs the ELF of a verified TA image; default: the TA process runner (`defaultTARunner`); nil: loaded TAs cannot run.
    public var taRunner: (@Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor)? = defaultTARunner

    /// The defaults: 8 secure threads, 8 MiB guests with 2 vCPUs.
    public init() {}
}

/// Errors building or changing a stack.
public enum StackError: Error, CustomStringConvertible {
    /// Guest RAM or its stage-2 could not be made.
    case memory(MemoryError)
    /// The mediator refused the guest.
    case mediator(String)
    /// The guest driver's probe failed.
    case driver(DriverError)
    /// The supplicant could not start.
    case supplicant(TEEResult)
    /// Building the platform failed.
    case platform(PlatformBuildError)
    /// The secure world's device state (key, counters) could not be opened.
    case secureState(DeviceStateError)

    public var description: String {
        switch self {
        case let .memory(e): "guest memory: \(e)"
        case let .mediator(s): "mediator: \(s)"
        case let .driver(e): "driver: \(e)"
        case let .supplicant(r): "supplicant: \(r)"
        case let .platform(e): "platform: \(e)"
        case let .secureState(e): "\(e)"
        }
    }
}

/// One guest: its address space, driver, supplicant and GP context.
public final class GuestStack: Sendable {
    /// The guest id (client id = id + 1).
    public let id: GuestID
    /// Its RAM and stage-2 table.
    public let space: GuestAddressSpace
    /// Its OP-TEE driver.
    public let driver: OPTEEDriver
    /// Its tee-supplicant.
    public let supplicant: Supplicant
    /// Its GP client context.
    public let context: TEEContext

    init(id: GuestID, space: GuestAddressSpace, driver: OPTEEDriver, supplicant: Supplicant) {
        self.id = id; self.space = space; self.driver = driver; self.supplicant = supplicant
        self.context = TEEContext(driver: driver)
    }

    /// Stops the supplicant and the driver (the guest shuts down cleanly).
    public func shutdown() {
        context.finalize()
        supplicant.stop()
        driver.shutdown()
    }
}

/// A whole machine in one process: secure world, mediator, platform, guests.
public final class VTEEStack: Sendable {
    /// How it was built.
    public let config: StackConfig
    /// The physical address space.
    public let memory: PhysicalMemory
    /// The secure world.
    public let secureWorld: SecureWorld
    /// The mediator between guests and the secure world.
    public let mediator: Mediator
    /// The trap entry of every guest vCPU.
    public let platform: Platform

    /// The device state of the secure world (key file and rollback counters).
    public let deviceState: FileDeviceState
    /// Storage namespace of each client id whose guests share storage (daemon guests of one
    /// user); clients not in it use "guest-<id>".
    let namespaces = NamespaceTable()

    /// Builds the machine with no guest yet.
    public init(config: StackConfig = StackConfig()) throws {
        self.config = config
        memory = PhysicalMemory()
        do { deviceState = try FileDeviceState(directory: config.resolvedSecureStateDirectory) } catch {
            throw StackError.secureState(error)
        }
        var swc = SecureWorldConfig(threadsPerVM: config.secureThreadsPerVM, virtualization: true,
                                    interruptTick: config.interruptTick,
                                    taKey: config.taKey, loadTA: config.taRunner)
        let table = namespaces
        swc.storage = SecureStorageConfig(device: deviceState, namespace: { [table] client in
            table.names.withLock { $0[client] } ?? SecureStorageConfig.guestNamespace(client)
        })
        secureWorld = SecureWorld(memory: memory, config: swc, tas: BuiltinTAs.all)
        var mc = config.mediator
        mc.maxGuests = max(mc.maxGuests, config.maxGuests)
        mc.logger = config.logger
        let med = try Mediator(memory: memory, secureWorld: secureWorld, config: mc)
        mediator = med
        var builder = PlatformBuilder()
        builder.logger = config.logger
        do {
            try builder.register(mediatorService(med))
            try builder.register(TRNGService())
        } catch { throw StackError.platform(error) }
        platform = builder.build()
    }

    /// Creates guest `id`: RAM (scattered in PA), registration with the mediator (VM_CREATED),
    /// the driver's probe through the platform, and a running supplicant on its storage directory.
    public func addGuest(_ id: GuestID) throws -> GuestStack {
        let space: GuestAddressSpace
        do { space = try GuestAddressSpace(memory: memory, id: id, pages: config.guestPages, layout: .scattered(seed: 0x7EE)) }
        catch { throw StackError.memory(error) }
        do { try mediator.addGuest(space) } catch {
            space.removeRAM()
            throw StackError.mediator("\(error)")
        }
        let driver: OPTEEDriver
        do {
            driver = try OPTEEDriver(space: space, conduit: PlatformConduit(platform: platform, guest: id),
                                     configuration: DriverConfiguration(vcpus: config.vcpusPerGuest))
        } catch {
            mediator.destroyGuest(id); space.removeRAM()
            throw StackError.driver(error)
        }
        let supplicant: Supplicant
        do {
            var sc = SupplicantConfiguration(storageDirectory: config.storageRoot + "/guest-\(id.raw)",
                                             taDirectory: config.taDirectory, logger: config.logger)
            sc.pluginDirectory = config.pluginDirectory
            supplicant = try Supplicant(driver: driver, configuration: sc)
        } catch {
            driver.shutdown(); mediator.destroyGuest(id); space.removeRAM()
            throw StackError.supplicant(error)
        }
        _ = supplicant.start()
        return GuestStack(id: id, space: space, driver: driver, supplicant: supplicant)
    }

    /// Makes guest `id` use storage namespace `name` (its supplicant serves that namespace's
    /// directory): guests given one name share their TAs' stores.
    public func setStorageNamespace(_ id: GuestID, _ name: String?) {
        namespaces.names.withLock { $0[UInt64(id.raw) + 1] = name }
    }

    /// Shuts guest `g` down cleanly and reclaims everything it held.
    public func removeGuest(_ g: GuestStack) {
        g.shutdown()
        mediator.destroyGuest(g.id)
        g.space.removeRAM()
    }
}

/// Storage namespaces by client id, shared by the stack and its secure world's configuration.
final class NamespaceTable: Sendable {
    let names = Mutex<[UInt64: String]>([:])
}
