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

WAIT_S=20 wait_for sh -c "\"$CLI\" hosts list --output jsonl | grep -q '\"online\"'" || fail "host not online"
out=$("$CLI" hosts ping pg-alpha --timeout 15) || fail "ping through node B failed: $out"
echo "ok: cross-node $out"

# Removal on node B revokes on node A within its refresh.
"$CLI" hosts remove pg-alpha >/dev/null
WAIT_S=20 wait_for sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert $SDATA/ca.crt --cert $WORK/agent/agent.crt --key $WORK/agent/agent.key -X POST -d '{}' https://127.0.0.1:$PORT_A/v1/heartbeat)\" = 401 ]" ||
  fail "node A still accepts the removed agent"
echo "ok: removal on node B refused on node A"
