/// The TEEABI fuzz target's body: every decoder over arbitrary bytes must answer a value or a
/// typed error, never trap, and a decoded value must encode back to the bytes it came from.
import FuzzSupport
import TEEABI
#if canImport(Glibc)
import Glibc
#endif

/// One input: the first byte chooses what the rest is fed to.
func teeabiFuzzOne(_ input: [UInt8]) {
    var c = FuzzInput(input)
    switch c.u8() % 5 {
    case 0: msgArg(c.rest)
    case 1: view(c.rest, maxParams: Int(c.u8()))
    case 2: smc(&c)
    case 3: pageList(&c)
    default: values(&c)
    }
}

/// MsgArg.decode: a value or an ABIError; a value encodes back to exactly its bytes.
func msgArg(_ bytes: [UInt8]) {
    for validate in [true, false] {
        let arg: MsgArg
        do { arg = try MsgArg.decode(bytes, validateAttributes: validate) } catch { _ = error.description; continue }
        let again = arg.encoded()
        require(again.count <= bytes.count, "encoded \(again.count) > input \(bytes.count)")
        require(Array(bytes.prefix(again.count)) == again, "decode then encode changed the bytes")
        require((try? MsgArg.decode(again, validateAttributes: validate)) == arg, "re-decode differs")
        _ = arg.description
    }
}

/// MsgArgView over a copy of the bytes: its accessors agree with MsgArg.decode and never trap;
/// load then store into a fresh buffer gives the same bytes.
func view(_ bytes: [UInt8], maxParams: Int) {
    var copy = bytes
    copy.withUnsafeMutableBytes { raw in
        let v: MsgArgView
        do { v = try MsgArgView(raw) } catch {
            require(bytes.count < MsgArg.headerSize, "view refused \(bytes.count) bytes: \(error)")
            return
        }
        for i in [-1, 0, 1, 126, 127, 128, Int.max, Int.min] { _ = v.param(i)?.load() }
        _ = v.rpcArgument(numParams: Int(v.numParams & 0xFF), rpcParams: maxParams & 7)
        let n: Int
        do { n = try v.paramCount(max: maxParams) } catch {
            // The value decoder must refuse it too when it is the ABI's limit that was hit.
            if maxParams >= MsgArg.maxNumParams { require((try? MsgArg.decode(bytes, validateAttributes: false)) == nil, "view refused, decode accepted") }
            return
        }
        require(n <= v.paramCapacity && n <= maxParams, "paramCount \(n) past capacity or max")
        let loaded = v.load(count: n)
        require((try? MsgArg.decode(bytes, maxParams: maxParams, validateAttributes: false)) == loaded, "view and decode disagree")
        let attrsOK = (try? v.validateAttributes(count: n)) != nil
        require(attrsOK == ((try? MsgArg.decode(bytes, maxParams: maxParams, validateAttributes: true)) != nil), "attribute checks disagree")
        if let meta = try? OpenSessionMeta(view: v, count: n) {
            require((try? OpenSessionMeta(params: loaded.params)) == meta, "meta from view and from params disagree")
        }
        var out = [UInt8](repeating: 0xA5, count: loaded.byteSize)
        out.withUnsafeMutableBytes { o in
            guard let w = try? MsgArgView(o) else { require(false, "no view over \(loaded.byteSize) bytes"); return }
            do { try w.store(loaded) } catch { require(false, "store of a loaded arg failed: \(error)") }
        }
        require(out == Array(bytes.prefix(loaded.byteSize)), "load then store changed the bytes")
    }
}

/// SMCCall(frame:): a call or an ABIError; a call's frame decodes to the same call.
func smc(_ c: inout FuzzInput) {
    var f = RegisterFrame()
    for i in 0..<8 { f[i] = c.u64() }
    if c.u8() & 1 == 0 { f.a0 &= 0xFFFF_FFFF }
    _ = ABIValueDecoder.decode(frame: f).text
    guard let call = try? SMCCall(frame: f) else { return }
    let again = call.frame(clientID: f.a7)
    require((try? SMCCall(frame: again)) == call, "SMC call does not survive frame(): \(call)")
    require((try? RegisterFrame(bytes: f.bytes)) == f, "register frame bytes round trip")
    _ = call.summary
}

/// PageList.walk over list pages cut from the input: a page list or a typed error, bounded.
func pageList(_ c: inout FuzzInput) {
    let count = Int(c.u8()) * 4 + Int(c.u8() & 3)
    let first = c.u64() & 0x7000
    let pages = c.rest
    var seen = 0
    do {
        try PageList.walk(first: first, pageCount: count, maxPages: 600, readListPage: { (address, scratch) throws(ABIError) in
            let page = Int(address >> 12)
            guard page < 8 else { throw .misaligned(address: address, alignment: 4096) }
            for i in 0..<scratch.count {
                let k = page * 4096 + i
                scratch[i] = k < pages.count ? pages[k] : UInt8(truncatingIfNeeded: k &* 31)
            }
        }, visit: { (i, address) throws(ABIError) in
            require(i == seen && address & 0xFFF == 0, "walker visited \(i) / \(address)")
            seen += 1
        })
        require(seen == count, "walk ended after \(seen) of \(count)")
    } catch {
        _ = error
    }
}

/// The value decoder: any raw value of any kind prints.
func values(_ c: inout FuzzInput) {
    let raw = c.u64()
    for kind in ABIValueKind.allCases { _ = ABIValueDecoder.decode(raw, as: kind).description }
    if let s = String(validating: c.rest.prefix(40), as: UTF8.self) { _ = ABIValueDecoder.parseInteger(s) }
}
