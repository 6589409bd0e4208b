#!/usr/bin/env bash
# bench/detect_ab.sh: two builds of the detection engine side by side, in the same run, so that a
# change is measured as a ratio on a host whose speed drifts (docs/BENCHMARKS.md, "Detection").
#
# Runs mamori-detect-bench from build A and build B alternately (A, B, A, B...), AB_ROUNDS times
# per rule set, over the same events, and prints per rule set the median parse and match times of
# each build and the ratios B / A. Builds nothing.
#
#   AB_A=DIR AB_B=DIR bash bench/detect_ab.sh EVENTS RULES_DIR...
#
# DIR is a build directory with bin/ inside, or the bin directory itself. EVENTS is an ECS JSON
# lines file (bench/detect_events.py makes one); each RULES_DIR a Sigma rule directory
# (bench/detect_rules.py makes sets of a given size). Environment: AB_ROUNDS (5), AB_REPEAT (3:
# passes inside each run), AB_LIMIT (100000 events), AB_FLAGS (--no-behaviour).
set -euo pipefail

die() {
	echo "detect_ab: error: $*" >&2
	exit 1
}
bin_of() {
	if [ -x "$1/bin/mamori-detect-bench" ]; then echo "$1/bin/mamori-detect-bench"; else echo "$1/mamori-detect-bench"; fi
}
[ $# -ge 2 ] || die "usage: AB_A=DIR AB_B=DIR bash bench/detect_ab.sh EVENTS RULES_DIR..."
A=$(bin_of "${AB_A:?set AB_A to the first build}")
B=$(bin_of "${AB_B:?set AB_B to the second build}")
for b in "$A" "$B"; do [ -x "$b" ] || die "$b not found"; done
EVENTS=$1
shift
[ -s "$EVENTS" ] || die "$EVENTS: empty or missing"
ROUNDS=${AB_ROUNDS:-5}
REPEAT=${AB_REPEAT:-3}
LIMIT=${AB_LIMIT:-100000}
FLAGS=${AB_FLAGS:---no-behaviour}

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for rules in "$@"; do
	[ -d "$rules" ] || die "$rules: no such directory"
	for r in $(seq 1 "$ROUNDS"); do
		for side in A B; do
			bin=$A
			[ "$side" = B ] && bin=$B
			# shellcheck disable=SC2086
			"$bin" --rules "$rules" --events "$EVENTS" --repeat "$REPEAT" --limit "$LIMIT" $FLAGS |
				python3 -c 'import json,sys; d=json.load(sys.stdin); d["side"]=sys.argv[1]; d["set"]=sys.argv[2]; print(json.dumps(d))' \
					"$side" "$rules" >>"$OUT"
		done
	done
done
python3 - "$OUT" "$A" "$B" "$ROUNDS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"A = {sys.argv[2]}\nB = {sys.argv[3]}\n{sys.argv[4]} alternated runs per set; thread CPU time per event, medians.\n")
print("| rule set | rules | hits A / B | parse A (ns) | parse B (ns) | parse B / A | match A (ns) | match B (ns) | match B / A | timed match A / B (ns) |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
for s in dict.fromkeys(r["set"] for r in rows):
    a = [r for r in rows if r["set"] == s and r["side"] == "A"]
    b = [r for r in rows if r["set"] == s and r["side"] == "B"]
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    pa, pb, ma, mb = med(a, "parse_ns"), med(b, "parse_ns"), med(a, "match_ns"), med(b, "match_ns")
    ta, tb = med(a, "match_timed_ns"), med(b, "match_timed_ns")
    print(f"| {s.rstrip('/').split('/')[-1]} | {a[0]['rules']} | {a[0]['hits']} / {b[0]['hits']} | {pa:.0f} | {pb:.0f} | "
          f"{pb / pa:.2f} | {ma:.0f} | {mb:.0f} | {mb / ma if ma > 0 else float('nan'):.2f} | {ta:.0f} / {tb:.0f} |")
EOF
