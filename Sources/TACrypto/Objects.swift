/// GP transient-object contents in the secure world: each object's type, sizes, usage and
/// attributes, the per-type key-size limits and attribute sets of GP / OP-TEE, population,
/// key generation and the extractable/public rules. Secure world; values only.
import Crypto

/// What GP and OP-TEE allow for one object type.
struct ObjectTypeRule {
    /// Key sizes must be multiples of this many bits.
    var quantum: Int
    /// Smallest and largest key size in bits.
    var minSize: Int, maxSize: Int
    /// Attributes PopulateTransientObject requires.
    var required: [UInt32]
    /// Further attributes it accepts.
    var optional: [UInt32] = []
    /// Whether the key size is the byte length of the (single) secret attribute.
    var symmetric: Bool { required.count == 1 && required[0] & Attr.flagPublic == 0 && required[0] & 0xF000_0000 == 0xC000_0000 && minSize >= 0 && quantum >= 8 }

    /// The rule for `type`, nil when the type is unknown.
    static func of(_ type: UInt32) -> ObjectTypeRule? {
        let secret = [Attr.secretValue]
        switch type {
        case ObjType.aes: return .init(quantum: 64, minSize: 128, maxSize: 256, required: secret)
        case ObjType.des: return .init(quantum: 64, minSize: 64, maxSize: 64, required: secret)
        case ObjType.des3: return .init(quantum: 64, minSize: 128, maxSize: 192, required: secret)
        case ObjType.hmac(1): return .init(quantum: 8, minSize: 64, maxSize: 512, required: secret)
        case ObjType.hmac(2): return .init(quantum: 8, minSize: 80, maxSize: 512, required: secret)
        case ObjType.hmac(3): return .init(quantum: 8, minSize: 112, maxSize: 512, required: secret)
        case ObjType.hmac(4): return .init(quantum: 8, minSize: 192, maxSize: 1024, required: secret)
        case ObjType.hmac(5), ObjType.hmac(6): return .init(quantum: 8, minSize: 256, maxSize: 1024, required: secret)
        case ObjType.genericSecret: return .init(quantum: 8, minSize: 0, maxSize: 4096, required: secret)
        case ObjType.hkdfIKM: return .init(quantum: 8, minSize: 0, maxSize: 4096, required: [Attr.hkdfIKM])
        case ObjType.concatKDFZ: return .init(quantum: 8, minSize: 0, maxSize: 4096, required: [Attr.concatZ])
        case ObjType.pbkdf2Password: return .init(quantum: 8, minSize: 0, maxSize: 4096, required: [Attr.pbkdf2Password])
        // Asymmetric types (backends in AsymmetricBackend): OP-TEE's limits.
        case 0xA000_0030: return .init(quantum: 1, minSize: 256, maxSize: 4096, required: [0xD000_0130, 0xD000_0230])
        case 0xA100_0030: return .init(quantum: 1, minSize: 256, maxSize: 4096, required: [0xD000_0130, 0xD000_0230, 0xC000_0330],
                                       optional: [0xC000_0430, 0xC000_0530, 0xC000_0630, 0xC000_0730, 0xC000_0830])
        case 0xA000_0031: return .init(quantum: 64, minSize: 512, maxSize: 3072, required: [0xD000_1031, 0xD000_1131, 0xD000_1231, 0xD000_0131])
        case 0xA100_0031: return .init(quantum: 64, minSize: 512, maxSize: 3072, required: [0xD000_1031, 0xD000_1131, 0xD000_1231, 0xD000_0131, 0xC000_0231])
        case 0xA100_0032: return .init(quantum: 1, minSize: 256, maxSize: 4096, required: [0xD000_1032, 0xD000_1232, 0xD000_0132, 0xC000_0232],
                                       optional: [0xD000_1132, 0xF000_1332])
        case 0xA000_0041, 0xA000_0042: return .init(quantum: 1, minSize: 192, maxSize: 521, required: [0xD000_0141, 0xD000_0241, 0xF000_0441])
        case 0xA100_0041, 0xA100_0042: return .init(quantum: 1, minSize: 192, maxSize: 521, required: [0xD000_0141, 0xD000_0241, 0xC000_0341, 0xF000_0441])
        case 0xA000_0043: return .init(quantum: 1, minSize: 256, maxSize: 256, required: [0xD000_0743])
        case 0xA100_0043: return .init(quantum: 1, minSize: 256, maxSize: 256, required: [0xD000_0743, 0xC000_0843])
        case 0xA000_0044: return .init(quantum: 1, minSize: 256, maxSize: 256, required: [0xD000_0944])
        case 0xA100_0044: return .init(quantum: 1, minSize: 256, maxSize: 256, required: [0xD000_0944, 0xC000_0A44])
        default: return nil
        }
    }

