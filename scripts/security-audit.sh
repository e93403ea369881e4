#!/usr/bin/env bash
# Security audit of an installed buhbot (the Debian package's layout).
#   scripts/security-audit.sh [ROOT]
# ROOT (default /) is the file system to inspect: / on a real host or inside
# the e2e container, or an unpacked/installed tree. The journal and socket
# checks need a running systemd and the daemon; they are skipped (with a
# note) when ROOT is not / or systemd is not PID 1.
# Prints every finding as "FINDING: ..." and exits 1 if there is any, 0 if
# the audit is clean (2 on a usage error).
set -uo pipefail

ROOT=${1:-/}
ROOT=${ROOT%/}
[ -d "${ROOT:-/}" ] || { echo "security-audit.sh: no such directory: $1" >&2; exit 2; }
MAX_EXPOSURE_TENTHS=11 # 1.1, the score of the full sandbox for a network client

findings=0
finding() { printf 'FINDING: %s\n' "$*"; findings=$((findings + 1)); }
ok() { printf 'ok: %s\n' "$*"; }
note() { printf 'note: %s\n' "$*"; }

# uid of a user in ROOT's passwd (not the host's).
uid_of() { awk -F: -v u="$1" '$1 == u { print $3; found = 1 } END { exit !found }' "$ROOT/etc/passwd" 2>/dev/null; }

