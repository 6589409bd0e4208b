#!/usr/bin/env bash
# The agent's event thread runs idle-class (SCHED_IDLE) while it drains the kernel ring on time,
# goes back to normal (SCHED_OTHER at budget.nice) when a drain finds a quarter of the ring
# filled, and returns to idle 10 s later; budget.idle_class: false keeps it normal.
source "$(dirname "$0")/lib/common.bash"
need_root_bpf

# Fields of the event thread's stat line, read without starting a process: the waits below must
# not themselves fill the ring (each exec is a few KiB in it). "mamori-agent" has no space.
stat_field() {
	local f
	read -r -a f <"/proc/$CAPTURE_PID/task/$CAPTURE_PID/stat"
	echo "${f[$1]}"
}
policy() { stat_field 40; } # 0: SCHED_OTHER, 5: SCHED_IDLE
nice_of() { stat_field 18; }

printf 'sources:\n  inventory: off\n' >"$WORK/default.yml"
start_capture "$WORK/a.jsonl" --config "$WORK/default.yml"
[ "$(policy)" = 5 ] || fail "event thread policy $(policy), want 5 (SCHED_IDLE)"
grep -q "cpu class idle while the ring drains on time" "$WORK/a.jsonl.log" || fail "no idle log line"
for _ in $(seq 1 200); do /bin/true; done
stop_capture
n=$(jcount "$WORK/a.jsonl" 'e["event"]["action"] == "exec" and e["process"]["executable"] == "/usr/bin/true"')
[ "$n" -ge 200 ] || fail "idle-class agent reported $n of 200 execs"
echo "ok: idle class, $n execs reported"

printf 'budget:\n  idle_class: false\n  nice: 7\nsources:\n  inventory: off\n' >"$WORK/off.yml"
start_capture "$WORK/b.jsonl" --config "$WORK/off.yml"
[ "$(policy)" = 0 ] || fail "policy $(policy) with idle_class off, want 0"
[ "$(nice_of)" = 7 ] || fail "nice $(nice_of), want 7"
stop_capture
echo "ok: idle_class off keeps SCHED_OTHER at nice 7"

# A ring of 256 KiB drained every 500 ms: a burst of execs fills more than a quarter of it
# between two drains, which must switch the thread to normal, then back to idle.
printf 'ringbuf:\n  size_kb: 256\n  wakeup_ms: 500\nbudget:\n  nice: 9\nsources:\n  inventory: off\n' \
	>"$WORK/small.yml"
start_capture "$WORK/c.jsonl" --config "$WORK/small.yml"
for _ in $(seq 1 600); do /bin/true; done
for _ in $(seq 1 10); do
	grep -q "cpu class normal for 10s" "$WORK/c.jsonl.log" && break
	sleep 0.5
done
grep -q "cpu class normal for 10s" "$WORK/c.jsonl.log" || { cat "$WORK/c.jsonl.log" >&2; fail "never switched to normal"; }
[ "$(policy)" = 0 ] || fail "policy $(policy) right after the backlog, want 0"
[ "$(nice_of)" = 9 ] || fail "nice $(nice_of) after the switch, want budget.nice 9"
for _ in $(seq 1 30); do
	[ "$(policy)" = 5 ] && break
	sleep 0.5
done
[ "$(policy)" = 5 ] || fail "still policy $(policy) 15 s after the backlog"
grep -q "cpu class idle again" "$WORK/c.jsonl.log" || fail "no log line for the return to idle"
stop_capture
echo "ok: backlog switched the thread to normal and back"
