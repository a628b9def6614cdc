#!/usr/bin/env bash
# Instructions per request (valgrind's callgrind: counts, not seconds, so repeatable on a busy machine)
# for the contenders of examples/bench_instructions.rs, and their ratios.
#
#   scripts/instructions.sh              # N1=200, N2=2200 calls per contender
#
# Needs valgrind (apt-get install valgrind). Each contender runs twice (N1 and N2 calls); the difference
# divided by N2-N1 is the cost of one request, set-up and start-up cancelled out.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
N1=${N1:-200}
N2=${N2:-2200}
cargo build --release --quiet --example bench_instructions
BIN=target/release/examples/bench_instructions
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
count() { # count CONTENDER N: total instructions
    valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$BIN" "$1" "$2" >/dev/null 2>"$WORK/err"
    grep -E '^summary:|^totals:' "$WORK/out" | head -1 | awk '{print $2}'
}
declare -A PER
for c in no_layer layer layer_16k layer_extension leave_layer leave_floor; do
    a=$(count "$c" "$N1"); b=$(count "$c" "$N2")
    PER[$c]=$(( (b - a) / (N2 - N1) ))
    printf '%-16s %8d instructions per request\n' "$c" "${PER[$c]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo
echo "pass-through, layer / no layer:            $(ratio "${PER[layer]}" "${PER[no_layer]}")"
echo "pass-through, 16 KiB handler / no layer:   $(ratio "${PER[layer_16k]}" "${PER[no_layer]}")"
echo "pass-through, extension route / no layer:  $(ratio "${PER[layer_extension]}" "${PER[no_layer]}")"
echo "leave sample, layer / floor:               $(ratio "${PER[leave_layer]}" "${PER[leave_floor]}")"
