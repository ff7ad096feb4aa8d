// TA persistent objects over the FS RPC (the supplicant's file operations). Format, for now:
// one file per object at "/<ta-uuid>/<hex of object id>", replaced atomically by writing
// "<path>.tmp" and renaming it over the old file. An encrypted format will replace this behind
// the same `TAStorage` protocol.
import TEEABI

/// `TAStorage` of one TA, issuing FS RPCs on the current call's secure thread.
struct FSRPCStorage: TAStorage {
    let call: StdCall
    let ta: TEEUUID

    /// Largest READ/WRITE per RPC.
    static let chunk = 64 * 1024
    /// Payload buffer for paths and names (OP-TEE's TEE_FS_NAME_MAX is 350).
    static let nameMax = 512

    private var dir: String { "/\(ta)" }
    private func path(_ id: [UInt8]) throws(TEEResult) -> String {
        guard !id.isEmpty, id.count <= 64 else { throw .badParameters }
        return dir + "/" + id.map { b in let s = String(b, radix: 16); return s.count == 1 ? "0" + s : s }.joined()
    }

    // MARK: FS RPC primitives

    /// Runs one FS RPC with the call's payload buffer (SHM_ALLOC APPL, reused until the call
    /// ends), filled with `input` (and `second`) first; returns ret, params and up to `output`
    /// bytes read back.
    private func fs(_ op: RPCFSOperation, b: UInt64 = 0, c: UInt64 = 0, input: [UInt8]? = nil, output: Int = 0,
                    second: [UInt8]? = nil, valueOut: Bool = false) async throws(TEEResult) -> (TEEResult, [MsgParam], [UInt8]) {
        let size = max(input?.count ?? 0, output, 1) + (second?.count ?? 0)
        let (buf, cookie) = try await call.payloadBuffer(size: size)
        var params: [MsgParam] = [.value(.valueInput, a: op.rawValue, b: b, c: c)]
        let view = call.world.ns.view
        let base = buf.address(at: 0)?.raw ?? 0
        var failure: TEEResult? = nil
        if let input {
            do { try buf.write(view, offset: 0, input) } catch { failure = error }
            params.append(.tmem(.tmemInput, bufPtr: base, size: UInt64(input.count), shmRef: cookie))
        } else if output > 0 {
            params.append(.tmem(.tmemOutput, bufPtr: base, size: UInt64(output), shmRef: cookie))
        }
        if let second, let i = input {
            do { try buf.write(view, offset: i.count, second) } catch { failure = error }
            params.append(.tmem(.tmemInput, bufPtr: buf.address(at: i.count)?.raw ?? 0, size: UInt64(second.count), shmRef: cookie))
        }
        if valueOut { params.append(.value(.valueOutput)) }
        if let f = failure { throw f }
        let (r, back, _) = await call.rpcCommand(.fs, params)
        var data: [UInt8] = []
        if r == .success, output > 0, back.count > 1 {
            let n = Int(min(back[1].size, UInt64(output)))
            data = (try? buf.read(view, offset: 0, count: n)) ?? []
        }
        return (r, back, data)
    }

    private func cString(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

    private func open(_ p: String, create: Bool) async throws(TEEResult) -> UInt64 {
        let (r, back, _) = try await fs(create ? .create : .open, input: cString(p), valueOut: true)
        guard r == .success else { throw r }
        guard back.count > 2 else { throw .communication }
        return back[2].a
    }

    private func close(_ fd: UInt64) async {
        _ = try? await fs(.close, b: fd)
    }

    // MARK: TAStorage

    func read(id: [UInt8]) async throws(TEEResult) -> [UInt8] {
        let fd = try await open(try path(id), create: false)
        var out: [UInt8] = []
        while true {
            let res: (TEEResult, [MsgParam], [UInt8])
            do { res = try await fs(.read, b: fd, c: UInt64(out.count), output: Self.chunk) }
            catch { await close(fd); throw error }
            guard res.0 == .success else { await close(fd); throw res.0 }
            out += res.2
            if res.2.count < Self.chunk { break }
            if out.count > call.world.config.maxMemrefBytes { await close(fd); throw .outOfMemory }
        }
        await close(fd)
        return out
    }

    func write(id: [UInt8], data: [UInt8], overwrite: Bool) async throws(TEEResult) {
        let p = try path(id)
        let tmp = p + ".tmp"
        if !overwrite {
            if let fd = try? await open(p, create: false) { await close(fd); throw .accessConflict }
        }
        _ = try? await fs(.remove, input: cString(tmp))
        let fd = try await open(tmp, create: true)
        var off = 0
        repeat {
            let n = min(Self.chunk, data.count - off)
            let res: (TEEResult, [MsgParam], [UInt8])
            do { res = try await fs(.write, b: fd, c: UInt64(off), input: Array(data[off..<off + n])) }
            catch { await close(fd); throw error }
            guard res.0 == .success else { await close(fd); throw res.0 }
            off += n
        } while off < data.count
        await close(fd)
        let (r, _, _) = try await fs(.rename, b: 1, input: cString(tmp), second: cString(p))
        guard r == .success else { throw r }
    }

    func delete(id: [UInt8]) async throws(TEEResult) {
        let (r, _, _) = try await fs(.remove, input: cString(try path(id)))
        guard r == .success else { throw r }
    }

    func rename(from: [UInt8], to: [UInt8]) async throws(TEEResult) {
        let (r, _, _) = try await fs(.rename, b: 0, input: cString(try path(from)), second: cString(try path(to)))
        guard r == .success else { throw r }
    }

    func list() async throws(TEEResult) -> [[UInt8]] {
        let (r, back, _) = try await fs(.opendir, input: cString(dir), valueOut: true)
        if r == .itemNotFound { return [] }
        guard r == .success, back.count > 2 else { throw r == .success ? .communication : r }
        let d = back[2].a
        var ids: [[UInt8]] = []
        for _ in 0..<100_000 {
            let res: (TEEResult, [MsgParam], [UInt8])
            do { res = try await fs(.readdir, b: d, output: Self.nameMax) } catch { break }
            guard res.0 == .success else { break }
            let name = res.2.prefix { $0 != 0 }
            if let id = Self.unhex(Array(name)) { ids.append(id) }
        }
        _ = try? await fs(.closedir, b: d)
        return ids
    }

    /// Decodes an object file name (lower-case hex, no ".tmp"); nil for anything else.
    static func unhex(_ s: [UInt8]) -> [UInt8]? {
        guard !s.isEmpty, s.count % 2 == 0 else { return nil }
        func nib(_ c: UInt8) -> UInt8? {
            switch c { case 0x30...0x39: c - 0x30; case 0x61...0x66: c - 0x61 + 10; default: nil }
        }
        var out: [UInt8] = []
        var i = 0
        while i < s.count {
            guard let h = nib(s[i]), let l = nib(s[i + 1]) else { return nil }
            out.append(h << 4 | l); i += 2
        }
        return out
    }
}
