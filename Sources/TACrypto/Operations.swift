/// GP cryptographic operations and one TA instance's crypto state (objects and operations by
/// handle): TEE_AllocateOperation ... TEE_DeriveKey with GP's state machine. Every call checks
/// the handle, class, mode, key and state first and throws badState / badParameters where
/// libutee panics (libvteeta turns those into TEE_Panic); a final returns the operation to its
/// initial state; SHORT_BUFFER is decided on a copy, so the operation is left untouched.
/// Secure world.

/// What GP says about one algorithm: its class, the modes it allows, its key type(s) and sizes.
struct AlgorithmRule {
    var operationClass: UInt32
    var modes: [UInt32]
    /// Object types a key may have (empty: no key).
    var keyTypes: [UInt32]
    var twoKeys = false
    var digestLength: Int = 0

    static func of(_ alg: UInt32, backend: any AsymmetricBackend) -> AlgorithmRule? {
        let hmacIndex = alg & 0xF
        switch alg {
        case Alg.aesECB, Alg.aesCBC, Alg.aesCTR, Alg.aesCTS:
            return .init(operationClass: OpConst.classCipher, modes: [OpConst.encrypt, OpConst.decrypt], keyTypes: [ObjType.aes])
        case Alg.aesXTS:
            return .init(operationClass: OpConst.classCipher, modes: [OpConst.encrypt, OpConst.decrypt], keyTypes: [ObjType.aes], twoKeys: true)
        case Alg.aesCMAC, Alg.aesCBCMAC, Alg.aesCBCMACPKCS5:
            return .init(operationClass: OpConst.classMAC, modes: [OpConst.mac], keyTypes: [ObjType.aes], digestLength: blockSize)
        case Alg.aesGCM, Alg.aesCCM:
            return .init(operationClass: OpConst.classAE, modes: [OpConst.encrypt, OpConst.decrypt], keyTypes: [ObjType.aes])
        case 0x5000_0001...0x5000_000B:
            guard let k = DigestKind(index: alg & 0xF) else { return nil }
            return .init(operationClass: OpConst.classDigest, modes: [OpConst.digest], keyTypes: [], digestLength: k.length)
        case 0x3000_0001...0x3000_000B:
            guard let k = DigestKind(index: hmacIndex) else { return nil }
            return .init(operationClass: OpConst.classMAC, modes: [OpConst.mac], keyTypes: [ObjType.genericSecret, ObjType.hmac(hmacIndex)], digestLength: k.length)
        case 0x8000_10C0, 0x8000_20C0, 0x8000_40C0, 0x8000_50C0, 0x8000_60C0:
            return .init(operationClass: OpConst.classKeyDerivation, modes: [OpConst.derive], keyTypes: [ObjType.hkdfIKM])
        case 0x8000_20C1, 0x8000_40C1, 0x8000_50C1, 0x8000_60C1:
            return .init(operationClass: OpConst.classKeyDerivation, modes: [OpConst.derive], keyTypes: [ObjType.concatKDFZ])
        case Alg.pbkdf2SHA1:
            return .init(operationClass: OpConst.classKeyDerivation, modes: [OpConst.derive], keyTypes: [ObjType.pbkdf2Password])
        default:
            guard backend.supports(algorithm: alg, element: 0) else { return nil }
            switch alg >> 28 {
            case 0x6: return .init(operationClass: OpConst.classAsymCipher, modes: [OpConst.encrypt, OpConst.decrypt], keyTypes: Self.asymKeyTypes(alg))
            case 0x7: return .init(operationClass: OpConst.classAsymSignature, modes: [OpConst.sign, OpConst.verify], keyTypes: Self.asymKeyTypes(alg))
            case 0x8: return .init(operationClass: OpConst.classKeyDerivation, modes: [OpConst.derive], keyTypes: Self.asymKeyTypes(alg))
            default: return nil
            }
        }
    }

    /// Key types of an asymmetric algorithm, from GP's main-algorithm byte.
    static func asymKeyTypes(_ alg: UInt32) -> [UInt32] {
        let main = alg & 0xFF
        switch main {
        case 0x30: return [0xA000_0030, 0xA100_0030]
        case 0x31: return [0xA000_0031, 0xA100_0031]
        case 0x32: return [0xA100_0032]
        case 0x41, 0x42: return [0xA000_0041, 0xA100_0041, 0xA000_0042, 0xA100_0042]
        case 0x43: return [0xA000_0043, 0xA100_0043]
        case 0x44: return [0xA000_0044, 0xA100_0044]
        default: return []
        }
    }

