#!/usr/bin/env bash
# bench/detect.sh: what the detection engine costs per event (docs/BENCHMARKS.md, "Detection").
#
# Builds nothing: uses mamori and mamori-detect-bench from BENCH_BUILD (a build directory with a
# bin/ inside, or the bin directory itself; default: the repository's bin/). Generates, in a temp
# directory, DETECT_EVENTS ECS events (bench/detect_events.py) and rule sets of DETECT_SIZES rules
# (bench/detect_rules.py), then measures:
#   1. mamori scan with every SigmaHQ Linux rule over the events, against one grep -F pass over
#      the same file (the I/O floor), alternated, DETECT_ROUNDS rounds, from the page cache:
#      the rules alone (--no-behaviour), then DETECT_DEFAULT_SCANS runs as shipped (rules and
#      the built-in behaviour detections);
#   2. the matcher alone (detect_ctx_match on parsed events, one thread) with the SigmaHQ set;
#   3. the matcher with 10, 100, 210 and 1,000 rules, interleaved, DETECT_ROUNDS rounds (the
#      rules alone; each round also runs the SigmaHQ set as shipped, behaviour included, and
#      the first 10 process_creation rules: one logsource, no keyword rules).
# Writes the report to DETECT_OUT and prints it. Needs python3 with PyYAML; no root.
#
# Environment: BENCH_BUILD, DETECT_SIGMA (../shared/corpora/sigma/rules/linux), DETECT_EVENTS
# (1000000), DETECT_MATCH_EVENTS (100000: the first N events, for 2 and 3), DETECT_ROUNDS (3),
# DETECT_REPEAT (5: passes per matcher run), DETECT_SIZES (10,100,210,1000), DETECT_SEED (1),
# DETECT_DEFAULT_SCANS (1), DETECT_EVENTS_FILE (a corpus to reuse instead of generating one),
# DETECT_OUT (bench/results/detect.md), DETECT_KEEP (0: 1 keeps the temp directory).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD=${BENCH_BUILD:-$ROOT}
if [ -x "$BUILD/bin/mamori" ]; then BIN=$BUILD/bin; else BIN=$BUILD; fi
MAMORI=$BIN/mamori
DBENCH=$BIN/mamori-detect-bench
SIGMA=${DETECT_SIGMA:-$ROOT/../shared/corpora/sigma/rules/linux}
EVENTS=${DETECT_EVENTS:-1000000}
MATCH_EVENTS=${DETECT_MATCH_EVENTS:-100000}
ROUNDS=${DETECT_ROUNDS:-3}
REPEAT=${DETECT_REPEAT:-5}
SIZES=${DETECT_SIZES:-10,100,210,1000}
SEED=${DETECT_SEED:-1}
OUT=${DETECT_OUT:-$ROOT/bench/results/detect.md}
KEEP=${DETECT_KEEP:-0}
DEFAULT_SCANS=${DETECT_DEFAULT_SCANS:-1}
GREP_LITERAL=/dev/shm/kworker # in a few attack events: grep reads every byte and counts a few

