// libFuzzer entry of WireFuzz. scripts/fuzz.sh builds it with VTEE_FUZZ (libFuzzer linked, this
// main hands control to libFuzzer's driver); a plain build makes an executable that only says so.
// (SwiftPM gives executables its own `main`, so libFuzzer's main is never linked in: we call
// LLVMFuzzerRunDriver ourselves.)
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { wireFuzzOne([]); return 0 }
    wireFuzzOne(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if VTEE_FUZZ
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Hands argv to libFuzzer (a function, so the callback touches no main-actor globals).
func runFuzzer() -> CInt {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOne)
}
exit(runFuzzer())
#else
print("WireFuzz: a libFuzzer target; run it with scripts/fuzz.sh WireFuzz SECONDS")
#endif