    /// The usage a key needs for `mode` of this class.
    func requiredUsage(mode: UInt32) -> UInt32 {
        switch operationClass {
        case OpConst.classCipher, OpConst.classAE, OpConst.classAsymCipher:
            return mode == OpConst.encrypt ? OpConst.usageEncrypt : OpConst.usageDecrypt
        case OpConst.classMAC: return OpConst.usageMAC
        case OpConst.classAsymSignature: return mode == OpConst.sign ? OpConst.usageSign : OpConst.usageVerify
        case OpConst.classKeyDerivation: return OpConst.usageDerive
        default: return 0
        }
    }
}

/// The running state of an operation's algorithm.
enum Engine {
    case digest(Digest)
    case hmac(HMACState)
    case mac(AESMAC)
    case cipher(AESCipher)
    case ae(AESAE)
    /// TEE_DigestExtract: what is left of the finished digest.
    case extract([UInt8])
}

/// One GP operation.
public struct CryptoOperation {
    /// TEE_ALG_* of the operation.
    public let algorithm: UInt32
    /// TEE_MODE_*.
    public let mode: UInt32
    /// The largest key size (bits) it accepts.
    public let maxKeySize: UInt32
    let rule: AlgorithmRule
    /// TEE_HANDLE_FLAG_* bits.
    public var handleState: UInt32 = 0
    /// TEE_OPERATION_STATE_*.
    public var state: UInt32 = OpConst.stateInitial
    var key1: CryptoObject?
    var key2: CryptoObject?
    var engine: Engine?

    /// The size of the key(s) set (bits; 0 without a key).
    public var keySize: UInt32 { key1?.size ?? 0 }
    /// GP's TEE_OperationInfo fields in order (algorithm, class, mode, digestLength, maxKeySize,
    /// keySize, requiredKeyUsage, handleState).
    public var info: [UInt32] {
        [algorithm, rule.operationClass, mode, UInt32(rule.digestLength), maxKeySize, keySize, rule.requiredUsage(mode: mode), handleState]
    }
    /// TEE_OperationInfoMultiple: header fields then (keySize, requiredKeyUsage) per key.
    public var infoMultiple: [UInt32] {
        let n: UInt32 = rule.twoKeys ? 2 : (rule.keyTypes.isEmpty ? 0 : 1)
        var out = [algorithm, rule.operationClass, mode, UInt32(rule.digestLength), maxKeySize, handleState, state, n]
        if n >= 1 { out += [key1?.size ?? 0, rule.requiredUsage(mode: mode)] }
        if n == 2 { out += [key2?.size ?? 0, rule.requiredUsage(mode: mode)] }
        return out
    }
}

/// What an update or final hands back: output bytes (and a tag for AE encryption).
public struct CryptoOutput: Sendable {
    /// The output bytes.
    public var data: [UInt8]
    /// The tag (AE encrypt final) or empty.
    public var tag: [UInt8] = []
}

/// The kinds of data-carrying calls (VTEE_REQ_CRYPTO_UPDATE / FINAL's `kind`).
public enum CryptoStep: UInt32, Sendable {
    case digestUpdate = 1, digestFinal = 2, cipherUpdate = 3, cipherFinal = 4, macUpdate = 5, macComputeFinal = 6
    case macCompareFinal = 7, aeUpdateAAD = 8, aeUpdate = 9, aeEncryptFinal = 10, aeDecryptFinal = 11, digestExtract = 12
}

/// One TA instance's objects and operations, by handle. Handles are small integers (never 0).
public struct CryptoSession {
    /// The asymmetric algorithms.
    public let backend: any AsymmetricBackend
    var objects: [UInt32: CryptoObject] = [:]
    var operations: [UInt32: CryptoOperation] = [:]
    var next: UInt32 = 1
    /// Most objects plus operations an instance may hold (OUT_OF_MEMORY beyond).
    public static let handleLimit = 4096
    /// Most attribute bytes (objects' and operations' keys together) an instance may hold in the
    /// secure world (OUT_OF_MEMORY beyond): a TA cannot make the secure world hold unbounded memory.
    public static let byteLimit = 64 << 20

