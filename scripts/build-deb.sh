#!/bin/sh
# Builds the Debian package: release build + cargo-deb, then lintian.
# Prints the path of the .deb on stdout (the last line); everything else goes
# to stderr.
#   scripts/build-deb.sh [--no-lintian]
set -eu
cd "$(dirname "$0")/.."

lintian=yes
for arg in "$@"; do
    case "$arg" in
        --no-lintian) lintian=no ;;
        -h|--help) sed -n '2,5p' "$0" >&2; exit 0 ;;
        *) echo "build-deb.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log() { printf '==> %s\n' "$*" >&2; }

if ! cargo deb --version >/dev/null 2>&1; then
    log "installing cargo-deb"
    cargo install cargo-deb --locked >&2
fi

log "packaging/buhbot.toml up to date"
scripts/packaging-config.sh --check >&2

# The package goes to this worktree's target/debian/, not to a shared
# CARGO_TARGET_DIR where another checkout's build could replace it.
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p target/debian
log "cargo deb (release build in $target_dir)"
out=$(cargo deb --locked --output target/debian/ | tail -n 1)
# cargo-deb prints the path of the package it wrote as its last line.
deb=$out
case "$deb" in
    /*) ;;
    *) deb="$PWD/$deb" ;;
esac
if [ ! -f "$deb" ]; then
    echo "build-deb.sh: cargo deb did not report a package (got: $out; target dir: $target_dir)" >&2
    exit 1
fi

# Test-only code (behind the test-support feature) must not ship: neither
# the recording fake Telegram API nor the wedge option.
log "no test-only code in the packaged binary"
unpacked=$(mktemp -d)
dpkg-deb -x "$deb" "$unpacked"
for needle in "RecordingApi: simulated crash" "wedge-on-usr1" "ingest loop wedged"; do
    if strings "$unpacked/usr/bin/buhbot" | grep -qF "$needle"; then
        rm -rf "$unpacked"
        echo "build-deb.sh: the packaged binary contains test-only code (\"$needle\")" >&2
        exit 1
    fi
done
rm -rf "$unpacked"

if [ "$lintian" = yes ]; then
    if ! command -v lintian >/dev/null 2>&1; then
        log "installing lintian"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null
    fi
    log "lintian $deb"
    lintian --fail-on error,warning --suppress-tags initial-upload-closes-no-bugs "$deb" >&2
fi
echo "$deb"
