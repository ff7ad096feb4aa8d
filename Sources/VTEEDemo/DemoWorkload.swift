/// The steps one demo guest runs, each named `<ta>.<action>` and checked against the
/// behaviour the optee_examples clients expect.
import VTEEKit
import Dispatch
import Foundation
import TEEABI
import TEEClient
import TrustedApps

/// A failed check inside a step.
struct StepFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// One guest's scripted workload.
struct DemoWorkload {
    /// The TA groups a workload can be limited to.
    static let groups = ["hello_world", "random", "secure_storage", "hotp", "aes", "rpc"]

    let context: TEEContext
    let log: LatencyLog
    /// Makes this run's object names its own: guests of one user share their TAs' storage, and
    /// concurrent runs must not read, overwrite or delete each other's objects.
    let runTag: String = "\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)

    /// The RFC 4226 HOTP values for counters 0...9 with key "12345678901234567890".
    static let hotpVectors: [UInt32] = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489]

    /// Runs every step in order (only those of TA group `only` when given); a step that fails
    /// does not stop the others.
    func run(only: String? = nil) -> [DemoStep] {
        var steps: [DemoStep] = []
        func step(_ name: String, _ body: () throws -> String) {
            if let only, !name.hasPrefix(only + ".") { return }
            do { steps.append(DemoStep(name: name, ok: true, detail: try body())) }
            catch { steps.append(DemoStep(name: name, ok: false, detail: "\(error)")) }
        }
        step("hello_world.increment") { try helloWorld(.increment, 42, expect: 43) }
        step("hello_world.decrement") { try helloWorld(.decrement, 43, expect: 42) }
        step("random.generate") { try random() }
        step("secure_storage.write") { try storageWrite() }
        step("secure_storage.read") { try storageRead() }
        step("secure_storage.delete") { try storageDelete() }
        step("secure_storage.persist") { try storagePersist() }
        step("hotp.rfc4226") { try hotp() }
        step("aes.ctr_roundtrip") { try aesRoundTrip(.ctr) }
        step("aes.cbc_roundtrip") { try aesRoundTrip(.cbc) }
        step("aes.gcm_roundtrip") { try aesGCM() }
        step("rpc.get_time") { try rpcGetTime() }
        step("rpc.shm_alloc") { try rpcSharedMemory() }
        step("rpc.notification") { try rpcNotification() }
        step("rpc.suspend") { try rpcSuspend() }
        step("rpc.foreign_intr") { try rpcForeignInterrupt() }
        step("rpc.fs") { try rpcStorage() }
        return steps
    }

    // MARK: helpers

    private func open(_ uuid: TEEUUID) throws(TEEError) -> TEESession { try log.time { () throws(TEEError) in try context.openSession(uuid) } }
    private func invoke(_ s: TEESession, _ cmd: UInt32, _ op: inout TEEOperation) throws(TEEError) {
        try log.time { () throws(TEEError) in try s.invoke(cmd, &op) }
    }

    // MARK: steps

    private func helloWorld(_ c: HelloWorldTA.Command, _ v: UInt32, expect: UInt32) throws -> String {
        let s = try open(HelloWorldTA.uuid); defer { s.close() }
        var op = TEEOperation([.valueInout(a: v, b: 0)])
        try invoke(s, c.rawValue, &op)
        guard op.params[0].value.a == expect else { throw StepFailure("got \(op.params[0].value.a), want \(expect)") }
        return "\(v) -> \(expect)"
    }

    private func random() throws -> String {
        let s = try open(RandomTA.uuid); defer { s.close() }
        var a = TEEOperation([.tempOutput([UInt8](repeating: 0, count: 16))])
        var b = TEEOperation([.tempOutput([UInt8](repeating: 0, count: 16))])
        try invoke(s, RandomTA.Command.generate.rawValue, &a)
        try invoke(s, RandomTA.Command.generate.rawValue, &b)
        guard a.params[0].buffer.count == 16, a.params[0].buffer != b.params[0].buffer else { throw StepFailure("random bytes repeat") }
        return "16 bytes " + a.params[0].buffer.prefix(4).map { String(format: "%02x", $0) }.joined() + "..."
    }

    private var object1: [UInt8] { Array("object#1.\(runTag)".utf8) }
    private var object2: [UInt8] { Array("object#2.\(runTag)".utf8) }
    private static let runCounter = Array("vtee.demo.runs".utf8)

    private func storageWrite() throws -> String {
        let s = try open(SecureStorageTA.uuid); defer { s.close() }
        var op = TEEOperation([.tempInput(object1), .tempInput([UInt8](repeating: 0xA1, count: 7000))])
        try invoke(s, SecureStorageTA.Command.writeRaw.rawValue, &op)
        return "object#1, 7000 bytes"
    }

    private func storageRead() throws -> String {
        let s = try open(SecureStorageTA.uuid); defer { s.close() }
        var op = TEEOperation([.tempInput(object1), .tempOutput([UInt8](repeating: 0, count: 7000))])
        try invoke(s, SecureStorageTA.Command.readRaw.rawValue, &op)
        guard op.params[1].size == 7000, op.params[1].buffer.allSatisfy({ $0 == 0xA1 }) else { throw StepFailure("object#1 read back differs") }
        var absent = TEEOperation([.tempInput(object2), .tempOutput([UInt8](repeating: 0, count: 16))])
        do { try invoke(s, SecureStorageTA.Command.readRaw.rawValue, &absent); throw StepFailure("object#2 should be absent") }
        catch let e as TEEError where e.result == .itemNotFound {}
        return "7000 bytes match; absent object -> ITEM_NOT_FOUND"
    }

    private func storageDelete() throws -> String {
        let s = try open(SecureStorageTA.uuid); defer { s.close() }
        var op = TEEOperation([.tempInput(object1)])
        try invoke(s, SecureStorageTA.Command.delete.rawValue, &op)
        var again = TEEOperation([.tempInput(object1), .tempOutput([UInt8](repeating: 0, count: 16))])
        do { try invoke(s, SecureStorageTA.Command.readRaw.rawValue, &again); throw StepFailure("object#1 still there") }
        catch let e as TEEError where e.result == .itemNotFound {}
        return "deleted; read -> ITEM_NOT_FOUND"
    }

    /// Counts demo runs in an object that outlives the process: the second run on the same
    /// storage directory finds what the first stored.
    private func storagePersist() throws -> String {
        let s = try open(SecureStorageTA.uuid); defer { s.close() }
        var read = TEEOperation([.tempInput(Self.runCounter), .tempOutput([UInt8](repeating: 0, count: 4))])
        var runs: UInt32 = 0
        do {
            try invoke(s, SecureStorageTA.Command.readRaw.rawValue, &read)
            let b = read.params[1].buffer
            guard read.params[1].size == 4, b.count >= 4 else { throw StepFailure("run counter has \(read.params[1].size) bytes") }
            runs = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        } catch let e as TEEError where e.result == .itemNotFound {}
        runs &+= 1
        var write = TEEOperation([.tempInput(Self.runCounter),
                                  .tempInput([UInt8(runs & 0xFF), UInt8((runs >> 8) & 0xFF), UInt8((runs >> 16) & 0xFF), UInt8(runs >> 24)])])
        try invoke(s, SecureStorageTA.Command.writeRaw.rawValue, &write)
        return runs == 1 ? "first run on this storage" : "run \(runs) on this storage (found run \(runs - 1))"
    }

    private func hotp() throws -> String {
        let s = try open(HOTPTA.uuid); defer { s.close() }
        var reg = TEEOperation([.tempInput(Array("12345678901234567890".utf8))])
        try invoke(s, HOTPTA.Command.registerSharedKey.rawValue, &reg)
        for (i, want) in Self.hotpVectors.enumerated() {
            var op = TEEOperation([.valueOutput()])
            try invoke(s, HOTPTA.Command.getHOTP.rawValue, &op)
            guard op.params[0].value.a == want else { throw StepFailure("counter \(i): got \(op.params[0].value.a), want \(want)") }
        }
        return "10 RFC 4226 values match"
    }

    private func aesPrepare(_ s: TEESession, _ algo: AESTA.Algorithm, encrypt: Bool) throws {
        var prep = TEEOperation([.valueInput(a: algo.rawValue, b: 0), .valueInput(a: 16, b: 0), .valueInput(a: encrypt ? 1 : 0, b: 0)])
        try invoke(s, AESTA.Command.prepare.rawValue, &prep)
        var key = TEEOperation([.tempInput([UInt8](repeating: 0xA5, count: 16))])
        try invoke(s, AESTA.Command.setKey.rawValue, &key)
        var iv = TEEOperation([.tempInput([UInt8](repeating: 0, count: 16))])
        try invoke(s, AESTA.Command.setIV.rawValue, &iv)
    }

    private func aesRoundTrip(_ algo: AESTA.Algorithm) throws -> String {
        let clear = [UInt8](repeating: 0x5A, count: 4096)
        let enc = try open(AESTA.uuid); defer { enc.close() }
        try aesPrepare(enc, algo, encrypt: true)
        var c = TEEOperation([.tempInput(clear), .tempOutput([UInt8](repeating: 0, count: 4096))])
        try invoke(enc, AESTA.Command.cipher.rawValue, &c)
        let cipher = c.params[1].buffer
        guard cipher.count == 4096, cipher != clear else { throw StepFailure("ciphertext equals clear text") }
        let dec = try open(AESTA.uuid); defer { dec.close() }
        try aesPrepare(dec, algo, encrypt: false)
        var d = TEEOperation([.tempInput(cipher), .tempOutput([UInt8](repeating: 0, count: 4096))])
        try invoke(dec, AESTA.Command.cipher.rawValue, &d)
        guard d.params[1].buffer == clear else { throw StepFailure("decoded text differs") }
        return "4096 bytes: clear text and decoded text match"
    }

    private func aesGCM() throws -> String {
        let clear = Array("vtee: authenticated encryption through the mediator".utf8)
        let enc = try open(AESTA.uuid); defer { enc.close() }
        var prep = TEEOperation([.valueInput(a: AESTA.Algorithm.gcm.rawValue, b: 0), .valueInput(a: 16, b: 0), .valueInput(a: 1, b: 0)])
        try invoke(enc, AESTA.Command.prepare.rawValue, &prep)
        var key = TEEOperation([.tempInput([UInt8](repeating: 0xA5, count: 16))])
        try invoke(enc, AESTA.Command.setKey.rawValue, &key)
        var e = TEEOperation([.tempInput(clear), .tempOutput([UInt8](repeating: 0, count: clear.count)), .valueInput(a: 1, b: 0),
                              .tempInout([UInt8](repeating: 0, count: 16))])
        try invoke(enc, AESTA.Command.authenc.rawValue, &e)
        let cipher = e.params[1].buffer, tag = e.params[3].buffer
        let dec = try open(AESTA.uuid); defer { dec.close() }
        var prep2 = TEEOperation([.valueInput(a: AESTA.Algorithm.gcm.rawValue, b: 0), .valueInput(a: 16, b: 0), .valueInput(a: 0, b: 0)])
        try invoke(dec, AESTA.Command.prepare.rawValue, &prep2)
        try invoke(dec, AESTA.Command.setKey.rawValue, &key)
        var d = TEEOperation([.tempInput(cipher), .tempOutput([UInt8](repeating: 0, count: cipher.count)), .valueInput(a: 0, b: 0), .tempInout(tag)])
        try invoke(dec, AESTA.Command.authenc.rawValue, &d)
        guard d.params[1].buffer == clear else { throw StepFailure("GCM round trip differs") }
        var tampered = tag; tampered[0] ^= 1
        var bad = TEEOperation([.tempInput(cipher), .tempOutput([UInt8](repeating: 0, count: cipher.count)), .valueInput(a: 0, b: 0), .tempInout(tampered)])
        do { try invoke(dec, AESTA.Command.authenc.rawValue, &bad); throw StepFailure("tampered tag accepted") }
        catch let err as TEEError where err.result == .macInvalid {}
        return "\(clear.count) bytes round trip; tampered tag -> MAC_INVALID"
    }

    private func rpcGetTime() throws -> String {
        let s = try open(TestTA.uuid); defer { s.close() }
        var op = TEEOperation([.valueOutput()])
        try invoke(s, TestTA.Command.getTime.rawValue, &op)
        guard op.params[0].value.a > 0 else { throw StepFailure("REE time is zero") }
        return "REE time \(op.params[0].value.a) s"
    }

    private func rpcSharedMemory() throws -> String {
        let s = try open(TestTA.uuid); defer { s.close() }
        for (type, size) in [(UInt32(0), UInt32(3 * 4096 + 100)), (1, 64)] {
            var op = TEEOperation([.valueInput(a: size, b: type)])
            try invoke(s, TestTA.Command.shmRoundTrip.rawValue, &op)
        }
        return "application (12.1 KiB) and kernel shm allocated, filled, freed"
    }

    private func rpcNotification() throws -> String {
        let waiter = try open(TestTA.uuid); defer { waiter.close() }
        let sender = try open(TestTA.uuid); defer { sender.close() }
        let key: UInt32 = 7
        let done = DispatchSemaphore(value: 0)
        let outcome = NotificationOutcome()
        Thread {
            var op = TEEOperation([.valueInput(a: key, b: 0)])
            do { try waiter.invoke(TestTA.Command.notifyWait.rawValue, &op); outcome.set(nil) } catch { outcome.set("\(error)") }
            done.signal()
        }.start()
        // Send until the waiter is woken (a send before the wait is lost, as OP-TEE's is).
        for _ in 0..<400 {
            var op = TEEOperation([.valueInput(a: key, b: 0)])
            try invoke(sender, TestTA.Command.notifySend.rawValue, &op)
            if done.wait(timeout: .now() + .milliseconds(10)) == .success {
                if let e = outcome.error { throw StepFailure("waiter: \(e)") }
                return "waiter on key \(key) woken by another session"
            }
        }
        throw StepFailure("waiter never woke")
    }

    private func rpcSuspend() throws -> String {
        let s = try open(TestTA.uuid); defer { s.close() }
        var op = TEEOperation([.valueInput(a: 2, b: 0)])
        try invoke(s, TestTA.Command.suspend.rawValue, &op)
        return "suspended 2 ms"
    }

    private func rpcForeignInterrupt() throws -> String {
        let s = try open(TestTA.uuid); defer { s.close() }
        var op = TEEOperation([.valueInout(a: 20, b: 0)])
        try invoke(s, TestTA.Command.longRun.rawValue, &op)
        return "20 ms command, \(op.params[0].value.b) checkpoints"
    }

    private func rpcStorage() throws -> String {
        let s = try open(TestTA.uuid); defer { s.close() }
        var op = TEEOperation([.valueInput(a: 10_000, b: 0)])
        try invoke(s, TestTA.Command.storageRoundTrip.rawValue, &op)
        return "10000-byte object written, read, deleted"
    }
}

/// The notification waiter's outcome, set from its thread.
final class NotificationOutcome: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var err: String?
    func set(_ e: String?) { lock.withLock { err = e } }
    var error: String? { lock.withLock { err } }
}
