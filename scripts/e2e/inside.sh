#!/bin/bash
# Runs INSIDE the booted Debian 12 container of scripts/e2e-systemd.sh, as the
# oneshot unit buhbot-e2e.service. Reads /debs (the .debs, the example export,
# chats.toml, versions, security-audit.sh), writes one "PASS name — detail" or
# "FAIL name — detail" line per check to /out/results, "DONE" at the end, the
# journal to /out/journal.txt, and leaves the poweroff to the unit.
set -u
export DEBIAN_FRONTEND=noninteractive
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
res=/out/results
: >"$res"
# shellcheck source=/dev/null
. /debs/versions   # OLD_VERSION, NEW_VERSION

say() { printf '[e2e] %s\n' "$*"; }
record() { # PASS|FAIL name detail
    printf '%s %s — %s\n' "$1" "$2" "$3" >>"$res"
    say "$1 $2 — $3"
}
# check NAME FUNCTION: the function returns 0/1 and sets $detail.
check() {
    local name=$1
    detail=""
    say "running $name"
    if "$2"; then record PASS "$name" "$detail"; else record FAIL "$name" "$detail"; fi
}
prop() { systemctl show -P "$1" buhbot 2>/dev/null; }
alive() { [ "$(systemctl is-active buhbot 2>/dev/null)" = active ]; }
cursor() { journalctl -u buhbot -n 0 --show-cursor --no-pager 2>/dev/null | sed -n 's/^-- cursor: //p'; }
since() { journalctl -u buhbot --no-pager -o cat --after-cursor="$1" "${@:2}" 2>/dev/null; }
# wait_for SECONDS COMMAND...: polls once a second.
wait_for() {
    local n=$1; shift
    while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 1; n=$((n - 1)); done
    "$@"
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

conf=/etc/buhbot/buhbot.toml
creds=/etc/buhbot/credentials
token="e2e-fake-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
mainpid=""

# ------------------------------------------------------------ 1. fresh install
t_install_fresh() {
    local deb
    deb=$(ls /debs/buhbot_*.deb)
    if ! apt-get install -y "$deb" >/out/apt-install.log 2>&1; then
        detail="apt-get install $deb failed: $(tail -n 3 /out/apt-install.log | tr '\n' ' ')"
        return 1
    fi
    local en act cond failed
    en=$(systemctl is-enabled buhbot 2>&1)
    act=$(systemctl is-active buhbot 2>&1)
    cond=$(prop ConditionResult)
    failed=$(systemctl is-failed buhbot 2>&1)
    detail="is-enabled=$en is-active=$act ConditionResult=$cond is-failed=$failed"
    [ "$en" = enabled ] && [ "$act" = inactive ] && [ "$cond" = no ] && [ "$failed" != failed ]
}

# ------------------------------------------------------------ 2. configure, start
t_placeholders() {
    local f missing=""
    for f in telegram_api_hash postgres_password postgres_backup_password smtp_password; do
        [ -f "$creds/$f" ] || missing="$missing $f"
    done
    detail="$(stat -c '%U:%G %a' "$creds" 2>&1) $creds;${missing:+ missing:$missing}"
    [ -z "$missing" ] && [ "$(stat -c '%U %a' "$creds" 2>/dev/null)" = "root 700" ]
}

configure() {
    install -d -m 0700 "$creds"
    (umask 077; printf '%s\n' "$token" >"$creds/telegram_bot_token")
    for f in telegram_api_hash postgres_password postgres_backup_password smtp_password; do
        [ -e "$creds/$f" ] || install -m 0600 /dev/null "$creds/$f"
    done
    install -d /usr/share/buhbot-e2e
    install -m 0644 /debs/chat-export.json /usr/share/buhbot-e2e/chat-export.json
    if grep -q '^\[telegram\]' "$conf"; then
        sed -i '/^\[telegram\]/a bot_id = 6000000' "$conf"
    else
        printf '\n[telegram]\nbot_id = 6000000\n' >>"$conf"
    fi
    printf '\n' >>"$conf"
    cat /debs/chats.toml >>"$conf"
    install -d /etc/systemd/system/buhbot.service.d
    cat >/etc/systemd/system/buhbot.service.d/e2e.conf <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/bin/buhbot run --config /etc/buhbot/buhbot.toml --source replay:/usr/share/buhbot-e2e/chat-export.json?speed=100000
EOF
    systemctl daemon-reload
}

# The packaged unit on its default source, Telegram, which cannot be reached
# from the container: systemd must keep the start pending (no READY=1
# before the first connection) while STATUS= says why; then a clean stop.
t_telegram_not_ready() {
    local dropin=/etc/systemd/system/buhbot.service.d/e2e.conf st act sub
    mv "$dropin" /root/e2e.conf.off
    sed -i '/^\[telegram\]/a api_id = 12345' "$conf"
    (umask 077; printf 'e2e-fake-api-hash\n' >"$creds/telegram_api_hash")
    systemctl daemon-reload
    systemctl start --no-block buhbot
    wait_for 20 bash -c 'systemctl show -P StatusText buhbot | grep -q "Telegram DISCONNECTED since"' || true
    sleep 3
    act=$(prop ActiveState); sub=$(prop SubState); st=$(prop StatusText)
    detail="ActiveState=$act SubState=$sub StatusText=\"$st\""
    timeout 60 systemctl stop buhbot
    local res; res=$(prop Result)
    detail="$detail; after stop Result=$res"
    mv /root/e2e.conf.off "$dropin"
    : >"$creds/telegram_api_hash"
    systemctl daemon-reload
    # "DISCONNECTED since …" once an attempt failed; "connecting" while the
    # first one still waits for a TCP timeout (no route out of here).
    [ "$act" = activating ] && [ "$sub" = start ] && grep -qE 'Telegram DISCONNECTED since|connecting to Telegram' <<<"$st" \
        && [ "$res" = success ]
}

t_check_config() {
    detail=$(/usr/bin/buhbot check-config --config "$conf" 2>&1 | tail -n 2 | tr '\n' ' ')
    /usr/bin/buhbot check-config --config "$conf" >/dev/null 2>&1
}

t_start() {
    local t0 t1 st
    t0=$(date +%s.%N)
    if ! timeout 90 systemctl start buhbot; then
        detail="systemctl start failed: $(systemctl status buhbot --no-pager -n 5 2>&1 | tail -n 6 | tr '\n' ' ')"
        return 1
    fi
    t1=$(date +%s.%N)
    mainpid=$(prop MainPID)
    st=$(systemctl status buhbot --no-pager -n 0 2>&1)
    local active status
    active=$(grep -o 'Active: [a-z]* ([a-z]*)' <<<"$st")
    status=$(grep -m1 'Status: ' <<<"$st" | sed 's/^ *//')
    detail="start took $(elapsed "$t0" "$t1") s; $active; MainPID=$mainpid; $status"
    [ "$active" = "Active: active (running)" ] && grep -q 'Status: ".*open requests' <<<"$st"
}

# ------------------------------------------------------------ 3. journal, alerts
alerts_in_journal() { [ "$(journalctl -u buhbot -p warning..warning -o cat --no-pager | grep -c 'SLA alert')" -gt 0 ]; }

t_journal_priorities() {
    if alive; then wait_for 60 alerts_in_journal; fi
    local nwarn ninfo_running
    nwarn=$(journalctl -u buhbot -p warning --no-pager -o cat | grep -c 'SLA alert')
    ninfo_running=$(journalctl -u buhbot -p info..info --no-pager -o cat | grep -c 'buhbot is running')
    detail="-p warning: $nwarn 'SLA alert' lines; -p info..info: $ninfo_running 'buhbot is running' lines"
    [ "$nwarn" -gt 0 ] && [ "$ninfo_running" -gt 0 ]
}

t_alerts() {
    local lines db=""
    lines=$(journalctl -u buhbot -p warning --no-pager -o cat | grep -c 'SLA alert')
    if [ -f /var/lib/buhbot/buhbot.db ]; then
        db=$(sqlite3 -readonly /var/lib/buhbot/buhbot.db 'select count(*) from sla_alerts' 2>&1)
    fi
    detail="journal: $lines SLA alert lines; sqlite sla_alerts: ${db:-no db}; $(systemctl show -P StatusText buhbot)"
    [ "$lines" -gt 0 ] && [ "${db:-0}" -gt 0 ] 2>/dev/null
}

# ------------------------------------------------------------ 4. node_exporter
scrape() { curl -s --max-time 5 http://localhost:9100/metrics 2>/dev/null | grep -q '^buhbot_build_info'; }
t_node_exporter() {
    local ne link
    ne=$(systemctl is-active prometheus-node-exporter 2>&1)
    link=$(readlink /var/lib/prometheus/node-exporter/buhbot.prom 2>&1)
    local wait=45
    alive || wait=0
    if wait_for "$wait" scrape; then
        detail="node_exporter ($ne, user $(ps -o user= -C prometheus-node-exporter | head -n1)) serves: $(curl -s localhost:9100/metrics | grep -m1 '^buhbot_build_info'); $(curl -s localhost:9100/metrics | grep -c '^buhbot_') buhbot_ samples; symlink -> $link"
        return 0
    fi
    detail="prometheus-node-exporter $ne; symlink -> $link; metrics file: $(stat -c '%A %U %n' /var/lib/buhbot /var/lib/buhbot/metrics /var/lib/buhbot/metrics/buhbot.prom 2>&1 | tr '\n' ' '); scrape errors: $(curl -s localhost:9100/metrics | grep textfile | grep -i error | head -n 3 | tr '\n' ' ')"
    return 1
}

# ------------------------------------------------------------ 5. watchdog
restarted() {
    [ "$(prop NRestarts)" -gt "$1" ] && [ "$(systemctl is-active buhbot)" = active ] && [ "$(prop MainPID)" != "$2" ] && [ "$(prop MainPID)" != 0 ]
}
# The packaged binary has no --wedge-on-usr1 (test-only code is behind the
# test-support feature): this check alone runs the unit on a binary built
# with it (/debs/buhbot-test-support), and puts the packaged one back after.
# Drop-ins apply in lexical order and the last ExecStart= wins: this one
# must sort after e2e.conf ("e2e-wedge.conf" sorted before it, so the
# packaged binary kept running and the signal was ignored).
wedge_dropin=/etc/systemd/system/buhbot.service.d/zz-e2e-wedge.conf
wedge_bin=/usr/share/buhbot-e2e/buhbot-test-support
unwedge() {
    rm -f "$wedge_dropin" "$wedge_bin"
    systemctl daemon-reload
    systemctl restart buhbot
    wait_for 30 alive || true
}
t_wedge() {
    local rc=0
    alive || { detail="buhbot is not active: nothing to wedge"; return 1; }
    [ -x /debs/buhbot-test-support ] || { detail="no /debs/buhbot-test-support (a build with --features test-support)"; return 1; }
    install -m 0755 /debs/buhbot-test-support "$wedge_bin"
    printf '[Service]\nExecStart=\nExecStart=%s run --config /etc/buhbot/buhbot.toml --source replay:/usr/share/buhbot-e2e/chat-export.json?speed=100000 --wedge-on-usr1\n' \
        "$wedge_bin" >"$wedge_dropin"
    systemctl daemon-reload
    systemctl restart buhbot
    if ! wait_for 30 alive; then
        detail="the test-support binary did not start: $(systemctl is-active buhbot)"
        unwedge
        return 1
    fi
    local exe
    exe=$(readlink "/proc/$(prop MainPID)/exe" || true)
    if [ "$exe" != "$wedge_bin" ]; then
        detail="the unit runs $exe, not the test-support binary $wedge_bin (drop-in order?)"
        unwedge
        return 1
    fi
    wedge_run || rc=$?
    unwedge
    return "$rc"
}
wedge_run() {
    local n0 p0 t0 t1 c
    n0=$(prop NRestarts); p0=$(prop MainPID); c=$(cursor)
    t0=$(date +%s.%N)
    systemctl kill --kill-who=main -s SIGUSR1 buhbot
    # The daemon withholds WATCHDOG=1 once the ingest loop has not beaten for
    # 30 s (checked every 15 s), systemd aborts it 30 s after the last ping
    # (WatchdogSec=30s) and restarts it after RestartSec=5s: 55-80 s in all.
    if ! wait_for 100 restarted "$n0" "$p0"; then
        detail="not restarted within 100 s: NRestarts $n0 -> $(prop NRestarts), $(systemctl is-active buhbot), MainPID $p0 -> $(prop MainPID)"
        return 1
    fi
    t1=$(date +%s.%N)
    mainpid=$(prop MainPID)
    local wd
    wd=$(journalctl -u buhbot --no-pager -o cat --after-cursor="$c" | grep -m1 -i 'watchdog timeout')
    local tk
    tk=$(journalctl -u buhbot -o short-unix --no-pager --after-cursor="$c" | grep -m1 -i 'watchdog timeout' | cut -d' ' -f1)
    detail="killed by the watchdog after $(elapsed "$t0" "${tk:-$t0}") s, active again after $(elapsed "$t0" "$t1") s; NRestarts $n0 -> $(prop NRestarts); MainPID $p0 -> $mainpid; journal: ${wd:-no 'Watchdog timeout' line}"
    [ -n "$wd" ]
}

# ------------------------------------------------------------ 6. reload
reloaded() { since "$1" | grep -q 'configuration reloaded'; }
t_reload() {
    local c p0
    alive || { detail="buhbot is not active: nothing to reload"; return 1; }
    p0=$(prop MainPID); c=$(cursor)
    sed -i '/^\[sla\]/,/^\[/ s/^threshold_minutes *=.*/threshold_minutes = 45/' "$conf"
    grep -q '^threshold_minutes = 45' "$conf" || { detail="could not edit [sla] threshold_minutes"; return 1; }
    systemctl reload buhbot
    if ! wait_for 15 reloaded "$c"; then
        detail="no 'configuration reloaded' within 15 s: $(since "$c" | tail -n 3 | tr '\n' ' ')"
        return 1
    fi
    detail="$(since "$c" | grep -m1 'configuration reloaded'); MainPID $p0 -> $(prop MainPID)"
    [ "$(prop MainPID)" = "$p0" ] && [ "$(systemctl is-active buhbot)" = active ]
}
# "PRIORITY MESSAGE" of the entries after cursor $1 with priority <= $2.
# (journalctl 252 combines -p with --after-cursor badly: it returns nothing.)
since_prio() {
    journalctl -u buhbot --no-pager -o export --after-cursor="$1" | awk -v RS= -v max="$2" '
        match($0, /\nPRIORITY=[0-9]/) { p = substr($0, RSTART + 10, 1)
            if (p <= max && match($0, /\nMESSAGE=[^\n]*/)) print p " " substr($0, RSTART + 9, RLENGTH - 9) }'
}
# The rejection is logged at error priority (<3>):
# "configuration reload rejected, keeping the running one: ...".
reject_re='reload.*(reject|fail|error)'
reload_rejected() { since_prio "$1" 3 | grep -qiE "$reject_re"; }
t_reload_bad() {
    alive || { detail="buhbot is not active: nothing to reload"; return 1; }
    local c p0 good
    p0=$(prop MainPID); c=$(cursor); good=$(mktemp)
    cp -p "$conf" "$good"
    printf '\n[sla\nthis is = not toml\n' >>"$conf"
    systemctl reload buhbot
    local ok=0
    wait_for 15 reload_rejected "$c" || ok=1
    sleep 2
    local line prio act
    line=$(since_prio "$c" 3 | grep -m1 -iE "$reject_re" | cut -c1-160)
    prio=${line%% *}
    act=$(systemctl is-active buhbot)
    detail="logged (priority ${prio:-?}): ${line#* }; service $act; MainPID $p0 -> $(prop MainPID)"
    cp -p "$good" "$conf"; rm -f "$good"
    [ "$ok" -eq 0 ] && [ "$act" = active ] && [ "$(prop MainPID)" = "$p0" ]
}

# ------------------------------------------------------------ 7. stop
t_stop() {
    local t0 t1 s
    t0=$(date +%s.%N)
    timeout 60 systemctl stop buhbot
    t1=$(date +%s.%N)
    s=$(elapsed "$t0" "$t1")
    local act res
    act=$(systemctl is-active buhbot); res=$(prop Result)
    detail="systemctl stop took $s s (limit 10 s, TimeoutStopSec=$(prop TimeoutStopUSec)); is-active=$act Result=$res"
    # Start it again for the upgrade check.
    timeout 90 systemctl start buhbot || true
    mainpid=$(prop MainPID)
    awk -v s="$s" 'BEGIN { exit !(s <= 10) }' && [ "$act" = inactive ] && [ "$res" = success ]
}

# ------------------------------------------------------------ 8. upgrade
t_upgrade() {
    local marker p0 t0 nb0 nb1
    marker="# e2e-conffile-marker $(date +%s)"
    printf '%s\n' "$marker" >>"$conf"
    p0=$(prop MainPID)
    nb0=$(find /var/backups/buhbot -maxdepth 1 -name 'buhbot-*.tar.gz' 2>/dev/null | wc -l)
    t0=$(date +%s)
    if ! apt-get install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold /debs/new.deb >/out/apt-upgrade.log 2>&1; then
        detail="apt-get install new.deb failed: $(tail -n 3 /out/apt-upgrade.log | tr '\n' ' ')"
        return 1
    fi
    wait_for 30 test "$(systemctl is-active buhbot)" = active
    local v p1 exe keep backup bmt start_us startsec ok=0
    v=$(dpkg-query -W -f='${Version}' buhbot)
    p1=$(prop MainPID)
    exe=$(readlink "/proc/$p1/exe" 2>&1)
    if grep -qxF "$marker" "$conf"; then keep=kept; else keep=LOST; ok=1; fi
    nb1=$(find /var/backups/buhbot -maxdepth 1 -name 'buhbot-*.tar.gz' 2>/dev/null | wc -l)
    backup=$(find /var/backups/buhbot -maxdepth 1 -name 'buhbot-*.tar.gz' -newermt "@$((t0 - 1))" -printf '%T@ %f\n' 2>/dev/null | sort -n | head -n 1)
    bmt=${backup%% *}; bmt=${bmt%.*}
    start_us=$(systemctl show -P ExecMainStartTimestampMonotonic buhbot)
    # The new daemon's start, in seconds since the epoch.
    startsec=$(awk -v m="$start_us" -v up="$(cut -d' ' -f1 /proc/uptime)" -v now="$(date +%s)" 'BEGIN { printf "%d", now - up + m / 1e6 }')
    detail="version $v (want $NEW_VERSION); marker $keep; dpkg leftovers: $(find /etc/buhbot -name '*.dpkg-*' -printf '%f ')-; backups $nb0 -> $nb1 (${backup#* }); MainPID $p0 -> $p1; exe $exe; $(buhbot --version 2>&1 | head -n 1); e2e marker $(cat /usr/share/doc/buhbot/e2e-upgrade-marker 2>&1)"
    [ "$v" = "$NEW_VERSION" ] || ok=1
    [ "$nb1" -gt "$nb0" ] && [ -n "$backup" ] || ok=1
    # The backup was written before the new binary started (and migrated).
    [ -n "$bmt" ] && [ "$bmt" -le "$((startsec + 1))" ] || ok=1
    [ "$p1" != "$p0" ] && [ "$p1" != 0 ] || ok=1
    case "$exe" in *deleted*|'') ok=1 ;; esac
    [ "$(systemctl is-active buhbot)" = active ] || ok=1
    [ -f /usr/share/doc/buhbot/e2e-upgrade-marker ] || ok=1
    return "$ok"
}

# ------------------------------------------------------------ 9. security audit
t_security_audit() {
    if [ ! -f /debs/security-audit.sh ]; then
        detail="scripts/security-audit.sh is not in the tree (pkg branch)"
        return 1
    fi
    local rc=0
    bash /debs/security-audit.sh >/out/security-audit.log 2>&1 || rc=$?
    detail="exit $rc: $(tail -n 2 /out/security-audit.log | tr '\n' ' ')"
    [ "$rc" -eq 0 ]
}

# ------------------------------------------------------------ 10. secrets
t_no_secret() {
    local n
    n=$(journalctl -b -o export --no-pager | grep -acF "$token")
    detail="fake token found in $n journal fields of this boot ($(journalctl -b --no-pager -o cat | wc -l) lines searched)"
    [ "$n" -eq 0 ]
}

# ------------------------------------------------------------ 11. purge
t_purge() {
    if ! apt-get purge -y buhbot >/out/apt-purge.log 2>&1; then
        detail="apt-get purge failed: $(tail -n 3 /out/apt-purge.log | tr '\n' ' ')"
        return 1
    fi
    rm -rf /etc/systemd/system/buhbot.service.d
    systemctl daemon-reload
    local left="" nb
    [ -e /var/lib/buhbot ] && left="$left /var/lib/buhbot"
    [ -e /etc/buhbot ] && left="$left /etc/buhbot"
    { [ -e /var/lib/prometheus/node-exporter/buhbot.prom ] || [ -L /var/lib/prometheus/node-exporter/buhbot.prom ]; } && left="$left buhbot.prom-symlink"
    [ -e /usr/bin/buhbot ] && left="$left /usr/bin/buhbot"
    pgrep -x buhbot >/dev/null && left="$left running-process(unit $(systemctl is-active buhbot))"
    nb=$(find /var/backups/buhbot -maxdepth 1 -name 'buhbot-*.tar.gz' 2>/dev/null | wc -l)
    detail="left behind:${left:- nothing}; /var/backups/buhbot keeps $nb archives"
    [ -z "$left" ] && [ "$nb" -gt 0 ]
}

# ------------------------------------------------------------ 12. the documents
# Every command of docs/*.md, in the order an operator meets them, on the
# host the purge left (scripts/e2e/docs.sh). One check per document; the
# recovery times go into the detail.
doc=""
t_doc() {
    local log=/out/doc-$doc.log
    bash /debs/docs.sh "/debs/docs/$doc.md" >"$log" 2>&1
    local rc=$?
    cat "$log"
    detail="$(grep -c '^ok ' "$log") block(s) ok$(sed -n 's/^clock \(.*\) \(.*\)$/; \1 \2 s/p' "$log" | tr -d '\n')"
    [ "$rc" -eq 0 ] || detail="$detail; $(grep -m1 '^not ok' "$log")"
    [ "$rc" -eq 0 ]
}

say "buhbot e2e: $OLD_VERSION -> $NEW_VERSION on $(systemctl --version | head -n 1)"
check fresh-install-enabled-not-started t_install_fresh
check credential-placeholders t_placeholders
configure
check config-valid t_check_config
check telegram-unreachable-not-ready t_telegram_not_ready
check start-notify-status t_start
check journal-priorities t_journal_priorities
check replay-raises-alerts t_alerts
check node-exporter-metrics t_node_exporter
check watchdog-restarts-wedged t_wedge
check reload-config t_reload
check reload-bad-config-kept t_reload_bad
check stop-fast-clean t_stop
check upgrade-keeps-conffile-backup-restart t_upgrade
check security-audit t_security_audit
check no-secret-in-journal t_no_secret
check purge t_purge
rm -rf /var/backups/buhbot
for doc in install upgrade troubleshooting disaster-recovery security; do
    check "docs-$doc" t_doc
done
journalctl -b --no-pager -o short-precise >/out/journal.txt 2>&1
systemctl status buhbot --no-pager >/out/status.txt 2>&1
echo DONE >>"$res"
