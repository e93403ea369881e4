#!/bin/bash
# The doc test: runs every ```sh block of the operator documents (docs/*.md),
# in order, INSIDE the e2e container of scripts/e2e-systemd.sh (real systemd,
# the real package), so that what the documents tell a sysadmin to type
# stays true.
#
#   docs.sh DOC.md     (from scripts/e2e/inside.sh; reads /debs)
#
# Each block runs on its own with `bash -euo pipefail` as root, in a work
# directory holding the package, stdin from /dev/null unless told. HTML
# comments in the document steer it (docs/index.md lists them):
#   <!-- doctest: expect REGEX -->   the next block's output matches (ERE)
#   <!-- doctest: exit N -->         the next block exits N (default 0)
#   <!-- doctest: stdin TEXT -->     the next block reads TEXT
#   <!-- doctest: setup NAME -->     prepares the host now (fx_NAME below)
#   <!-- doctest: harness NAME -->   an incident or a check now (fx_NAME)
#   <!-- doctest: clock NAME -->     prints "clock NAME SECONDS": the time
#                                    since the last incident
# Prints "ok DOC:LINE" per block, "clock …" lines, and on the first failure
# "not ok DOC:LINE — why" with the block's output, then stops the document
# (later blocks build on earlier ones). Exit 0 when every block passed.
set -u
doc=$1
name=$(basename "$doc")
# shellcheck source=/dev/null
. /debs/versions   # OLD_VERSION, NEW_VERSION
work=/root/doctest
dir=$work/download
mkdir -p "$dir"
conf=/etc/buhbot/buhbot.toml
creds=/etc/buhbot/credentials
# The incident's time lives in a file: fixtures run in subshells.
date +%s.%N >"$work/incident"

fail() { printf 'not ok %s:%s — %s\n' "$name" "$1" "$2"; exit 1; }
# wait_for SECONDS COMMAND...: polls once a second.
wait_for() {
    local n=$1; shift
    while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 1; n=$((n - 1)); done
    "$@"
}
incident() { date +%s.%N >"$work/incident"; }
sql() { sqlite3 -readonly /var/lib/buhbot/buhbot.db "$1"; }
pg() { runuser -u postgres -- psql -d buhbot -XAtc "$1"; }

