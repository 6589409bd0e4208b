# Hostile and mistaken peers: wrong CA pin, bad or expired tokens, foreign and missing client
# certificates, garbage, oversized and decompression-bomb frames, malformed lines, replayed
# batches. The server answers each with a clear error, counts it, and keeps running.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

start_server
# A second, unrelated server (its own CA) for the wrong-pin cases.
SDATA_A=$SDATA PORT_A=$PORT
SDATA=$WORK/other PORT=$(free_port)
start_server
URL_B=$MAMORI_URL TOKEN_B=$("$CLI" tokens create --group default --expires 1h 2>/dev/null)
SDATA=$SDATA_A PORT=$PORT_A
export MAMORI_URL=https://127.0.0.1:$PORT MAMORI_CACERT=$SDATA/ca.crt
MAMORI_TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$SDATA/initial-admin.json")
token=$("$CLI" tokens create --group default --expires 1h 2>/dev/null)

# Wrong pin: a token of server B used against server A (and a forged pin) is refused by the agent.
out=$("$AGENT" enroll --state "$WORK/x1" "$MAMORI_URL" "$TOKEN_B" 2>&1) && fail "enrolled with another server's token"
echo "$out" | grep -q "does not match the token's pin" || fail "wrong pin message: $out"
forged="${token%.*}.$(printf '0%.0s' $(seq 1 64))"
out=$("$AGENT" enroll --state "$WORK/x2" "$MAMORI_URL" "$forged" 2>&1) && fail "enrolled with a forged pin"
[ ! -f "$WORK/x2/agent.key" ] || fail "key created before the pin was checked"
echo "ok: wrong CA pin refused"

# Bad secret, expired token, malformed token.
IFS=. read -r pfx tid sec pin <<<"$token"
out=$("$AGENT" enroll --state "$WORK/x3" "$MAMORI_URL" "$pfx.$tid.$(printf 'f%.0s' $(seq 1 32)).$pin" 2>&1) &&
  fail "enrolled with a wrong secret"
echo "$out" | grep -q "unknown enrollment token" || fail "bad secret message: $out"
short=$("$CLI" tokens create --group default --expires 1s 2>/dev/null)
sleep 2
out=$("$AGENT" enroll --state "$WORK/x4" "$MAMORI_URL" "$short" 2>&1) && fail "enrolled with an expired token"
echo "$out" | grep -q "expired" || fail "expired message: $out"
"$AGENT" enroll --state "$WORK/x5" "$MAMORI_URL" "MMR1.garbage" >/dev/null 2>&1 && fail "malformed token"
echo "ok: bad, expired and malformed tokens refused"

# A real agent, and curl speaking its protocol.
enroll_agent "$WORK/agent" sec-host
CRT=(--cacert "$SDATA/ca.crt" --cert "$WORK/agent/agent.crt" --key "$WORK/agent/agent.key")
post() { # post SEQ FILE [curl args...] -> status code; body in $WORK/resp
  local seq=$1 file=$2; shift 2
  curl -s -o "$WORK/resp" -w '%{http_code}' "${CRT[@]}" -X POST \
    -H "X-Mamori-Epoch: 00000000000000aa" -H "X-Mamori-Seq: $seq" "$@" \
    --data-binary @"$file" "$MAMORI_URL/v1/events"
}
gen_events "$WORK/ok.jsonl" 10 1 sec-host
zstd -q -f "$WORK/ok.jsonl" -o "$WORK/ok.zst"
[ "$(post 1 "$WORK/ok.zst" -H 'Content-Encoding: zstd')" = 200 ] || fail "valid batch: $(cat "$WORK/resp")"
[ "$(count 'host.name:sec-host')" = 10 ] || fail "valid batch not stored"

# Replayed and older batches are acknowledged but not stored again.
[ "$(post 1 "$WORK/ok.zst" -H 'Content-Encoding: zstd')" = 200 ] || fail "replay status"
grep -q '"duplicate":true' "$WORK/resp" || fail "replay not flagged: $(cat "$WORK/resp")"
gen_events "$WORK/ok2.jsonl" 5 100 sec-host
[ "$(post 2 "$WORK/ok2.jsonl")" = 200 ] || fail "identity batch"
[ "$(post 1 "$WORK/ok2.jsonl")" = 200 ] && grep -q '"duplicate":true' "$WORK/resp" || fail "older seq stored"
[ "$(count 'host.name:sec-host')" = 15 ] || fail "replayed batches stored twice: $(count 'host.name:sec-host')"
echo "ok: replayed batches acknowledged once, stored once"

