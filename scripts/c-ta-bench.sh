#!/usr/bin/env bash
# Builds vtee's bench C TA (Benchmarks/CTAs/bench) with the exported dev kit, as an OP-TEE user
# would, into OUT_DIR/<uuid>.ta, for `vtee bench --c-ta-dir OUT_DIR`, which then reports
# ta_c_invoke_ns (a NOP invoke into a C TA process) and ta_aes_gcm_4k_ns (AES-GCM over 4 KiB
# inside a C TA).
#
#   scripts/c-ta-bench.sh OUT_DIR [BUILD_DIR]
#
# BUILD_DIR: where vtee and libvteeta.so are (default .build/release).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -n "${1:-}" ]] || { echo "usage: $0 OUT_DIR [BUILD_DIR]" >&2; exit 2; }
out="$1"
build="${2:-$root/.build/release}"
work="$(mktemp -d /tmp/vtee-ctabench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
"$build/vtee" devkit export "$work/kit" >/dev/null
cp -r "$root/Benchmarks/CTAs/bench" "$work/bench"
make -s -C "$work/bench" TA_DEV_KIT_DIR="$work/kit"
mkdir -p "$out"
cp "$work/bench/"*.ta "$out/"
echo "built $(ls "$out"/*.ta)"
