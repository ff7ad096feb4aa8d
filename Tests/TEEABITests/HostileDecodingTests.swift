/// Hostile input: random and truncated buffers, too many params, stray attributes, sizes
/// whose sum overflows. Every decoder must return a value or a typed error, never trap,
/// and encode(decode(x)) == x for every valid x.
import Testing
import TEEABI

/// Valid attrs a random param may carry.
let validAttrs: [MsgAttr] = MsgParamType.allCases.flatMap { t -> [MsgAttr] in
    var a = [MsgAttr(t), MsgAttr(t, meta: true), MsgAttr(t, cache: 5)]
    if t.isTmem { a.append(MsgAttr(t, noncontig: true)) }
    return a
}

func randomBytes<G: RandomNumberGenerator>(_ n: Int, _ g: inout G) -> [UInt8] {
    (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
}

func randomValidArg<G: RandomNumberGenerator>(_ g: inout G, maxParams: Int = 8) -> MsgArg {
    let n = Int.random(in: 0...maxParams, using: &g)
    let params = (0..<n).map { _ in
        MsgParam(attr: validAttrs.randomElement(using: &g) ?? MsgAttr(.none),
                 a: UInt64.random(in: 0...UInt64.max, using: &g), b: UInt64.random(in: 0...UInt64.max, using: &g),
                 c: UInt64.random(in: 0...UInt64.max, using: &g))
    }
    return MsgArg(cmd: MsgCommand(rawValue: UInt32.random(in: 0...UInt32.max, using: &g)),
                  function: UInt32.random(in: 0...UInt32.max, using: &g), session: UInt32.random(in: 0...UInt32.max, using: &g),
                  cancelID: UInt32.random(in: 0...UInt32.max, using: &g), pad: UInt32.random(in: 0...UInt32.max, using: &g),
                  ret: TEEResult(rawValue: UInt32.random(in: 0...UInt32.max, using: &g)),
                  retOrigin: TEEOrigin(rawValue: UInt32.random(in: 0...UInt32.max, using: &g)), params: params)
}

/// Puts `n` into the num_params word of an encoded header.
func setNumParams(_ b: inout [UInt8], _ n: UInt32) { for i in 0..<4 { b[28 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt32(i))) } }

@Suite struct HostileDecoding {
    @Test func thousandsOfRandomBuffersDecodeToAValueOrATypedError() {
        var g = SplitMix(seed: 1)
        var decoded = 0, failed = 0
        for i in 0..<6000 {
            var b = randomBytes(Int.random(in: 0...400, using: &g), &g)
            // Half the inputs get a small num_params so that some get past the header check.
            if i % 2 == 0, b.count >= 32 { setNumParams(&b, UInt32.random(in: 0...12, using: &g)) }
            do {
                let arg = try MsgArg.decode(b)
                decoded += 1
                #expect(arg.byteSize <= b.count)
                #expect(arg.encoded() == Array(b[..<arg.byteSize]))   // decode then encode gives the same bytes
                #expect(arg.params.allSatisfy { $0.attr.isWellFormed })
            } catch {
                failed += 1
                switch error {
                case let .truncated(needed, available): #expect(needed > available && available == b.count)
                case let .tooManyParams(count, maximum): #expect(Int(count) > maximum)
                case let .unknownAttribute(index, attr): #expect(!MsgAttr(rawValue: attr).isWellFormed && index >= 0)
                default: Issue.record("unexpected error \(error)")
                }
            }
        }
        #expect(decoded > 0 && failed > 0)
    }

    @Test func randomBuffersWithoutAttributeValidationStillNeverTrap() {
        var g = SplitMix(seed: 2)
        for _ in 0..<3000 {
            var b = randomBytes(Int.random(in: 0...300, using: &g), &g)
            if b.count >= 32 { setNumParams(&b, UInt32.random(in: 0...9, using: &g)) }
            if let arg = try? MsgArg.decode(b, validateAttributes: false) {
                #expect(arg.encoded() == Array(b[..<arg.byteSize]))
            }
        }
    }

