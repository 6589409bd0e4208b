#!/usr/bin/env bash
# Runs every libFuzzer target briefly from its seed corpus: a smoke test for CI. A crash fails.
set -euo pipefail
build=${1:-build/fuzz}
secs=${FUZZ_SECONDS:-20}
here=$(cd "$(dirname "$0")" && pwd)
fail=0
n=0
for bin in "$build"/bin/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus="$here/corpus/${name#fuzz_}"
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
      -artifact_prefix="$work/crash-" "$work" >"$work/log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -40 "$work/log"; fail=$((fail + 1))
    mkdir -p "$here/crashes" && cp "$work"/crash-* "$here/crashes/" 2>/dev/null || true
  else
    grep -E '^#[0-9]+.*DONE' "$work/log" | tail -1 || true
  fi
  rm -rf "$work"
  n=$((n + 1))
done
echo "$((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$n" -gt 0 ]
