#!/usr/bin/env bash
# Serving a large directory: seeds N users and G groups (each user in one
# group) straight into a SQLite file with SQL (seeding through SCIM would take
# longer than the measurement; what is measured is serving them), starts the
# release server on it, and runs wrk against SCIM lookup, GET by id, a list
# page at a random startIndex, a group of ~N/G members and /authorize, each
# next to actix's no-work handler in the same run; then idbridge's RSS now
# and at its peak.
#   [ROUNDS=3] bench/scale.sh [users=1000000] [groups=10000] [duration=8s] [connections=16]
# Needs wrk and sqlite3 (apt-get install -y wrk sqlite3).
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-1000000}
groups=${2:-10000}
dur=${3:-8s}
conns=${4:-16}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idbridge/target}"
for t in wrk sqlite3; do command -v $t >/dev/null || { echo "$t is needed: apt-get install -y $t"; exit 1; }; done
cargo build --release --bin idbridge --example minimal_actix
bin="$CARGO_TARGET_DIR/release/idbridge"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export IDBRIDGE_DATABASE_URL="sqlite://$work/scale.db?mode=rwc" IDBRIDGE_LOG_LEVEL=warn
export IDBRIDGE_SCIM_REQUESTS_PER_SEC=0
port=18093
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
acct=$("$bin" account create --name Scale --admin-email admin@scale.test --json | json account_id)
token=$("$bin" scim-token create --account "$acct" --json | json token)
key=$("$bin" api-key create --account "$acct" --user admin@scale.test --json | json key)

echo "== seeding $users users and $groups groups with SQL"
start=$(date +%s)
sqlite3 "$work/scale.db" <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $users - 1)
INSERT INTO users (id, account_id, user_name, user_name_norm, email_norm, origin, active, attributes, created_at, updated_at)
SELECT printf('u%012d', i), '$acct', 'user' || i || '@load.test', 'user' || i || '@load.test', 'user' || i || '@load.test', 'scim', 1,
  '{"name":{"givenName":"Given' || i || '","familyName":"Family"},"emails":[{"value":"user' || i || '@load.test","primary":true,"type":"work"}],"displayName":"User ' || i || '","active":true}',
  1800000000000 + i, 1800000000000 + i FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $groups - 1)
INSERT INTO scim_groups (id, account_id, display_name, display_name_norm, attributes, created_at, updated_at)
SELECT printf('g%08d', i), '$acct', 'Group ' || i, 'group ' || i, '{}', 1800000000000 + i, 1800000000000 + i FROM n;
INSERT INTO group_members (group_id, user_id) SELECT printf('g%08d', CAST(substr(id, 2) AS INTEGER) % $groups), id FROM users WHERE account_id = '$acct' AND id LIKE 'u%';
COMMIT;
ANALYZE;
SQL
echo "seeded in $(( $(date +%s) - start )) s; database $(du -sh "$work" | cut -f1)"

# The server of a run just before may still be shutting down on this port
# (its keep-alive connections get up to 30 s): wait until the port is free.
for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || break; sleep 0.2; done
IDBRIDGE_LISTEN=127.0.0.1:$port IDBRIDGE_PUBLIC_URL=http://127.0.0.1:$port "$bin" serve 2>"$work/serve.log" &
pid=$!
LISTEN=127.0.0.1:18094 "$CARGO_TARGET_DIR/release/examples/minimal_actix" &
for _ in $(seq 1 100); do curl -fs 127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.2; done
base=http://127.0.0.1:$port

common() { cat <<LUA
users = $users
groups = $groups
token = "$token"
math.randomseed(os.time())
LUA
}
lua() { { common; cat; } > "$work/$1.lua"; }
lua handler <<'LUA'
wrk.method = "POST"; wrk.body = '{"privilege":"Execute"}'; wrk.headers["Content-Type"] = "application/json"
LUA
lua lookup <<'LUA'
request = function()
  return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22user" .. math.random(0, users - 1) .. "@load.test%22", {["Authorization"] = "Bearer " .. token})
end
LUA
lua get <<'LUA'
request = function()
  return wrk.format("GET", string.format("/scim/v2/Users/u%012d", math.random(0, users - 1)), {["Authorization"] = "Bearer " .. token})
end
LUA
lua page <<'LUA'
request = function()
  return wrk.format("GET", "/scim/v2/Users?startIndex=" .. math.random(1, users - 100) .. "&count=100", {["Authorization"] = "Bearer " .. token})
end
LUA
lua group <<'LUA'
request = function()
  return wrk.format("GET", string.format("/scim/v2/Groups/g%08d", math.random(0, groups - 1)), {["Authorization"] = "Bearer " .. token})
end
LUA
lua authorize <<LUA
wrk.method = "POST"
wrk.body = '{"account":"$acct","user":"admin@scale.test","privilege":"Execute"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA

. bench/wrk_lib.sh
table http://127.0.0.1:18094/authorize "$base" lookup get page group
grep -E "VmRSS|VmHWM" "/proc/$pid/status" | sed 's/^/idbridge /'
