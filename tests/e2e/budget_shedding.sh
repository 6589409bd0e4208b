#!/usr/bin/env bash
# Over its CPU budget the agent sheds low-value events (forks here), counts every one, and
# reports the count; high-value events (execs) keep flowing.
source "$(dirname "$0")/lib/common.bash"
need_root_bpf

cat >"$WORK/budget.yml" <<'YML'
budget:
  cpu_percent: 1
sources:
  inventory: off
YML
out=$WORK/events.jsonl
start_capture "$out" --config "$WORK/budget.yml" --seconds 60
# Enough process churn to cost the agent more than 1% of a core over a 5 s window: three
# loops at once, as one loop of /bin/true no longer costs the agent 1%.
churn() {
  local end=$((SECONDS + 12))
  while [ $SECONDS -lt $end ]; do /bin/true; done
}
churn & p1=$!
churn & p2=$!
churn
wait "$p1" "$p2"
stop_capture
grep -q "start shedding" "$out.log" || { tail -20 "$out.log"; fail "never started shedding"; }
python3 - "$out" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
final = [e for e in ev if e["event"]["action"] == "agent_drops"][-1]
shed = final["mamori"]["drops"]["shed"]
execs = sum(1 for e in ev if e["event"]["action"] == "exec")
assert shed > 0, "nothing shed"
assert execs > 0, "execs were shed too"
print(f"ok: shed={shed} while {execs} execs still reported")
PY
