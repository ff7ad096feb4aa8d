/// vtee.test: vtee's own test TA, exercising every service of the TA runtime.

import TAAPI
import TEEABI

/// vtee.test: one command per runtime service (each RPC kind, long runs with foreign
/// interrupts and cancellation, panics, notifications, storage, TA-to-TA) plus the two
/// commands the benchmark uses. Multi-instance (flags 0), so a NOTIFY_WAIT in one session
/// never blocks a NOTIFY_SEND in another. Unknown commands answer NOT_SUPPORTED; a param-type
/// mismatch answers BAD_PARAMETERS. Open session accepts any params.
public enum TestTA {
    /// 7e57c0de-0000-4000-8000-000000000001.
    public static let uuid = TEEUUID.teec(0x7E57_C0DE, 0x0000, 0x4000, [0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01])

    /// Command ids and their params.
    public enum Command: UInt32, Sendable, CaseIterable {
        /// 4 x VALUE_INOUT: each a += 1, b += 1 (wrapping). Nothing else (benchmark baseline).
        case nopValues = 0
        /// [0] VALUE_OUTPUT: REE time through RPC GET_TIME; a = seconds (low 32 bits), b = nanoseconds.
        case getTime = 1
        /// [0] VALUE_INPUT: a = size, b = type (0 application, 1 kernel). RPC SHM_ALLOC, write
        /// `TestTA.shmFill`, read back, RPC SHM_FREE; GENERIC when the bytes do not come back.
        case shmRoundTrip = 2
        /// [0] VALUE_INPUT: a = key. Waits on the notification key (RPC NOTIFICATION wait).
        case notifyWait = 3
        /// [0] VALUE_INPUT: a = key. Wakes a waiter on the key (RPC NOTIFICATION send).
        case notifySend = 4
        /// [0] VALUE_INPUT: a = milliseconds (RPC SUSPEND).
        case suspend = 5
        /// [0] VALUE_INOUT: in a = milliseconds of busy work, calling checkpoint() often;
        /// out b = number of checkpoints. CANCEL when the client cancels.
        case longRun = 6
        /// Any params: panics (TEE_Panic with code [0].a when [0] is a value).
        case panic = 7
        /// [0] VALUE_INPUT: a = object size (at most 1 MiB). Writes, reads back, deletes an object and checks
        /// it is gone; CORRUPT_OBJECT when the data does not round-trip.
        case storageRoundTrip = 8
        /// [0] VALUE_INOUT: opens a session on hello_world and increments a through it.
        case taToTA = 9
        /// [0] MEMREF_INOUT: reverses the bytes.
        case echoMemref = 10
        /// [0] MEMREF_INOUT: adds 1 to the first byte of every 4 KiB page of the buffer.
        case touchPages = 11
        /// [0] VALUE_OUTPUT: a = login method; [1] MEMREF_OUTPUT (16 bytes): the client UUID the
        /// secure world was given for this session (what the mediator or daemon decided).
        case clientIdentity = 12
        /// TA to TA with a memref, to any TA (Swift or C): [0] MEMREF_INPUT the target's UUID (16
        /// octets, RFC 4122 order), [1] VALUE_INOUT in a = command, out a = the target's result,
        /// [2] MEMREF_INOUT handed to the target as its [0] MEMREF_INOUT and copied back.
        case taToTAMemref = 13
        /// tee_invoke_supp_plugin through the supplicant: [0] VALUE_INOUT a = plugin cmd, b =
        /// sub_cmd (out b: bytes the plugin returned); [1] MEMREF_INOUT data (out: the plugin's
        /// output); [2] MEMREF_INPUT the plugin's UUID (16 octets). The plugin's result otherwise.
        case supplicantPlugin = 14
    }

