#!/usr/bin/env bash
# Runs every check of the project: formatting, lints and the whole test
# suite. Installs what the tests need on a fresh Debian machine first.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

# Debian packages the tests use (real servers and tools, not mocks).
need_pkgs=()
ensure_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' || need_pkgs+=("$1"); }
ensure_pkg gcc
ensure_pkg pkg-config
ensure_pkg prometheus  # promtool, to lint the metrics textfile
ensure_pkg python3-aiosmtpd  # tests/it/email.rs runs a real SMTP server
ensure_pkg man-db  # tests/it/man.rs lints the manual pages with man --warnings (pulls groff-base)
ensure_pkg systemd  # systemd-analyze verify/security on the unit
ensure_pkg procps  # /bin/kill, the unit's ExecReload= (for verify)
ensure_pkg shellcheck  # scripts/*.sh and the maintainer scripts
ensure_pkg debootstrap  # scripts/e2e-systemd.sh: the Debian 12 root
ensure_pkg systemd-container  # scripts/e2e-systemd.sh: systemd-nspawn --boot
ensure_pkg lintian  # scripts/build-deb.sh lints the package
ensure_pkg postgresql-15  # tests/it/pg: throwaway clusters (initdb, pg_ctl)
ensure_pkg pgbouncer  # tests/it/pg/pooler.rs: a transaction-mode pooler
ensure_pkg binutils  # strings: scripts/build-deb.sh checks the binary has no test-only code
ensure_pkg postgresql-15-pgtap  # scripts/test-postgres.sh: the schema's pgTAP suite
ensure_pkg libtap-parser-sourcehandler-pgtap-perl  # pg_prove
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${need_pkgs[*]} (run as root or install them)" >&2
        exit 1
    fi
    log "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy

# The minimum Rust version in Cargo.toml is a promise: check that tree
# builds with exactly that toolchain (rustup installs it once, minimal).
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
log "MSRV: cargo +$msrv check"
rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal
CARGO_TARGET_DIR=target/msrv cargo +"$msrv" check --locked --all-targets --features test-support --quiet

log "cargo fmt --check"
cargo fmt --all -- --check
# The integration tests (tests/it) and the bench driver need the test-only
# code (the recording fake Telegram API, `run --wedge-on-usr1`): they are
# built with the test-support feature only (required-features), and the
# release build and the .deb never are. Clippy runs both ways.
log "cargo clippy"
cargo clippy --all-targets --workspace --locked -- -D warnings
cargo clippy --all-targets --workspace --locked --features test-support -- -D warnings
log "cargo test --features test-support"
cargo test --locked --features test-support
# The local MTProto server's own unit tests (its crypto against grammers'
# client side); the over-the-wire tests above use it (tests/it/wire).
cargo test --locked -p mtproto-test-server
log "Postgres schema: migrations and the pgTAP suite (scripts/test-postgres.sh)"
scripts/test-postgres.sh

log "systemd unit: verify and exposure"
scripts/check-unit.sh systemd/buhbot.service
log "packaging/buhbot.toml: up to date and valid"
scripts/packaging-config.sh --check
pkgconf=$(mktemp)
sed "s|/usr/share/buhbot/calendars/ru/|$PWD/data/calendars/ru/|" packaging/buhbot.toml >"$pkgconf"
cargo run --locked --quiet -- check-config --config "$pkgconf"
rm -f "$pkgconf"
log "shellcheck"
shellcheck scripts/*.sh scripts/e2e/*.sh
shellcheck -s sh packaging/debian/preinst packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm

# The .deb under a real systemd 252 in a Debian 12 container (needs root,
# debootstrap and systemd-nspawn; the root is cached in /var/cache/buhbot-e2e).
# BUHBOT_SKIP_E2E=1 skips it.
if [ "${BUHBOT_SKIP_E2E:-0}" = 1 ]; then
    log "e2e-systemd: skipped (BUHBOT_SKIP_E2E=1)"
elif [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
    log "e2e-systemd: skipped (needs root, debootstrap and systemd-nspawn)"
else
    log "build the .deb (release build, cargo-deb, lintian --fail-on error,warning)"
    deb=$(scripts/build-deb.sh | tail -n 1)
    log "e2e-systemd"
    e2e_start=$SECONDS
    e2e_rc=0
    scripts/e2e-systemd.sh --deb "$deb" || e2e_rc=$?
    log "e2e-systemd took $((SECONDS - e2e_start)) s (exit $e2e_rc)"
    [ "$e2e_rc" -eq 0 ] || exit "$e2e_rc"
fi
