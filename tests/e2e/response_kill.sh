# Response through the real server and agent. mamori kill: one process, a whole tree, a stale
# entity id, the refusals (pid 1, the agent, a missing pid), an action queued while the host is
# offline and run when it returns, `mamori actions list` and the audit log with who and why. Then
# the live views (mamori processes, mamori connections) and mamori collect.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

HOST=kilo
# gone PID: the process no longer runs (absent, or a zombie nobody reaped yet).
gone() { [ ! -e "/proc/$1" ] || grep -q ') Z' "/proc/$1/stat" 2>/dev/null; }
# tree_of PID: PID and all its descendants, one per line.
tree_of() {
  local p
  echo "$1"
  for p in $(pgrep -P "$1"); do tree_of "$p"; done
}
tree_size_at_least() { [ "$(tree_of "$1" | wc -l)" -ge "$2" ]; }

# Whatever this test started and a failed kill left running goes at exit.
cleanup_hooks+=('for p in $(tree_of $$); do [ "$p" = $$ ] || kill -9 "$p" 2>/dev/null; done')
start_server
enroll_agent "$WORK/agent" "$HOST"
mkfifo "$WORK/feed"
sleep 100000 >"$WORK/feed" &
HOLD=$!
cleanup_hooks+=("kill $HOLD 2>/dev/null")
start_agent "$WORK/agent" --replay "$WORK/feed" --host-name "$HOST"
WAIT_S=30 wait_for "$CLI" hosts ping "$HOST" --timeout 2 || fail "agent not answering"

# 1. One process.
sleep 1000 &
P=$!
out=$("$CLI" kill "$HOST" "$P" --reason "e2e: one process") || fail "kill failed: $out"
echo "$out" | grep -Eq "^killed $P sleep [0-9a-f]{32}$" || fail "kill output: $out"
gone "$P" || fail "pid $P still running"
wait "$P" 2>/dev/null || true
echo "ok: $out"

# 2. A tree: a shell with two children and a subshell that has one of its own, all killed.
bash -c 'sleep 1000 & sleep 1000 & (sleep 1000 & wait) & wait' &
T=$!
WAIT_S=10 wait_for tree_size_at_least "$T" 5 || fail "tree did not start"
pids=$(tree_of "$T")
[ "$(echo "$pids" | wc -l)" -ge 5 ] || fail "tree did not start: $pids"
out=$("$CLI" kill "$HOST" "$T" --tree --reason "e2e: tree") || fail "kill --tree failed: $out"
[ "$(echo "$out" | grep -c '^killed ')" -ge 5 ] || fail "kill --tree output: $out"
for p in $pids; do gone "$p" || fail "tree member $p still running"; done
wait "$T" 2>/dev/null || true
echo "ok: tree of $(echo "$pids" | wc -l) processes killed"

# 3. Without --tree the children live on.
bash -c 'sleep 1000 & wait' &
T=$!
WAIT_S=10 wait_for pgrep -P "$T" || fail "child did not start"
C=$(pgrep -P "$T")
"$CLI" kill "$HOST" "$T" >/dev/null || fail "kill of the parent failed"
gone "$T" || fail "parent still running"
gone "$C" && fail "the child was killed without --tree"
"$CLI" kill "$HOST" "$C" >/dev/null || fail "kill of the orphan failed"
wait "$T" 2>/dev/null || true
echo "ok: without --tree only the process"

# 4. Refusals: a stale entity id, pid 1, the agent itself, a pid that does not exist.
sleep 1000 &
P=$!
out=$("$CLI" kill "$HOST" "$P" --entity-id 0123456789abcdef0123456789abcdef 2>&1) &&
  fail "a stale entity id was accepted: $out"
