# A full spool while the server is away: the oldest batches are dropped, every dropped event is
# counted, the count reaches the server in the heartbeat, and stored + dropped = produced.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

start_server
enroll_agent "$WORK/agent" capped
stop_server -TERM
cat >"$WORK/agent.yml" <<YML
spool:
  max_mb: 1
uplink:
  batch_events: 500
  heartbeat_s: 1
YML
gen_events "$WORK/ev.jsonl" 12000 1 capped
mkfifo "$WORK/feed"
sleep 100000 >"$WORK/feed" &
cleanup_hooks+=("kill $! 2>/dev/null")
start_agent "$WORK/agent" --config "$WORK/agent.yml" --replay "$WORK/feed" --host-name capped
cat "$WORK/ev.jsonl" >"$WORK/feed"
sleep 4 # sealed and spooled, the oldest dropped
start_server
WAIT_S=60 wait_for sh -c "\"$CLI\" hosts show capped --output jsonl | python3 -c 'import json,sys; h=json.load(sys.stdin)[\"health\"]; sys.exit(0 if h[\"spool_batches\"]==0 and h[\"spool_dropped\"]>0 else 1)'" ||
  fail "spool drops not reported: $("$CLI" hosts show capped --output jsonl)"
dropped=$("$CLI" hosts show capped --output jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["health"]["spool_dropped"])')
stored=$(count 'host.name:capped and event.action:exec')
echo "stored=$stored dropped=$dropped produced=12000"
[ "$dropped" -gt 0 ] || fail "nothing dropped: the cap was not reached"
[ $((stored + dropped)) -eq 12000 ] || fail "stored + dropped != produced"
# What survived is the newest: the last event is there, the first is not.
[ "$(count 'process.entity_id:e00012000')" = 1 ] || fail "newest event missing"
[ "$(count 'process.entity_id:e00000001')" = 0 ] || fail "oldest event kept"
echo "ok: oldest dropped first and counted exactly"
kill $AGENT_PID; wait $AGENT_PID || true