    /// Attribute bytes held now (objects and operation keys).
    var heldBytes: Int {
        objects.values.reduce(0) { $0 + $1.byteCount } + operations.values.reduce(0) { $0 + ($1.key1?.byteCount ?? 0) + ($1.key2?.byteCount ?? 0) }
    }

    /// OUT_OF_MEMORY when `extra` more bytes would pass the limit.
    private func admit(_ extra: Int) throws(TACryptoError) {
        guard extra <= 0 || heldBytes + extra <= Self.byteLimit else { throw .outOfMemory }
    }

    /// An empty session using `backend` for asymmetric algorithms.
    public init(backend: any AsymmetricBackend = NoAsymmetricBackend()) { self.backend = backend }

    private mutating func newHandle() throws(TACryptoError) -> UInt32 {
        guard objects.count + operations.count < Self.handleLimit else { throw .outOfMemory }
        while next == 0 || objects[next] != nil || operations[next] != nil { next &+= 1 }
        defer { next &+= 1 }
        return next
    }

    // MARK: objects

    /// TEE_AllocateTransientObject.
    public mutating func allocateObject(type: UInt32, maxSize: UInt32) throws(TACryptoError) -> UInt32 {
        let o = try CryptoObject(type: type, maxSize: maxSize)
        let h = try newHandle()
        objects[h] = o
        return h
    }

    /// Registers an object restored from storage (a persistent object's key).
    public mutating func adopt(_ o: CryptoObject) throws(TACryptoError) -> UInt32 {
        try admit(o.byteCount)
        let h = try newHandle()
        objects[h] = o
        return h
    }

    /// The object `h`; badParameters for an unknown handle.
    public func object(_ h: UInt32) throws(TACryptoError) -> CryptoObject {
        guard let o = objects[h] else { throw .badParameters }
        return o
    }

    /// Replaces object `h` through `body`.
    public mutating func withObject<R>(_ h: UInt32, _ body: (inout CryptoObject) throws(TACryptoError) -> R) throws(TACryptoError) -> R {
        guard var o = objects[h] else { throw .badParameters }
        let before = o.byteCount
        let r = try body(&o)
        try admit(o.byteCount - before)
        objects[h] = o
        return r
    }

    /// TEE_FreeTransientObject / closing a persistent object's key.
    public mutating func freeObject(_ h: UInt32) throws(TACryptoError) {
        guard objects.removeValue(forKey: h) != nil else { throw .badParameters }
    }

    /// TEE_CopyObjectAttributes1.
    public mutating func copyObject(dst: UInt32, src: UInt32) throws(TACryptoError) {
        let s = try object(src)
        try withObject(dst) { (o: inout CryptoObject) throws(TACryptoError) in try o.copy(from: s) }
    }

    /// TEE_GenerateKey.
    public mutating func generate(_ h: UInt32, bits: Int, params: [TAAttribute]) throws(TACryptoError) {
        let b = backend
        try withObject(h) { (o: inout CryptoObject) throws(TACryptoError) in try o.generate(bits: bits, params: params, backend: b) }
    }

    // MARK: operations

    /// TEE_IsAlgorithmSupported.
    public func isSupported(algorithm: UInt32, element: UInt32) -> Bool {
        if element != 0 { return backend.supports(algorithm: algorithm, element: element) }
        return AlgorithmRule.of(algorithm, backend: backend) != nil
    }

