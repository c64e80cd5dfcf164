#!/usr/bin/env bash
# Instructions, and simulated L1 and last-level data-cache misses, per
# call: this crate (Box) against BTreeMap, counted by valgrind's
# callgrind with its cache simulator. Unlike times they do not drift with
# machine load, so they are what the lookup figures of REPORT.md rest on.
#
#   benches/cachegrind.sh [ITERS]        (default 20000)
#   RAM_BENCH_MAX_N=100000 SHAPES="random" OPS="find_uniform" benches/cachegrind.sh
#   OPS="unmap_remap mprotect_split_restore" benches/cachegrind.sh
#
# Each run builds one peer's map on one layout (not counted), makes ITERS
# unmeasured calls to bring the caches to their steady state, then ITERS
# calls inside `measured` in benches/report.rs; only those are counted
# (--toggle-collect). The simulated caches are this machine's (AMD EPYC,
# per core 32 KiB 8-way L1d; a 32 MiB 16-way L3 as the last level; the
# simulator has no L2). find_chained costs the same instructions and misses
# as find_uniform (only their overlap differs, which a simulator does not
# see), so it is not counted here. BTreeMap has no updates: "—" there.
set -euo pipefail
cd "$(dirname "$0")/.."

ITERS=${1:-20000}
MAX=${RAM_BENCH_MAX_N:-1000000}
MAX=${MAX//_/}
SIZES=()
for n in 1000 10000 65530 100000 262144 1000000; do
    [ "$n" -le "$MAX" ] && SIZES+=("$n")
done
OPS=${OPS:-"find_uniform find_local"}
SHAPES=${SHAPES:-"random aged"}
OURS=0   # range-action-map (Box), index in PEERS of testkit/src/bench/workload.rs
BTREE=5  # BTreeMap
CACHES="--I1=32768,8,64 --D1=32768,8,64 --LL=33554432,16,64"

command -v valgrind >/dev/null || { echo "cachegrind.sh: valgrind is not installed" >&2; exit 1; }
BIN=$(cargo bench --bench report --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*report[^"]*\)".*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "cachegrind.sh: could not build the report bench" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# "Ir D1 LL" per call of peer $1, operation $2, shape $3, size $4; "— — —"
# if the peer lacks the operation (asked natively on a small map).
count() {
    if [ "$("$BIN" callgrind "$1" "$2" "$3" 100 0)" = "n/a" ]; then
        echo "— — —"
        return
    fi
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --cache-sim=yes $CACHES --collect-atstart=no \
        --toggle-collect='*measured*' --callgrind-out-file="$OUT/cg" \
        "$BIN" callgrind "$1" "$2" "$3" "$4" "$ITERS" >/dev/null 2>&1
    awk -v iters="$ITERS" '
        /^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
        /^totals:/ {
            printf "%.0f %.2f %.2f", $col["Ir"] / iters,
                ($col["D1mr"] + $col["D1mw"]) / iters,
                ($col["DLmr"] + $col["DLmw"]) / iters
        }' "$OUT/cg"
}

echo "Per call ($ITERS calls after as many unmeasured; callgrind cache simulation):"
echo
echo "| pattern | shape | n | instructions ours / BTreeMap | L1d misses ours / BTreeMap | LL misses ours / BTreeMap |"
echo "|---|---|--:|--:|--:|--:|"
for OP in $OPS; do
    for SHAPE in $SHAPES; do
        for N in "${SIZES[@]}"; do
            read -r IR1 D11 LL1 <<<"$(count "$OURS" "$OP" "$SHAPE" "$N")"
            read -r IR2 D12 LL2 <<<"$(count "$BTREE" "$OP" "$SHAPE" "$N")"
            echo "| $OP | $SHAPE | $N | $IR1 / $IR2 | $D11 / $D12 | $LL1 / $LL2 |"
        done
    done
done