# check_mode PATH MODE OWNER [type]: octal mode and owning user of PATH.
check_mode() {
    local path=$1 want_mode=$2 want_owner=$3 want_uid st mode uid
    if [ ! -e "$ROOT$path" ]; then
        finding "$path is missing"
        return
    fi
    if ! want_uid=$(uid_of "$want_owner"); then
        finding "user $want_owner does not exist (owner of $path)"
        return
    fi
    st=$(stat -c '%a %u' "$ROOT$path")
    mode=${st% *}
    uid=${st#* }
    if [ "$mode" != "$want_mode" ] || [ "$uid" != "$want_uid" ]; then
        finding "$path has mode $mode uid $uid, expected $want_mode $want_owner (uid $want_uid)"
    else
        ok "$path $mode $want_owner"
    fi
}

# --- 1. the unit's exposure score -------------------------------------------
unit=""
for u in /etc/systemd/system/buhbot.service /usr/lib/systemd/system/buhbot.service /lib/systemd/system/buhbot.service; do
    if [ -f "$ROOT$u" ]; then unit=$u; break; fi
done
if [ -z "$unit" ]; then
    finding "buhbot.service not found under $ROOT/{etc,usr/lib,lib}/systemd/system"
elif ! command -v systemd-analyze >/dev/null 2>&1; then
    finding "systemd-analyze is not installed: cannot score the unit"
else
    # Offline, on the unit as installed under ROOT including its drop-ins.
    out=$(systemd-analyze security --offline=true --root="${ROOT:-/}" \
        --threshold="$MAX_EXPOSURE_TENTHS" buhbot.service 2>&1)
    rc=$?
    score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for buhbot.service: \([0-9.]*\).*/\1/p')
    if [ $rc -ne 0 ] || [ -z "$score" ]; then
        finding "unit exposure ${score:-unknown} is above 1.1 (or could not be computed): $(printf '%s\n' "$out" | tail -n 1)"
    else
        ok "unit exposure $score (<= 1.1)"
    fi
fi

# --- 2. file modes ----------------------------------------------------------
check_mode /etc/buhbot/buhbot.toml 644 root
check_mode /etc/buhbot/credentials 700 root
if [ -d "$ROOT/etc/buhbot/credentials" ]; then
    for f in "$ROOT"/etc/buhbot/credentials/* "$ROOT"/etc/buhbot/credentials/.[!.]*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        if [ -L "$f" ] || [ ! -f "$f" ]; then
            finding "${f#"$ROOT"} is not a regular file"
            continue
        fi
        check_mode "${f#"$ROOT"}" 600 root
    done
fi
check_mode /var/lib/buhbot 751 buhbot

# --- 3. no secret in the configuration file ---------------------------------
conf="$ROOT/etc/buhbot/buhbot.toml"
if [ -f "$conf" ]; then
    # A Telegram bot token anywhere (even in a comment), a key that names a
    # secret given a value inline (password_file = ... is fine), or a URL
    # with a password in it.
    hits=$(grep -nE \
        -e '[0-9]{6,}:[A-Za-z0-9_-]{30,}' \
        -e '^[[:space:]]*[A-Za-z0-9_]*(token|password|passwd|secret|api_hash|api_key|apikey)[[:space:]]*=' \
        -e '[a-z][a-z0-9+.-]*://[^/@[:space:]:]+:[^/@[:space:]]+@' \
        "$conf" | grep -vE '^[0-9]+:[[:space:]]*[A-Za-z0-9_]*_file[[:space:]]*=')
    if [ -n "$hits" ]; then
        while IFS= read -r line; do
            # The line number only: never print what may be a secret.
            finding "/etc/buhbot/buhbot.toml line ${line%%:*} looks like a secret"
        done <<<"$hits"
    else
        ok "no secret-looking value in /etc/buhbot/buhbot.toml"
    fi
fi

# --- 4./5. the running daemon: journal and sockets --------------------------
live=no
if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then live=yes; fi

if [ "$live" = yes ] && command -v journalctl >/dev/null 2>&1; then
    journal=$(mktemp)
    trap 'rm -f "$journal"' EXIT
    journalctl -u buhbot.service --no-pager -o cat >"$journal" 2>/dev/null || true
    leaked=0
    for f in /etc/buhbot/credentials/*; do
        if [ ! -f "$f" ] || [ ! -s "$f" ]; then continue; fi
        # Every line of the secret of 4 characters or more (shorter ones
        # would match by chance); -F: the content is not a pattern.
        while IFS= read -r s || [ -n "$s" ]; do
            s=${s%$'\r'}
            [ ${#s} -ge 4 ] || continue
            if grep -qF -- "$s" "$journal"; then
                finding "the journal of buhbot.service contains the content of $f"
                leaked=1
                break
            fi
        done <"$f"
    done
    [ $leaked -eq 0 ] && ok "no credential in the journal of buhbot.service ($(wc -l <"$journal") lines)"
else
    note "journal check skipped (needs ROOT=/ and a running systemd)"
fi

if [ "$live" = yes ] || { [ -z "$ROOT" ] && pgrep -x buhbot >/dev/null 2>&1; }; then
    pids=""
    if [ "$live" = yes ]; then
        main=$(systemctl show -p MainPID --value buhbot.service 2>/dev/null || echo 0)
        [ "${main:-0}" != 0 ] && pids=$main
    fi
    for p in $(pgrep -x buhbot 2>/dev/null); do
        case " $pids " in *" $p "*) ;; *) pids="$pids $p" ;; esac
    done
    pids=${pids# } # trim the leading blank
    if [ -z "$pids" ]; then
        note "socket check skipped: buhbot is not running"
    elif command -v ss >/dev/null 2>&1; then
        listening=""
        for p in $pids; do
            listening+=$(ss -Hlntup 2>/dev/null | grep -E "pid=$p,")
        done
        if [ -n "$listening" ]; then
            while IFS= read -r l; do finding "buhbot listens: $l"; done <<<"$listening"
        else
            ok "no listening socket of buhbot (pid $pids)"
        fi
    else
        # Without ss: the socket inodes of the process against the LISTEN
        # (TCP state 0A) and bound UDP (07) entries of /proc/net.
        n=0
        for p in $pids; do
            inodes=$(find "/proc/$p/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n')
            for t in tcp tcp6 udp udp6; do
                [ -r "/proc/$p/net/$t" ] || continue
                while read -r _ local _ st _ _ _ _ _ inode _; do
                    case "$t:$st" in tcp*:0A|udp*:07) ;; *) continue ;; esac
                    if printf '%s\n' "$inodes" | grep -qx "$inode"; then
                        finding "buhbot (pid $p) has a listening $t socket on $local"
                        n=$((n + 1))
                    fi
                done <"/proc/$p/net/$t"
            done
        done
        [ $n -eq 0 ] && ok "no listening socket of buhbot (pid $pids; /proc, no ss)"
    fi
else
    note "socket check skipped (needs ROOT=/ and a running buhbot)"
fi

if [ $findings -gt 0 ]; then
    echo "security audit: $findings finding(s)"
    exit 1
fi
echo "security audit: clean"
