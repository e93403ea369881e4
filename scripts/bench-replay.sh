#!/usr/bin/env bash
# Replays a synthetic export of N messages (default 1 000 000) with the
# release binary and reports throughput and peak memory (max RSS).
# Targets: at least 200 000 messages/s, under 100 MB resident.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-1000000}
target=${CARGO_TARGET_DIR:-target}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cargo build --release --quiet --bin buhbot --example gen_export
"$target/release/examples/gen_export" "$n" 7 > "$dir/export.json"
printf 'export: %s messages, %s bytes\n' "$n" "$(stat -c %s "$dir/export.json")"

start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$dir/rss" "$target/release/buhbot" replay \
    --config data/examples/buhbot.toml --accountant 7000001 --accountant 7000002 \
    --format json "$dir/export.json" > "$dir/report.json"
end=$(date +%s.%N)

rss_kb=$(cat "$dir/rss")
awk -v n="$n" -v s="$start" -v e="$end" -v rss="$rss_kb" 'BEGIN {
    t = e - s
    printf "replay: %.2f s, %.0f messages/s, max RSS %.1f MB\n", t, n / t, rss / 1024
}'
