# A real mamori-server and mamori-agent on loopback for the pipeline tests (source after
# common.bash). The server gets a free port and a data dir under $WORK.
SERVER=$MAMORI_BIN/mamori-server
CLI=$MAMORI_BIN/mamori

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_server [extra args...]: (re)starts the server on $PORT with data $SDATA, listening on
# ${LISTEN_ADDR:-127.0.0.1}.
start_server() {
  : "${PORT:=$(free_port)}"
  : "${SDATA:=$WORK/server}"
  "$SERVER" --data "$SDATA" --listen "${LISTEN_ADDR:-127.0.0.1}:$PORT" "$@" >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  cleanup_hooks+=("kill -9 $SERVER_PID 2>/dev/null")
  for _ in $(seq 1 100); do
    curl -sf --cacert "$SDATA/ca.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; fail "server exited"; }
    sleep 0.1
  done
  export MAMORI_URL=https://127.0.0.1:$PORT MAMORI_CACERT=$SDATA/ca.crt
  MAMORI_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' \
    "$SDATA/initial-admin.json")
  export MAMORI_TOKEN
}

stop_server() { kill "${1:--TERM}" "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }

# api METHOD PATH [JSON]: prints the body; HTTP status in $API_STATUS.
api() {
  local out
  out=$(curl -s --cacert "$MAMORI_CACERT" -H "Authorization: Bearer $MAMORI_TOKEN" \
    -X "$1" -w '\n%{http_code}' "$MAMORI_URL/api/v1$2" ${3:+-d "$3"})
  API_STATUS=${out##*$'\n'}
  printf '%s\n' "${out%$'\n'*}"
}

# enroll_agent STATE_DIR [HOST_NAME]
enroll_agent() {
  local token
  token=$("$CLI" tokens create --group default --expires 1h) || fail "token not created"
  "$AGENT" enroll --state "$1" ${2:+--host-name "$2"} "$MAMORI_URL" "$token" >/dev/null \
    2>>"$WORK/agent.log" || { tail -5 "$WORK/agent.log" >&2; fail "enrollment failed"; }
}

# start_agent STATE_DIR [run args...]: runs `mamori-agent run` in the background ($AGENT_PID).
start_agent() {
  local state=$1; shift
  "$AGENT" run --state "$state" "$@" >>"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  cleanup_hooks+=("kill -9 $AGENT_PID 2>/dev/null")
}

# poll_held [URL]: true when the server at URL (default $MAMORI_URL) holds an agent's command poll.
poll_held() {
  MAMORI_URL=${1:-$MAMORI_URL} api GET /stats |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["polls_held"] >= 1 else 1)'
}

# ping_at_once HOST [POLL_URL]: two pings in a row, each sent while the agent's poll is held (on
# the node at POLL_URL), each answered well before that poll (25 s) would end by itself: a
# server that delivered only at the next poll fails. Leaves the CLI's last answer in $out and
# its wall time in $ms.
ping_at_once() {
  local i t0
  for i in 1 2; do
    wait_for poll_held "${2:-}" || fail "no command poll held for $1"
    t0=$(date +%s%N)
    out=$("$CLI" hosts ping "$1" --timeout 15) || fail "ping $i of $1 failed: $out"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "$out" | grep -q "pong from $1 in [0-9]* ms" || fail "ping $i output: $out"
    [ "$ms" -lt 8000 ] || fail "ping $i of $1 took $ms ms: not delivered at once"
  done
}

# count QUERY: events matching QUERY over all time.
count() { "$CLI" events search "$1" --since 3650d --count; }

# wait_for CMD...: retries a command for up to ${WAIT_S:-30} s.
wait_for() {
  local i
  for i in $(seq 1 $((${WAIT_S:-30} * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# gen_events FILE N [START] [HOST]: N valid ECS exec events with event.sequence START.. .
gen_events() {
  python3 - "$1" "$2" "${3:-1}" "${4:-e2e-host}" <<'PY'
import json, sys
path, n, start, host = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(path, "w") as f:
    for i in range(start, start + n):
        f.write(json.dumps({
            "@timestamp": "2026-11-21T10:%02d:%02d.%09dZ" % ((i // 60) % 60, i % 60, i),
            "event": {"kind": "event", "category": ["process"], "type": ["start"],
                      "action": "exec", "sequence": i},
            "host": {"name": host},
            "process": {"pid": 1000 + i % 30000, "entity_id": "e%08d" % i,
                        "executable": "/usr/bin/tool%d" % (i % 7), "name": "tool%d" % (i % 7),
                        "args": ["tool", "--n", str(i)], "command_line": "tool --n %d" % i,
                        "parent": {"pid": 1, "entity_id": "e%08d" % (i - 1)}},
        }, separators=(",", ":")) + "\n")
PY
}
