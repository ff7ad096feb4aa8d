#!/usr/bin/env bash
# c_invoke_ns: a NOP invoke from a C client through vtee's libteec.so, against a daemon.
#
#   scripts/c-bench.sh [BUILD_DIR] [CALLS]
#       Starts `vtee serve` on a private socket, builds Benchmarks/CClients/teec_nop_bench.c with cc
#       against the libteec.so of BUILD_DIR, runs it and prints its JSON line
#       {"c_invoke_ns": <median>, "c_invoke_p99_ns": <p99>, "calls": N}.
#   scripts/c-bench.sh --build OUT [BUILD_DIR]
#       Only builds the client as OUT (libteec installed beside it in OUT.lib/), for
#       `vtee bench --c-client OUT`, which then reports c_invoke_ns next to daemon_invoke_ns.
#
# BUILD_DIR: where libteec.so and vtee are (default .build/release; build them with
# `swift build -c release --product teec --product vtee`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

build_client() {   # OUT BUILD_DIR
    local out="$1" build="$2"
    "$root/scripts/install-libteec.sh" "$out.lib" "$build" >/dev/null
    cc -std=c11 -O2 -Wall -Wextra -I "$out.lib/include" "$root/Benchmarks/CClients/teec_nop_bench.c" \
       -L "$out.lib/lib" -lteec -Wl,-rpath,"$out.lib/lib" -o "$out"
}

if [[ "${1:-}" == "--build" ]]; then
    [[ -n "${2:-}" ]] || { echo "usage: $0 --build OUT [BUILD_DIR]" >&2; exit 2; }
    out="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
    build_client "$out" "${3:-$root/.build/release}"
    echo "built $out (libteec in $out.lib/lib)"
    exit 0
fi

build="${1:-$root/.build/release}"
calls="${2:-2000}"
work="$(mktemp -d /tmp/vtee-cbench.XXXXXX)"
daemon=""
trap '[[ -n "$daemon" ]] && { kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; }; rm -rf "$work"' EXIT
build_client "$work/teec_nop_bench" "$build"
"$build/vtee" serve --socket "$work/s" --storage "$work/store" >/dev/null 2>&1 &
daemon=$!
for _ in $(seq 1 200); do [[ -S "$work/s" ]] && break; sleep 0.05; done
VTEE_SOCKET="$work/s" VTEE_STORAGE="$work/guest" "$work/teec_nop_bench" "$calls"
