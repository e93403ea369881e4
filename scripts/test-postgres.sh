#!/usr/bin/env bash
# The Postgres schema under test: a throwaway cluster, the migrations
# applied by the real `buhbot migrate --postgres --supabase-stub` (twice:
# the rerun must apply nothing), then the pgTAP suite in
# sql/postgres/tests/ (pg_prove), and the same migrations adopting a
# project that has the original system's tables.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in pg_prove psql; do
    command -v "$tool" >/dev/null || { echo "test-postgres: $tool missing (apt-get install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/buhbot-pgtest.XXXXXX)
chmod 755 "$work"
cleanup() { scripts/pg-cluster.sh stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
port=$(scripts/pg-cluster.sh start "$work/pg")
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
cargo build --quiet --locked --bin buhbot
bin=$PWD/target/debug/buhbot

migrate() {  # migrate DB [args]: the real command against database DB
    local db=$1
    shift
    cat >"$work/$db.toml" <<TOML
[store]
path = "$work/$db.sqlite"
[postgres]
host = "127.0.0.1"
port = $port
dbname = "$db"
sslmode = "disable"
TOML
    "$bin" --config "$work/$db.toml" migrate --postgres "$@"
}

psql -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE buhbot_test'
psql -q -v ON_ERROR_STOP=1 -d buhbot_test -c 'CREATE EXTENSION pgtap'
migrate buhbot_test --supabase-stub
again=$(migrate buhbot_test --supabase-stub)
echo "$again"
grep -q '(applied 0)' <<<"$again" || { echo "test-postgres: the rerun applied migrations" >&2; exit 1; }
# The first admin: a Supabase auth user with that e-mail keeps its id.
psql -q -v ON_ERROR_STOP=1 -d buhbot_test -c \
    "INSERT INTO auth.users (id, email) VALUES ('11111111-2222-4333-8444-555555555555', 'chief@firm.test')"
migrate buhbot_test --seed-admin chief@firm.test
seeded=$(psql -tA -d buhbot_test -c "SELECT id || ' ' || role FROM public.users WHERE email = 'chief@firm.test'")
[ "$seeded" = "11111111-2222-4333-8444-555555555555 admin" ] \
    || { echo "test-postgres: --seed-admin made '$seeded'" >&2; exit 1; }
psql -q -v ON_ERROR_STOP=1 -d buhbot_test -c "DELETE FROM public.users WHERE email = 'chief@firm.test'"
psql -q -v ON_ERROR_STOP=1 -d buhbot_test -f sql/postgres/tests/fixtures/fixtures.sql
pg_prove --failures -d buhbot_test sql/postgres/tests/*.sql

# A firm's existing project: the original's tables first, then buhbot's
# migrations adopt them (their rows kept, buhbot's columns added).
psql -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE buhbot_adopt'
psql -q -v ON_ERROR_STOP=1 -d buhbot_adopt -c 'CREATE EXTENSION pgtap'
psql -q -v ON_ERROR_STOP=1 -d buhbot_adopt -f sql/postgres/supabase-stub.sql
psql -q -v ON_ERROR_STOP=1 -d buhbot_adopt -f sql/postgres/tests/fixtures/original.sql
migrate buhbot_adopt
pg_prove --failures -d buhbot_adopt sql/postgres/tests/adopt/*.sql