    /// TEE_AllocateOperation: NOT_SUPPORTED for an unknown algorithm, a mode it does not have or
    /// a maxKeySize its key type cannot hold.
    public mutating func allocateOperation(algorithm: UInt32, mode: UInt32, maxKeySize: UInt32) throws(TACryptoError) -> UInt32 {
        guard let rule = AlgorithmRule.of(algorithm, backend: backend), rule.modes.contains(mode) else { throw .notSupported }
        if let t = rule.keyTypes.first, let tr = ObjectTypeRule.of(t) {
            let perKey = Int(maxKeySize)
            guard perKey <= tr.maxSize, perKey >= tr.minSize || rule.operationClass == OpConst.classMAC || rule.operationClass == OpConst.classKeyDerivation else { throw .notSupported }
            if t == ObjType.aes { guard [128, 192, 256].contains(perKey) else { throw .notSupported } }
        }
        var op = CryptoOperation(algorithm: algorithm, mode: mode, maxKeySize: maxKeySize, rule: rule)
        if rule.operationClass == OpConst.classDigest {
            op.handleState = OpConst.flagInitialized
            op.engine = .digest(Digest(DigestKind(index: algorithm & 0xF) ?? .sha256))
        }
        if rule.twoKeys { op.handleState |= OpConst.flagExpectTwoKeys }
        let h = try newHandle()
        operations[h] = op
        return h
    }

    /// TEE_FreeOperation.
    public mutating func freeOperation(_ h: UInt32) throws(TACryptoError) {
        guard operations.removeValue(forKey: h) != nil else { throw .badParameters }
    }

    /// The operation `h`.
    public func operation(_ h: UInt32) throws(TACryptoError) -> CryptoOperation {
        guard let o = operations[h] else { throw .badParameters }
        return o
    }

    /// TEE_ResetOperation: back to the initial state, keys kept (a digest stays initialized).
    public mutating func resetOperation(_ h: UInt32) throws(TACryptoError) {
        var op = try operation(h)
        if op.rule.operationClass != OpConst.classDigest && op.handleState & OpConst.flagKeySet == 0 { throw .badState }
        Self.reset(&op)
        operations[h] = op
    }

    static func reset(_ op: inout CryptoOperation) {
        op.state = OpConst.stateInitial
        if op.rule.operationClass == OpConst.classDigest {
            op.engine = .digest(Digest(DigestKind(index: op.algorithm & 0xF) ?? .sha256))
        } else {
            op.handleState &= ~OpConst.flagInitialized
            op.engine = nil
        }
    }

    /// TEE_SetOperationKey (`key2` nil) or TEE_SetOperationKey2: the operation must be in its
    /// initial state and the key(s) of the algorithm's type, within maxKeySize and with the
    /// usage the mode needs; handle 0 clears the key.
    public mutating func setKey(_ h: UInt32, key: UInt32, key2: UInt32?) throws(TACryptoError) {
        var op = try operation(h)
        guard op.rule.operationClass != OpConst.classDigest else { throw .badParameters }
        guard op.state == OpConst.stateInitial else { throw .badState }
        guard op.rule.twoKeys == (key2 != nil) else { throw .badParameters }
        if key == 0 && (key2 ?? 0) == 0 {
            op.key1 = nil; op.key2 = nil
            op.handleState &= ~(OpConst.flagKeySet | OpConst.flagInitialized)
            operations[h] = op
            return
        }
        func check(_ k: UInt32) throws(TACryptoError) -> CryptoObject {
            let o = try object(k)
            guard o.initialized, op.rule.keyTypes.contains(o.type) else { throw .badParameters }
            guard o.size <= op.maxKeySize || op.rule.operationClass == OpConst.classKeyDerivation else { throw .badParameters }
            let need = op.rule.requiredUsage(mode: op.mode)
            guard o.usage & need == need else { throw .badState }
            return o
        }
        op.key1 = try check(key)
        if let k2 = key2 {
            let o2 = try check(k2)
            // XTS: two keys of one size.
            guard o2.size == op.key1?.size else { throw .badParameters }
            op.key2 = o2
        }
        try admit((op.key1?.byteCount ?? 0) + (op.key2?.byteCount ?? 0))
        op.handleState |= OpConst.flagKeySet
        op.handleState &= ~OpConst.flagInitialized
        op.engine = nil
        operations[h] = op
    }

    /// TEE_CopyOperation: same algorithm and mode; the destination's maxKeySize must hold the key.
    public mutating func copyOperation(dst: UInt32, src: UInt32) throws(TACryptoError) {
        let s = try operation(src)
        let d = try operation(dst)
        guard s.algorithm == d.algorithm, s.mode == d.mode else { throw .badParameters }
        guard s.keySize <= d.maxKeySize else { throw .badParameters }
        try admit((s.key1?.byteCount ?? 0) + (s.key2?.byteCount ?? 0))
        var copy = s
        copy = CryptoOperation(algorithm: d.algorithm, mode: d.mode, maxKeySize: d.maxKeySize, rule: d.rule,
                               handleState: s.handleState, state: s.state, key1: s.key1, key2: s.key2, engine: s.engine)
        operations[dst] = copy
    }

