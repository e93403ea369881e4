#!/usr/bin/env bash
# Peak memory of `buhbot replay` on a large export generated on the fly
# and streamed through a pipe (no disk used, nothing left behind).
#
#   scripts/bench-replay-memory.sh [MB] [MESSAGES_PER_CHAT]
#
# Writes a full-account export of about MB megabytes (default 2048): a
# `chats.list` of synthetic supergroups of MESSAGES_PER_CHAT messages each
# (default 50 000, about 17 MB a chat), each with its own id. Reports the
# bytes and messages replayed, the time, the throughput and the replay's
# peak RSS (/usr/bin/time). Target (issue 14): under 100 MB for 2 GB.
# With MESSAGES_PER_CHAT as large as the whole export, it is one chat: then
# memory follows that chat's requests (see scripts/bench-replay.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

mb=${1:-2048}
per_chat=${2:-50000}
target=${CARGO_TARGET_DIR:-target}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cargo build --release --quiet --bin buhbot --example gen_export
gen="$target/release/examples/gen_export"
buhbot="$target/release/buhbot"

# Bytes per message of the generator, to size the export.
chat_bytes=$("$gen" "$per_chat" 1 | wc -c)
chats=$(( (mb * 1024 * 1024 + chat_bytes - 1) / chat_bytes ))
printf 'export: %d chats of %d messages (%d bytes each), about %d MB\n' \
    "$chats" "$per_chat" "$chat_bytes" $(( chats * chat_bytes / 1024 / 1024 ))

account() {
    printf '{"about": "synthetic", "chats": {"about": "synthetic", "list": [\n'
    for ((i = 1; i <= chats; i++)); do
        ((i > 1)) && printf ',\n'
        # Each chat its own id (the generator always writes 1987654321).
        "$gen" "$per_chat" "$i" | sed "0,/\"id\": 1987654321/s//\"id\": $((1000000 + i))/"
    done
    printf ']}}\n'
}

start=$(date +%s.%N)
account | tee >(wc -c > "$dir/bytes") | /usr/bin/time -f '%M' -o "$dir/rss" \
    "$buhbot" replay --config data/examples/buhbot.toml \
    --accountant 7000001 --accountant 7000002 --format csv /dev/stdin |
    wc -l > "$dir/rows"
end=$(date +%s.%N)
sleep 0.2 # the tee'd wc may still be writing

awk -v s="$start" -v e="$end" -v rss="$(cat "$dir/rss")" -v bytes="$(cat "$dir/bytes")" \
    -v msgs=$((chats * per_chat)) -v rows="$(cat "$dir/rows")" -v chats="$chats" 'BEGIN {
    t = e - s
    printf "replayed: %.0f MB, %d messages, %d chats, %d requests\n", bytes / 1048576, msgs, chats, rows - 1
    printf "time %.1f s: %.0f MB/s, %.0f messages/s (generator and replay share the CPUs)\n", t, bytes / 1048576 / t, msgs / t
    printf "peak RSS of the replay: %.1f MB\n", rss / 1024
}'
