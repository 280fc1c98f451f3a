#!/usr/bin/env bash
# SCIM under concurrent load, each figure next to actix-web's no-work JSON
# handler measured in the same run (a ratio, since this machine is noisy).
#   [ROUNDS=3] bench/scim_wrk.sh [users=20000] [duration=10s] [connections=16] [database-url]
# Seeds users with examples/scim_load (which prints its own sequential
# figures), then runs wrk (apt install wrk) at N connections and at 1, ROUNDS
# times; the table gives medians and every round's ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-20000}
dur=${2:-10s}
conns=${3:-16}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idbridge/target}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
cargo build --release --bin idbridge --example scim_load --example minimal_actix
bin="$CARGO_TARGET_DIR/release/idbridge"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export IDBRIDGE_DATABASE_URL="${4:-sqlite://$work/bench.db?mode=rwc}" IDBRIDGE_LOG_LEVEL=warn
export IDBRIDGE_SCIM_REQUESTS_PER_SEC=0
port=18091
acct=$("$bin" account create --name Bench --admin-email admin@bench.test --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
token=$("$bin" scim-token create --account "$acct" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
key=$("$bin" api-key create --account "$acct" --user admin@bench.test --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
# The server of a run just before may still be shutting down on this port
# (its keep-alive connections get up to 30 s): wait until the port is free.
for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || break; sleep 0.2; done
IDBRIDGE_LISTEN=127.0.0.1:$port IDBRIDGE_PUBLIC_URL=http://127.0.0.1:$port "$bin" serve 2>"${IDBRIDGE_BENCH_LOG:-$work/serve.log}" &
LISTEN=127.0.0.1:18092 "$CARGO_TARGET_DIR/release/examples/minimal_actix" &
for _ in $(seq 1 50); do curl -fs 127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.2; done
base=http://127.0.0.1:$port
echo "== seeding $users users (sequential figures from scim_load)"
"$CARGO_TARGET_DIR/release/examples/scim_load" "$base/scim/v2" "$token" "$users" 1 | grep -v "^PATCH"
# 1,000 user ids for GET-by-id and PATCH: the seeded users, not the
# break-glass administrator (SCIM may not change it: a PATCH is 403).
curl -fs -H "Authorization: Bearer $token" "$base/scim/v2/Users?count=1001&attributes=id,userName" \
  | python3 -c 'import json,sys; print("ids = {" + ",".join("\"%s\"" % r["id"] for r in json.load(sys.stdin)["Resources"] if r["userName"] != "admin@bench.test") + "}")' > "$work/ids.lua"

common() { cat <<LUA
$(cat "$work/ids.lua")
users = $users
token = "$token"
math.randomseed(os.time())
counter = 0
LUA
}
lua() { { common; cat; } > "$work/$1.lua"; }
lua handler <<'LUA'
wrk.method = "POST"; wrk.body = '{"privilege":"Execute"}'; wrk.headers["Content-Type"] = "application/json"
LUA
lua lookup <<'LUA'
request = function()
  local i = math.random(0, users - 1)
  return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22user" .. i .. "@load.test%22", {["Authorization"] = "Bearer " .. token})
end
LUA
lua get <<'LUA'
request = function()
  return wrk.format("GET", "/scim/v2/Users/" .. ids[math.random(1, #ids)], {["Authorization"] = "Bearer " .. token})
end
LUA
lua page <<'LUA'
request = function()
  local s = math.random(1, users - 100)
  return wrk.format("GET", "/scim/v2/Users?startIndex=" .. s .. "&count=100", {["Authorization"] = "Bearer " .. token})
end
LUA
lua create <<'LUA'
setup = function(thread) thread:set("tid", tostring(math.random(1, 1e9))) end
request = function()
  counter = counter + 1
  local u = "w" .. tid .. "-" .. counter .. "@load.test"
  return wrk.format("POST", "/scim/v2/Users", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"},
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. u .. '","name":{"givenName":"W","familyName":"L"},"emails":[{"value":"' .. u .. '","primary":true}],"active":true}')
end
LUA
lua patch <<'LUA'
request = function()
  counter = counter + 1
  return wrk.format("PATCH", "/scim/v2/Users/" .. ids[math.random(1, #ids)], {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"},
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Name ' .. counter .. '"}]}')
end
-- Any answer but 200 is shown with its body (rare: printing each would slow wrk).
response = function(status, headers, body)
  if status ~= 200 then io.write("patch answered ", status, ": ", body, "\n") end
end
LUA
lua authorize <<LUA
wrk.method = "POST"
wrk.body = '{"account":"$acct","user":"admin@bench.test","privilege":"Execute"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA

. bench/wrk_lib.sh
table http://127.0.0.1:18092/authorize "$base" lookup get page patch create
echo "RSS of idbridge: $(ps -o rss= -p "$(pgrep -f "$bin serve" | head -1)") KiB"
