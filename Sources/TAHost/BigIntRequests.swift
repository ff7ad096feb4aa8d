// The TEE_BigInt requests of a TA process (VTEE_REQ_BIGINT_*, 70..89): operands decoded from the
// request area as the channel header lays them out, computed by TACrypto.BigIntArith, results
// written back. Every length comes from the TA process and is checked first. Secure world.
import TAChannel
import TACrypto
import TEEABI

extension ProcessTA {
    /// Serves one arithmetic request; refusals are BAD_PARAMETERS (libvteeta panics the TA), an
    /// even ExpMod modulus NOT_SUPPORTED.
    func bigInt(_ p: TAProcess, _ req: Int) {
        guard let op = BigIntOperation(rawValue: UInt32(truncatingIfNeeded: req)) else { reply(p, .notSupported); return }
        var operands: [WireBigInt] = []
        var offset = 0
        for i in 0..<op.operandCount {
            let d = arg(p, Int32(i))
            let len = d & 0xFFFF_FFFF
            guard len <= UInt64(BigIntArith.maxOperandBytes), let bytes = requestBytes(p, offset: offset, count: len) else {
                reply(p, .badParameters); return
            }
            operands.append(WireBigInt(negative: d & VTEE_BIGINT_NEGATIVE != 0, magnitude: bytes))
            offset += bytes.count
        }
        do {
            let (values, scalar) = try BigIntArith.compute(op, wire: operands, scalar: arg(p, 6))
            var out = 0
            for (j, v) in values.enumerated() {
                guard writeRequestBytes(p, v.magnitude, offset: out) else { reply(p, .outOfMemory); return }
                setArg(p, Int32(j), UInt64(v.magnitude.count) | (v.negative ? VTEE_BIGINT_NEGATIVE : 0))
                out += v.magnitude.count
            }
            setArg(p, 7, scalar)
            reply(p, .success)
        } catch {
            reply(p, error == .evenModulus ? .notSupported : .badParameters)
        }
    }
}