    @Test func everyTruncationOfAValidArgumentIsReportedAsTruncated() throws {
        var g = SplitMix(seed: 3)
        for _ in 0..<40 {
            let arg = randomValidArg(&g, maxParams: 5)
            let b = arg.encoded()
            for cut in 0..<b.count {
                #expect(throws: ABIError.truncated(needed: cut < 32 ? 32 : b.count, available: cut)) {
                    try MsgArg.decode(Array(b[..<cut]))
                }
            }
            #expect(try MsgArg.decode(b) == arg)
        }
    }

    @Test func numParamsAboveTheMaximumIsRejectedBeforeAnyParamIsRead() {
        for n: UInt32 in [128, 129, 4096, 0x8000_0000, UInt32.max] {
            var b = [UInt8](repeating: 0, count: 32)
            setNumParams(&b, n)
            #expect(throws: ABIError.tooManyParams(count: n, maximum: 127)) { try MsgArg.decode(b) }
        }
        // A caller's tighter bound (an RPC argument sized for 4 params) applies too.
        var b = MsgArg(cmd: .invokeCommand, params: Array(repeating: .none, count: 5)).encoded()
        #expect(throws: ABIError.tooManyParams(count: 5, maximum: 4)) { try MsgArg.decode(b, maxParams: 4) }
        // 127 params decode: exactly one page.
        b = MsgArg(cmd: .invokeCommand, params: Array(repeating: .none, count: 127)).encoded()
        #expect(b.count == 4096)
        #expect((try? MsgArg.decode(b))?.params.count == 127)
        // A maximum above the ABI's is clamped to it.
        var big = [UInt8](repeating: 0, count: 32 + 32 * 128)
        setNumParams(&big, 128)
        #expect(throws: ABIError.tooManyParams(count: 128, maximum: 127)) { try MsgArg.decode(big, maxParams: 1000) }
    }

    @Test func undefinedTypesStrayBitsAndMisplacedNoncontigAreUnknownAttributes() {
        let bad: [UInt64] = [4, 8, 12, 0xFF, 0x400, 1 << 19, 1 << 63, MsgAttr(.valueInput).rawValue | MsgAttr.noncontigBit,
                             MsgAttr(.rmemInput).rawValue | MsgAttr.noncontigBit]
        for attr in bad {
            var p = MsgArg(cmd: .invokeCommand, params: [.value(.valueInput), .none]).encoded()
            for i in 0..<8 { p[64 + i] = UInt8(truncatingIfNeeded: attr >> (8 * UInt64(i))) }
            #expect(throws: ABIError.unknownAttribute(index: 1, attr: attr)) { try MsgArg.decode(p) }
        }
        for a in validAttrs { #expect(a.isWellFormed, "\(a)") }
    }

    @Test func validArgumentsRoundTripThroughEncodeAndDecode() throws {
        var g = SplitMix(seed: 4)
        for _ in 0..<2000 {
            let arg = randomValidArg(&g)
            #expect(try MsgArg.decode(arg.encoded()) == arg)
        }
        // encode(into:) refuses a short buffer and writes the same bytes otherwise.
        let arg = randomValidArg(&g, maxParams: 3)
        var out = [UInt8](repeating: 0xEE, count: arg.byteSize + 8)
        let n = try out.withUnsafeMutableBytes { try arg.encode(into: $0) }
        #expect(n == arg.byteSize && Array(out[..<n]) == arg.encoded() && out[n] == 0xEE)
        var short = [UInt8](repeating: 0, count: arg.byteSize - 1)
        #expect(throws: ABIError.truncated(needed: arg.byteSize, available: arg.byteSize - 1)) {
            try short.withUnsafeMutableBytes { try arg.encode(into: $0) }
        }
    }

    @Test func pageCountOfOffsetPlusSizeDetectsOverflow() throws {
        #expect(try PageList.pageCount(offset: 0, size: 0) == 0)
        #expect(try PageList.pageCount(offset: 0, size: 1) == 1)
        #expect(try PageList.pageCount(offset: 0, size: 4096) == 1)
        #expect(try PageList.pageCount(offset: 0x10, size: 4096) == 2)
        #expect(try PageList.pageCount(offset: 0xFFF, size: 2) == 2)
        // Only the low 12 bits of the offset count (buf_ptr carries the list page address above them).
        #expect(try PageList.pageCount(offset: 0xABCD_E010, size: 4096) == 2)
        for (off, size) in [(UInt64(0xFFF), UInt64.max), (1, UInt64.max), (0, UInt64.max - 100), (0, UInt64.max - 4094),
                            (0, UInt64(Int32.max) * 4096 + 4097)] {
            #expect(throws: ABIError.sizeOverflow) { try PageList.pageCount(offset: off, size: size) }
        }
        var g = SplitMix(seed: 5)
        for _ in 0..<5000 {
            let off = UInt64.random(in: 0...UInt64.max, using: &g), size = UInt64.random(in: 0...UInt64.max, using: &g) >> UInt64.random(in: 0...63, using: &g)
            if let n = try? PageList.pageCount(offset: off, size: size) {
                #expect(UInt64(n) * 4096 >= (off & 0xFFF) + size)
                #expect(n == 0 || UInt64(n - 1) * 4096 < (off & 0xFFF) + size)
            }
        }
    }

    @Test func registerFramesRoundTripThroughBytesAndShortInputIsTruncated() throws {
        var g = SplitMix(seed: 6)
        for _ in 0..<2000 {
            var f = RegisterFrame()
            for i in 0..<8 { f[i] = UInt64.random(in: 0...UInt64.max, using: &g) }
            #expect(try RegisterFrame(bytes: f.bytes) == f)
        }
        for n in [0, 1, 8, 63] {
            #expect(throws: ABIError.truncated(needed: 64, available: n)) { try RegisterFrame(bytes: [UInt8](repeating: 1, count: n)) }
        }
        var f = RegisterFrame()
        f[8] = 5; f[-1] = 5
        #expect(f == RegisterFrame() && f[8] == 0 && f[-1] == 0)   // out-of-range registers are ignored, not traps
        #expect(RegisterFrame.join(0xFFFF_FFFF_1234_5678, 0xFFFF_FFFF_9ABC_DEF0) == 0x1234_5678_9ABC_DEF0)
        let (h, l) = RegisterFrame.split(0x1234_5678_9ABC_DEF0)
        #expect(h == 0x1234_5678 && l == 0x9ABC_DEF0)
    }

    @Test func listPageDecodeRejectsShortBuffersAndClampsTheCount() throws {
        for n in [0, 8, 4088, 4095] {
            let b = [UInt8](repeating: 0, count: n)
            #expect(throws: ABIError.truncated(needed: 4096, available: n)) { try b.withUnsafeBytes { try PageList.Page.decode($0, count: 1) } }
        }
        let b = PageList.Page(entries: [0x1000, 0x2000], next: 0x5000).encoded()
        for c in [-5, 0, 2, 511, 512, Int.max] {
            let p = try b.withUnsafeBytes { try PageList.Page.decode($0, count: c) }
            #expect(p.entries.count == min(max(c, 0), 511))
            #expect(p.next == 0x5000)
        }
    }

    @Test func malformedUUIDStringsAreBadUUIDAndRandomStringsNeverTrap() {
        for s in ["", "0", "384fb3e0e7f811e3af630002a5d5c51b", "384fb3e0-e7f8-11e3-af63-0002a5d5c51", "384fb3e0-e7f8-11e3-af63-0002a5d5c51bb",
                  "384fb3e0+e7f8-11e3-af63-0002a5d5c51b", "g84fb3e0-e7f8-11e3-af63-0002a5d5c51b", "384fb3e0-e7f8-11e3-af6-30002a5d5c51b",
                  "384fb3e0-e7f8-11e3-af63-0002a5d5c5é"] {
            #expect(throws: ABIError.badUUID(s)) { try TEEUUID(s) }
        }
        var g = SplitMix(seed: 7)
        let alphabet = Array("0123456789abcdefABCDEF-xyz é")
        for _ in 0..<3000 {
            let s = String((0..<Int.random(in: 30...40, using: &g)).map { _ in alphabet.randomElement(using: &g) ?? "-" })
            if let u = try? TEEUUID(s) { #expect(u.description == s.lowercased()) }
        }
        #expect(TEEUUID(octets: [1, 2]).octets.count == 16)
        #expect(TEEUUID(octets: [UInt8](repeating: 7, count: 40)).octets.count == 16)
        #expect(TEEUUID(teecUUIDBytes: [1]).octets.count == 16)
    }

    @Test func openSessionMetaRejectsMissingOrWrongMetaParams() throws {
        let meta = OpenSessionMeta(ta: .opteeOS, client: .zero, login: .public)
        #expect(try OpenSessionMeta(params: meta.params) == meta)
        #expect(throws: ABIError.badMeta(index: 0)) { try OpenSessionMeta(params: []) }
        #expect(throws: ABIError.badMeta(index: 1)) { try OpenSessionMeta(params: [meta.params[0]]) }
        var p = meta.params
        p[0].attr = MsgAttr(.valueInput)
        #expect(throws: ABIError.badMeta(index: 0)) { try OpenSessionMeta(params: p) }
        p = meta.params
        p[1].attr = MsgAttr(.valueInout, meta: true)
        #expect(throws: ABIError.badMeta(index: 1)) { try OpenSessionMeta(params: p) }
    }

    @Test func everyDecoderKindIsTotalOverRandomNumbers() {
        var g = SplitMix(seed: 8)
        for _ in 0..<3000 {
            let raw = UInt64.random(in: 0...UInt64.max, using: &g) >> UInt64.random(in: 0...63, using: &g)
            for kind in ABIValueKind.allCases {
                let d = ABIValueDecoder.decode(raw, as: kind)
                #expect(d.raw == raw && !d.text.isEmpty)
            }
        }
    }
}

/// Deterministic generator for the hostile tests (the failing seed is reproducible).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