# ---------------------------------------------------------------- fixtures
fx_deb-old() { rm -f "$dir"/*.deb; cp /debs/buhbot_"$OLD_VERSION"_*.deb "$dir/"; }
fx_deb-new() {
    local arch
    arch=$(dpkg-deb -f /debs/new.deb Architecture)
    rm -f "$dir"/*.deb
    cp /debs/new.deb "$dir/buhbot_${NEW_VERSION}_${arch}.deb"
}

# The test host cannot reach Telegram: the daemon replays the example
# export instead (the e2e's own source), with the example [[chats]] entry
# when the configuration has none yet.
fx_offline-telegram() {
    install -d /etc/systemd/system/buhbot.service.d /usr/share/buhbot-e2e
    install -m 0644 /debs/chat-export.json /usr/share/buhbot-e2e/chat-export.json
    cat >/etc/systemd/system/buhbot.service.d/doctest.conf <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/bin/buhbot run --config /etc/buhbot/buhbot.toml --source replay:/usr/share/buhbot-e2e/chat-export.json?speed=100000
EOF
    grep -q '^\[\[chats\]\]' "$conf" || { printf '\n'; cat /debs/chats.toml; } >>"$conf"
    systemctl daemon-reload
}

fx_corrupt-db() {
    systemctl stop buhbot
    # A damaged first page: what a failing disk or a bad copy leaves.
    dd if=/dev/urandom of=/var/lib/buhbot/buhbot.db bs=100 count=1 conv=notrunc status=none
    incident
    systemctl start --no-block buhbot
    wait_for 30 bash -c "journalctl -u buhbot -b --no-pager | grep -qE 'not a database|malformed'"
}

# The archive kept off-site and the secrets in a password manager survive;
# the package, its state and its configuration are gone.
fx_lose-host() {
    local archives=(/var/backups/buhbot/buhbot-*.tar.gz)   # sorted: by time
    install -d -m 0700 /root/offsite
    cp "${archives[-1]}" /root/offsite/
    systemctl stop buhbot
    apt-get purge -y buhbot >/dev/null 2>&1
    rm -rf /var/lib/buhbot /var/backups/buhbot /etc/buhbot /etc/systemd/system/buhbot.service.d
    systemctl daemon-reload
    incident
}

# Every request of the off-site archive is in the restored daemon's store.
fx_same-requests() {
    local t missing total
    t=$(mktemp -d)
    tar -xzf /root/offsite/buhbot-*.tar.gz -C "$t" buhbot.db
    total=$(sqlite3 -readonly "$t/buhbot.db" "SELECT count(*) FROM client_requests")
    missing=$(sqlite3 "$t/buhbot.db" "ATTACH 'file:/var/lib/buhbot/buhbot.db?mode=ro' AS live;
        SELECT count(*) FROM client_requests r
        WHERE NOT EXISTS (SELECT 1 FROM live.client_requests l
                          WHERE l.chat_id = r.chat_id AND l.message_id = r.message_id)")
    rm -rf "$t"
    echo "requests in the archive: $total, missing after the restore: $missing"
    [ "$total" -gt 0 ] && [ "$missing" -eq 0 ]
}

queue_empty() { [ "$(sql 'SELECT count(*) FROM outbox')" -eq 0 ]; }

# The firm's Postgres: a local PostgreSQL 15 (the root has it), the schema,
# the daemon pushing to it, a daily dump, and a change pushed after the dump.
fx_postgres-configured() {
    local pw dpw
    systemctl start postgresql
    wait_for 30 runuser -u postgres -- pg_isready -q
    pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    dpw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    runuser -u postgres -- psql -XAtqc "ALTER ROLE postgres PASSWORD '$pw'"
    (umask 077; printf '%s\n' "$pw" >/root/pg_admin_pw)
    runuser -u postgres -- createdb buhbot
    (umask 077; printf '%s\n' "$dpw" >"$creds/postgres_password")
    printf '\n[postgres]\nhost = "127.0.0.1"\nport = 5432\ndbname = "buhbot"\nuser = "buhbot_daemon"\nsslmode = "disable"\npush_interval_seconds = 1\n' >>"$conf"
    CREDENTIALS_DIRECTORY=$creds buhbot migrate --postgres --supabase-stub \
        --admin-password-file /root/pg_admin_pw --set-daemon-password
    systemctl restart buhbot
    wait_for 60 queue_empty
    # As root: the password is in the root-only credentials.
    CREDENTIALS_DIRECTORY=$creds buhbot backup create-postgres
    # After the dump: a staff member added, pushed, and so not in the dump.
    buhbot users add 7000777 --name 'Доктест Анна' --role accountant
    wait_for 30 bash -c "[ \"\$(runuser -u postgres -- psql -d buhbot -XAtc 'SELECT count(*) FROM users WHERE telegram_id = 7000777')\" = 1 ]"
}

fx_lose-postgres() {
    runuser -u postgres -- dropdb --force buhbot
    incident
}

# Postgres has every row of the store again, the one added after the dump
# included.
fx_postgres-complete() {
    wait_for 60 queue_empty || { echo "the queue did not drain"; return 1; }
    local t l r bad=0
    for t in users:users client_requests:client_requests messages:chat_messages sla_alerts:sla_alerts; do
        l=$(sql "SELECT count(*) FROM ${t%%:*}")
        r=$(pg "SELECT count(*) FROM ${t#*:}")
        echo "${t%%:*}: store $l, postgres $r"
        [ "$l" = "$r" ] || bad=1
    done
    [ "$(pg 'SELECT count(*) FROM users WHERE telegram_id = 7000777')" = 1 ] || { echo "the user added after the dump is missing"; bad=1; }
    [ "$bad" -eq 0 ]
}

# ---------------------------------------------------------------- the runner
expect="" want_exit=0 stdin="" have_stdin=0 in_block=0 start=0 n=0 lineno=0
block=()
run_block() {
    local f=$work/block.sh out=$work/out rc=0
    printf '%s\n' "${block[@]}" >"$f"
    if [ "$have_stdin" -eq 1 ]; then
        printf '%s\n' "$stdin" | (cd "$dir" && timeout 300 bash -euo pipefail "$f") >"$out" 2>&1 || rc=$?
    else
        (cd "$dir" && timeout 300 bash -euo pipefail "$f") </dev/null >"$out" 2>&1 || rc=$?
    fi
    if [ "$rc" -ne "$want_exit" ]; then
        sed 's/^/    | /' "$out" | tail -n 40
        fail "$start" "exit $rc, expected $want_exit"
    fi
    if [ -n "$expect" ] && ! grep -Eq -- "$expect" "$out"; then
        sed 's/^/    | /' "$out" | tail -n 40
        fail "$start" "output does not match /$expect/"
    fi
    n=$((n + 1))
    printf 'ok %s:%s\n' "$name" "$start"
    expect="" want_exit=0 stdin="" have_stdin=0
}

directive_re='^<!-- doctest: ([a-z]+) ?(.*) -->$'
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    if [ "$in_block" -eq 1 ]; then
        if [ "$line" = '```' ]; then
            in_block=0
            run_block
        else
            block+=("$line")
        fi
        continue
    fi
    if [ "$line" = '```sh' ]; then
        in_block=1 start=$lineno block=()
        continue
    fi
    [[ $line =~ $directive_re ]] || continue
    key=${BASH_REMATCH[1]} arg=${BASH_REMATCH[2]}
    case "$key" in
        expect) expect=$arg ;;
        exit) want_exit=$arg ;;
        stdin) stdin=$arg have_stdin=1 ;;
        setup|harness)
            declare -F "fx_$arg" >/dev/null || fail "$lineno" "unknown $key: $arg"
            # Not in a condition: errexit holds inside the subshell.
            (set -e; "fx_$arg") >"$work/fx.out" 2>&1
            rc=$?
            sed 's/^/    # /' "$work/fx.out" | tail -n 40
            [ "$rc" -eq 0 ] || fail "$lineno" "$key $arg failed (exit $rc)"
            ;;
        clock) printf 'clock %s %s\n' "$arg" "$(awk -v a="$(cat "$work/incident")" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" ;;
        *) fail "$lineno" "unknown directive: $key" ;;
    esac
done <"$doc"
[ "$in_block" -eq 0 ] || fail "$start" "unterminated block"
printf 'done %s: %d block(s)\n' "$name" "$n"
