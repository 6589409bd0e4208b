#!/usr/bin/env bash
# Fleet prevalence: the first execution of a binary anywhere in the fleet, and the first time a
# parent starts a given child, raise one low alert each (after the learning period, 0 here);
# known keys survive a server restart and are never alerted twice.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

gen() { # gen FILE SEQ (parent child hash)...
  python3 - "$@" <<'PY'
import json, sys
path, seq, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with open(path, "w") as out:
    for i in range(0, len(rest), 3):
        parent, child, h = rest[i:i + 3]
        e = {"@timestamp": "2026-11-21T12:00:%02d.000000000Z" % (i // 3),
             "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
             "host": {"name": "pv1"},
             "process": {"pid": 50 + i, "entity_id": "p%08d" % (seq + i), "executable": "/usr/bin/" + child,
                         "name": child, "command_line": child, "hash": {"sha256": h},
                         "parent": {"name": parent, "executable": "/usr/sbin/" + parent}}}
        out.write(json.dumps(e) + "\n")
PY
}
H1=$(printf '1%.0s' $(seq 64)); H2=$(printf '2%.0s' $(seq 64))
start_server --rules "$MAMORI_TEST_DATA/e2e_detect/rules.yml" --learning-hours 0
enroll_agent "$WORK/agent" pv1
gen "$WORK/a.jsonl" 0 nginx sh "$H1" nginx sh "$H1" bash tool "$H2"
start_agent "$WORK/agent" --replay "$WORK/a.jsonl" --drain 20
wait $AGENT_PID || fail "agent exited with $?"
WAIT_S=20 wait_for sh -c "[ \$(\"$CLI\" alerts list --since 1h --output jsonl | wc -l) -ge 4 ]" ||
  fail "prevalence alerts missing: $("$CLI" alerts list --since 1h 2>&1)"
"$CLI" alerts list --since 1h --output jsonl >"$WORK/p1.jsonl"
python3 - "$WORK/p1.jsonl" <<'PY' || fail "prevalence alerts: $(cat "$WORK/p1.jsonl")"
import json, sys, collections
a = [json.loads(l) for l in open(sys.argv[1])]
c = collections.Counter((x["rule"]["id"], x["process"]["entity_id"]) for x in a)
assert c == collections.Counter({("mamori-prevalence-new-binary", "p00000000"): 1,
                                 ("mamori-prevalence-rare-parent-child", "p00000000"): 1,
                                 ("mamori-prevalence-new-binary", "p00000006"): 1,
                                 ("mamori-prevalence-rare-parent-child", "p00000006"): 1}), c
pair = [x for x in a if x["rule"]["id"].endswith("parent-child") and x["process"]["entity_id"] == "p00000000"][0]
assert pair["rule"]["severity"] == "low" and pair["mamori"]["correlation"]["group"] == "nginx->sh", pair
PY
echo "ok: first binary and first parent->child pair alerted once each"

stop_server
start_server --rules "$MAMORI_TEST_DATA/e2e_detect/rules.yml" --learning-hours 0
gen "$WORK/b.jsonl" 100 nginx sh "$H1" cron sh "$H1"
start_agent "$WORK/agent" --replay "$WORK/b.jsonl" --drain 20
wait $AGENT_PID || fail "agent exited with $?"
WAIT_S=20 wait_for sh -c "[ \$(\"$CLI\" alerts list --since 1h --output jsonl | wc -l) -ge 5 ]" ||
  fail "new pair after restart not alerted"
sleep 1
"$CLI" alerts list --since 1h --output jsonl >"$WORK/p2.jsonl"
python3 - "$WORK/p2.jsonl" <<'PY' || fail "after restart: $(cat "$WORK/p2.jsonl")"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
new = [x for x in a if x["process"]["entity_id"].startswith("p000001")]
assert len(a) == 5 and len(new) == 1 and new[0]["mamori"]["correlation"]["group"] == "cron->sh", new
PY
echo "ok: known keys survive a restart; only the new pair is alerted"
