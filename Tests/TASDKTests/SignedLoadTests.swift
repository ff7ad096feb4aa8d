// LOAD_TA as OP-TEE does it: the guest's supplicant reads <ta dir>/<uuid>.ta, the secure world
// verifies the signature, digest and UUID against its configured key before anything of the TA
// is handed to the runner. Every refusal is TEE_ERROR_SECURITY (origin TEE) on open session and
// the runner never sees the image; built-in TAs keep working beside loaded ones.
import Dispatch
import Foundation
import Machine
import SecureWorld
import Synchronization
import SignedTA
import TAAPI
import TEEABI
import TEEClient
import Testing
import TrustedApps
import VTEEKit

/// Records what reached the runner seam (a stand-in for the TA process runner).
final class RunnerLog: Sendable {
    let elves = Mutex<[[UInt8]]>([])
    var count: Int { elves.withLock { $0.count } }

    /// A runner that records the ELF and serves the session with the built-in hello_world TA.
    var runner: @Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor {
        { [self] uuid, elf throws(TEEResult) in
            elves.withLock { $0.append(elf) }
            return TADescriptor(uuid: uuid, name: "loaded", make: BuiltinTAs.helloWorld.make)
        }
    }
}

/// One in-process machine with one guest whose supplicant loads TAs from `taDir`.
struct LoadingMachine {
    let stack: VTEEStack
    let guest: GuestStack
    let taDir: String
    let log = RunnerLog()

    init(key: TAVerificationKey? = try? TAVerificationKey.development, storageRoot: String? = nil, taDir: String? = nil,
         runner: (@Sendable (TEEUUID, [UInt8]) throws(TEEResult) -> TADescriptor)? = nil) throws {
        self.taDir = taDir ?? SDK.temporaryDirectory("tadir")
        var c = StackConfig()
        c.storageRoot = storageRoot ?? SDK.temporaryDirectory("storage")
        c.taDirectory = self.taDir
        c.taKey = key
        c.taRunner = runner ?? log.runner
        stack = try VTEEStack(config: c)
        guest = try stack.addGuest(GuestID(0))
    }

    func install(_ image: [UInt8], as uuid: TEEUUID) throws {
        try Data(image).write(to: URL(fileURLWithPath: "\(taDir)/\(uuid).ta"))
    }

    /// Opens a session and returns the error, nil on success (the session is then closed).
    func openError(_ uuid: TEEUUID) -> TEEError? {
        do {
            let s = try guest.context.openSession(uuid)
            s.close()
            return nil
        } catch { return error }
    }

    func shutdown() { stack.removeGuest(guest) }
}