    /// NOP_VALUES param types: VALUE_INOUT x4 (0x3333).
    public static let nopParamTypes = GPParamTypes(.valueInout, .valueInout, .valueInout, .valueInout)
    /// GET_TIME param types: VALUE_OUTPUT, NONE, NONE, NONE (0x0002).
    public static let timeParamTypes = GPParamTypes(.valueOutput)
    /// SHM_ROUNDTRIP, NOTIFY_WAIT, NOTIFY_SEND, SUSPEND, STORAGE_ROUNDTRIP: VALUE_INPUT, NONE... (0x0001).
    public static let valueInParamTypes = GPParamTypes(.valueInput)
    /// LONG_RUN and TA_TO_TA: VALUE_INOUT, NONE, NONE, NONE (0x0003).
    public static let valueInoutParamTypes = GPParamTypes(.valueInout)
    /// ECHO_MEMREF and TOUCH_PAGES: MEMREF_INOUT, NONE, NONE, NONE (0x0007).
    public static let memrefInoutParamTypes = GPParamTypes(.memrefInout)
    /// TA_TO_TA_MEMREF param types: MEMREF_INPUT, VALUE_INOUT, MEMREF_INOUT, NONE (0x0735).
    public static let taToTAMemrefParamTypes = GPParamTypes(.memrefInput, .valueInout, .memrefInout)
    /// CLIENT_IDENTITY param types: VALUE_OUTPUT, MEMREF_OUTPUT, NONE, NONE (0x0062).
    public static let identityParamTypes = GPParamTypes(.valueOutput, .memrefOutput)
    /// SUPP_PLUGIN param types: VALUE_INOUT, MEMREF_INOUT, MEMREF_INPUT, NONE (0x0573).
    public static let pluginParamTypes = GPParamTypes(.valueInout, .memrefInout, .memrefInput)
    /// The byte SHM_ROUNDTRIP writes into the RPC shared memory.
    public static let shmFill: UInt8 = 0x5A
    /// Page size TOUCH_PAGES walks by.
    public static let pageSize = 4096
    /// Object id STORAGE_ROUNDTRIP uses.
    /// Prefix of STORAGE_ROUND_TRIP's object id; 8 random bytes follow, so that concurrent
    /// sessions (of one guest or of many guests of one user) never touch each other's object.
    public static let storageObjectID: [UInt8] = Array("vtee.test.roundtrip".utf8)
    /// Largest object STORAGE_ROUNDTRIP writes (1 MiB); larger asks answer OUT_OF_MEMORY.
    public static let maximumStorageObjectSize = 1 << 20
    /// Panic code PANIC uses when [0] is not a value.
    public static let defaultPanicCode: UInt32 = 0x7E57_0001

    /// Reverses `bytes[0..<count]` in place (`count` is clamped to the array): whole words from
    /// each end per step through the array's span, bounds-checked, then the middle byte by byte.
    static func reverse(_ bytes: inout [UInt8], count: Int) {
        var span = bytes.mutableSpan
        var i = 0, j = Swift.max(0, Swift.min(count, span.count))
        do {
            var raw = span.mutableBytes
            // Bounds-checked loads of a plain integer type (every bit pattern valid), two words
            // from each end per step, then one.
            while j - i >= 32 {
                let f0 = raw.unsafeLoadUnaligned(fromByteOffset: i, as: UInt64.self)
                let f1 = raw.unsafeLoadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                let b0 = raw.unsafeLoadUnaligned(fromByteOffset: j - 8, as: UInt64.self)
                let b1 = raw.unsafeLoadUnaligned(fromByteOffset: j - 16, as: UInt64.self)
                raw.storeBytes(of: b0.byteSwapped, toByteOffset: i, as: UInt64.self)
                raw.storeBytes(of: b1.byteSwapped, toByteOffset: i + 8, as: UInt64.self)
                raw.storeBytes(of: f0.byteSwapped, toByteOffset: j - 8, as: UInt64.self)
                raw.storeBytes(of: f1.byteSwapped, toByteOffset: j - 16, as: UInt64.self)
                i += 16; j -= 16
            }
            while j - i >= 16 {
                let front = raw.unsafeLoadUnaligned(fromByteOffset: i, as: UInt64.self)
                let back = raw.unsafeLoadUnaligned(fromByteOffset: j - 8, as: UInt64.self)
                raw.storeBytes(of: back.byteSwapped, toByteOffset: i, as: UInt64.self)
                raw.storeBytes(of: front.byteSwapped, toByteOffset: j - 8, as: UInt64.self)
                i += 8; j -= 8
            }
        }
        j -= 1
        while i < j { span.swapAt(i, j); i += 1; j -= 1 }
    }

    /// The descriptor the secure world registers.
    public static let descriptor = TADescriptor(uuid: uuid, name: "vtee.test", properties: TAProperties()) {
        Instance()
    }

    /// One instance per session; stateless.
    final class Instance: TrustedApplication {
        /// Keeps LONG_RUN's busy work observable.
        private var sink: UInt64 = 0

