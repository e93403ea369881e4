#!/usr/bin/env bash
# End-to-end test of the buhbot .deb under a real systemd 252 (Debian 12).
#
#   scripts/e2e-systemd.sh [--deb PATH] [--keep] [--cache-only] [--rebuild-cache]
#
# 1. The .deb: built by scripts/build-deb.sh (its last line of output is the
#    path), or taken from --deb PATH. A second, higher-versioned .deb for the
#    upgrade check is made WITHOUT a second release build: the first is
#    unpacked with `dpkg-deb -R`, `Version:` in DEBIAN/control gets the suffix
#    "+e2e1" (sorts above the original), a marker file
#    /usr/share/doc/buhbot/e2e-upgrade-marker holding the new version is added
#    (so the upgrade visibly changes a file), DEBIAN/md5sums is regenerated and
#    the tree is packed again with `dpkg-deb -b`. The binary itself is the
#    same, so "running the new version" is checked with `dpkg-query` (package
#    version), the marker, a changed MainPID and /proc/PID/exe not being a
#    deleted (replaced) file.
# 2. A Debian 12 root (`debootstrap --variant=minbase bookworm`) with systemd,
#    dbus, prometheus-node-exporter, curl, sqlite3, ... is cached in
#    /var/cache/buhbot-e2e/ (override: BUHBOT_E2E_CACHE). It is reused when its
#    stamp matches and its packages are installed; otherwise rebuilt. While
#    packages are installed into it with chroot, usr/sbin/policy-rc.d exits
#    101 (no daemon starts); it is removed before the cache is sealed. The
#    cache is never written by a test: the container boots with
#    --volatile=overlay (writes go to a tmpfs).
# 3. The root is booted with systemd-nspawn under `timeout`. An enabled oneshot
#    unit baked into the cache (buhbot-e2e.service) runs /debs/inside.sh
#    (scripts/e2e/inside.sh, bind-mounted read-only with the .debs, the example
#    export and security-audit.sh), which writes PASS/FAIL lines to
#    /out/results and powers the container off.
# 4. The results are printed; the exit status is non-zero if any check failed
#    or the run did not finish. Temporary files are removed (--keep keeps them
#    and prints where); after a failure the container's results, journal and
#    apt logs are copied to target/e2e-systemd/.
# Takes about 1.5 min with a cached root and a built .deb, plus about 1 min to
# build the root (cold), plus the release build of build-deb.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

log() { printf '==> %s\n' "$*"; }
die() { printf 'e2e-systemd: %s\n' "$*" >&2; exit 1; }

deb=""
keep=0
cache_only=0
rebuild_cache=0
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) deb=$(realpath "$2"); shift 2 ;;
        --deb=*) deb=$(realpath "${1#--deb=}"); shift ;;
        --keep) keep=1; shift ;;
        --cache-only) cache_only=1; shift ;;
        --rebuild-cache) rebuild_cache=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, systemd-nspawn)"
for tool in debootstrap systemd-nspawn dpkg-deb timeout flock; do
    command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# The Debian mirror apt already uses for bookworm (deb822 .sources or
