#!/usr/bin/env bash
# Measures the hot standby's rebuild (issue 14 part 5) in release against a
# throwaway local PostgreSQL 15 cluster (loopback, fsync off):
#   scripts/bench-standby.sh [ROWS]       (default 500 000)
# Fills buhbot.replica with ROWS message rows (about 200 characters of
# text each: the bulk of a real store) and one chat, then starts the
# release daemon with `[postgres] standby = true` on an empty store: it
# takes the lock, waits the fence, rebuilds its store from the replica and
# logs "standby: store rebuilt ... rows= millis=". Prints that time, the
# rows per second and the daemon's peak RSS (the read streams: memory
# should not grow with ROWS). The takeover budget is 30 s in all (issue
# 14), of which the lock and the fence take about 8 s.
# Builds into CARGO_TARGET_DIR when set; needs psql (postgresql-client).
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022
rows=${1:-500000}
[[ "$rows" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [ROWS]" >&2; exit 2; }
command -v psql >/dev/null || { echo "bench-standby: psql missing (apt-get install postgresql-client)" >&2; exit 1; }

work=$(mktemp -d /tmp/buhbot-benchstandby.XXXXXX)
chmod 755 "$work"
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    scripts/pg-cluster.sh stop "$work/pg"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cargo build --release --quiet --bin buhbot
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
buhbot=$target/release/buhbot

port=$(scripts/pg-cluster.sh start "$work/pg")
cat >"$work/buhbot.toml" <<TOML
[calendar]
timezone = "Europe/Moscow"
always_open = true
[store]
path = "$work/buhbot.db"
[metrics]
textfile = "$work/metrics/buhbot.prom"
[backup]
enabled = false
dir = "$work/backups"
[postgres]
host = "127.0.0.1"
port = $port
user = "buhbot_daemon"
sslmode = "disable"
standby = true
TOML
"$buhbot" --config "$work/buhbot.toml" migrate --postgres --supabase-stub >/dev/null 2>"$work/migrate.log" \
    || { cat "$work/migrate.log" >&2; exit 1; }
schema=$(find sql/sqlite -name "[0-9]*.sql" | wc -l)  # the store schema the rows claim: the newest migration
psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "
    INSERT INTO buhbot.replica (tbl, pk, row, store_schema, daemon_version)
    SELECT 'messages', json_build_array(-1001000000001, i, 0)::text,
           jsonb_build_object('chat_id', -1001000000001, 'message_id', i, 'edit_version', 0,
               'date', 1760000000 + i * 30, 'sender_id', 5000000 + i % 40, 'sender_kind', 'user',
               'sender_name', 'Клиент ' || (i % 40), 'has_media', 0, 'service', 0,
               'text', 'Добрый день! Пришлите, пожалуйста, акт сверки за квартал и счёт на оплату '
                       || 'услуг по договору № ' || i || ', а также уточните сроки сдачи декларации.',
               'logged_at', 1760000000 + i * 30),
           $schema, i
    FROM generate_series(1, $rows) AS i;
    INSERT INTO buhbot.replica (tbl, pk, row, store_schema, daemon_version)
    VALUES ('chats', '[-1001000000001]', '{\"id\": -1001000000001, \"title\": \"ООО Ромашка\",
            \"created_at\": 1760000000, \"updated_at\": 1760000000}', $schema, $rows + 1);"

export=$PWD/data/examples/chat-export.json
log=$work/daemon.log
"$buhbot" run --config "$work/buhbot.toml" --source "replay:$export" 2>"$log" &
pid=$!
deadline=$((SECONDS + 600))
until grep -q 'standby: store rebuilt' "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "bench-standby: the daemon exited; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    [ $SECONDS -lt $deadline ] || { echo "bench-standby: no rebuild within 600 s" >&2; tail -n 20 "$log" >&2; exit 1; }
    sleep 0.2
done
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
line=$(grep 'standby: store rebuilt' "$log")
got=$(sed -n 's/.* rows=\([0-9]*\).*/\1/p' <<<"$line")
millis=$(sed -n 's/.* millis=\([0-9]*\).*/\1/p' <<<"$line")
[ "$got" -eq $((rows + 1)) ] || { echo "bench-standby: rebuilt $got rows, expected $((rows + 1))" >&2; exit 1; }
echo "rebuild: $got rows in ${millis} ms ($((got * 1000 / (millis > 0 ? millis : 1))) rows/s), daemon peak RSS $((hwm / 1024)) MB"
