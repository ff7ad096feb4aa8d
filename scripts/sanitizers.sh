#!/usr/bin/env bash
# Runs the test suite under a sanitizer, each in its own scratch path (VTEE_SANITIZE=1: the C
# client libraries link without --no-undefined; their C test programs load the plain build's
# libraries from VTEE_CLIENT_LIBS, default .build/debug, while the daemon in the test process stays
# sanitized). Fails on a failing test and on any sanitizer report, even one a test survived.
# Usage: scripts/sanitizers.sh thread    ThreadSanitizer over the concurrent suites (TSAN_SUITES)
#        scripts/sanitizers.sh address   AddressSanitizer + LeakSanitizer over the whole suite
#        SAN_STEP=build|test             only that half (CI times them apart)
# Suppressions (each narrow, with its reason): scripts/tsan.supp, scripts/asan.supp, scripts/lsan.supp.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kind=${1:-}
export VTEE_SANITIZE=1 SWIFT_BACKTRACE=enable=no
export VTEE_CLIENT_LIBS=${VTEE_CLIENT_LIBS:-$(pwd)/.build/debug}
case "$kind" in
    thread)
        scratch=.build-tsan
        filter=(--filter "${TSAN_SUITES:-TransportTests|MachineTests|MediatorTests|NormalWorldTests|VTEEDaemonTests}")
        export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:print_suppressions=1:suppressions=$(pwd)/scripts/tsan.supp"
        ;;
    address)
        scratch=.build-asan
        filter=()
        export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:suppressions=$(pwd)/scripts/asan.supp"
        export LSAN_OPTIONS="print_suppressions=1:suppressions=$(pwd)/scripts/lsan.supp"
        ;;
    *) echo "usage: $0 thread|address" >&2; exit 2 ;;
esac

if [[ "${SAN_STEP:-}" != test ]]; then
    swift build --build-tests --scratch-path "$scratch" --sanitize="$kind"
fi
[[ "${SAN_STEP:-}" == build ]] && exit 0
[[ -f "$VTEE_CLIENT_LIBS/libteec.so" ]] || { echo "no plain libteec.so in $VTEE_CLIENT_LIBS (run swift build first)" >&2; exit 2; }

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
