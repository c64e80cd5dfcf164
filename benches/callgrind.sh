#!/usr/bin/env bash
# Instructions per call of the key operations, for every peer, counted by
# valgrind's callgrind: they do not drift with machine load as times do.
#
#   benches/callgrind.sh [N] [ITERS]      (defaults: 65530 256)
#
# Each run builds one peer's map on one layout (not counted), then makes
# ITERS calls of one operation inside `measured` in benches/report.rs; only
# that function is counted (--toggle-collect), so setup cancels out.
# Prints a Markdown table: instructions per call, and peer ÷ ram (Box).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-65530}
ITERS=${2:-256}
OPS="find_hit find_miss find_uniform find_local mmap_anywhere_up mmap_anywhere_down unmap_remap mprotect_split_restore"
PEERS=(0 1 2 3 4 5 6)

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
BIN=$(cargo bench --bench report --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*report[^"]*\)".*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "callgrind.sh: could not build the report bench" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Instructions per call of peer $1, operation $2, shape $3; "—" if the
# peer lacks the operation (asked natively on a small map, so that no
# N-segment map is built under valgrind for nothing).
count() {
    if [ "$("$BIN" callgrind "$1" "$2" "$3" 100 0)" = "n/a" ]; then
        echo "—"
        return
    fi
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*' \
        --callgrind-out-file="$OUT/cg" "$BIN" callgrind "$1" "$2" "$3" "$N" "$ITERS" >/dev/null 2>&1
    awk -v iters="$ITERS" '/^totals:/ { printf "%.0f", $2 / iters }' "$OUT/cg"
}

HEADER="| operation |"
RULE="|---|"
for P in "${PEERS[@]}"; do
    HEADER="$HEADER $("$BIN" callgrind "$P" find_hit fragmented 100 0) |"
    RULE="$RULE--:|"
done

for SHAPE in fragmented random; do
    echo
    echo "Instructions per call, $SHAPE layout, n = $N ($ITERS calls; in brackets peer ÷ ram (Box)):"
    echo
    echo "$HEADER"
    echo "$RULE"
    for OP in $OPS; do
        ROW="| $OP |"
        OURS=""
        for P in "${PEERS[@]}"; do
            IR=$(count "$P" "$OP" "$SHAPE")
            if [ -z "$OURS" ]; then
                OURS=$IR
                ROW="$ROW $IR |"
            elif [ "$IR" = "—" ]; then
                ROW="$ROW — |"
            else
                ROW="$ROW $IR ($(awk -v a="$IR" -v b="$OURS" 'BEGIN { r = a / b; printf (r < 10 ? "×%.2f" : "×%.0f"), r }')) |"
            fi
        done
        echo "$ROW"
    done
done
