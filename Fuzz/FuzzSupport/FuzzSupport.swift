/// FuzzSupport: the one libFuzzer driver every vtee fuzz target shares (host-side test tooling,
/// no world of its own): the entry into libFuzzer, the invariant check that stops a run with the
/// target's name, and a little-endian cursor over the input. A target's main.swift is one call:
/// `exit(runFuzzTarget("NameFuzz", nameFuzzOne))`.
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The running target: its name (for messages) and its body (one input).
struct FuzzTarget: Sendable {
    let name: String
    let body: @Sendable ([UInt8]) -> Void
}
let current = Mutex<FuzzTarget?>(nil)

/// Feeds one input to the registered target (the callback libFuzzer calls; no captures, so it is a C function).
func feed(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let target = current.withLock({ $0 }) else { return 0 }
    // Sound: libFuzzer hands `size` readable bytes at `data` for the duration of the call; we copy them.
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    target.body(bytes)
    return 0
}

/// libFuzzer's per-input entry, for a driver that looks the symbol up (ours passes `feed` directly).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { feed(data, size) }

#if VTEE_FUZZ
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

/// Runs target `name` under libFuzzer with this process's arguments and returns its exit status.
/// SwiftPM links its own `main` into executables, so libFuzzer's main never is: we call
/// LLVMFuzzerRunDriver. A build without VTEE_FUZZ (no libFuzzer linked) only says how to run it.
public func runFuzzTarget(_ name: String, _ body: @escaping @Sendable ([UInt8]) -> Void) -> CInt {
    current.withLock { $0 = FuzzTarget(name: name, body: body) }
    #if VTEE_FUZZ
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in feed(data, size) }
    #else
    print("\(name): a libFuzzer target; run it with scripts/fuzz.sh \(name) SECONDS")
    return 0
    #endif
}

/// Stops the fuzzer with "<target> invariant broken: <what>" when an invariant does not hold
/// (scripts/fuzz.sh fails a run on that line; libFuzzer keeps the input as a crash artifact).
public func require(_ ok: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !ok() {
        let name = current.withLock { $0?.name } ?? "fuzz"
        let text = Array("\(name) invariant broken: \(what())\n".utf8)
        _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        abort()
    }
}

/// A little-endian cursor over the fuzzer's bytes: answers zero past the end, so every input is a
/// complete program of whatever the target builds from it.
public struct FuzzInput: Sendable {
    /// The whole input.
    public let bytes: [UInt8]
    /// The next byte to read.
    public var index = 0
    /// A cursor at the start of `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    /// True when every byte has been read.
    public var atEnd: Bool { index >= bytes.count }
    /// The next byte (0 past the end).
    public mutating func u8() -> UInt8 { defer { index += 1 }; return index < bytes.count ? bytes[index] : 0 }
    /// The next two bytes, little-endian.
    public mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    /// The next four bytes, little-endian.
    public mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    /// The next eight bytes, little-endian.
    public mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
    /// The next `n` bytes (zero-filled past the end).
    public mutating func take(_ n: Int) -> [UInt8] { (0..<max(0, n)).map { _ in u8() } }
    /// What is left, without moving.
    public var rest: [UInt8] { index < bytes.count ? Array(bytes[index...]) : [] }
}