# Garbage frames.
head -c 5000 /dev/urandom >"$WORK/garbage"
[ "$(post 3 "$WORK/garbage" -H 'Content-Encoding: zstd')" = 400 ] || fail "garbage zstd accepted"
[ "$(post 3 "$WORK/garbage" -H 'Content-Encoding: gzip')" = 400 ] || fail "unknown encoding accepted"
code=$(curl -s -o /dev/null -w '%{http_code}' "${CRT[@]}" -X POST --data-binary @"$WORK/ok.zst" "$MAMORI_URL/v1/events")
[ "$code" = 400 ] || fail "batch without sequence headers accepted ($code)"
head -c $((9 * 1024 * 1024)) /dev/zero >"$WORK/big"
code=$(post 3 "$WORK/big" || true)
[ "$code" = 413 ] || [ "$code" = 400 ] || [ "$code" = 000 ] || fail "oversized body accepted ($code)"
head -c $((200 * 1024 * 1024)) /dev/zero | zstd -q -19 -o "$WORK/bomb.zst"
[ "$(stat -c %s "$WORK/bomb.zst")" -lt $((8 * 1024 * 1024)) ] || fail "bomb too big to test"
[ "$(post 3 "$WORK/bomb.zst" -H 'Content-Encoding: zstd')" = 400 ] || fail "decompression bomb accepted"
echo "ok: garbage, oversized and bomb frames refused"

# Malformed lines inside a valid batch: counted, the rest stored, the batch acknowledged.
{ head -3 "$WORK/ok.jsonl" | sed 's/"sec-host"/"sec-mixed"/'
  echo '{"@timestamp":"2026-11-21T10:00:00Z","event":{"action":"exec"},"host":{"name":"sec-mixed"},"x":tru}'
  echo 'not json at all'
  printf '{"@timestamp":"2026-11-21T10:00:00Z","host":{"name":"sec-mixed"},"s":"\\u0000"}\n'
  echo '{"event":{"action":"exec"},"host":{"name":"sec-mixed"}}'
  printf '{"@timestamp":"2026-11-21T10:00:00Z","host":{"name":"sec-mixed"},"s":"\xff\xfe"}\n'
} >"$WORK/mixed.jsonl"
[ "$(post 4 "$WORK/mixed.jsonl")" = 200 ] || fail "mixed batch"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["stored"]==3 and r["rejected"]==5, r' "$WORK/resp" ||
  fail "mixed batch counts: $(cat "$WORK/resp")"
[ "$(count 'host.name:sec-mixed')" = 3 ] || fail "mixed batch stored"
echo "ok: malformed lines rejected and counted: $(cat "$WORK/resp")"

# Certificates: none, from another CA, and no bearer token on the API.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" -X POST -d '{}' "$MAMORI_URL/v1/heartbeat")
[ "$code" = 401 ] || fail "heartbeat without a certificate ($code)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent.id"])' "$WORK/agent/agent.json")" \
  -keyout "$WORK/evil.key" -out "$WORK/evil.crt" -days 1 2>/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" --cert "$WORK/evil.crt" --key "$WORK/evil.key" \
  -X POST -d '{}' "$MAMORI_URL/v1/heartbeat" || true)
[ "$code" = 000 ] || [ "$code" = 401 ] || fail "self-signed certificate with the agent's CN accepted ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" "$MAMORI_URL/api/v1/hosts")
[ "$code" = 401 ] || fail "API without a token ($code)"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SDATA/ca.crt" -H 'Authorization: Bearer mmt_nope' "$MAMORI_URL/api/v1/hosts")
[ "$code" = 401 ] || fail "API with a bad token ($code)"
echo "ok: certificates and tokens enforced"

# Still serving, and it counted what it refused.
curl -sf --cacert "$SDATA/ca.crt" "$MAMORI_URL/healthz" >/dev/null || fail "server died"
"$CLI" stats | tee "$WORK/stats"
python3 - "$MAMORI_URL" <<'PY' || fail "counters"
import json, os, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=os.environ["MAMORI_CACERT"])
req = urllib.request.Request(sys.argv[1] + "/api/v1/stats",
                             headers={"Authorization": "Bearer " + os.environ["MAMORI_TOKEN"]})
s = json.load(urllib.request.urlopen(req, context=ctx))
assert s["duplicate_batches"] >= 2 and s["ingest_rejected_lines"] >= 5, s
assert s["rejected_frames"] >= 4 and s["auth_failures"] >= 3, s
PY
echo "ok: server alive, refusals counted"
