// GP persistent objects of C TAs, over the TA API's `TAStorage` (the store the built-in TAs
// use): each object is one stored blob (header, the TA's serialized attributes, the data
// stream). Handles, positions and GP's sharing rules (ACCESS_CONFLICT) live here, in the secure
// world, so they hold across every instance (process) of a TA. Secure world.
import TAAPI
import TACrypto
import Synchronization
import TAChannel
import TEEABI

/// An object's stored form: header fields, the attribute blob (opaque here) and the data.
struct StoredObject {
    var type: UInt32 = 0xA000_00BF
    var objectSize: UInt32 = 0
    var maxObjectSize: UInt32 = 0
    var usage: UInt32 = 0xFFFF_FFFF
    var attributes: [UInt8] = []
    var data: [UInt8] = []

    static let magic: [UInt8] = Array("VTO1".utf8)

    func encoded() -> [UInt8] {
        var out = Self.magic
        for w in [type, objectSize, maxObjectSize, usage, UInt32(attributes.count)] {
            out += [UInt8(w & 0xFF), UInt8(w >> 8 & 0xFF), UInt8(w >> 16 & 0xFF), UInt8(w >> 24)]
        }
        return out + attributes + data
    }

    /// Decodes a blob; CORRUPT_OBJECT for anything else.
    init(decoding b: [UInt8]) throws(TEEResult) {
        guard b.count >= 24, Array(b[0..<4]) == Self.magic else { throw .corruptObject }
        func w(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[4 + 4 * i + $1]) << (8 * UInt32($1)) } }
        type = w(0); objectSize = w(1); maxObjectSize = w(2); usage = w(3)
        let alen = Int(w(4))
        guard alen <= b.count - 24 else { throw .corruptObject }
        attributes = Array(b[24..<(24 + alen)])
        data = Array(b[(24 + alen)...])
    }

    init() {}
}

/// Open handles of every C TA's objects, for GP's sharing rules.
final class ObjectRegistry: Sendable {
    struct Key: Hashable { var ta: TEEUUID; var id: [UInt8] }
    private struct State { var open: [Key: [UInt32: UInt32]] = [:]; var next: UInt32 = 1 }
    private let state = Mutex(State())

    /// OP-TEE's rule: WRITE_META is exclusive; reading (writing) by any handle needs every handle to share reading (writing).
    static func compatible(_ o: UInt32, _ n: UInt32) -> Bool {
        if (o | n) & 0x4 != 0 { return false }
        if (o | n) & 0x1 != 0 && !(o & 0x10 != 0 && n & 0x10 != 0) { return false }
        if (o | n) & 0x2 != 0 && !(o & 0x20 != 0 && n & 0x20 != 0) { return false }
        return true
    }

    /// Registers a handle with `flags` on `key`; ACCESS_CONFLICT when an open handle forbids it
    /// (or, with `exclusive`, when any handle is open).
    func open(_ key: Key, flags: UInt32, exclusive: Bool) throws(TEEResult) -> UInt32 {
        let r: UInt32? = state.withLock { s in
            let existing = s.open[key] ?? [:]
            if exclusive && !existing.isEmpty { return nil }
            for (_, o) in existing where !Self.compatible(o, flags) { return nil }
            let h = s.next
            s.next = s.next &+ 1 == 0 ? 1 : s.next &+ 1
            s.open[key, default: [:]][h] = flags
            return h
        }
        guard let r else { throw .accessConflict }
        return r
    }

    /// Whether any handle is open on `key`.
    func isOpen(_ key: Key) -> Bool { state.withLock { !($0.open[key]?.isEmpty ?? true) } }

    /// Drops handle `h` of `key`.
    func close(_ key: Key, _ h: UInt32) {
        state.withLock { s in
            s.open[key]?[h] = nil
            if s.open[key]?.isEmpty ?? false { s.open[key] = nil }
        }
    }

    /// Moves handle `h` from `from` to `to` (rename).
    func move(_ h: UInt32, from: Key, to: Key) {
        state.withLock { s in
            guard let f = s.open[from]?[h] else { return }
            s.open[from]?[h] = nil
            if s.open[from]?.isEmpty ?? false { s.open[from] = nil }
            s.open[to, default: [:]][h] = f
        }
    }

    /// Drops every handle in `handles` (an instance ended).
    func closeAll(_ handles: [(UInt32, [UInt8])], ta: TEEUUID) {
        for (h, id) in handles { close(Key(ta: ta, id: id), h) }
    }
}