    /// TEE_CipherInit / TEE_MACInit with `iv` (an active operation is reset first, as GP 1.3 says).
    public mutating func initialize(_ h: UInt32, iv: [UInt8]) throws(TACryptoError) {
        var op = try operation(h)
        guard op.rule.operationClass == OpConst.classCipher || op.rule.operationClass == OpConst.classMAC else { throw .badParameters }
        guard op.handleState & OpConst.flagKeySet != 0, let k = op.key1 else { throw .badState }
        switch op.algorithm {
        case Alg.aesECB: op.engine = .cipher(try AESCipher(mode: .ecb, encrypting: op.mode == OpConst.encrypt, key: k.secret, key2: [], iv: iv))
        case Alg.aesCBC: op.engine = .cipher(try AESCipher(mode: .cbc, encrypting: op.mode == OpConst.encrypt, key: k.secret, key2: [], iv: iv))
        case Alg.aesCTR: op.engine = .cipher(try AESCipher(mode: .ctr, encrypting: op.mode == OpConst.encrypt, key: k.secret, key2: [], iv: iv))
        case Alg.aesCTS: op.engine = .cipher(try AESCipher(mode: .cts, encrypting: op.mode == OpConst.encrypt, key: k.secret, key2: [], iv: iv))
        case Alg.aesXTS:
            guard let k2 = op.key2 else { throw .badState }
            op.engine = .cipher(try AESCipher(mode: .xts, encrypting: op.mode == OpConst.encrypt, key: k.secret, key2: k2.secret, iv: iv))
        case Alg.aesCMAC: op.engine = .mac(try AESMAC(kind: .cmac, key: k.secret, iv: []))
        case Alg.aesCBCMAC: op.engine = .mac(try AESMAC(kind: .cbcNoPad, key: k.secret, iv: iv))
        case Alg.aesCBCMACPKCS5: op.engine = .mac(try AESMAC(kind: .cbcPKCS5, key: k.secret, iv: iv))
        default:
            guard let kind = DigestKind(index: op.algorithm & 0xF) else { throw .notSupported }
            op.engine = .hmac(HMACState(kind, key: k.secret))
        }
        op.handleState |= OpConst.flagInitialized
        op.state = OpConst.stateActive
        operations[h] = op
    }

    /// TEE_AEInit.
    public mutating func aeInit(_ h: UInt32, nonce: [UInt8], tagBits: Int, aadLength: Int, payloadLength: Int) throws(TACryptoError) {
        var op = try operation(h)
        guard op.rule.operationClass == OpConst.classAE else { throw .badParameters }
        guard op.handleState & OpConst.flagKeySet != 0, let k = op.key1 else { throw .badState }
        guard op.state == OpConst.stateInitial else { throw .badState }
        op.engine = .ae(try AESAE(kind: op.algorithm == Alg.aesGCM ? .gcm : .ccm, encrypting: op.mode == OpConst.encrypt,
                                  key: k.secret, nonce: nonce, tagBits: tagBits, aadLength: aadLength, payloadLength: payloadLength))
        op.handleState |= OpConst.flagInitialized
        op.state = OpConst.stateActive
        operations[h] = op
    }