    /// Whether `bits` is an allowed key size of this type.
    func allows(_ bits: Int) -> Bool { bits >= minSize && bits <= maxSize && bits % quantum == 0 }
}

/// The bit length of a big-endian unsigned number (leading zero bytes ignored).
func bitLength(_ bytes: [UInt8]) -> Int {
    guard let i = bytes.firstIndex(where: { $0 != 0 }) else { return 0 }
    return (bytes.count - i - 1) * 8 + (8 - bytes[i].leadingZeroBitCount)
}

/// One GP object's contents as the secure world keeps them.
public struct CryptoObject: Sendable {
    /// TEE_TYPE_* of the object.
    public var type: UInt32
    /// The largest key size (bits) the object may hold.
    public var maxSize: UInt32
    /// The key size (bits) of the key it holds (0 while empty).
    public var size: UInt32 = 0
    /// TEE_USAGE_* bits.
    public var usage: UInt32 = 0xFFFF_FFFF
    /// Whether the object holds a key (TEE_HANDLE_FLAG_INITIALIZED).
    public var initialized = false
    /// The attributes (empty while not initialized).
    public var attributes: [TAAttribute] = []

    /// A new empty transient object: NOT_SUPPORTED for an unknown type or a size it cannot hold
    /// (OP-TEE's TEE_AllocateTransientObject rule).
    public init(type: UInt32, maxSize: UInt32) throws(TACryptoError) {
        guard let rule = ObjectTypeRule.of(type) else { throw .notSupported }
        // GP: maxObjectSize of a symmetric type may be anything up to the type's maximum that the quantum allows.
        guard Int(maxSize) <= rule.maxSize, Int(maxSize) % rule.quantum == 0 || rule.quantum == 1 else { throw .notSupported }
        if rule.minSize > 0 && Int(maxSize) < rule.minSize { throw .notSupported }
        self.type = type
        self.maxSize = maxSize
    }

    /// An object restored from its stored form (persistent objects; no checks but the codec's).
    public init(stored type: UInt32, size: UInt32, maxSize: UInt32, usage: UInt32, attributes: [TAAttribute]) {
        self.type = type; self.size = size; self.maxSize = maxSize; self.usage = usage
        self.attributes = attributes
        initialized = true
    }

    /// Bytes its attributes hold (for the instance's memory limit).
    public var byteCount: Int { attributes.reduce(0) { $0 + $1.bytes.count + 16 } }

    /// The attribute `id`, if present.
    public func attribute(_ id: UInt32) -> TAAttribute? { attributes.first { $0.id == id } }

    /// The attributes as the asymmetric backends take them.
    public var attributeMap: [UInt32: [UInt8]] {
        var m: [UInt32: [UInt8]] = [:]
        for at in attributes { m[at.id] = at.bigEndianBytes }
        return m
    }

    /// The key bytes of a symmetric object (its single secret attribute).
    var secret: [UInt8] { attributes.first { !$0.isValue }?.bytes ?? [] }

    /// TEE_PopulateTransientObject: the attributes must be the type's (required ones present,
    /// no stranger), the key size allowed and within maxSize; else BAD_PARAMETERS.
    public mutating func populate(_ attrs: [TAAttribute]) throws(TACryptoError) {
        guard !initialized else { throw .badState }
        guard let rule = ObjectTypeRule.of(type) else { throw .badParameters }
        let allowed = Set(rule.required + rule.optional)
        var seen = Set<UInt32>()
        for at in attrs {
            guard allowed.contains(at.id), !seen.contains(at.id) else { throw .badParameters }
            seen.insert(at.id)
        }
        guard rule.required.allSatisfy({ seen.contains($0) }) else { throw .badParameters }
        // RSA CRT parameters: all or none.
        let crt = rule.optional.filter { seen.contains($0) }.count
        if type == 0xA100_0030 && crt != 0 && crt != rule.optional.count { throw .badParameters }
        let bits = Self.keySize(type: type, attrs: attrs)
        guard rule.allows(bits) || (rule.minSize == 0 && bits == 0), bits <= Int(maxSize) else { throw .badParameters }
        attributes = attrs
        size = UInt32(bits)
        initialized = true
    }

