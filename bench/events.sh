#!/usr/bin/env bash
# What the events outbox costs a SCIM create, and how fast deliveries go out.
#   bench/events.sh [baseline-rev=b50bfb1^] [duration=10s] [connections=16] [runs=3]
# Builds this checkout, this checkout with the create's event taken out (the
# one `ctx.event(.., "user.created", ..)` line deleted in a worktree: what the
# event itself costs, everything else equal), and the baseline revision (the
# commit before the outbox; same target directory, so only idbridge's own
# crates rebuild), then on a fresh SQLite database each: wrk POSTs unique
# users at N connections. This checkout runs twice: no webhook, and one
# endpoint (every create also writes a delivery row) whose deliveries go to
# actix's no-work handler (examples/minimal_actix); for that run it also
# reports how long the backlog takes to drain (deliveries per second).
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:-b50bfb1^}
dur=${2:-10s}
conns=${3:-16}
runs=${4:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/idbridge/target}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
work=$(mktemp -d)
# The worktrees build first. Cargo gives idbridge's crates the same artifact
# names wherever their source is, and decides freshness by file times: the
# checkout's own sources are touched before its build (and again on exit) so
# it never reuses a variant's library.
touch_checkout() { find src migrations access-model -name '*.rs' -exec touch {} +; }
trap 'kill $(jobs -p) 2>/dev/null || true; git worktree remove --force "$work/base" 2>/dev/null || true; rm -rf "$work"; touch_checkout' EXIT
git worktree add --detach "$work/base" "$base_rev" >/dev/null
(cd "$work/base" && cargo build --release --bin idbridge)
cp "$CARGO_TARGET_DIR/release/idbridge" "$work/idbridge-base"
git worktree remove --force "$work/base"
git worktree add --detach "$work/base" HEAD >/dev/null
git diff HEAD | (cd "$work/base" && git apply --allow-empty)
sed -i '/ctx.event(.*"user.created"/d' "$work/base/src/scim/users.rs"
grep -q '"user.created"' "$work/base/src/scim/users.rs" && { echo "the create's event is still there"; exit 1; }
(cd "$work/base" && cargo build --release --bin idbridge)
cp "$CARGO_TARGET_DIR/release/idbridge" "$work/idbridge-noevent"
touch_checkout
cargo build --release --bin idbridge --example minimal_actix
cp "$CARGO_TARGET_DIR/release/idbridge" "$work/idbridge-now"
cp "$CARGO_TARGET_DIR/release/examples/minimal_actix" "$work/receiver"
cmp -s "$work/idbridge-now" "$work/idbridge-noevent" && { echo "the two builds of this checkout are the same binary"; exit 1; }

LISTEN=127.0.0.1:18092 "$work/receiver" &
cat > "$work/create.lua" <<'LUA'
local n = 0
local tid = tostring(math.random(1, 1e9))
request = function()
  n = n + 1
  return wrk.format("POST", "/scim/v2/Users", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/scim+json"},
    '{"userName":"u' .. tid .. '-' .. n .. '@bench.test"}')
end
LUA

# run <label> <binary> <with-webhook: 0|1> <run number>
run() {
  local label=$1 bin=$2 hook=$3 port=18093
  local db="$work/$label-$4.db"
  export IDBRIDGE_DATABASE_URL="sqlite://$db?mode=rwc" IDBRIDGE_LOG_LEVEL=warn IDBRIDGE_SCIM_REQUESTS_PER_SEC=0
  export IDBRIDGE_WEBHOOK_ALLOW_INTERNAL=true IDBRIDGE_WEBHOOK_POLL_MS=50
  local acct token key
  acct=$("$bin" account create --name Bench --admin-email admin@bench.test --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')
  token=$("$bin" scim-token create --account "$acct" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  if [ "$hook" = 1 ]; then
    "$bin" webhook add --account "$acct" --url http://127.0.0.1:18092/authorize --json >/dev/null
  fi
  IDBRIDGE_LISTEN=127.0.0.1:$port IDBRIDGE_PUBLIC_URL=http://127.0.0.1:$port "$bin" serve 2>"$work/$label.log" &
  local pid=$!
  for _ in $(seq 1 50); do curl -fs 127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.2; done
  { echo "token = \"$token\""; cat "$work/create.lua"; } > "$work/$label.lua"
  local rps
  rps=$(wrk -t2 -c"$conns" -d"$dur" -s "$work/$label.lua" "http://127.0.0.1:$port" | awk '/Requests\/sec/ {print $2}')
  printf '%-32s %10s creates/s\n' "$label" "$rps"
  printf '%s\t%s\n' "$label" "$rps" >> "$work/results"
  if [ "$hook" = 1 ]; then
    local start end total
    start=$(date +%s.%N)
    for _ in $(seq 1 600); do  # at most two minutes
      left=$(python3 -c "import sqlite3,sys; c=sqlite3.connect('$db'); print(c.execute(\"select count(*) from webhook_deliveries where status='pending'\").fetchone()[0])")
      [ "$left" = 0 ] && break
      sleep 0.2
    done
    [ "$left" = 0 ] || echo "  (stopped waiting with $left deliveries still pending)"
    end=$(date +%s.%N)
    total=$(python3 -c "import sqlite3; c=sqlite3.connect('$db'); print(c.execute(\"select count(*) from webhook_deliveries where status='delivered'\").fetchone()[0])")
    local secs=${dur%s}
    python3 -c "d=$total; t=$secs + ($end - $start); print('%-28s %10.0f deliveries/s (%d delivered in %.1f s: the load, then %.1f s to drain)' % ('delivery to one endpoint', d / t, d, t, $end - $start))"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "== SCIM creates at $conns connections for $dur (SQLite), $runs rounds, variants interleaved"
for i in $(seq 1 "$runs"); do
  run "baseline ($base_rev)" "$work/idbridge-base" 0 "$i"
  run "this checkout, no create event" "$work/idbridge-noevent" 0 "$i"
  run "events (outbox)" "$work/idbridge-now" 0 "$i"
done
run "events + 1 webhook" "$work/idbridge-now" 1 1
echo "== medians"
python3 - "$work/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, rps = line.rstrip("\n").split("\t")
    runs.setdefault(label, []).append(float(rps))
med = {k: statistics.median(v) for k, v in runs.items()}
plain = med.get("this checkout, no create event")
for k, m in med.items():
    ratio = f"{m / plain:.2f} of no-event" if plain else ""
    print(f"{k:32} {m:10.0f} creates/s  {ratio}  (runs: {', '.join(f'{x:.0f}' for x in runs[k])})")
PY
