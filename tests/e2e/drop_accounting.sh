#!/usr/bin/env bash
# Overload: a tiny ring buffer drained once a second overflows under an exec burst. Every record
# the kernel produced is either received or counted as dropped, and the counters reach the
# output as an agent_drops event.
source "$(dirname "$0")/lib/common.bash"
need_root_bpf

cat >"$WORK/overload.yml" <<'YML'
ringbuf:
  size_kb: 64
  wakeup_ms: 1000
  wakeup_bytes: 1073741824
sources:
  fanotify: off
  inventory: off
YML
out=$WORK/events.jsonl
start_capture "$out" --config "$WORK/overload.yml" --seconds 60
for _ in $(seq 1 1500); do /bin/true; done
sleep 1.5
stop_capture

python3 - "$out" "$out.log" <<'PY'
import json, re, sys
events, log = sys.argv[1], open(sys.argv[2]).read()
rows = [tuple(map(int, m)) for m in
        re.findall(r'records type=(\d+) sent=(\d+) received=(\d+) dropped=(\d+)', log)]
assert rows, "no per-type record accounting in the log:\n" + log
dropped = 0
for t, sent, received, drop in rows:
    assert sent == received, f"type {t}: sent {sent} but received {received}"
    dropped += drop
exec_row = [r for r in rows if r[0] == 1][0]
assert exec_row[1] + exec_row[3] >= 1500, f"exec sent+dropped {exec_row} < 1500 execs"
assert exec_row[3] > 0, f"the ring did not overflow: {exec_row}"
final = [json.loads(l) for l in open(events) if '"agent_drops"' in l][-1]
kernel = final["mamori"]["drops"]["kernel"]
assert kernel == dropped, f"agent_drops says {kernel}, per-type drops sum to {dropped}"
print(f"ok: exec sent={exec_row[1]} dropped={exec_row[3]}; all types dropped={dropped} == reported {kernel}")
PY
