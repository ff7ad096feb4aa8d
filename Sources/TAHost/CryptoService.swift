// The GP crypto requests of a C TA (VTEE_REQ_CRYPTO_*, 40..69): decodes each from the control
// page and the request area, calls the instance's `CryptoSession` (module TACrypto) and writes
// the answer back. Keys stay here, in the secure world; the TA sees handles and the bytes GP lets
// it read. Every length from the TA is checked against the request area first. Secure world.
import TACrypto
import TAChannel
import TEEABI

extension ProcessTA {
    /// Serves one VTEE_REQ_CRYPTO_* request.
    func crypto(_ p: TAProcess, _ req: Int) {
        do {
            try cryptoOp(p, req)
            reply(p, .success)
        } catch {
            if case let .shortBuffer(needed) = error { setArg(p, 2, UInt64(needed)) }
            reply(p, TEEResult(rawValue: error.code))
        }
    }

    private func u32(_ p: TAProcess, _ i: Int32) -> UInt32 { UInt32(truncatingIfNeeded: arg(p, i)) }

    /// `count` bytes of the request area at `offset`, or badParameters.
    private func bytes(_ p: TAProcess, offset: UInt64 = 0, count: UInt64) throws(TACryptoError) -> [UInt8] {
        guard offset <= UInt64(p.requestArea.count), let b = requestBytes(p, offset: Int(offset), count: count) else { throw .badParameters }
        return b
    }

    private func attributes(_ p: TAProcess, offset: UInt64 = 0, count: UInt64) throws(TACryptoError) -> [TAAttribute] {
        try TAAttribute.decode(try bytes(p, offset: offset, count: count))
    }

    private func write(_ p: TAProcess, _ b: [UInt8], offset: Int = 0) throws(TACryptoError) {
        guard writeRequestBytes(p, b, offset: offset) else { throw .outOfMemory }
    }

