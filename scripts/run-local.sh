#!/usr/bin/env bash
# make run: starts a local agent capturing this host's telemetry into run/events.jsonl and says
# how to watch and stop it. (The server, its console and credentials come with the pipeline; until
# then the agent runs standalone.)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p run
if [ -f run/agent.pid ] && kill -0 "$(cat run/agent.pid)" 2>/dev/null; then
  echo "mamori-agent already running (pid $(cat run/agent.pid)); stop it with: kill $(cat run/agent.pid)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "note: not root, so the kernel sources (eBPF, fanotify, netlink) are unavailable;" >&2
  echo "      run 'sudo make run' for live telemetry." >&2
fi
nohup bin/mamori-agent capture >run/events.jsonl 2>run/agent.log &
echo $! >run/agent.pid
for _ in $(seq 1 50); do
  grep -q "capturing host=" run/agent.log 2>/dev/null && break
  if ! kill -0 "$(cat run/agent.pid)" 2>/dev/null; then
    cat run/agent.log >&2
    echo "mamori-agent failed to start" >&2
    exit 1
  fi
  sleep 0.1
done
grep -E "source .* (active|inactive)|telemetry cover" run/agent.log || true
cat <<TXT

mamori-agent is capturing (pid $(cat run/agent.pid)).
  events:  $(pwd)/run/events.jsonl     (ECS JSON, one event per line: tail -f run/events.jsonl)
  log:     $(pwd)/run/agent.log
  stop:    kill $(cat run/agent.pid)
The server and web console are not part of this version yet (see README.md).
TXT