say() { echo "detect: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

for b in "$MAMORI" "$DBENCH"; do
	[ -x "$b" ] ||
		die "$b not found: build first (target mamori-detect-bench) and set BENCH_BUILD=DIR"
done
[[ $DEFAULT_SCANS =~ ^[0-9]+$ ]] || die "DETECT_DEFAULT_SCANS must be a whole number"
for v in EVENTS MATCH_EVENTS ROUNDS REPEAT SEED; do
	[[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "DETECT_$v must be a positive whole number"
done
[[ $SIZES =~ ^[0-9]+(,[0-9]+)*$ ]] || die "DETECT_SIZES must be a comma-separated list of counts"
[ -d "$SIGMA" ] || die "$SIGMA: no such rule directory (set DETECT_SIGMA)"
python3 -c 'import yaml' 2>/dev/null || die "python3 with PyYAML needed (python3-yaml)"
[ -x /usr/bin/time ] || die "/usr/bin/time needed (apt-get install time)"

WORK=$(mktemp -d /tmp/mamori-detect.XXXXXX)
cleanup() {
	if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RES=$WORK/results.jsonl # one JSON object per measurement, read by detect_report.py
: >"$RES"
record() { echo "$1" >>"$RES"; }

ns() { date +%s%N; }
load() { cut -d' ' -f1 /proc/loadavg; }

# Host and build, for the report.
record "$(python3 - "$ROOT" "$BIN" "$EVENTS" "$MATCH_EVENTS" "$ROUNDS" "$REPEAT" "$SIZES" "$SEED" \
	"$SIGMA" <<'EOF'
import json, os, platform, subprocess, sys, time
root, binp, events, mev, rounds, repeat, sizes, seed, sigma = sys.argv[1:]
def sh(*a):
    try:
        return subprocess.run(a, cwd=root, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
model = ""
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        model = l.split(":", 1)[1].strip()
        break
mem = 0
for l in open("/proc/meminfo"):
    if l.startswith("MemTotal"):
        mem = int(l.split()[1]) // 1024
dirty = [l.split(None, 1)[1]
         for l in sh("git", "status", "--porcelain", "src").splitlines() if l.strip()]
print(json.dumps({"kind": "host", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  "commit": sh("git", "rev-parse", "--short", "HEAD"), "dirty_src": dirty,
                  "cpu": model, "ncpu": os.cpu_count(), "mem_mib": mem,
                  "kernel": platform.release(), "load_start": os.getloadavg()[0], "bin": binp,
                  "events": int(events), "match_events": int(mev), "rounds": int(rounds),
                  "repeat": int(repeat), "sizes": sizes, "seed": int(seed),
                  "sigma": os.path.realpath(sigma)}))
EOF
)"

if [ -n "${DETECT_EVENTS_FILE:-}" ]; then
	# A corpus made earlier by bench/detect_events.py (saves the minutes generation takes).
	[ -s "$DETECT_EVENTS_FILE" ] || die "$DETECT_EVENTS_FILE: empty or missing"
	say "using $DETECT_EVENTS_FILE"
	ln -s "$(realpath "$DETECT_EVENTS_FILE")" "$WORK/events.jsonl"
else
	say "generating $EVENTS events (seed $SEED)"
	python3 bench/detect_events.py --out "$WORK/events.jsonl" --count "$EVENTS" --seed "$SEED"
fi
head -n "$MATCH_EVENTS" "$WORK/events.jsonl" >"$WORK/match.jsonl"
say "generating rule sets: $SIZES"
python3 bench/detect_rules.py --sigma "$SIGMA" --out "$WORK/rules" --sizes "$SIZES" \
	--process 10 --seed "$SEED" >&2
record "$(python3 - "$WORK/events.jsonl" <<'EOF'
import collections, json, os, sys
c = collections.Counter()
n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        n += 1
        c[json.loads(line)["event"]["action"]] += 1
print(json.dumps({"kind": "corpus", "events": n, "bytes": os.path.getsize(sys.argv[1]),
                  "actions": dict(c)}))
EOF
)"

# ---- 1. mamori scan vs grep -F, from the page cache ----
say "1. mamori scan vs grep -F, $ROUNDS rounds"
cat "$WORK/events.jsonl" >/dev/null
cat "$WORK/events.jsonl" >/dev/null
run_grep() {
	local t0 t1 u s wall
	t0=$(ns)
	/usr/bin/time -f '%U %S' -o "$WORK/time.txt" grep -F -c -- "$GREP_LITERAL" \
		"$WORK/events.jsonl" >"$WORK/grep.out" || [ $? -eq 1 ]
	t1=$(ns)
	read -r u s < <(tail -n 1 "$WORK/time.txt")
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
	printf '{"kind":"grep","round":%s,"wall_s":%s,"user_s":%s,"sys_s":%s,"count":%s}\n' \
		"$1" "$wall" "$u" "$s" "$(cat "$WORK/grep.out")" >>"$RES"
}
run_scan() { # round, label, extra scan option
	local t0 t1 u s m
	t0=$(ns)
	/usr/bin/time -f '%U %S %M' -o "$WORK/time.txt" "$MAMORI" scan --rules "$SIGMA" -o jsonl \
		${3:+"$3"} "$WORK/events.jsonl" >"$WORK/alerts.jsonl" 2>"$WORK/scan.err" ||
		die "mamori scan $3 failed: $(tail -3 "$WORK/scan.err")"
	t1=$(ns)
	read -r u s m < <(tail -n 1 "$WORK/time.txt")
	python3 - "$1" "$2" "$t0" "$t1" "$u" "$s" "$m" "$WORK/alerts.jsonl" "$WORK/scan.err" \
		>>"$RES" <<'EOF'
import json, re, sys
r, label, t0, t1, u, s, m, alerts, err = sys.argv[1:]
text = open(err).read()
ev = re.search(r"scanned (\d+) events", text)
rules = re.search(r"(\d+) rules loaded \((\d+) not loaded\)", text)
with open(alerts, "rb") as f:
    nalerts = sum(1 for _ in f)
print(json.dumps({"kind": "scan", "round": int(r), "label": label,
                  "wall_s": (int(t1) - int(t0)) / 1e9, "user_s": float(u), "sys_s": float(s),
                  "maxrss_kib": int(m), "events": int(ev.group(1)) if ev else None,
                  "rules": int(rules.group(1)) if rules else None,
                  "not_loaded": int(rules.group(2)) if rules else None, "alerts": nalerts,
                  "summary": text.strip().splitlines()[:2]}))
EOF
}
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then
		run_grep "$r"
		run_scan "$r" rules --no-behaviour
	else
		run_scan "$r" rules --no-behaviour
		run_grep "$r"
	fi
	say "  round $r done"
done
# As shipped: the built-in behaviour detections run too. DETECT_DEFAULT_SCANS runs (1: their state
# tables made this scan take minutes before 0b4769d), each after a grep pass of its own.
for r in $(seq 1 "$DEFAULT_SCANS"); do
	say "  default scan (rules + behaviour detections) $r of $DEFAULT_SCANS"
	run_grep "$((100 + r))"
	run_scan "$((100 + r))" default
done

# ---- 2 and 3. the matcher alone, by rule count ----
IFS=, read -r -a SIZE_LIST <<<"$SIZES"
say "2+3. matcher on $MATCH_EVENTS events, sizes $SIZES, $ROUNDS rounds x $REPEAT passes"
for r in $(seq 1 "$ROUNDS"); do
	# Rotate the order each round so a slow spell does not always hit the same set.
	sets=("${SIZE_LIST[@]}" p10)
	n=${#sets[@]}
	for k in $(seq 0 $((n - 1))); do
		size=${sets[$(((k + r - 1) % n))]}
		if [ "$size" = p10 ]; then dir=p10 kind=match_p10; else dir=r$size kind=match; fi
		out=$("$DBENCH" --rules "$WORK/rules/$dir" --events "$WORK/match.jsonl" \
			--repeat "$REPEAT" --no-behaviour) || die "mamori-detect-bench failed for $dir"
		record "{\"kind\":\"$kind\",\"round\":$r,\"size\":\"$size\",\"load\":$(load),\"r\":$out}"
	done
	# The whole SigmaHQ set as shipped, behaviour detections included.
	out=$("$DBENCH" --rules "$SIGMA" --events "$WORK/match.jsonl" --repeat "$REPEAT") ||
		die "mamori-detect-bench failed for $SIGMA"
	record "{\"kind\":\"match_default\",\"round\":$r,\"load\":$(load),\"r\":$out}"
	say "  round $r done"
done
record "{\"kind\":\"end\",\"load_end\":$(load)}"

mkdir -p "$(dirname "$OUT")"
python3 bench/detect_report.py "$RES" >"$OUT"
cat "$OUT"