    private func cryptoOp(_ p: TAProcess, _ req: Int) throws(TACryptoError) {
        switch req {
        case VTEE_REQ_CRYPTO_OBJ_ALLOC:
            setArg(p, 0, UInt64(try cryptoState.allocateObject(type: u32(p, 0), maxSize: u32(p, 1))))
        case VTEE_REQ_CRYPTO_OBJ_FREE:
            try cryptoState.freeObject(u32(p, 0))
        case VTEE_REQ_CRYPTO_OBJ_RESET:
            try cryptoState.withObject(u32(p, 0)) { $0.reset() }
        case VTEE_REQ_CRYPTO_OBJ_POPULATE:
            let attrs = try attributes(p, count: arg(p, 1))
            try cryptoState.withObject(u32(p, 0)) { (o: inout CryptoObject) throws(TACryptoError) in try o.populate(attrs) }
        case VTEE_REQ_CRYPTO_OBJ_INFO:
            let o = try cryptoState.object(u32(p, 0))
            setArg(p, 1, UInt64(o.type)); setArg(p, 2, UInt64(o.size)); setArg(p, 3, UInt64(o.maxSize))
            setArg(p, 4, UInt64(o.usage)); setArg(p, 5, o.initialized ? 1 : 0)
        case VTEE_REQ_CRYPTO_OBJ_RESTRICT:
            let usage = u32(p, 1)
            try cryptoState.withObject(u32(p, 0)) { $0.usage &= usage }
        case VTEE_REQ_CRYPTO_OBJ_GET_ATTR:
            let at = try cryptoState.object(u32(p, 0)).readable(u32(p, 1), value: arg(p, 2) != 0)
            if at.isValue {
                setArg(p, 1, UInt64(at.a)); setArg(p, 2, UInt64(at.b))
            } else {
                guard UInt64(at.bytes.count) <= arg(p, 3) else { throw .shortBuffer(needed: at.bytes.count) }
                try write(p, at.bytes)
                setArg(p, 1, UInt64(at.bytes.count))
            }
        case VTEE_REQ_CRYPTO_OBJ_COPY:
            try cryptoState.copyObject(dst: u32(p, 0), src: u32(p, 1))
        case VTEE_REQ_CRYPTO_OBJ_GENERATE:
            let params = try attributes(p, count: arg(p, 2))
            try cryptoState.generate(u32(p, 0), bits: Int(u32(p, 1)), params: params)
        case VTEE_REQ_CRYPTO_OP_ALLOC:
            setArg(p, 0, UInt64(try cryptoState.allocateOperation(algorithm: u32(p, 0), mode: u32(p, 1), maxKeySize: u32(p, 2))))
        case VTEE_REQ_CRYPTO_OP_FREE:
            try cryptoState.freeOperation(u32(p, 0))
        case VTEE_REQ_CRYPTO_OP_INFO:
            let op = try cryptoState.operation(u32(p, 0))
            let words = op.info + op.infoMultiple
            try write(p, words.flatMap { w in [UInt8(w & 0xFF), UInt8(w >> 8 & 0xFF), UInt8(w >> 16 & 0xFF), UInt8(w >> 24)] })
            setArg(p, 1, UInt64(words.count))
        case VTEE_REQ_CRYPTO_OP_RESET:
            try cryptoState.resetOperation(u32(p, 0))
        case VTEE_REQ_CRYPTO_OP_SET_KEY:
            try cryptoState.setKey(u32(p, 0), key: u32(p, 1), key2: arg(p, 3) != 0 ? u32(p, 2) : nil)
        case VTEE_REQ_CRYPTO_OP_COPY:
            try cryptoState.copyOperation(dst: u32(p, 0), src: u32(p, 1))
        case VTEE_REQ_CRYPTO_OP_INIT:
            try cryptoState.initialize(u32(p, 0), iv: try bytes(p, count: arg(p, 1)))
        case VTEE_REQ_CRYPTO_AE_INIT:
            guard arg(p, 3) <= UInt64(Int32.max), arg(p, 4) <= UInt64(Int32.max) else { throw .badParameters }
            try cryptoState.aeInit(u32(p, 0), nonce: try bytes(p, count: arg(p, 1)), tagBits: Int(u32(p, 2)),
                                   aadLength: Int(arg(p, 3)), payloadLength: Int(arg(p, 4)))
        case VTEE_REQ_CRYPTO_OP_STEP:
            guard let kind = CryptoStep(rawValue: u32(p, 1)) else { throw .badParameters }
            let inLen = arg(p, 2)
            let input = try bytes(p, count: inLen)
            let compare = kind == .macCompareFinal || kind == .aeDecryptFinal
            let tag = compare ? try bytes(p, offset: inLen, count: arg(p, 4)) : []
            let h = u32(p, 0)
            let out: CryptoOutput
            do {
                out = try cryptoState.step(h, kind, input: input, outCapacity: Int(clamping: arg(p, 3)), tag: tag,
                                           tagCapacity: Int(clamping: arg(p, 4)))
            } catch {
                if case .shortBuffer = error, kind == .aeEncryptFinal { setArg(p, 4, UInt64(cryptoState.tagLength(h))) }
                throw error
            }
            try write(p, out.data)
            try write(p, out.tag, offset: out.data.count)
            setArg(p, 2, UInt64(out.data.count)); setArg(p, 4, UInt64(out.tag.count))
        case VTEE_REQ_CRYPTO_DERIVE:
            let params = try attributes(p, count: arg(p, 2))
            try cryptoState.derive(u32(p, 0), params: params, derived: u32(p, 1))
        case VTEE_REQ_CRYPTO_ASYM:
            let blob = arg(p, 1), inLen = arg(p, 2)
            let params = try attributes(p, count: blob)
            let input = try bytes(p, offset: blob, count: inLen)
            let sig = try bytes(p, offset: blob &+ inLen, count: arg(p, 3))
            let out = try cryptoState.asymmetric(u32(p, 0), params: params, input: input, signature: sig, outCapacity: Int(clamping: arg(p, 4)))
            try write(p, out)
            setArg(p, 2, UInt64(out.count))
        case VTEE_REQ_CRYPTO_RANDOM:
            guard arg(p, 0) <= UInt64(p.requestArea.count) else { throw .badParameters }
            try write(p, secureRandomBytes(Int(arg(p, 0))))
        case VTEE_REQ_CRYPTO_SUPPORTED:
            guard cryptoState.isSupported(algorithm: u32(p, 0), element: u32(p, 1)) else { throw .notSupported }
        default:
            throw .notSupported
        }
    }
}
