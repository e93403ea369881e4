#!/usr/bin/env bash
# Measures the daemon's durable path in release: sustained ingest, paced
# ingest latency, READY time and idle memory with a 1 000 000-request
# database, graceful stop, alert lateness. Pass names to run a subset:
#   scripts/bench-daemon.sh ingest latency ready lateness telegram
# Targets (issue 3): >= 10 000 events/s; p99 < 5 ms at 1 000 events/s;
# READY < 200 ms; idle RSS < 20 MB; lateness p99 < 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
# The daemon measured is the release binary as packaged (no test-support);
# only the driver needs the recording fake.
cargo build --release --quiet --bin buhbot
cargo build --release --quiet --features test-support --example bench_daemon
exec ./target/release/examples/bench_daemon "$@"
