// libFuzzer entry of SupplicantFuzz: the shared driver (FuzzSupport) runs supplicantFuzzOne on each input.
// scripts/fuzz.sh builds it with VTEE_FUZZ (libFuzzer linked); a plain build only says how to run it.
import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif

exit(runFuzzTarget("SupplicantFuzz", supplicantFuzzOne))
