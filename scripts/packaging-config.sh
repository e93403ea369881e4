#!/bin/sh
# Generates packaging/buhbot.toml, the /etc/buhbot/buhbot.toml the Debian
# package installs, from config/buhbot.example.toml: the same file with the
# production calendars the package ships (every data/calendars/ru/*.xml, as
# /usr/share/buhbot/calendars/ru/*.xml) enabled.
#   scripts/packaging-config.sh          rewrite packaging/buhbot.toml
#   scripts/packaging-config.sh --check  fail if it is out of date (CI)
set -eu
cd "$(dirname "$0")/.."

example=config/buhbot.example.toml
out=packaging/buhbot.toml

calendars=""
for f in data/calendars/ru/*.xml; do
    calendars="$calendars /usr/share/buhbot/calendars/ru/${f##*/}"
done

generate() {
    awk -v calendars="$calendars" '
        NR == 1 {
            print
            print "# (installed by the Debian package; the fully commented original is"
            print "# /usr/share/buhbot/buhbot.example.toml)"
            next
        }
        # The commented-out example list becomes the list of shipped files.
        !replaced && /^# production_calendar = \[/ {
            skipping = 1
            n = split(calendars, cal, " ")
            print "production_calendar = ["
            for (i = 1; i <= n; i++) printf "    \"%s\",\n", cal[i]
            print "]"
            next
        }
        skipping && /^# \]/ { skipping = 0; replaced = 1; next }
        skipping { next }
        { print }
        END { if (!replaced) { print "packaging-config.sh: no production_calendar example found" > "/dev/stderr"; exit 1 } }
    ' "$example"
}

if [ "${1:-}" = --check ]; then
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    generate >"$tmp"
    if ! cmp -s "$tmp" "$out"; then
        diff -u "$out" "$tmp" >&2 || true
        echo "packaging-config.sh: $out is out of date; run scripts/packaging-config.sh" >&2
        exit 1
    fi
    echo "$out is up to date"
else
    tmp=$(mktemp "$out.XXXXXX")
    generate >"$tmp"
    mv "$tmp" "$out"
    chmod 644 "$out"
fi
