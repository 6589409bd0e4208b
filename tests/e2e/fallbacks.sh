#!/usr/bin/env bash
# Without BTF, without eBPF, or without root, the agent falls back source by source with a log
# line for each, never crashes, and still reports processes (netlink) and TCP (/proc polling).
source "$(dirname "$0")/lib/common.bash"
need_root_bpf

# 1. No BTF: eBPF says why, netlink and procfs take over process and network telemetry.
out=$WORK/nobtf.jsonl
MAMORI_VMLINUX_BTF=/nonexistent/vmlinux start_capture "$out" --seconds 30
# /proc is read after the event: the fallback needs the process to live a moment.
cp /bin/sleep "$WORK/fallback-marker"
"$WORK/fallback-marker" 0.3
sleep 0.5
python3 - "$WORK/port" <<'PY'
import socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
open(sys.argv[1], "w").write(str(port))
cl = socket.create_connection(("127.0.0.1", port)); c, _ = srv.accept()
time.sleep(2.5)   # longer than the 1 s /proc/net poll
cl.close(); c.close(); srv.close()
PY
sleep 1.5
stop_capture
grep -q "source ebpf inactive: kernel has no BTF (/nonexistent/vmlinux)" "$out.log" || { cat "$out.log"; fail "no BTF reason"; }
grep -q "source netlink active cover=process" "$out.log" || fail "netlink fallback not active"
grep -q "source procfs active cover=network" "$out.log" || fail "procfs fallback not active"
expect "$out" "exec via netlink" \
  "g(e,'event.action')=='exec' and g(e,'process.executable')=='$WORK/fallback-marker' and g(e,'process.args')==['$WORK/fallback-marker','0.3']"
expect "$out" "end via netlink" "g(e,'event.action')=='end' and g(e,'process.pid')"
expect "$out" "tcp via /proc polling" \
  "g(e,'event.action')=='connection_attempted' and g(e,'destination.port')==$(cat "$WORK/port")"
echo "ok: no-BTF fallback"

# 2. eBPF switched off by configuration: said so, and the same fallbacks start.
printf 'sources:\n  ebpf: off\n  inventory: off\n' >"$WORK/noebpf.yml"
out=$WORK/noebpf.jsonl
start_capture "$out" --seconds 5 --config "$WORK/noebpf.yml"
stop_capture
grep -q "source ebpf off by configuration" "$out.log" || fail "off by configuration"
grep -q "source netlink active" "$out.log" || fail "netlink after ebpf off"
echo "ok: ebpf off"

# 3. A required source that cannot start is fatal, with the reason.
printf 'sources:\n  ebpf: on\n' >"$WORK/required.yml"
set +e
MAMORI_VMLINUX_BTF=/nonexistent "$AGENT" capture --config "$WORK/required.yml" --seconds 2 \
  >/dev/null 2>"$WORK/req.log"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "source ebpf required but failed: kernel has no BTF" "$WORK/req.log" ||
  { cat "$WORK/req.log"; fail "required source: rc=$rc"; }
echo "ok: required source"

# 4. Not root: kernel sources say why; the agent keeps running what it can and exits cleanly.
id nobody >/dev/null 2>&1 || skip "no 'nobody' user"
set +e
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
  "$AGENT" capture --seconds 2 --config /dev/null >"$WORK/nonroot.jsonl" 2>"$WORK/nonroot.log"
rc=$?
set -e
grep -q "source ebpf inactive: needs root" "$WORK/nonroot.log" || { cat "$WORK/nonroot.log"; fail "ebpf reason"; }
grep -q "source fanotify inactive: needs root" "$WORK/nonroot.log" || { cat "$WORK/nonroot.log"; fail "fanotify reason"; }
[ $rc -eq 0 ] || { cat "$WORK/nonroot.log"; fail "non-root capture exited $rc"; }
echo "ok: non-root"
