#!/usr/bin/env bash
# Cross-check of the binary's own sync count with `strace -f -c`: runs the benchmark's child mode
# (open, 5 warm-up commits, then K commits) under `strace -f -c` with K=50 and K=250 and prints
# (syncs(250) - syncs(50)) / 200 per store and mode, so opening and warm-up cancel out.
# Usage: scripts/store-bench/strace-c.sh [stores] [modes]   (build the binary first, see README.md)
set -euo pipefail
bin=${CARGO_TARGET_DIR:-/work/main/target/store-bench}/release/store-bench
stores=${1:-sqlite redb fjall fjall-data}
modes=${2:-single batch64 cycle64}
tmp=$(mktemp -d /tmp/store-bench-strace.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
syncs() { # store mode K -> "fsync=N fdatasync=N sync_file_range=N total=N"
    strace -f -c -e trace=fsync,fdatasync,sync_file_range -o "$tmp/c.txt" \
        "$bin" --child "$1" "$2" "$3" "$tmp/db" >/dev/null
    awk '$NF ~ /^(fsync|fdatasync|sync_file_range)$/ { n[$NF] = $4; t += $4 }
         END { printf "fsync=%d fdatasync=%d sync_file_range=%d total=%d\n", n["fsync"], n["fdatasync"], n["sync_file_range"], t }' "$tmp/c.txt"
}
printf '%-11s %-8s %-48s %-48s %s\n' store mode "K=50" "K=250" "syncs/commit"
for s in $stores; do
    for m in $modes; do
        a=$(syncs "$s" "$m" 50)
        b=$(syncs "$s" "$m" 250)
        per=$(awk -v a="${a##*total=}" -v b="${b##*total=}" 'BEGIN { printf "%.2f", (b - a) / 200 }')
        printf '%-11s %-8s %-48s %-48s %s\n' "$s" "$m" "$a" "$b" "$per"
    done
done