echo "$out" | grep -q "another process" || fail "stale entity id message: $out"
gone "$P" && fail "killed despite the stale entity id"
eid=$(echo "$("$CLI" kill "$HOST" "$P")" | awk '{print $4}')
[ ${#eid} = 32 ] || fail "no entity id in the kill output"
wait "$P" 2>/dev/null || true
out=$("$CLI" kill "$HOST" 1 2>&1) && fail "pid 1 was killed?"
echo "$out" | grep -q "init or the agent" || fail "pid 1 message: $out"
out=$("$CLI" kill "$HOST" "$AGENT_PID" 2>&1) && fail "the agent killed itself?"
kill -0 "$AGENT_PID" || fail "agent gone"
out=$("$CLI" kill "$HOST" 4194000 2>&1) && fail "a missing pid was accepted"
echo "$out" | grep -q "does not exist" || fail "missing pid message: $out"
rc=0
"$CLI" kill "$HOST" abc >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "a bad PID is not a usage error ($rc)"
echo "ok: refusals"

# 5. The host is offline: the action waits in the queue and runs when the agent returns.
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
sleep 1000 &
P=$!
id=$("$CLI" kill "$HOST" "$P" --no-wait --reason "e2e: queued while offline") || fail "queue failed"
[ ${#id} = 32 ] || fail "no action id: $id"
# "delivered" when the server handed it to the poll the dead agent left open: a new connection
# gets it again (fleet.c).
"$CLI" actions show "$id" | grep -Eq '^status +(queued|delivered)$' ||
  fail "not pending: $("$CLI" actions show "$id")"
gone "$P" && fail "ran while the agent was down?"
start_agent "$WORK/agent" --replay "$WORK/feed" --host-name "$HOST"
WAIT_S=30 wait_for gone "$P" || fail "queued kill did not run after the agent returned"
wait "$P" 2>/dev/null || true
WAIT_S=10 wait_for sh -c "'$CLI' actions show $id | grep -Eq '^status +ok'" ||
  fail "queued action not ok: $("$CLI" actions show "$id")"
echo "ok: queued while offline, run on return"

# 6. Every action is listed with who asked, why and the result; the audit log has it too.
"$CLI" actions list --host "$HOST" --type kill --output jsonl >"$WORK/actions.jsonl" ||
  fail "actions list failed"
python3 - "$WORK/actions.jsonl" <<'PY' || fail "actions list: $(cat "$WORK/actions.jsonl")"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
assert len(a) >= 9, len(a)
assert all(x["type"] == "kill" and x["host_name"] == "kilo" and x["created_by"] for x in a), a
reasons = {x.get("reason") for x in a}
assert {"e2e: one process", "e2e: tree", "e2e: queued while offline"} <= reasons, reasons
by = {x.get("reason"): x for x in a}
assert by["e2e: tree"]["status"] == "ok" and by["e2e: tree"]["result"]["count"] >= 5, by["e2e: tree"]
assert sum(1 for x in a if x["status"] == "error") >= 4, [x["status"] for x in a]
assert a == sorted(a, key=lambda x: -x["created_at"]), "not newest first"
PY
"$CLI" actions list --since 10m --until 0s --output table >"$WORK/actions.txt" ||
  fail "actions list --since failed"
head -1 "$WORK/actions.txt" | grep -q "REASON" || fail "table header"
grep -q "e2e: tree" "$WORK/actions.txt" || fail "--since 10m misses actions: $(cat "$WORK/actions.txt")"
[ "$("$CLI" actions list --until 1h --output jsonl | wc -l)" = 0 ] || fail "--until 1h lists new actions"
"$CLI" audit list --since 1h --output jsonl >"$WORK/audit.jsonl" || fail "audit list"
grep -q "e2e: queued while offline" "$WORK/audit.jsonl" ||
  fail "reason not in the audit log"
for q in "/actions?limit=0" "/actions?limit=5x" "/actions?since=yesterday" "/actions?until=2026-13-01" \
  "/alerts?limit=100001" "/alerts?since=soon"; do
  api GET "$q" >/dev/null
  [ "$API_STATUS" = 400 ] || fail "GET $q gave $API_STATUS, not 400"
done
api GET "/actions?host=nosuchhost" >/dev/null
[ "$API_STATUS" = 404 ] || fail "an unknown host gave $API_STATUS"
echo "ok: actions list and audit"

# 7. Live views: the processes running now and the sockets with their owners.
sleep 1000 &
P=$!
LPORT=$(free_port)
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
c=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); a,_=s.accept(); time.sleep(1000)' "$LPORT" &
L=$!
WAIT_S=10 wait_for sh -c "grep -qi ':$(printf %04X "$LPORT") ' /proc/net/tcp" || fail "listener did not start"
"$CLI" processes "$HOST" --output jsonl >"$WORK/ps.jsonl" || fail "processes failed"
python3 - "$WORK/ps.jsonl" "$P" "$$" <<'PY' || fail "processes: $(head -c 2000 "$WORK/ps.jsonl")"
import json, sys
ps = {p["pid"]: p for p in map(json.loads, open(sys.argv[1]))}
p = ps[int(sys.argv[2])]
assert p["name"] == "sleep" and p["ppid"] == int(sys.argv[3]) and p["command_line"] == "sleep 1000", p
assert len(p["entity_id"]) == 32 and p["state"] in "SR", p
assert 1 in ps and len(ps) > 10, len(ps)
PY
"$CLI" processes "$HOST" >"$WORK/ps.txt" || fail "processes (table) failed"
head -1 "$WORK/ps.txt" | grep -q "ENTITY-ID" || fail "processes table"
"$CLI" connections "$HOST" --output jsonl >"$WORK/net.jsonl" || fail "connections failed"
python3 - "$WORK/net.jsonl" "$LPORT" "$L" <<'PY' || fail "connections: $(cat "$WORK/net.jsonl")"
import json, sys
port, pid = int(sys.argv[2]), int(sys.argv[3])
socks = [json.loads(l) for l in open(sys.argv[1])]
lis = [s for s in socks if s["local"]["port"] == port and s["state"] == "listen"]
est = [s for s in socks if s["remote"]["port"] == port and s["state"] == "established"]
acc = [s for s in socks if s["local"]["port"] == port and s["state"] == "established"]
assert lis and lis[0]["pid"] == pid and lis[0]["local"]["ip"] == "127.0.0.1", lis
assert est and est[0]["pid"] == pid and acc and acc[0]["pid"] == pid, (est, acc)
assert all(s["transport"] in ("tcp", "udp") for s in socks)
PY
"$CLI" connections "$HOST" >"$WORK/net.txt" || fail "connections (table) failed"
head -1 "$WORK/net.txt" | grep -q "REMOTE" || fail "connections table"
"$CLI" actions list --type processes --output jsonl >"$WORK/pa.jsonl" || fail "actions list --type"
grep -q '"status":"ok"' "$WORK/pa.jsonl" || fail "processes not in actions: $(cat "$WORK/pa.jsonl")"
kill "$P" "$L"
wait "$P" "$L" 2>/dev/null || true
echo "ok: live processes and connections"

# 8. Collecting a file: byte for byte, checked by SHA-256, saved 0600; the refusals.
head -c 300000 /dev/urandom >"$WORK/sample.bin"
chmod 640 "$WORK/sample.bin"
out=$("$CLI" collect "$HOST" "$WORK/sample.bin" --save "$WORK/got.bin" --reason "e2e: collect") ||
  fail "collect failed: $out"
cmp -s "$WORK/sample.bin" "$WORK/got.bin" || fail "collected file differs"
[ "$(stat -c %a "$WORK/got.bin")" = 600 ] || fail "collected file not 0600"
echo "$out" | grep -q "300000 bytes, sha256 $(sha256sum "$WORK/sample.bin" | cut -d' ' -f1), mode 0640" ||
  fail "collect output: $out"
rc=0; "$CLI" collect "$HOST" "$WORK/sample.bin" --save "$WORK/got.bin" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "an existing --save file was replaced without --force ($rc)"
out=$("$CLI" collect "$HOST" "$WORK/sample.bin" --save "$WORK/small.bin" --max-bytes 1000 2>&1) &&
  fail "a file over --max-bytes was collected"
echo "$out" | grep -q "larger than the 1000-byte cap" || fail "cap message: $out"
ln -s "$WORK/sample.bin" "$WORK/link.bin"
out=$("$CLI" collect "$HOST" "$WORK/link.bin" --save "$WORK/l.bin" 2>&1) && fail "a symlink was followed"
out=$("$CLI" collect "$HOST" /proc/self --save "$WORK/d.bin" 2>&1) && fail "a directory was collected"
out=$("$CLI" collect "$HOST" "$WORK/missing" --save "$WORK/m.bin" 2>&1) && fail "a missing file was collected"
echo "$out" | grep -q "No such file" || fail "missing file message: $out"
[ ! -e "$WORK/l.bin" ] && [ ! -e "$WORK/m.bin" ] || fail "a refused collect wrote a file"
echo "ok: collect"
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