    /// The key size GP reports for `attrs` of `type`.
    static func keySize(type: UInt32, attrs: [TAAttribute]) -> Int {
        func ref(_ id: UInt32) -> [UInt8] { attrs.first { $0.id == id }?.bytes ?? [] }
        switch type {
        case 0xA000_0030, 0xA100_0030: return bitLength(ref(0xD000_0130))
        case 0xA000_0031, 0xA100_0031: return bitLength(ref(0xD000_1031))
        case 0xA100_0032: return bitLength(ref(0xD000_1032))
        case 0xA000_0041, 0xA000_0042, 0xA100_0041, 0xA100_0042:
            switch attrs.first(where: { $0.id == 0xF000_0441 })?.a ?? 0 {
            case 1: return 192
            case 2: return 224
            case 3: return 256
            case 4: return 384
            case 5: return 521
            default: return 0
            }
        case 0xA000_0043, 0xA100_0043, 0xA000_0044, 0xA100_0044: return 256
        default: return (attrs.first { !$0.isValue }?.bytes.count ?? 0) * 8
        }
    }

    /// TEE_ResetTransientObject.
    public mutating func reset() {
        attributes = []; size = 0; initialized = false
    }

    /// TEE_GenerateKey for a symmetric type (random secret of `bits` from swift-crypto); the
    /// asymmetric types go to `backend`. BAD_PARAMETERS for a size the type or object refuses.
    public mutating func generate(bits: Int, params: [TAAttribute], backend: any AsymmetricBackend) throws(TACryptoError) {
        guard !initialized else { throw .badState }
        guard let rule = ObjectTypeRule.of(type) else { throw .notSupported }
        guard bits <= Int(maxSize), rule.allows(bits), bits > 0 else { throw .badParameters }
        if rule.symmetric {
            attributes = [TAAttribute(id: rule.required[0], bytes: secureRandomBytes(bits / 8))]
        } else {
            var p: [UInt32: [UInt8]] = [:]
            for at in params { p[at.id] = at.bigEndianBytes }
            let out = try backend.generate(type: type, bits: bits, params: p)
            attributes = out.map { id, bytes in
                if id & Attr.flagValue != 0 {
                    let a = bytes.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                    return TAAttribute(id: id, a: a, b: 0)
                }
                return TAAttribute(id: id, bytes: bytes)
            }.sorted { $0.id < $1.id }
        }
        size = UInt32(bits)
        initialized = true
    }

    /// TEE_CopyObjectAttributes1 into this (uninitialized) object from `src`: same type (or a
    /// key pair into its public type), key size within maxSize; usage is the intersection.
    public mutating func copy(from src: CryptoObject) throws(TACryptoError) {
        guard !initialized, src.initialized else { throw .badState }
        if src.type == type {
            attributes = src.attributes
        } else if src.type & 0xF0FF_FFFF == type && src.type & 0x0100_0000 != 0 {
            // Key pair -> public key: only the public type's attributes.
            guard let rule = ObjectTypeRule.of(type) else { throw .badParameters }
            let keep = Set(rule.required + rule.optional)
            attributes = src.attributes.filter { keep.contains($0.id) }
        } else {
            throw .badParameters
        }
        guard src.size <= maxSize else { throw .badParameters }
        size = src.size
        usage &= src.usage
        initialized = true
    }

    /// TEE_GetObjectBufferAttribute / ValueAttribute: ACCESS_DENIED for a secret attribute of a
    /// non-extractable object, ITEM_NOT_FOUND when absent, BAD_PARAMETERS when the kind is wrong.
    public func readable(_ id: UInt32, value: Bool) throws(TACryptoError) -> TAAttribute {
        guard initialized else { throw .badState }
        guard (id & Attr.flagValue != 0) == value else { throw .badParameters }
        guard id & Attr.flagPublic != 0 || usage & OpConst.usageExtractable != 0 else { throw .accessDenied }
        guard let at = attribute(id) else { throw .itemNotFound }
        return at
    }
}
