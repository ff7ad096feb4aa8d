// The encrypted secure-storage format (after OP-TEE's REE FS: tee_ree_fs.c, tee_fs_key_manager.c):
// keys, the per-TA directory file and the object files. Pure functions over bytes; the secure
// world runs them, the normal world only ever stores their output.
//
// Keys: the device key (HUK stand-in) -> per-store key = HKDF-SHA256(HUK, salt "vtee.storage.v1",
// info namespace || 0 || TA UUID) -> each object version gets its own random 256-bit key, kept
// only inside the encrypted directory file.
//
// Directory file "dirf.db": "VTEEDIR1" | nonce (12) | AES-256-GCM(store key, nonce,
// aad = magic || TA UUID || namespace) of { version u64 | next file number u64 | count u32 |
// entries: id length u16 | id | file number u64 | size u64 | object key (32) } | tag (16).
//
// Object file "o<file number hex>": header "VTEEOBJ1" | file number u64 | size u64 | block count u32 |
// reserved u32, then per 4 KiB block of plain text: AES-256-GCM(object key, nonce = block index,
// aad = header || block index) ciphertext | tag. A flipped byte fails its block's tag; swapped
// blocks fail (the index is in the nonce and aad); truncation fails (the size and block count
// come from the authenticated directory entry); an older copy of the file fails (every version
// has a fresh key); an older directory file fails the version counter.
import Crypto
import Foundation
import TEEABI

/// Little-endian helpers over byte arrays (bounds are the caller's: every caller checks first).
enum ByteCodec {
    static func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) } }
    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
}

/// Key derivation of the storage (OP-TEE's tee_fs_key_manager: HUK -> SSK -> TSK -> FEK).
enum StorageKeys {
    /// The key of one TA's store in one namespace (a user's storage).
    static func storeKey(device: [UInt8], namespace: String, ta: TEEUUID) -> [UInt8] {
        let info = Array("vtee.storage.ta-key".utf8) + [0] + Array(namespace.utf8) + [0] + ta.octets
        let k = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: device), salt: Array("vtee.storage.v1".utf8),
                                       info: info, outputByteCount: 32)
        return k.withUnsafeBytes { Array($0) }
    }
}

/// One object in the directory file.
struct DirectoryEntry: Equatable, Sendable {
    /// The GP object id.
    var id: [UInt8]
    /// Names the object file "o<hex>"; a new number for every version.
    var file: UInt64
    /// Plain-text size.
    var size: UInt64
    /// The object version's own AES-256 key.
    var key: [UInt8]
}

/// The decrypted directory file of one TA's store.
struct DirectoryFile: Equatable, Sendable {
    /// Commit counter: one more on every change; checked against the device's counter.
    var version: UInt64 = 0
    /// The next object file number to use.
    var nextFile: UInt64 = 1
    /// The objects.
    var entries: [DirectoryEntry] = []

    static let magic = Array("VTEEDIR1".utf8)
    static let maxEntries = 1 << 16

    func index(of id: [UInt8]) -> Int? { entries.firstIndex { $0.id == id } }

    private static func aad(_ ta: TEEUUID, _ namespace: String) -> [UInt8] { magic + ta.octets + Array(namespace.utf8) }

    /// The bytes stored on disk.
    func sealed(key: SymmetricKey, ta: TEEUUID, namespace: String) throws(TEEResult) -> [UInt8] {
        var plain = ByteCodec.le64(version) + ByteCodec.le64(nextFile) + ByteCodec.le32(UInt32(entries.count))
        for e in entries {
            plain += ByteCodec.le16(UInt16(e.id.count)) + e.id + ByteCodec.le64(e.file) + ByteCodec.le64(e.size) + e.key
        }
        do {
            let box = try AES.GCM.seal(plain, using: key, nonce: AES.GCM.Nonce(data: randomBytes(12)),
                                       authenticating: Self.aad(ta, namespace))
            return Self.magic + Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
        } catch { throw .generic }
    }

