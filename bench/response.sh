#!/usr/bin/env bash
# Response benchmark (docs/BENCHMARKS.md, "Response"): command-to-effect latency of kill, block
# and isolate through the real server and agent, and the exec-storm slowdown with blocking on.
#
# A server on a veth address, an agent inside a network namespace of its own (so isolating it
# cuts nothing of this host) with the replay source on an idle FIFO: no sensor runs, so the
# storm measures what blocking costs and nothing else. Needs root.
#   kill     N x `mamori kill HOST PID` of a fresh sleep: from the command until the process
#            is gone (polled every 2 ms), and the CLI round trip (the agent's confirmed result)
#   block    N x a fresh file (unique bytes) run every 5 ms while `mamori block hash` is sent:
#            from the command until the first exec that fails
#   isolate  N x `mamori isolate` / `mamori release`: from the command until a TCP connect from
#            the host to a peer fails (probed every 5 ms), and the CLI round trip (self-test
#            included)
#   storm    BENCH_ROUNDS x (BENCH_EXECS serial fork+exec of a static no-op) with the block list
#            empty, with 3 unrelated hashes blocked, and with a prevent rule in block mode (every
#            exec stopped and checked), interleaved, order rotating
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/bin}
N=${BENCH_N:-30}
ROUNDS=${BENCH_ROUNDS:-10}
EXECS=${BENCH_EXECS:-5000}
OUT=${BENCH_OUT:-$ROOT/bench/results/response.md}
[ "$(id -u)" = 0 ] || { echo "bench/response.sh: needs root" >&2; exit 2; }

WORK=$(mktemp -d /tmp/mamori-bench-resp.XXXXXX)
NS=mamori-bench-$$ PNS=mamori-bpeer-$$ K=$(( ($$ % 200) + 20 ))
SIP=10.241.$K.1 AIP=10.241.$K.2 PEER=10.242.$K.2
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$PNS" 2>/dev/null || true
  ip link del "vbs$K" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

ip netns add "$NS"
ip netns add "$PNS"
ip link add "vbs$K" type veth peer name "vba$K"
ip link set "vba$K" netns "$NS"
ip addr add "$SIP/24" dev "vbs$K"
ip link set "vbs$K" up
ip -n "$NS" addr add "$AIP/24" dev "vba$K"
ip -n "$NS" link set "vba$K" up
ip -n "$NS" link set lo up
ip -n "$NS" link add "vbp$K" type veth peer name "vbq$K"
ip -n "$NS" link set "vbq$K" netns "$PNS"
ip -n "$NS" addr add "10.242.$K.1/24" dev "vbp$K"
ip -n "$NS" link set "vbp$K" up
ip -n "$PNS" addr add "$PEER/24" dev "vbq$K"
ip -n "$PNS" link set "vbq$K" up
ip netns exec "$PNS" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080)); s.listen(512)
while True:
    c, _ = s.accept(); c.close()' "$PEER" &
PIDS+=($!)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/mamori-server" --data "$WORK/server" --listen "0.0.0.0:$PORT" --name "$SIP" \
  >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  curl -sf --cacert "$WORK/server/ca.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
export MAMORI_URL=https://127.0.0.1:$PORT MAMORI_CACERT=$WORK/server/ca.crt
MAMORI_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$WORK/server/initial-admin.json")
export MAMORI_TOKEN
CLI=$BIN/mamori
token=$("$CLI" tokens create --group default --expires 1h)
ip netns exec "$NS" "$BIN/mamori-agent" enroll --state "$WORK/agent" --host-name bench \
  "https://$SIP:$PORT" "$token" >/dev/null 2>>"$WORK/agent.log"
printf 'uplink:\n  heartbeat_s: 2\n' >"$WORK/agent.yml"
# One rule for the prevention condition of the storm; nothing the bench runs matches it.
cat >"$WORK/prevent.yml" <<'YML'
title: Bench prevent rule
id: 0b5e7c1e-bench-4e1d-9c2a-prevent00001
status: test
level: high
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: '/never-run-by-the-bench'
  condition: selection
