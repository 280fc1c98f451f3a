#!/usr/bin/env bash
# SCIM scale benchmark: 100k users, 5k groups (override: bench/scim.sh USERS GROUPS [postgres-url]).
# Reports create users/s, userName-eq lookup p50/p99, list page of 100, and a
# PATCH adding 10k members to one group.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-100000}
groups=${2:-5000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idbridge/target}"
cargo build --release --bin idbridge --example scim_load
bin="$CARGO_TARGET_DIR/release/idbridge"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export IDBRIDGE_DATABASE_URL="${3:-sqlite://$work/bench.db?mode=rwc}" IDBRIDGE_LOG_LEVEL=warn
# The load generator is one client: measure the server, not its per-token rate limit.
export IDBRIDGE_SCIM_REQUESTS_PER_SEC=0
acct=$("$bin" account create --name Bench --admin-email admin@bench.test --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
token=$("$bin" scim-token create --account "$acct" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# The server of a run just before may still be shutting down on this port
# (its keep-alive connections get up to 30 s): wait until the port is free.
for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/18088) 2>/dev/null || break; sleep 0.2; done
IDBRIDGE_LISTEN=127.0.0.1:18088 IDBRIDGE_PUBLIC_URL=http://127.0.0.1:18088 "$bin" serve 2>"${IDBRIDGE_BENCH_LOG:-$work/serve.log}" &
for _ in $(seq 1 50); do curl -fs 127.0.0.1:18088/readyz >/dev/null 2>&1 && break; sleep 0.2; done
"$CARGO_TARGET_DIR/release/examples/scim_load" http://127.0.0.1:18088/scim/v2 "$token" "$users" "$groups"
