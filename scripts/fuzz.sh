#!/usr/bin/env bash
# Runs one libFuzzer target (an executable target whose name ends in Fuzz) for SECONDS on its
# committed seed corpus (Fuzz/<TARGET>/seeds, read only) plus a working corpus under
# .build-asan/corpus/<TARGET>. The targets live in the shared AddressSanitizer build (.build-asan,
# scripts/asan-env.sh: the fuzz target itself with -sanitize=fuzzer,address, everything else with
# ASan and coverage instrumentation; the ASan test suite runs from the same build).
# Exits non-zero on any crash, leak, timeout or sanitizer report.
# Usage: scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags...]
#        scripts/fuzz.sh --list            (the fuzz targets)
#        scripts/fuzz.sh --build           (builds every target, then FUZZ_NO_BUILD=1 runs them)
#        scripts/fuzz.sh --all SECONDS     (every target, FUZZ_JOBS (default 2) at a time, from the
#                                           last build; fails if any one fails; logs in .build-asan/artifacts)
#        FUZZ_NO_BUILD=1 scripts/fuzz.sh ...   (reuse the last build)
#        FUZZ_TIMEOUT=S (default 30): one input running longer is a failure (raise it on a loaded host)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets() { sed -nE 's/.*executableTarget\(name: "([A-Za-z0-9]+Fuzz)".*/\1/p' Package.swift; }
if [[ "${1:-}" == "--list" ]]; then targets; exit 0; fi
source scripts/asan-env.sh
scratch=$asan_scratch
build=("${asan_build[@]}")
if [[ "${1:-}" == "--build" ]]; then
    for t in $(targets); do "${build[@]}" --product "$t"; done
    exit 0
fi
if [[ "${1:-}" == "--all" ]]; then
    [[ $# -eq 2 ]] || { echo "usage: $0 --all SECONDS" >&2; exit 2; }
    mkdir -p "$scratch/artifacts"
    # Each target's output goes to its own file (parallel runs would interleave); its last line
    # (executions, exit) is printed, and the whole output of a failing one.
    # shellcheck disable=SC2016
    targets | FUZZ_NO_BUILD=1 xargs -P "${FUZZ_JOBS:-2}" -I'{}' bash -c '
        out=$0/artifacts/$1.out
        if scripts/fuzz.sh "$1" "$2" > "$out" 2>&1; then tail -1 "$out"; else cat "$out"; echo "fuzz $1: FAILED" >&2; exit 1; fi
    ' "$scratch" '{}' "$2"
    exit 0
fi
if [[ $# -lt 2 ]]; then echo "usage: $0 TARGET SECONDS [libFuzzer flags]  (targets: $(targets | tr '\n' ' '))" >&2; exit 2; fi
target=$1; seconds=$2; shift 2
targets | grep -qx "$target" || { echo "no fuzz target $target (have: $(targets | tr '\n' ' '))" >&2; exit 2; }

if [[ -z "${FUZZ_NO_BUILD:-}" ]]; then
    "${build[@]}" --product "$target"
fi
bin=$("${build[@]}" --show-bin-path)/$target
work=$scratch/corpus/$target
artifacts=$scratch/artifacts/$target/
mkdir -p "$work" "$artifacts"
seeds=Fuzz/$target/seeds
[[ -d "$seeds" ]] || seeds=

# A real crash is followed by a false ASan report unless the Swift backtracer is off (SWIFT-NOTES).
# -error_exitcode: any sanitizer report or crash fails the run; leaks are detected at exit.
log=$scratch/artifacts/$target.log
set +e
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
    "$bin" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-30}" -rss_limit_mb=2048 -error_exitcode=77 \
    -artifact_prefix="$artifacts" -print_final_stats=1 "$@" "$work" $seeds 2>&1 | tee "$log" | grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse)' 
rc=${PIPESTATUS[0]}
set -e
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
echo "fuzz $target: exit $rc, ${execs:-0} executions in ${seconds}s ($(date -u +%FT%TZ))"
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY: .*Sanitizer|invariant broken' "$log"; then
    echo "fuzz $target: sanitizer or invariant report (see $log, inputs in $artifacts)" >&2
    exit 1
fi
exit "$rc"