@Suite(.serialized) struct SignedLoadTests {
    static let uuid = TEEUUID(octets: [0x5f, 0x8b, 0x97, 0xdf, 0x2d, 0x0d, 0x4a, 0xd2, 0x98, 0xd2, 0x74, 0xf4, 0x38, 0x9e, 0x5e, 0x11])
    static let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + (0..<6000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    @Test func aSignedImageLoadsThroughTheSupplicantAndOnlyItsELFReachesTheRunner() throws {
        let m = try LoadingMachine()
        defer { m.shutdown() }
        try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, key: .development), as: Self.uuid)
        let s = try m.guest.context.openSession(Self.uuid)
        var op = TEEOperation([.valueInout(a: 41, b: 0)])
        try s.invoke(HelloWorldTA.Command.increment.rawValue, &op)
        #expect(op[0].value.a == 42)
        s.close()
        #expect(m.log.elves.withLock { $0 } == [Self.elf])
        // A built-in TA keeps working beside the loaded one.
        let b = try m.guest.context.openSession(BuiltinTAs.helloWorld.uuid)
        b.close()
    }

    @Test func aLowerTAVersionThanOneAlreadyLoadedIsRefusedAsOPTEEsTaVerDbDoes() throws {
        let storage = SDK.temporaryDirectory("storage")
        var m = try LoadingMachine(storageRoot: storage)
        func install(_ v: UInt32) throws {
            try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, taVersion: v, key: .development), as: Self.uuid)
        }
        try install(2)
        #expect(m.openError(Self.uuid) == nil)
        // Version 1 after 2: rollback, ACCESS_CONFLICT with origin TEE, and nothing reaches the runner.
        try install(1)
        #expect(m.openError(Self.uuid) == TEEError(.accessConflict, origin: .tee))
        #expect(m.log.count == 1)
        // The same version loads again; a higher one loads and raises the floor.
        try install(2)
        #expect(m.openError(Self.uuid) == nil)
        try install(3)
        #expect(m.openError(Self.uuid) == nil)
        try install(2)
        #expect(m.openError(Self.uuid) == TEEError(.accessConflict, origin: .tee))
        #expect(m.log.count == 3)
        // The database is in secure storage: a restarted stack on the same storage still refuses.
        let dir = m.taDir
        m.shutdown()
        m = try LoadingMachine(storageRoot: storage, taDir: dir)
        defer { m.shutdown() }
        #expect(m.openError(Self.uuid) == TEEError(.accessConflict, origin: .tee))
        #expect(m.log.count == 0)
        try install(3)
        #expect(m.openError(Self.uuid) == nil)
    }

    @Test func anImageClaimingTheNilUUIDIsRefused() throws {
        // The nil UUID names the core's own store (ta_ver.db): no TA may claim it.
        let m = try LoadingMachine()
        defer { m.shutdown() }
        try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: .zero, key: .development), as: .zero)
        #expect(m.openError(.zero) == TEEError(.security, origin: .tee))
        #expect(m.log.count == 0)
    }

    @Test func anUnsignedELFIsRefusedWithSecurityAndNeverRuns() throws {
        let m = try LoadingMachine()
        defer { m.shutdown() }
        try m.install(Self.elf, as: Self.uuid)
        let e = m.openError(Self.uuid)
        #expect(e == TEEError(.security, origin: .tee))
        #expect(m.log.count == 0)
    }

    @Test func anImageSignedWithAnotherKeyIsRefused() throws {
        let m = try LoadingMachine()
        defer { m.shutdown() }
        let attacker = try TASigningKey.generate(bits: 4096)
        try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, key: attacker), as: Self.uuid)
        #expect(m.openError(Self.uuid) == TEEError(.security, origin: .tee))
        #expect(m.log.count == 0)
    }

    @Test func aFlippedByteAnywhereInTheELFIsRefused() throws {
        let m = try LoadingMachine()
        defer { m.shutdown() }
        let image = try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, key: .development)
        for offset in [584, 584 + 100, image.count - 1] {
            var bad = image
            bad[offset] ^= 0x01
            try m.install(bad, as: Self.uuid)
            #expect(m.openError(Self.uuid) == TEEError(.security, origin: .tee), "flip at \(offset)")
        }
        #expect(m.log.count == 0)
    }

    @Test func tamperingWithTheHeaderIsRefused() throws {
        let m = try LoadingMachine()
        defer { m.shutdown() }
        let image = try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, key: .development)
        var tampered: [[UInt8]] = []
        var v = image; v[580] ^= 0x01; tampered.append(v)                 // ta_version (rollback attempt)
        v = image; v[12] = 0x30; v[13] = 0x48; v[14] = 0x00; v[15] = 0x70; tampered.append(v)  // algo PSS -> PKCS1
        v = image; v[20] ^= 0x80; tampered.append(v)                      // stored digest
        v = image; v[100] ^= 0x01; tampered.append(v)                     // signature
        v = image; v[4] = 0; tampered.append(v)                           // img_type legacy
        v = image; v[0] = 0; tampered.append(v)                           // magic
        tampered.append(Array(image.dropLast()))                          // truncated
        tampered.append(image + [0])                                      // trailing byte
        for (i, bad) in tampered.enumerated() {
            try m.install(bad, as: Self.uuid)
            #expect(m.openError(Self.uuid) == TEEError(.security, origin: .tee), "case \(i)")
        }
        #expect(m.log.count == 0)
    }

    @Test func anImageSignedForAnotherUUIDCannotClaimThisOne() throws {
        let m = try LoadingMachine()
        defer { m.shutdown() }
        // A genuinely signed TA copied under a victim TA's UUID (to reach its secure storage).
        let other = try TEEUUID("3a1e5c7b-88d4-4b0c-9f1e-2c6b7d9a0e42")
        try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: other, key: .development), as: Self.uuid)
        #expect(m.openError(Self.uuid) == TEEError(.security, origin: .tee))
        #expect(m.log.count == 0)
    }

    @Test func aConfiguredKeyReplacesTheDevelopmentKey() throws {
        let own = try TASigningKey.generate(bits: 2048)
        let m = try LoadingMachine(key: own.verificationKey)
        defer { m.shutdown() }
        try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, key: .development), as: Self.uuid)
        #expect(m.openError(Self.uuid) == TEEError(.security, origin: .tee))
        try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: Self.uuid, key: own, algorithm: .pkcs1SHA256), as: Self.uuid)
        #expect(m.openError(Self.uuid) == nil)
        #expect(m.log.count == 1)
    }

    @Test func aMissingFileIsItemNotFound() throws {
        let m = try LoadingMachine()
        defer { m.shutdown() }
        #expect(m.openError(Self.uuid) == TEEError(.itemNotFound, origin: .tee))
    }

    @Test func theDevKitBuildOfACTALoadsAndItsStrippedELFReachesTheRunner() throws {
        let kit = try SDK.exportKit()
        let ta = try SDK.copyTA("hello_world")
        try SDK.make(ta, kit: kit)
        let m = try LoadingMachine()
        defer { m.shutdown() }
        try FileManager.default.copyItem(atPath: "\(ta)/\(Self.uuid).ta", toPath: "\(m.taDir)/\(Self.uuid).ta")
        #expect(m.openError(Self.uuid) == nil)
        #expect(m.log.elves.withLock { $0 } == [try SDK.bytes("\(ta)/\(Self.uuid).stripped.elf")])
    }

    @Test func aLegacyImageLoadsByTheUUIDOfItsSignedTAHeadAndCannotClaimAnother() throws {
        // OP-TEE's legacy images (img_type 0, older signers): no bootstrap header, the UUID is the
        // signed ELF's ta_head, and no ta_version (no rollback check).
        let kit = try SDK.exportKit()
        let ta = try SDK.copyTA("hello_world")
        try SDK.make(ta, kit: kit)
        let elf = try SDK.bytes("\(ta)/\(Self.uuid).stripped.elf")
        let legacy = try SignedTAImage.sign(elf: elf, uuid: .zero, key: .development, legacy: true)
        let h = try SignedTAHeader.parse(legacy)
        #expect(h.imageType == 0 && h.payloadOffset == 20 + 32 + 512)
        #expect(try SignedTAImage.verify(legacy, expecting: Self.uuid, key: .development).elf == elf)
        let m = try LoadingMachine()
        defer { m.shutdown() }
        try m.install(legacy, as: Self.uuid)
        #expect(m.openError(Self.uuid) == nil)
        #expect(m.log.elves.withLock { $0 } == [elf])
        // The same image under another UUID: its ta_head says otherwise.
        let victim = try TEEUUID("3a1e5c7b-88d4-4b0c-9f1e-2c6b7d9a0e42")
        try m.install(legacy, as: victim)
        #expect(m.openError(victim) == TEEError(.security, origin: .tee))
        // A flipped ELF byte, or an ELF without a .ta_head, is refused.
        var bad = legacy; bad[legacy.count - 100] ^= 1
        try m.install(bad, as: Self.uuid)
        #expect(m.openError(Self.uuid) == TEEError(.security, origin: .tee))
        try m.install(try SignedTAImage.sign(elf: Self.elf, uuid: .zero, key: .development, legacy: true), as: Self.uuid)
        #expect(m.openError(Self.uuid) == TEEError(.security, origin: .tee))
        #expect(throws: SignedTAError.noTAHead) {
            try SignedTAImage.verify(try SignedTAImage.sign(elf: Self.elf, uuid: .zero, key: .development, legacy: true),
                                     expecting: Self.uuid, key: .development)
        }
        #expect(m.log.count == 1)
    }
}

