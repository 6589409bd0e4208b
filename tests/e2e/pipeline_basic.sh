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
# A command reaches the agent at once, not when its held poll ends.
ping_at_once alpha
# Every thread of the agent, the uplink's included, runs at budget.nice (10 by default).
for t in /proc/"$AGENT_PID"/task/*; do
  read -r -a f <"$t/stat"
  [ "${f[18]}" = 10 ] || fail "agent thread ${t##*/} ($(cat "$t/comm")) at nice ${f[18]}, want 10"
done
echo "ok: hosts, groups, $out (the CLI's wall time $ms ms); every agent thread at nice 10"

# Health from the heartbeat, inventory and the support check, as hosts show gives them. A replay
# agent collects no inventory (nor can its replay source carry one), so the one the agent's
# inventory source writes on this machine (no root needed) is posted as a batch with alpha's
# certificate.
printf 'sources:\n  ebpf: off\n  fanotify: off\n  netlink: off\n  audit: off\n  procfs: off\n' >"$WORK/inv.yml"
"$AGENT" capture --seconds 1 --config "$WORK/inv.yml" --host-name alpha 2>>"$WORK/agent.log" |
  grep '"action":"inventory"' | head -1 >"$WORK/inv.jsonl" || true
[ -s "$WORK/inv.jsonl" ] || fail "mamori-agent capture gave no inventory event"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" \
  --cert "$WORK/agent-a/agent.crt" --key "$WORK/agent-a/agent.key" -X POST \
  -H 'X-Mamori-Epoch: 00000000000000aa' -H 'X-Mamori-Seq: 1' --data-binary @"$WORK/inv.jsonl" \
  "$MAMORI_URL/v1/events")
