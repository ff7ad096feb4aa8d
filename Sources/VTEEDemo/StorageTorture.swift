/// The crash test's writer (`vtee storage-torture`): a whole in-process machine that first checks
/// every object the previous run left (a SIGKILL may have stopped it anywhere), then overwrites
/// objects through secure_storage forever, one line on stdout per committed write.
///
/// Host side: it builds a stack on a storage root and a secure state directory and talks to the
/// secure_storage TA through TEEClient like any guest.
import Foundation
import Machine
import TEEABI
import VTEEKit
import TEEClient
import TrustedApps

/// How the torture writer runs.
public struct StorageTortureOptions: Sendable {
    /// Storage root of the machine (the guest's supplicant uses `<storage>/guest-0`).
    public var storage: String
    /// The secure world's device state.
    public var secureState: String
    /// Objects overwritten in turn.
    public var objects = 4
    /// Number of the first write; write w stores generation w into object w % objects.
    public var firstWrite: UInt64 = 1
    /// Writes before stopping on its own (0: until killed).
    public var writes = 0
    /// Options for `storage` and `secureState`.
    public init(storage: String, secureState: String) { self.storage = storage; self.secureState = secureState }
}

/// Object `i`'s content at generation `g`: g (8 bytes), i (4 bytes), then a pattern of a length
/// that varies with g (one to four 4 KiB blocks), so that a mix of two versions is visible.
public func tortureContent(object i: Int, generation g: UInt64) -> [UInt8] {
    let head = (0..<8).map { UInt8(truncatingIfNeeded: g >> (8 * UInt64($0))) } + (0..<4).map { UInt8(truncatingIfNeeded: i >> (8 * $0)) }
    let n = 1000 + Int(g &* 7919 % 14_000)
    return head + (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ Int(truncatingIfNeeded: g)) }
}

/// The generation stored in `data` when it is exactly object `i`'s content of that generation, else nil.
public func tortureGeneration(object i: Int, _ data: [UInt8]) -> UInt64? {
    guard data.count >= 12 else { return nil }
    let g = (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[$1]) << (8 * UInt64($1)) }
    return data == tortureContent(object: i, generation: g) ? g : nil
}

/// Runs the writer; `emit` gets "have <i> <g>", "none <i>" or "bad <i> <why>" per object, then
/// "ready", then "wrote <i> <g>" after each committed write.
public func runStorageTorture(_ o: StorageTortureOptions, emit: (String) -> Void) throws {
    var sc = StackConfig()
    sc.storageRoot = o.storage
    sc.secureStateDirectory = o.secureState
    sc.guestPages = 512
    let stack = try VTEEStack(config: sc)
    try stack.deviceState.lock()
    defer { stack.deviceState.unlock() }
    let guest = try stack.addGuest(GuestID(0))
    defer { stack.removeGuest(guest) }
    let s = try guest.context.openSession(SecureStorageTA.uuid)
    defer { s.close() }
    func id(_ i: Int) -> [UInt8] { Array("torture-\(i)".utf8) }
    for i in 0..<o.objects {
        var r = TEEOperation([.tempInput(id(i)), .tempOutput([UInt8](repeating: 0, count: 20_000))])
        do {
            try s.invoke(SecureStorageTA.Command.readRaw.rawValue, &r)
            let data = Array(r[1].buffer.prefix(r[1].size))
            if let g = tortureGeneration(object: i, data) { emit("have \(i) \(g)") } else { emit("bad \(i) mixed-or-foreign-content") }
        } catch let e as TEEError where e.result == .itemNotFound {
            emit("none \(i)")
        } catch {
            emit("bad \(i) \(error)")
        }
    }
    emit("ready")
    var w = o.firstWrite
    while o.writes == 0 || w < o.firstWrite + UInt64(o.writes) {
        let i = Int(w % UInt64(o.objects))
        var op = TEEOperation([.tempInput(id(i)), .tempInput(tortureContent(object: i, generation: w))])
        try s.invoke(SecureStorageTA.Command.writeRaw.rawValue, &op)
        emit("wrote \(i) \(w)")
        w += 1
    }
}
