#!/usr/bin/env bash
# The three binaries answer --help and --version; bad arguments and configurations exit 2 with a
# message that names the problem.
source "$(dirname "$0")/lib/common.bash"

for b in mamori-agent mamori-server mamori; do
  "$MAMORI_BIN/$b" --version | grep -q "^$b [0-9]" || fail "$b --version"
  "$MAMORI_BIN/$b" --help | grep -qi usage || fail "$b --help"
done
echo "ok: --help and --version"

set +e
"$AGENT" frobnicate >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "unknown command 'frobnicate'" "$WORK/err" || fail "unknown command"

printf 'log_level: info\nsources:\n  ebpf: on\n  fanotfy: off\n' >"$WORK/bad.yml"
set +e
"$AGENT" capture --config "$WORK/bad.yml" --seconds 1 >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown key: exit $rc"
grep -q "bad.yml:4: unknown key 'sources.fanotfy'" "$WORK/err" || { cat "$WORK/err"; fail "message"; }
echo "ok: unknown key names key and line"

printf 'budget:\n  cpu_percent: lots\n' >"$WORK/bad2.yml"
set +e
"$AGENT" check-config "$WORK/bad2.yml" 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "bad2.yml:2: expected a whole number, got 'lots'" "$WORK/err" || fail "bad value"
echo "ok: malformed value"

printf 'sources:\n  ebpf: auto\nignore:\n  comm: [cron]\n' >"$WORK/good.yml"
"$AGENT" check-config "$WORK/good.yml" | grep -q ": ok" || fail "good config"

set +e
"$AGENT" capture --seconds abc >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 2 ] || fail "--seconds abc: exit $rc"
set +e
"$AGENT" capture --config /nonexistent.yml >/dev/null 2>"$WORK/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "nonexistent.yml" "$WORK/err" || fail "missing config file"
echo "ok: argument errors"
