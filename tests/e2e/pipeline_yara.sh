#!/usr/bin/env bash
# YARA on the agent: an executed file and a newly written executable that match a rule become
# alerts on the server; a clean file does not; a file over the size cap is skipped and counted;
# a second run of the same file is answered from the verdict cache.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

bin=$WORK/files
mkdir -p "$bin"
{ printf '\177ELF\002\001\001'; head -c 4000 /dev/zero; printf 'MAMORI-E2E-YARA-MARKER-5c1d'; } >"$bin/evil"
{ printf '\177ELF\002\001\001'; head -c 4000 /dev/zero; } >"$bin/clean"
{ printf '#!/bin/sh\n# MAMORI-E2E-YARA-MARKER-5c1d\n'; } >"$bin/dropped.sh"
{ printf '\177ELF\002\001\001'; head -c $((2 * 1024 * 1024)) /dev/zero; printf 'MAMORI-E2E-YARA-MARKER-5c1d'; } >"$bin/big"
printf 'plain text MAMORI-E2E-YARA-MARKER-5c1d\n' >"$bin/notes.txt"
chmod +x "$bin/evil" "$bin/clean" "$bin/big" "$bin/dropped.sh"

python3 - "$WORK/ev.jsonl" "$bin" <<'PY'
import json, sys
path, d = sys.argv[1], sys.argv[2]
def ex(i, f):
    return {"@timestamp": "2026-11-21T13:00:%02dZ" % i, "event": {"kind": "event", "category": ["process"],
            "type": ["start"], "action": "exec"}, "host": {"name": "yr1"},
            "process": {"pid": 70 + i, "entity_id": "y%08d" % i, "executable": d + "/" + f, "name": f, "command_line": f}}
def fe(i, f, action="creation"):
    return {"@timestamp": "2026-11-21T13:00:%02dZ" % i, "event": {"kind": "event", "category": ["file"],
            "type": ["creation"], "action": action}, "host": {"name": "yr1"},
            "process": {"pid": 99, "entity_id": "y00000099", "executable": "/usr/bin/curl"},
            "file": {"path": d + "/" + f, "name": f}}
with open(path, "w") as out:
    for e in [ex(1, "evil"), ex(2, "clean"), ex(3, "big"), fe(4, "dropped.sh"), fe(5, "notes.txt"), ex(6, "evil")]:
        out.write(json.dumps(e) + "\n")
PY
printf 'detect:\n  yara_max_mb: 1\n' >"$WORK/agent.yml"
start_server
enroll_agent "$WORK/agent" yr1
start_agent "$WORK/agent" --config "$WORK/agent.yml" --replay "$WORK/ev.jsonl" --drain 20 \
  --yara "$MAMORI_TEST_DATA/e2e_yara"
wait $AGENT_PID || fail "agent exited with $?: $(tail -5 "$WORK/agent.log")"
WAIT_S=20 wait_for sh -c "[ \$(\"$CLI\" alerts list --since 1h --output jsonl | wc -l) -ge 3 ]" ||
  fail "YARA alerts missing: $("$CLI" alerts list --since 1h 2>&1) $(grep yara "$WORK/agent.log")"
sleep 1
"$CLI" alerts list --since 1h --output jsonl >"$WORK/y.jsonl"
python3 - "$WORK/y.jsonl" "$bin" <<'PY' || fail "YARA alerts: $(cat "$WORK/y.jsonl")"
import json, sys, collections
a = [json.loads(l) for l in open(sys.argv[1])]
files = collections.Counter(x["mamori"]["yara"]["file"].rsplit("/", 1)[1] for x in a)
assert files == collections.Counter({"evil": 2, "dropped.sh": 1}), files
x = a[0]
assert x["rule"]["id"] == "yara:marker.yar:Mamori_Test_Dropper" and x["rule"]["severity"] == "high", x["rule"]
assert x["rule"]["ruleset"] == "yara" and x["threat"]["technique"]["id"] == ["T1204.002"], x
assert len(x["mamori"]["yara"]["sha256"]) == 64 and x["mamori"]["detected_by"] == "agent"
# The scanned file's hash is where a policy's hash exclusion looks: the executable's for an
# exec (the replayed events have no hash), the file's for a written file.
import hashlib
def sha(f):
    return hashlib.sha256(open(sys.argv[2] + "/" + f, "rb").read()).hexdigest()
for x in a:
    f = x["mamori"]["yara"]["file"].rsplit("/", 1)[1]
    where = "file" if f == "dropped.sh" else "process"
    assert x[where]["hash"]["sha256"] == sha(f) == x["mamori"]["yara"]["sha256"], (f, x)
PY
grep -q "yara scanned=3 cached=1 matches=2 skipped_size=1 skipped_type=1" "$WORK/agent.log" ||
  fail "YARA counters: $(grep 'yara scanned' "$WORK/agent.log")"
echo "ok: executed and written executables scanned, cached by hash, size cap and type filter applied"
