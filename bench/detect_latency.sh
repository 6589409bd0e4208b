#!/usr/bin/env bash
# Exec-to-alert latency through the live stack: a real mamori-agent (eBPF sensor, needs root)
# enrolled to a real mamori-server, both with one rule that matches a marker command. N execs of
# the marker, spaced apart, each becomes an alert; latency = when the server stored the alert
# (event.ingested for alerts the agent raised, event.created for alerts the server raised) minus
# the exec's @timestamp from the kernel. Two configurations in the same run:
#   local:  the agent evaluates the rule and seals the batch at once (alert leaves immediately);
#   server: only the server evaluates, so the event waits for the agent's batch timer (1 s).
# Builds nothing (LAT_BIN, default build/release/bin). Writes bench/results/detect_latency.md.
# Environment: LAT_N (200), LAT_GAP_MS (50), LAT_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${LAT_BIN:-$ROOT/build/release/bin}
N=${LAT_N:-200}
GAP=${LAT_GAP_MS:-50}
OUT=${LAT_OUT:-$ROOT/bench/results/detect_latency.md}
[ "$(id -u)" -eq 0 ] || { echo "needs root (the agent's eBPF sensor)" >&2; exit 77; }
W=$(mktemp -d /tmp/mamori-lat.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
[ -n "${LAT_KEEP:-}" ] && trap - EXIT

cat >"$W/rule.yml" <<'YML'
title: Latency marker
id: 00000000-0000-4000-8000-00000000a1a7
level: high
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'mamori-latency-marker'
    condition: selection
YML
cp /bin/true "$W/marker"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/mamori-server" --data "$W/srv" --listen "127.0.0.1:$PORT" --rules "$W/rule.yml" \
  --learning-hours 8000 >"$W/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf --cacert "$W/srv/ca.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
export MAMORI_URL=https://127.0.0.1:$PORT MAMORI_CACERT=$W/srv/ca.crt
MAMORI_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$W/srv/initial-admin.json")
export MAMORI_TOKEN

run() { # run MODE
  local mode=$1 extra=()
  [ "$mode" = local ] && extra=(--rules "$W/rule.yml")
  local tok; tok=$("$BIN/mamori" tokens create --group default --expires 1h 2>/dev/null)
  "$BIN/mamori-agent" enroll --state "$W/agent-$mode" --host-name "lat-$mode" "$MAMORI_URL" "$tok" >/dev/null 2>&1
  "$BIN/mamori-agent" run --state "$W/agent-$mode" -H "lat-$mode" "${extra[@]}" >"$W/agent-$mode.log" 2>&1 &
  local apid=$!; pids+=($apid)
  sleep 4 # sources attached
  for i in $(seq "$N"); do
    "$W/marker" "mamori-latency-marker-$mode-$i"
    sleep "$(python3 -c "print($GAP/1000)")"
  done
  for _ in $(seq 60); do
    [ "$("$BIN/mamori" alerts list --since 1h --host "lat-$mode" --limit 100000 --output jsonl | wc -l)" -ge "$N" ] && break
    sleep 0.5
  done
  kill "$apid"; wait "$apid" 2>/dev/null || true
  "$BIN/mamori" alerts list --since 1h --host "lat-$mode" --limit 100000 --output jsonl >"$W/alerts-$mode.jsonl"
}
run local
run server

python3 - "$W" "$N" "$GAP" "$OUT" <<'PY'
import json, sys, datetime, subprocess
w, n, gap, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def t(s):
    s = s.rstrip("Z"); frac = "0"
    if "." in s: s, frac = s.split(".")
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return d.timestamp() + float("0." + frac)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
rows = []
for mode in ("local", "server"):
    lat = []; by = set()
    for l in open(f"{w}/alerts-{mode}.jsonl"):
        a = json.loads(l)
        stored = a["event"].get("ingested") or a["event"]["created"]
        lat.append((t(stored) - t(a["@timestamp"])) * 1000)
        by.add(a["mamori"].get("detected_by", "?"))
    if not lat:
        rows.append(f"| {mode} | 0 of {n} | - | - | - | - |"); continue
    rows.append(f"| {mode} | {len(lat)} of {n} | {pct(lat,50):.0f} | {pct(lat,99):.0f} | {max(lat):.0f} | {','.join(sorted(by))} |")
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
text = f"""# Exec-to-alert latency (bench/detect_latency.sh)

Commit {rev}, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, `sudo bash bench/detect_latency.sh` (LAT_N={n}, LAT_GAP_MS={gap}).
Latency = alert stored on the server minus the exec's kernel timestamp, in ms.

| where the rule runs | alerts | p50 | p99 | max | raised by |
|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n\nTarget: p99 <= 1000 ms.\n"
open(out, "w").write(text)
print(text)
PY
