#!/usr/bin/env bash
# Measures the push to Postgres in release against a throwaway local
# PostgreSQL 15 cluster (loopback, fsync off like the tests' clusters):
#   scripts/bench-sync.sh [catchup[=ROWS]] [lag[=SECONDS]]
# Targets (issue 11): catch-up of a 1 000 000-row backlog >= 20 000 rows/s
# with RSS < 64 MB; steady lag p99 <= 1 s at 100 messages/s.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/buhbot-benchsync.XXXXXX)
chmod 755 "$work"
cleanup() { scripts/pg-cluster.sh stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
port=$(scripts/pg-cluster.sh start "$work/pg")
cargo build --release --quiet --bin buhbot --example bench_sync
cat >"$work/buhbot.toml" <<TOML
[store]
path = "$work/migrate.sqlite"
[postgres]
host = "127.0.0.1"
port = $port
sslmode = "disable"
TOML
./target/release/buhbot --config "$work/buhbot.toml" migrate --postgres --supabase-stub >/dev/null
./target/release/examples/bench_sync "$port" "$@"