[ "$code" = 200 ] || fail "inventory batch refused ($code)"
shown() { "$CLI" hosts show alpha --output jsonl; }
WAIT_S=30 wait_for sh -c "\"$CLI\" hosts show alpha --output jsonl | python3 -c 'import json,sys
h=json.load(sys.stdin); sys.exit(0 if h[\"health\"][\"rss_bytes\"] > 0 and h[\"inventory\"] else 1)'" ||
  fail "no health or inventory for alpha: $(shown)"
"$CLI" hosts show alpha --output jsonl | python3 -c 'import json,sys
h=json.loads(sys.stdin.readline())
hl=h["health"]
for k in ("sources","kernel_drops","shed","spool_bytes","spool_batches","spool_dropped","cpu_pct","rss_bytes"):
    assert k in hl, (k, hl)
assert hl["sources"]==["replay"], hl["sources"]
assert isinstance(hl["cpu_pct"], int) and hl["rss_bytes"] > 0, hl
assert h["agent"]["version"], h["agent"]
inv=h["inventory"]
assert inv and inv["host"]["os"]["kernel"] and inv["host"]["boot"]["id"], inv
mi=inv["mamori"]["inventory"]
assert all(k in mi for k in ("interfaces","users","listening","packages_count","sources")), mi.keys()
s=h["support"]
# The kernel and distribution of this machine, judged with the sources alpha reports (replay):
# never fully supported, and the reason says why (no eBPF, or a kernel too old for it).
assert s["supported"] is False and ("ebpf source is not active" in s["reason"] or "kernel" in s["reason"]) and "no inventory" not in s["reason"], s
print("ok: hosts show: health", sorted(hl)[:4], "..., kernel", inv["host"]["os"]["kernel"], "supported", s["supported"], s["reason"])' ||
  fail "hosts show: $(shown)"

# Roles: a viewer may search but not create tokens; changes are audited.
vt=$(MAMORI_NEW_PASSWORD=viewerpass1 "$CLI" users create vera --role viewer | tail -1)
api POST /tokens '{"group":"default"}' >/dev/null
[ "$API_STATUS" = 200 ] || fail "admin token creation"
MAMORI_TOKEN=$(api POST /login '{"user":"vera","password":"viewerpass1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api GET /hosts >/dev/null
[ "$API_STATUS" = 200 ] || fail "viewer cannot list hosts"
api POST /tokens '{"group":"default"}' >/dev/null
[ "$API_STATUS" = 403 ] || fail "viewer created a token ($API_STATUS)"
api POST /hosts/alpha/commands '{"type":"ping"}' >/dev/null
[ "$API_STATUS" = 403 ] || fail "viewer sent a command ($API_STATUS)"
# An analyst may act on hosts (commands) but not administer (tokens, moves, users).
MAMORI_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$SDATA/initial-admin.json")
MAMORI_NEW_PASSWORD=analystpass1 "$CLI" users create ana --role analyst >/dev/null
MAMORI_TOKEN=$(api POST /login '{"user":"ana","password":"analystpass1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
out=$("$CLI" hosts ping alpha --timeout 10) || fail "analyst ping: $out"
api POST /tokens '{"group":"default"}' >/dev/null
[ "$API_STATUS" = 403 ] || fail "analyst created a token ($API_STATUS)"
api POST /hosts/alpha/move '{"group":"default"}' >/dev/null
[ "$API_STATUS" = 403 ] || fail "analyst moved a host ($API_STATUS)"
api POST /users '{"name":"eve","role":"admin","password":"evepass123"}' >/dev/null
[ "$API_STATUS" = 403 ] || fail "analyst created a user ($API_STATUS)"
MAMORI_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$SDATA/initial-admin.json")
"$CLI" audit list --output jsonl | python3 -c 'import json,sys
rows=[json.loads(l) for l in sys.stdin]
have={(r["user"], r["method"], r["path"], r["status"]) for r in rows}
for want in (("admin","POST","/groups",200), ("admin","POST","/hosts/alpha/move",200),
             ("admin","POST","/hosts/alpha/commands",200), ("admin","POST","/users",200),
             ("admin","POST","/tokens",200), ("vera","POST","/login",200),
             ("ana","POST","/hosts/alpha/commands",200)):
    assert want in have, (want, sorted(have))
# Attempts beyond a role are refused and audited with the role they lacked.
for want in (("vera","POST","/tokens"), ("vera","POST","/hosts/alpha/commands"),
             ("ana","POST","/tokens"), ("ana","POST","/hosts/alpha/move"), ("ana","POST","/users")):
    r=[r for r in rows if (r["user"], r["method"], r["path"])==want and r["status"]==403]
    assert r and "required" in r[0]["detail"], (want, rows)
assert not any(r["user"]=="ana" and r["path"]=="/hosts/alpha/commands" and r["status"]==403 for r in rows)' ||
  fail "audit log: $("$CLI" audit list --output jsonl)"
echo "ok: roles and audit ($vt)"

# Removal revokes the certificate: the running agent is refused from then on.
"$CLI" hosts remove alpha >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" \
  --cert "$WORK/agent-a/agent.crt" --key "$WORK/agent-a/agent.key" \
  -X POST -H 'X-Mamori-Epoch: 0000000000000001' -H 'X-Mamori-Seq: 1' --data-binary @"$WORK/a.jsonl" \
  "$MAMORI_URL/v1/events")
[ "$code" = 401 ] || fail "removed agent accepted ($code)"
[ "$("$CLI" hosts list --output jsonl | wc -l)" = 0 ] || fail "removed host still listed"
"$CLI" audit list --output jsonl | grep '"DELETE"' | grep -q '"/hosts/alpha"' || fail "removal not audited"
kill $AGENT_PID; wait $AGENT_PID || true
echo "ok: removal revokes"

# TLS 1.3 only, for agents and the API alike (one listener).
rc=0; curl -s -o /dev/null --cacert "$SDATA/ca.crt" --tlsv1.2 --tls-max 1.2 "$MAMORI_URL/healthz" || rc=$?
[ "$rc" = 35 ] || fail "TLS 1.2: curl exit $rc, expected 35 (handshake refused)"
curl -sf -o /dev/null --cacert "$SDATA/ca.crt" --tlsv1.3 "$MAMORI_URL/healthz" || fail "TLS 1.3 refused"
echo "ok: TLS 1.2 refused, 1.3 accepted"

# Offline after the heartbeat timeout, online again at the next heartbeat.
stop_server
start_server --heartbeat-timeout 5
enroll_agent "$WORK/agent-b" beta
hb() {
  curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" --cert "$WORK/agent-b/agent.crt" \
    --key "$WORK/agent-b/agent.key" -X POST -H 'Content-Type: application/json' \
    -d '{"agent":{"version":"test"},"health":{"sources":["replay"]}}' "$MAMORI_URL/v1/heartbeat"
}
status_of() { "$CLI" hosts list --output jsonl | python3 -c 'import json,sys
print([h["status"] for h in map(json.loads, sys.stdin) if h["host"]["name"]=="beta"][0])'; }
[ "$(hb)" = 200 ] || fail "heartbeat refused"
[ "$(status_of)" = online ] || fail "beta not online after a heartbeat: $(status_of)"
sleep 6
[ "$(status_of)" = offline ] || fail "beta not offline 6 s after its last heartbeat: $(status_of)"
[ "$(hb)" = 200 ] || fail "heartbeat refused"
[ "$(status_of)" = online ] || fail "beta not online again: $(status_of)"
echo "ok: online, offline after the heartbeat timeout, online again"