YML
mkfifo "$WORK/feed"
sleep 100000 >"$WORK/feed" &
PIDS+=($!)
ip netns exec "$NS" "$BIN/mamori-agent" run --config "$WORK/agent.yml" --state "$WORK/agent" \
  --replay "$WORK/feed" --host-name bench --rules "$WORK/prevent.yml" >>"$WORK/agent.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do "$CLI" hosts ping bench --timeout 2 >/dev/null 2>&1 && break; sleep 0.2; done

# p50 and p99 of the numbers in a file (nearest rank).
pct() { sort -n "$1" | awk '{v[NR]=$1} END {p50=v[int((NR+1)*0.5)]; i=int(NR*0.99+0.999); if(i<1)i=1; printf "%s %s %s\n", p50, v[i], NR}'; }

# ---- kill ----
echo "bench/response.sh: kill" >&2
: >"$WORK/kill_effect" ; : >"$WORK/kill_rtt"
for i in $(seq "$N"); do
  sleep 1000 &
  P=$!
  t0=$(now_ms)
  "$CLI" kill bench "$P" >/dev/null &
  C=$!
  while kill -0 "$P" 2>/dev/null && ! grep -q ') Z' "/proc/$P/stat" 2>/dev/null; do sleep 0.002; done
  t1=$(now_ms)
  wait "$C"
  t2=$(now_ms)
  wait "$P" 2>/dev/null || true
  echo $((t1 - t0)) >>"$WORK/kill_effect"
  echo $((t2 - t0)) >>"$WORK/kill_rtt"
done

# ---- block ----
echo "bench/response.sh: block" >&2
gcc -O2 -static -o "$WORK/tiny" "$ROOT/bench/tiny.c"
gcc -O2 -Wall -pthread -o "$WORK/storm" "$ROOT/bench/storm.c"
blocked_count() { "$CLI" hosts show bench | awk '$1=="health.enforcement.blocked_hashes"{print $2}'; }
: >"$WORK/block_effect"
for i in $(seq "$N"); do
  cp "$WORK/tiny" "$WORK/target$i"
  head -c 32 /dev/urandom >>"$WORK/target$i"
  chmod 755 "$WORK/target$i"
  SUM=$(sha256sum "$WORK/target$i" | cut -c1-64)
  t0=$(now_ms)
  "$CLI" block hash "$SUM" >/dev/null
  until ! "$WORK/target$i" 2>/dev/null; do sleep 0.005; done
  t1=$(now_ms)
  echo $((t1 - t0)) >>"$WORK/block_effect"
  "$CLI" unblock hash "$SUM" >/dev/null
  for _ in $(seq 500); do [ "$(blocked_count)" = 0 ] && break; sleep 0.02; done
done

