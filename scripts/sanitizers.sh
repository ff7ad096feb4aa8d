#!/usr/bin/env bash
# Runs the test suite under a sanitizer, each in its own scratch path (VTEE_SANITIZE=1: the C
# client libraries link without --no-undefined; their C test programs load the plain build's
# libraries from VTEE_CLIENT_LIBS, default .build/debug, while the daemon in the test process stays
# sanitized). Fails on a failing test and on any sanitizer report, even one a test survived.
# Usage: scripts/sanitizers.sh thread    ThreadSanitizer over the concurrent suites (TSAN_SUITES)
#        scripts/sanitizers.sh address   AddressSanitizer + LeakSanitizer over the whole suite
#        SAN_STEP=build|test             only that half (CI times them apart)
# Suppressions (each narrow, with its reason): scripts/tsan.supp, scripts/asan.supp, scripts/lsan.supp.
# Both builds carry line tables only (-gline-tables-only): reports keep function names and
# file:line (what a report needs), the build skips full debug info (SAN_DEBUG_INFO=-g restores it).
# The TSan build compiles only what its suites run: the test product and the vtee executable the
# daemon tests spawn (not the benchmarks, fuzz targets or the C client libraries). The ASan build
# is shared with the fuzz targets (scripts/asan-env.sh): one ASan compile of the package, not two.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kind=${1:-}
export VTEE_SANITIZE=1 SWIFT_BACKTRACE=enable=no
export VTEE_CLIENT_LIBS=${VTEE_CLIENT_LIBS:-$(pwd)/.build/debug}
case "$kind" in
    thread)
        scratch=.build-tsan
        filter=(--filter "${TSAN_SUITES:-TransportTests|MachineTests|MediatorTests|NormalWorldTests|VTEEDaemonTests}")
        products=(vteePackageTests vtee)
        export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:print_suppressions=1:suppressions=$(pwd)/scripts/tsan.supp"
        ;;
    address)
        source scripts/asan-env.sh  # the build the fuzz targets share
        scratch=$asan_scratch
        filter=()
        products=()
        export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:suppressions=$(pwd)/scripts/asan.supp"
        export LSAN_OPTIONS="print_suppressions=1:suppressions=$(pwd)/scripts/lsan.supp"
        ;;
    *) echo "usage: $0 thread|address" >&2; exit 2 ;;
esac

debug_info=${SAN_DEBUG_INFO:--gline-tables-only}
if [[ "$kind" == address ]]; then
    build=("${asan_build[@]}")
else
    build=(swift build --scratch-path "$scratch" --sanitize="$kind" -Xswiftc "$debug_info" -Xcc "$debug_info")
fi
if [[ "${SAN_STEP:-}" != test ]]; then
    if [[ ${#products[@]} -gt 0 ]]; then
        for p in "${products[@]}"; do "${build[@]}" --product "$p"; done
    else
        "${build[@]}" --build-tests
    fi
fi
[[ "${SAN_STEP:-}" == build ]] && exit 0
[[ -f "$VTEE_CLIENT_LIBS/libteec.so" ]] || { echo "no plain libteec.so in $VTEE_CLIENT_LIBS (run swift build first)" >&2; exit 2; }

if [[ "$kind" == thread ]]; then
    # TSan must see Synchronization.Mutex as a lock (Sources/CShim/tsan_mutex.c, no blanket
    # suppression): the test binary carries the hook, a correct Mutex program runs clean, and a
    # racy one (two Mutexes, one shared counter) is still reported.
    chk=$scratch/tsan-mutex-check
    mkdir -p "$chk"
    nm "$scratch/debug/vteePackageTests.xctest" | grep ' T \$s15Synchronization12_MutexHandleV9_lockSlow' > /dev/null \
        || { echo "sanitizers (thread): the test binary lacks the Mutex hook of Sources/CShim/tsan_mutex.c" >&2; exit 1; }
    clang -std=c11 -Wall -Wextra -Werror -fsanitize=thread -c Sources/CShim/tsan_mutex.c -o "$chk/hook.o"
    swiftc -sanitize=thread -gline-tables-only scripts/tsan-mutex-repro.swift "$chk/hook.o" -o "$chk/repro"
    if ! "$chk/repro" > "$chk/clean.log" 2>&1 || grep -q 'WARNING: ThreadSanitizer' "$chk/clean.log"; then
        echo "sanitizers (thread): TSan does not see Mutex as a lock (see $chk/clean.log)" >&2; exit 1
    fi
    if "$chk/repro" race > "$chk/race.log" 2>&1 || ! grep -q 'WARNING: ThreadSanitizer' "$chk/race.log"; then
        echo "sanitizers (thread): TSan missed the race of scripts/tsan-mutex-repro.swift race (see $chk/race.log)" >&2; exit 1
    fi
    echo "sanitizers (thread): Mutex seen as a lock; the control race is reported"
fi

log=$scratch/sanitizer-$kind.log
set +e
swift test --skip-build --scratch-path "$scratch" --sanitize="$kind" ${filter[@]+"${filter[@]}"} 2>&1 | tee "$log" | grep -E '✘|Sanitizer|^SUMMARY|Test run with|Executed [0-9]+ tests'
rc=${PIPESTATUS[0]}
set -e
if grep -qE 'WARNING: ThreadSanitizer|ERROR: (Address|Leak|Thread)Sanitizer|SUMMARY: [A-Za-z]+Sanitizer' "$log"; then
    echo "sanitizers ($kind): a sanitizer report (see $log)" >&2
    exit 1
fi
echo "sanitizers ($kind): exit $rc ($(date -u +%FT%TZ))"
exit "$rc"
