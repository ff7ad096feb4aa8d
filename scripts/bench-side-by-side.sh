#!/usr/bin/env bash
# Runs two `vtee` release binaries' `vtee bench` interleaved on this machine (A, B, A, B, ...),
# keeps every JSON run, and prints the median of each key per binary side by side, with the
# throughput ratios of issue 10 (G=16 and G=64 against G=4). Figures taken minutes apart on a
# shared host are not comparable; interleaving keeps both binaries under the same load.
#
# Usage: scripts/bench-side-by-side.sh BASELINE_VTEE NEW_VTEE [RUNS] [OUTDIR] [-- extra bench args]
#   default RUNS 3, OUTDIR /tmp/vtee-side-by-side, bench args
#   "--quick --json --idle-guests 50 --max-guests 50" (round 2's command).
set -euo pipefail
a=${1:?baseline vtee binary}; b=${2:?new vtee binary}; runs=${3:-3}; out=${4:-/tmp/vtee-side-by-side}
shift $(( $# < 4 ? $# : 4 ))
[[ "${1:-}" == "--" ]] && shift
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--quick --json --idle-guests 50 --max-guests 50)
mkdir -p "$out"
for i in $(seq 1 "$runs"); do
  for side in a b; do
    bin=$a; [[ $side == b ]] && bin=$b
    echo "run $i $side: $bin bench ${args[*]} (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    "$bin" bench "${args[@]}" > "$out/$side-$i.json" 2> "$out/$side-$i.err"
  done
done
python3 - "$out" "$runs" <<'EOF'
import json, sys, statistics
out, runs = sys.argv[1], int(sys.argv[2])
def load(side): return [json.load(open(f"{out}/{side}-{i}.json")) for i in range(1, runs + 1)]
A, B = load("a"), load("b")
keys = ["fast_call_ns", "invoke_ns", "invoke_tmem4k_ns", "invoke_regshm1m_ns", "rpc_extra_ns", "open_close_ns",
        "daemon_invoke_ns", "transport_floor_ns", "daemon_overhead_ratio", "invoke_allocations", "guest_idle_bytes", "guests_max"]
def med(runs, k):
    v = [r[k] for r in runs if isinstance(r.get(k), (int, float))]
    return statistics.median(v) if v else None
def p99(runs, k):
    v = [r["p99"][k] for r in runs if k in r.get("p99", {})]
    return statistics.median(v) if v else None
def fmt(x):
    if x is None: return "-"
    return f"{x:,.3f}" if isinstance(x, float) and x < 10 else f"{x:,.0f}"
print(f"| key | baseline median (p99) | new median (p99) | new / baseline |\n|---|---|---|---|")
for k in keys:
    a, b = med(A, k), med(B, k)
    ratio = f"{b / a:.2f}" if a and b is not None else ""
    pa, pb = p99(A, k), p99(B, k)
    print(f"| {k} | {fmt(a)}{f' ({fmt(pa)})' if pa else ''} | {fmt(b)}{f' ({fmt(pb)})' if pb else ''} | {ratio} |")
def tp(runs, g): return statistics.median([r["throughput_calls_per_s"][str(g)] for r in runs])
def tpp99(runs, g): return statistics.median([r["throughput_latency_ns"][str(g)]["p99"] for r in runs])
for g in (1, 4, 16, 64):
    a, b = tp(A, g), tp(B, g)
    print(f"| throughput G={g} calls/s (latency p99 ns) | {a:,.0f} ({tpp99(A, g):,.0f}) | {b:,.0f} ({tpp99(B, g):,.0f}) | {b / a:.2f} |")
for name, R in (("baseline", A), ("new", B)):
    r16 = [r["throughput_calls_per_s"]["16"] / r["throughput_calls_per_s"]["4"] for r in R]
    r64 = [r["throughput_calls_per_s"]["64"] / r["throughput_calls_per_s"]["4"] for r in R]
    print(f"{name}: G=16/G=4 {statistics.median(r16):.0%} (runs {', '.join(f'{x:.0%}' for x in r16)}), "
          f"G=64/G=4 {statistics.median(r64):.0%} (runs {', '.join(f'{x:.0%}' for x in r64)}); "
          f"load at start {', '.join(r['machine'].get('loadavg_at_start', '?') for r in R)}")
EOF
