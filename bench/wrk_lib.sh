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
# and its ratio to the handler in the same round.
table() {
  local handler=$1 base=$2 c w h_rps h_p99 rps p99
  shift 2
  printf "%-34s %12s %10s %8s\n" workload "req/s" p99 ratio
  for c in "$conns" 1; do
    read -r h_rps h_p99 < <(run handler "$handler" "$c")
    printf "%-34s %12s %10s %8s\n" "actix no-work handler (c=$c)" "$h_rps" "$h_p99" 1.00
    for w in "$@"; do
      read -r rps p99 < <(run "$w" "$base" "$c")
      printf "%-34s %12s %10s %8.3f\n" "SCIM $w (c=$c)" "$rps" "$p99" "$(python3 -c "print($rps/$h_rps)")"
    done
    read -r rps p99 < <(run authorize "$base/api/v1/authorize" "$c")
    printf "%-34s %12s %10s %8.3f\n" "POST /api/v1/authorize (c=$c)" "$rps" "$p99" "$(python3 -c "print($rps/$h_rps)")"
  done
}
