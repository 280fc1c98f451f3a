# Sourced by bench/scim_wrk.sh and bench/scale.sh; expects $work (with the
# NAME.lua scripts), $dur and $conns.

# run NAME URL CONNECTIONS -> "req/s p99"
run() {
  wrk -t"$(( $3 < 2 ? $3 : 2 ))" -c"$3" -d"$dur" --latency -s "$work/$1.lua" "$2" > "$work/out" 2>&1
  if grep -q "Non-2xx" "$work/out"; then echo "$1: non-2xx answers" >&2; cat "$work/out" >&2; fi
  awk '/Requests\/sec/ {r=$2} / 99%/ {p=$2} END {print r, p}' "$work/out"
}

# table HANDLER_URL BASE_URL WORKLOAD... : at $conns connections and at 1,
# the no-work handler, each SCIM workload and /authorize, each as req/s, p99
# and its ratio to the handler in the same round. $ROUNDS rounds (default 3):
# the table shows each figure's median, then every round's ratio (this
# machine is noisy; one round can be off by a fifth).
table() {
  local handler=$1 base=$2 c w h_rps h_p99 rps p99 r
  shift 2
  : > "$work/rounds"
  for r in $(seq 1 "${ROUNDS:-3}"); do
    for c in "$conns" 1; do
      read -r h_rps h_p99 < <(run handler "$handler" "$c")
      echo "$c handler $h_rps $h_p99 1" >> "$work/rounds"
      for w in "$@" authorize; do
        local url=$base
        [ "$w" = authorize ] && url="$base/api/v1/authorize"
        read -r rps p99 < <(run "$w" "$url" "$c")
        echo "$c $w $rps $p99 $(python3 -c "print($rps/$h_rps)")" >> "$work/rounds"
      done
    done
  done
  python3 - "$work/rounds" "$conns" "$@" <<'PY'
import statistics, sys
path, conns, names = sys.argv[1], sys.argv[2], sys.argv[3:] + ["authorize"]
rows = [l.split() for l in open(path) if l.strip()]
def ms(p):  # wrk's latency ("684.00us", "2.27ms", "1.01s") in ms
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if p.endswith(unit):
            return float(p[: -len(unit)]) * f
    return float("nan")
label = lambda w, c: {"handler": f"actix no-work handler (c={c})", "authorize": f"POST /api/v1/authorize (c={c})"}.get(w, f"SCIM {w} (c={c})")
print(f"{'workload':34} {'req/s':>10} {'p99 ms':>8} {'ratio':>7}  ratios by round")
for c in (conns, "1"):
    for w in ["handler"] + names:
        got = [r for r in rows if r[0] == c and r[1] == w]
        if not got:
            continue
        rps = statistics.median(float(r[2]) for r in got)
        p99 = statistics.median(ms(r[3]) for r in got)
        ratio = statistics.median(float(r[4]) for r in got)
        each = " ".join(f"{float(r[4]):.3f}" for r in got)
        print(f"{label(w, c):34} {rps:10.0f} {p99:8.2f} {ratio:7.3f}  {each}")
PY
}