# one-line .list entries): no mirror is written into the repository.
apt_mirror() {
    local f uri="" lists=()
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Stanzas are separated by blank lines; the first URI of a "deb"
        # stanza whose Suites include bookworm.
        uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
             {
                 types = ""; uri = ""; suites = ""
                 for (i = 1; i <= NF; i++) {
                     if ($i ~ /^Types:/)  types = $i
                     if ($i ~ /^URIs:/)   { split($i, u, /[ \t]+/); uri = u[2] }
                     if ($i ~ /^Suites:/) suites = $i " "
                 }
                 if (types ~ /[ \t]deb([ \t]|$)/ && suites ~ /[ \t]bookworm[ \t]/ && uri != "") { print uri; exit }
             }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && lists+=("$f")
    done
    [ ${#lists[@]} -gt 0 ] || return 1
    # One-line entries: deb [options] URI SUITE COMPONENTS...
    uri=$(awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                            if ($(i + 1) == "bookworm") { print $i; exit } }' "${lists[@]}")
    [ -n "$uri" ] && echo "$uri"
}
mirror=${BUHBOT_E2E_MIRROR:-$(apt_mirror)} ||
    die "no bookworm mirror in /etc/apt/sources.list{,.d}: set BUHBOT_E2E_MIRROR"
cache_dir=${BUHBOT_E2E_CACHE:-/var/cache/buhbot-e2e}
root=$cache_dir/bookworm
stamp=$cache_dir/bookworm.stamp
# postgresql-client: the package Recommends it (pg_dump for the Postgres
# backups) and the container has no network, so `apt-get install ./buhbot.deb`
# inside it must find it already installed, as on a host that has it.
# postgresql: the firm's Postgres of the disaster-recovery document's test
# (scripts/e2e/docs.sh), local to the container.
root_pkgs=(systemd systemd-sysv dbus prometheus-node-exporter curl ca-certificates iproute2 sqlite3 procps postgresql-client postgresql)
# Bump when the way the root is built changes: a root with another stamp is rebuilt.
stamp_text="buhbot-e2e root v2: bookworm minbase + ${root_pkgs[*]}"

work=$(mktemp -d /tmp/buhbot-e2e.XXXXXX)
chroot_mounts=()
cleanup() {
    local m
    for m in "${chroot_mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done
    if [ "$keep" -eq 1 ]; then
        log "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# The inside unit: runs the checks when /debs/inside.sh is there, then
# powers off whatever happened (ExecStopPost), so a crash cannot hang the boot.
e2e_unit='[Unit]
Description=buhbot end-to-end checks
ConditionPathExists=/debs/inside.sh
Wants=network.target
After=network.target dbus.service systemd-journald.service prometheus-node-exporter.service

[Service]
Type=oneshot
ExecStart=/bin/bash /debs/inside.sh
ExecStopPost=/bin/systemctl poweroff --no-block
TimeoutStartSec=900
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
'

cache_ok() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] || return 1
    [ -x "$root/usr/lib/systemd/systemd" ] && [ -x "$root/usr/bin/prometheus-node-exporter" ] || return 1
    [ -f "$root/etc/systemd/system/buhbot-e2e.service" ] || return 1
    [ ! -e "$root/usr/sbin/policy-rc.d" ] || return 1
    # Every package fully installed (catches an interrupted apt run).
    local st
    # shellcheck disable=SC2016  # dpkg-query format, not a shell expansion
    st=$(chroot "$root" dpkg-query -W -f='${db:Status-Abbrev}\n' "${root_pkgs[@]}" 2>/dev/null) || return 1
    ! grep -qv '^ii ' <<<"$st"
}

chroot_mount() {
    local r=$1
    mount -t proc proc "$r/proc"; chroot_mounts=("$r/proc" "${chroot_mounts[@]}")
    mount --bind /dev "$r/dev"; chroot_mounts=("$r/dev" "${chroot_mounts[@]}")
    mount --bind /dev/pts "$r/dev/pts"; chroot_mounts=("$r/dev/pts" "${chroot_mounts[@]}")
}

chroot_umount() {
    local m
    for m in "${chroot_mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done
    chroot_mounts=()
}

build_cache() {
    local tmp=$root.tmp
    log "building the Debian 12 root in $root (debootstrap + packages, ~1 min)"
    rm -rf "$tmp" "$root" "$stamp"
    mkdir -p "$cache_dir"
    debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$tmp/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    chroot_mount "$tmp"
    if ! chroot "$tmp" /bin/sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq \
            && apt-get install -y -qq --no-install-recommends ${root_pkgs[*]} && apt-get clean" \
            >"$work/chroot-apt.log" 2>&1; then
        chroot_umount
        tail -n 30 "$work/chroot-apt.log" >&2
        die "installing packages into the root failed"
    fi
    chroot_umount
    rm -f "$tmp/usr/sbin/policy-rc.d"
    printf '%s' "$e2e_unit" >"$tmp/etc/systemd/system/buhbot-e2e.service"
    ln -sf /etc/systemd/system/buhbot-e2e.service "$tmp/etc/systemd/system/multi-user.target.wants/buhbot-e2e.service"
    # Nothing in the container needs these; they only slow the boot down.
    ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily.timer"
    ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily-upgrade.timer"
    ln -sf /dev/null "$tmp/etc/systemd/system/systemd-networkd-wait-online.service"
    : >"$tmp/etc/machine-id"
    mv "$tmp" "$root"
    printf '%s' "$stamp_text" >"$stamp"
}

# ---------------------------------------------------------------- the cache
mkdir -p "$cache_dir"
exec 9>"$cache_dir.lock"
flock 9
t_cache=$SECONDS
if [ "$rebuild_cache" -eq 1 ] || ! cache_ok; then
    [ -e "$root" ] && log "cached root missing, incomplete or stale: rebuilding"
    build_cache
    cache_ok || die "the freshly built root fails its own completeness check"
    log "root built in $((SECONDS - t_cache)) s"
else
    log "reusing the cached root $root"
fi
[ "$cache_only" -eq 1 ] && exit 0

# ---------------------------------------------------------------- the .debs
debs=$work/debs
out=$work/out
mkdir -p "$debs" "$out"
if [ -z "$deb" ]; then
    [ -x scripts/build-deb.sh ] || die "no --deb given and scripts/build-deb.sh is missing"
    # lintian is build-deb.sh's own gate; this test is about the runtime.
    log "building the .deb (scripts/build-deb.sh --no-lintian)"
    deb=$(scripts/build-deb.sh --no-lintian | tail -n 1)
    deb=$(realpath "$deb")
fi
[ -f "$deb" ] || die "not a file: $deb"
# A copy at once: the shared target directory may be rebuilt meanwhile.
cp "$deb" "$work/orig.deb"
deb=$work/orig.deb
ver=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
[ "$(dpkg-deb -f "$deb" Package)" = buhbot ] || die "$deb is not the buhbot package"
cp "$deb" "$debs/buhbot_${ver}_${arch}.deb"

new_ver="${ver}+e2e1"
log "repacking $ver as $new_ver for the upgrade check"
rp=$work/repack
dpkg-deb -R "$deb" "$rp"
sed -i "s/^Version: .*/Version: ${new_ver}/" "$rp/DEBIAN/control"
install -d "$rp/usr/share/doc/buhbot"
printf '%s\n' "$new_ver" >"$rp/usr/share/doc/buhbot/e2e-upgrade-marker"
(cd "$rp" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$rp/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zgzip -b "$rp" "$debs/new.deb" >/dev/null
[ "$(dpkg-deb -f "$debs/new.deb" Version)" = "$new_ver" ] || die "repacking failed"
dpkg --compare-versions "$new_ver" gt "$ver" || die "$new_ver does not sort above $ver"

# The watchdog check needs --wedge-on-usr1, test-only code that the package
# does not contain: a second release build with the test-support feature, in
# a target directory of its own so that the packaged binary stays as built
# (BUHBOT_E2E_TEST_BINARY: a binary built so already).
test_bin=${BUHBOT_E2E_TEST_BINARY:-}
if [ -z "$test_bin" ]; then
    log "building the test-support binary for the watchdog check (target/e2e-test-support)"
    cargo build --release --locked --quiet --features test-support --bin buhbot \
        --target-dir target/e2e-test-support
    test_bin=target/e2e-test-support/release/buhbot
fi
[ -x "$test_bin" ] || die "not an executable: $test_bin"
install -m 0755 "$test_bin" "$debs/buhbot-test-support"
cp scripts/e2e/inside.sh "$debs/inside.sh"
cp data/examples/chat-export.json "$debs/chat-export.json"
# The example [[chats]] entry, from its header to the end of the file.
sed -n '/^\[\[chats\]\]/,$p' data/examples/buhbot.toml >"$debs/chats.toml"
[ -s "$debs/chats.toml" ] || die "no [[chats]] entry in data/examples/buhbot.toml"
# The operator documents and their test (run after the checks above).
cp -r docs "$debs/docs"
cp scripts/e2e/docs.sh "$debs/docs.sh"
if [ -f scripts/security-audit.sh ]; then
    cp scripts/security-audit.sh "$debs/security-audit.sh"
fi
printf 'OLD_VERSION=%s\nNEW_VERSION=%s\n' "$ver" "$new_ver" >"$debs/versions"

# ---------------------------------------------------------------- the boot
log "booting the container (systemd-nspawn, at most 16 min)"
t_boot=$SECONDS
rc=0
timeout --kill-after=15 960 systemd-nspawn -q -D "$root" --register=no --keep-unit \
    --private-network --volatile=overlay \
    --bind="$out:/out" --bind-ro="$debs:/debs" \
    --boot --console=pipe >"$work/console.log" 2>&1 </dev/null || rc=$?
log "container ran $((SECONDS - t_boot)) s (nspawn exit $rc)"

# ---------------------------------------------------------------- the summary
fail=0
echo
echo "==================== buhbot e2e (systemd) results ===================="
if [ -s "$out/results" ]; then
    cat "$out/results"
else
    echo "(no results written)"
fi
echo "======================================================================"
npass=$(grep -c '^PASS ' "$out/results" 2>/dev/null || true)
nfail=$(grep -c '^FAIL ' "$out/results" 2>/dev/null || true)
if ! grep -qx 'DONE' "$out/results" 2>/dev/null; then
    echo "FAIL the checks did not run to the end (timeout or crash; nspawn exit $rc)"
    fail=1
fi
[ "${nfail:-0}" -gt 0 ] && fail=1
[ "${npass:-0}" -gt 0 ] || fail=1
echo "passed: ${npass:-0}, failed: ${nfail:-0}"
if [ "$fail" -ne 0 ]; then
    echo "--- last lines of the container console ---"
    tail -n 40 "$work/console.log" || true
    if [ -f "$out/journal.txt" ]; then
        echo "--- last lines of the container journal (buhbot) ---"
        grep -a 'buhbot' "$out/journal.txt" | tail -n 40 || true
    fi
    if [ "$keep" -eq 0 ]; then
        mkdir -p "$repo/target/e2e-systemd"
        cp -a "$out/." "$work/console.log" "$repo/target/e2e-systemd/" 2>/dev/null || true
        echo "logs kept in $repo/target/e2e-systemd/"
    fi
    echo "e2e-systemd: FAILED"
    exit 1
fi
echo "e2e-systemd: all checks passed"
