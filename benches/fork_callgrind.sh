#!/usr/bin/env bash
# Instructions per fork, per teardown of the forked child and per write
# fault, counted by valgrind's callgrind: exact, and independent of load.
#
#   benches/fork_callgrind.sh [MIB] [FAULTS]      (defaults: 64 1024)
#
# Each run builds a process of MIB MiB touched (not counted), then makes one
# fork, one teardown, or FAULTS write faults inside `measured` in
# benches/fork.rs; only that function is counted (--toggle-collect).
# Prints two Markdown tables.
#
# glibc's memset and memcpy run as `rep stosb` / `rep movsb` above a size
# threshold, and callgrind counts every byte such an instruction moves as an
# instruction (4 096 for a 4 KiB memset). The thresholds are raised out of
# reach so that they run their vector loops, whose count reflects the work.
set -euo pipefail
cd "$(dirname "$0")/.."

MIB=${1:-64}
FAULTS=${2:-1024}
HANDLERS=(ByFrame Lazy EagerCopy)
PAGES=$((MIB * 256))

command -v valgrind >/dev/null || { echo "fork_callgrind.sh: valgrind is not installed" >&2; exit 1; }
BIN=$(cargo bench --bench fork --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*\/fork-[^"]*\)".*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "fork_callgrind.sh: could not build the fork bench" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Instructions of $4 operations $1 on handler $2 (one run), divided by $3.
count() {
    GLIBC_TUNABLES=glibc.cpu.x86_rep_stosb_threshold=1000000000:glibc.cpu.x86_rep_movsb_threshold=1000000000 \
        valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*' \
        --callgrind-out-file="$OUT/cg" "$BIN" callgrind "$1" "$2" "$MIB" "$4" >/dev/null 2>&1
    awk -v n="$3" '/^totals:/ { printf "%.0f", $2 / n }' "$OUT/cg"
}

echo
echo "Instructions, process of $MIB MiB touched ($PAGES pages):"
echo
echo "| operation | ByFrame | Lazy | EagerCopy | EagerCopy ÷ ByFrame |"
echo "|---|--:|--:|--:|--:|"
for OP in fork teardown; do
    ROW="| $OP |"
    PAGE_ROW="| $OP, per page |"
    for H in "${HANDLERS[@]}"; do
        IR=$(count "$OP" "$H" 1 1)
        [ "$H" = ByFrame ] && OURS=$IR
        ROW="$ROW $IR |"
        PAGE_ROW="$PAGE_ROW $(awk -v a="$IR" -v p="$PAGES" 'BEGIN { printf "%.0f", a / p }') |"
    done
    RATIO=$(awk -v a="$IR" -v b="$OURS" 'BEGIN { printf "×%.2f", a / b }')
    echo "$ROW $RATIO |"
    echo "$PAGE_ROW $RATIO |"
done

echo
echo "Instructions per write fault on a ByFrame area ($FAULTS faults):"
echo
echo "| fault | instructions |"
echo "|---|--:|"
for OP in cow_fault last_ref_fault zero_fault; do
    echo "| $OP | $(count "$OP" ByFrame "$FAULTS" "$FAULTS") |"
done
