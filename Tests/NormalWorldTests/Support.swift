// Shared helpers of the NormalWorld, TEEClient and Supplicant tests: temporary directories,
// a plain conduit to the secure world (no hypervisor), and a whole normal-world stack.
import Foundation
import Machine
import NormalWorld
import SecureWorld
import Supplicant
import TEEABI
import TEEClient
import TrustedApps

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory(_ tag: String = "vtee-normal") -> String {
    var base = NSTemporaryDirectory()
    while base.hasSuffix("/") { base.removeLast() }
    let p = base + "/\(tag)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// A guest trapping straight into the secure world (no platform, no mediator): IPA == PA.
struct DirectConduit: Conduit {
    let sw: SecureWorld
    func trap(_ frame: RegisterFrame, vcpu: Int) -> RegisterFrame { sw.smc(frame) }
}

/// A conduit that records which vCPU each trap came from, then forwards.
final class RecordingConduit: Conduit, Sendable {
    let inner: any Conduit
    let vcpus = Mutex<Set<Int>>([])
    init(_ inner: any Conduit) { self.inner = inner }
    func trap(_ frame: RegisterFrame, vcpu: Int) -> RegisterFrame {
        vcpus.withLock { _ = $0.insert(vcpu) }
        return inner.trap(frame, vcpu: vcpu)
    }
}

import Synchronization

/// One in-process machine: physical memory, the secure world with the built-in TAs, one guest
/// (identity layout), its driver, a supplicant on `storage`, and a TEEClient context.
final class Stack: Sendable {
    let memory: PhysicalMemory
    let secure: SecureWorld
    let space: GuestAddressSpace
    let driver: OPTEEDriver
    let supplicant: Supplicant
    let context: TEEContext
    let storage: String

    init(storage: String? = nil, taDirectory: String? = nil, threads: Int = 8, vcpus: Int = 2, pages: Int = 2048,
         interruptTick: Duration? = nil, supplicantThreads: Int = 2,
         loadTA: (@Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor)? = nil,
         useRPCArg: Bool = true, startSupplicant: Bool = true,
         driverConfig: ((inout DriverConfiguration) -> Void)? = nil,
         willServe: (@Sendable (SupplicantRequest) -> Void)? = nil,
         conduit wrap: ((any Conduit) -> any Conduit)? = nil,
         device: (any SecureDeviceState)? = nil) throws {
        memory = PhysicalMemory()
        var swc = SecureWorldConfig(threadsPerVM: threads, virtualization: false, interruptTick: interruptTick, loadTA: loadTA)
        if let device { swc.storage.device = device }
        secure = SecureWorld(memory: memory, config: swc, tas: BuiltinTAs.all)
        space = try GuestAddressSpace(memory: memory, id: GuestID(0), pages: pages, layout: .identity)
        var cfg = DriverConfiguration(vcpus: vcpus, threadWait: 20, notificationWait: 5, supplicantWait: 5,
                                      supplicantAbsentWait: 0.2, useRPCArg: useRPCArg)
        driverConfig?(&cfg)
        let base: any Conduit = DirectConduit(sw: secure)
        driver = try OPTEEDriver(space: space, conduit: wrap?(base) ?? base, configuration: cfg)
        self.storage = storage ?? temporaryDirectory("vtee-storage")
        supplicant = try Supplicant(driver: driver, configuration: SupplicantConfiguration(
            storageDirectory: self.storage, taDirectory: taDirectory, threads: supplicantThreads, pollInterval: 0.02, willServe: willServe))
        if startSupplicant { supplicant.start() }
        context = TEEContext(driver: driver)
    }

    /// Tears everything down (sessions, supplicant, driver).
    func shutdown() {
        context.finalize()
        supplicant.stop()
        driver.shutdown()
    }
}

/// Runs `body(i)` on `n` real threads at once; false when they did not all finish within `seconds`.
func runOnThreads(_ n: Int, seconds: Double = 60, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        Thread.detachNewThread { body(i); group.leave() }
    }
    return group.wait(timeout: .now() + .milliseconds(Int(seconds * 1000))) == .success
}

/// Polls `condition` (a few quick looks, then 1 ms blocked between looks) for at most `seconds` (a safety bound, not
/// a timing assumption); true once it holds.
@discardableResult
func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    let tick = DispatchSemaphore(value: 0)
    var looks = 0
    while !condition() {
        if Date() > deadline { return false }
        looks += 1   // a few quick looks, then block 1 ms per look instead of spinning the CPU away
        if looks < 64 { sched_yield() } else { _ = tick.wait(timeout: .now() + .milliseconds(1)) }
    }
    return true
}
