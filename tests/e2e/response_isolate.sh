# Host isolation through the real server and agent, with the agent's host in a network namespace
# of its own: a veth to the server (in the root namespace) and a veth to a test peer host (a
# second namespace). Checks that isolation drops traffic both ways while the management channel
# keeps working, the allow-list, the `isolated` status, re-application after an agent restart
# (table gone as after a reboot) and after the agent lost its state (the server re-sends it), the
# self-test revert with a wrong server address, and release.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, nftables)"
command -v ip >/dev/null || skip "needs iproute2"
command -v nft >/dev/null || skip "needs nft (package nftables) to inspect the ruleset"

HOST=iso-host
N=$(( ($$ % 200) + 20 ))
HNS=mamori-iso-$$ PNS=mamori-peer-$$
SIP=10.231.$N.1 AIP=10.231.$N.2 PEER_GW=10.232.$N.1 PEER=10.232.$N.2
cleanup_hooks+=("ip netns del $HNS 2>/dev/null; ip netns del $PNS 2>/dev/null; ip link del vsi$N 2>/dev/null")

ip netns add "$HNS"
ip netns add "$PNS"
ip link add "vsi$N" type veth peer name "vha$N"
ip link set "vha$N" netns "$HNS"
ip addr add "$SIP/24" dev "vsi$N"
ip link set "vsi$N" up
ip -n "$HNS" addr add "$AIP/24" dev "vha$N"
ip -n "$HNS" link set "vha$N" up
ip -n "$HNS" link set lo up
ip -n "$HNS" link add "vhp$N" type veth peer name "vpp$N"
ip -n "$HNS" link set "vpp$N" netns "$PNS"
ip -n "$HNS" addr add "$PEER_GW/24" dev "vhp$N"
ip -n "$HNS" link set "vhp$N" up
ip -n "$PNS" addr add "$PEER/24" dev "vpp$N"
ip -n "$PNS" link set "vpp$N" up
ip -n "$PNS" link set lo up

in_host() { ip netns exec "$HNS" "$@"; }
# A web server on the peer, and one on the isolated host itself (for inbound traffic).
ip netns exec "$PNS" python3 -m http.server 8080 --bind "$PEER" >/dev/null 2>&1 &
cleanup_hooks+=("kill $! 2>/dev/null")
in_host python3 -m http.server 8081 --bind "$AIP" >/dev/null 2>&1 &
cleanup_hooks+=("kill $! 2>/dev/null")
peer_ok() { in_host curl -s -o /dev/null --max-time 2 "http://$PEER:8080/"; }
inbound_ok() { curl -s -o /dev/null --max-time 2 "http://$AIP:8081/"; }
table_there() { in_host nft list table inet mamori_isolation >/dev/null 2>&1; }
WAIT_S=10 wait_for peer_ok || fail "the peer is not reachable before isolation"
WAIT_S=10 wait_for inbound_ok || fail "the host is not reachable before isolation"

mkdir -p "$WORK/rules"
cat >"$WORK/rules/isolate-me.yml" <<'YML'
title: Mamori e2e automatic isolation
id: 6f1d2c3a-e2e0-4b1c-9a51-0c0ffee00015
status: test
level: critical
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: '/mamori-e2e-isolate-me'
  condition: selection
YML
LISTEN_ADDR=0.0.0.0 start_server --name "$SIP" --heartbeat-timeout 10 --rules "$WORK/rules"
token=$("$CLI" tokens create --group default --expires 1h) || fail "token not created"
in_host "$AGENT" enroll --state "$WORK/agent" --host-name "$HOST" "https://$SIP:$PORT" "$token" \
  >/dev/null 2>>"$WORK/agent.log" || { tail -5 "$WORK/agent.log" >&2; fail "enrollment failed"; }
printf 'uplink:\n  heartbeat_s: 1\n' >"$WORK/agent.yml"
mkfifo "$WORK/feed"
sleep 100000 >"$WORK/feed" &
cleanup_hooks+=("kill $! 2>/dev/null")
run_agent() {
  ip netns exec "$HNS" "$AGENT" run --config "$WORK/agent.yml" --state "$WORK/agent" \
    --replay "$WORK/feed" --host-name "$HOST" >>"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  cleanup_hooks+=("kill -9 $AGENT_PID 2>/dev/null")
  WAIT_S=30 wait_for "$CLI" hosts ping "$HOST" --timeout 2 ||
    { tail -20 "$WORK/agent.log" >&2; fail "agent not answering"; }
}
run_agent
host_status() {
  "$CLI" hosts list --output jsonl >"$WORK/hosts.jsonl"
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    h = json.loads(l)
    if h["host"]["name"] == sys.argv[2]: print(h["status"])' "$WORK/hosts.jsonl" "$HOST"
}
status_is() { [ "$(host_status)" = "$1" ]; }

