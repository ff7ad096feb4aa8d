// libFuzzer entry of TEEDeviceFuzz: the shared driver (FuzzSupport) runs teeDeviceFuzzOne on each input.
// scripts/fuzz.sh builds it with VTEE_FUZZ (libFuzzer linked); a plain build only says how to run it.
import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif

exit(runFuzzTarget("TEEDeviceFuzz", teeDeviceFuzzOne))
