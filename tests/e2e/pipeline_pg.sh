# Two mamori-server nodes sharing one real PostgreSQL: events ingested through one node are
# searchable through the other (day partitions), and a command queued on one node reaches the
# agent whose long poll the other node holds (LISTEN/NOTIFY), with its result back.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

[ "$(id -u)" -eq 0 ] || skip "needs root to run a PostgreSQL server as user postgres"
PGDIR=$(mktemp -d /tmp/mamori-pg.XXXXXX)
chmod 755 "$PGDIR"
PGPORT=$(free_port)
cleanup_hooks+=("bash $MAMORI_SRC/scripts/pg.sh stop $PGDIR/data >/dev/null 2>&1; rm -rf $PGDIR")
URI=$(bash "$MAMORI_SRC/scripts/pg.sh" start "$PGDIR/data" "$PGPORT") || fail "PostgreSQL did not start"
echo "ok: PostgreSQL at $URI"

# Node A: enrollment and the agent's connection.
start_server --store "$URI"
PORT_A=$PORT
PID_A=$SERVER_PID
# Node B: same data directory (one CA), same store, another port.
PORT=$(free_port)
start_server --store "$URI"
PORT_B=$PORT
grep -q "store=postgresql" "$WORK/server.log" || fail "not on PostgreSQL"

# Events spanning two UTC days through node A.
gen_events "$WORK/a.jsonl" 300 1 pg-alpha
python3 - "$WORK/a.jsonl" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
with open(sys.argv[1], "w") as f:
    for i, l in enumerate(lines):
        if i % 2:
            l = l.replace('"2026-11-21T', '"2026-11-22T')
        f.write(l + "\n")
PY
export MAMORI_URL=https://127.0.0.1:$PORT_A
enroll_agent "$WORK/agent" pg-alpha
mkfifo "$WORK/feed"
sleep 300 >"$WORK/feed" &
cleanup_hooks+=("kill $! 2>/dev/null")
start_agent "$WORK/agent" --replay "$WORK/feed"
cat "$WORK/a.jsonl" >"$WORK/feed2" && cat "$WORK/feed2" >"$WORK/feed" &

export MAMORI_URL=https://127.0.0.1:$PORT_B
WAIT_S=30 wait_for sh -c "[ \"\$(\"$CLI\" events search 'host.name:pg-alpha' --since 3650d --count)\" = 300 ]" ||
  fail "expected 300 events through node B, found $(count 'host.name:pg-alpha')"
[ "$(count 'host.name:pg-alpha and @timestamp >= "2026-11-22T00:00:00Z"')" = 150 ] || fail "day partition"
[ "$(count 'process.name:tool3 and host.name:pg-alpha')" = 43 ] || fail "pg search"
[ "$(count 'process.args:"--n" and process.command_line:"tool --n 42"')" = 1 ] || fail "pg doc fields"
echo "ok: 300 events through node A, searchable through node B"

# The search language executed on PostgreSQL (the unit tests compare its SQL text): wildcards,
# not, or, parentheses, ranges, and quoted values taken literally (no wildcard, LIKE's own
# characters escaped). Event i (1..300) runs tool{i % 7} with pid 1000 + i.
expect() { python3 -c "print(sum(1 for i in range(1, 301) if $1))"; }
for q in \
  'process.executable:/usr/bin/tool* and not process.name:tool0|i % 7 != 0' \
  'process.name:(tool1 or tool2) and host.name:pg-alpha|i % 7 in (1, 2)' \
  'not (process.name:tool3 or process.name:tool4) and process.pid < 1200|i % 7 not in (3, 4) and i < 200' \
  'process.pid >= 1100 and process.pid <= 1149|1100 <= 1000 + i <= 1149' \
  'process.executable:*tool5 or process.name:tool6|i % 7 in (5, 6)' \
  'process.entity_id:e0000001*|10 <= i <= 19' \
  'process.command_line:"tool --n 15"|i == 15' \
  'process.command_line:"tool --n 1*"|False' \
  'process.command_line:"tool --n 1_"|False'; do
  got=$(count "${q%%|*}"); want=$(expect "${q#*|}")
  [ "$got" = "$want" ] || fail "pg search '${q%%|*}': $got events, expected $want"
done
tree=$(api GET /events/tree/e00000010)
echo "$tree" | python3 -c 'import json,sys; t=json.load(sys.stdin)
assert t["process"]["process"]["entity_id"]=="e00000010"
assert [a["process"]["entity_id"] for a in t["ancestors"]][:3]==["e00000009","e00000008","e00000007"], t["ancestors"][:3]
assert t["descendants"][0]["process"]["process"]["entity_id"]=="e00000011" and t["descendants"][0]["depth"]==1
' || fail "process tree on PostgreSQL: $tree"
echo "ok: search language and process tree on PostgreSQL"

WAIT_S=20 wait_for sh -c "\"$CLI\" hosts list --output jsonl | grep -q '\"online\"'" || fail "host not online"
# The agent's poll is held by node A; node B queues the command and wakes A through NOTIFY.
ping_at_once pg-alpha "https://127.0.0.1:$PORT_A"
echo "ok: cross-node $out (the CLI's wall time $ms ms)"

# Node A killed with SIGKILL while the agent streams to it, then restarted: on PostgreSQL too,
# every event is stored exactly once (300 earlier + 20,000; a lost or doubled batch changes the
# count).
gen_events "$WORK/b.jsonl" 20000 1001 pg-alpha
python3 - "$WORK/b.jsonl" "$WORK/feed" <<'PY' &
import sys, time
lines = open(sys.argv[1]).readlines()
with open(sys.argv[2], "w") as f:
    for i in range(0, len(lines), 250):  # 5,000 events/s
        f.writelines(lines[i:i + 250])
        f.flush()
        time.sleep(0.05)
PY
FEEDER=$!
WAIT_S=30 wait_for sh -c "[ \"\$(\"$CLI\" events search 'host.name:pg-alpha' --since 3650d --count)\" -gt 3000 ]" ||
  fail "stream to node A did not start"
kill -9 "$PID_A"; wait "$PID_A" 2>/dev/null || true
at_kill=$(count 'host.name:pg-alpha')
[ "$at_kill" -lt 20300 ] || fail "the stream had ended before node A was killed"
echo "node A killed at $at_kill stored events"
sleep 2
PORT_B_SAVED=$PORT PORT=$PORT_A
start_server --store "$URI"
PID_A=$SERVER_PID PORT=$PORT_B_SAVED
export MAMORI_URL=https://127.0.0.1:$PORT_B
wait "$FEEDER"
WAIT_S=90 wait_for sh -c "[ \"\$(\"$CLI\" events search 'host.name:pg-alpha' --since 3650d --count)\" = 20300 ]" ||
  fail "after node A's SIGKILL: $(count 'host.name:pg-alpha') events stored, expected 20300"
n=$(count 'host.name:pg-alpha and process.entity_id:e0001*')
[ "$n" = 10000 ] || fail "entity ids e0001xxxx: $n, expected 10000"
echo "ok: node A SIGKILL mid-stream on PostgreSQL: 20300 of 20300 stored once"

# Removal on node B revokes on node A within its refresh.
"$CLI" hosts remove pg-alpha >/dev/null
WAIT_S=20 wait_for sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert $SDATA/ca.crt --cert $WORK/agent/agent.crt --key $WORK/agent/agent.key -X POST -d '{}' https://127.0.0.1:$PORT_A/v1/heartbeat)\" = 401 ]" ||
  fail "node A still accepts the removed agent"
echo "ok: removal on node B refused on node A"