# 1. Isolate: peer and inbound cut, the management channel kept, status isolated.
t0=$(date +%s%N)
out=$("$CLI" isolate "$HOST" --reason "e2e: contain") || fail "isolate failed: $out"
t1=$(date +%s%N)
echo "$out" | grep -q "^isolated $HOST" || fail "isolate output: $out"
echo "$out" | grep -q "servers: $SIP" || fail "the server address is not in the rules: $out"
echo "ok: isolated in $(( (t1 - t0) / 1000000 )) ms (command to confirmed result)"
table_there || fail "no nftables table on the host"
peer_ok && fail "the peer is still reachable from the isolated host"
inbound_ok && fail "the isolated host still accepts connections"
"$CLI" hosts ping "$HOST" --timeout 5 >/dev/null || fail "management channel lost"
WAIT_S=10 wait_for status_is isolated || fail "status is $(host_status), not isolated"
echo "ok: traffic blocked both ways, ping through the management channel, status isolated"

# 2. The allow-list: the peer reachable, inbound from elsewhere still cut.
out=$("$CLI" isolate "$HOST" --allow "$PEER" --reason "e2e: allow the peer") ||
  fail "isolate --allow failed: $out"
echo "$out" | grep -q "allowed: $PEER" || fail "allow-list output: $out"
WAIT_S=5 wait_for peer_ok || fail "the allowed peer is not reachable"
inbound_ok && fail "inbound traffic passed with only the peer allowed"
echo "ok: allow-list"

# 3. Agent restart after the table went away (as after a reboot): isolated again at start.
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
in_host nft delete table inet mamori_isolation
table_there && fail "could not delete the table"
run_agent
table_there || fail "the isolation was not re-applied at agent start"
inbound_ok && fail "inbound traffic passed after the restart"
peer_ok || fail "the allow-list was lost in the restart"
echo "ok: re-applied at agent start"

# 4. Removed by hand while the agent runs: put back within a heartbeat.
in_host nft delete table inet mamori_isolation
WAIT_S=10 wait_for table_there || fail "a removed table was not re-applied"
echo "ok: re-applied after someone removed it"

# 5. The agent lost its state: the server sees it unisolated and sends isolate again.
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
in_host nft delete table inet mamori_isolation
rm -f "$WORK/agent/isolation.json"
run_agent
WAIT_S=45 wait_for table_there || { tail -20 "$WORK/server.log" >&2; fail "the server did not re-isolate the host"; }
"$CLI" actions list --since 1h --host "$HOST" --type isolate --output jsonl >"$WORK/iso.jsonl"
[ "$(jcount "$WORK/iso.jsonl" 'g(e,"created_by") == "system"')" -ge 1 ] ||
  fail "no reconciling isolate by the server: $(cat "$WORK/iso.jsonl")"
WAIT_S=10 wait_for status_is isolated || fail "status $(host_status) after the re-isolation"
echo "ok: re-isolated by the server after the agent lost its state"

# 6. Release: everything reachable again, status online.
out=$("$CLI" release "$HOST" --reason "e2e: all clear") || fail "release failed: $out"
echo "$out" | grep -q "^released $HOST$" || fail "release output: $out"
table_there && fail "the table is still there after release"
peer_ok || fail "the peer is unreachable after release"
inbound_ok || fail "inbound traffic is blocked after release"
WAIT_S=10 wait_for status_is online || fail "status $(host_status) after release"
[ ! -e "$WORK/agent/isolation.json" ] || fail "the saved isolation outlived the release"
out=$("$CLI" release "$HOST") || fail "a second release failed: $out"
echo "$out" | grep -q "not isolated" || fail "second release output: $out"
echo "ok: released"

