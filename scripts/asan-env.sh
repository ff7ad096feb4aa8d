# Sourced by scripts/fuzz.sh and scripts/sanitizers.sh (not run): the ONE AddressSanitizer build,
# scratch path .build-asan, that serves both the libFuzzer targets and the ASan + LSan test suite,
# so CI compiles the package with ASan once instead of twice. Everything carries ASan and the
# coverage instrumentation libFuzzer needs (in the test binary the coverage hooks are the ASan
# runtime's no-op defaults); the fuzz targets themselves link libFuzzer (VTEE_FUZZ=1, Package.swift);
# the C client libraries link without --no-undefined (VTEE_SANITIZE=1, Package.swift).
# Line tables only (SAN_DEBUG_INFO, default -gline-tables-only): reports keep function names and
# file:line, the build skips full debug info; SAN_DEBUG_INFO=-g restores it.
export VTEE_FUZZ=1 VTEE_SANITIZE=1
asan_scratch=.build-asan
asan_debug_info=${SAN_DEBUG_INFO:--gline-tables-only}
asan_build=(swift build --scratch-path "$asan_scratch" -c debug --sanitize=address
            -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table
            -Xswiftc "$asan_debug_info" -Xcc "$asan_debug_info")
