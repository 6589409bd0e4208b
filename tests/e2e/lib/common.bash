# Shared by the end-to-end scripts: where the binaries are, skipping, and JSON assertions.
set -euo pipefail
MAMORI_SRC=${MAMORI_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
MAMORI_BIN=${MAMORI_BIN:-$MAMORI_SRC/bin}
AGENT=$MAMORI_BIN/mamori-agent
WORK=$(mktemp -d /tmp/mamori-e2e.XXXXXX)
cleanup_hooks=()
cleanup() {
  local h
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need_root_bpf() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (run as root, as CI does)"
  [ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"
}

# jcount FILE PYTHON_EXPR: number of JSON lines e for which the expression is true.
jcount() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
def g(e, dotted, default=None):
    for k in dotted.split('.'):
        if not isinstance(e, dict) or k not in e:
            return default
        e = e[k]
    return e
n = 0
with open(path, encoding='utf-8') as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        e = json.loads(line)
        if eval(expr, {'e': e, 'g': g}):
            n += 1
print(n)
PY
}

# expect FILE DESCRIPTION PYTHON_EXPR: at least one line matches, or fail showing near misses.
expect() {
  local n
  n=$(jcount "$1" "$3")
  if [ "$n" -lt 1 ]; then
    echo "--- no event for: $2 ($3)" >&2
    fail "$2"
  fi
  echo "ok: $2 ($n)"
}

# start_capture OUT [args...]: runs the agent in the background until stop_capture.
start_capture() {
  local out=$1; shift
  "$AGENT" capture "$@" >"$out" 2>"$out.log" &
  CAPTURE_PID=$!
  cleanup_hooks+=("kill -INT $CAPTURE_PID 2>/dev/null; wait $CAPTURE_PID 2>/dev/null")
  # Ready once the agent logs that it is capturing.
  for _ in $(seq 1 100); do
    grep -q "capturing host=" "$out.log" 2>/dev/null && return 0
    kill -0 "$CAPTURE_PID" 2>/dev/null || { cat "$out.log" >&2; fail "agent exited early"; }
    sleep 0.1
  done
  cat "$out.log" >&2
  fail "agent did not start"
}

stop_capture() {
  kill -INT "$CAPTURE_PID"
  wait "$CAPTURE_PID" || fail "agent exited with $?"
}
