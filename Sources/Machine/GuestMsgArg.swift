/// OPTEE_MSG arguments straight between guest RAM and the codec: encoded and decoded through one
/// stack buffer, with no heap byte array per call (a std call does both on every call).
import TEEABI

/// Why an argument could not be moved between guest RAM and the codec.
public enum GuestArgError: Error, Equatable {
    /// The guest access failed (unmapped, read-only, foreign page).
    case memory(MemoryError)
    /// The bytes did not decode (or the argument did not encode).
    case codec(ABIError)
}

extension GuestAddressSpace {
    /// Encodes `arg` and writes it at `ipa` (all pages checked before the first byte is written).
    public func writeArg(_ arg: MsgArg, at ipa: IPA) throws(GuestArgError) {
        let r: Result<Void, GuestArgError> = withUnsafeTemporaryAllocation(byteCount: arg.byteSize, alignment: 8) { tmp in
            do throws(ABIError) { _ = try arg.encode(into: tmp) } catch { return .failure(.codec(error)) }
            // Sound: tmp is valid for byteSize bytes for the closure's duration.
            do throws(MemoryError) { try write(ipa, from: UnsafeRawBufferPointer(tmp)) } catch { return .failure(.memory(error)) }
            return .success(())
        }
        try r.get()
    }

    /// Reads `byteCount` bytes at `ipa` once and decodes them as an argument of at most `maxParams`.
    public func readArg(at ipa: IPA, byteCount: Int, maxParams: Int, validateAttributes: Bool) throws(GuestArgError) -> MsgArg {
        guard byteCount >= 0 else { throw .memory(.overflow) }
        let r: Result<MsgArg, GuestArgError> = withUnsafeTemporaryAllocation(byteCount: byteCount, alignment: 8) { tmp in
            do throws(MemoryError) { try read(ipa, into: tmp) } catch { return .failure(.memory(error)) }
            do throws(ABIError) {
                return .success(try MsgArg.decode(UnsafeRawBufferPointer(tmp), maxParams: maxParams, validateAttributes: validateAttributes))
            } catch { return .failure(.codec(error)) }
        }
        return try r.get()
    }
}
