#!/usr/bin/env bash
# make bench: measures what mamori-agent costs the host and whether it loses events.
#
# One interleaved run of BENCH_ROUNDS rounds (even rounds in the reverse order). Each round runs:
#   exec storm    BENCH_EXECS serial fork+execve of a static no-op binary, under (a) nothing,
#                 (b) mamori-agent capture, (c) auditd with one execve rule
#   write storm   BENCH_WRITES open/write 4 KiB/close, under (a) and (b)
#   connect storm BENCH_CONNECTS loopback TCP connects, under (a) and (b)
# then one overload run: a 64 KiB ring drained every 200 ms against two concurrent exec storms,
# to check that every lost record is counted. Prints a markdown report and writes it to
# bench/results/latest.md. Needs root (eBPF, fanotify, audit). Installs nothing: scripts/deps.sh
# (run by make) provides gcc, python3 and auditd. Leaves the host as found, even on failure.
#
# then BENCH_EXEC_ROUNDS more rounds of the exec storm alone, the three conditions in a rotating
# order (the exec target is a few percent and this host's own noise is larger: more pairs narrow
# the interval the report gives), and one exec storm under the agent with the kernel's BPF run-time
# statistics on, which says how much of each exec the agent's kernel programs take, free of noise.
#
# Environment: BENCH_ROUNDS (5), BENCH_EXEC_ROUNDS (BENCH_ROUNDS), BENCH_EXECS (20000),
# BENCH_WRITES (20000), BENCH_CONNECTS (5000), BENCH_PORT (47311), BENCH_AGENT (bin/mamori-agent),
# BENCH_OUT (bench/results/latest.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

ROUNDS=${BENCH_ROUNDS:-5}
EXEC_ROUNDS=${BENCH_EXEC_ROUNDS:-$ROUNDS}
EXECS=${BENCH_EXECS:-20000}
WRITES=${BENCH_WRITES:-20000}
CONNECTS=${BENCH_CONNECTS:-5000}
PORT=${BENCH_PORT:-47311}
AGENT=${BENCH_AGENT:-$ROOT/bin/mamori-agent}
OUT=${BENCH_OUT:-$ROOT/bench/results/latest.md}
AGENT_START_TIMEOUT=60 # seconds until "capturing host=" must appear
AGENT_STOP_TIMEOUT=120 # seconds from SIGINT until the agent must have exited
AUDIT_RULE=(always,exit -F arch=b64 -S execve -k mamori-bench)

