#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server for the tests that exercise the PostgreSQL
# store (MAMORI_TEST_PG holds its URI). As root only, since the server runs as user postgres;
# otherwise the command runs without it and those tests say they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ] || [ -n "${MAMORI_TEST_PG:-}" ]; then
  exec "$@"
fi
dir=$(mktemp -d /tmp/mamori-test-pg.XXXXXX)
chmod 755 "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
stop() { bash scripts/pg.sh stop "$dir/data" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap stop EXIT
MAMORI_TEST_PG=$(bash scripts/pg.sh start "$dir/data" "$port" 2>"$dir/start.log") || {
  cat "$dir/start.log" >&2; exit 1; }
export MAMORI_TEST_PG
"$@"