/// The persistent-object handles one TA instance holds.
struct ObjectHandles {
    struct Handle { var id: [UInt8]; var flags: UInt32; var position: UInt64 }
    var open: [UInt32: Handle] = [:]
    var all: [(UInt32, [UInt8])] { open.map { ($0.key, $0.value.id) } }
}

extension ProcessTA {
    private static let maxPosition: UInt64 = 0xFFFF_FFFF

    /// Serves the OBJ_* requests (encodings in libvteeta's storage.c).
    func storage(_ p: TAProcess, _ req: Int, context: any TAContext) async {
        do {
            try await storageOp(p, req, store: context.storage)
        } catch {
            reply(p, error)
        }
    }

    private func key(_ id: [UInt8]) -> ObjectRegistry.Key { ObjectRegistry.Key(ta: uuid, id: id) }

    private func handle(_ p: TAProcess) throws(TEEResult) -> (UInt32, ObjectHandles.Handle) {
        let h = UInt32(truncatingIfNeeded: arg(p, 0))
        guard let o = handles.open[h] else { throw .badParameters }
        return (h, o)
    }

    private func load(_ store: any TAStorage, _ id: [UInt8]) async throws(TEEResult) -> StoredObject {
        let blob = try await store.read(id: id)
        return try StoredObject(decoding: blob)
    }

    private func info(_ p: TAProcess, _ o: StoredObject) {
        setArg(p, 1, UInt64(o.type)); setArg(p, 2, UInt64(o.objectSize)); setArg(p, 3, UInt64(o.maxObjectSize))
        setArg(p, 4, UInt64(o.usage)); setArg(p, 6, UInt64(o.data.count))
    }

