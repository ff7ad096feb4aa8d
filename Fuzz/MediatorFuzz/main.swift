// libFuzzer entry of MediatorFuzz: the shared driver (FuzzSupport) runs mediatorFuzzOne on each input.
// scripts/fuzz.sh builds it with VTEE_FUZZ (libFuzzer linked); a plain build only says how to run it.
import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif

exit(runFuzzTarget("MediatorFuzz", mediatorFuzzOne))