say() { echo "bench: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root: the agent's eBPF and fanotify sources and auditd do"
[ -x "$AGENT" ] || die "$AGENT not found: run 'make' first (or use 'make bench')"
for tool in gcc python3 awk; do
	command -v "$tool" >/dev/null || die "$tool missing: run scripts/deps.sh"
done
for v in ROUNDS EXECS WRITES CONNECTS PORT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive whole number"
done
[[ $EXEC_ROUNDS =~ ^[0-9]+$ ]] || die "BENCH_EXEC_ROUNDS must be a whole number"

MAIN_PID=$BASHPID
WORK=$(mktemp -d /tmp/mamori-bench.XXXXXX)
RESULTS=$WORK/results.txt # key=value lines, one per measurement, read by report.py
PROBLEMS=$WORK/problems.txt
: >"$RESULTS"
: >"$PROBLEMS"
AGENT_PID=
AGENT_LABEL=
AUDITD_PID=      # auditd we started (empty: none, or one that was already running)
AUDIT_RULE_ADDED=0
AUDIT_ORIG_ENABLED=
AUDIT_ORIG_BACKLOG=
BPF_STATS_ORIG= # kernel.bpf_stats_enabled as found, while the bench has it on
DRIVER_PIDS=()

problem() {
	say "PROBLEM: $*"
	echo "$*" >>"$PROBLEMS"
}

# --- cleanup: runs on every exit path --------------------------------------------------------

audit_status() { # prints the value of one `auditctl -s` field
	auditctl -s 2>/dev/null | awk -v k="$1" '$1 == k {print $2; exit}'
}

audit_teardown() {
	if [ "$AUDIT_RULE_ADDED" = 1 ]; then
		auditctl -d "${AUDIT_RULE[@]}" >/dev/null 2>&1 || true
		AUDIT_RULE_ADDED=0
	fi
	if [ -n "$AUDITD_PID" ]; then
		kill -TERM "$AUDITD_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$AUDITD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$AUDITD_PID" 2>/dev/null || true
		wait "$AUDITD_PID" 2>/dev/null || true
		AUDITD_PID=
	fi
	# auditd leaves auditing enabled when it stops; put back what the host had.
	if [ -n "$AUDIT_ORIG_BACKLOG" ]; then
		auditctl -b "$AUDIT_ORIG_BACKLOG" >/dev/null 2>&1 || true
	fi
	if [ -n "$AUDIT_ORIG_ENABLED" ] && [ "$AUDIT_ORIG_ENABLED" != 2 ]; then
		auditctl -e "$AUDIT_ORIG_ENABLED" >/dev/null 2>&1 || true
	fi
}

cleanup() {
	local rc=$?

	# A subshell (command substitution) can run this trap too: only the main shell cleans up.
	[ "$BASHPID" = "$MAIN_PID" ] || exit "$rc"
	trap '' INT TERM # a second signal must not cut the cleanup short
	trap - EXIT
	for p in "${DRIVER_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -INT "$AGENT_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$AGENT_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$AGENT_PID" 2>/dev/null || true
		wait "$AGENT_PID" 2>/dev/null || true
	fi
	audit_teardown
	if [ -n "$BPF_STATS_ORIG" ]; then
		echo "$BPF_STATS_ORIG" >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ---------------------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)

cpu_ticks() { # utime + stime of a process, in clock ticks
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	# Fields after the ")" closing comm: state is 1st, utime 12th, stime 13th.
	echo "${s##*) }" | awk '{print $12 + $13}'
}

hwm_kb() { # peak resident set (VmHWM) in KiB
	awk '$1 == "VmHWM:" {print $2; exit}' "/proc/$1/status" 2>/dev/null || echo 0
}

# What the resident set is made of now: private (RssAnon), file-backed (RssFile) and, within
# RssFile, the BPF map mappings (the ring buffer's data pages are mapped twice).
rss_parts() {
	local anon file bpf
	anon=$(awk '$1 == "RssAnon:" {print $2; exit}' "/proc/$1/status" 2>/dev/null)
	file=$(awk '$1 == "RssFile:" {print $2; exit}' "/proc/$1/status" 2>/dev/null)
	bpf=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {m = ($6 == "anon_inode:bpf-map")}
		m && $1 == "Rss:" {s += $2} END {print s + 0}' "/proc/$1/smaps" 2>/dev/null)
	echo "rss_anon_kb=${anon:-0} rss_file_kb=${file:-0} rss_bpfmap_kb=${bpf:-0}"
}

# Waits until a process uses (almost) no CPU: at most 1 tick per 0.5 s, for at most $2 seconds.
settle() {
	local pid=$1 limit=${2:-30} t0 t1
	for _ in $(seq 1 $((limit * 2))); do
		t0=$(cpu_ticks "$pid")
		sleep 0.5
		t1=$(cpu_ticks "$pid")
		[ $((t1 - t0)) -le 1 ] && return 0
	done
	return 0
}

# storm MODE N ARG: runs one driver; sets STORM_EL to its elapsed seconds and STORM_CPU to the CPU
# seconds it and its children used. The driver runs as
# a background job reaped by `wait`, which a signal interrupts at once, so cleanup need not wait
# for a 20 s storm to end (and no command substitution outlives the main shell).
# STORM_STEAL is the share of the machine's CPU time the hypervisor gave to other guests during
# the storm (the steal column of /proc/stat): a VM's slow spells show there.
STORM_EL=
STORM_CPU=
STORM_STEAL=
steal_ticks() { awk '$1 == "cpu" {print $9; exit}' /proc/stat; }
storm() {
	local line= rc=0 s0 s1
	s0=$(steal_ticks)
	"$WORK/storm" "$@" >"$WORK/storm.out" &
	DRIVER_PIDS=($!)
	wait "${DRIVER_PIDS[0]}" || rc=$?
	DRIVER_PIDS=()
	[ $rc -eq 0 ] || die "storm $* failed (status $rc)"
	read -r line <"$WORK/storm.out" || true
	[[ $line == elapsed_s=* ]] || die "storm $* printed '$line'"
	STORM_CPU=${line##*cpu_s=}
	line=${line#elapsed_s=}
	STORM_EL=${line%% *}
	s1=$(steal_ticks)
	STORM_STEAL=$(awk -v d=$((s1 - s0)) -v el="$STORM_EL" -v n="$(nproc)" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.1f", (el > 0 ? 100 * d / hz / (el * n) : 0) }')
}

agent_start() { # agent_start LABEL [CONFIG]
	local label=$1 cfg=${2:-}
	local args=(capture)

	[ -n "$cfg" ] && args+=(--config "$cfg")
	AGENT_LABEL=$label
	"$AGENT" "${args[@]}" >"$WORK/$label.jsonl" 2>"$WORK/$label.log" &
	AGENT_PID=$!
	for _ in $(seq 1 $((AGENT_START_TIMEOUT * 10))); do
		grep -q "capturing host=" "$WORK/$label.log" && break
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID" || true
			tail -20 "$WORK/$label.log" >&2
			die "mamori-agent exited before capturing ($label)"
		fi
		sleep 0.1
	done
	grep -q "capturing host=" "$WORK/$label.log" ||
		die "mamori-agent did not log 'capturing host=' within ${AGENT_START_TIMEOUT}s ($label)"
	# Startup work (process table, inventory) is not what the storm costs: let it finish.
	settle "$AGENT_PID" 30
}

agent_stop() { # SIGINT, then wait for the flush; records hangs and crashes as problems
	local rc=0 waited=0
	kill -INT "$AGENT_PID"
	while kill -0 "$AGENT_PID" 2>/dev/null && [ $waited -lt $((AGENT_STOP_TIMEOUT * 10)) ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	if kill -0 "$AGENT_PID" 2>/dev/null; then
		problem "$AGENT_LABEL: agent still running ${AGENT_STOP_TIMEOUT}s after SIGINT (hang); killed"
		kill -KILL "$AGENT_PID" 2>/dev/null || true
	fi
	wait "$AGENT_PID" || rc=$?
	if [ $rc -gt 128 ]; then
		problem "$AGENT_LABEL: agent died by signal $((rc - 128)) (exit status $rc)"
	elif [ $rc -ne 0 ]; then
		problem "$AGENT_LABEL: agent exited with status $rc"
	fi
	if grep -q '"agent_drops"' "$WORK/$AGENT_LABEL.jsonl"; then :; else
		problem "$AGENT_LABEL: no final agent_drops event in the output"
	fi
	AGENT_PID=
}

count_events() { # count_events LABEL ARGS... -> key=value line
	python3 "$ROOT/bench/count_events.py" "$WORK/$1.jsonl" "${@:2}"
}

# Runs a storm under the agent and records elapsed, CPU, peak RSS and what was captured.
agent_storm() { # agent_storm ROUND BENCH COUNT-ARGS -- STORM-ARGS
	local r=$1 bench=$2 label="agent-$2-r$1" c0 c1 c2 el hwm parts counts
	shift 2
	local cargs=()
	while [ "$1" != -- ]; do
		cargs+=("$1")
		shift
	done
	shift
	agent_start "$label"
	c0=$(cpu_ticks "$AGENT_PID")
	storm "$@"
	el=$STORM_EL
	c1=$(cpu_ticks "$AGENT_PID")
	settle "$AGENT_PID" 30 # the agent may still be draining what the storm produced
	c2=$(cpu_ticks "$AGENT_PID")
	hwm=$(hwm_kb "$AGENT_PID")
	parts=$(rss_parts "$AGENT_PID")
	agent_stop
	counts=$(count_events "$label" "${cargs[@]}")
	echo "kind=run round=$r bench=$bench cond=agent elapsed=$el scpu=$STORM_CPU steal=$STORM_STEAL cpu_storm=$(((c1 - c0))) cpu_drain=$(((c2 - c0))) hwm_kb=$hwm $parts $counts" >>"$RESULTS"
	say "round $r $bench agent: ${el}s cpu_ticks=$((c1 - c0))/$((c2 - c0)) hwm=${hwm}KiB $counts"
}

baseline_storm() { # baseline_storm ROUND BENCH STORM-ARGS
	local r=$1 bench=$2 el
	shift 2
	storm "$@"
	el=$STORM_EL
	echo "kind=run round=$r bench=$bench cond=baseline elapsed=$el scpu=$STORM_CPU steal=$STORM_STEAL" >>"$RESULTS"
	say "round $r $bench baseline: ${el}s"
}

# --- auditd ----------------------------------------------------------------------------------

AUDIT_OK=1
AUDIT_NOTE=
AUDITD_PREEXISTING=0
if ! command -v auditctl >/dev/null || [ ! -x /sbin/auditd ]; then
	AUDIT_OK=0
	AUDIT_NOTE="auditd is not installed (scripts/deps.sh installs it)"
elif ! AUDIT_ORIG_ENABLED=$(audit_status enabled) || [ -z "$AUDIT_ORIG_ENABLED" ]; then
	AUDIT_OK=0
	AUDIT_NOTE="auditctl -s failed: the kernel audit interface is not usable here"
else
	AUDIT_ORIG_BACKLOG=$(audit_status backlog_limit)
	if [ "$(audit_status pid)" != 0 ]; then
		AUDITD_PREEXISTING=1 # use it as it is; only our rule is added and removed
	fi
fi

# Starts auditd (unless one is already running) and adds the execve rule; 0 on success.
audit_setup() {
	local confdir=$WORK/auditconf
	if [ "$AUDITD_PREEXISTING" = 0 ]; then
		# A private config directory keeps the host's /var/log/audit untouched.
		mkdir -p "$confdir" "$WORK/auditlog"
		sed -e "s|^log_file *=.*|log_file = $WORK/auditlog/audit.log|" \
			/etc/audit/auditd.conf >"$confdir/auditd.conf"
		chmod 0640 "$confdir/auditd.conf"
		# Own session: a Ctrl-C meant for this script must not reach it before teardown does.
		setsid /sbin/auditd -n -c "$confdir" >"$WORK/auditd.out" 2>&1 &
		AUDITD_PID=$!
		for _ in $(seq 1 100); do
			[ "$(audit_status pid)" = "$AUDITD_PID" ] && break
			kill -0 "$AUDITD_PID" 2>/dev/null || break
			sleep 0.1
		done
		if [ "$(audit_status pid)" != "$AUDITD_PID" ]; then
			AUDIT_NOTE="auditd did not start: $(tr '\n' ' ' <"$WORK/auditd.out" | cut -c1-200)"
			audit_teardown
			return 1
		fi
		# As Debian's shipped rules (/etc/audit/rules.d/audit.rules) set it for busy systems.
		auditctl -b 8192 >/dev/null
	fi
	if ! auditctl -a "${AUDIT_RULE[@]}" >/dev/null 2>"$WORK/auditctl.err"; then
		AUDIT_NOTE="auditctl -a failed: $(tr '\n' ' ' <"$WORK/auditctl.err")"
		audit_teardown
		return 1
	fi
	AUDIT_RULE_ADDED=1
	return 0
}

# --- build the drivers -----------------------------------------------------------------------

gcc -O2 -Wall -Wextra -pthread -o "$WORK/storm" "$ROOT/bench/storm.c"
gcc -O2 -static -o "$WORK/tiny" "$ROOT/bench/tiny.c"
TINY=$WORK/tiny
FILES=$WORK/files
mkdir -p "$FILES"
if command -v ss >/dev/null && [ -n "$(ss -Htln "sport = :$PORT" 2>/dev/null)" ]; then
	die "port $PORT is in use; set BENCH_PORT to a free one"
fi

{
	echo "kind=meta key=date value=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kind=meta key=nproc value=$(nproc)"
	echo "kind=meta key=kernel value=$(uname -r)"
	echo "kind=meta key=cpu value=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo | tr ' ' '_')"
	echo "kind=meta key=mem_gib value=$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
	if head=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
		git -C "$ROOT" diff --quiet HEAD 2>/dev/null || head="$head+uncommitted-changes"
	else
		head=no-commit-yet
	fi
	echo "kind=meta key=commit value=$head"
	echo "kind=meta key=load_start value=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
	echo "kind=meta key=rounds value=$ROUNDS"
	echo "kind=meta key=exec_rounds value=$EXEC_ROUNDS"
	echo "kind=meta key=execs value=$EXECS"
	echo "kind=meta key=writes value=$WRITES"
	echo "kind=meta key=connects value=$CONNECTS"
	echo "kind=meta key=clk_tck value=$CLK_TCK"
	echo "kind=meta key=auditd_preexisting value=$AUDITD_PREEXISTING"
} >>"$RESULTS"

say "rounds=$ROUNDS execs=$EXECS writes=$WRITES connects=$CONNECTS work=$WORK"

# --- interleaved rounds ----------------------------------------------------------------------

auditd_storm() { # auditd_storm ROUND
	local r=$1 el lost0 lost1
	[ "$AUDIT_OK" = 1 ] || return 0
	if audit_setup; then
		lost0=$(audit_status lost)
		storm exec "$EXECS" "$TINY"
		el=$STORM_EL
		lost1=$(audit_status lost)
		audit_teardown
		echo "kind=run round=$r bench=exec cond=auditd elapsed=$el scpu=$STORM_CPU steal=$STORM_STEAL audit_lost=$((lost1 - lost0))" >>"$RESULTS"
		say "round $r exec auditd: ${el}s"
	else
		AUDIT_OK=0
		problem "auditd column skipped: $AUDIT_NOTE"
	fi
}

# Odd rounds run the conditions in one order and even rounds in the reverse order, so a drift
# within a round (caches, the host's other guests) does not favour the condition that runs first.
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		baseline_storm "$r" exec exec "$EXECS" "$TINY"
		agent_storm "$r" exec --exe "$TINY" -- exec "$EXECS" "$TINY"
		auditd_storm "$r"
		baseline_storm "$r" write write "$WRITES" "$FILES"
		agent_storm "$r" write --dir "$FILES" -- write "$WRITES" "$FILES"
		baseline_storm "$r" connect connect "$CONNECTS" "$PORT"
		agent_storm "$r" connect --port "$PORT" -- connect "$CONNECTS" "$PORT"
	else
		agent_storm "$r" connect --port "$PORT" -- connect "$CONNECTS" "$PORT"
		baseline_storm "$r" connect connect "$CONNECTS" "$PORT"
		agent_storm "$r" write --dir "$FILES" -- write "$WRITES" "$FILES"
		baseline_storm "$r" write write "$WRITES" "$FILES"
		auditd_storm "$r"
		agent_storm "$r" exec --exe "$TINY" -- exec "$EXECS" "$TINY"
		baseline_storm "$r" exec exec "$EXECS" "$TINY"
	fi
done

# Exec-only rounds: every order of the three conditions in turn, so no condition always follows
# the same one (an agent or auditd that just stopped can still leave work behind).
EXEC_ORDERS=("baseline agent auditd" "auditd agent baseline" "agent auditd baseline"
	"baseline auditd agent" "auditd baseline agent" "agent baseline auditd")
for i in $(seq 1 "$EXEC_ROUNDS"); do
	r=$((ROUNDS + i))
	for cond in ${EXEC_ORDERS[$(((i - 1) % 6))]}; do
		case $cond in
		baseline) baseline_storm "$r" exec exec "$EXECS" "$TINY" ;;
		agent) agent_storm "$r" exec --exe "$TINY" -- exec "$EXECS" "$TINY" ;;
		auditd) auditd_storm "$r" ;;
		esac
	done
done

# --- the agent's kernel programs, timed by the kernel ----------------------------------------
# kernel.bpf_stats_enabled makes the kernel add up each program's run time and run count (a
# clock read per run, so this storm is not one of the timed ones). The report divides the sum
# over the agent's programs by the execs and sets it against the baseline's time per exec.
bpf_stats_run() {
	local before after orig pid
	if ! command -v bpftool >/dev/null; then
		echo "kind=bpfstats status=skipped reason=no_bpftool" >>"$RESULTS"
		return 0
	fi
	if ! orig=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null); then
		echo "kind=bpfstats status=skipped reason=no_bpf_stats_sysctl" >>"$RESULTS"
		return 0
	fi
	agent_start bpfstats
	pid=$AGENT_PID
	BPF_STATS_ORIG=$orig
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	before=$(bpftool -j prog show)
	storm exec "$EXECS" "$TINY"
	after=$(bpftool -j prog show)
	echo "$orig" >/proc/sys/kernel/bpf_stats_enabled
	BPF_STATS_ORIG=
	agent_stop
	python3 "$ROOT/bench/bpf_stats.py" "$pid" "$before" "$after" >>"$RESULTS"
	say "bpf stats: $(tail -1 "$RESULTS")"
}
bpf_stats_run

# --- overload: a small ring that must overflow, and every loss must be counted ----------------

OVL_CFG=$WORK/overload.yml
cat >"$OVL_CFG" <<'YAML'
# 64 KiB holds about 20 exec records; drained only every 200 ms (valid range 1..1000).
ringbuf:
  size_kb: 64
  wakeup_ms: 200
YAML
agent_start overload "$OVL_CFG"
half=$(((EXECS + 1) / 2))
c0=$(cpu_ticks "$AGENT_PID")
t0=$(date +%s.%N)
"$WORK/storm" exec "$half" "$TINY" >"$WORK/driver1.out" &
DRIVER_PIDS+=($!)
"$WORK/storm" exec "$half" "$TINY" >"$WORK/driver2.out" &
DRIVER_PIDS+=($!)
for p in "${DRIVER_PIDS[@]}"; do
	wait "$p" || die "overload storm driver failed"
done
DRIVER_PIDS=()
t1=$(date +%s.%N)
settle "$AGENT_PID" 30
c1=$(cpu_ticks "$AGENT_PID")
agent_stop
{
	printf 'kind=overload key=storm value=%s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')"
	echo "kind=overload key=tiny_execs value=$((half * 2))"
	echo "kind=overload key=cpu_ticks value=$((c1 - c0))"
	echo "kind=overload key=counts value=$(count_events overload --exe "$TINY" | tr ' ' ',')"
	# "records type=T sent=S received=R dropped=D" lines from the eBPF source at stop.
	grep -o 'records type=[0-9]* sent=[0-9]* received=[0-9]* dropped=[0-9]*' "$WORK/overload.log" |
		sed 's/^records /kind=records /' || true
	grep -o 'stopped emitted=.*' "$WORK/overload.log" | sed 's/^stopped /kind=stopped /' || true
} >>"$RESULTS"
echo "kind=meta key=load_end value=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')" >>"$RESULTS"

# Warnings and errors the agent logged, for the report (deduplicated, numbers blanked).
cat "$WORK"/*.log 2>/dev/null | grep -iE '\b(warn|warning|error|fatal)\b' |
	sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -20 >"$WORK/agent-warnings.txt" || true

mkdir -p "$(dirname "$OUT")"
python3 "$ROOT/bench/report.py" --results "$RESULTS" --problems "$PROBLEMS" \
	--warnings "$WORK/agent-warnings.txt" --audit-note "$AUDIT_NOTE" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
say "report written to $OUT"
