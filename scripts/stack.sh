#!/usr/bin/env bash
# The local stack: mamori-server (SQLite under var/server, or PostgreSQL under var/pg) and a
# mamori-agent enrolled to it (state under var/agent).
#   stack.sh up     start what is not running, wait until the agent is online, print access
#   stack.sh run    the same in the foreground: Ctrl-C stops both
#   stack.sh down   stop agent, server (and the local PostgreSQL)
# Environment: STORE=sqlite|postgres, MAMORI_PORT (8443), MAMORI_PG_PORT (5433), MAMORI_VAR
# (state directory, default var/), MAMORI_BIN (binaries, default bin/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR=${MAMORI_VAR:-$ROOT/var}
BIN=${MAMORI_BIN:-$ROOT/bin}
STORE=${STORE:-sqlite}
PORT=${MAMORI_PORT:-8443}
PG_PORT=${MAMORI_PG_PORT:-5433}
URL=https://127.0.0.1:$PORT

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
  local f=$1 name=$2 i
  if alive "$f"; then
    kill "$(cat "$f")" 2>/dev/null || true
    for i in $(seq 1 100); do alive "$f" || break; sleep 0.1; done
    if alive "$f"; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi
    echo "stopped $name"
  fi
  rm -f "$f"
}

start_server() {
  local store_arg=()
  if alive "$VAR/server.pid"; then
    echo "mamori-server already running (pid $(cat "$VAR/server.pid"))"
    return
  fi
  if [ "$STORE" = postgres ]; then
    store_arg=(--store "$(bash scripts/pg.sh start "$VAR/pg" "$PG_PORT")")
  elif [ "$STORE" != sqlite ]; then
    echo "STORE must be sqlite or postgres" >&2
    exit 2
  fi
  mkdir -p "$VAR"
  # Mamori's own rule pack, evaluated on every event (MAMORI_RULES to use other rules).
  nohup "$BIN/mamori-server" --data "$VAR/server" --listen "127.0.0.1:$PORT" "${store_arg[@]}" \
    --rules "${MAMORI_RULES:-$PWD/rules}" \
    >>"$VAR/server.log" 2>&1 &
  echo $! >"$VAR/server.pid"
  for _ in $(seq 1 100); do
    curl -sf --cacert "$VAR/server/ca.crt" "$URL/healthz" >/dev/null 2>&1 && break
    if ! alive "$VAR/server.pid"; then
      tail -20 "$VAR/server.log" >&2
      echo "mamori-server failed to start" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "started mamori-server (pid $(cat "$VAR/server.pid"), store $STORE)"
}

write_env() {
  local token
  token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
    "$VAR/server/initial-admin.json")
  umask 077
  cat >"$VAR/mamori.env" <<ENV
MAMORI_URL=$URL
MAMORI_TOKEN=$token
MAMORI_CACERT=$VAR/server/ca.crt
ENV
}

start_agent() {
  set -a; . "$VAR/mamori.env"; set +a
  if alive "$VAR/agent.pid"; then
    echo "mamori-agent already running (pid $(cat "$VAR/agent.pid"))"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "note: the agent's kernel sensors need root; run 'sudo make up' for live telemetry" >&2
    return
  fi
  # Enrolled against this server's CA? Otherwise (new server data) enroll again.
  if [ ! -f "$VAR/agent/agent.json" ] || ! cmp -s "$VAR/agent/ca.crt" "$VAR/server/ca.crt"; then
    rm -rf "$VAR/agent"
    "$BIN/mamori-agent" enroll --state "$VAR/agent" "$URL" \
      "$("$BIN/mamori" tokens create --group default --expires 1h)" >/dev/null
  fi
  nohup "$BIN/mamori-agent" run --state "$VAR/agent" >>"$VAR/agent.log" 2>&1 &
  echo $! >"$VAR/agent.pid"
  echo "started mamori-agent (pid $(cat "$VAR/agent.pid"))"
}

wait_online() {
  local id
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent.id"])' \
    "$VAR/agent/agent.json" 2>/dev/null) || return 0
  for _ in $(seq 1 300); do
    if "$BIN/mamori" hosts list --output jsonl 2>/dev/null |
      python3 -c 'import json,sys
want=sys.argv[1]
sys.exit(0 if any(json.loads(l)["agent"]["id"]==want and json.loads(l)["status"]=="online" for l in sys.stdin if l.strip()) else 1)' "$id"; then
      echo "agent $id is online"
      return 0
    fi
    alive "$VAR/agent.pid" || { tail -20 "$VAR/agent.log" >&2; echo "mamori-agent exited" >&2; exit 1; }
    sleep 0.2
  done
  echo "agent did not come online within 60 s (see $VAR/agent.log)" >&2
  exit 1
}

show() {
  local pw
  pw=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["password"])' \
    "$VAR/server/initial-admin.json")
  cat <<TXT

Mamori is running.
  server:      $URL   (CA: $VAR/server/ca.crt)
  admin:       user admin, password $pw
  CLI:         set -a; . $VAR/mamori.env; set +a; bin/mamori hosts list
  logs:        $VAR/server.log  $VAR/agent.log
  stop:        make down
TXT
}

up() {
  start_server
  write_env
  start_agent
  [ "$(id -u)" -ne 0 ] || wait_online
  show
}

down() {
  stop_pid "$VAR/agent.pid" mamori-agent
  stop_pid "$VAR/server.pid" mamori-server
  if [ -f "$VAR/pg/PG_VERSION" ]; then bash scripts/pg.sh stop "$VAR/pg" || true; fi
}

case "${1:-}" in
up) up ;;
down) down ;;
run)
  up
  # The log follower goes too: a SIGTERM (or a Ctrl-C outside a terminal) reaches only us. It
  # may be gone already (a Ctrl-C in a terminal reaches it as well): down runs regardless.
  tail_pid=
  trap 'echo; [ -z "$tail_pid" ] || kill "$tail_pid" 2>/dev/null || true; down; exit 0' INT TERM
  tail -n 0 -F "$VAR/server.log" "$VAR/agent.log" &
  tail_pid=$!
  echo "(Ctrl-C stops both)"
  wait
  ;;
*)
  echo "usage: $0 up|run|down" >&2
  exit 2
  ;;
esac
