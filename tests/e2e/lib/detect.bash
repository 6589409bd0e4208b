# Shared by the detection end-to-end scripts (detect_atomics.sh, detect_everyday.sh): run the rule
# pack over a live capture and attribute each alert to the workload that caused it.
#
# Attribution follows the process tree, not the clock: every workload runs under
# `env MAMORI_E2E_ROOT=<label> ...`, so the exec event of that env process names a root, and an
# alert belongs to <label> when the process of its event descends from that root. Other activity
# on the machine (builds, other tests, daemons) is never counted against the rules.
MAMORI=$MAMORI_BIN/mamori
RULES=${MAMORI_RULES:-$MAMORI_SRC/rules}

# scan_events EVENTS ALERTS: the pack over a capture, alert documents to ALERTS.
scan_events() {
  "$MAMORI" scan --rules "$RULES" --output jsonl "$1" >"$2" 2>"$2.log" || {
    cat "$2.log" >&2
    fail "mamori scan exited $?"
  }
}

# Alerts of the pack carry rule.ruleset "sigma" or "correlation"; `mamori scan` may add its
# built-in behaviour detections ("behaviour") and indicator matches ("ioc"), which these tests
# report but do not judge.
PACK_RULESETS="sigma correlation"

# attribute_alerts EVENTS ALERTS OUT: one JSON line per alert to OUT, the alert with its root
# label added as "e2e_root" (null when it belongs to no workload) and "e2e_pack" (whether a rule
# of the pack raised it).
attribute_alerts() {
  python3 - "$1" "$2" "$3" "$PACK_RULESETS" <<'PY'
import json, sys
events_path, alerts_path, out_path = sys.argv[1:4]
pack_rulesets = sys.argv[4].split()

def g(e, dotted):
    for k in dotted.split('.'):
        if not isinstance(e, dict) or k not in e:
            return None
        e = e[k]
    return e

parent = {}   # entity -> parent entity
root = {}     # entity -> label
starts = {}   # pid -> {entity: process start}: pids wrap during a capture (pid_max 32768)
pending = []  # (event.sequence, pid, @timestamp) of events that name only a pid
entity_of = {}  # event.sequence -> entity of the process behind it
with open(events_path, encoding='utf-8', errors='replace') as f:
    for line in f:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        ent, pid = g(e, 'process.entity_id'), g(e, 'process.pid')
        pent = g(e, 'process.parent.entity_id')
        seq = g(e, 'event.sequence')
        if ent and pent and ent != pent:
            parent.setdefault(ent, pent)
        if ent and pid is not None and g(e, 'process.start'):
            starts.setdefault(pid, {})[ent] = g(e, 'process.start')
        if seq is not None:
            if ent:
                entity_of[seq] = ent
            elif pid is not None:
                # File events can name only a pid, and arrive before the fork that made it.
                pending.append((seq, pid, g(e, '@timestamp') or ''))
        if g(e, 'event.action') == 'exec' and ent:
            args = g(e, 'process.args') or []
            if args and args[0].rsplit('/', 1)[-1] == 'env':
                for a in args[1:]:
                    if a.startswith('MAMORI_E2E_ROOT='):
                        root[ent] = a.split('=', 1)[1]
for seq, pid, ts in pending:
    best = None
    for ent, start in starts.get(pid, {}).items():
        if start <= ts and (best is None or start >= best[0]):
            best = (start, ent)
    if best:
        entity_of[seq] = best[1]

def label(ent):
    for _ in range(256):
        if ent is None:
            return None
        if ent in root:
            return root[ent]
        ent = parent.get(ent)
    return None

with open(alerts_path, encoding='utf-8') as f, open(out_path, 'w', encoding='utf-8') as out:
    for line in f:
        if not line.strip():
            continue
        a = json.loads(line)
        ev = (g(a, 'mamori.events') or [{}])[0]
        ent = g(ev, 'process.entity_id') or entity_of.get(g(ev, 'event.sequence'))
        a['e2e_root'] = label(ent)
        a['e2e_pack'] = a.get('rule', {}).get('ruleset') in pack_rulesets
        out.write(json.dumps(a) + '\n')
PY
}