    private func storageOp(_ p: TAProcess, _ req: Int, store: any TAStorage) async throws(TEEResult) {
        switch req {
        case VTEE_REQ_OBJ_OPEN:
            guard let id = requestBytes(p, count: arg(p, 0)), id.count <= 64 else { throw .badParameters }
            let flags = UInt32(truncatingIfNeeded: arg(p, 1))
            let o = try await load(store, id)
            let h = try runner.objects.open(key(id), flags: flags, exclusive: false)
            // The key's attributes go to the instance's crypto state, not to the TA: it gets a handle.
            let keyHandle: UInt32
            do {
                let attrs = try TAAttribute.decode(o.attributes)
                keyHandle = try cryptoState.adopt(CryptoObject(stored: o.type, size: o.objectSize, maxSize: o.maxObjectSize,
                                                         usage: o.usage, attributes: attrs))
            } catch {
                runner.objects.close(key(id), h)
                throw error == .outOfMemory ? .outOfMemory : .corruptObject
            }
            handles.open[h] = .init(id: id, flags: flags, position: 0)
            setArg(p, 0, UInt64(h)); info(p, o); setArg(p, 5, UInt64(keyHandle))
        case VTEE_REQ_OBJ_CREATE:
            // arg 2: the crypto object whose key the new object takes (0: a pure data object).
            let idLen = arg(p, 0), source = UInt32(truncatingIfNeeded: arg(p, 2)), dlen = arg(p, 3)
            guard idLen <= 64, dlen <= UInt64(Int32.max),
                  let id = requestBytes(p, count: idLen),
                  let data = requestBytes(p, offset: Int(idLen), count: dlen) else { throw .badParameters }
            let flags = UInt32(truncatingIfNeeded: arg(p, 1))
            var o = StoredObject()
            var keyObject = CryptoObject(stored: o.type, size: 0, maxSize: 0, usage: o.usage, attributes: [])
            if source != 0 {
                guard let src = try? cryptoState.object(source), src.initialized else { throw .badParameters }
                keyObject = src
                o.type = src.type; o.objectSize = src.size; o.maxObjectSize = src.maxSize; o.usage = src.usage
                o.attributes = TAAttribute.encode(src.attributes)
            }
            o.data = data
            let k = key(id)
            // Creating over an open object conflicts, with or without OVERWRITE (as OP-TEE).
            let h = try runner.objects.open(k, flags: flags, exclusive: true)
            do { try await store.write(id: id, data: o.encoded(), overwrite: flags & 0x400 != 0) } catch {
                runner.objects.close(k, h); throw error
            }
            guard let keyHandle = try? cryptoState.adopt(keyObject) else { runner.objects.close(k, h); throw .outOfMemory }
            handles.open[h] = .init(id: id, flags: flags, position: 0)
            setArg(p, 0, UInt64(h)); setArg(p, 1, UInt64(keyHandle))
        case VTEE_REQ_OBJ_CLOSE:
            let (h, o) = try handle(p)
            handles.open[h] = nil
            runner.objects.close(key(o.id), h)
        case VTEE_REQ_OBJ_READ:
            let (h, hd) = try handle(p)
            let o = try await load(store, hd.id)
            let want = min(arg(p, 1), UInt64(p.requestArea.count))
            let start = min(hd.position, UInt64(o.data.count))
            let n = min(want, UInt64(o.data.count) - start)
            writeRequestBytes(p, Array(o.data[Int(start)..<Int(start + n)]))
            handles.open[h]?.position = start + n
            setArg(p, 1, n)
        case VTEE_REQ_OBJ_WRITE:
            let (h, hd) = try handle(p)
            guard let bytes = requestBytes(p, count: arg(p, 1)) else { throw .badParameters }
            guard hd.position + UInt64(bytes.count) <= Self.maxPosition else { throw .overflow }
            var o = try await load(store, hd.id)
            let pos = Int(hd.position)
            if o.data.count < pos + bytes.count { o.data += [UInt8](repeating: 0, count: pos + bytes.count - o.data.count) }
            o.data.replaceSubrange(pos..<(pos + bytes.count), with: bytes)
            try await store.write(id: hd.id, data: o.encoded(), overwrite: true)
            handles.open[h]?.position = UInt64(pos + bytes.count)
        case VTEE_REQ_OBJ_TRUNC:
            let (_, hd) = try handle(p)
            let size = arg(p, 1)
            guard size <= Self.maxPosition else { throw .overflow }
            var o = try await load(store, hd.id)
            if o.data.count > Int(size) { o.data.removeLast(o.data.count - Int(size)) }
            else { o.data += [UInt8](repeating: 0, count: Int(size) - o.data.count) }
            try await store.write(id: hd.id, data: o.encoded(), overwrite: true)
        case VTEE_REQ_OBJ_SEEK:
            let (h, hd) = try handle(p)
            let offset = Int64(bitPattern: arg(p, 1))
            let base: Int64
            switch arg(p, 2) {
            case 0: base = 0
            case 1: base = Int64(hd.position)
            case 2: base = Int64(try await load(store, hd.id).data.count)
            default: throw .badParameters
            }
            let (sum, over) = base.addingReportingOverflow(offset)
            if over { throw .overflow }
            let pos = max(0, sum)
            guard UInt64(pos) <= Self.maxPosition else { throw .overflow }
            handles.open[h]?.position = UInt64(pos)
            setArg(p, 1, UInt64(pos))
        case VTEE_REQ_OBJ_RENAME:
            let (h, hd) = try handle(p)
            guard let newID = requestBytes(p, count: arg(p, 1)), newID.count <= 64 else { throw .badParameters }
            if newID != hd.id {
                guard !runner.objects.isOpen(key(newID)) else { throw .accessConflict }
                try await store.rename(from: hd.id, to: newID)
                runner.objects.move(h, from: key(hd.id), to: key(newID))
                handles.open[h]?.id = newID
            }
        case VTEE_REQ_OBJ_DELETE:
            let (h, hd) = try handle(p)
            try await store.delete(id: hd.id)
            handles.open[h] = nil
            runner.objects.close(key(hd.id), h)
        case VTEE_REQ_OBJ_INFO:
            let (_, hd) = try handle(p)
            let o = try await load(store, hd.id)
            info(p, o); setArg(p, 7, hd.position)
        case VTEE_REQ_OBJ_LIST:
            let ids = try await store.list().filter { $0.count <= 64 }.sorted { $0.lexicographicallyPrecedes($1) }
            var out: [UInt8] = []
            for id in ids { out.append(UInt8(id.count)); out += id }
            guard writeRequestBytes(p, out) else { throw .outOfMemory }
            setArg(p, 0, UInt64(ids.count)); setArg(p, 1, UInt64(out.count))
        case VTEE_REQ_OBJ_PEEK:
            guard let id = requestBytes(p, count: arg(p, 0)), id.count <= 64 else { throw .badParameters }
            info(p, try await load(store, id))
        default:
            throw .notSupported
        }
        reply(p, .success)
    }
}