/// A single-instance, multi-session TA whose command holds the instance across RPCs (a storage
/// write through the guest's supplicant) and counts the calls it served.
final class SharedCounterTA: TrustedApplication {
    var served: UInt32 = 0
    func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
        do { try await context.storage.write(id: [1], data: [UInt8](repeating: UInt8(truncatingIfNeeded: served), count: 100), overwrite: true) }
        catch { return error }
        served &+= 1
        params.setValue(0, TAValue(a: served))
        return .success
    }
}

@Suite struct BusyInstanceTests {
    @Test func concurrentCallsOnASingleInstanceTAWaitTheirTurnThroughTheNormalWorldAndAllComplete() throws {
        // Eight threads of one guest call one instance whose every command suspends at FS RPCs:
        // each caller that finds it busy sleeps on its NOTIFICATION value in the guest's driver and
        // is woken by the release; every call completes, none is refused, the count is exact.
        let uuid = TEEUUID(octets: [0x5f, 0x8b, 0x97, 0xdf, 0x2d, 0x0d, 0x4a, 0xd2, 0x98, 0xd2, 0x74, 0xf4, 0x38, 0x9e, 0x5e, 0x12])
        let m = try LoadingMachine(runner: { u, _ throws(TEEResult) in
            TADescriptor(uuid: u, name: "shared", properties: TAProperties(singleInstance: true, multiSession: true, keepAlive: true)) {
                SharedCounterTA()
            }
        })
        defer { m.shutdown() }
        try m.install(try SignedTAImage.sign(elf: SignedLoadTests.elf, uuid: uuid, key: .development), as: uuid)
        let sessions = try (0..<8).map { _ in try m.guest.context.openSession(uuid) }
        let failures = Mutex<[String]>([])
        let seen = Mutex<[UInt32]>([])
        let group = DispatchGroup()
        for s in sessions {
            group.enter()
            Thread.detachNewThread {
                for _ in 0..<5 {
                    var op = TEEOperation([.valueOutput()])
                    do { try s.invoke(0, &op); seen.withLock { $0.append(op[0].value.a) } }
                    catch { failures.withLock { $0.append("\(error)") } }
                }
                group.leave()
            }
        }
        #expect(group.wait(timeout: .now() + 60) == .success, "the calls did not all finish within 60 s")
        for s in sessions { s.close() }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(seen.withLock { $0.sorted() } == Array(1...40))
    }
}
