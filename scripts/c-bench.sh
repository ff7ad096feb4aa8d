#!/usr/bin/env bash
# c_invoke_ns: a NOP invoke from a C client through vtee's libteec.so, against a daemon.
# Usage: scripts/c-bench.sh [BUILD_DIR] [CALLS]
#   BUILD_DIR: where libteec.so and vtee are (default .build/release; build them with
#              `swift build -c release --product teec --product vtee`).
# Starts `vtee serve` on a private socket, builds Benchmarks/CClients/teec_nop_bench.c with cc
# against the installed library, runs it and prints its JSON line:
#   {"c_invoke_ns": <median>, "c_invoke_p99_ns": <p99>, "calls": N}
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/.build/release}"
calls="${2:-2000}"
work="$(mktemp -d /tmp/vtee-cbench.XXXXXX)"
trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
"$root/scripts/install-libteec.sh" "$work/prefix" "$build" >/dev/null
cc -std=c11 -O2 -Wall -Wextra -I "$work/prefix/include" "$root/Benchmarks/CClients/teec_nop_bench.c" \
   -L "$work/prefix/lib" -lteec -Wl,-rpath,"$work/prefix/lib" -o "$work/teec_nop_bench"
"$build/vtee" serve --socket "$work/s" --storage "$work/store" >/dev/null 2>&1 &
daemon=$!
for _ in $(seq 1 200); do [[ -S "$work/s" ]] && break; sleep 0.05; done
VTEE_SOCKET="$work/s" VTEE_STORAGE="$work/guest" "$work/teec_nop_bench" "$calls"