# ---- isolate ----
echo "bench/response.sh: isolate" >&2
probe() { ip netns exec "$NS" python3 -c '
import socket, sys, time
t0 = time.time()
while time.time() - t0 < 10:
    s = socket.socket(); s.settimeout(0.005)
    try:
        s.connect((sys.argv[1], 8080))
    except OSError:
        print(int(time.time() * 1000)); sys.exit(0)
    finally:
        s.close()
    time.sleep(0.005)
sys.exit(1)' "$PEER"; }
: >"$WORK/iso_effect"; : >"$WORK/iso_rtt"
for i in $(seq "$N"); do
  probe >"$WORK/probe.out" &
  PR=$!
  sleep 0.2
  t0=$(now_ms)
  "$CLI" isolate bench >/dev/null
  t2=$(now_ms)
  wait "$PR" || { echo "isolation never took effect" >&2; exit 1; }
  echo $(( $(cat "$WORK/probe.out") - t0 )) >>"$WORK/iso_effect"
  echo $((t2 - t0)) >>"$WORK/iso_rtt"
  "$CLI" release bench >/dev/null
done

# ---- exec storm with blocking off and on ----
echo "bench/response.sh: exec storm with blocking off and on" >&2
# "ELAPSED CPU": wall time, and the CPU time of the driver and its children (the kernel's exec
# hooks are charged to the exec'ing process), which the machine's noise disturbs less.
storm() { "$WORK/storm" exec "$EXECS" "$WORK/tiny" | sed -n 's/^elapsed_s=\([0-9.]*\) .*cpu_s=\([0-9.]*\).*/\1 \2/p'; }
set_blocking() {
  local want=$1 h
  for h in 1111111111111111111111111111111111111111111111111111111111111111 \
           2222222222222222222222222222222222222222222222222222222222222222 \
           3333333333333333333333333333333333333333333333333333333333333333; do
    if [ "$want" = on ]; then "$CLI" block hash "$h" >/dev/null 2>&1 || true
    else "$CLI" unblock hash "$h" >/dev/null 2>&1 || true; fi
  done
  local n=0; [ "$want" = on ] && n=3
  for _ in $(seq 500); do [ "$(blocked_count)" = "$n" ] && return 0; sleep 0.02; done
  echo "blocking did not turn $want" >&2; exit 1
}
: >"$WORK/storm.txt"
prevent_n() { "$CLI" hosts show bench | awk '$1=="health.enforcement.prevent_rules"{print $2}'; }
set_prevent() {
  if [ "$1" = on ]; then
    printf '{"mode": "block", "prevent_rules": ["0b5e7c1e-bench-4e1d-9c2a-prevent00001"]}' >"$WORK/pol.json"
  else
    printf '{"mode": "detect"}' >"$WORK/pol.json"
  fi
  "$CLI" policy apply default "$WORK/pol.json" >/dev/null
  local n=0; [ "$1" = on ] && n=1
  for _ in $(seq 500); do [ "$(prevent_n)" = "$n" ] && return 0; sleep 0.02; done
  echo "prevention did not turn $1" >&2; exit 1
}
for r in $(seq "$ROUNDS"); do
  case $((r % 3)) in
    1) order="off on prevent" ;;
    2) order="on prevent off" ;;
    *) order="prevent off on" ;;
  esac
  for c in $order; do
    case $c in
      off) set_prevent off; set_blocking off ;;
      on) set_prevent off; set_blocking on ;;
      prevent) set_blocking off; set_prevent on ;;
    esac
    sleep 1 # the agent's work on the change is not the storm's
    storm >"$WORK/el"
    echo "$r $c $(cat "$WORK/el")" >>"$WORK/storm.txt"
  done
done
set_prevent off
set_blocking off

read -r k50 k99 kn < <(pct "$WORK/kill_effect")
read -r kr50 kr99 _ < <(pct "$WORK/kill_rtt")
read -r b50 b99 bn < <(pct "$WORK/block_effect")
read -r i50 i99 in < <(pct "$WORK/iso_effect")
read -r ir50 ir99 _ < <(pct "$WORK/iso_rtt")
storm_report=$(python3 - "$WORK/storm.txt" "$EXECS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
def col(c, k):
    return {int(r[0]): float(r[2 + k]) for r in rows if r[1] == c}
for k, what in ((0, "elapsed"), (1, "CPU")):
    off = col("off", k)
    mo = statistics.median(off.values())
    for c, label in (("on", "3 hashes blocked"), ("prevent", "a prevent rule naming one image")):
        cur = col(c, k)
        m = statistics.median(cur.values())
        per = statistics.median(cur[r] / off[r] for r in off if r in cur)
        print(f"| {label} | {what} | {len(cur)} | {mo:.3f} s ({mo / n * 1e6:.0f} µs/exec) | {m:.3f} s "
              f"({m / n * 1e6:.0f} µs/exec) | {(m / mo - 1) * 100:+.1f}% | {(per - 1) * 100:+.1f}% |")
PY
)
mkdir -p "$(dirname "$OUT")"
cat >"$OUT" <<EOF
# Response benchmark

\`sudo bash bench/response.sh\` (BENCH_N=$N, BENCH_ROUNDS=$ROUNDS, BENCH_EXECS=$EXECS) on $(uname -r), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ).

| action | runs | effect p50 | effect p99 | CLI round trip p50 | CLI round trip p99 |
|---|---|---|---|---|---|
| kill (process gone) | $kn | $k50 ms | $k99 ms | $kr50 ms | $kr99 ms |
| block (first denied exec) | $bn | $b50 ms | $b99 ms | | |
| isolate (first failed connect) | $in | $i50 ms | $i99 ms | $ir50 ms | $ir99 ms |

Exec storm ($EXECS serial fork+exec of a static no-op) against the same agent with nothing to
enforce (block list empty, detect mode):

| enforcing | measure | rounds | nothing (median) | enforcing (median) | ratio of medians | median of per-round ratios |
|---|---|---|---|---|---|---|
$storm_report
EOF
cat "$OUT"
