#!/usr/bin/env bash
# Times `buhbot report sla` and the weekly digest (`buhbot report digest`)
# over a store of N requests (default 1 000 000) in 20 chats, answered by
# 40 accountants, one in 50 still open, and reports time and peak memory
# (max RSS). The requests are spread over SPAN seconds from Monday
# 2024-12-30 00:00 Moscow time (default: one every 31 s, about a year; a
# SPAN of 604800 puts all of them in the week the digest covers).
# BUHBOT=path/to/buhbot times that binary instead of a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-1000000}
span=${2:-$((n * 31))}
base=1735506000
target=${CARGO_TARGET_DIR:-target}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if [ -z "${BUHBOT:-}" ]; then
    cargo build --release --quiet --bin buhbot
    BUHBOT="$target/release/buhbot"
fi
cat > "$dir/buhbot.toml" <<TOML
[calendar]
timezone = "Europe/Moscow"
[store]
path = "$dir/buhbot.db"
[backup]
enabled = false
dir = "$dir/backups"
TOML
"$BUHBOT" --config "$dir/buhbot.toml" migrate > /dev/null 2>&1
# From $base (2024-12-29T21:00:00Z); answers after 0-119 min.
sqlite3 "$dir/buhbot.db" <<SQL
WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k + 1 < $n)
INSERT INTO client_requests (chat_id, message_id, client_id, received_at, category,
    confidence, status, anchor_at, threshold_minutes, deadline_at, answered_at,
    answered_by, working_minutes, breached, updated_at)
SELECT -1001000000000 - k % 20, k, 5000000 + k % 500, $base + k * $span / $n, 'REQUEST',
    0.9, CASE WHEN k % 50 = 0 THEN 'open' ELSE 'answered' END, $base + k * $span / $n, 60,
    $base + k * $span / $n + 3600,
    CASE WHEN k % 50 = 0 THEN NULL ELSE $base + k * $span / $n + (k % 120) * 60 END,
    CASE WHEN k % 50 = 0 THEN NULL ELSE 7000000 + k % 40 END,
    CASE WHEN k % 50 = 0 THEN NULL ELSE k % 120 END,
    CASE WHEN k % 50 <> 0 AND k % 120 > 60 THEN 1 ELSE 0 END, $base + k * $span / $n
FROM i;
SQL
printf 'store: %s requests, %s bytes\n' "$n" "$(stat -c %s "$dir/buhbot.db")"

for args in "" "--chat -1001000000003" "--accountant 7000007"; do
    start=$(date +%s.%N)
    # shellcheck disable=SC2086 # the arguments are words
    /usr/bin/time -f '%M' -o "$dir/rss" "$BUHBOT" --config "$dir/buhbot.toml" report sla \
        --from 2024-12-30 --to 2027-12-31 $args --format json > "$dir/report.json"
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v rss="$(cat "$dir/rss")" -v a="${args:-(all)}" 'BEGIN {
        printf "report sla %s: %.2f s, max RSS %.1f MB\n", a, e - s, rss / 1024
    }'
done

# The digest a run on the Monday after the last request would send: the
# last full week's requests and every open one.
monday=$(date -u -d "@$(( base + ((span + 604799) / 604800) * 604800 + 32400 ))" +%Y-%m-%dT%H:%M:%SZ)
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$dir/rss" "$BUHBOT" --config "$dir/buhbot.toml" report digest \
    --at "$monday" > "$dir/digest.txt"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v rss="$(cat "$dir/rss")" -v at="$monday" 'BEGIN {
    printf "report digest --at %s: %.2f s, max RSS %.1f MB\n", at, e - s, rss / 1024
}'
head -3 "$dir/digest.txt" | tail -1