# 7. A wrong server address: the self-test fails and the agent reverts by itself.
rc=0
out=$("$CLI" isolate "$HOST" --server-address 10.231.$N.99 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "isolate with a wrong server address: exit $rc: $out"
echo "$out" | grep -q "self-test failed" || fail "self-test message: $out"
echo "$out" | grep -q "isolation reverted" || fail "revert message: $out"
table_there && fail "the table stayed after a failed self-test"
peer_ok || fail "the peer is unreachable after the revert"
"$CLI" hosts ping "$HOST" --timeout 5 >/dev/null || fail "management channel lost after the revert"
"$CLI" hosts show "$HOST" >"$WORK/show.txt" || fail "hosts show"
grep -Eq "^isolation\.held +false" "$WORK/show.txt" || fail "the server still holds the host isolated: $(grep isolation "$WORK/show.txt")"
sleep 3
table_there && fail "isolated again after a failed self-test"
echo "ok: self-test revert"

# 8. Bad arguments are refused before anything is applied.
rc=0
out=$("$CLI" isolate "$HOST" --allow "10.0.0.1/8" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "a bad allow entry: exit $rc: $out"
rc=0
"$CLI" isolate "$HOST" --allow "a,,b" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "an empty list item: exit $rc"
table_there && fail "a refused isolate left a table"

# 9. Block mode: an alert whose automatic response is isolate cuts the host off by itself.
printf '{"mode": "block", "auto_response": [{"rules": ["6f1d2c3a-e2e0-4b1c-9a51-0c0ffee00015"], "actions": ["isolate"]}], "isolation": {"allow": ["%s"]}}' \
  "$PEER" >"$WORK/policy.json"
"$CLI" policy apply default "$WORK/policy.json" --reason "e2e: auto isolate" >/dev/null || fail "policy apply"
python3 -c 'import json, time
t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
print(json.dumps({"@timestamp": t, "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec"},
    "process": {"pid": 4242, "entity_id": "e2eiso0000000000000000000000000001", "name": "mamori-e2e-isolate-me",
                "executable": "/tmp/mamori-e2e-isolate-me", "command_line": "/tmp/mamori-e2e-isolate-me",
                "args": ["/tmp/mamori-e2e-isolate-me"]}}))' >"$WORK/feed"
WAIT_S=30 wait_for table_there || fail "the automatic isolate did not happen: $(tail -5 "$WORK/server.log")"
inbound_ok && fail "inbound traffic passed after the automatic isolation"
WAIT_S=5 wait_for peer_ok || fail "the policy's allow-list was not applied"
"$CLI" actions list --since 1h --host "$HOST" --type isolate --output jsonl >"$WORK/iso.jsonl"
[ "$(jcount "$WORK/iso.jsonl" 'g(e,"created_by") == "policy" and g(e,"status") == "ok"')" = 1 ] ||
  fail "no automatic isolate by policy: $(cat "$WORK/iso.jsonl")"
WAIT_S=10 wait_for status_is isolated || fail "status $(host_status) after the automatic isolation"
"$CLI" release "$HOST" >/dev/null || fail "release after the automatic isolation"
echo "ok: isolated automatically by the block-mode policy"
# A manual isolate takes the policy's allow-list too.
out=$("$CLI" isolate "$HOST" --reason "e2e: manual with policy") || fail "isolate: $out"
echo "$out" | grep -q "allowed: $PEER" || fail "the policy's allow-list is not in a manual isolate: $out"
WAIT_S=5 wait_for peer_ok || fail "the policy's allow-list was not applied to a manual isolate"
"$CLI" release "$HOST" >/dev/null || fail "release"
echo "ok: a manual isolate uses the group policy's allow-list"

# 10. Every action in the log, with who and why.
"$CLI" actions list --since 1h --host "$HOST" --output jsonl >"$WORK/actions.jsonl"
[ "$(jcount "$WORK/actions.jsonl" 'g(e,"type") == "isolate" and g(e,"status") == "ok" and g(e,"reason") == "e2e: contain"')" = 1 ] ||
  fail "isolate not in the actions: $(cat "$WORK/actions.jsonl")"
[ "$(jcount "$WORK/actions.jsonl" 'g(e,"type") == "release" and g(e,"status") == "ok" and g(e,"reason") == "e2e: all clear"')" = 1 ] ||
  fail "release not in the actions"
"$CLI" audit list --since 1h --output jsonl >"$WORK/audit.jsonl"
grep -q 'isolate [0-9a-f]\{32\}: e2e: contain' "$WORK/audit.jsonl" || fail "isolate not audited"
echo "PASS"
