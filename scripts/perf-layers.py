#!/usr/bin/env python3
"""Per-layer shares of a `perf record -g` profile of vtee (issue 10's profile).

Usage: perf script -i FILE.data | scripts/perf-layers.py [--top N]

Each sample's self time goes to the layer of the deepest vtee frame on its stack (client,
driver, platform, mediator, secure world, TA, bench); Machine and TEEABI code and the Swift
runtime count for the layer that called them. A second table cuts across layers: time in
the concurrency runtime, retain/release, locks, allocation, the clock and memmove.
"""
import re, sys, collections

LAYERS = [  # mangled module prefix -> layer (first match of the deepest frame wins)
    ("$s9TEEClient", "client API"), ("$s11NormalWorld", "guest driver"),
    ("$s8Platform", "platform"), ("$s16MediatedPlatform", "platform"),
    ("$s8Mediator", "mediator"), ("$s11SecureWorld", "secure world"),
    ("$s5TAAPI", "TA"), ("$s11TrustedApps", "TA"), ("$s9VTEEBench", "bench loop"), ("$s4vtee", "bench loop"),
]
CROSS = [
    ("concurrency runtime (task switch, executor lookup, job run)", re.compile(r"swift_task|AsyncTask|TaskExecutor|withStatusRecordLock|swift_job|swift_continuation|flagAsAndEnqueue|updateStatusRecord")),
    ("retain/release", re.compile(r"swift_(retain|release|unownedRetain|unownedRelease|bridgeObject|isUniquely)|swift_.*Retain|swift_.*Release")),
    ("locks (pthread mutex, futex)", re.compile(r"pthread_mutex|_lockSlow|futex|Mutex|lll_lock")),
    ("allocation (malloc/free)", re.compile(r"malloc|free|swift_allocObject|swift_deallocObject|swift_slowAlloc|swift_slowDealloc|cfree")),
    ("generic metadata lookup", re.compile(r"GenericMetadata|getCanonicalSpecializedMetadata|swift_getWitnessTable|MetadataCache")),
    ("clock_gettime", re.compile(r"clock_gettime")),
    ("memmove/memcpy/memset", re.compile(r"mem(move|cpy|set)")),
]

def main():
    top = 25
    if "--top" in sys.argv: top = int(sys.argv[sys.argv.index("--top") + 1])
    layer_self = collections.Counter(); cross = collections.Counter(); leaf = collections.Counter()
    total = 0
    stack = []
    def flush():
        nonlocal total
        if not stack: return
        total += 1
        sym = stack[0]
        leaf[sym] += 1
        layer = "other (process setup, runtime outside a call)"
        for f in stack:
            hit = next((name for pre, name in LAYERS if f.startswith(pre)), None)
            if hit: layer = hit; break
        layer_self[layer] += 1
        for name, rx in CROSS:
            if rx.search(sym): cross[name] += 1; break
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            flush(); stack = []; continue
        if line.startswith((" ", "\t")):
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                stack.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1].split(" (")[0]))
        # header lines start a sample
    flush()
    if not total: print("no samples"); return
    print(f"samples: {total}")
    print("\n| layer (self time, helpers counted for their caller) | share |\n|---|---|")
    for k, v in layer_self.most_common(): print(f"| {k} | {100*v/total:.1f}% |")
    print("\n| across layers (leaf function) | share |\n|---|---|")
    for k, v in cross.most_common(): print(f"| {k} | {100*v/total:.1f}% |")
    print(f"\ntop {top} leaf functions:")
    for k, v in leaf.most_common(top): print(f"{100*v/total:5.1f}%  {k[:150]}")

main()
