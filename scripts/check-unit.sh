#!/bin/sh
# Static checks of the systemd unit, for CI (scripts/test.sh):
# - systemd-analyze verify prints nothing on stderr (it exits 0 even on
#   unknown keys, so any output is a failure). It needs the ExecStart=/
#   ExecReload= binaries and the default targets to exist, so it runs against
#   a throw-away root holding the unit, a dummy /usr/bin/buhbot, kill and
#   the host's stock units; --man=no because the man pages are only installed
#   with the package.
# - systemd-analyze security --offline: exposure at most 1.1.
#   scripts/check-unit.sh [UNIT]   (default systemd/buhbot.service)
set -eu
cd "$(dirname "$0")/.."
unit=${1:-systemd/buhbot.service}
name=$(basename "$unit")

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp /bin/kill "$root/usr/bin/kill"
printf '#!/bin/sh\nexit 0\n' >"$root/usr/bin/buhbot"
chmod 755 "$root/usr/bin/buhbot"
cp "$unit" "$root/etc/systemd/system/$name"

echo "==> systemd-analyze verify $unit"
err=$(systemd-analyze verify --man=no --root="$root" "/etc/systemd/system/$name" 2>&1 >/dev/null) || true
if [ -n "$err" ]; then
    printf '%s\n' "$err" >&2
    echo "check-unit.sh: systemd-analyze verify reported problems" >&2
    exit 1
fi

echo "==> systemd-analyze security --offline=true --threshold=11 $unit"
if ! out=$(systemd-analyze security --offline=true --threshold=11 --root="$root" "$name" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "check-unit.sh: the unit's exposure is above 1.1" >&2
    exit 1
fi
printf '%s\n' "$out" | tail -n 1