    /// One data-carrying step. `outCapacity` / `tagCapacity` are the caller's buffer sizes:
    /// shortBuffer(needed:) leaves the operation as it was. `tag` is the MAC or tag to compare.
    public mutating func step(_ h: UInt32, _ kind: CryptoStep, input: [UInt8], outCapacity: Int,
                              tag: [UInt8] = [], tagCapacity: Int = 0) throws(TACryptoError) -> CryptoOutput {
        var op = try operation(h)
        let cls = op.rule.operationClass
        let expected: UInt32
        switch kind {
        case .digestUpdate, .digestFinal, .digestExtract: expected = OpConst.classDigest
        case .cipherUpdate, .cipherFinal: expected = OpConst.classCipher
        case .macUpdate, .macComputeFinal, .macCompareFinal: expected = OpConst.classMAC
        case .aeUpdateAAD, .aeUpdate, .aeEncryptFinal, .aeDecryptFinal: expected = OpConst.classAE
        }
        guard cls == expected else { throw .badParameters }
        guard op.handleState & OpConst.flagInitialized != 0, var engine = op.engine else { throw .badState }
        if cls != OpConst.classDigest { guard op.state == OpConst.stateActive else { throw .badState } }
        // After TEE_DigestExtract only more extraction (or a reset) is allowed.
        if op.state == OpConst.stateExtracting && kind != .digestExtract { throw .badState }
        if kind == .aeEncryptFinal { guard op.mode == OpConst.encrypt else { throw .badParameters } }
        if kind == .aeDecryptFinal { guard op.mode == OpConst.decrypt else { throw .badParameters } }
        var out = CryptoOutput(data: [])
        var isFinal = false
        switch (kind, engine) {
        case (.digestUpdate, .digest(var d)):
            d.update(input); engine = .digest(d)
            op.state = OpConst.stateActive
        case (.digestFinal, .digest(var d)):
            d.update(input)
            out.data = d.finalize(); isFinal = true
        case (.digestExtract, .digest(let d)):
            let all = d.finalize()
            out.data = Array(all.prefix(outCapacity)); engine = .extract(Array(all.dropFirst(out.data.count)))
        case (.digestExtract, .extract(let rest)):
            out.data = Array(rest.prefix(outCapacity)); engine = .extract(Array(rest.dropFirst(out.data.count)))
        case (.cipherUpdate, .cipher(var c)):
            out.data = try c.update(input); engine = .cipher(c)
        case (.cipherFinal, .cipher(var c)):
            out.data = try c.final(input); isFinal = true
        case (.macUpdate, .hmac(var m)):
            m.update(input); engine = .hmac(m)
        case (.macUpdate, .mac(var m)):
            try m.update(input); engine = .mac(m)
        case (.macComputeFinal, .hmac(var m)), (.macCompareFinal, .hmac(var m)):
            m.update(input); out.data = m.finalize(); isFinal = true
        case (.macComputeFinal, .mac(var m)), (.macCompareFinal, .mac(var m)):
            out.data = try m.final(input); isFinal = true
        case (.aeUpdateAAD, .ae(var a)):
            try a.updateAAD(input); engine = .ae(a)
        case (.aeUpdate, .ae(var a)):
            out.data = try a.update(input); engine = .ae(a)
        case (.aeEncryptFinal, .ae(var a)):
            (out.data, out.tag) = try a.encryptFinal(input); isFinal = true
            // Both sizes are reported by the caller (the tag's is the operation's tag length).
            if tagCapacity < out.tag.count || outCapacity < out.data.count { throw .shortBuffer(needed: out.data.count) }
        case (.aeDecryptFinal, .ae(var a)):
            out.data = try a.decryptFinal(input, tag: tag); isFinal = true
        default:
            throw .badState
        }
        if kind == .macCompareFinal {
            // Compare before deciding: the operation ends either way.
            Self.reset(&op)
            operations[h] = op
            guard constantTimeEqual(out.data, tag) else { throw .macInvalid }
            return CryptoOutput(data: [])
        }
        if out.data.count > outCapacity { throw .shortBuffer(needed: out.data.count) }
        if kind == .digestExtract { op.state = OpConst.stateExtracting }
        if isFinal { Self.reset(&op) } else { op.engine = engine }
        operations[h] = op
        return out
    }

    /// The tag length (bytes) of an initialized AE operation, 0 otherwise.
    public func tagLength(_ h: UInt32) -> Int {
        if case let .ae(a)? = operations[h]?.engine { return a.tagLength }
        return 0
    }