    /// Decrypts and parses `bytes`; anything altered, truncated or foreign is CORRUPT_OBJECT.
    static func open(_ bytes: [UInt8], key: SymmetricKey, ta: TEEUUID, namespace: String) throws(TEEResult) -> DirectoryFile {
        guard bytes.count >= 8 + 12 + 16, Array(bytes[0..<8]) == magic else { throw .corruptObject }
        let plain: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: bytes[8..<20]), ciphertext: bytes[20..<(bytes.count - 16)],
                                            tag: bytes[(bytes.count - 16)...])
            plain = Array(try AES.GCM.open(box, using: key, authenticating: aad(ta, namespace)))
        } catch { throw .corruptObject }
        guard plain.count >= 20 else { throw .corruptObject }
        var d = DirectoryFile(version: ByteCodec.u64(plain, 0), nextFile: ByteCodec.u64(plain, 8))
        let count = Int(ByteCodec.u32(plain, 16))
        guard count <= maxEntries else { throw .corruptObject }
        var o = 20
        for _ in 0..<count {
            guard o + 2 <= plain.count else { throw .corruptObject }
            let n = Int(ByteCodec.u16(plain, o)); o += 2
            guard o + n + 48 <= plain.count else { throw .corruptObject }
            d.entries.append(DirectoryEntry(id: Array(plain[o..<o + n]), file: ByteCodec.u64(plain, o + n),
                                            size: ByteCodec.u64(plain, o + n + 8), key: Array(plain[(o + n + 16)..<(o + n + 48)])))
            o += n + 48
        }
        guard o == plain.count else { throw .corruptObject }
        return d
    }
}

/// Object files: a header and per-block AES-GCM.
enum ObjectFile {
    static let magic = Array("VTEEOBJ1".utf8)
    static let headerSize = 32
    static let blockSize = 4096
    static let tagSize = 16

    static func blocks(_ size: UInt64) -> Int { Int((size + UInt64(blockSize) - 1) / UInt64(blockSize)) }
    /// Bytes on disk for `size` bytes of plain text.
    static func fileSize(_ size: UInt64) -> Int { headerSize + Int(size) + blocks(size) * tagSize }

    static func header(file: UInt64, size: UInt64) -> [UInt8] {
        magic + ByteCodec.le64(file) + ByteCodec.le64(size) + ByteCodec.le32(UInt32(blocks(size))) + [0, 0, 0, 0]
    }

    private static func nonce(_ i: Int) throws -> AES.GCM.Nonce {
        try AES.GCM.Nonce(data: [0, 0, 0, 0] + ByteCodec.le64(UInt64(i)))
    }

    /// Encrypts `plain` as object file number `file` under `key`.
    static func seal(_ plain: [UInt8], file: UInt64, key: [UInt8]) throws(TEEResult) -> [UInt8] {
        let h = header(file: file, size: UInt64(plain.count))
        let k = SymmetricKey(data: key)
        var out = h
        out.reserveCapacity(fileSize(UInt64(plain.count)))
        do {
            for i in 0..<blocks(UInt64(plain.count)) {
                let lo = i * blockSize, hi = min(plain.count, lo + blockSize)
                let box = try AES.GCM.seal(plain[lo..<hi], using: k, nonce: nonce(i), authenticating: h + ByteCodec.le32(UInt32(i)))
                out += box.ciphertext
                out += box.tag
            }
        } catch { throw .generic }
        return out
    }

    /// Checks and decrypts an object file against its directory entry; CORRUPT_OBJECT on any mismatch.
    static func open(_ bytes: [UInt8], entry: DirectoryEntry) throws(TEEResult) -> [UInt8] {
        let h = header(file: entry.file, size: entry.size)
        guard bytes.count == fileSize(entry.size), Array(bytes[0..<headerSize]) == h else { throw .corruptObject }
        let k = SymmetricKey(data: entry.key)
        var out: [UInt8] = []
        out.reserveCapacity(Int(entry.size))
        var o = headerSize
        do {
            for i in 0..<blocks(entry.size) {
                let n = min(blockSize, Int(entry.size) - i * blockSize)
                let box = try AES.GCM.SealedBox(nonce: nonce(i), ciphertext: bytes[o..<o + n], tag: bytes[(o + n)..<(o + n + tagSize)])
                out += try AES.GCM.open(box, using: k, authenticating: h + ByteCodec.le32(UInt32(i)))
                o += n + tagSize
            }
        } catch { throw .corruptObject }
        return out
    }
}
