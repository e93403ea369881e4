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
ensure_pkg systemd  # systemd-analyze verify/security on the unit
ensure_pkg procps  # /bin/kill, the unit's ExecReload= (for verify)
ensure_pkg shellcheck  # scripts/*.sh and the maintainer scripts
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

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
log "cargo test"
cargo test --locked

log "systemd unit: verify and exposure"
scripts/check-unit.sh systemd/buhbot.service
log "shellcheck"
shellcheck scripts/*.sh
shellcheck -s sh packaging/debian/preinst packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm
