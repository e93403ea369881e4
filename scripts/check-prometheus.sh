#!/usr/bin/env bash
# Quick feedback on packaging/prometheus and packaging/grafana: promtool's
# lint and unit tests of the alert rules, then the integration test that
# checks every metric the rules and the dashboard name against what the
# daemon exports. scripts/test.sh runs the same through `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

promtool=${PROMTOOL:-/usr/bin/promtool}
if [ ! -x "$promtool" ]; then
    echo "$promtool missing: install the Debian package prometheus" >&2
    exit 1
fi

printf '==> %s\n' "promtool check rules"
"$promtool" check rules packaging/prometheus/buhbot-rules.yml
printf '==> %s\n' "promtool test rules"
(cd packaging/prometheus && "$promtool" test rules buhbot-rules.test.yml)
printf '==> %s\n' "cargo test --features test-support --test it prometheus::"
cargo test --locked --features test-support --test it -- prometheus::
