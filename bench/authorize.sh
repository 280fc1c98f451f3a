#!/usr/bin/env bash
# Load test for POST /api/v1/authorize, next to actix-web's minimal JSON
# handler on the same machine, with wrk (apt install wrk).
#   bench/authorize.sh [duration=20s] [connections=32]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-20s}
conns=${2:-32}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idbridge/target}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
cargo build --release --bin idbridge --example minimal_actix
bin="$CARGO_TARGET_DIR/release/idbridge"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export IDBRIDGE_DATABASE_URL="sqlite://$work/bench.db?mode=rwc" IDBRIDGE_LOG_LEVEL=warn

acct=$("$bin" account create --name Bench --admin-email admin@bench.test --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
key=$("$bin" api-key create --account "$acct" --user admin@bench.test --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
IDBRIDGE_LISTEN=127.0.0.1:18089 "$bin" serve 2>"$work/serve.log" &
LISTEN=127.0.0.1:18090 "$CARGO_TARGET_DIR/release/examples/minimal_actix" &
for _ in $(seq 1 50); do curl -fs 127.0.0.1:18089/readyz >/dev/null 2>&1 && break; sleep 0.2; done
# A custom role, an environment and a user holding the role, so decisions walk real data.
curl -fs -X PATCH -H "Authorization: Bearer $key" -H 'content-type: application/json' -d '{"advanced_user_security":true}' "127.0.0.1:18089/api/v1/accounts/$acct" >/dev/null
curl -fs -H "Authorization: Bearer $key" -H 'content-type: application/json' -d '{"name":"Dev","inherits":"Standard User","privileges":["View Audit Logs"]}' "127.0.0.1:18089/api/v1/accounts/$acct/roles" >/dev/null
curl -fs -H "Authorization: Bearer $key" -H 'content-type: application/json' -d '{"name":"Production","roles":["Dev"]}' "127.0.0.1:18089/api/v1/accounts/$acct/environments" >/dev/null

body="{\"account\":\"$acct\",\"user\":\"admin@bench.test\",\"privilege\":\"Execute\",\"environment\":\"Production\"}"
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
curl -fs -X POST -H "Authorization: Bearer $key" -H 'content-type: application/json' -d "$body" 127.0.0.1:18089/api/v1/authorize; echo

run() { wrk -t2 -c"$conns" -d"$dur" --latency -s "$work/post.lua" "$1" | tee "$work/out" >&2; \
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/out"); p99=$(awk '/ 99%/ {print $2}' "$work/out"); echo "$rps $p99"; }
echo "== idbridge POST /api/v1/authorize" >&2
read -r a_rps a_p99 < <(run http://127.0.0.1:18089/api/v1/authorize)
echo "== actix-web minimal JSON handler" >&2
read -r m_rps m_p99 < <(run http://127.0.0.1:18090/authorize)
python3 - "$a_rps" "$a_p99" "$m_rps" "$m_p99" <<'PY'
import sys
def ms(s):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * f
    return float(s)
a_rps, a_p99, m_rps, m_p99 = float(sys.argv[1]), ms(sys.argv[2]), float(sys.argv[3]), ms(sys.argv[4])
print(f"idbridge /authorize: {a_rps:.0f} req/s, p99 {a_p99:.2f} ms")
print(f"actix minimal:       {m_rps:.0f} req/s, p99 {m_p99:.2f} ms")
print(f"ratio idbridge/minimal: throughput {a_rps / m_rps:.2f}, p99 {a_p99 / m_p99:.2f}")
PY