        func invoke(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) async throws -> TEEResult {
            guard let cmd = Command(rawValue: command) else { return .notSupported }
            switch cmd {
            case .nopValues, .panic, .echoMemref, .clientIdentity, .touchPages:
                return try invokeSynchronously(command: command, params: &params, sessionState: sessionState, context: context)

            case .getTime:
                guard params.types == TestTA.timeParamTypes else { return .badParameters }
                do {
                    let t = try await context.reeTime()
                    params.setValue(0, TAValue(a: UInt32(truncatingIfNeeded: t.seconds), b: UInt32(truncatingIfNeeded: t.nanos)))
                    return .success
                } catch { return error }

            case .shmRoundTrip:
                guard params.types == TestTA.valueInParamTypes else { return .badParameters }
                let v = params.value(0)
                let type: RPCShmType
                switch v.b {
                case 0: type = .application
                case 1: type = .kernel
                default: return .badParameters
                }
                let size = Int(v.a)
                do {
                    let back = try await context.roundTripSharedMemory(size: size, type: type, fill: TestTA.shmFill)
                    guard back.count == size, back.allSatisfy({ $0 == TestTA.shmFill }) else { return .generic }
                    return .success
                } catch { return error }

            case .notifyWait, .notifySend, .suspend:
                guard params.types == TestTA.valueInParamTypes else { return .badParameters }
                let a = params.value(0).a
                do {
                    switch cmd {
                    case .notifyWait: try await context.waitNotification(key: a)
                    case .notifySend: try await context.sendNotification(key: a)
                    default: try await context.suspend(millis: a)
                    }
                    return .success
                } catch { return error }

            case .longRun:
                guard params.types == TestTA.valueInoutParamTypes else { return .badParameters }
                return await longRun(&params, context)

            case .storageRoundTrip:
                guard params.types == TestTA.valueInParamTypes else { return .badParameters }
                guard Int(params.value(0).a) <= TestTA.maximumStorageObjectSize else { return .outOfMemory }
                return await storageRoundTrip(size: Int(params.value(0).a), context.storage, id: TestTA.storageObjectID + context.random(8))

            case .taToTA:
                guard params.types == TestTA.valueInoutParamTypes else { return .badParameters }
                return await taToTA(&params, context)

            case .taToTAMemref:
                guard params.types == TestTA.taToTAMemrefParamTypes, let u = params.memref(0), u.size == 16,
                      let m = params.memref(2) else { return .badParameters }
                return await taToTAMemref(TEEUUID(octets: Array(u.bytes.prefix(16))), command: params.value(1).a, m, &params, context)

            case .supplicantPlugin:
                guard params.types == TestTA.pluginParamTypes, let data = params.memref(1), let id = params.memref(2),
                      id.size == 16, id.bytes.count >= 16 else { return .badParameters }
                let v = params.value(0)
                let input = Array(data.bytes.prefix(Swift.max(0, Swift.min(data.size, data.bytes.count))))
                do {
                    let out = try await context.invokeSupplicantPlugin(TEEUUID(octets: Array(id.bytes.prefix(16))), command: v.a,
                                                                       subCommand: v.b, data: input)
                    params.setValue(0, TAValue(a: v.a, b: UInt32(out.count)))
                    var back = data.bytes
                    back.replaceSubrange(0..<out.count, with: out)
                    params.setMemref(1, bytes: back, size: out.count)
                    return .success
                } catch { return error }
            }
        }

        /// Create, open and close do nothing (the defaults) and never suspend.
        var lifecycleRunsSynchronously: Bool { true }

        /// The commands that never suspend (and unknown ones): run on the secure thread with no
        /// executor hop (the benchmark's NOP and ECHO_MEMREF among them).
        func runsSynchronously(command: UInt32) -> Bool {
            guard let cmd = Command(rawValue: command) else { return true }
            switch cmd {
            case .nopValues, .panic, .echoMemref, .clientIdentity, .touchPages: return true
            default: return false
            }
        }

