#!/usr/bin/env bash
# Installs vtee's C client libraries under PREFIX (default /usr/local):
#   PREFIX/lib/libteec.so.2        the library (SONAME libteec.so.2, what OP-TEE clients ask for)
#   PREFIX/lib/libteec.so          -> libteec.so.2 (for linking with -lteec)
#   PREFIX/lib/libvtee-preload.so  the LD_PRELOAD /dev/tee emulation
#   PREFIX/include/tee_client_api.h
# Usage: scripts/install-libteec.sh PREFIX [BUILD_DIR]   (BUILD_DIR default: .build/debug; build
# first with `swift build --product teec --product vtee-preload`, add -c release for speed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:-/usr/local}"
build="${2:-$root/.build/debug}"
[[ -f "$build/libteec.so" ]] || { echo "install-libteec: $build/libteec.so not found (swift build --product teec)" >&2; exit 1; }
mkdir -p "$prefix/lib" "$prefix/include"
install -m 0755 "$build/libteec.so" "$prefix/lib/libteec.so.2"
ln -sf libteec.so.2 "$prefix/lib/libteec.so"
if [[ -f "$build/libvtee-preload.so" ]]; then
    install -m 0755 "$build/libvtee-preload.so" "$prefix/lib/libvtee-preload.so"
fi
install -m 0644 "$root/Sources/CTEEC/include/tee_client_api.h" "$prefix/include/tee_client_api.h"
echo "installed libteec.so.2, libteec.so, tee_client_api.h$( [[ -f "$build/libvtee-preload.so" ]] && echo ", libvtee-preload.so") under $prefix"
