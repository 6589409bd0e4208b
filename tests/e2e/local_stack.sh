# make up / make down: the local stack starts server and agent, waits until the host is online,
# writes var/mamori.env and var/server.pid, starts only what is missing when run again, and stops.
# Then the same on PostgreSQL (make up STORE=postgres), and make run in the foreground, stopped
# by SIGINT as Ctrl-C would.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"
need_root_bpf

export MAMORI_VAR=$WORK/var MAMORI_PORT=$(free_port)
cleanup_hooks+=("MAMORI_VAR=$MAMORI_VAR bash $MAMORI_SRC/scripts/stack.sh down >/dev/null 2>&1")
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

# make up STORE=postgres: a local PostgreSQL under var/pg (reachable by user postgres, so not
# under $WORK, which only root may enter).
PGVAR=$(mktemp -d /tmp/mamori-stack-pg.XXXXXX)
chmod 755 "$PGVAR"
export MAMORI_VAR=$PGVAR MAMORI_PORT=$(free_port) MAMORI_PG_PORT=$(free_port)
cleanup_hooks+=("MAMORI_VAR=$PGVAR bash $MAMORI_SRC/scripts/stack.sh down >/dev/null 2>&1; rm -rf $PGVAR")
out=$(STORE=postgres bash "$MAMORI_SRC/scripts/stack.sh" up 2>&1) || { echo "$out"; fail "stack up on PostgreSQL"; }
echo "$out" | grep -q "store postgres" || fail "not started on PostgreSQL: $out"
echo "$out" | grep -q "is online" || fail "up returned before the agent was online: $out"
grep -q "store=postgresql" "$PGVAR/server.log" || fail "the server does not say store=postgresql"
[ -f "$PGVAR/pg/postmaster.pid" ] || fail "no PostgreSQL under var/pg"
set -a; . "$PGVAR/mamori.env"; set +a
marker=$WORK/stack-pg-marker-$$
/bin/sh -c "touch $marker; cat $marker"
WAIT_S=30 wait_for sh -c "[ \"\$(\"$CLI\" events search 'process.name:cat and process.args:\"$marker\"' --since 5m --count)\" -ge 1 ]" ||
  fail "exec of cat not searchable on PostgreSQL"
server_pid=$(cat "$PGVAR/server.pid")
bash "$MAMORI_SRC/scripts/stack.sh" down >/dev/null
kill -0 "$server_pid" 2>/dev/null && fail "server still running after down"
[ -f "$PGVAR/pg/postmaster.pid" ] && fail "PostgreSQL still running after down"
echo "ok: make up STORE=postgres: live events searchable, down stops PostgreSQL too"

# make run: in the foreground until Ctrl-C, which stops server, agent and the log follower. A
# background job of this script would ignore SIGINT, so python starts it with the default.
RUNVAR=$WORK/var-run
export MAMORI_VAR=$RUNVAR MAMORI_PORT=$(free_port)
cleanup_hooks+=("MAMORI_VAR=$RUNVAR bash $MAMORI_SRC/scripts/stack.sh down >/dev/null 2>&1")
python3 - "$MAMORI_SRC/scripts/stack.sh" "$RUNVAR" <<'PY' || fail "make run"
import os, signal, subprocess, sys, threading, time
script, var = sys.argv[1], sys.argv[2]
p = subprocess.Popen(["bash", script, "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     text=True, start_new_session=True,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
seen, deadline = [], time.time() + 120
for line in p.stdout:
    seen.append(line)
    if "Ctrl-C stops both" in line or time.time() > deadline:
        break
text = "".join(seen)
assert "is online" in text and "password" in text, text
# Keep reading: the followed logs must not fill the pipe and block the script.
threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
pids = [int(open(os.path.join(var, f)).read()) for f in ("server.pid", "agent.pid")]
follower = lambda: subprocess.run(["pgrep", "-f", "tail -n 0 -F " + var], capture_output=True,
                                  text=True).stdout.strip()
for _ in range(50):  # the log follower is running before Ctrl-C, as a user would see it
    if follower():
        break
    time.sleep(0.1)
assert follower(), "no log follower"
# To the script alone: its own handler must stop the rest (in a terminal they would get the
# SIGINT too, which would hide a handler that forgot them).
os.kill(p.pid, signal.SIGINT)
rc = p.wait(timeout=60)
assert rc == 0, rc
time.sleep(0.5)
for pid in pids:
    try:
        os.kill(pid, 0)
        raise AssertionError("pid %d still running after Ctrl-C" % pid)
    except ProcessLookupError:
        pass
assert not follower(), "log follower left running: " + follower()
print("ok: make run printed access, Ctrl-C stopped server, agent and the log follower")
PY