# ---- the live pipeline: a real server and a real agent ----
# start_live: mamori-server with the pack (every ingested event evaluated) and mamori-agent
# running the real sensor with the same pack (local detection), enrolled to it. Alerts either
# side raises are stored once. stop_live EVENTS ALERTS stops the agent (its spool drained) and
# fetches what the server stored since start_live.
start_live() {
  # shellcheck source=stack.bash
  . "$(dirname "${BASH_SOURCE[0]}")/stack.bash"
  start_server --rules "$RULES" --learning-hours 8000
  enroll_agent "$WORK/live-agent"
  LIVE_SINCE=$(date -u -d '-5 seconds' +%Y-%m-%dT%H:%M:%SZ)
  "$AGENT" run --state "$WORK/live-agent" --rules "$RULES" --drain 60 >"$WORK/live-agent.log" 2>&1 &
  LIVE_PID=$!
  cleanup_hooks+=("kill -9 $LIVE_PID 2>/dev/null")
  for _ in $(seq 1 150); do
    grep -q "capturing host=" "$WORK/live-agent.log" 2>/dev/null && return 0
    kill -0 "$LIVE_PID" 2>/dev/null || { tail -20 "$WORK/live-agent.log" >&2; fail "agent exited early"; }
    sleep 0.1
  done
  tail -20 "$WORK/live-agent.log" >&2
  fail "agent did not start"
}

stop_live() {
  local events=$1 alerts=$2
  kill -INT "$LIVE_PID"
  wait "$LIVE_PID" || fail "agent exited with $?: $(tail -5 "$WORK/live-agent.log")"
  grep -q "uplink stopped spooled_batches=0" "$WORK/live-agent.log" ||
    echo "note: agent stopped with batches still spooled: $(grep 'uplink stopped' "$WORK/live-agent.log")"
  sleep 6 # the server's heartbeat and ingest queues settle
  python3 - "$events" "$LIVE_SINCE" <<'PY' || fail "events not fetched from the server"
import json, os, ssl, sys, urllib.parse, urllib.request
out, since = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=os.environ["MAMORI_CACERT"])
def ns(ts):
    d, _, frac = ts.rstrip("Z").partition(".")
    import calendar, time
    sec = calendar.timegm(time.strptime(d, "%Y-%m-%dT%H:%M:%S"))
    return sec * 10**9 + int((frac + "000000000")[:9])
def iso(n):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(n // 10**9)) + ".%09dZ" % (n % 10**9)
seen, events, until = set(), [], None
while True:
    q = {"since": since, "limit": "10000"}
    if until:
        q["until"] = until
    req = urllib.request.Request(os.environ["MAMORI_URL"] + "/api/v1/events?" + urllib.parse.urlencode(q),
                                 headers={"Authorization": "Bearer " + os.environ["MAMORI_TOKEN"]})
    page = json.load(urllib.request.urlopen(req, context=ctx, timeout=120))["events"]
    new = 0
    for e in page:
        k = json.dumps(e, sort_keys=True)
        if k not in seen:
            seen.add(k); events.append(e); new += 1
    if len(page) < 10000 or not new:
        break
    until = iso(ns(page[-1]["@timestamp"]) + 1)  # ties at the boundary come again, deduplicated
events.sort(key=lambda e: (e.get("@timestamp", ""), (e.get("event") or {}).get("sequence", 0)))
with open(out, "w") as f:
    for e in events:
        f.write(json.dumps(e) + "\n")
print("fetched %d events from the server" % len(events))
PY
  "$MAMORI" alerts list --since 1h --limit 100000 --output jsonl >"$alerts" ||
    fail "alerts not fetched from the server"
  echo "fetched $(wc -l <"$alerts") alerts from the server"
}
