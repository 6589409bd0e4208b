# The pipeline on loopback with a replaying agent (no root needed): enrollment, mutual-TLS
# batches, search, hosts, groups, ping over the command channel, removal and revocation.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

start_server
[ "$(stat -c %a "$SDATA/initial-admin.json")" = 600 ] || fail "credentials readable by others"
[ "$(stat -c %a "$SDATA/ca.key")" = 600 ] || fail "CA key readable by others"

gen_events "$WORK/a.jsonl" 500 1 alpha
enroll_agent "$WORK/agent-a" alpha
[ "$(stat -c %a "$WORK/agent-a/agent.key")" = 600 ] || fail "agent key readable by others"
start_agent "$WORK/agent-a" --replay "$WORK/a.jsonl" --drain 20
wait $AGENT_PID || fail "agent exited with $?"
n=$(count 'host.name:alpha')
[ "$n" = 500 ] || fail "expected 500 stored events, found $n"
echo "ok: 500 events enrolled, sent and stored"

# Search: fields, wildcards, ranges, doc fields, counts, errors with a position.
[ "$(count 'process.name:tool3')" = 72 ] || fail "process.name:tool3"
[ "$(count 'process.executable:/usr/bin/tool* and not process.name:tool0')" = 429 ] ||
  fail "wildcard and not"
n=$(count 'process.pid >= 1400 and host.name:alpha'); [ "$n" = 101 ] || fail "range: $n"
[ "$(count 'process.args:"--n" and process.command_line:"tool --n 42"')" = 1 ] || fail "doc fields"
out=$("$CLI" events search 'process.name:(tool1 or' --since 1d 2>&1) && fail "bad query accepted"
echo "$out" | grep -q '\^' || fail "no caret for a malformed query: $out"
"$CLI" events search 'process.entity_id:e00000042' --since 3650d --output jsonl |
  python3 -c 'import json,sys; e=[json.loads(l) for l in sys.stdin]; assert len(e)==1 and e[0]["agent"]["id"] and e[0]["event"]["sequence"]==42, e'
echo "ok: search"

# Process tree: e00000010's ancestors are e9..e1, its child is e11 and so on.
tree=$(api GET /events/tree/e00000010)
echo "$tree" | python3 -c 'import json,sys; t=json.load(sys.stdin)
assert t["process"]["process"]["entity_id"]=="e00000010"
assert [a["process"]["entity_id"] for a in t["ancestors"]][:2]==["e00000009","e00000008"], t["ancestors"][:2]
assert t["descendants"][0]["process"]["process"]["entity_id"]=="e00000011" and t["descendants"][0]["depth"]==1
' || fail "process tree"
tt=$("$CLI" events tree e00000010 --output table); echo "$tt" | grep -q "tool --n 11" || fail "tree table: $tt"
echo "ok: process tree"

# Hosts, groups, ping through the long poll.
# A replay source that stays open keeps the agent running.
mkfifo "$WORK/feed"
sleep 300 >"$WORK/feed" &
cleanup_hooks+=("kill $! 2>/dev/null")
start_agent "$WORK/agent-a" --replay "$WORK/feed"
WAIT_S=20 wait_for sh -c "\"$CLI\" hosts list --output jsonl | grep -q '\"online\"'" ||
  fail "host not online"
"$CLI" hosts list --output jsonl | python3 -c 'import json,sys
h=[json.loads(l) for l in sys.stdin]
assert len(h)==1 and h[0]["host"]["name"]=="alpha" and h[0]["status"]=="online" and len(h[0]["agent"]["id"])==32, h'
"$CLI" groups create tokyo >/dev/null
"$CLI" hosts move alpha tokyo >/dev/null
[ "$("$CLI" hosts list --output jsonl | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["group"])')" = tokyo ] ||
  fail "move"
out=$("$CLI" hosts ping alpha --timeout 10) || fail "ping failed: $out"
echo "$out" | grep -q "pong from alpha" || fail "ping output: $out"
echo "ok: hosts, groups, $out"

# Roles: a viewer may search but not create tokens; changes are audited.
vt=$(MAMORI_NEW_PASSWORD=viewerpass1 "$CLI" users create vera --role viewer | tail -1)
api POST /tokens '{"group":"default"}' >/dev/null
[ "$API_STATUS" = 200 ] || fail "admin token creation"
MAMORI_TOKEN=$(api POST /login '{"user":"vera","password":"viewerpass1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api GET /hosts >/dev/null
[ "$API_STATUS" = 200 ] || fail "viewer cannot list hosts"
api POST /tokens '{"group":"default"}' >/dev/null
[ "$API_STATUS" = 403 ] || fail "viewer created a token ($API_STATUS)"
MAMORI_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$SDATA/initial-admin.json")
"$CLI" audit list --output jsonl | grep -q '"/hosts/' || fail "move not audited"
"$CLI" audit list --output jsonl | grep -q 'login' || fail "login not audited"
echo "ok: roles and audit ($vt)"

# Removal revokes the certificate: the running agent is refused from then on.
"$CLI" hosts remove alpha >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" \
  --cert "$WORK/agent-a/agent.crt" --key "$WORK/agent-a/agent.key" \
  -X POST -H 'X-Mamori-Epoch: 0000000000000001' -H 'X-Mamori-Seq: 1' --data-binary @"$WORK/a.jsonl" \
  "$MAMORI_URL/v1/events")
[ "$code" = 401 ] || fail "removed agent accepted ($code)"
[ "$("$CLI" hosts list --output jsonl | wc -l)" = 0 ] || fail "removed host still listed"
kill $AGENT_PID; wait $AGENT_PID || true
echo "ok: removal revokes"
