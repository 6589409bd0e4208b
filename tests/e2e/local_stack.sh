# make up / make down: the local stack starts server and agent, waits until the host is online,
# writes var/mamori.env and var/server.pid, starts only what is missing when run again, and stops.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"
need_root_bpf

export MAMORI_VAR=$WORK/var MAMORI_PORT=$(free_port)
cleanup_hooks+=("bash $MAMORI_SRC/scripts/stack.sh down >/dev/null 2>&1")
out=$(bash "$MAMORI_SRC/scripts/stack.sh" up 2>&1) || { echo "$out"; fail "stack up"; }
echo "$out" | grep -q "is online" || fail "up returned before the agent was online: $out"
echo "$out" | grep -q "password" || fail "no credentials printed"
for f in mamori.env server.pid agent.pid; do [ -f "$MAMORI_VAR/$f" ] || fail "no $f"; done
set -a; . "$MAMORI_VAR/mamori.env"; set +a
"$CLI" hosts list --output jsonl | grep -q '"online"' || fail "host not online"
server_pid=$(cat "$MAMORI_VAR/server.pid")

# The agent's own telemetry reaches the store: run something recognisable.
marker=$WORK/stack-marker-$$
/bin/sh -c "touch $marker; cat $marker"
WAIT_S=30 wait_for sh -c "[ \"\$(\"$CLI\" events search 'process.name:cat and process.args:\"$marker\"' --since 5m --count)\" -ge 1 ]" ||
  fail "exec of cat not searchable"
WAIT_S=30 wait_for sh -c "[ \"\$(\"$CLI\" events search 'file.path:\"$marker\" and event.action:creation' --since 5m --count)\" -ge 1 ]" ||
  fail "file creation not searchable"
echo "ok: live exec and file events searchable"

# Again: nothing restarted.
agent_pid=$(cat "$MAMORI_VAR/agent.pid")
kill "$agent_pid"
WAIT_S=30 wait_for sh -c "! kill -0 $agent_pid 2>/dev/null" || fail "agent did not stop"
out=$(bash "$MAMORI_SRC/scripts/stack.sh" up 2>&1) || { echo "$out"; fail "second up"; }
echo "$out" | grep -q "mamori-server already running" || fail "server restarted: $out"
echo "$out" | grep -q "started mamori-agent" || fail "agent not restarted: $out"
[ "$(cat "$MAMORI_VAR/server.pid")" = "$server_pid" ] || fail "server pid changed"
echo "ok: second up starts only what is missing"

bash "$MAMORI_SRC/scripts/stack.sh" down >/dev/null
kill -0 "$server_pid" 2>/dev/null && fail "server still running after down"
echo "ok: down"