        func invokeSynchronously(command: UInt32, params: inout TAParams, sessionState: AnyObject?, context: any TAContext) throws -> TEEResult {
            guard let cmd = Command(rawValue: command) else { return .notSupported }
            switch cmd {
            case .nopValues:
                guard params.types == TestTA.nopParamTypes else { return .badParameters }
                for i in 0..<4 {
                    let v = params.value(i)
                    params.setValue(i, TAValue(a: v.a &+ 1, b: v.b &+ 1))
                }
                return .success

            case .panic:
                let code = params.types[0] == .valueInput || params.types[0] == .valueInout ? params.value(0).a : TestTA.defaultPanicCode
                throw TAPanic(code: code, "vtee.test PANIC command")

            case .echoMemref:
                guard params.types == TestTA.memrefInoutParamTypes, var m = takeMemref(&params, 0) else { return .badParameters }
                let n = m.isNull ? 0 : Swift.max(0, Swift.min(m.size, m.bytes.count))
                // Reversed in place in a local array (uniquely owned: no copy), eight bytes at a
                // time from each end (`Array.reverse` moves one byte per step).
                var bytes = m.bytes
                m.bytes = []
                TestTA.reverse(&bytes, count: n)
                m.bytes = bytes
                m.size = n
                params[0] = .memref(m)
                return .success

            case .clientIdentity:
                guard params.types == TestTA.identityParamTypes, let m = params.memref(1) else { return .badParameters }
                guard m.capacity >= 16 else { params.setMemrefSize(1, 16); return .shortBuffer }
                params.setValue(0, TAValue(a: context.client.login.rawValue, b: 0))
                params.setMemref(1, bytes: context.client.uuid.octets)
                return .success
            case .touchPages:
                guard params.types == TestTA.memrefInoutParamTypes, var m = takeMemref(&params, 0) else { return .badParameters }
                let n = m.isNull ? 0 : Swift.max(0, Swift.min(m.size, m.bytes.count))
                var offset = 0
                while offset < n {
                    m.bytes[offset] &+= 1
                    offset += TestTA.pageSize
                }
                m.size = n
                params[0] = .memref(m)
                return .success
            default:
                return .notSupported
            }
        }

        /// Moves memref i out of `params` (leaving NONE) so its buffer is uniquely owned and
        /// can be changed in place without a copy; nil when params[i] is not a memref.
        private func takeMemref(_ params: inout TAParams, _ i: Int) -> TAMemref? {
            guard let m = params.memref(i) else { return nil }
            params[i] = .none
            return m
        }

        /// Busy work for `a` milliseconds with a checkpoint every few microseconds of work.
        private func longRun(_ params: inout TAParams, _ context: any TAContext) async -> TEEResult {
            var v = params.value(0)
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .milliseconds(Int64(v.a)))
            var checkpoints: UInt32 = 0
            var acc: UInt64 = 0x9E37_79B9_7F4A_7C15
            var result = TEEResult.success
            repeat {
                // A little arithmetic the optimizer cannot drop, then a checkpoint.
                for i in 0..<256 { acc = (acc ^ UInt64(i)) &* 0x100_0000_01B3 }
                if context.isCancelled { result = .cancel; break }
                do { try await context.checkpoint() } catch { result = error; break }
                checkpoints &+= 1
                if context.isCancelled { result = .cancel; break }
            } while clock.now < deadline
            // One last checkpoint once the work is done, so a command longer than the tick yields
            // at least once even if the thread was descheduled for the whole run.
            if result == .success {
                do { try await context.checkpoint(); checkpoints &+= 1 } catch { result = error }
            }
            sink = acc
            v.b = checkpoints
            params.setValue(0, v)
            return result
        }

        private func storageRoundTrip(size: Int, _ storage: any TAStorage, id: [UInt8]) async -> TEEResult {
            let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
            do {
                try await storage.write(id: id, data: data, overwrite: true)
                let back = try await storage.read(id: id)
                guard back == data else {
                    try? await storage.delete(id: id)
                    return .corruptObject
                }
                try await storage.delete(id: id)
            } catch {
                return error
            }
            do {
                _ = try await storage.read(id: id)
                return .corruptObject  // still there after delete
            } catch {
                return error == .itemNotFound ? .success : error
            }
        }

        private func taToTAMemref(_ target: TEEUUID, command: UInt32, _ m: TAMemref, _ params: inout TAParams,
                                  _ context: any TAContext) async -> TEEResult {
            var open = TAParams.empty
            let session: TASessionHandle
            do { session = try await context.openSession(ta: target, params: &open) } catch { return error }
            var inner = TAParams(types: GPParamTypes(.memrefInout), .memref(m))
            var result = TEEResult.success
            do { try await context.invoke(session, command: command, params: &inner) } catch { result = error }
            await context.closeSession(session)
            if let back = inner.memref(0) { params[2] = .memref(back) }
            params.setValue(1, TAValue(a: result.rawValue, b: params.value(1).b))
            return .success
        }

        private func taToTA(_ params: inout TAParams, _ context: any TAContext) async -> TEEResult {
            var open = TAParams.empty
            let session: TASessionHandle
            do { session = try await context.openSession(ta: HelloWorldTA.uuid, params: &open) } catch { return error }
            var inner = TAParams(types: HelloWorldTA.paramTypes, params: [.value(params.value(0))])
            var result = TEEResult.success
            do {
                try await context.invoke(session, command: HelloWorldTA.Command.increment.rawValue, params: &inner)
                var v = params.value(0)
                v.a = inner.value(0).a
                params.setValue(0, v)
            } catch {
                result = error
            }
            await context.closeSession(session)
            return result
        }
    }
}