    /// TEE_DeriveKey into object `derived` (uninitialized GENERIC_SECRET, large enough).
    public mutating func derive(_ h: UInt32, params: [TAAttribute], derived: UInt32) throws(TACryptoError) {
        let op = try operation(h)
        guard op.rule.operationClass == OpConst.classKeyDerivation, op.mode == OpConst.derive else { throw .badParameters }
        guard op.handleState & OpConst.flagKeySet != 0, let key = op.key1 else { throw .badState }
        let target = try object(derived)
        guard !target.initialized, target.type == ObjType.genericSecret else { throw .badParameters }
        func ref(_ id: UInt32) -> [UInt8] { params.first { $0.id == id }?.bytes ?? [] }
        func value(_ id: UInt32) throws(TACryptoError) -> Int {
            guard let v = params.first(where: { $0.id == id }) else { throw .badParameters }
            return Int(v.a)
        }
        // An output length the derived object cannot hold is refused before any work is done.
        func length(_ id: UInt32) throws(TACryptoError) -> Int {
            let n = try value(id)
            guard n * 8 <= Int(target.maxSize) else { throw .badParameters }
            return n
        }
        let secret: [UInt8]
        switch op.algorithm & 0xFFFF_00FF {
        case Alg.hkdfBase:
            guard let kind = DigestKind(index: op.algorithm >> 12 & 0xF) else { throw .notSupported }
            // OP-TEE's extension ids and GP 1.3.1's are both accepted.
            let okm = params.contains { $0.id == Attr.gpKDFKeySize } ? try length(Attr.gpKDFKeySize) : try length(Attr.hkdfOKMLength)
            secret = try KDF.hkdf(kind, ikm: key.attribute(Attr.hkdfIKM)?.bytes ?? [], salt: ref(Attr.hkdfSalt) + ref(Attr.gpHKDFSalt),
                                  info: ref(Attr.hkdfInfo) + ref(Attr.gpHKDFInfo), length: okm)
        case Alg.concatKDFBase:
            guard let kind = DigestKind(index: op.algorithm >> 12 & 0xF) else { throw .notSupported }
            secret = try KDF.concat(kind, z: key.attribute(Attr.concatZ)?.bytes ?? [], otherInfo: ref(Attr.concatOtherInfo),
                                    length: try length(Attr.concatDKMLength))
        case Alg.pbkdf2SHA1 & 0xFFFF_00FF where op.algorithm == Alg.pbkdf2SHA1:
            secret = try KDF.pbkdf2SHA1(password: key.attribute(Attr.pbkdf2Password)?.bytes ?? [], salt: ref(Attr.pbkdf2Salt),
                                        iterations: try value(Attr.pbkdf2Iterations), length: try length(Attr.pbkdf2DKMLength))
        default:
            var p: [UInt32: [UInt8]] = [:]
            for at in params { p[at.id] = at.bigEndianBytes }
            secret = try backend.deriveSharedSecret(algorithm: op.algorithm, key: key.attributeMap, params: p)
        }
        guard secret.count * 8 <= Int(target.maxSize) else { throw .badParameters }
        try withObject(derived) { (o: inout CryptoObject) throws(TACryptoError) in
            o.attributes = [TAAttribute(id: Attr.secretValue, bytes: secret)]
            o.size = UInt32(secret.count * 8)
            o.initialized = true
        }
    }

    /// TEE_Asymmetric{Encrypt,Decrypt,SignDigest,VerifyDigest} through the backend.
    public mutating func asymmetric(_ h: UInt32, params: [TAAttribute], input: [UInt8], signature: [UInt8], outCapacity: Int) throws(TACryptoError) -> [UInt8] {
        let op = try operation(h)
        guard op.rule.operationClass == OpConst.classAsymCipher || op.rule.operationClass == OpConst.classAsymSignature else { throw .badParameters }
        guard op.handleState & OpConst.flagKeySet != 0, let key = op.key1 else { throw .badState }
        var p: [UInt32: [UInt8]] = [:]
        for at in params { p[at.id] = at.bigEndianBytes }
        let out: [UInt8]
        switch op.mode {
        case OpConst.encrypt: out = try backend.encrypt(algorithm: op.algorithm, key: key.attributeMap, params: p, data: input)
        case OpConst.decrypt: out = try backend.decrypt(algorithm: op.algorithm, key: key.attributeMap, params: p, data: input)
        case OpConst.sign: out = try backend.sign(algorithm: op.algorithm, key: key.attributeMap, params: p, digest: input)
        default:
            try backend.verify(algorithm: op.algorithm, key: key.attributeMap, params: p, digest: input, signature: signature)
            return []
        }
        if out.count > outCapacity { throw .shortBuffer(needed: out.count) }
        return out
    }
}
