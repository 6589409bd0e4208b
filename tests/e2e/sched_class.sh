#!/usr/bin/env bash
# The agent's event thread runs idle-class (SCHED_IDLE) while it drains the kernel ring on time,
# goes back to normal (SCHED_OTHER at budget.nice) when a drain reads half the ring, and returns
# to idle 10 s later; budget.idle_class: false keeps it normal.
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
# The class is set when the event loop starts, just after "capturing host=".
wait_log() { # wait_log FILE PATTERN SECONDS
	for _ in $(seq 1 $(($3 * 2))); do
		grep -q "$2" "$1" && return 0
		sleep 0.5
	done
	cat "$1" >&2
	fail "no '$2' in $1 within $3 s"
}
start_capture "$WORK/a.jsonl" --config "$WORK/default.yml"
wait_log "$WORK/a.jsonl.log" "cpu class idle while" 10
[ "$(policy)" = 5 ] || fail "event thread policy $(policy), want 5 (SCHED_IDLE)"
grep -q "cpu class idle while the ring drains on time" "$WORK/a.jsonl.log" || fail "no idle log line"
for _ in $(seq 1 200); do /bin/true; done
stop_capture
n=$(jcount "$WORK/a.jsonl" 'e["event"]["action"] == "exec" and e["process"]["executable"] == "/usr/bin/true"')
[ "$n" -ge 200 ] || fail "idle-class agent reported $n of 200 execs"
echo "ok: idle class, $n execs reported"

printf 'budget:\n  idle_class: false\n  nice: 7\nsources:\n  inventory: off\n' >"$WORK/off.yml"
start_capture "$WORK/b.jsonl" --config "$WORK/off.yml"
wait_log "$WORK/b.jsonl.log" "cpu class normal (budget.idle_class off)" 10
[ "$(policy)" = 0 ] || fail "policy $(policy) with idle_class off, want 0"
[ "$(nice_of)" = 7 ] || fail "nice $(nice_of), want 7"
stop_capture
echo "ok: idle_class off keeps SCHED_OTHER at nice 7"

# A ring of 256 KiB drained every 500 ms: a burst of execs fills more than half of it between
# two drains, which must switch the thread to normal, then back to idle. The waits are long: on
# a loaded host an idle-class thread may wait for the CPU, and other activity on the host can
# extend the normal spell.
printf 'ringbuf:\n  size_kb: 256\n  wakeup_ms: 500\nbudget:\n  nice: 9\nsources:\n  inventory: off\n' \
	>"$WORK/small.yml"
start_capture "$WORK/c.jsonl" --config "$WORK/small.yml"
wait_log "$WORK/c.jsonl.log" "cpu class idle while" 10
for _ in $(seq 1 600); do /bin/true; done
wait_log "$WORK/c.jsonl.log" "cpu class normal for 10s" 20
[ "$(policy)" = 0 ] || fail "policy $(policy) right after the backlog, want 0"
[ "$(nice_of)" = 9 ] || fail "nice $(nice_of) after the switch, want budget.nice 9"
wait_log "$WORK/c.jsonl.log" "cpu class idle again" 60
[ "$(policy)" = 5 ] || fail "policy $(policy) after the return to idle, want 5"
stop_capture
echo "ok: backlog switched the thread to normal and back"

# Every CPU busy (a busy loop per CPU and one more, at nice 0): the idle-class thread gets
# almost no CPU (in its own session's autogroup, often none for many seconds), and a few execs
# never fill the ring. The wait of those events, or the watchdog seeing the loop not turn,
# switches it to normal, so they still arrive within seconds.
start_capture "$WORK/d.jsonl" --config "$WORK/default.yml"
wait_log "$WORK/d.jsonl.log" "cpu class idle while" 10
busy=()
for _ in $(seq 0 "$(nproc)"); do
  sh -c 'while :; do :; done' &
  busy+=($!)
done
cleanup_hooks+=("kill ${busy[*]} 2>/dev/null")
sleep 1
t0=$(date +%s%N)
for _ in 1 2 3; do /bin/true; sleep 0.2; done
# The events must arrive within seconds. Whether the class had to switch depends on how much
# CPU the scheduler gives the idle-class thread (some runs it keeps up; in its own session's
# autogroup it often gets none, and one of the two signs must then switch it).
arrived=0
for _ in $(seq 1 40); do
  arrived=$(grep -c '"action":"exec".*"executable":"/usr/bin/true"' "$WORK/d.jsonl" || true)
  [ "$arrived" -ge 3 ] && break
  sleep 0.5
done
t1=$(date +%s%N)
if [ "$arrived" -lt 3 ]; then
  cat "$WORK/d.jsonl.log" >&2
  fail "$arrived of 3 execs within 20 s on a busy host"
fi
sign=$(grep -o -m1 'cpu class normal for 10s: [a-z ]*' "$WORK/d.jsonl.log" || true)
if [ -n "$sign" ]; then
  [ "$(policy)" = 0 ] || fail "policy $(policy) after '$sign', want 0"
fi
kill "${busy[@]}" 2>/dev/null
wait "${busy[@]}" 2>/dev/null || true
stop_capture
n=$(jcount "$WORK/d.jsonl" 'e["event"]["action"] == "exec" and e["process"]["executable"] == "/usr/bin/true"')
[ "$n" -ge 3 ] || fail "$n of 3 execs reported under a busy host"
echo "ok: on a host with every CPU busy, the execs arrived within $(((t1 - t0) / 1000000)) ms" \
  "(${sign:-no class switch: the idle-class thread kept up})"
